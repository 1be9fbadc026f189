//! A scenario as a flow graph, in Graphviz `dot` or Mermaid syntax.
//!
//! One node per action (labelled with its `actionId`, if any, and what it does), plus a
//! start node, an end node ("hang up") and, with `onHangup`, a second start node. Edges:
//! sequence (unlabelled); `if` `then`/`else`; `switch` cases by value (`""` is labelled as
//! the timeout and `__default` as invalid input when the switch reads a collected
//! variable) and "no match"; `collectInto` "digits / timeout"; `goTo` with its limit and
//! "limit reached"; loops (body, "again?", "done"); 46elks `ivr` digit choices, the
//! no-input repeat, `next` and URL choices (fetch nodes); `dial` statuses.

use std::collections::BTreeSet;
use std::fmt::Write;

use crate::program::{ActionIndex, ActionKind, BlockIndex, IvrChoice, Program};

/// The syntax of [`graph`]'s output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphFormat {
    /// Graphviz: `dot -Tsvg`.
    Dot,
    /// Mermaid `flowchart TD`.
    Mermaid,
}

/// The flow graph of `program`.
pub fn graph(program: &Program, format: GraphFormat) -> String {
    let graph = Builder::new(program).build();
    match format {
        GraphFormat::Dot => dot(program.name(), &graph),
        GraphFormat::Mermaid => mermaid(&graph),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Step,
    Decision,
    Terminal,
}

struct Node {
    id: String,
    label: String,
    shape: Shape,
}

struct Edge {
    from: String,
    to: String,
    label: String,
}

#[derive(Default)]
struct Graph {
    nodes: Vec<Node>,
    edges: Vec<Edge>,
}

// Not `start`/`end`: `end` is a keyword in Mermaid.
const START: &str = "call_start";
const END: &str = "call_end";
const HANGUP_START: &str = "on_hangup";
const HANGUP_END: &str = "on_hangup_done";
/// Labels longer than this are cut.
const LABEL_LENGTH: usize = 48;

struct Builder<'a> {
    program: &'a Program,
    graph: Graph,
    /// Blocks of `onHangup` (their end is not the call's end).
    hangup_blocks: BTreeSet<BlockIndex>,
    /// Variables written by `collectInto` (switches on them get "timeout"/"invalid" labels).
    collected: BTreeSet<&'a str>,
}

fn node_id(action: ActionIndex) -> String {
    format!("a{}", action.0)
}

fn cut(text: &str) -> String {
    let mut shown: String = text.chars().take(LABEL_LENGTH).collect();
    if text.chars().count() > LABEL_LENGTH {
        shown.push('…');
    }
    shown
}

impl<'a> Builder<'a> {
    fn new(program: &'a Program) -> Self {
        let mut hangup_blocks = BTreeSet::new();
        if let Some(root) = program.on_hangup {
            let mut pending = vec![root];
            while let Some(block) = pending.pop() {
                hangup_blocks.insert(block);
                for action in &program.blocks[block.0].actions {
                    pending.extend(
                        program.actions[action.0]
                            .kind
                            .blocks()
                            .into_iter()
                            .map(|(_, b)| b),
                    );
                }
            }
        }
        let collected = program
            .actions
            .iter()
            .filter_map(|action| match &action.kind {
                ActionKind::Collect(collect) => Some(collect.variable.as_str()),
                _ => None,
            })
            .collect();
        Builder {
            program,
            graph: Graph::default(),
            hangup_blocks,
            collected,
        }
    }

    fn node(&mut self, id: String, label: String, shape: Shape) {
        self.graph.nodes.push(Node { id, label, shape });
    }

    fn edge(&mut self, from: &str, to: String, label: impl Into<String>) {
        self.graph.edges.push(Edge {
            from: from.to_owned(),
            to,
            label: label.into(),
        });
    }

    fn build(mut self) -> Graph {
        let program = self.program;
        self.node(
            START.to_owned(),
            format!("start: {}", cut(program.name())),
            Shape::Terminal,
        );
        self.node(END.to_owned(), "hang up".to_owned(), Shape::Terminal);
        let first = self.entry(program.root);
        self.edge(START, first, "");
        if let Some(block) = program.on_hangup {
            self.node(
                HANGUP_START.to_owned(),
                "caller hung up: onHangup".to_owned(),
                Shape::Terminal,
            );
            self.node(HANGUP_END.to_owned(), "done".to_owned(), Shape::Terminal);
            let first = self.entry(block);
            self.edge(HANGUP_START, first, "");
        }
        for (index, action) in program.actions.iter().enumerate() {
            let index = ActionIndex(index);
            let (label, shape) = self.describe(index);
            let label = match &action.action_id {
                Some(id) => format!("{id}: {label}"),
                None => label,
            };
            self.node(node_id(index), label, shape);
            self.edges_of(index);
        }
        self.graph
    }

    /// Where control goes when `block` starts.
    fn entry(&self, block: BlockIndex) -> String {
        match self.program.blocks[block.0].actions.first() {
            Some(first) => node_id(*first),
            None => self.after_block(block),
        }
    }

    /// Where control goes when `action` is done.
    fn after(&self, action: ActionIndex) -> String {
        let action = &self.program.actions[action.0];
        match self.program.blocks[action.block.0]
            .actions
            .get(action.position + 1)
        {
            Some(next) => node_id(*next),
            None => self.after_block(action.block),
        }
    }

    fn after_block(&self, block: BlockIndex) -> String {
        match self.program.blocks[block.0].owner {
            None if self.hangup_blocks.contains(&block) => HANGUP_END.to_owned(),
            None => END.to_owned(),
            Some(owner) => match self.program.actions[owner.0].kind {
                ActionKind::While { .. }
                | ActionKind::Repeat { .. }
                | ActionKind::ForEach { .. } => node_id(owner),
                _ => self.after(owner),
            },
        }
    }

    fn describe(&self, index: ActionIndex) -> (String, Shape) {
        let kind = &self.program.actions[index.0].kind;
        let text = match kind {
            ActionKind::Play(play) => format!("play {}", play.source.source()),
            ActionKind::Say(say) => format!("say \"{}\"", say.text.source()),
            ActionKind::Collect(collect) => match collect.maximum_length {
                Some(maximum) => format!("collectInto {} (max {maximum})", collect.variable),
                None => format!("collectInto {}", collect.variable),
            },
            ActionKind::SetVariable { variable, value } => {
                format!("{variable} = {}", value.source())
            }
            ActionKind::If { condition, .. } => format!("if {}", condition.source()),
            ActionKind::Switch { value, .. } => format!("switch {}", value.source()),
            ActionKind::GoTo(go_to) => {
                let target = &self.program.actions[go_to.target.0];
                format!("goTo {}", target.action_id.as_deref().unwrap_or("?"))
            }
            ActionKind::Pause(duration) => format!("pause {}s", duration.as_secs_f64()),
            ActionKind::Hangup => "hangup".to_owned(),
            ActionKind::While { condition, .. } => format!("while {}", condition.source()),
            ActionKind::Repeat {
                condition, until, ..
            } => {
                let word = if *until { "until" } else { "while" };
                format!("repeat {word} {}", condition.source())
            }
            ActionKind::ForEach { variable, list, .. } => {
                format!("for-each {variable} in {}", list.source())
            }
            ActionKind::Capture(capture) => format!("capture {}", capture.variable),
            ActionKind::Record(_) => "record".to_owned(),
            ActionKind::PlayRecording(_) => "playFromRecording".to_owned(),
            ActionKind::Dial(dial) => {
                let numbers: Vec<&str> = dial.destinations.iter().map(|d| d.source()).collect();
                format!("{} {}", kind.name(), numbers.join(", "))
            }
            ActionKind::Request(request) => {
                format!(
                    "request {} {}",
                    request.method.as_str(),
                    request.url.source()
                )
            }
            ActionKind::SendSms { to, .. } => format!("sendSms to {}", to.source()),
            ActionKind::MachineDetection => "machineDetection".to_owned(),
            ActionKind::Ivr(ivr) => format!("ivr {}", ivr.prompt.source()),
            ActionKind::Invalid => "invalid".to_owned(),
        };
        let shape = match kind {
            ActionKind::If { .. }
            | ActionKind::Switch { .. }
            | ActionKind::While { .. }
            | ActionKind::Repeat { .. }
            | ActionKind::ForEach { .. }
            | ActionKind::Ivr(_) => Shape::Decision,
            _ => Shape::Step,
        };
        (cut(&text), shape)
    }

    fn edges_of(&mut self, index: ActionIndex) {
        let id = node_id(index);
        let program = self.program;
        let after = self.after(index);
        match &program.actions[index.0].kind {
            ActionKind::Hangup => self.edge(&id, END.to_owned(), ""),
            ActionKind::Collect(_) => self.edge(&id, after, "digits / timeout"),
            ActionKind::Capture(_) => self.edge(&id, after, "speech / digits / timeout"),
            ActionKind::Request(_) => self.edge(&id, after, "answer / failure"),
            ActionKind::MachineDetection => self.edge(&id, after, "machineAnswered"),
            ActionKind::Dial(_) => {
                self.edge(
                    &id,
                    after,
                    "ANSWERED / NO_ANSWER / BUSY / DECLINED / FAILED",
                );
            }
            ActionKind::If {
                then, otherwise, ..
            } => {
                let then = self.entry(*then);
                self.edge(&id, then, "then");
                let otherwise = otherwise.map_or(after, |block| self.entry(block));
                self.edge(&id, otherwise, "else");
            }
            ActionKind::Switch {
                value,
                cases,
                default,
            } => {
                let collected = value
                    .single_variable()
                    .is_some_and(|variable| self.collected.contains(variable));
                for (case, block) in cases {
                    let label = if case.is_empty() && collected {
                        "\"\" (timeout)".to_owned()
                    } else {
                        format!("{case:?}")
                    };
                    let target = self.entry(*block);
                    self.edge(&id, target, label);
                }
                let label = if collected {
                    "__default (invalid)"
                } else {
                    "__default"
                };
                match default {
                    Some(block) => {
                        let target = self.entry(*block);
                        self.edge(&id, target, label);
                    }
                    None => self.edge(&id, after, "no match"),
                }
            }
            ActionKind::GoTo(go_to) => {
                self.edge(
                    &id,
                    node_id(go_to.target),
                    format!("goTo (limit {})", go_to.limit),
                );
                self.edge(&id, after, "limit reached");
            }
            ActionKind::While { body, .. } => {
                let body = self.entry(*body);
                self.edge(&id, body, "true");
                self.edge(&id, after, "false: done");
            }
            ActionKind::Repeat { body, .. } => {
                let body = self.entry(*body);
                self.edge(&id, body, "do / again");
                self.edge(&id, after, "done");
            }
            ActionKind::ForEach { body, .. } => {
                let body = self.entry(*body);
                self.edge(&id, body, "each item");
                self.edge(&id, after, "done");
            }
            ActionKind::Ivr(ivr) => {
                for (position, (key, choice)) in ivr.choices.iter().enumerate() {
                    match choice {
                        IvrChoice::Actions(block) => {
                            let target = self.entry(*block);
                            self.edge(&id, target, format!("{key:?}"));
                        }
                        IvrChoice::Fetch(url) => {
                            let fetch = format!("{id}_fetch{position}");
                            self.node(
                                fetch.clone(),
                                cut(&format!("POST {}", url.source())),
                                Shape::Step,
                            );
                            self.edge(&id, fetch.clone(), format!("{key:?}"));
                            self.edge(&fetch, after.clone(), "fetched actions");
                        }
                    }
                }
                self.edge(
                    &id,
                    id.clone(),
                    format!("no input: again (up to {} plays)", ivr.repeat),
                );
                match &ivr.next {
                    Some(next) => {
                        let fetch = format!("{id}_next");
                        self.node(
                            fetch.clone(),
                            cut(&format!("POST {}", next.source())),
                            Shape::Step,
                        );
                        self.edge(&id, fetch.clone(), "other input / no input");
                        self.edge(&fetch, after, "fetched actions");
                    }
                    None => self.edge(&id, after, "no usable input"),
                }
            }
            _ => self.edge(&id, after, ""),
        }
    }
}

fn dot(name: &str, graph: &Graph) -> String {
    let escape = |text: &str| {
        text.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
    };
    let mut out = format!(
        "digraph \"{}\" {{\n  node [fontname=\"Helvetica\"];\n",
        escape(name)
    );
    for node in &graph.nodes {
        let shape = match node.shape {
            Shape::Step => "box",
            Shape::Decision => "diamond",
            Shape::Terminal => "ellipse",
        };
        let _ = writeln!(
            out,
            "  {} [label=\"{}\", shape={shape}];",
            node.id,
            escape(&node.label)
        );
    }
    for edge in &graph.edges {
        if edge.label.is_empty() {
            let _ = writeln!(out, "  {} -> {};", edge.from, edge.to);
        } else {
            let _ = writeln!(
                out,
                "  {} -> {} [label=\"{}\"];",
                edge.from,
                edge.to,
                escape(&edge.label)
            );
        }
    }
    out.push_str("}\n");
    out
}

fn mermaid(graph: &Graph) -> String {
    let escape = |text: &str| {
        text.replace('"', "#quot;")
            .replace('<', "#lt;")
            .replace('>', "#gt;")
            .replace('|', "#124;")
            .replace('\n', " ")
    };
    let mut out = String::from("flowchart TD\n");
    for node in &graph.nodes {
        let label = escape(&node.label);
        let _ = match node.shape {
            Shape::Step => writeln!(out, "  {}[\"{label}\"]", node.id),
            Shape::Decision => writeln!(out, "  {}{{\"{label}\"}}", node.id),
            Shape::Terminal => writeln!(out, "  {}([\"{label}\"])", node.id),
        };
    }
    for edge in &graph.edges {
        if edge.label.is_empty() {
            let _ = writeln!(out, "  {} --> {}", edge.from, edge.to);
        } else {
            let _ = writeln!(
                out,
                "  {} -->|\"{}\"| {}",
                edge.from,
                escape(&edge.label),
                edge.to
            );
        }
    }
    out
}
