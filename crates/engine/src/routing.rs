//! Routing a dialled number to a scenario: exact match first, then the longest prefix, then `*`.
//!
//! A pattern is an exact number (`"+46700000000"`), a prefix ending in `*` (`"+4670*"`), or `*` alone.
//! A leading `+` is significant: `+46…` and `0046…` are different numbers (normalising numbers is the
//! trunk's business, not routing's).

use std::sync::Arc;

use ivory_scenario::Program;

use crate::schedule::Schedule;

/// One `[[numbers]]` entry, resolved.
#[derive(Debug, Clone)]
pub struct NumberRoute {
    /// The pattern as configured, for the call log.
    pub pattern: String,
    /// The scenario's name, for the call log.
    pub scenario_name: String,
    pub program: Arc<Program>,
    /// Ring this long (180) before answering.
    pub answer_after: std::time::Duration,
    /// Business hours: outside them the `closed` scenario runs (or the call is refused).
    pub hours: Option<BusinessHours>,
    /// Record every call to this number, both directions (stereo: caller left, ivory right).
    pub record_calls: bool,
}

/// A number's schedule and what runs when it is closed.
#[derive(Debug, Clone)]
pub struct BusinessHours {
    pub schedule_name: String,
    pub schedule: Arc<Schedule>,
    /// The scenario (name, program) for closed hours; `None` refuses the call with 480.
    pub closed: Option<(String, Arc<Program>)>,
}

impl NumberRoute {
    /// The scenario to run for a call arriving at `now`: (name, program), or `None` when the number is
    /// closed and has no closed-hours scenario.
    pub fn select(&self, now: jiff::Timestamp) -> Option<(&str, &Arc<Program>)> {
        match &self.hours {
            Some(hours) if !hours.schedule.is_open(now) => hours
                .closed
                .as_ref()
                .map(|(name, program)| (name.as_str(), program)),
            _ => Some((self.scenario_name.as_str(), &self.program)),
        }
    }
}

/// The routing table.
#[derive(Debug, Default, Clone)]
pub struct Router {
    exact: Vec<NumberRoute>,
    /// Sorted longest prefix first.
    prefixes: Vec<(String, NumberRoute)>,
    fallback: Option<NumberRoute>,
}

impl Router {
    pub fn new(routes: Vec<NumberRoute>) -> Self {
        let mut router = Router::default();
        for route in routes {
            if route.pattern == "*" {
                router.fallback = Some(route);
            } else if let Some(prefix) = route.pattern.strip_suffix('*') {
                router.prefixes.push((prefix.to_string(), route));
            } else {
                router.exact.push(route);
            }
        }
        router
            .prefixes
            .sort_by(|(a, _), (b, _)| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        router
    }

    /// The route for a dialled number, if any.
    pub fn route(&self, dialled: &str) -> Option<&NumberRoute> {
        self.exact
            .iter()
            .find(|r| r.pattern == dialled)
            .or_else(|| {
                self.prefixes
                    .iter()
                    .find(|(prefix, _)| dialled.starts_with(prefix.as_str()))
                    .map(|(_, route)| route)
            })
            .or(self.fallback.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(pattern: &str, program: &Arc<Program>) -> NumberRoute {
        NumberRoute {
            pattern: pattern.into(),
            scenario_name: format!("for {pattern}"),
            program: program.clone(),
            answer_after: std::time::Duration::ZERO,
            hours: None,
            record_calls: false,
        }
    }

    #[test]
    fn closed_hours_pick_the_closed_scenario_or_refuse() {
        let open = Arc::new(
            ivory_scenario::compile(r#"{"name":"open","script":["hangup"]}"#).expect("valid"),
        );
        let closed = Arc::new(
            ivory_scenario::compile(r#"{"name":"closed","script":["hangup"]}"#).expect("valid"),
        );
        let schedule =
            Arc::new(Schedule::parse("UTC", &["mon-fri 09:00-17:00".into()], &[]).expect("valid"));
        let mut route = route("1000", &open);
        route.scenario_name = "open".into();
        route.hours = Some(BusinessHours {
            schedule_name: "office".into(),
            schedule,
            closed: Some(("closed".into(), closed)),
        });
        let monday_noon: jiff::Timestamp = "2026-11-23T12:00:00Z".parse().expect("valid");
        let monday_night: jiff::Timestamp = "2026-11-23T22:00:00Z".parse().expect("valid");
        assert_eq!(
            route.select(monday_noon).map(|(name, _)| name),
            Some("open")
        );
        assert_eq!(
            route.select(monday_night).map(|(name, _)| name),
            Some("closed")
        );
        if let Some(hours) = route.hours.as_mut() {
            hours.closed = None;
        }
        assert!(route.select(monday_night).is_none());
    }

    #[test]
    fn exact_then_longest_prefix_then_star() {
        let program = Arc::new(
            ivory_scenario::compile(r#"{"name":"t","script":["hangup"]}"#).expect("valid scenario"),
        );
        let router = Router::new(vec![
            route("*", &program),
            route("46*", &program),
            route("4670*", &program),
            route("4670123", &program),
        ]);
        let matched = |n: &str| router.route(n).map(|r| r.pattern.clone());
        assert_eq!(matched("4670123").as_deref(), Some("4670123"));
        assert_eq!(matched("46701234").as_deref(), Some("4670*"));
        assert_eq!(matched("4680").as_deref(), Some("46*"));
        assert_eq!(matched("1000").as_deref(), Some("*"));
        let no_fallback = Router::new(vec![route("1000", &program)]);
        assert!(no_fallback.route("1001").is_none());
        assert!(no_fallback.route("").is_none());
    }
}
