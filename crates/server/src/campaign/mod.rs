//! The outbound-campaign worker: drives the durable queue (`storage::queue`) with the pure
//! scheduler (`ivory_engine::dialer`) and places calls through a [`CallPlacer`] (the engine
//! implements it with SIP; tests with a fake).
//!
//! # The run loop ([`CampaignWorker::run`])
//!
//! ```text
//! recover_interrupted(node)                       // calls this node had when it stopped
//! loop {
//!     pass():
//!         every `lease`: recover calls of stopped nodes (their lease ran out)
//!         rows = claim_due(node, now, free call slots, lease)
//!         plan = scheduler.next_due(now, calls in progress, rows)
//!         Expire → expire(row)        Defer → defer(row, window opens)
//!         Call   → take a call slot (semaphore), then begin_attempt (compare-and-set):
//!                  false → someone else has it: skip; true → placer.place(request),
//!                  and a task waits for the call
//!         rows without a decision (sending speed) keep their lease; they stay due
//!     wait for: a call to end, the plan's wake time (≤ poll_interval), or shutdown
//! }
//! call task: the call ends (or overruns its longest duration) → attempt_answered (if answered) → finish_attempt
//!            (storage schedules the retry or writes the final report and its outbox row
//!            in one transaction) → the call slot is given back
//! ```
//!
//! # Nothing lost on a crash
//!
//! Every transition is written before the step that depends on it, so a crash at any point
//! leaves rows the next start (or another node) resumes from:
//! - Crash after a claim, before `begin_attempt`: the rows are only leased; the lease runs
//!   out (or this node claims them again at once, being their owner) and they are called.
//! - Crash after `begin_attempt` committed, before or during the call: the row is `calling`
//!   with that attempt recorded. On restart `recover_interrupted` ends the attempt as
//!   `Interrupted` (retried by the launch's policy, or UNDELIVERABLE); another node does so
//!   once the row's lease (the call's longest possible end) has run out. The same attempt
//!   number is never placed again: `begin_attempt` is a compare-and-set on it.
//! - Crash after the call ended, before `finish_attempt` committed: same as above (the
//!   outcome is lost; the attempt counts as interrupted). A call answered in that window
//!   may therefore be retried, by the policy's rules.
//! - `finish_attempt` writes the retry or the final state, the report and the webhook's
//!   outbox row in one transaction: exactly one final report per destination.
//!
//! # Limits
//!
//! A global semaphore caps calls in progress (`max_concurrent_calls`); each launch's
//! sending speed is the scheduler's (per node: after a restart a launch starts again with
//! one call's credit). A call the placer has not ended by its longest possible duration
//! (`ringTimeout` + `pause` + `callTimeout`, or [`WorkerConfig::longest_call`]) is dropped
//! and ended as a temporary failure, so a stuck placer cannot hold a slot forever.
//!
//! Claims take the oldest due rows up to the free call slots: a launch paced by its sending
//! speed with many due rows can delay the rows of launches accepted after it (see the
//! report to the lead; a per-launch fair claim needs a storage query).

mod call;
mod worker;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use ivory_engine::dialer::AttemptOutcome;

use crate::storage::CallSummary;

#[allow(unused_imports, reason = "named by the campaign tests")]
pub use worker::CallEnded;
pub use worker::CampaignWorker;

/// Places outbound calls: the engine implements it with SIP and a scenario run.
pub trait CallPlacer: Send + Sync + 'static {
    /// Places one call and resolves when it is over (answered and ended, or failed).
    ///
    /// The future may be dropped before it resolves (the worker stops abruptly, or the call
    /// overran its longest duration): the implementation must then hang up.
    fn place(&self, request: PlaceRequest) -> Pin<Box<dyn Future<Output = PlaceOutcome> + Send>>;
}

/// One call to place: attempt `attempt` of destination `message_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceRequest {
    pub message_id: String,
    pub bulk_id: String,
    /// 1 for the first call.
    pub attempt: u32,
    /// E.164 digits, as accepted.
    pub to: String,
    pub from: Option<String>,
    pub scenario_id: Option<String>,
    /// The launch's `parameters`: the scenario's initial variables.
    pub parameters: BTreeMap<String, String>,
    /// `ringTimeout`: give up (no answer) after ringing this long.
    pub ring_timeout: Duration,
    /// `callTimeout`: hang up this long after the answer.
    pub call_timeout: Option<Duration>,
    /// `pause`: silence after the answer, before the scenario starts.
    pub pause: Duration,
    /// `record`: record the call.
    pub record: bool,
}

/// How a placed call went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaceResult {
    /// Answered; `machine` is the answering-machine detection's verdict when it ran.
    Answered { machine: Option<bool> },
    /// Rang until `ringTimeout` (or 408/480/487).
    NoAnswer,
    /// 486/600.
    Busy,
    /// 603: the callee refused; not retried.
    Declined,
    /// Any other failure; `permanent` (404, 484, 410, 403, ...) is not retried.
    Failed { permanent: bool },
}

impl PlaceResult {
    /// The result of the final SIP status to the INVITE (`None`: no final answer at all).
    pub fn from_sip_status(status: Option<u16>) -> PlaceResult {
        match AttemptOutcome::from_sip_status(status) {
            AttemptOutcome::Answered { machine } => PlaceResult::Answered { machine },
            AttemptOutcome::Busy => PlaceResult::Busy,
            AttemptOutcome::Declined => PlaceResult::Declined,
            AttemptOutcome::Failed { permanent } => PlaceResult::Failed { permanent },
            AttemptOutcome::NoAnswer | AttemptOutcome::Interrupted => PlaceResult::NoAnswer,
        }
    }

    pub fn is_answered(self) -> bool {
        matches!(self, PlaceResult::Answered { .. })
    }
}

impl From<PlaceResult> for AttemptOutcome {
    fn from(result: PlaceResult) -> AttemptOutcome {
        match result {
            PlaceResult::Answered { machine } => AttemptOutcome::Answered { machine },
            PlaceResult::NoAnswer => AttemptOutcome::NoAnswer,
            PlaceResult::Busy => AttemptOutcome::Busy,
            PlaceResult::Declined => AttemptOutcome::Declined,
            PlaceResult::Failed { permanent } => AttemptOutcome::Failed { permanent },
        }
    }
}

/// What the placer reports when the call is over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceOutcome {
    pub result: PlaceResult,
    /// The final SIP status of the INVITE, if one came.
    pub sip_code: Option<u16>,
    /// Milliseconds since the Unix epoch.
    pub answered_at_ms: Option<i64>,
    pub ended_at_ms: i64,
    /// Call id, digits, collected variables (masked as the report must show them).
    pub summary: CallSummary,
}

/// How the worker behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerConfig {
    /// This node's name in the queue's leases: unique per node, stable across restarts (a
    /// restart ends the calls the previous run of the same node left `calling`).
    pub node_id: String,
    /// The most outbound calls in progress at once (over all launches).
    pub max_concurrent_calls: usize,
    /// The longest wait between two passes (rows becoming due are found by polling).
    pub poll_interval: Duration,
    /// How long claimed rows stay ours; also the margin added to a call's lease, and how
    /// often the calls of stopped nodes are looked for.
    pub lease: Duration,
    /// The longest call after its answer when the launch gives no `callTimeout`
    /// (`[calls] max_duration_seconds`).
    pub longest_call: Duration,
}

impl WorkerConfig {
    /// `node_id` with the defaults: 100 calls, a pass at least every second, 30 s leases,
    /// calls of at most 4 h.
    pub fn new(node_id: impl Into<String>) -> WorkerConfig {
        WorkerConfig {
            node_id: node_id.into(),
            max_concurrent_calls: 100,
            poll_interval: Duration::from_secs(1),
            lease: Duration::from_secs(30),
            longest_call: Duration::from_secs(4 * 3_600),
        }
    }
}

/// A duration in whole milliseconds (the queue's unit), saturating.
fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
