//! The webhook pusher: sends the outbox's delivery reports to their `notifyUrl` until the
//! receiver answers 2xx.
//!
//! Each pass ([`WebhookPusher::push_due`]) claims the rows due now (leased, so two pushers
//! never send one row at once), POSTs them concurrently, and marks each delivered or due
//! again after a back-off: 1, 2, 4, 8, 16, 32 s, then every 60 s, for up to 48 h, when the
//! row is given up (logged, counted). The rows are in the database, so undelivered reports
//! survive restarts. [`WebhookPusher::run`] repeats passes until shut down, sleeping until
//! the next row is due (at most a second, so new reports go out promptly).

use std::sync::Arc;
use std::time::Duration;

use ivory_engine::http_client::{HttpClient, OutgoingRequest};
use tokio::task::JoinSet;

use super::Clock;
use super::metrics::Metrics;
use crate::storage::{OutboxItem, Storage, StorageError};

/// How the pusher behaves.
#[derive(Debug, Clone)]
pub struct PushOptions {
    /// Rows per pass.
    pub batch: u32,
    /// How long a claimed row is ours (longer than a request can take).
    pub lease: Duration,
    pub request_timeout: Duration,
    /// Give a row up this long after its report was made.
    pub give_up_after: Duration,
    /// The longest sleep between passes.
    pub poll_interval: Duration,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions {
            batch: 100,
            lease: Duration::from_secs(60),
            request_timeout: Duration::from_secs(10),
            give_up_after: Duration::from_secs(48 * 3_600),
            poll_interval: Duration::from_secs(1),
        }
    }
}

/// The wait after the `tries`-th failed try (1 for the first).
pub fn retry_delay(tries: u32) -> Duration {
    Duration::from_secs(1_u64 << tries.saturating_sub(1).min(6)).min(Duration::from_secs(60))
}

/// Sends delivery reports.
#[derive(Clone)]
pub struct WebhookPusher {
    storage: Storage,
    client: HttpClient,
    metrics: Arc<Metrics>,
    clock: Clock,
    options: PushOptions,
}

impl std::fmt::Debug for WebhookPusher {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("WebhookPusher")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl WebhookPusher {
    pub fn new(
        storage: Storage,
        client: HttpClient,
        metrics: Arc<Metrics>,
        clock: Clock,
        options: PushOptions,
    ) -> WebhookPusher {
        WebhookPusher {
            storage,
            client,
            metrics,
            clock,
            options,
        }
    }

    /// One pass: sends every row due now. Returns how many were delivered.
    pub async fn push_due(&self) -> Result<usize, StorageError> {
        let now = (self.clock)();
        let items = self
            .storage
            .claim_outbox(now, self.options.batch, self.options.lease)
            .await?;
        let mut sends = JoinSet::new();
        for item in items {
            let client = self.client.clone();
            let timeout = self.options.request_timeout;
            sends.spawn(async move {
                let result = send(&client, &item, timeout).await;
                (item, result)
            });
        }
        let mut delivered = 0;
        while let Some(joined) = sends.join_next().await {
            let Ok((item, result)) = joined else {
                // A send task that panicked leaves its row leased; it is due again when the
                // lease runs out.
                continue;
            };
            let now = (self.clock)();
            match result {
                Ok(()) => {
                    self.storage.outbox_delivered(&item.report_id, now).await?;
                    self.metrics.webhook("delivered");
                    delivered += 1;
                }
                Err(reason) => self.failed(&item, now, &reason).await?,
            }
        }
        Ok(delivered)
    }

    async fn failed(&self, item: &OutboxItem, now: i64, reason: &str) -> Result<(), StorageError> {
        let tries = item.tries.saturating_add(1);
        let give_up_at = item.created_at.saturating_add(
            i64::try_from(self.options.give_up_after.as_millis()).unwrap_or(i64::MAX),
        );
        let next =
            now.saturating_add(i64::try_from(retry_delay(tries).as_millis()).unwrap_or(i64::MAX));
        if next > give_up_at {
            tracing::warn!(report = %item.report_id, tries, reason, "webhook given up");
            self.metrics.webhook("abandoned");
            self.storage
                .outbox_failed(&item.report_id, now, None, reason)
                .await
        } else {
            tracing::debug!(report = %item.report_id, tries, reason, "webhook failed; will retry");
            self.metrics.webhook("failed");
            self.storage
                .outbox_failed(&item.report_id, now, Some(next), reason)
                .await
        }
    }

    /// Pushes until `shutdown` completes.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            if let Err(error) = self.push_due().await {
                tracing::error!(%error, "webhook pass failed");
            }
            let sleep = match self.storage.outbox_next_due().await {
                Ok(Some(next)) => {
                    let wait = next.saturating_sub((self.clock)()).max(0);
                    Duration::from_millis(u64::try_from(wait).unwrap_or(0))
                        .min(self.options.poll_interval)
                }
                _ => self.options.poll_interval,
            };
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tokio::time::sleep(sleep.max(Duration::from_millis(20))) => {}
            }
        }
    }
}

async fn send(client: &HttpClient, item: &OutboxItem, timeout: Duration) -> Result<(), String> {
    let response = client
        .send(OutgoingRequest {
            method: "POST".into(),
            url: item.notify_url.clone(),
            headers: vec![("Content-Type".into(), item.content_type.clone())],
            body: Some(item.body.clone()),
            timeout,
        })
        .await?;
    if (200..300).contains(&response.status) {
        Ok(())
    } else {
        Err(format!("HTTP {}", response.status))
    }
}

#[cfg(test)]
mod tests {
    use super::retry_delay;
    use std::time::Duration;

    #[test]
    fn the_back_off_doubles_up_to_a_minute() {
        let delays: Vec<u64> = (1..=9).map(|tries| retry_delay(tries).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(retry_delay(0), Duration::from_secs(1));
    }
}
