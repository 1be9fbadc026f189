//! `isOpen(...)` during a run: the engine's [`ScheduleOracle`], asked at the run's current
//! virtual time turned into wall-clock time ([`RunOptions::unix_time_ms_at_start`] plus
//! the time elapsed since the run started).
//!
//! [`RunOptions::unix_time_ms_at_start`]: super::RunOptions::unix_time_ms_at_start

use std::collections::BTreeMap;
use std::time::Instant;

use crate::expression::Functions;

use super::{Run, is_dtmf_key};

/// Answers whether a named schedule (a `[schedules.NAME]` of the configuration) is open at
/// a wall-clock instant. The engine implements it over its parsed schedules; the scenario
/// crate never reads a clock or a timezone database.
pub trait ScheduleOracle: Send + Sync + std::fmt::Debug {
    /// Whether `schedule` is open at `unix_time_ms` (milliseconds since the Unix epoch);
    /// `None` when there is no schedule of that name.
    fn is_open(&self, schedule: &str, unix_time_ms: u64) -> Option<bool>;
}

/// The [`Functions`] of one rendering in a run: every problem becomes a note (for the call
/// log) and, with tracing on, every answer a trace line.
struct RunFunctions<'a> {
    oracle: Option<&'a dyn ScheduleOracle>,
    unix_time_ms: Option<u64>,
    tracing: bool,
    notes: Vec<String>,
    trace: Vec<String>,
}

impl Functions for RunFunctions<'_> {
    fn is_open(&mut self, schedule: &str) -> bool {
        let shown = shown_name(schedule);
        let answer = match (self.oracle, self.unix_time_ms) {
            (None, _) => Err("no schedules are available to this run"),
            (Some(_), None) => Err("no wall-clock time to judge it by"),
            (Some(oracle), Some(unix_time_ms)) => oracle
                .is_open(schedule, unix_time_ms)
                .ok_or("no schedule has that name"),
        };
        match answer {
            Ok(open) => {
                if self.tracing {
                    self.trace.push(format!("isOpen({shown}) -> {open}"));
                }
                open
            }
            Err(reason) => {
                self.notes.push(format!("isOpen({shown}): {reason}; false"));
                if self.tracing {
                    self.trace
                        .push(format!("isOpen({shown}) -> false ({reason})"));
                }
                false
            }
        }
    }
}

impl Run {
    /// Runs `evaluate` with the variables and the run's [`Functions`] (at the current
    /// virtual time); what the functions note is noted under `path`.
    pub(super) fn with_functions<T>(
        &mut self,
        path: &str,
        evaluate: impl FnOnce(&BTreeMap<String, String>, &mut dyn Functions) -> T,
    ) -> T {
        let mut functions = RunFunctions {
            oracle: self.options.schedules.as_deref(),
            unix_time_ms: self.unix_time_ms(self.clock),
            tracing: self.options.trace,
            notes: Vec::new(),
            trace: Vec::new(),
        };
        let result = evaluate(&self.variables, &mut functions);
        let RunFunctions { notes, trace, .. } = functions;
        for line in trace {
            self.trace(|| format!("{path} {line}"));
        }
        for note in notes {
            self.note(format!("{path}: {note}"));
        }
        result
    }

    /// Wall-clock time at `now` in milliseconds since the Unix epoch, when the run has a
    /// wall-clock base.
    pub(super) fn unix_time_ms(&self, now: Instant) -> Option<u64> {
        self.options.unix_time_ms_at_start.map(|base| {
            let elapsed = u64::try_from(self.elapsed(now).as_millis()).unwrap_or(u64::MAX);
            base.saturating_add(elapsed)
        })
    }
}

/// The schedule name as notes show it. A name made only of DTMF keys may be collected
/// digits (`isOpen(choice)`): notes never show those.
fn shown_name(schedule: &str) -> String {
    if !schedule.is_empty() && schedule.chars().all(is_dtmf_key) {
        "<digits>".to_owned()
    } else {
        format!("{schedule:?}")
    }
}
