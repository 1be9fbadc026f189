//! The scheduler: from waiting destinations and the clock to decisions.
//!
//! [`Scheduler::next_due`] looks at candidate rows (typically the due ones a node just
//! claimed) and decides, in order of their due time: expire the ones past validity, defer
//! the ones outside their delivery window, and call as many as the global cap on calls in
//! progress and each launch's sending speed allow. Due rows it does not decide on simply
//! stay due. [`Scheduler::after_attempt`] turns an attempt's outcome into a retry time or a
//! final status.

use std::collections::HashMap;

use jiff::Timestamp;

use super::speed::Pace;
use super::{AttemptOutcome, Candidate, FinalStatus, LaunchPolicy, add};

/// What to do with one destination now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Start attempt number `attempt` (1 for the first call).
    Call { message_id: String, attempt: u32 },
    /// Outside its delivery window: due again at `until`.
    Defer {
        message_id: String,
        until: Timestamp,
    },
    /// Its validity has passed: final status EXPIRED.
    Expire { message_id: String },
}

/// The decisions for now, and when asking again may give new ones.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    pub decisions: Vec<Decision>,
    /// The earliest moment a candidate not decided on now becomes due or may be paced in
    /// (`None`: nothing to wait for, or only for a call in progress to end).
    pub wake_at: Option<Timestamp>,
}

/// What follows an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterAttempt {
    /// Wait for the retry ladder, then call again.
    RetryAt(Timestamp),
    Final(FinalStatus),
}

/// The dialer's decisions for one node.
#[derive(Debug, Clone)]
pub struct Scheduler {
    max_concurrent_calls: usize,
    /// Sending-speed state by launch key.
    paces: HashMap<String, Pace>,
}

impl Scheduler {
    /// `max_concurrent_calls`: the most outbound calls in progress at once (over all launches).
    pub fn new(max_concurrent_calls: usize) -> Scheduler {
        Scheduler {
            max_concurrent_calls,
            paces: HashMap::new(),
        }
    }

    pub fn max_concurrent_calls(&self) -> usize {
        self.max_concurrent_calls
    }

    /// Decides for `candidates` at `now`, with `calls_in_progress` calls already running.
    pub fn next_due(
        &mut self,
        now: Timestamp,
        calls_in_progress: usize,
        candidates: &[Candidate],
    ) -> Plan {
        // A launch whose next call is allowed by now is as good as new: forget its state so
        // the map holds only launches that are being paced.
        self.paces
            .retain(|_, pace| pace.next_allowed().is_some_and(|next| next > now));
        let mut order: Vec<&Candidate> = candidates
            .iter()
            .filter(|candidate| candidate.state.is_waiting())
            .collect();
        order.sort_by(|a, b| {
            (a.next_attempt_at, &a.message_id).cmp(&(b.next_attempt_at, &b.message_id))
        });
        let mut plan = Plan::default();
        let mut free = self.max_concurrent_calls.saturating_sub(calls_in_progress);
        for candidate in order {
            let message_id = candidate.message_id.clone();
            if now >= candidate.expires_at {
                plan.decisions.push(Decision::Expire { message_id });
                continue;
            }
            if candidate.next_attempt_at > now {
                wake(&mut plan, candidate.next_attempt_at);
                continue;
            }
            if let Some(window) = &candidate.policy.window
                && !window.is_open(now)
            {
                let until = window.next_open(now).min(candidate.expires_at);
                wake(&mut plan, until);
                plan.decisions.push(Decision::Defer { message_id, until });
                continue;
            }
            if free == 0 {
                continue;
            }
            if let Some(speed) = candidate.policy.speed {
                let pace = self
                    .paces
                    .entry(candidate.launch_key.clone())
                    .or_insert_with(|| Pace::new(speed));
                if !pace.try_take(now) {
                    if let Some(next) = pace.next_allowed() {
                        wake(&mut plan, next);
                    }
                    continue;
                }
            }
            free -= 1;
            plan.decisions.push(Decision::Call {
                message_id,
                attempt: candidate.attempts_made + 1,
            });
        }
        plan
    }

    /// What follows an attempt that ended at `now` with `outcome`; `attempts_made` counts
    /// it. A retry is made only if the policy allows one more and it would start before
    /// `expires_at`.
    pub fn after_attempt(
        policy: &LaunchPolicy,
        attempts_made: u32,
        expires_at: Timestamp,
        outcome: AttemptOutcome,
        now: Timestamp,
    ) -> AfterAttempt {
        if let AttemptOutcome::Answered { .. } = outcome {
            return AfterAttempt::Final(FinalStatus::Delivered);
        }
        if !outcome.is_retryable() {
            return AfterAttempt::Final(FinalStatus::Undeliverable);
        }
        let retry_at = policy
            .retry
            .and_then(|retry| retry.delay_before(attempts_made))
            .map(|delay| add(now, delay))
            .filter(|&at| at < expires_at);
        match retry_at {
            Some(at) => AfterAttempt::RetryAt(at),
            None => AfterAttempt::Final(FinalStatus::Undeliverable),
        }
    }

    /// Forgets a launch's pacing (all its destinations are final).
    pub fn forget_launch(&mut self, launch_key: &str) {
        self.paces.remove(launch_key);
    }
}

fn wake(plan: &mut Plan, at: Timestamp) {
    plan.wake_at = Some(plan.wake_at.map_or(at, |current| current.min(at)));
}
