//! A worker stopped abruptly with calls in progress (its task dropped: the calls vanish,
//! their rows stay `calling`), then a new worker on the same storage: every destination
//! still ends with exactly one report, no attempt is placed twice, nothing is lost.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use serde_json::{Value, json};

use crate::campaign::CallEnded;
use crate::fake::{self, Placement, Script, Switchboard, placed_once};
use crate::support::{TestServer, both};

/// Answers by the number's last digit, as the campaign test's callee does.
fn callee(to: &str, attempt: u32) -> Script {
    match (to.bytes().last().map_or(0, |digit| digit - b'0'), attempt) {
        (0..=4, _) => Script::Answer,
        (5 | 6, 1) => Script::Busy,
        (5 | 6, _) => Script::Answer,
        (7, _) => Script::FailPermanently,
        _ => Script::NoAnswer,
    }
}

const MAX_COUNT: u32 = 2;

/// Checks each destination's report against its placements: attempts numbered 1..n with
/// none twice, every attempt but the last retryable, the status the last one earned.
fn check_reports(
    ids: &HashMap<String, String>,
    reports: &HashMap<String, Value>,
    placements: &[Placement],
    interrupted: &HashSet<(String, u32)>,
) {
    placed_once(placements);
    assert_eq!(
        reports.len(),
        ids.len(),
        "one report per accepted destination"
    );
    let mut attempts: HashMap<&str, Vec<u32>> = HashMap::new();
    for placement in placements {
        attempts
            .entry(placement.message_id.as_str())
            .or_default()
            .push(placement.attempt);
    }
    for (to, message_id) in ids {
        let report = reports.get(message_id).expect("a report");
        let mut made = attempts.remove(message_id.as_str()).unwrap_or_default();
        made.sort_unstable();
        let count = u32::try_from(made.len()).expect("small");
        assert_eq!(made, (1..=count).collect::<Vec<_>>(), "{to}");
        assert_eq!(report["attempts"], count, "{report}");
        let was_interrupted = |attempt: u32| interrupted.contains(&(message_id.clone(), attempt));
        for attempt in 1..count {
            assert!(
                was_interrupted(attempt)
                    || matches!(callee(to, attempt), Script::Busy | Script::NoAnswer),
                "{to} attempt {attempt} should not have been retried"
            );
        }
        let last = callee(to, count);
        let delivered = !was_interrupted(count) && last == Script::Answer;
        let group = if delivered {
            "DELIVERED"
        } else {
            "UNDELIVERABLE"
        };
        assert_eq!(report["status"]["groupName"], group, "{report}");
        if !delivered {
            assert!(
                count == MAX_COUNT + 1
                    || (!was_interrupted(count) && last == Script::FailPermanently),
                "{to} gave up early: {report}"
            );
        }
    }
}

/// The attempts placed and not ended.
fn in_progress(placements: &[Placement], ended: &[CallEnded]) -> HashSet<(String, u32)> {
    let ended: HashSet<(String, u32)> = ended
        .iter()
        .map(|end| (end.message_id.clone(), end.attempt))
        .collect();
    placements
        .iter()
        .map(|placement| (placement.message_id.clone(), placement.attempt))
        .filter(|key| !ended.contains(key))
        .collect()
}

async fn crash_then_restart(server: &TestServer, second_node: &str) {
    let (bulk_id, ids) = fake::launch(
        server,
        200,
        json!({
            "retry": {"minPeriod": 1, "maxPeriod": 1, "maxCount": MAX_COUNT},
            "sendingSpeed": {"speed": 120, "timeUnit": "MINUTE"},
            "ringTimeout": 30,
            "callTimeout": 60,
        }),
    )
    .await;
    let board = Switchboard::new(server.clock.clone(), callee);
    let mut first = fake::worker(server, &board, fake::config("node-1", 20));
    let ended = fake::drive(server, &board, &mut first, 1_000, 10_000, |board| {
        board.placements().len() >= 80
    })
    .await;
    let placements = board.placements();
    let interrupted = in_progress(&placements, &ended);
    assert!(interrupted.len() >= 5, "calls in progress: {interrupted:?}");
    assert_eq!(board.in_flight(), interrupted.len());

    // The crash: the worker and its call tasks are dropped mid-call.
    drop(first);
    board.abandon_calls();
    let mut in_flight = board.watch_in_flight();
    in_flight
        .wait_for(|calls| *calls == 0)
        .await
        .expect("board");
    let depth = server.storage.queue_depth().await.expect("depth");
    assert_eq!(
        depth.calling as usize,
        interrupted.len(),
        "rows left calling"
    );

    let mut second = fake::worker(server, &board, fake::config(second_node, 20));
    let mut recovered: Vec<String> = second.recover().await.expect("recover");
    recovered.sort();
    if second_node == "node-1" {
        let mut expected: Vec<String> = interrupted.iter().map(|(id, _)| id.clone()).collect();
        expected.sort();
        assert_eq!(recovered, expected, "a restart ends its own calls at once");
    } else {
        assert!(recovered.is_empty(), "another node waits for the leases");
    }
    fake::drive(server, &board, &mut second, 1_000, 20_000, |_| false).await;
    let depth = server.storage.queue_depth().await.expect("depth");
    assert_eq!((depth.waiting, depth.calling), (0, 0));
    let reports = fake::reports(&server.storage, &bulk_id).await;
    check_reports(&ids, &reports, &board.placements(), &interrupted);
}

async fn a_restarted_node_resumes_without_repeating_an_attempt(server: &TestServer) {
    crash_then_restart(server, "node-1").await;
}
both!(a_restarted_node_resumes_without_repeating_an_attempt);

async fn another_node_takes_over_once_the_leases_run_out(server: &TestServer) {
    crash_then_restart(server, "node-2").await;
}
both!(another_node_takes_over_once_the_leases_run_out);

fn always_answer(_: &str, _: u32) -> Script {
    Script::Answer
}

async fn aborting_the_run_loop_loses_nothing(server: &TestServer) {
    let (bulk_id, ids) = fake::launch(server, 30, json!({})).await;
    let board = Switchboard::new(server.clock.clone(), always_answer);
    let config = crate::campaign::WorkerConfig {
        poll_interval: Duration::from_millis(10),
        ..fake::config("node-1", 5)
    };
    // The first run's calls never end (the clock does not move): it is killed with five
    // calls in progress.
    let first = fake::worker(server, &board, config.clone());
    let running = tokio::spawn(first.run(std::future::pending()));
    let mut in_flight = board.watch_in_flight();
    in_flight
        .wait_for(|calls| *calls == 5)
        .await
        .expect("board");
    running.abort();
    assert!(running.await.expect_err("aborted").is_cancelled());
    in_flight
        .wait_for(|calls| *calls == 0)
        .await
        .expect("board");
    board.abandon_calls();
    let interrupted: HashSet<(String, u32)> = board
        .placements()
        .iter()
        .map(|placement| (placement.message_id.clone(), placement.attempt))
        .collect();
    assert_eq!(interrupted.len(), 5);
    assert_eq!(
        server.storage.queue_depth().await.expect("depth").calling,
        5
    );

    board.end_calls_at_once(true);
    let second = fake::worker(server, &board, config);
    let mut depth = second.queue_depth();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(second.run(async {
        stopped.await.ok();
    }));
    while fake::reports(&server.storage, &bulk_id).await.len() < 30 {
        depth.changed().await.expect("the worker runs");
    }
    stop.send(()).expect("running");
    running.await.expect("stops");
    let placements = board.placements();
    placed_once(&placements);
    assert_eq!(
        placements.len(),
        30,
        "the five interrupted calls, then the other 25; none again"
    );
    let reports = fake::reports(&server.storage, &bulk_id).await;
    for (message_id, report) in &reports {
        let was_interrupted = interrupted.contains(&(message_id.clone(), 1));
        let group = if was_interrupted {
            "UNDELIVERABLE"
        } else {
            "DELIVERED"
        };
        assert_eq!(report["status"]["groupName"], group, "{report}");
        assert_eq!(report["attempts"], 1, "{report}");
    }
    assert_eq!(reports.len(), ids.len());
}
both!(aborting_the_run_loop_loses_nothing);
