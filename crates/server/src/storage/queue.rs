//! The dialer's queue: claiming due destinations, starting and ending attempts, deferring,
//! expiring, and recovering the calls of a node that stopped.
//!
//! A claim leases rows to one node for a while (`lease_owner`, `lease_until`); on PostgreSQL
//! the claim skips rows another node holds locked. Starting an attempt is a compare-and-set
//! on the attempt count and the state, and records the attempt before the call is placed: a
//! crash after it leaves a `calling` row that [`Storage::recover_interrupted`] ends as
//! interrupted, never dialled again as the same attempt.

use std::collections::BTreeMap;
use std::time::Duration;

use ivory_engine::dialer::{
    AfterAttempt, AttemptOutcome, Candidate, DestinationState, FinalStatus, LaunchPolicy, Scheduler,
};
use serde_json::Value;
use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;

use super::launches::{CallOptions, NotifyTarget};
use super::report::{self, CallSummary, ReportFacts};
use super::{Storage, StorageError, column, json_column};

/// A destination as the worker needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct DestinationRow {
    pub message_id: String,
    pub bulk_id: String,
    pub launch_key: String,
    pub to: String,
    pub from: Option<String>,
    pub scenario_id: Option<String>,
    pub state: DestinationState,
    pub attempts: u32,
    pub next_attempt_at: i64,
    pub expires_at: i64,
    pub policy: LaunchPolicy,
    pub call_options: CallOptions,
    pub parameters: BTreeMap<String, String>,
    pub callback_data: Option<String>,
    pub notify: Option<NotifyTarget>,
    pub accepted_at: i64,
}

impl DestinationRow {
    /// The scheduler's view of the row.
    pub fn candidate(&self) -> Candidate {
        Candidate {
            message_id: self.message_id.clone(),
            launch_key: self.launch_key.clone(),
            state: self.state,
            attempts_made: self.attempts,
            next_attempt_at: timestamp(self.next_attempt_at),
            expires_at: timestamp(self.expires_at),
            policy: self.policy.clone(),
        }
    }
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptEnd {
    pub outcome: AttemptOutcome,
    pub sip_code: Option<u16>,
    pub answered_at: Option<i64>,
    pub ended_at: i64,
    pub summary: CallSummary,
}

/// Destinations by phase, for the `dialer queue depth` metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueDepth {
    pub waiting: u64,
    pub calling: u64,
}

const ROW_COLUMNS: &str = "message_id, bulk_id, launch_key, to_number, from_number, scenario_id, \
    state, attempts, next_attempt_at, expires_at, policy, call_options, parameters, \
    callback_data, notify_url, notify_content_type, accepted_at";

impl Storage {
    /// Leases up to `limit` due waiting destinations (`next_attempt_at <= now`, not leased
    /// to another node) to `node` until `now + lease`, oldest due first.
    pub async fn claim_due(
        &self,
        node: &str,
        now: i64,
        limit: u32,
        lease: Duration,
    ) -> Result<Vec<DestinationRow>, StorageError> {
        let sql = format!(
            "UPDATE destinations SET lease_owner = $1, lease_until = $2 WHERE message_id IN (\
               SELECT message_id FROM destinations \
               WHERE state IN ('scheduled', 'retry_wait') AND next_attempt_at <= $3 \
                 AND (lease_until IS NULL OR lease_until < $3 OR lease_owner = $1) \
               ORDER BY next_attempt_at, message_id LIMIT $4{}) \
             RETURNING {ROW_COLUMNS}",
            self.skip_locked()
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(node.to_string())
            .bind(now.saturating_add(millis(lease)))
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await
            .map_err(StorageError::query("claiming due destinations"))?;
        let mut claimed = rows
            .iter()
            .map(destination_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        claimed.sort_by(|a, b| {
            (a.next_attempt_at, &a.message_id).cmp(&(b.next_attempt_at, &b.message_id))
        });
        Ok(claimed)
    }

    /// Gives leases back (rows left undecided: capacity, sending speed).
    pub async fn release_leases(
        &self,
        node: &str,
        message_ids: &[String],
    ) -> Result<(), StorageError> {
        for message_id in message_ids {
            sqlx::query(
                "UPDATE destinations SET lease_owner = NULL, lease_until = NULL \
                 WHERE message_id = $1 AND lease_owner = $2 AND state IN ('scheduled', 'retry_wait')",
            )
            .bind(message_id.clone())
            .bind(node.to_string())
            .execute(self.pool())
            .await
            .map_err(StorageError::query("releasing a lease"))?;
        }
        Ok(())
    }

    /// Starts attempt `attempt` (1 for the first): only if the row still waits with
    /// `attempt - 1` attempts made and no other node holds it. `false`: someone else got it.
    /// The row is leased to `node` until `lease_until` (the call's longest possible end).
    pub async fn begin_attempt(
        &self,
        node: &str,
        message_id: &str,
        attempt: u32,
        now: i64,
        lease_until: i64,
    ) -> Result<bool, StorageError> {
        let mut transaction = self.begin("starting an attempt").await?;
        let changed = sqlx::query(
            "UPDATE destinations SET state = 'calling', attempts = $3, lease_owner = $2, \
               lease_until = $5, updated_at = $4 \
             WHERE message_id = $1 AND attempts = $6 AND state IN ('scheduled', 'retry_wait') \
               AND (lease_owner IS NULL OR lease_owner = $2 OR lease_until < $4)",
        )
        .bind(message_id.to_string())
        .bind(node.to_string())
        .bind(i64::from(attempt))
        .bind(now)
        .bind(lease_until)
        .bind(i64::from(attempt.saturating_sub(1)))
        .execute(&mut *transaction)
        .await
        .map_err(StorageError::query("claiming an attempt"))?;
        if changed.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO attempts (message_id, number, node, started_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(message_id.to_string())
        .bind(i64::from(attempt))
        .bind(node.to_string())
        .bind(now)
        .execute(&mut *transaction)
        .await
        .map_err(StorageError::query("recording an attempt"))?;
        transaction
            .commit()
            .await
            .map_err(StorageError::query("committing an attempt"))?;
        Ok(true)
    }

    /// Notes the SIP call id and the answer time of an attempt in progress.
    pub async fn attempt_answered(
        &self,
        message_id: &str,
        attempt: u32,
        call_id: &str,
        answered_at: i64,
    ) -> Result<(), StorageError> {
        sqlx::query(
            "UPDATE attempts SET answered_at = $3, call_id = $4 WHERE message_id = $1 AND number = $2",
        )
        .bind(message_id.to_string())
        .bind(i64::from(attempt))
        .bind(answered_at)
        .bind(call_id.to_string())
        .execute(self.pool())
        .await
        .map_err(StorageError::query("recording an answer"))?;
        Ok(())
    }

    /// Ends attempt `attempt`: records it, asks the scheduler what follows, and either
    /// schedules the retry or makes the destination final with its report. `None` if the
    /// row was not calling that attempt (already ended: nothing changes).
    pub async fn finish_attempt(
        &self,
        message_id: &str,
        attempt: u32,
        end: &AttemptEnd,
    ) -> Result<Option<AfterAttempt>, StorageError> {
        let mut transaction = self.begin("ending an attempt").await?;
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {ROW_COLUMNS} FROM destinations WHERE message_id = $1 AND state = 'calling' AND attempts = $2"
        )))
        .bind(message_id.to_string())
        .bind(i64::from(attempt))
        .fetch_optional(&mut *transaction)
        .await
        .map_err(StorageError::query("reading a calling destination"))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let destination = destination_from_row(&row)?;
        sqlx::query(
            "UPDATE attempts SET ended_at = $3, outcome = $4, sip_code = $5, \
               answered_at = COALESCE(answered_at, $6), call_id = COALESCE(call_id, $7) \
             WHERE message_id = $1 AND number = $2",
        )
        .bind(message_id.to_string())
        .bind(i64::from(attempt))
        .bind(end.ended_at)
        .bind(end.outcome.as_str())
        .bind(end.sip_code.map(i64::from))
        .bind(end.answered_at)
        .bind(end.summary.call_id.clone())
        .execute(&mut *transaction)
        .await
        .map_err(StorageError::query("ending an attempt"))?;
        let next = Scheduler::after_attempt(
            &destination.policy,
            attempt,
            timestamp(destination.expires_at),
            end.outcome,
            timestamp(end.ended_at),
        );
        match next {
            AfterAttempt::RetryAt(at) => {
                sqlx::query(
                    "UPDATE destinations SET state = 'retry_wait', next_attempt_at = $2, \
                       lease_owner = NULL, lease_until = NULL, updated_at = $3 WHERE message_id = $1",
                )
                .bind(message_id.to_string())
                .bind(at.as_millisecond())
                .bind(end.ended_at)
                .execute(&mut *transaction)
                .await
                .map_err(StorageError::query("scheduling a retry"))?;
            }
            AfterAttempt::Final(status) => {
                finalize(
                    &mut transaction,
                    &destination,
                    status,
                    Some(end),
                    end.ended_at,
                )
                .await?;
            }
        }
        transaction
            .commit()
            .await
            .map_err(StorageError::query("committing an attempt's end"))?;
        Ok(Some(next))
    }

    /// Puts a waiting destination off until `until` (its delivery window is closed).
    pub async fn defer(&self, message_id: &str, until: i64, now: i64) -> Result<(), StorageError> {
        sqlx::query(
            "UPDATE destinations SET next_attempt_at = $2, lease_owner = NULL, lease_until = NULL, \
               updated_at = $3 WHERE message_id = $1 AND state IN ('scheduled', 'retry_wait')",
        )
        .bind(message_id.to_string())
        .bind(until)
        .bind(now)
        .execute(self.pool())
        .await
        .map_err(StorageError::query("deferring a destination"))?;
        Ok(())
    }

    /// Makes a waiting destination EXPIRED, with its report. `false` if it was not waiting.
    pub async fn expire(&self, message_id: &str, now: i64) -> Result<bool, StorageError> {
        let mut transaction = self.begin("expiring a destination").await?;
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {ROW_COLUMNS} FROM destinations WHERE message_id = $1 AND state IN ('scheduled', 'retry_wait')"
        )))
        .bind(message_id.to_string())
        .fetch_optional(&mut *transaction)
        .await
        .map_err(StorageError::query("reading a waiting destination"))?;
        let Some(row) = row else {
            return Ok(false);
        };
        let destination = destination_from_row(&row)?;
        finalize(
            &mut transaction,
            &destination,
            FinalStatus::Expired,
            None,
            now,
        )
        .await?;
        transaction
            .commit()
            .await
            .map_err(StorageError::query("committing an expiry"))?;
        Ok(true)
    }

    /// Ends, as [`AttemptOutcome::Interrupted`], the attempts `node` had in progress (it
    /// restarted) and those of other nodes whose lease ran out (they stopped). Each then
    /// retries or becomes final by the usual rules. Returns the message ids recovered.
    pub async fn recover_interrupted(
        &self,
        node: &str,
        now: i64,
    ) -> Result<Vec<String>, StorageError> {
        let rows = sqlx::query(
            "SELECT message_id, attempts FROM destinations WHERE state = 'calling' \
               AND (lease_owner = $1 OR lease_until IS NULL OR lease_until < $2)",
        )
        .bind(node.to_string())
        .bind(now)
        .fetch_all(self.pool())
        .await
        .map_err(StorageError::query("finding interrupted calls"))?;
        let mut recovered = Vec::new();
        for row in rows {
            let message_id: String = column(&row, "message_id")?;
            let attempts: i64 = column(&row, "attempts")?;
            let end = AttemptEnd {
                outcome: AttemptOutcome::Interrupted,
                sip_code: None,
                answered_at: None,
                ended_at: now,
                summary: CallSummary::default(),
            };
            let attempt = u32::try_from(attempts).unwrap_or(0);
            if self
                .finish_attempt(&message_id, attempt, &end)
                .await?
                .is_some()
            {
                recovered.push(message_id);
            }
        }
        Ok(recovered)
    }

    /// How many destinations wait and how many are being called.
    pub async fn queue_depth(&self) -> Result<QueueDepth, StorageError> {
        let rows = sqlx::query(
            "SELECT state, COUNT(*) AS count FROM destinations \
             WHERE state IN ('scheduled', 'retry_wait', 'calling') GROUP BY state",
        )
        .fetch_all(self.pool())
        .await
        .map_err(StorageError::query("measuring the queue"))?;
        let mut depth = QueueDepth::default();
        for row in rows {
            let state: String = column(&row, "state")?;
            let count = u64::try_from(column::<i64>(&row, "count")?).unwrap_or(0);
            if state == "calling" {
                depth.calling += count;
            } else {
                depth.waiting += count;
            }
        }
        Ok(depth)
    }

    /// One destination, by message id.
    #[allow(dead_code, reason = "read by the queue and report tests")]
    pub async fn destination(&self, message_id: &str) -> Result<DestinationRow, StorageError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {ROW_COLUMNS} FROM destinations WHERE message_id = $1"
        )))
        .bind(message_id.to_string())
        .fetch_optional(self.pool())
        .await
        .map_err(StorageError::query("reading a destination"))?;
        match row {
            Some(row) => destination_from_row(&row),
            None => Err(StorageError::NotFound {
                what: format!("message {message_id}"),
            }),
        }
    }
}

/// Makes `destination` final: state, report, and the webhook if it has a `notifyUrl`.
async fn finalize(
    transaction: &mut sqlx::Transaction<'_, sqlx::Any>,
    destination: &DestinationRow,
    status: FinalStatus,
    end: Option<&AttemptEnd>,
    now: i64,
) -> Result<(), StorageError> {
    let times = sqlx::query(
        "SELECT MIN(started_at) AS first_started, MAX(started_at) AS last_started \
         FROM attempts WHERE message_id = $1",
    )
    .bind(destination.message_id.clone())
    .fetch_one(&mut **transaction)
    .await
    .map_err(StorageError::query("reading attempt times"))?;
    let first_started: Option<i64> = column(&times, "first_started")?;
    let last_started: Option<i64> = column(&times, "last_started")?;
    let default_summary = CallSummary::default();
    let report = report::build(&ReportFacts {
        bulk_id: &destination.bulk_id,
        message_id: &destination.message_id,
        from: destination.from.as_deref(),
        to: &destination.to,
        scenario_id: destination.scenario_id.as_deref(),
        callback_data: destination.callback_data.as_deref(),
        status,
        rejection: None,
        attempts: destination.attempts,
        last_outcome: end.map(|end| end.outcome),
        sip_code: end.and_then(|end| end.sip_code),
        first_started_at: first_started,
        started_at: end.and(last_started),
        answered_at: end.and_then(|end| end.answered_at),
        ended_at: end.map(|end| end.ended_at),
        done_at: now,
        summary: end.map_or(&default_summary, |end| &end.summary),
    });
    let reason = end.map_or("validity expired", |end| end.outcome.as_str());
    sqlx::query(
        "UPDATE destinations SET state = $2, final_reason = $3, done_at = $4, updated_at = $4, \
           lease_owner = NULL, lease_until = NULL WHERE message_id = $1",
    )
    .bind(destination.message_id.clone())
    .bind(DestinationState::Final(status).as_str())
    .bind(reason)
    .bind(now)
    .execute(&mut **transaction)
    .await
    .map_err(StorageError::query("finalising a destination"))?;
    insert_report(
        transaction,
        &destination.bulk_id,
        &destination.message_id,
        &report,
        destination.notify.as_ref(),
        now,
    )
    .await
}

/// Stores a final report and, with a notify target, its outbox row.
pub(super) async fn insert_report(
    transaction: &mut sqlx::Transaction<'_, sqlx::Any>,
    bulk_id: &str,
    message_id: &str,
    report: &Value,
    notify: Option<&NotifyTarget>,
    now: i64,
) -> Result<(), StorageError> {
    sqlx::query(
        "INSERT INTO reports (message_id, bulk_id, body, pulled, created_at) VALUES ($1, $2, $3, 0, $4)",
    )
    .bind(message_id.to_string())
    .bind(bulk_id.to_string())
    .bind(report.to_string())
    .bind(now)
    .execute(&mut **transaction)
    .await
    .map_err(StorageError::query("storing a report"))?;
    if let Some(notify) = notify {
        let xml = notify.content_type.eq_ignore_ascii_case("application/xml");
        sqlx::query(
            "INSERT INTO outbox (report_id, notify_url, content_type, body, next_try_at, tries, created_at) \
             VALUES ($1, $2, $3, $4, $5, 0, $5)",
        )
        .bind(message_id.to_string())
        .bind(notify.url.clone())
        .bind(notify.content_type.clone())
        .bind(report::webhook_body(report, xml))
        .bind(now)
        .execute(&mut **transaction)
        .await
        .map_err(StorageError::query("queueing a webhook"))?;
    }
    Ok(())
}

fn destination_from_row(row: &AnyRow) -> Result<DestinationRow, StorageError> {
    let state_name: String = column(row, "state")?;
    let state = DestinationState::parse(&state_name)
        .ok_or_else(|| StorageError::corrupt("destination state", &state_name))?;
    let notify_url: Option<String> = column(row, "notify_url")?;
    let notify_content_type: Option<String> = column(row, "notify_content_type")?;
    Ok(DestinationRow {
        message_id: column(row, "message_id")?,
        bulk_id: column(row, "bulk_id")?,
        launch_key: column(row, "launch_key")?,
        to: column(row, "to_number")?,
        from: column(row, "from_number")?,
        scenario_id: column(row, "scenario_id")?,
        state,
        attempts: u32::try_from(column::<i64>(row, "attempts")?).unwrap_or(0),
        next_attempt_at: column(row, "next_attempt_at")?,
        expires_at: column(row, "expires_at")?,
        policy: json_column(row, "policy")?,
        call_options: json_column(row, "call_options")?,
        parameters: json_column(row, "parameters")?,
        callback_data: column(row, "callback_data")?,
        notify: notify_url.map(|url| NotifyTarget {
            url,
            content_type: notify_content_type.unwrap_or_else(|| "application/json".into()),
        }),
        accepted_at: column(row, "accepted_at")?,
    })
}

fn timestamp(millis: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_millisecond(millis).unwrap_or(jiff::Timestamp::MAX)
}

pub(crate) fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
