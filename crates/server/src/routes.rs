//! Building the routing table from `[[numbers]]` and `[schedules.*]`: every scenario file is read and
//! compiled at start (with the schedule names, so `isOpen('name')` is checked); all problems of all
//! files are reported at once. The constant `say` texts of every scenario are listed, so that
//! `serve` can synthesise them ahead of calls.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use ivory_engine::{BusinessHours, NumberRoute, Schedule, ScheduleBook};
use ivory_scenario::{CompileOptions, ConstantSay, Program};

use crate::config::Config;

/// The routes and what start-up must check for them.
pub struct LoadedRoutes {
    pub routes: Vec<NumberRoute>,
    pub schedules: ScheduleBook,
    /// Some scenario uses `say`, so text-to-speech must work.
    pub uses_say: bool,
    /// A loaded scenario uses `capture` (so the recogniser must start).
    pub uses_capture: bool,
    /// Each scenario's constant `say` texts (scenario name, texts), to synthesise ahead of calls.
    pub say_texts: Vec<(String, Vec<ConstantSay>)>,
}

pub fn load(config: &Config) -> Result<LoadedRoutes> {
    let mut problems = Vec::new();
    let mut schedules = BTreeMap::new();
    for (name, s) in &config.schedules {
        match Schedule::parse_with_exceptions(&s.timezone, &s.open, &s.closed_dates, &s.open_dates)
        {
            Ok(schedule) => {
                schedules.insert(name.clone(), Arc::new(schedule));
            }
            Err(error) => problems.push(format!("schedules.{name}: {error}")),
        }
    }
    let schedules = ScheduleBook::new(schedules);
    let mut loader = Loader {
        options: CompileOptions {
            schedules: Some(schedules.names()),
            ..CompileOptions::default()
        },
        compiled: HashMap::new(),
        problems,
        uses_say: false,
        uses_capture: false,
    };
    let mut routes = Vec::new();
    for (index, entry) in config.numbers.iter().enumerate() {
        let scenario = loader.scenario(&entry.scenario, &format!("numbers[{index}].scenario"));
        let closed = entry
            .closed
            .as_ref()
            .and_then(|path| loader.scenario(path, &format!("numbers[{index}].closed")));
        let hours = entry
            .schedule
            .as_ref()
            .and_then(|name| match schedules.get(name) {
                Some(schedule) => Some(BusinessHours {
                    schedule_name: name.clone(),
                    schedule: schedule.clone(),
                    closed,
                }),
                None => {
                    loader
                        .problems
                        .push(format!("numbers[{index}].schedule: no [schedules.{name}]"));
                    None
                }
            });
        if let Some((scenario_name, program)) = scenario {
            routes.push(NumberRoute {
                pattern: entry.number.clone(),
                scenario_name,
                program,
                answer_after: Duration::from_millis(entry.answer_after_ms),
                hours,
                record_calls: entry.record,
            });
        }
    }
    if !loader.problems.is_empty() {
        anyhow::bail!("invalid configuration:\n  {}", loader.problems.join("\n  "));
    }
    // Each scenario file once, in path order.
    let say_texts = loader
        .compiled
        .iter()
        .collect::<BTreeMap<_, _>>()
        .into_values()
        .map(|(name, program)| (name.clone(), program.constant_say_texts()))
        .filter(|(_, texts)| !texts.is_empty())
        .collect();
    Ok(LoadedRoutes {
        routes,
        schedules,
        uses_say: loader.uses_say,
        uses_capture: loader.uses_capture,
        say_texts,
    })
}

struct Loader {
    options: CompileOptions,
    compiled: HashMap<std::path::PathBuf, (String, Arc<Program>)>,
    problems: Vec<String>,
    uses_say: bool,
    uses_capture: bool,
}

impl Loader {
    /// (scenario name, program) for a file, compiled once however many numbers use it.
    fn scenario(&mut self, path: &Path, key: &str) -> Option<(String, Arc<Program>)> {
        if let Some(found) = self.compiled.get(path) {
            return Some(found.clone());
        }
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) => {
                self.problems
                    .push(format!("{key}: cannot read {}: {error}", path.display()));
                return None;
            }
        };
        match ivory_scenario::compile_with(&text, &self.options) {
            Ok(program) => {
                self.uses_say |= program.uses_say();
                self.uses_capture |= program.uses_capture();
                let name = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| path.display().to_string());
                let entry = (name, Arc::new(program));
                self.compiled.insert(path.to_path_buf(), entry.clone());
                Some(entry)
            }
            Err(errors) => {
                for line in errors.to_string().lines() {
                    self.problems.push(format!("{}: {line}", path.display()));
                }
                None
            }
        }
    }
}
