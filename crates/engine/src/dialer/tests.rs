//! The dialer in virtual time: a small in-memory "database" of destinations, a fake callee
//! per number, and a loop that asks the scheduler, carries its decisions out and jumps the
//! clock to the next wake-up. Days of campaign run in microseconds.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;

use super::*;

#[derive(Debug, Clone)]
struct Row {
    candidate: Candidate,
    /// Start times of the attempts made.
    attempts: Vec<Timestamp>,
}

struct Campaign {
    now: Timestamp,
    scheduler: Scheduler,
    rows: BTreeMap<String, Row>,
    finals: BTreeMap<String, FinalStatus>,
    /// How each number's calls end, attempt by attempt (the last one repeats).
    callee: fn(&str, u32) -> AttemptOutcome,
    /// Calls last this long; at most this many run at once is checked on every start.
    call_length: Duration,
    in_progress: Vec<(Timestamp, String)>,
    most_in_progress: usize,
}

fn at(text: &str) -> Timestamp {
    text.parse().expect("timestamp")
}

fn minutes(count: u64) -> Duration {
    Duration::from_secs(count * 60)
}

impl Campaign {
    fn new(now: Timestamp, cap: usize, callee: fn(&str, u32) -> AttemptOutcome) -> Campaign {
        Campaign {
            now,
            scheduler: Scheduler::new(cap),
            rows: BTreeMap::new(),
            finals: BTreeMap::new(),
            callee,
            call_length: Duration::from_secs(10),
            in_progress: Vec::new(),
            most_in_progress: 0,
        }
    }

    fn launch(
        &mut self,
        key: &str,
        numbers: &[&str],
        policy: LaunchPolicy,
        send_at: Option<Timestamp>,
        validity: Duration,
    ) {
        let first = first_attempt_at(self.now, send_at);
        for number in numbers {
            self.rows.insert(
                number.to_string(),
                Row {
                    candidate: Candidate {
                        message_id: number.to_string(),
                        launch_key: key.to_string(),
                        state: DestinationState::Scheduled,
                        attempts_made: 0,
                        next_attempt_at: first,
                        expires_at: expiry(first, validity),
                        policy: policy.clone(),
                    },
                    attempts: Vec::new(),
                },
            );
        }
    }

    /// Runs until every destination is final (or `limit` of virtual time passes).
    fn run(&mut self, limit: Duration) {
        let end = add(self.now, limit);
        while self.finals.len() < self.rows.len() && self.now <= end {
            self.end_calls();
            let candidates: Vec<Candidate> = self
                .rows
                .values()
                .filter(|row| row.candidate.state.is_waiting())
                .map(|row| row.candidate.clone())
                .collect();
            let plan = self
                .scheduler
                .next_due(self.now, self.in_progress.len(), &candidates);
            for decision in &plan.decisions {
                self.carry_out(decision);
            }
            let next_call_end = self.in_progress.iter().map(|(end, _)| *end).min();
            let next = [plan.wake_at, next_call_end].into_iter().flatten().min();
            match next {
                Some(next) if next > self.now => self.now = next,
                _ => break,
            }
        }
    }

    fn carry_out(&mut self, decision: &Decision) {
        match decision {
            Decision::Call {
                message_id,
                attempt,
            } => {
                let row = self.rows.get_mut(message_id).expect("row");
                assert_eq!(*attempt, row.candidate.attempts_made + 1);
                row.candidate.state = DestinationState::Calling;
                row.candidate.attempts_made = *attempt;
                row.attempts.push(self.now);
                self.in_progress
                    .push((add(self.now, self.call_length), message_id.clone()));
                self.most_in_progress = self.most_in_progress.max(self.in_progress.len());
            }
            Decision::Defer { message_id, until } => {
                let row = self.rows.get_mut(message_id).expect("row");
                assert!(*until > self.now);
                row.candidate.next_attempt_at = *until;
            }
            Decision::Expire { message_id } => {
                let row = self.rows.get_mut(message_id).expect("row");
                row.candidate.state = DestinationState::Final(FinalStatus::Expired);
                self.finals.insert(message_id.clone(), FinalStatus::Expired);
            }
        }
    }

    fn end_calls(&mut self) {
        let now = self.now;
        let (ended, running): (Vec<_>, Vec<_>) =
            self.in_progress.drain(..).partition(|(end, _)| *end <= now);
        self.in_progress = running;
        for (_, message_id) in ended {
            let row = self.rows.get_mut(&message_id).expect("row");
            let outcome = (self.callee)(&message_id, row.candidate.attempts_made);
            match Scheduler::after_attempt(
                &row.candidate.policy,
                row.candidate.attempts_made,
                row.candidate.expires_at,
                outcome,
                now,
            ) {
                AfterAttempt::RetryAt(when) => {
                    row.candidate.state = DestinationState::RetryWait;
                    row.candidate.next_attempt_at = when;
                }
                AfterAttempt::Final(status) => {
                    row.candidate.state = DestinationState::Final(status);
                    self.finals.insert(message_id, status);
                }
            }
        }
    }

    /// Minutes from `start` to each attempt of `number`.
    fn attempt_minutes(&self, number: &str, start: Timestamp) -> Vec<i64> {
        self.rows[number]
            .attempts
            .iter()
            .map(|attempt| (attempt.as_millisecond() - start.as_millisecond()) / 60_000)
            .collect()
    }
}

fn never_answers(_: &str, _: u32) -> AttemptOutcome {
    AttemptOutcome::NoAnswer
}

fn retry(min: u32, max: u32, count: u32) -> Option<RetryPolicy> {
    Some(RetryPolicy::new(min, max, count).expect("valid retry"))
}

#[test]
fn a_day_long_retry_ladder_runs_in_virtual_time() {
    let start = at("2026-11-23T08:00:00Z");
    let mut campaign = Campaign::new(start, 10, never_answers);
    let policy = LaunchPolicy {
        retry: retry(60, 1_440, 4),
        ..LaunchPolicy::default()
    };
    campaign.launch("bulk", &["4670000001"], policy, None, MAXIMUM_VALIDITY);
    campaign.run(Duration::from_secs(7 * 86_400));
    // Each call rings 10 s; the retries wait 1 h, 2 h, 4 h, 8 h after each end.
    let ladder: Vec<i64> = campaign.attempt_minutes("4670000001", start);
    assert_eq!(ladder, [0, 60, 180, 420, 900]);
    assert_eq!(campaign.finals["4670000001"], FinalStatus::Undeliverable);
}

#[test]
fn a_retry_after_the_validity_is_not_made() {
    let start = at("2026-11-23T08:00:00Z");
    let mut campaign = Campaign::new(start, 10, never_answers);
    let policy = LaunchPolicy {
        retry: retry(480, 1_440, 4),
        ..LaunchPolicy::default()
    };
    campaign.launch("bulk", &["4670000001"], policy, None, minutes(20 * 60));
    campaign.run(Duration::from_secs(7 * 86_400));
    // 0, then +8 h; the next (+16 h after that) would be past the 20 h validity.
    assert_eq!(campaign.attempt_minutes("4670000001", start), [0, 480]);
    assert_eq!(campaign.finals["4670000001"], FinalStatus::Undeliverable);
}

#[test]
fn answered_calls_are_delivered_and_busy_ones_retried() {
    fn callee(number: &str, attempt: u32) -> AttemptOutcome {
        match (number, attempt) {
            ("1", _) => AttemptOutcome::Answered { machine: None },
            ("2", 1) => AttemptOutcome::Busy,
            ("2", _) => AttemptOutcome::Answered {
                machine: Some(true),
            },
            ("3", _) => AttemptOutcome::Declined,
            _ => AttemptOutcome::Failed { permanent: true },
        }
    }
    let start = at("2026-11-23T08:00:00Z");
    let mut campaign = Campaign::new(start, 10, callee);
    let policy = LaunchPolicy {
        retry: retry(1, 10, 2),
        ..LaunchPolicy::default()
    };
    campaign.launch(
        "bulk",
        &["1", "2", "3", "4"],
        policy,
        None,
        MAXIMUM_VALIDITY,
    );
    campaign.run(Duration::from_secs(86_400));
    assert_eq!(campaign.finals["1"], FinalStatus::Delivered);
    assert_eq!(campaign.finals["2"], FinalStatus::Delivered);
    assert_eq!(campaign.rows["2"].attempts.len(), 2);
    assert_eq!(campaign.finals["3"], FinalStatus::Undeliverable);
    assert_eq!(campaign.rows["3"].attempts.len(), 1);
    assert_eq!(campaign.finals["4"], FinalStatus::Undeliverable);
    assert_eq!(campaign.rows["4"].attempts.len(), 1);
}

#[test]
fn sending_speed_spaces_calls_and_the_cap_bounds_them() {
    fn answers(_: &str, _: u32) -> AttemptOutcome {
        AttemptOutcome::Answered { machine: None }
    }
    let start = at("2026-11-23T08:00:00Z");
    let mut campaign = Campaign::new(start, 3, answers);
    campaign.call_length = Duration::from_secs(120);
    let paced = LaunchPolicy {
        speed: Some(SendingSpeed {
            speed: 2,
            time_unit: TimeUnit::Minute,
        }),
        ..LaunchPolicy::default()
    };
    let numbers: Vec<String> = (0..6).map(|index| format!("a{index}")).collect();
    let numbers: Vec<&str> = numbers.iter().map(String::as_str).collect();
    campaign.launch("paced", &numbers, paced, None, MAXIMUM_VALIDITY);
    campaign.run(Duration::from_secs(86_400));
    let starts: Vec<i64> = numbers
        .iter()
        .map(|number| {
            (campaign.rows[*number].attempts[0].as_millisecond() - start.as_millisecond()) / 1_000
        })
        .collect();
    // One every 30 s, but never more than 3 calls of 2 min at once: the 4th waits for the
    // first to end (at 120 s).
    assert_eq!(starts, [0, 30, 60, 120, 150, 180]);
    assert_eq!(campaign.most_in_progress, 3);
    assert!(
        campaign
            .finals
            .values()
            .all(|s| *s == FinalStatus::Delivered)
    );
}

#[test]
fn send_at_and_the_delivery_window_delay_the_first_call() {
    fn answers(_: &str, _: u32) -> AttemptOutcome {
        AttemptOutcome::Answered { machine: None }
    }
    // Friday 2026-11-27 18:00 UTC; the window is Mondays 09:00-12:00.
    let start = at("2026-11-27T18:00:00Z");
    let mut campaign = Campaign::new(start, 10, answers);
    let policy = LaunchPolicy {
        window: Some(DeliveryTimeWindow::new(&[Weekday::Monday], (9, 0), (12, 0)).expect("window")),
        ..LaunchPolicy::default()
    };
    campaign.launch(
        "bulk",
        &["1"],
        policy,
        Some(at("2026-11-28T10:00:00Z")),
        MAXIMUM_VALIDITY,
    );
    campaign.run(Duration::from_secs(7 * 86_400));
    assert_eq!(campaign.rows["1"].attempts, [at("2026-11-30T09:00:00Z")]);
    assert_eq!(campaign.finals["1"], FinalStatus::Delivered);
}

#[test]
fn a_destination_whose_window_never_opens_in_time_expires() {
    let start = at("2026-11-27T18:00:00Z");
    let mut campaign = Campaign::new(start, 10, never_answers);
    let policy = LaunchPolicy {
        window: Some(
            DeliveryTimeWindow::new(&[Weekday::Wednesday], (9, 0), (12, 0)).expect("window"),
        ),
        ..LaunchPolicy::default()
    };
    campaign.launch("bulk", &["1"], policy, None, minutes(24 * 60));
    campaign.run(Duration::from_secs(7 * 86_400));
    assert!(campaign.rows["1"].attempts.is_empty());
    assert_eq!(campaign.finals["1"], FinalStatus::Expired);
}

#[test]
fn states_and_outcomes_round_trip_their_stored_names() {
    for state in [
        DestinationState::Scheduled,
        DestinationState::Calling,
        DestinationState::RetryWait,
        DestinationState::Final(FinalStatus::Delivered),
        DestinationState::Final(FinalStatus::Undeliverable),
        DestinationState::Final(FinalStatus::Expired),
        DestinationState::Final(FinalStatus::Rejected),
    ] {
        assert_eq!(DestinationState::parse(state.as_str()), Some(state));
    }
    assert_eq!(DestinationState::parse("accepted"), None);
    assert_eq!(
        AttemptOutcome::from_sip_status(Some(486)),
        AttemptOutcome::Busy
    );
    assert_eq!(
        AttemptOutcome::from_sip_status(None),
        AttemptOutcome::NoAnswer
    );
    assert_eq!(
        AttemptOutcome::from_sip_status(Some(404)),
        AttemptOutcome::Failed { permanent: true }
    );
    assert_eq!(
        AttemptOutcome::from_sip_status(Some(503)),
        AttemptOutcome::Failed { permanent: false }
    );
}

#[test]
fn validity_is_cut_to_48_hours_and_counts_from_send_at() {
    let accepted = at("2026-11-23T08:00:00Z");
    let send_at = at("2026-11-24T08:00:00Z");
    let first = first_attempt_at(accepted, Some(send_at));
    assert_eq!(first, send_at);
    assert_eq!(
        first_attempt_at(accepted, Some(at("2020-01-01T00:00:00Z"))),
        accepted
    );
    assert_eq!(
        expiry(first, Duration::from_secs(100 * 3_600)),
        at("2026-11-26T08:00:00Z")
    );
}
