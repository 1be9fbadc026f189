//! The configured schedules by name, as the scenario language's `isOpen('name')` sees them.

use std::collections::BTreeMap;
use std::sync::Arc;

use ivory_scenario::ScheduleOracle;

use crate::schedule::Schedule;

/// Every `[schedules.NAME]`, shared by all calls.
#[derive(Debug, Clone, Default)]
pub struct ScheduleBook {
    schedules: BTreeMap<String, Arc<Schedule>>,
}

impl ScheduleBook {
    pub fn new(schedules: BTreeMap<String, Arc<Schedule>>) -> Self {
        Self { schedules }
    }

    pub fn get(&self, name: &str) -> Option<&Arc<Schedule>> {
        self.schedules.get(name)
    }

    /// The names, for compile-time checks of `isOpen('name')`.
    pub fn names(&self) -> Vec<String> {
        self.schedules.keys().cloned().collect()
    }
}

impl ScheduleOracle for ScheduleBook {
    fn is_open(&self, schedule: &str, unix_time_ms: u64) -> Option<bool> {
        let schedule = self.schedules.get(schedule)?;
        let millis = i64::try_from(unix_time_ms).ok()?;
        let at = jiff::Timestamp::from_millisecond(millis).ok()?;
        Some(schedule.is_open(at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_by_name_at_the_given_time() {
        let office = Schedule::parse("UTC", &["mon-fri 09:00-17:00".into()], &[]).expect("valid");
        let book = ScheduleBook::new(BTreeMap::from([("office".to_string(), Arc::new(office))]));
        let monday_noon = 1_795_435_200_000; // 2026-11-23T12:00:00Z
        assert_eq!(book.is_open("office", monday_noon), Some(true));
        assert_eq!(
            book.is_open("office", monday_noon + 6 * 3_600_000),
            Some(false)
        );
        assert_eq!(book.is_open("nowhere", monday_noon), None);
        assert_eq!(book.names(), vec!["office".to_string()]);
    }
}
