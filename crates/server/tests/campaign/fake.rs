//! The fake callee network: a [`CallPlacer`] that answers each number as a script says,
//! ends calls when the test's virtual clock reaches their end, and records every placement
//! and how many calls were in progress at once. Plus the pass-by-pass driver.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use sqlx::Row;
use tokio::sync::{oneshot, watch};

use crate::campaign::{
    CallEnded, CallPlacer, CampaignWorker, PlaceOutcome, PlaceRequest, PlaceResult, WorkerConfig,
};
use crate::storage::{CallSummary, Storage};
use crate::support::{TestServer, launch_body, menu};

/// How a callee treats one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    /// Rings 5 s, talks 20 s.
    Answer,
    /// 486 after 2 s.
    Busy,
    /// Rings until `ringTimeout`.
    NoAnswer,
    /// 503 after 1 s (retried).
    Fail,
    /// 404 after 1 s (not retried).
    FailPermanently,
}

/// Who answers what, by number and attempt.
pub type Callee = fn(&str, u32) -> Script;

/// One call the placer was asked to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub message_id: String,
    pub attempt: u32,
    pub to: String,
    /// Virtual time, ms.
    pub at: i64,
}

struct Pending {
    end_at: i64,
    outcome: PlaceOutcome,
    sender: oneshot::Sender<PlaceOutcome>,
}

#[derive(Default)]
struct Board {
    placements: Vec<Placement>,
    pending: Vec<Pending>,
    in_flight: usize,
    max_in_flight: usize,
}

struct Inner {
    clock: Arc<AtomicI64>,
    callee: Callee,
    /// End every call at once (for the `run` loop, whose clock does not move).
    immediate: AtomicBool,
    board: Mutex<Board>,
    in_flight: watch::Sender<usize>,
}

/// The fake placer; clones share the network.
#[derive(Clone)]
pub struct Switchboard {
    inner: Arc<Inner>,
}

/// Counts a call as in progress until its future is dropped (ended or abandoned).
struct InFlight(Arc<Inner>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut board = self.0.board.lock().expect("board");
        board.in_flight -= 1;
        self.0.in_flight.send_replace(board.in_flight);
    }
}

impl Switchboard {
    pub fn new(clock: Arc<AtomicI64>, callee: Callee) -> Switchboard {
        Switchboard {
            inner: Arc::new(Inner {
                clock,
                callee,
                immediate: AtomicBool::new(false),
                board: Mutex::new(Board::default()),
                in_flight: watch::channel(0).0,
            }),
        }
    }

    pub fn end_calls_at_once(&self, immediate: bool) {
        self.inner.immediate.store(immediate, Ordering::SeqCst);
    }

    /// Ends the calls whose scripted end is at or before `now`; returns how many.
    pub fn release_due(&self, now: i64) -> usize {
        let due: Vec<Pending> = {
            let mut board = self.inner.board.lock().expect("board");
            let (due, later) = std::mem::take(&mut board.pending)
                .into_iter()
                .partition(|pending| pending.end_at <= now);
            board.pending = later;
            due
        };
        due.into_iter()
            .map(|pending| pending.sender.send(pending.outcome).is_ok())
            .filter(|sent| *sent)
            .count()
    }

    /// When the next call in progress ends.
    pub fn next_end(&self) -> Option<i64> {
        let board = self.inner.board.lock().expect("board");
        board.pending.iter().map(|pending| pending.end_at).min()
    }

    /// Forgets the calls in progress (their node crashed).
    pub fn abandon_calls(&self) {
        self.inner.board.lock().expect("board").pending.clear();
    }

    pub fn placements(&self) -> Vec<Placement> {
        self.inner.board.lock().expect("board").placements.clone()
    }

    pub fn in_flight(&self) -> usize {
        self.inner.board.lock().expect("board").in_flight
    }

    pub fn max_in_flight(&self) -> usize {
        self.inner.board.lock().expect("board").max_in_flight
    }

    pub fn watch_in_flight(&self) -> watch::Receiver<usize> {
        self.inner.in_flight.subscribe()
    }

    fn outcome(&self, request: &PlaceRequest, start: i64) -> (i64, PlaceOutcome) {
        let script = (self.inner.callee)(&request.to, request.attempt);
        let ring = i64::try_from(request.ring_timeout.as_millis()).expect("ring timeout");
        let (result, sip_code, answered_at, duration) = match script {
            Script::Answer => (
                PlaceResult::Answered { machine: None },
                Some(200),
                Some(start + 5_000),
                25_000,
            ),
            Script::Busy => (PlaceResult::Busy, Some(486), None, 2_000),
            Script::NoAnswer => (PlaceResult::NoAnswer, None, None, ring),
            Script::Fail => (
                PlaceResult::Failed { permanent: false },
                Some(503),
                None,
                1_000,
            ),
            Script::FailPermanently => (
                PlaceResult::Failed { permanent: true },
                Some(404),
                None,
                1_000,
            ),
        };
        let answered = answered_at.is_some();
        let end_at = if self.inner.immediate.load(Ordering::SeqCst) {
            start
        } else {
            start + duration
        };
        let summary = CallSummary {
            call_id: Some(format!("call-{}-{}", request.message_id, request.attempt)),
            dtmf_codes: answered.then(|| "1".to_string()),
            collected_dtmfs: if answered {
                BTreeMap::from([("choice".to_string(), "1".to_string())])
            } else {
                BTreeMap::new()
            },
            ..CallSummary::default()
        };
        let outcome = PlaceOutcome {
            result,
            sip_code,
            answered_at_ms: answered_at.map(|at| at.min(end_at)),
            ended_at_ms: end_at,
            summary,
        };
        (end_at, outcome)
    }
}

impl CallPlacer for Switchboard {
    fn place(&self, request: PlaceRequest) -> Pin<Box<dyn Future<Output = PlaceOutcome> + Send>> {
        let now = self.inner.clock.load(Ordering::SeqCst);
        let (end_at, outcome) = self.outcome(&request, now);
        let guard = {
            let mut board = self.inner.board.lock().expect("board");
            board.placements.push(Placement {
                message_id: request.message_id.clone(),
                attempt: request.attempt,
                to: request.to.clone(),
                at: now,
            });
            board.in_flight += 1;
            board.max_in_flight = board.max_in_flight.max(board.in_flight);
            self.inner.in_flight.send_replace(board.in_flight);
            InFlight(self.inner.clone())
        };
        if self.inner.immediate.load(Ordering::SeqCst) {
            return Box::pin(async move {
                let _guard = guard;
                outcome
            });
        }
        let (sender, receiver) = oneshot::channel();
        self.inner
            .board
            .lock()
            .expect("board")
            .pending
            .push(Pending {
                end_at,
                outcome,
                sender,
            });
        Box::pin(async move {
            let _guard = guard;
            match receiver.await {
                Ok(outcome) => outcome,
                // Abandoned: the worker that placed it is gone too.
                Err(_) => std::future::pending().await,
            }
        })
    }
}

/// A worker on the test server's storage and clock.
pub fn worker(server: &TestServer, board: &Switchboard, config: WorkerConfig) -> CampaignWorker {
    CampaignWorker::new(
        server.storage.clone(),
        Arc::new(board.clone()),
        server.state.clock.clone(),
        server.metrics.clone(),
        config,
    )
}

pub fn config(node: &str, max_concurrent_calls: usize) -> WorkerConfig {
    WorkerConfig {
        max_concurrent_calls,
        ..WorkerConfig::new(node)
    }
}

/// Drives `worker` pass by pass, `tick_ms` of virtual time apart, ending each call at its
/// scripted end, until the queue is empty, `steps` passes were made, or `stop` says so.
/// Returns the ended calls in order.
pub async fn drive(
    server: &TestServer,
    board: &Switchboard,
    worker: &mut CampaignWorker,
    tick_ms: i64,
    steps: usize,
    stop: impl Fn(&Switchboard) -> bool,
) -> Vec<CallEnded> {
    let mut ended = Vec::new();
    let depth = worker.queue_depth();
    for _ in 0..steps {
        worker.pass().await.expect("pass");
        let now_depth = *depth.borrow();
        if now_depth.waiting + now_depth.calling == 0 || stop(board) {
            break;
        }
        server.advance(tick_ms);
        let released = board.release_due(server.now());
        for _ in 0..released {
            ended.push(worker.next_call_end().await.expect("a released call ends"));
        }
    }
    ended
}

/// Launches `count` destinations (numbers `4670` + 7 digits) with `extra` fields and a
/// `notifyUrl`; returns the bulk id and the message ids by number.
pub async fn launch(
    server: &TestServer,
    count: usize,
    extra: Value,
) -> (String, HashMap<String, String>) {
    let numbers: Vec<String> = (0..count).map(|n| format!("4670{n:07}")).collect();
    let numbers: Vec<&str> = numbers.iter().map(String::as_str).collect();
    let id = server.create_scenario(menu("campaign")).await;
    let mut extra = extra;
    extra["notifyUrl"] = json!("http://127.0.0.1:9/reports");
    let answer = server
        .call(
            "POST",
            "/voice/ivr/1/messages",
            Some(launch_body(&id, &numbers, extra)),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let body = answer.json();
    let ids = body["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|message| {
            assert_eq!(message["status"]["name"], "PENDING_ACCEPTED", "{message}");
            (
                message["to"].as_str().expect("to").to_string(),
                message["messageId"].as_str().expect("id").to_string(),
            )
        })
        .collect();
    (body["bulkId"].as_str().expect("bulk").to_string(), ids)
}

/// Every stored report of `bulk_id`, by message id (the table's key: one at most each).
pub async fn reports(storage: &Storage, bulk_id: &str) -> HashMap<String, Value> {
    sqlx::query("SELECT message_id, body FROM reports WHERE bulk_id = $1")
        .bind(bulk_id.to_string())
        .fetch_all(storage.pool())
        .await
        .expect("reports")
        .iter()
        .map(|row| {
            let body: String = row.get("body");
            (
                row.get::<String, _>("message_id"),
                serde_json::from_str(&body).expect("report JSON"),
            )
        })
        .collect()
}

/// Placements by (message id, attempt): asserts none was placed twice.
pub fn placed_once(placements: &[Placement]) -> HashMap<(String, u32), Placement> {
    let mut by_attempt = HashMap::new();
    for placement in placements {
        let key = (placement.message_id.clone(), placement.attempt);
        if let Some(earlier) = by_attempt.insert(key, placement.clone()) {
            panic!("placed twice: {earlier:?} and {placement:?}");
        }
    }
    by_attempt
}
