//! Media workers: a few OS threads that carry every call's RTP, each ticking all its calls on one
//! 20 ms clock, so that there is no task wake-up per packet and no timer per call.
//!
//! A leg (its SIP dialog and scenario run, on a tokio task) hands its media to a worker with
//! [`MediaWorkers::attach`]: the [`MediaConfig`] and the bound [`PortPair`]. The worker owns the
//! call's [`ivory_rtp::MediaSession`], its sockets and the listeners on its tapped audio
//! ([`crate::tap_listeners`]) in a slot; the leg keeps a [`MediaHandle`] to send commands (play,
//! stop, re-INVITE changes, recordings, close) and to receive notices (digits, prompt ends,
//! recording outcomes, RTP timeout, final counters).
//!
//! # Run loop (one per worker thread)
//!
//! 1. Sleep until the next tick of the drift-free grid `start + n · 20 ms` (idle without calls:
//!    block until one is attached).
//! 2. Send, for all calls back to back, the packets the previous tick produced (see below).
//! 3. Take the worker's queued commands (one queue for all its calls, each command tagged with its
//!    slot's key), then newly attached calls (a new session's clock starts on the current grid
//!    tick, so every worker tick is exactly one session tick), then hand each command to its slot.
//! 4. For each call: drain its RTP socket (and
//!    every 25th tick its RTCP socket) with non-blocking receives into one reused buffer, feeding
//!    `handle_datagram`; `handle_timeout(now)`; hold every `poll_transmit` packet in the slot for
//!    step 2 of the next tick; hand tapped frames to the listeners; forward `poll_event` events
//!    and listener outcomes as notices; once a second, check for RTP silence.
//! 5. Remove closed calls (the leg asked, or its handle was dropped).
//!
//! Nothing allocates per packet, no lock is taken per tick, and a call's panic closes that call
//! only. [`MediaWorkers::attach`] gives a call to the least loaded worker.
//!
//! # Pacing: packets leave one tick after they are made
//!
//! Processing a call takes 10–25 µs (mostly the in-band DTMF detector and the socket calls), so
//! with a hundred calls per worker the last call's packet would leave 2–5 ms after the first, by
//! an amount that varies from tick to tick with what each call had to do — and the receiver sees
//! that variation as jitter. Sending the held packets first, in a loop that does nothing else,
//! makes every call's send time a fixed, short offset from the tick. The cost is 20 ms more
//! latency on ivory's outgoing audio (receiving is not delayed), and prompt ends are reported when
//! the last frame is made, one tick before it is on the wire; both are invisible to a caller.
//!
//! # Why OS threads, not tokio tasks
//!
//! A tick is short, synchronous work that must start on time. On a dedicated thread it sleeps in
//! `nanosleep` (about 50 µs of slack) and runs as soon as the kernel wakes it; as a tokio task it
//! sleeps on tokio's timer wheel, which rounds deadlines up to whole milliseconds, and then waits
//! for a runtime thread that may be busy with SIP, scenario steps or HTTP. Measured with
//! `tools/bench-pacing --calls 200` (now `tools/bench-media --capture`) on the 2-core machine, same code otherwise: two threads gave
//! |interval − 20 ms| p99 0.6–0.8 ms (99.8–100 % within ±2 ms); two tokio tasks 3.0–3.6 ms (52–75 %
//! within ±2 ms), at the same CPU (21–24 % of a core). One thread did 0.9–2.0 ms.
//!
//! Received datagrams are stamped with the tick's time, so the jitter buffer sees arrivals
//! quantised to 20 ms; its adaptive delay absorbs that.
//!
//! Out of scope: batched socket calls (recvmmsg/sendmmsg need `unsafe` or a new dependency),
//! moving a call between workers, real-time thread priority.

mod bridge;
mod handle;
mod slot;
mod worker;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};
use std::time::Duration;

use ivory_rtp::MediaConfig;
use tracing::{Span, warn};

pub(crate) use bridge::BridgeEnd;
pub(crate) use handle::{MediaHandle, MediaNotice};

use crate::ports::PortPair;
use handle::{MediaCommand, SlotKey};
use slot::NewSlot;

/// Why a call could not get a media worker.
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    #[error("no media worker is running")]
    NoWorker,
}

/// The pool of media workers. Dropping it lets each worker thread end once its calls have closed.
#[derive(Debug)]
pub struct MediaWorkers {
    workers: Vec<WorkerLink>,
    /// The next slot's key (unique across workers, so a key never names two slots).
    next_key: AtomicU64,
}

#[derive(Debug)]
struct WorkerLink {
    control: Sender<NewSlot>,
    /// The worker's command queue; each handle holds a clone.
    commands: Sender<(SlotKey, MediaCommand)>,
    /// Calls on the worker: raised on attach, lowered by the worker when a call closes.
    load: Arc<AtomicUsize>,
}

impl MediaWorkers {
    /// The default number of workers: one per core the process may use, at least one.
    pub fn default_count() -> usize {
        std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1)
    }

    /// Starts `count` workers (at least one). A thread the system refuses to start is logged and
    /// left out; with none at all, every call is refused with 503.
    pub fn start(count: usize) -> Self {
        let workers = (0..count.max(1))
            .filter_map(|index| {
                let (control, receiver) = mpsc::channel();
                let (commands, command_receiver) = mpsc::channel();
                let load = Arc::new(AtomicUsize::new(0));
                let worker_load = load.clone();
                let spawned = std::thread::Builder::new()
                    .name(format!("ivory-media-{index}"))
                    .spawn(move || worker::run(receiver, command_receiver, worker_load));
                match spawned {
                    Ok(_) => Some(WorkerLink {
                        control,
                        commands,
                        load,
                    }),
                    Err(error) => {
                        warn!(%error, index, "cannot start a media worker");
                        None
                    }
                }
            })
            .collect();
        Self {
            workers,
            next_key: AtomicU64::new(0),
        }
    }

    /// Workers running.
    pub fn len(&self) -> usize {
        self.workers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.workers.is_empty()
    }

    /// Calls on each worker now.
    pub fn loads(&self) -> Vec<usize> {
        self.workers
            .iter()
            .map(|worker| worker.load.load(Ordering::Relaxed))
            .collect()
    }

    /// Gives a call's media to the least loaded worker. Its session's clock starts on that
    /// worker's next tick; the first packet goes out then (when `config.remote` is known).
    pub(crate) fn attach(
        &self,
        config: MediaConfig,
        ports: PortPair,
        rtp_timeout: Duration,
        span: Span,
    ) -> Result<MediaHandle, AttachError> {
        self.attach_near(None, config, ports, rtp_timeout, span)
    }

    /// As [`Self::attach`], but on worker `near` when it runs (the other leg of a bridge, so both
    /// slots tick on one clock; see [`bridge`]).
    pub(crate) fn attach_near(
        &self,
        near: Option<usize>,
        config: MediaConfig,
        ports: PortPair,
        rtp_timeout: Duration,
        span: Span,
    ) -> Result<MediaHandle, AttachError> {
        let key = self.next_key.fetch_add(1, Ordering::Relaxed);
        let codec = config.codec;
        let (notice_sender, notices) = tokio::sync::mpsc::unbounded_channel();
        let mut new = NewSlot {
            config,
            ports,
            key,
            notices: notice_sender,
            rtp_timeout,
            span,
        };
        let mut order: Vec<(usize, &WorkerLink)> = self.workers.iter().enumerate().collect();
        order.sort_by_key(|(index, worker)| {
            (Some(*index) != near, worker.load.load(Ordering::Relaxed))
        });
        for (index, worker) in order {
            worker.load.fetch_add(1, Ordering::Relaxed);
            match worker.control.send(new) {
                Ok(()) => {
                    return Ok(MediaHandle::new(
                        worker.commands.clone(),
                        key,
                        notices,
                        index,
                        codec,
                    ));
                }
                Err(mpsc::SendError(returned)) => {
                    // That worker's thread is gone (it cannot be, short of a bug): try another.
                    worker.load.fetch_sub(1, Ordering::Relaxed);
                    new = returned;
                }
            }
        }
        Err(AttachError::NoWorker)
    }
}

#[cfg(test)]
#[path = "pool_tests.rs"]
mod tests;
