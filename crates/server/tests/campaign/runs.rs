//! Whole campaigns: statuses and attempt counts, the sending speed, the cap on calls in
//! progress, validity, delivery windows, and the `run` loop.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;

use crate::fake::{self, Script, Switchboard, placed_once};
use crate::support::{START, TestServer, both};

const MINUTE: i64 = 60_000;

/// By the number's last digit: the status and attempt count it must end with (retry
/// `maxCount` 2), and how it answers each attempt.
fn mixed(to: &str, attempt: u32) -> Script {
    match (last_digit(to), attempt) {
        (0..=3, _) => Script::Answer,
        (4 | 5, 1) => Script::Busy,
        (8, 1) => Script::Fail,
        (4 | 5 | 8, _) => Script::Answer,
        (6, _) => Script::NoAnswer,
        (7, _) => Script::FailPermanently,
        _ => Script::Busy,
    }
}

fn expected(to: &str) -> (&'static str, u64) {
    match last_digit(to) {
        0..=3 => ("DELIVERED", 1),
        4 | 5 | 8 => ("DELIVERED", 2),
        7 => ("UNDELIVERABLE", 1),
        _ => ("UNDELIVERABLE", 3),
    }
}

fn last_digit(to: &str) -> u8 {
    to.bytes().last().map_or(0, |digit| digit - b'0')
}

fn always_answer(_: &str, _: u32) -> Script {
    Script::Answer
}

async fn a_thousand_destinations_end_with_one_right_report_each_at_the_speed(server: &TestServer) {
    let (bulk_id, ids) = fake::launch(
        server,
        1_000,
        json!({
            "retry": {"minPeriod": 1, "maxPeriod": 5, "maxCount": 2},
            "sendingSpeed": {"speed": 60, "timeUnit": "MINUTE"},
            "ringTimeout": 30,
        }),
    )
    .await;
    let board = Switchboard::new(server.clock.clone(), mixed);
    let mut worker = fake::worker(server, &board, fake::config("node-1", 30));
    assert!(worker.recover().await.expect("recover").is_empty());
    let ended = fake::drive(server, &board, &mut worker, 1_000, 10_000, |_| false).await;
    let depth = *worker.queue_depth().borrow();
    assert_eq!((depth.waiting, depth.calling), (0, 0), "the campaign ended");

    let placements = board.placements();
    let by_attempt = placed_once(&placements);
    assert_eq!(
        ended.len(),
        placements.len(),
        "every call's end was recorded"
    );
    let reports = fake::reports(&server.storage, &bulk_id).await;
    assert_eq!(reports.len(), 1_000, "one report per destination");
    let message_ids: HashMap<&String, &String> = ids.iter().map(|(to, id)| (id, to)).collect();
    for (message_id, report) in &reports {
        let to = message_ids.get(message_id).expect("a launched destination");
        let (group, attempts) = expected(to);
        assert_eq!(report["status"]["groupName"], group, "{report}");
        assert_eq!(report["attempts"], attempts, "{report}");
        for attempt in 1..=u32::try_from(attempts).expect("small") {
            assert!(by_attempt.contains_key(&((*message_id).clone(), attempt)));
        }
        if group == "DELIVERED" {
            assert_eq!(report["voiceCall"]["duration"], 20, "{report}");
            assert_eq!(report["voiceCall"]["dtmfCodes"], "1", "{report}");
        }
    }
    assert_eq!(
        placements.len(),
        1_700,
        "attempts: 400×1 + 300×2 + 100×1 + 200×3"
    );
    assert_eq!(
        server.storage.outbox_pending().await.expect("outbox"),
        1_000,
        "a webhook owed per report"
    );

    // The sending speed: 60 a minute, one a second, never faster.
    let mut times: Vec<i64> = placements.iter().map(|placement| placement.at).collect();
    times.sort_unstable();
    for pair in times.windows(2) {
        if pair[1] - pair[0] < 1_000 {
            let close: Vec<_> = placements
                .iter()
                .filter(|p| p.at == pair[0] || p.at == pair[1])
                .collect();
            panic!("two calls {} ms apart: {close:?}", pair[1] - pair[0]);
        }
    }
    let mut per_minute: HashMap<i64, usize> = HashMap::new();
    for at in &times {
        *per_minute.entry((at - START) / MINUTE).or_default() += 1;
    }
    assert_eq!(per_minute.values().max(), Some(&60), "{per_minute:?}");
    assert!(board.max_in_flight() <= 30, "{}", board.max_in_flight());
}
both!(a_thousand_destinations_end_with_one_right_report_each_at_the_speed);

async fn calls_in_progress_never_exceed_the_cap(server: &TestServer) {
    let (bulk_id, _) = fake::launch(server, 60, json!({})).await;
    let board = Switchboard::new(server.clock.clone(), always_answer);
    let mut worker = fake::worker(server, &board, fake::config("node-1", 7));
    let first = worker.pass().await.expect("pass");
    assert_eq!(first.calls_started, 7, "{first:?}");
    let second = worker.pass().await.expect("pass");
    assert_eq!(second.calls_started, 0, "no free slot: {second:?}");
    fake::drive(server, &board, &mut worker, 1_000, 1_000, |board| {
        assert!(
            board.in_flight() <= 7,
            "{} calls at once",
            board.in_flight()
        );
        false
    })
    .await;
    assert_eq!(board.max_in_flight(), 7, "the cap is reached, never passed");
    assert_eq!(board.placements().len(), 60);
    let reports = fake::reports(&server.storage, &bulk_id).await;
    assert_eq!(reports.len(), 60);
    assert!(
        reports
            .values()
            .all(|report| report["status"]["groupName"] == "DELIVERED")
    );
}
both!(calls_in_progress_never_exceed_the_cap);

async fn destinations_left_past_their_validity_expire(server: &TestServer) {
    let (bulk_id, _) = fake::launch(server, 5, json!({"validityPeriod": 1})).await;
    let board = Switchboard::new(server.clock.clone(), always_answer);
    let mut worker = fake::worker(server, &board, fake::config("node-1", 1));
    fake::drive(server, &board, &mut worker, 1_000, 1_000, |_| false).await;
    // One call at a time, 25 s each: three start within the minute, two never do.
    assert_eq!(board.placements().len(), 3);
    let reports = fake::reports(&server.storage, &bulk_id).await;
    let mut groups: Vec<(String, u64)> = reports
        .values()
        .map(|report| {
            (
                report["status"]["groupName"]
                    .as_str()
                    .expect("group")
                    .to_string(),
                report["attempts"].as_u64().expect("attempts"),
            )
        })
        .collect();
    groups.sort();
    assert_eq!(
        groups,
        [
            ("DELIVERED".to_string(), 1),
            ("DELIVERED".to_string(), 1),
            ("DELIVERED".to_string(), 1),
            ("EXPIRED".to_string(), 0),
            ("EXPIRED".to_string(), 0),
        ]
    );
}
both!(destinations_left_past_their_validity_expire);

async fn calls_wait_for_the_delivery_window(server: &TestServer) {
    // START is Monday 08:00 UTC; the window opens at 09:00.
    let window = json!({"days": ["MONDAY"], "from": {"hour": 9, "minute": 0}, "to": {"hour": 10, "minute": 0}});
    let (bulk_id, _) = fake::launch(server, 3, json!({"deliveryTimeWindow": window})).await;
    let board = Switchboard::new(server.clock.clone(), always_answer);
    let mut worker = fake::worker(server, &board, fake::config("node-1", 10));
    let first = worker.pass().await.expect("pass");
    assert_eq!((first.deferred, first.calls_started), (3, 0), "{first:?}");
    fake::drive(server, &board, &mut worker, 30_000, 1_000, |_| false).await;
    let placements = board.placements();
    assert_eq!(placements.len(), 3);
    assert!(
        placements
            .iter()
            .all(|placement| placement.at >= START + 60 * MINUTE),
        "{placements:?}"
    );
    assert_eq!(fake::reports(&server.storage, &bulk_id).await.len(), 3);
}
both!(calls_wait_for_the_delivery_window);

async fn the_run_loop_works_the_queue_until_shut_down(server: &TestServer) {
    let (bulk_id, _) = fake::launch(server, 40, json!({})).await;
    let board = Switchboard::new(server.clock.clone(), always_answer);
    board.end_calls_at_once(true);
    let config = crate::campaign::WorkerConfig {
        poll_interval: Duration::from_millis(10),
        ..fake::config("node-1", 4)
    };
    let worker = fake::worker(server, &board, config);
    let mut depth = worker.queue_depth();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(worker.run(async {
        stopped.await.ok();
    }));
    // Each pass publishes the depth: look at the reports after each.
    while fake::reports(&server.storage, &bulk_id).await.len() < 40 {
        depth.changed().await.expect("the worker runs");
    }
    stop.send(()).expect("running");
    running.await.expect("the worker stops");
    assert_eq!(placed_once(&board.placements()).len(), 40);
    assert!(board.max_in_flight() <= 4);
    let metrics = server.metrics.encode();
    assert!(
        metrics.contains("ivory_dialer_queue_depth{phase=\"waiting\"} 0"),
        "{metrics}"
    );
}
both!(the_run_loop_works_the_queue_until_shut_down);
