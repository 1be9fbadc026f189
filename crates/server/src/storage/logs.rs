//! What the API reads back: delivery reports (each pulled once), message logs, call logs
//! and the recordings' index.

use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::{Storage, StorageError, column};

/// Filters of `GET /voice/ivr/1/logs` and `/reports`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogFilter {
    pub bulk_id: Option<String>,
    pub message_id: Option<String>,
    pub to: Option<String>,
    /// A stored state (`scheduled`, `delivered`, ...), or `pending` for any waiting or calling one.
    pub state: Option<String>,
    pub limit: u32,
}

/// One destination for the message logs, with its report once final.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRow {
    pub message_id: String,
    pub bulk_id: String,
    pub to: String,
    pub from: Option<String>,
    pub scenario_id: Option<String>,
    pub state: String,
    pub attempts: u32,
    pub next_attempt_at: i64,
    pub accepted_at: i64,
    pub done_at: Option<i64>,
    pub callback_data: Option<String>,
    pub report: Option<Value>,
}

/// One call of the call log (inbound or outbound), as the engine wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct CallLogEntry {
    pub call_id: String,
    /// `inbound` or `outbound`.
    pub direction: String,
    pub message_id: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub started_at: i64,
    pub record: Value,
}

/// One recording in the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingRow {
    /// The file name inside the recordings directory.
    pub file: String,
    pub identifier: String,
    pub call_id: String,
    pub message_id: Option<String>,
    pub kind: String,
    pub duration_ms: i64,
    pub created_at: i64,
}

impl Storage {
    /// Up to `filter.limit` reports not pulled before, oldest first; they will not be
    /// returned again.
    pub async fn pull_reports(&self, filter: &LogFilter) -> Result<Vec<Value>, StorageError> {
        let sql = format!(
            "UPDATE reports SET pulled = 1 WHERE message_id IN (\
               SELECT message_id FROM reports WHERE pulled = 0 \
                 AND ($1 IS NULL OR bulk_id = $1) AND ($2 IS NULL OR message_id = $2) \
               ORDER BY created_at, message_id LIMIT $3{}) \
             RETURNING body, created_at, message_id",
            self.skip_locked()
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(filter.bulk_id.clone())
            .bind(filter.message_id.clone())
            .bind(i64::from(filter.limit))
            .fetch_all(self.pool())
            .await
            .map_err(StorageError::query("pulling reports"))?;
        let mut reports = Vec::with_capacity(rows.len());
        for row in &rows {
            let created_at: i64 = column(row, "created_at")?;
            let message_id: String = column(row, "message_id")?;
            let body: String = column(row, "body")?;
            let report: Value = serde_json::from_str(&body)
                .map_err(|error| StorageError::corrupt("report", error))?;
            reports.push((created_at, message_id, report));
        }
        reports.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        Ok(reports.into_iter().map(|(_, _, report)| report).collect())
    }

    /// Destinations, newest launch first, with their reports.
    pub async fn list_logs(&self, filter: &LogFilter) -> Result<Vec<LogRow>, StorageError> {
        let rows = sqlx::query(
            "SELECT d.message_id, d.bulk_id, d.to_number, d.from_number, d.scenario_id, d.state, \
               d.attempts, d.next_attempt_at, d.accepted_at, d.done_at, d.callback_data, r.body \
             FROM destinations d LEFT JOIN reports r ON r.message_id = d.message_id \
             WHERE ($1 IS NULL OR d.bulk_id = $1) AND ($2 IS NULL OR d.message_id = $2) \
               AND ($3 IS NULL OR d.to_number = $3) AND ($4 IS NULL OR d.state = $4 \
               OR ($4 = 'pending' AND d.state IN ('scheduled', 'retry_wait', 'calling'))) \
             ORDER BY d.accepted_at DESC, d.message_id LIMIT $5",
        )
        .bind(filter.bulk_id.clone())
        .bind(filter.message_id.clone())
        .bind(filter.to.clone())
        .bind(filter.state.clone())
        .bind(i64::from(filter.limit))
        .fetch_all(self.pool())
        .await
        .map_err(StorageError::query("listing message logs"))?;
        rows.iter().map(log_from_row).collect()
    }

    /// Adds a call to the call log (a call id seen before is ignored).
    pub async fn insert_call_log(&self, entry: &CallLogEntry) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO call_logs (call_id, direction, message_id, from_number, to_number, \
               started_at, record) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (call_id) DO NOTHING",
        )
        .bind(entry.call_id.clone())
        .bind(entry.direction.clone())
        .bind(entry.message_id.clone())
        .bind(entry.from.clone())
        .bind(entry.to.clone())
        .bind(entry.started_at)
        .bind(entry.record.to_string())
        .execute(self.pool())
        .await
        .map_err(StorageError::query("storing a call log"))?;
        Ok(())
    }

    /// Calls, newest first.
    pub async fn list_call_logs(
        &self,
        direction: Option<&str>,
        limit: u32,
    ) -> Result<Vec<CallLogEntry>, StorageError> {
        let rows = sqlx::query(
            "SELECT call_id, direction, message_id, from_number, to_number, started_at, record \
             FROM call_logs WHERE ($1 IS NULL OR direction = $1) \
             ORDER BY started_at DESC, call_id LIMIT $2",
        )
        .bind(direction.map(str::to_string))
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .map_err(StorageError::query("listing call logs"))?;
        rows.iter()
            .map(|row| {
                let record: String = column(row, "record")?;
                Ok(CallLogEntry {
                    call_id: column(row, "call_id")?,
                    direction: column(row, "direction")?,
                    message_id: column(row, "message_id")?,
                    from: column(row, "from_number")?,
                    to: column(row, "to_number")?,
                    started_at: column(row, "started_at")?,
                    record: serde_json::from_str(&record)
                        .map_err(|error| StorageError::corrupt("call log", error))?,
                })
            })
            .collect()
    }

    /// Adds (or replaces) a recording in the index.
    pub async fn index_recording(&self, recording: &RecordingRow) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO recordings (file, identifier, call_id, message_id, kind, duration_ms, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (file) DO UPDATE SET \
               identifier = excluded.identifier, duration_ms = excluded.duration_ms",
        )
        .bind(recording.file.clone())
        .bind(recording.identifier.clone())
        .bind(recording.call_id.clone())
        .bind(recording.message_id.clone())
        .bind(recording.kind.clone())
        .bind(recording.duration_ms)
        .bind(recording.created_at)
        .execute(self.pool())
        .await
        .map_err(StorageError::query("indexing a recording"))?;
        Ok(())
    }

    /// Recordings, newest first, optionally of one call or one message.
    pub async fn list_recordings(
        &self,
        call_id: Option<&str>,
        message_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<RecordingRow>, StorageError> {
        let rows = sqlx::query(
            "SELECT file, identifier, call_id, message_id, kind, duration_ms, created_at FROM recordings \
             WHERE ($1 IS NULL OR call_id = $1) AND ($2 IS NULL OR message_id = $2) \
             ORDER BY created_at DESC, file LIMIT $3",
        )
        .bind(call_id.map(str::to_string))
        .bind(message_id.map(str::to_string))
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .map_err(StorageError::query("listing recordings"))?;
        rows.iter().map(recording_from_row).collect()
    }

    /// The newest recording whose file name or identifier is `name`.
    pub async fn recording(&self, name: &str) -> Result<RecordingRow, StorageError> {
        let row = sqlx::query(
            "SELECT file, identifier, call_id, message_id, kind, duration_ms, created_at FROM recordings \
             WHERE file = $1 OR identifier = $1 ORDER BY created_at DESC LIMIT 1",
        )
        .bind(name.to_string())
        .fetch_optional(self.pool())
        .await
        .map_err(StorageError::query("finding a recording"))?;
        match row {
            Some(row) => recording_from_row(&row),
            None => Err(StorageError::NotFound {
                what: format!("recording {name}"),
            }),
        }
    }
}

fn log_from_row(row: &AnyRow) -> Result<LogRow, StorageError> {
    let body: Option<String> = row
        .try_get("body")
        .map_err(|error| StorageError::corrupt("column", format!("body: {error}")))?;
    Ok(LogRow {
        message_id: column(row, "message_id")?,
        bulk_id: column(row, "bulk_id")?,
        to: column(row, "to_number")?,
        from: column(row, "from_number")?,
        scenario_id: column(row, "scenario_id")?,
        state: column(row, "state")?,
        attempts: u32::try_from(column::<i64>(row, "attempts")?).unwrap_or(0),
        next_attempt_at: column(row, "next_attempt_at")?,
        accepted_at: column(row, "accepted_at")?,
        done_at: column(row, "done_at")?,
        callback_data: column(row, "callback_data")?,
        report: body
            .map(|body| serde_json::from_str(&body))
            .transpose()
            .map_err(|error| StorageError::corrupt("report", error))?,
    })
}

fn recording_from_row(row: &AnyRow) -> Result<RecordingRow, StorageError> {
    Ok(RecordingRow {
        file: column(row, "file")?,
        identifier: column(row, "identifier")?,
        call_id: column(row, "call_id")?,
        message_id: column(row, "message_id")?,
        kind: column(row, "kind")?,
        duration_ms: column(row, "duration_ms")?,
        created_at: column(row, "created_at")?,
    })
}
