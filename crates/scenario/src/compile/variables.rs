//! Whole-program warnings about variables: reads of variables that nothing sets, and
//! `switch` cases that the `collectInto` feeding them can never produce.

use std::collections::{BTreeMap, BTreeSet};

use super::reader::JsonPath;
use super::{CompileOptions, Compiler, READ_ONLY_VARIABLES};
use crate::error::Diagnostic;
use crate::expression::Template;
use crate::program::set_by_runtime::{
    API_ERROR, API_STATUS, API_TIMESTAMP, DIAL_SIP_CODE, DIAL_STATUS, FULL_SUFFIX,
    MACHINE_ANSWERED, MEANING_SUFFIX,
};
use crate::program::{ActionKind, MAXIMUM_INPUT_LENGTH};

/// Who writes a variable, as far as the switch check cares.
#[derive(Clone, Copy)]
enum Writer {
    /// A `collectInto` with this `maxInputLength` (or none).
    Collect(Option<usize>),
    /// Anything else: the value can be any string.
    Other,
}

pub(super) fn check(compiler: &mut Compiler, options: &CompileOptions) {
    let mut writers: BTreeMap<String, Vec<Writer>> = BTreeMap::new();
    // A `collectResponse` or a fetched 46elks script may set variables nobody can list.
    let mut sets_unknown = false;
    let mut write = |name: &str, writer: Writer| {
        writers.entry(name.to_owned()).or_default().push(writer);
    };
    for action in &compiler.actions {
        match &action.kind {
            ActionKind::SetVariable { variable, .. } | ActionKind::ForEach { variable, .. } => {
                write(variable, Writer::Other);
            }
            ActionKind::Collect(collect) => {
                write(&collect.variable, Writer::Collect(collect.maximum_length));
                if collect.mapped_values.is_some() {
                    write(
                        &format!("{}{MEANING_SUFFIX}", collect.variable),
                        Writer::Other,
                    );
                }
            }
            ActionKind::GoTo(go_to) => {
                if let Some(variable) = &go_to.count_variable {
                    write(variable, Writer::Other);
                }
            }
            ActionKind::Capture(capture) => {
                write(&capture.variable, Writer::Other);
                write(&format!("{}{FULL_SUFFIX}", capture.variable), Writer::Other);
            }
            ActionKind::Dial(_) => {
                write(DIAL_STATUS, Writer::Other);
                write(DIAL_SIP_CODE, Writer::Other);
            }
            ActionKind::MachineDetection => write(MACHINE_ANSWERED, Writer::Other),
            ActionKind::Request(request) => {
                for name in [API_STATUS, API_TIMESTAMP, API_ERROR] {
                    write(name, Writer::Other);
                }
                sets_unknown |= request.collect_response;
            }
            ActionKind::Ivr(_) => sets_unknown = true,
            _ => {}
        }
    }
    if !sets_unknown {
        report_unset_reads(compiler, options, &writers);
    }
    report_impossible_cases(compiler, &writers);
}

fn report_unset_reads(
    compiler: &mut Compiler,
    options: &CompileOptions,
    writers: &BTreeMap<String, Vec<Writer>>,
) {
    let mut seen = BTreeSet::new();
    let mut warnings = Vec::new();
    for (name, path) in &compiler.diagnostics.reads {
        let known = writers.contains_key(name)
            || READ_ONLY_VARIABLES.contains(&name.as_str())
            || options.parameters.iter().any(|parameter| parameter == name);
        if known || !seen.insert((name.clone(), path.as_str().to_owned())) {
            continue;
        }
        warnings.push(Diagnostic {
            path: path.as_str().to_owned(),
            message: format!(
                "`{name}` is read but never set (not by the script, not an implicit variable, \
                 not a declared parameter): it reads as \"\""
            ),
        });
    }
    compiler.diagnostics.warnings.extend(warnings);
}

fn report_impossible_cases(compiler: &mut Compiler, writers: &BTreeMap<String, Vec<Writer>>) {
    let mut warnings = Vec::new();
    for action in &compiler.actions {
        let ActionKind::Switch { value, cases, .. } = &action.kind else {
            continue;
        };
        let Some(variable) = Template::single_variable(value) else {
            continue;
        };
        let Some(writers) = writers.get(variable) else {
            continue;
        };
        let mut longest = 0;
        for writer in writers {
            match writer {
                Writer::Collect(maximum) => {
                    longest = longest.max(maximum.unwrap_or(MAXIMUM_INPUT_LENGTH));
                }
                Writer::Other => {
                    longest = usize::MAX;
                    break;
                }
            }
        }
        if longest == usize::MAX {
            continue;
        }
        for (case, _) in cases {
            let dtmf = |c: char| c.is_ascii_digit() || c == '*' || ('A'..='D').contains(&c);
            let reason = if !case.chars().all(dtmf) {
                "collected input consists of 0-9, *, A-D (# ends input)".to_owned()
            } else if case.chars().count() > longest {
                format!("`{variable}` is collected with maxInputLength {longest}")
            } else {
                continue;
            };
            warnings.push(Diagnostic {
                path: JsonPath::raw(&action.path)
                    .key("case")
                    .key(case)
                    .as_str()
                    .to_owned(),
                message: format!("never matches: {reason}"),
            });
        }
    }
    compiler.diagnostics.warnings.extend(warnings);
}
