//! The outbound dialer's decisions, without IO: which destinations to call now, which to put
//! off, which have expired, and what follows an attempt. Time is a parameter (wall-clock
//! [`Timestamp`]s, because `sendAt`, `validityPeriod` and `deliveryTimeWindow` are wall-clock
//! rules), so a 24-hour retry ladder is tested in virtual time.
//!
//! # A destination's life
//!
//! ```text
//! accepted ─▶ Scheduled ─▶ Calling ─▶ answered ─▶ Final(Delivered)
//!                ▲            │
//!                │            └──▶ no answer / busy / failure ─▶ RetryWait ─┐
//!                └──────────────────────────────────────────────────────────┘
//!   (any waiting state past its validity ─▶ Final(Expired); a bad request ─▶ Final(Rejected);
//!    retries used up or a permanent failure ─▶ Final(Undeliverable))
//! ```
//!
//! The rows live in the database; this module only decides. The worker's loop (server side):
//!
//! ```text
//! loop {
//!     rows = storage.claim_due(node, now, limit)              // leased to this node
//!     plan = scheduler.next_due(now, calls_in_progress, &candidates_from(rows))
//!     for decision in plan.decisions {
//!         Call   → storage.begin_attempt (compare-and-set on the attempt number), then dial
//!         Defer  → storage.defer(message_id, until)             // closed delivery window
//!         Expire → storage.finish(message_id, Expired)
//!     }
//!     rows without a decision stay due (capacity or sending speed): release the lease
//!     when a call ends: scheduler.after_attempt(..) → RetryAt(t) or Final(status)
//!     sleep until plan.wake_at or a short poll interval
//! }
//! ```
//!
//! Rules (from Infobip's launch API, which ivory follows):
//! - The first attempt is at `sendAt`, or at acceptance when `sendAt` is absent or past. The
//!   destination expires `validityPeriod` after that first moment (at most 48 h).
//! - `deliveryTimeWindow`: calls start only on the listed UTC days, between `from` and `to`
//!   (UTC hour:minute, `to` exclusive). A due destination outside the window is deferred to
//!   the window's next opening.
//! - `sendingSpeed`: at most `speed` calls per `timeUnit` per launch, evenly spaced
//!   ([`speed::Pace`]); a global cap limits calls in progress over all launches.
//! - `retry`: after no answer, busy or a temporary failure, wait by the ladder 1, 2, 5, 10, 20,
//!   30 min, 1, 2, 4, 8, 16, 24 h clipped to `[minPeriod, maxPeriod]`, at most `maxCount`
//!   retries ([`retry`]). A declined call and a permanent failure (the number does not exist)
//!   are not retried. A retry that would start after the validity ends is not made.
//!
//! Out of scope: reading rows, SIP, reports. The sending-speed state lives in the
//! [`Scheduler`] of one node: after a restart a launch starts again with one call's credit;
//! several nodes each apply the speed to the rows they claim.

pub mod retry;
pub mod scheduler;
pub mod speed;
pub mod window;

#[cfg(test)]
mod tests;

use std::fmt;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

pub use retry::RetryPolicy;
pub use scheduler::{AfterAttempt, Decision, Plan, Scheduler};
pub use speed::{Pace, SendingSpeed, TimeUnit};
pub use window::{DeliveryTimeWindow, Weekday};

/// The longest `validityPeriod` a launch may ask for (longer ones are cut to it).
pub const MAXIMUM_VALIDITY: Duration = Duration::from_secs(48 * 3_600);

/// Where a destination is in its life. `Calling` rows belong to the node that leased them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DestinationState {
    /// Waiting for its first attempt (`sendAt`, window, speed, capacity).
    Scheduled,
    /// An attempt is in progress.
    Calling,
    /// Waiting for its next retry.
    RetryWait,
    /// Done; a delivery report exists.
    Final(FinalStatus),
}

impl DestinationState {
    /// The stored name (`scheduled`, `calling`, `retry_wait`, `delivered`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            DestinationState::Scheduled => "scheduled",
            DestinationState::Calling => "calling",
            DestinationState::RetryWait => "retry_wait",
            DestinationState::Final(status) => status.as_str(),
        }
    }

    /// The inverse of [`DestinationState::as_str`].
    pub fn parse(text: &str) -> Option<DestinationState> {
        Some(match text {
            "scheduled" => DestinationState::Scheduled,
            "calling" => DestinationState::Calling,
            "retry_wait" => DestinationState::RetryWait,
            other => DestinationState::Final(FinalStatus::parse(other)?),
        })
    }

    /// Still waiting for a call (the states a worker claims).
    pub fn is_waiting(self) -> bool {
        matches!(
            self,
            DestinationState::Scheduled | DestinationState::RetryWait
        )
    }
}

impl fmt::Display for DestinationState {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// How a destination ended: the delivery report's status group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FinalStatus {
    Delivered,
    Undeliverable,
    Expired,
    Rejected,
}

impl FinalStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FinalStatus::Delivered => "delivered",
            FinalStatus::Undeliverable => "undeliverable",
            FinalStatus::Expired => "expired",
            FinalStatus::Rejected => "rejected",
        }
    }

    pub fn parse(text: &str) -> Option<FinalStatus> {
        Some(match text {
            "delivered" => FinalStatus::Delivered,
            "undeliverable" => FinalStatus::Undeliverable,
            "expired" => FinalStatus::Expired,
            "rejected" => FinalStatus::Rejected,
            _ => return None,
        })
    }
}

/// How one call attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AttemptOutcome {
    /// Answered; `machine` is the answering-machine detection's verdict when it ran.
    Answered { machine: Option<bool> },
    /// Rang until `ringTimeout` (or 408/480).
    NoAnswer,
    /// 486/600.
    Busy,
    /// 603: the callee refused; not retried.
    Declined,
    /// Any other failure; `permanent` (404, 484, 410, 403, ...) is not retried.
    Failed { permanent: bool },
    /// The node running the attempt stopped before it ended (found on restart): counted as
    /// a temporary failure, never called again as the same attempt.
    Interrupted,
}

impl AttemptOutcome {
    /// The outcome of a final SIP status to an outbound INVITE (`None`: no answer at all).
    pub fn from_sip_status(status: Option<u16>) -> AttemptOutcome {
        match status {
            Some(200..=299) => AttemptOutcome::Answered { machine: None },
            None | Some(408 | 480 | 487) => AttemptOutcome::NoAnswer,
            Some(486 | 600) => AttemptOutcome::Busy,
            Some(603) => AttemptOutcome::Declined,
            Some(403 | 404 | 410 | 484 | 485 | 604) => AttemptOutcome::Failed { permanent: true },
            Some(_) => AttemptOutcome::Failed { permanent: false },
        }
    }

    /// A short stored name: `answered`, `machine`, `no_answer`, `busy`, `declined`, `failed`,
    /// `failed_permanent`, `interrupted`.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Answered {
                machine: Some(true),
            } => "machine",
            AttemptOutcome::Answered { .. } => "answered",
            AttemptOutcome::NoAnswer => "no_answer",
            AttemptOutcome::Busy => "busy",
            AttemptOutcome::Declined => "declined",
            AttemptOutcome::Failed { permanent: false } => "failed",
            AttemptOutcome::Failed { permanent: true } => "failed_permanent",
            AttemptOutcome::Interrupted => "interrupted",
        }
    }

    fn is_retryable(self) -> bool {
        matches!(
            self,
            AttemptOutcome::NoAnswer
                | AttemptOutcome::Busy
                | AttemptOutcome::Failed { permanent: false }
                | AttemptOutcome::Interrupted
        )
    }
}

/// The scheduling rules of one launch (one `messages[]` entry), as stored with each of its
/// destinations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LaunchPolicy {
    pub window: Option<DeliveryTimeWindow>,
    pub speed: Option<SendingSpeed>,
    pub retry: Option<RetryPolicy>,
}

/// A waiting destination as the scheduler sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub message_id: String,
    /// Destinations of one launch share its sending speed.
    pub launch_key: String,
    pub state: DestinationState,
    /// Attempts already made (0 before the first call).
    pub attempts_made: u32,
    pub next_attempt_at: Timestamp,
    pub expires_at: Timestamp,
    pub policy: LaunchPolicy,
}

/// When a destination's first attempt may start: `send_at`, or acceptance if that is later.
pub fn first_attempt_at(accepted_at: Timestamp, send_at: Option<Timestamp>) -> Timestamp {
    send_at.map_or(accepted_at, |send_at| send_at.max(accepted_at))
}

/// When a destination expires: `validity` (cut to [`MAXIMUM_VALIDITY`]) after its first
/// possible attempt.
pub fn expiry(first_attempt_at: Timestamp, validity: Duration) -> Timestamp {
    add(first_attempt_at, validity.min(MAXIMUM_VALIDITY))
}

/// `at + duration`, saturating at the end of representable time.
pub(crate) fn add(at: Timestamp, duration: Duration) -> Timestamp {
    let millis = i64::try_from(duration.as_millis()).unwrap_or(i64::MAX);
    from_unix_millis(at.as_millisecond().saturating_add(millis))
}

/// A timestamp from milliseconds since the Unix epoch (as stored), clamped to jiff's range.
pub fn from_unix_millis(millis: i64) -> Timestamp {
    let clamped = millis.clamp(
        Timestamp::MIN.as_millisecond(),
        Timestamp::MAX.as_millisecond(),
    );
    Timestamp::from_millisecond(clamped).unwrap_or(Timestamp::MAX)
}
