//! The webhook outbox: reports owed to a `notifyUrl`, kept until the receiver answers 2xx.
//!
//! A pusher claims due rows with a lease (so two pushers, or two nodes, never send one row
//! at once), sends, and marks each delivered or schedules its next try. Rows survive
//! restarts; a lease that runs out (the pusher died mid-send) makes the row due again, so a
//! receiver may see a report twice but never miss one.

use std::time::Duration;

use sqlx::AssertSqlSafe;

use super::queue::millis;
use super::{Storage, StorageError, column};

/// One webhook to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    pub report_id: String,
    pub notify_url: String,
    pub content_type: String,
    pub body: String,
    /// Tries already made.
    pub tries: u32,
    pub created_at: i64,
}

impl Storage {
    /// Leases up to `limit` undelivered webhooks due at `now` until `now + lease`.
    pub async fn claim_outbox(
        &self,
        now: i64,
        limit: u32,
        lease: Duration,
    ) -> Result<Vec<OutboxItem>, StorageError> {
        let sql = format!(
            "UPDATE outbox SET lease_until = $1 WHERE report_id IN (\
               SELECT report_id FROM outbox \
               WHERE delivered_at IS NULL AND abandoned_at IS NULL AND next_try_at <= $2 \
                 AND (lease_until IS NULL OR lease_until < $2) \
               ORDER BY next_try_at, report_id LIMIT $3{}) \
             RETURNING report_id, notify_url, content_type, body, tries, created_at, next_try_at",
            self.skip_locked()
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(now.saturating_add(millis(lease)))
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await
            .map_err(StorageError::query("claiming webhooks"))?;
        let mut items = Vec::with_capacity(rows.len());
        let mut order = Vec::with_capacity(rows.len());
        for row in &rows {
            order.push(column::<i64>(row, "next_try_at")?);
            items.push(OutboxItem {
                report_id: column(row, "report_id")?,
                notify_url: column(row, "notify_url")?,
                content_type: column(row, "content_type")?,
                body: column(row, "body")?,
                tries: u32::try_from(column::<i64>(row, "tries")?).unwrap_or(u32::MAX),
                created_at: column(row, "created_at")?,
            });
        }
        let mut paired: Vec<(i64, OutboxItem)> = order.into_iter().zip(items).collect();
        paired.sort_by(|a, b| (a.0, &a.1.report_id).cmp(&(b.0, &b.1.report_id)));
        Ok(paired.into_iter().map(|(_, item)| item).collect())
    }

    /// The receiver answered 2xx.
    pub async fn outbox_delivered(&self, report_id: &str, now: i64) -> Result<(), StorageError> {
        sqlx::query(
            "UPDATE outbox SET delivered_at = $2, tries = tries + 1, lease_until = NULL, \
               last_error = NULL WHERE report_id = $1",
        )
        .bind(report_id.to_string())
        .bind(now)
        .execute(self.pool())
        .await
        .map_err(StorageError::query("marking a webhook delivered"))?;
        Ok(())
    }

    /// A try failed: try again at `next_try_at`, or, with `None`, give up.
    pub async fn outbox_failed(
        &self,
        report_id: &str,
        now: i64,
        next_try_at: Option<i64>,
        error: &str,
    ) -> Result<(), StorageError> {
        let query = match next_try_at {
            Some(next) => sqlx::query(
                "UPDATE outbox SET tries = tries + 1, next_try_at = $2, lease_until = NULL, \
                   last_error = $3 WHERE report_id = $1",
            )
            .bind(report_id.to_string())
            .bind(next)
            .bind(error.to_string()),
            None => sqlx::query(
                "UPDATE outbox SET tries = tries + 1, abandoned_at = $2, lease_until = NULL, \
                   last_error = $3 WHERE report_id = $1",
            )
            .bind(report_id.to_string())
            .bind(now)
            .bind(error.to_string()),
        };
        query
            .execute(self.pool())
            .await
            .map_err(StorageError::query("rescheduling a webhook"))?;
        Ok(())
    }

    /// Webhooks not yet delivered nor given up.
    #[allow(dead_code, reason = "checked by the webhook and campaign tests")]
    pub async fn outbox_pending(&self) -> Result<u64, StorageError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS pending FROM outbox WHERE delivered_at IS NULL AND abandoned_at IS NULL",
        )
        .fetch_one(self.pool())
        .await
        .map_err(StorageError::query("counting webhooks"))?;
        Ok(u64::try_from(column::<i64>(&row, "pending")?).unwrap_or(0))
    }

    /// The earliest `next_try_at` of an undelivered webhook (the pusher's next wake-up).
    pub async fn outbox_next_due(&self) -> Result<Option<i64>, StorageError> {
        let row = sqlx::query(
            "SELECT MIN(next_try_at) AS next FROM outbox WHERE delivered_at IS NULL AND abandoned_at IS NULL",
        )
        .fetch_one(self.pool())
        .await
        .map_err(StorageError::query("finding the next webhook"))?;
        column(&row, "next")
    }
}
