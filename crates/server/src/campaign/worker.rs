//! [`CampaignWorker`]: the passes over the queue, the call slots and the run loop.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ivory_engine::dialer::{Decision, Scheduler, from_unix_millis};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use super::call::{self, CallTask};
use super::{CallPlacer, WorkerConfig};
use crate::api::{Clock, Metrics};
use crate::storage::{DestinationRow, QueueDepth, Storage, StorageError};

pub use super::call::CallEnded;

/// The owner name under which a sweep recovers only expired leases: no node has it (node
/// names are not empty and do not start with a control character).
const SWEEP_OWNER: &str = "\u{1}sweep";

/// The shortest wait between two passes (a plan's wake time may be "now").
const MINIMUM_WAIT: Duration = Duration::from_millis(5);

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pass {
    /// Calls started.
    pub calls_started: usize,
    pub deferred: usize,
    pub expired: usize,
    /// Attempts another node (or an earlier claim) had already started: not placed.
    pub skipped: usize,
    /// When the scheduler wants to be asked again (ms since the Unix epoch), if sooner than
    /// the next poll.
    pub wake_at: Option<i64>,
}

/// Runs a node's share of the outbound campaigns.
pub struct CampaignWorker {
    storage: Storage,
    placer: Arc<dyn CallPlacer>,
    clock: Clock,
    metrics: Arc<Metrics>,
    config: WorkerConfig,
    scheduler: Scheduler,
    slots: Arc<Semaphore>,
    calls: JoinSet<CallEnded>,
    /// Claimed rows not called yet (sending speed): their leases are given back on shutdown.
    held: Vec<String>,
    next_sweep_at: i64,
    depth: watch::Sender<QueueDepth>,
}

impl std::fmt::Debug for CampaignWorker {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("CampaignWorker")
            .field("config", &self.config)
            .field("calls_in_progress", &self.calls.len())
            .finish_non_exhaustive()
    }
}

impl CampaignWorker {
    /// A worker over `storage`, placing calls with `placer`, reading time from `clock`.
    pub fn new(
        storage: Storage,
        placer: Arc<dyn CallPlacer>,
        clock: Clock,
        metrics: Arc<Metrics>,
        config: WorkerConfig,
    ) -> CampaignWorker {
        let max = config.max_concurrent_calls.max(1);
        let now = clock();
        CampaignWorker {
            storage,
            placer,
            clock,
            metrics,
            scheduler: Scheduler::new(max),
            slots: Arc::new(Semaphore::new(max)),
            calls: JoinSet::new(),
            held: Vec::new(),
            next_sweep_at: now.saturating_add(super::millis(config.lease)),
            depth: watch::channel(QueueDepth::default()).0,
            config,
        }
    }

    /// Calls placed and not yet recorded as ended.
    pub fn calls_in_progress(&self) -> usize {
        self.calls.len()
    }

    /// The queue depth after each pass (also set on the `ivory_dialer_queue_depth` gauge).
    #[allow(
        dead_code,
        reason = "watched by the campaign tests; the binary reads the gauge"
    )]
    pub fn queue_depth(&self) -> watch::Receiver<QueueDepth> {
        self.depth.subscribe()
    }

    /// Ends the calls this node left in progress when it last stopped (and those of nodes
    /// whose lease ran out). Returns their message ids.
    pub async fn recover(&mut self) -> Result<Vec<String>, StorageError> {
        let recovered = self
            .storage
            .recover_interrupted(&self.config.node_id, (self.clock)())
            .await?;
        if !recovered.is_empty() {
            tracing::info!(
                node = self.config.node_id,
                calls = recovered.len(),
                "ended the calls interrupted by a stop"
            );
        }
        Ok(recovered)
    }

    /// One pass: collects ended calls, recovers stopped nodes' calls now and then, claims
    /// the due rows there are call slots for and acts on the scheduler's decisions.
    pub async fn pass(&mut self) -> Result<Pass, StorageError> {
        while let Some(joined) = self.calls.try_join_next() {
            self.ended(joined);
        }
        let now = (self.clock)();
        if now >= self.next_sweep_at {
            self.next_sweep_at = now.saturating_add(super::millis(self.config.lease));
            let recovered = self.storage.recover_interrupted(SWEEP_OWNER, now).await?;
            if !recovered.is_empty() {
                tracing::info!(
                    calls = recovered.len(),
                    "ended calls of nodes whose lease ran out"
                );
            }
        }
        let mut pass = Pass::default();
        let free = self.slots.available_permits();
        if free > 0 {
            let limit = u32::try_from(free).unwrap_or(u32::MAX);
            let rows = self
                .storage
                .claim_due(&self.config.node_id, now, limit, self.config.lease)
                .await?;
            self.decide(now, rows, &mut pass).await?;
        }
        self.publish_depth().await;
        Ok(pass)
    }

    /// Waits for the next call to end and be recorded; `None` when no call is in progress.
    pub async fn next_call_end(&mut self) -> Option<CallEnded> {
        loop {
            let joined = self.calls.join_next().await?;
            if let Some(ended) = self.ended(joined) {
                return Some(ended);
            }
        }
    }

    /// Runs until `shutdown` completes: recovers, then passes, waking when a call ends, when
    /// the scheduler asks, or every `poll_interval`. On shutdown no call is started any
    /// more; the calls in progress are waited for (bound the wait with a timeout: calls cut
    /// off are recovered at the next start) and the held leases are given back.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        if let Err(error) = self.recover().await {
            tracing::error!(%error, "recovering interrupted calls failed");
        }
        loop {
            let wait = match self.pass().await {
                Ok(pass) => self.wait_after(&pass),
                Err(error) => {
                    tracing::error!(%error, "dialer pass failed");
                    self.config.poll_interval
                }
            };
            let calls_in_progress = self.calls_in_progress() > 0;
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tokio::time::sleep(wait) => {}
                Some(_) = self.next_call_end(), if calls_in_progress => {}
            }
        }
        tracing::info!(
            calls = self.calls_in_progress(),
            "dialer stopping; waiting for calls in progress"
        );
        while self.next_call_end().await.is_some() {}
        let held = std::mem::take(&mut self.held);
        if let Err(error) = self
            .storage
            .release_leases(&self.config.node_id, &held)
            .await
        {
            tracing::warn!(%error, "giving back leases failed (they run out by themselves)");
        }
        self.publish_depth().await;
    }

    async fn decide(
        &mut self,
        now: i64,
        rows: Vec<DestinationRow>,
        pass: &mut Pass,
    ) -> Result<(), StorageError> {
        let candidates: Vec<_> = rows.iter().map(DestinationRow::candidate).collect();
        let in_progress = self
            .scheduler
            .max_concurrent_calls()
            .saturating_sub(self.slots.available_permits());
        let plan = self
            .scheduler
            .next_due(from_unix_millis(now), in_progress, &candidates);
        pass.wake_at = plan.wake_at.map(|at| at.as_millisecond());
        let mut rows: HashMap<String, DestinationRow> = rows
            .into_iter()
            .map(|row| (row.message_id.clone(), row))
            .collect();
        for decision in plan.decisions {
            match decision {
                Decision::Expire { message_id } => {
                    rows.remove(&message_id);
                    if self.storage.expire(&message_id, now).await? {
                        pass.expired += 1;
                    }
                }
                Decision::Defer { message_id, until } => {
                    rows.remove(&message_id);
                    self.storage
                        .defer(&message_id, until.as_millisecond(), now)
                        .await?;
                    pass.deferred += 1;
                }
                Decision::Call {
                    message_id,
                    attempt,
                } => {
                    let Some(row) = rows.remove(&message_id) else {
                        continue;
                    };
                    if self.start(now, &row, attempt).await? {
                        pass.calls_started += 1;
                    } else {
                        pass.skipped += 1;
                    }
                }
            }
        }
        self.held = rows.into_keys().collect();
        Ok(())
    }

    /// Takes a call slot, starts the attempt in storage, then spawns the call. `false` if
    /// there was no slot or the attempt was already taken.
    async fn start(
        &mut self,
        now: i64,
        row: &DestinationRow,
        attempt: u32,
    ) -> Result<bool, StorageError> {
        // The slot first: once the attempt is begun the call must be placed.
        let Ok(permit) = self.slots.clone().try_acquire_owned() else {
            return Ok(false);
        };
        let request = call::request(row, attempt);
        let limit = call::longest_duration(&request, self.config.longest_call);
        // The lease outlives the call by a margin, so no other node recovers a live call.
        let lease_until = now
            .saturating_add(super::millis(limit))
            .saturating_add(super::millis(self.config.lease));
        let begun = self
            .storage
            .begin_attempt(
                &self.config.node_id,
                &row.message_id,
                attempt,
                now,
                lease_until,
            )
            .await;
        match begun {
            Ok(true) => {}
            Ok(false) => return Ok(false),
            Err(error) => {
                call::log_storage_error("starting an attempt", &row.message_id, &error);
                return Err(error);
            }
        }
        tracing::debug!(message_id = row.message_id, attempt, "placing a call");
        let task = CallTask::place(
            self.storage.clone(),
            self.clock.clone(),
            self.placer.as_ref(),
            request,
            limit,
            permit,
        );
        self.calls.spawn(task.run());
        Ok(true)
    }

    /// Logs a call task's end; `None` if the task panicked (its row is recovered later).
    fn ended(&mut self, joined: Result<CallEnded, tokio::task::JoinError>) -> Option<CallEnded> {
        match joined {
            Ok(ended) => {
                tracing::debug!(
                    message_id = ended.message_id,
                    attempt = ended.attempt,
                    outcome = ended.outcome.as_str(),
                    next = call::describe(ended.after),
                    "call ended"
                );
                Some(ended)
            }
            Err(error) => {
                tracing::error!(%error, "a call task failed; its row is recovered as interrupted");
                None
            }
        }
    }

    fn wait_after(&self, pass: &Pass) -> Duration {
        let poll = self.config.poll_interval;
        let wait = pass.wake_at.map_or(poll, |wake_at| {
            let millis = wake_at.saturating_sub((self.clock)()).max(0);
            Duration::from_millis(u64::try_from(millis).unwrap_or(0)).min(poll)
        });
        wait.max(MINIMUM_WAIT)
    }

    async fn publish_depth(&self) {
        match self.storage.queue_depth().await {
            Ok(depth) => {
                self.metrics.set_queue_depth(depth.waiting, depth.calling);
                self.depth.send_replace(depth);
            }
            Err(error) => tracing::warn!(%error, "measuring the dialer queue failed"),
        }
    }
}
