//! The dialer's queue in storage: claims, attempts as compare-and-set, retries, expiry,
//! recovery after a crash, durability across a reopen.

use std::time::Duration;

use ivory_engine::dialer::{AfterAttempt, AttemptOutcome, Decision, FinalStatus, Scheduler};
use serde_json::json;

use crate::storage::{AttemptEnd, CallSummary, Storage};
use crate::support::{START, TestServer, both, launch_body, menu};

const MINUTE: i64 = 60_000;
const LEASE: Duration = Duration::from_secs(30);

/// Launches `numbers` with `extra` fields; returns the message ids in order.
pub async fn launch(
    server: &TestServer,
    numbers: &[&str],
    extra: serde_json::Value,
) -> Vec<String> {
    let id = server.create_scenario(menu("queue")).await;
    let answer = server
        .call(
            "POST",
            "/voice/ivr/1/messages",
            Some(launch_body(&id, numbers, extra)),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.json()["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["messageId"].as_str().expect("id").to_string())
        .collect()
}

/// Ends attempt `attempt` of `message_id` at the server's clock.
pub async fn end(
    server: &TestServer,
    message_id: &str,
    attempt: u32,
    outcome: AttemptOutcome,
) -> Option<AfterAttempt> {
    let answered = matches!(outcome, AttemptOutcome::Answered { .. });
    let summary = CallSummary {
        call_id: Some(format!("call-{message_id}-{attempt}")),
        dtmf_codes: answered.then(|| "1".to_string()),
        collected_dtmfs: if answered {
            [("choice".to_string(), "1".to_string())].into()
        } else {
            Default::default()
        },
        ..CallSummary::default()
    };
    server
        .storage
        .finish_attempt(
            message_id,
            attempt,
            &AttemptEnd {
                outcome,
                sip_code: Some(if answered { 200 } else { 480 }),
                answered_at: answered.then(|| server.now() - 10_000),
                ended_at: server.now(),
                summary,
            },
        )
        .await
        .expect("finish")
}

async fn claims_lease_rows_and_attempts_are_compare_and_set(server: &TestServer) {
    let ids = launch(server, &["46700000001", "46700000002"], json!({})).await;
    let now = server.now();
    let claimed = server
        .storage
        .claim_due("node-a", now, 10, LEASE)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 2);
    // Leased to node-a: node-b gets nothing until the lease runs out; node-a may claim again.
    let other = server
        .storage
        .claim_due("node-b", now, 10, LEASE)
        .await
        .expect("claim");
    assert!(other.is_empty());
    let again = server
        .storage
        .claim_due("node-a", now, 10, LEASE)
        .await
        .expect("claim");
    assert_eq!(again.len(), 2);
    let later = server
        .storage
        .claim_due("node-b", now + 31_000, 10, LEASE)
        .await
        .expect("claim");
    assert_eq!(later.len(), 2, "an expired lease frees the rows");

    let lease_until = now + 10 * MINUTE;
    let storage = &server.storage;
    assert!(
        storage
            .begin_attempt("node-b", &ids[0], 1, now + 31_000, lease_until)
            .await
            .expect("begin")
    );
    assert!(
        !storage
            .begin_attempt("node-a", &ids[0], 1, now + 31_000, lease_until)
            .await
            .expect("begin")
    );
    assert!(
        !storage
            .begin_attempt("node-b", &ids[0], 1, now + 31_000, lease_until)
            .await
            .expect("begin")
    );
    assert!(
        !storage
            .begin_attempt("node-b", &ids[1], 2, now + 31_000, lease_until)
            .await
            .expect("begin"),
        "attempt numbers are consecutive"
    );
    let depth = storage.queue_depth().await.expect("depth");
    assert_eq!((depth.waiting, depth.calling), (1, 1));
    // A calling row is not claimable.
    let claimed = storage
        .claim_due("node-c", now + 60 * MINUTE, 10, LEASE)
        .await
        .expect("claim");
    assert_eq!(
        claimed
            .iter()
            .map(|row| row.message_id.clone())
            .collect::<Vec<_>>(),
        [ids[1].clone()]
    );
}
both!(claims_lease_rows_and_attempts_are_compare_and_set);

async fn retries_follow_the_ladder_then_deliver(server: &TestServer) {
    let ids = launch(
        server,
        &["46700000001"],
        json!({"retry": {"minPeriod": 5, "maxPeriod": 20, "maxCount": 2}}),
    )
    .await;
    let id = &ids[0];
    let storage = &server.storage;
    assert!(
        storage
            .begin_attempt("node", id, 1, server.now(), server.now() + MINUTE)
            .await
            .expect("begin")
    );
    server.advance(45_000);
    let after = end(server, id, 1, AttemptOutcome::NoAnswer).await;
    let retry_at = START + 45_000 + 5 * MINUTE;
    assert_eq!(
        after,
        Some(AfterAttempt::RetryAt(
            jiff::Timestamp::from_millisecond(retry_at).expect("time")
        ))
    );
    assert_eq!(
        end(server, id, 1, AttemptOutcome::NoAnswer).await,
        None,
        "an attempt ends once"
    );
    let row = storage.destination(id).await.expect("row");
    assert_eq!(
        (row.state.as_str(), row.attempts, row.next_attempt_at),
        ("retry_wait", 1, retry_at)
    );
    assert!(
        storage
            .claim_due("node", retry_at - 1, 10, LEASE)
            .await
            .expect("claim")
            .is_empty()
    );
    let claimed = storage
        .claim_due("node", retry_at, 10, LEASE)
        .await
        .expect("claim");
    let plan = Scheduler::new(10).next_due(
        jiff::Timestamp::from_millisecond(retry_at).expect("time"),
        0,
        &claimed
            .iter()
            .map(|row| row.candidate())
            .collect::<Vec<_>>(),
    );
    assert_eq!(
        plan.decisions,
        [Decision::Call {
            message_id: id.clone(),
            attempt: 2
        }]
    );
    server.advance(retry_at - server.now());
    assert!(
        storage
            .begin_attempt("node", id, 2, server.now(), server.now() + MINUTE)
            .await
            .expect("begin")
    );
    server.advance(30_000);
    let after = end(server, id, 2, AttemptOutcome::Answered { machine: None }).await;
    assert_eq!(after, Some(AfterAttempt::Final(FinalStatus::Delivered)));
    let row = storage.destination(id).await.expect("row");
    assert_eq!((row.state.as_str(), row.attempts), ("delivered", 2));
    let reports = server
        .call("GET", "/voice/ivr/1/reports", None)
        .await
        .json();
    let report = &reports["results"][0];
    assert_eq!(report["status"]["groupName"], "DELIVERED");
    assert_eq!(report["attempts"], 2);
    assert_eq!(report["voiceCall"]["duration"], 10);
    assert_eq!(report["voiceCall"]["dtmfCodes"], "1");
    assert_eq!(
        report["voiceCall"]["ivr"]["collectedDtmfs"],
        "{\"choice\":\"1\"}"
    );
}
both!(retries_follow_the_ladder_then_deliver);

async fn used_up_retries_and_permanent_failures_are_undeliverable(server: &TestServer) {
    let ids = launch(
        server,
        &["46700000001", "46700000002"],
        json!({"retry": {"minPeriod": 1, "maxPeriod": 1, "maxCount": 1}}),
    )
    .await;
    let storage = &server.storage;
    for id in &ids {
        assert!(
            storage
                .begin_attempt("n", id, 1, server.now(), server.now() + MINUTE)
                .await
                .expect("begin")
        );
    }
    assert!(matches!(
        end(server, &ids[0], 1, AttemptOutcome::Busy).await,
        Some(AfterAttempt::RetryAt(_))
    ));
    assert_eq!(
        end(
            server,
            &ids[1],
            1,
            AttemptOutcome::Failed { permanent: true }
        )
        .await,
        Some(AfterAttempt::Final(FinalStatus::Undeliverable))
    );
    server.advance(MINUTE);
    assert!(
        storage
            .begin_attempt("n", &ids[0], 2, server.now(), server.now() + MINUTE)
            .await
            .expect("begin")
    );
    assert_eq!(
        end(server, &ids[0], 2, AttemptOutcome::Busy).await,
        Some(AfterAttempt::Final(FinalStatus::Undeliverable))
    );
    let reports = server
        .call("GET", "/voice/ivr/1/reports?limit=10", None)
        .await
        .json();
    let results = reports["results"].as_array().expect("results");
    assert_eq!(results.len(), 2);
    for report in results {
        assert_eq!(report["status"]["groupName"], "UNDELIVERABLE");
    }
    let busy = results
        .iter()
        .find(|r| r["messageId"] == ids[0].as_str())
        .expect("busy one");
    assert_eq!(busy["error"]["name"], "EC_VOICE_USER_BUSY");
    assert_eq!(busy["attempts"], 2);
}
both!(used_up_retries_and_permanent_failures_are_undeliverable);

async fn destinations_past_their_validity_expire(server: &TestServer) {
    let ids = launch(server, &["46700000001"], json!({"validityPeriod": 1})).await;
    server.advance(2 * MINUTE);
    let now = server.now();
    let claimed = server
        .storage
        .claim_due("n", now, 10, LEASE)
        .await
        .expect("claim");
    let plan = Scheduler::new(10).next_due(
        jiff::Timestamp::from_millisecond(now).expect("time"),
        0,
        &claimed
            .iter()
            .map(|row| row.candidate())
            .collect::<Vec<_>>(),
    );
    assert_eq!(
        plan.decisions,
        [Decision::Expire {
            message_id: ids[0].clone()
        }]
    );
    assert!(server.storage.expire(&ids[0], now).await.expect("expire"));
    assert!(
        !server.storage.expire(&ids[0], now).await.expect("expire"),
        "once"
    );
    let reports = server
        .call("GET", "/voice/ivr/1/reports", None)
        .await
        .json();
    assert_eq!(reports["results"][0]["status"]["name"], "EXPIRED_EXPIRED");
    assert_eq!(reports["results"][0]["attempts"], 0);
}
both!(destinations_past_their_validity_expire);

async fn a_crash_during_a_call_never_repeats_that_attempt(server: &TestServer) {
    let ids = launch(
        server,
        &["46700000001", "46700000002"],
        json!({"retry": {"minPeriod": 1, "maxPeriod": 1, "maxCount": 1}}),
    )
    .await;
    let storage = &server.storage;
    let now = server.now();
    assert!(
        storage
            .begin_attempt("node-a", &ids[0], 1, now, now + 10 * MINUTE)
            .await
            .expect("begin")
    );
    assert!(
        storage
            .begin_attempt("node-b", &ids[1], 1, now, now + 10 * MINUTE)
            .await
            .expect("begin")
    );
    // node-a restarts: its own call is interrupted at once; node-b's still holds its lease.
    let recovered = storage
        .recover_interrupted("node-a", now + MINUTE)
        .await
        .expect("recover");
    assert_eq!(recovered, [ids[0].clone()]);
    let row = storage.destination(&ids[0]).await.expect("row");
    assert_eq!((row.state.as_str(), row.attempts), ("retry_wait", 1));
    assert!(
        !storage
            .begin_attempt("node-a", &ids[0], 1, now + 2 * MINUTE, now + 3 * MINUTE)
            .await
            .expect("begin")
    );
    assert!(
        storage
            .begin_attempt("node-a", &ids[0], 2, now + 2 * MINUTE, now + 3 * MINUTE)
            .await
            .expect("begin")
    );
    // node-b never came back: once its lease ran out, another node recovers its call.
    let mut recovered = storage
        .recover_interrupted("node-a", now + 11 * MINUTE)
        .await
        .expect("recover");
    recovered.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(recovered, expected);
    let first = storage.destination(&ids[0]).await.expect("row");
    assert_eq!(
        first.state.as_str(),
        "undeliverable",
        "attempt 2 interrupted, retries used up"
    );
}
both!(a_crash_during_a_call_never_repeats_that_attempt);

async fn rows_survive_a_reopen(server: &TestServer) {
    if server.storage.backend() != crate::storage::Backend::Sqlite {
        return;
    }
    let ids = launch(server, &["46700000001"], json!({})).await;
    server.storage.close().await;
    let url = format!("sqlite://{}/db/ivory.db", server.dir.display());
    let reopened = Storage::open(&url).await.expect("reopen");
    let claimed = reopened
        .claim_due("n", server.now(), 10, LEASE)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].message_id, ids[0]);
    reopened.close().await;
}
both!(rows_survive_a_reopen);

async fn two_nodes_never_claim_the_same_row(server: &TestServer) {
    let numbers: Vec<String> = (0..60).map(|n| format!("4670{n:07}")).collect();
    let numbers: Vec<&str> = numbers.iter().map(String::as_str).collect();
    launch(server, &numbers, json!({})).await;
    let second = Storage::open(&server.url).await.expect("second node");
    let now = server.now();
    let (a, b) = tokio::join!(
        server.storage.claim_due("node-a", now, 40, LEASE),
        second.claim_due("node-b", now, 40, LEASE),
    );
    let (a, b) = (a.expect("claim a"), b.expect("claim b"));
    let mut all: Vec<String> = a
        .iter()
        .chain(&b)
        .map(|row| row.message_id.clone())
        .collect();
    assert_eq!(all.len(), 60, "{} + {}", a.len(), b.len());
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 60, "a row was claimed twice");
    second.close().await;
}
both!(two_nodes_never_claim_the_same_row);

/// How the fake callee answers: by the number's last digit and the attempt.
fn callee(to: &str, attempt: u32) -> AttemptOutcome {
    match (to.bytes().last().unwrap_or(b'0') - b'0', attempt) {
        (0..=4, _) => AttemptOutcome::Answered { machine: None },
        (5..=7, 1) => AttemptOutcome::Busy,
        (5..=7, _) => AttemptOutcome::Answered {
            machine: Some(false),
        },
        _ => AttemptOutcome::NoAnswer,
    }
}

/// One worker pass of `node`: claim, decide, call (each call ends at once, as `callee` says).
async fn work(storage: &Storage, scheduler: &mut Scheduler, node: &str, now: i64) {
    let rows = storage
        .claim_due(node, now, 25, LEASE)
        .await
        .expect("claim");
    let candidates: Vec<_> = rows.iter().map(|row| row.candidate()).collect();
    let plan = scheduler.next_due(
        jiff::Timestamp::from_millisecond(now).expect("time"),
        0,
        &candidates,
    );
    for decision in plan.decisions {
        match decision {
            Decision::Call {
                message_id,
                attempt,
            } => {
                if !storage
                    .begin_attempt(node, &message_id, attempt, now, now + MINUTE)
                    .await
                    .expect("begin")
                {
                    continue;
                }
                let to = rows
                    .iter()
                    .find(|row| row.message_id == message_id)
                    .expect("row")
                    .to
                    .clone();
                let outcome = callee(&to, attempt);
                let answered = matches!(outcome, AttemptOutcome::Answered { .. });
                storage
                    .finish_attempt(
                        &message_id,
                        attempt,
                        &AttemptEnd {
                            outcome,
                            sip_code: None,
                            answered_at: answered.then_some(now),
                            ended_at: now + 1_000,
                            summary: CallSummary::default(),
                        },
                    )
                    .await
                    .expect("finish");
            }
            Decision::Expire { message_id } => {
                storage.expire(&message_id, now).await.expect("expire");
            }
            Decision::Defer { message_id, until } => {
                storage
                    .defer(&message_id, until.as_millisecond(), now)
                    .await
                    .expect("defer");
            }
        }
    }
}

async fn a_campaign_on_two_nodes_ends_with_one_report_per_destination(server: &TestServer) {
    let numbers: Vec<String> = (0..120).map(|n| format!("4671{n:07}")).collect();
    let numbers: Vec<&str> = numbers.iter().map(String::as_str).collect();
    let ids = launch(
        server,
        &numbers,
        json!({"retry": {"minPeriod": 1, "maxPeriod": 1, "maxCount": 1}, "sendingSpeed": {"speed": 60, "timeUnit": "MINUTE"}}),
    )
    .await;
    let second = Storage::open(&server.url).await.expect("second node");
    let (mut scheduler_a, mut scheduler_b) = (Scheduler::new(50), Scheduler::new(50));
    for _ in 0..2_000 {
        let depth = server.storage.queue_depth().await.expect("depth");
        if depth.waiting + depth.calling == 0 {
            break;
        }
        let now = server.now();
        tokio::join!(
            work(&server.storage, &mut scheduler_a, "node-a", now),
            work(&second, &mut scheduler_b, "node-b", now),
        );
        server.advance(1_000);
    }
    second.close().await;
    let mut reports = Vec::new();
    loop {
        let page = server
            .call("GET", "/voice/ivr/1/reports?limit=1000", None)
            .await
            .json();
        let page = page["results"].as_array().expect("results").clone();
        if page.is_empty() {
            break;
        }
        reports.extend(page);
    }
    assert_eq!(reports.len(), ids.len(), "one report per destination");
    let mut seen: Vec<&str> = reports
        .iter()
        .map(|r| r["messageId"].as_str().expect("id"))
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), ids.len(), "no destination reported twice");
    for report in &reports {
        let last_digit = report["to"]
            .as_str()
            .expect("to")
            .bytes()
            .last()
            .expect("digit")
            - b'0';
        let (group, attempts) = match last_digit {
            0..=4 => ("DELIVERED", 1),
            5..=7 => ("DELIVERED", 2),
            _ => ("UNDELIVERABLE", 2),
        };
        assert_eq!(report["status"]["groupName"], group, "{report}");
        assert_eq!(report["attempts"], attempts, "{report}");
    }
    // Two nodes at 60 a minute each would be 120 a minute: each paces only what it claims,
    // but neither starts more than one call a second.
    let first_wave = server.now() - START;
    assert!(
        first_wave >= 60_000,
        "the campaign took {first_wave} ms of virtual time"
    );
}
both!(a_campaign_on_two_nodes_ends_with_one_report_per_destination);
