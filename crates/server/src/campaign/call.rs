//! One call of the campaign: the request from the stored row, the call's longest duration,
//! and the task that places it and records its end.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use ivory_engine::dialer::{AfterAttempt, AttemptOutcome};
use tokio::sync::OwnedSemaphorePermit;

use super::{CallPlacer, PlaceOutcome, PlaceRequest};
use crate::api::Clock;
use crate::storage::{AttemptEnd, CallSummary, DestinationRow, Storage, StorageError};

/// How many times the end of a call is written before it is left to recovery.
const FINISH_TRIES: u32 = 5;

/// The request for attempt `attempt` of `row`.
pub(super) fn request(row: &DestinationRow, attempt: u32) -> PlaceRequest {
    let options = &row.call_options;
    PlaceRequest {
        message_id: row.message_id.clone(),
        bulk_id: row.bulk_id.clone(),
        attempt,
        to: row.to.clone(),
        from: row.from.clone(),
        scenario_id: row.scenario_id.clone(),
        parameters: row.parameters.clone(),
        ring_timeout: Duration::from_secs(u64::from(options.ring_timeout_seconds)),
        call_timeout: options
            .call_timeout_seconds
            .map(|seconds| Duration::from_secs(u64::from(seconds))),
        pause: Duration::from_secs(u64::from(options.pause_seconds)),
        record: options.record,
    }
}

/// The longest a call can last: ringing, the pause, then the call itself.
pub(super) fn longest_duration(request: &PlaceRequest, longest_call: Duration) -> Duration {
    request
        .ring_timeout
        .saturating_add(request.pause)
        .saturating_add(
            request
                .call_timeout
                .unwrap_or(longest_call)
                .min(longest_call),
        )
}

/// What the task of one call reports when its end is recorded (or could not be).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallEnded {
    pub message_id: String,
    pub attempt: u32,
    pub outcome: AttemptOutcome,
    /// What storage made of it: a retry or a final status. `None` if the row had already
    /// been ended (recovered as interrupted by another node) or the end could not be
    /// written (it is then recovered as interrupted).
    pub after: Option<AfterAttempt>,
}

/// A call being placed: its future (made by [`CallPlacer::place`] when the attempt was
/// begun) and what recording its end needs.
pub(super) struct CallTask {
    pub storage: Storage,
    pub clock: Clock,
    pub message_id: String,
    pub attempt: u32,
    pub placing: Pin<Box<dyn Future<Output = PlaceOutcome> + Send>>,
    /// The call is dropped (hung up) and ended as a temporary failure after this long.
    pub limit: Duration,
    /// The call slot, given back when the end is recorded.
    pub permit: OwnedSemaphorePermit,
}

impl CallTask {
    /// Asks `placer` for the call (at once, so it starts at the pass's moment) and returns
    /// the task that waits for it.
    pub(super) fn place(
        storage: Storage,
        clock: Clock,
        placer: &dyn CallPlacer,
        request: PlaceRequest,
        limit: Duration,
        permit: OwnedSemaphorePermit,
    ) -> CallTask {
        let message_id = request.message_id.clone();
        let attempt = request.attempt;
        CallTask {
            storage,
            clock,
            message_id,
            attempt,
            placing: placer.place(request),
            limit,
            permit,
        }
    }

    /// Waits for the call to end and records how it ended.
    pub(super) async fn run(self) -> CallEnded {
        let CallTask {
            storage,
            clock,
            message_id,
            attempt,
            placing,
            limit,
            permit,
        } = self;
        let end = match tokio::time::timeout(limit, placing).await {
            Ok(outcome) => attempt_end(outcome),
            Err(_) => {
                tracing::warn!(
                    message_id,
                    attempt,
                    "the call overran its longest duration; ended as failed"
                );
                AttemptEnd {
                    outcome: AttemptOutcome::Failed { permanent: false },
                    sip_code: None,
                    answered_at: None,
                    ended_at: clock(),
                    summary: CallSummary::default(),
                }
            }
        };
        if let (Some(answered_at), Some(call_id)) = (end.answered_at, &end.summary.call_id)
            && let Err(error) = storage
                .attempt_answered(&message_id, attempt, call_id, answered_at)
                .await
        {
            // finish_attempt records the answer too; this write only comes first.
            tracing::warn!(message_id, attempt, %error, "recording an answer failed");
        }
        let after = finish(&storage, &message_id, attempt, &end).await;
        drop(permit);
        CallEnded {
            message_id,
            attempt,
            outcome: end.outcome,
            after,
        }
    }
}

fn attempt_end(outcome: PlaceOutcome) -> AttemptEnd {
    let answered = outcome.result.is_answered();
    AttemptEnd {
        outcome: outcome.result.into(),
        sip_code: outcome.sip_code,
        // An answer time on an unanswered call would give its report a duration.
        answered_at: outcome.answered_at_ms.filter(|_| answered),
        ended_at: outcome.ended_at_ms,
        summary: outcome.summary,
    }
}

/// Writes the end of an attempt, trying again after a storage error (1, 2, 4, 8 s). If it
/// never succeeds the row stays `calling` and is recovered as interrupted.
async fn finish(
    storage: &Storage,
    message_id: &str,
    attempt: u32,
    end: &AttemptEnd,
) -> Option<AfterAttempt> {
    let mut tries = 0;
    loop {
        tries += 1;
        match storage.finish_attempt(message_id, attempt, end).await {
            Ok(after) => {
                if after.is_none() {
                    tracing::warn!(
                        message_id,
                        attempt,
                        "the attempt was already ended (recovered as interrupted)"
                    );
                }
                return after;
            }
            Err(error) if tries < FINISH_TRIES => {
                tracing::warn!(message_id, attempt, %error, "recording a call's end failed; trying again");
                tokio::time::sleep(Duration::from_secs(1 << (tries - 1))).await;
            }
            Err(error) => {
                tracing::error!(message_id, attempt, %error, "recording a call's end failed; left to recovery");
                return None;
            }
        }
    }
}

/// The retry or final status, or "not recorded", as a log word.
pub(super) fn describe(after: Option<AfterAttempt>) -> &'static str {
    match after {
        Some(AfterAttempt::RetryAt(_)) => "retry",
        Some(AfterAttempt::Final(status)) => status.as_str(),
        None => "not recorded",
    }
}

/// Surfaces a storage error with the message it concerns (for logs).
pub(super) fn log_storage_error(what: &str, message_id: &str, error: &StorageError) {
    tracing::error!(message_id, %error, "{what} failed");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::PlaceResult;

    fn request_with(call_timeout: Option<Duration>) -> PlaceRequest {
        PlaceRequest {
            message_id: "m".into(),
            bulk_id: "b".into(),
            attempt: 1,
            to: "46700000001".into(),
            from: None,
            scenario_id: None,
            parameters: Default::default(),
            ring_timeout: Duration::from_secs(45),
            call_timeout,
            pause: Duration::from_secs(2),
            record: false,
        }
    }

    #[test]
    fn a_call_lasts_at_most_ringing_pause_and_its_timeout() {
        let longest = Duration::from_secs(3_600);
        assert_eq!(
            longest_duration(&request_with(Some(Duration::from_secs(60))), longest),
            Duration::from_secs(107)
        );
        assert_eq!(
            longest_duration(&request_with(None), longest),
            Duration::from_secs(3_647)
        );
        assert_eq!(
            longest_duration(&request_with(Some(Duration::from_secs(86_400))), longest),
            Duration::from_secs(3_647),
            "the node's limit wins"
        );
    }

    #[test]
    fn results_map_to_outcomes_and_unanswered_calls_have_no_answer_time() {
        assert_eq!(PlaceResult::from_sip_status(Some(486)), PlaceResult::Busy);
        assert_eq!(
            PlaceResult::from_sip_status(Some(404)),
            PlaceResult::Failed { permanent: true }
        );
        assert_eq!(PlaceResult::from_sip_status(None), PlaceResult::NoAnswer);
        let end = attempt_end(PlaceOutcome {
            result: PlaceResult::Busy,
            sip_code: Some(486),
            answered_at_ms: Some(5),
            ended_at_ms: 10,
            summary: CallSummary::default(),
        });
        assert_eq!(end.outcome, AttemptOutcome::Busy);
        assert_eq!(end.answered_at, None);
    }
}
