//! Accepting a launch: the request, and one row per destination, in one transaction.
//!
//! Accepted destinations start `scheduled`; rejected ones (a bad `to`, a `messageId` already
//! used) are stored final with their REJECTED report (and webhook), so every destination of
//! an accepted launch ends with exactly one report.

use std::collections::{BTreeMap, HashSet};

use ivory_engine::dialer::{DestinationState, FinalStatus, LaunchPolicy};
use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, Row};

use super::report::{self, CallSummary, Rejection, ReportFacts};
use super::{Storage, StorageError, placeholders};

/// Where and how reports are pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyTarget {
    pub url: String,
    /// `application/json` or `application/xml`.
    pub content_type: String,
}

/// What the call itself needs (the dialer's worker reads it back).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallOptions {
    pub ring_timeout_seconds: u32,
    pub call_timeout_seconds: Option<u32>,
    pub pause_seconds: u32,
    pub record: bool,
}

/// One destination of a launch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDestination {
    pub message_id: String,
    pub to: String,
    /// Set when the destination is refused at launch.
    pub rejected: Option<RejectedDestination>,
}

/// Why a destination is refused at launch.
pub type RejectedDestination = Rejection;

/// One `messages[]` entry: its destinations share these.
#[derive(Debug, Clone)]
pub struct NewLaunchGroup {
    /// `bulkId#index`: the sending speed applies per group.
    pub launch_key: String,
    pub scenario_id: String,
    pub from: Option<String>,
    pub policy: LaunchPolicy,
    pub call_options: CallOptions,
    pub parameters: BTreeMap<String, String>,
    pub callback_data: Option<String>,
    pub notify: Option<NotifyTarget>,
    pub first_attempt_at: i64,
    pub expires_at: i64,
    pub destinations: Vec<NewDestination>,
}

/// An accepted launch.
#[derive(Debug, Clone)]
pub struct NewLaunch {
    pub bulk_id: String,
    /// The request as received (JSON).
    pub request: String,
    pub accepted_at: i64,
    pub groups: Vec<NewLaunchGroup>,
}

/// Rows per INSERT: 500 × 19 values stays under SQLite's 32,766 variables.
const BATCH: usize = 500;
const DESTINATION_COLUMNS: usize = 19;

impl Storage {
    /// Stores a launch. `Conflict` if the bulk id is taken. Destinations whose message id is
    /// already stored become REJECTED (duplicate) ones, as do those the caller marked so:
    /// they get no row (the id is another destination's), only the launch's answer names
    /// them. Returns the ids found already stored.
    pub async fn insert_launch(
        &self,
        launch: &mut NewLaunch,
    ) -> Result<HashSet<String>, StorageError> {
        let mut transaction = self.begin("starting a launch").await?;
        let inserted = sqlx::query(
            "INSERT INTO launches (bulk_id, request, accepted_at) VALUES ($1, $2, $3) \
             ON CONFLICT (bulk_id) DO NOTHING",
        )
        .bind(launch.bulk_id.clone())
        .bind(launch.request.clone())
        .bind(launch.accepted_at)
        .execute(&mut *transaction)
        .await
        .map_err(StorageError::query("inserting a launch"))?;
        if inserted.rows_affected() == 0 {
            return Err(StorageError::Conflict {
                what: format!("bulkId {}", launch.bulk_id),
            });
        }
        // Message ids already stored (by an earlier launch) are rejected, not overwritten.
        let ids: Vec<String> = launch
            .groups
            .iter()
            .flat_map(|group| group.destinations.iter())
            .filter(|destination| destination.rejected != Some(Rejection::DuplicateMessageId))
            .map(|destination| destination.message_id.clone())
            .collect();
        let mut taken = HashSet::new();
        for chunk in ids.chunks(BATCH) {
            let sql = format!(
                "SELECT message_id FROM destinations WHERE message_id IN ({})",
                placeholders(1, chunk.len())
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for id in chunk {
                query = query.bind(id.clone());
            }
            for row in query
                .fetch_all(&mut *transaction)
                .await
                .map_err(StorageError::query("checking message ids"))?
            {
                taken.insert(
                    row.try_get::<String, _>("message_id")
                        .map_err(|error| StorageError::corrupt("message id", error))?,
                );
            }
        }
        for group in &mut launch.groups {
            for destination in &mut group.destinations {
                if taken.contains(&destination.message_id) {
                    destination.rejected = Some(Rejection::DuplicateMessageId);
                }
            }
        }
        for group in &launch.groups {
            let accepted: Vec<&NewDestination> = group
                .destinations
                .iter()
                .filter(|destination| destination.rejected.is_none())
                .collect();
            for chunk in accepted.chunks(BATCH) {
                insert_destinations(&mut transaction, launch, group, chunk).await?;
            }
            for destination in group
                .destinations
                .iter()
                .filter(|destination| destination.rejected.is_some())
            {
                if destination.rejected == Some(Rejection::DuplicateMessageId) {
                    // Its id belongs to another destination: only the answer reports it.
                    continue;
                }
                insert_rejected(&mut transaction, launch, group, destination).await?;
            }
        }
        transaction
            .commit()
            .await
            .map_err(StorageError::query("committing a launch"))?;
        Ok(taken)
    }
}

async fn insert_destinations(
    transaction: &mut sqlx::Transaction<'_, sqlx::Any>,
    launch: &NewLaunch,
    group: &NewLaunchGroup,
    destinations: &[&NewDestination],
) -> Result<(), StorageError> {
    if destinations.is_empty() {
        return Ok(());
    }
    let rows: Vec<String> = (0..destinations.len())
        .map(|index| {
            format!(
                "({})",
                placeholders(index * DESTINATION_COLUMNS + 1, DESTINATION_COLUMNS)
            )
        })
        .collect();
    let sql = format!(
        "INSERT INTO destinations (message_id, bulk_id, launch_key, to_number, from_number, \
         scenario_id, state, attempts, next_attempt_at, expires_at, policy, call_options, \
         parameters, callback_data, notify_url, notify_content_type, accepted_at, updated_at, \
         final_reason) VALUES {}",
        rows.join(", ")
    );
    let policy = serde_json::to_string(&group.policy)
        .map_err(|error| StorageError::corrupt("launch policy", error))?;
    let call_options = serde_json::to_string(&group.call_options)
        .map_err(|error| StorageError::corrupt("call options", error))?;
    let parameters = serde_json::to_string(&group.parameters)
        .map_err(|error| StorageError::corrupt("parameters", error))?;
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for destination in destinations {
        query = query
            .bind(destination.message_id.clone())
            .bind(launch.bulk_id.clone())
            .bind(group.launch_key.clone())
            .bind(destination.to.clone())
            .bind(group.from.clone())
            .bind(Some(group.scenario_id.clone()))
            .bind(DestinationState::Scheduled.as_str())
            .bind(0_i64)
            .bind(group.first_attempt_at)
            .bind(group.expires_at)
            .bind(policy.clone())
            .bind(call_options.clone())
            .bind(parameters.clone())
            .bind(group.callback_data.clone())
            .bind(group.notify.as_ref().map(|notify| notify.url.clone()))
            .bind(
                group
                    .notify
                    .as_ref()
                    .map(|notify| notify.content_type.clone()),
            )
            .bind(launch.accepted_at)
            .bind(launch.accepted_at)
            .bind(None::<String>);
    }
    query
        .execute(&mut **transaction)
        .await
        .map_err(StorageError::query("inserting destinations"))?;
    Ok(())
}

async fn insert_rejected(
    transaction: &mut sqlx::Transaction<'_, sqlx::Any>,
    launch: &NewLaunch,
    group: &NewLaunchGroup,
    destination: &NewDestination,
) -> Result<(), StorageError> {
    let summary = CallSummary::default();
    let report = report::build(&ReportFacts {
        bulk_id: &launch.bulk_id,
        message_id: &destination.message_id,
        from: group.from.as_deref(),
        to: &destination.to,
        scenario_id: Some(&group.scenario_id),
        callback_data: group.callback_data.as_deref(),
        status: FinalStatus::Rejected,
        rejection: destination.rejected,
        attempts: 0,
        last_outcome: None,
        sip_code: None,
        first_started_at: None,
        started_at: None,
        answered_at: None,
        ended_at: None,
        done_at: launch.accepted_at,
        summary: &summary,
    });
    sqlx::query(
        "INSERT INTO destinations (message_id, bulk_id, launch_key, to_number, from_number, \
         scenario_id, state, attempts, next_attempt_at, expires_at, policy, call_options, \
         parameters, callback_data, notify_url, notify_content_type, accepted_at, updated_at, \
         done_at, final_reason) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $8, '{}', $13, '{}', $9, $10, $11, $8, $8, $8, $12)",
    )
    .bind(destination.message_id.clone())
    .bind(launch.bulk_id.clone())
    .bind(group.launch_key.clone())
    .bind(destination.to.clone())
    .bind(group.from.clone())
    .bind(group.scenario_id.clone())
    .bind(DestinationState::Final(FinalStatus::Rejected).as_str())
    .bind(launch.accepted_at)
    .bind(group.callback_data.clone())
    .bind(group.notify.as_ref().map(|notify| notify.url.clone()))
    .bind(group.notify.as_ref().map(|notify| notify.content_type.clone()))
    .bind("rejected at launch")
    .bind(
        serde_json::to_string(&group.call_options)
            .map_err(|error| StorageError::corrupt("call options", error))?,
    )
    .execute(&mut **transaction)
    .await
    .map_err(StorageError::query("inserting a rejected destination"))?;
    super::queue::insert_report(
        transaction,
        &launch.bulk_id,
        &destination.message_id,
        &report,
        group.notify.as_ref(),
        launch.accepted_at,
    )
    .await
}
