//! Outbound campaigns end to end: a scenario created over the API, a launch to a list of numbers
//! through a trunk whose far end is a sipp UAS, delivery reports pulled and pushed to a webhook
//! receiver, and the server killed with SIGKILL in the middle of the campaign.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep};

use crate::support::sipp_uas::SippUas;
use crate::support::{API_KEY, Server, ServerOptions, peer_available};

const DESTINATIONS: usize = 30;

fn numbers() -> Vec<String> {
    (0..DESTINATIONS)
        .map(|index| format!("4670000{index:04}"))
        .collect()
}

/// A webhook receiver on `port`: every request body goes to the channel; answers 200.
async fn webhook_receiver(port: u16) -> mpsc::UnboundedReceiver<Value> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind the webhook port again");
    let (bodies, receiver) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let bodies = bodies.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut chunk = [0u8; 8192];
                loop {
                    let Ok(read) = socket.read(&mut chunk).await else {
                        return;
                    };
                    if read == 0 {
                        return;
                    }
                    request.extend_from_slice(&chunk[..read]);
                    let text = String::from_utf8_lossy(&request).into_owned();
                    let Some((head, body)) = text.split_once("\r\n\r\n") else {
                        continue;
                    };
                    let length = head
                        .lines()
                        .find_map(|line| {
                            let (name, value) = line.split_once(':')?;
                            name.eq_ignore_ascii_case("content-length")
                                .then(|| value.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if body.len() < length {
                        continue;
                    }
                    if let Ok(value) = serde_json::from_str::<Value>(body) {
                        bodies.send(value).ok();
                    }
                    socket
                        .write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                        )
                        .await
                        .ok();
                    return;
                }
            });
        }
    });
    receiver
}

/// Pulls reports until `count` distinct message ids have one, or the timeout passes.
async fn pull_reports(
    server: &Server,
    reports: &mut BTreeMap<String, Vec<Value>>,
    count: usize,
    timeout: Duration,
) {
    let deadline = Instant::now() + timeout;
    while reports.len() < count && Instant::now() < deadline {
        let (status, body) = server
            .http_request("GET", "/voice/ivr/1/reports?limit=100", None, Some(API_KEY))
            .await;
        assert_eq!(status, 200, "{body}");
        for report in body["results"].as_array().cloned().unwrap_or_default() {
            let id = report["messageId"].as_str().unwrap_or_default().to_string();
            reports.entry(id).or_default().push(report);
        }
        sleep(Duration::from_millis(500)).await;
    }
}

/// Per dialled number, the distinct Call-IDs of the INVITEs sipp received.
fn calls_per_number(trace: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut calls: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for message in trace.split("UDP message received") {
        let body = message.trim_start_matches(|c: char| c != '\n').trim_start();
        let Some(rest) = body.strip_prefix("INVITE sip:") else {
            continue;
        };
        let number = rest.split('@').next().unwrap_or_default().to_string();
        let call_id = body
            .lines()
            .find_map(|line| line.strip_prefix("Call-ID:"))
            .unwrap_or_default()
            .trim()
            .to_string();
        calls.entry(number).or_default().insert(call_id);
    }
    calls
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_survives_a_kill_and_every_destination_gets_one_report() {
    if !peer_available("sipp") {
        return;
    }
    let probe = crate::support::TempDir::new("campaign-uas");
    let carrier = SippUas::start_for(
        probe.path(),
        "uas-answer.xml",
        DESTINATIONS as u32,
        &["-d", "300"],
    )
    .await;
    let webhook_port = crate::support::free_port();
    let server = Server::start_with(
        "campaign",
        ServerOptions {
            extra_config: format!(
                "[dialer]\nnode_id = \"e2e\"\nmax_concurrent_calls = 5\n\n[[trunks]]\nname = \"carrier\"\nhost = \"127.0.0.1:{}\"\n",
                carrier.port
            ),
            ..ServerOptions::default()
        },
    )
    .await;
    let (status, created) = server
        .http_request(
            "POST",
            "/voice/ivr/1/scenarios",
            Some(&json!({"name": "campaign", "script": [{"pause": 2}, "hangup"]})),
            Some(API_KEY),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let scenario_id = created["id"].as_str().expect("a scenario id").to_string();
    let launch = json!({"messages": [{
        "scenarioId": scenario_id,
        "from": "46700000000",
        "destinations": numbers().iter().map(|to| json!({"to": to})).collect::<Vec<_>>(),
        "notifyUrl": format!("http://127.0.0.1:{webhook_port}/reports"),
        "notifyContentType": "application/json",
    }]});
    let (status, accepted) = server
        .http_request(
            "POST",
            "/voice/ivr/1/messages",
            Some(&launch),
            Some(API_KEY),
        )
        .await;
    assert_eq!(status, 200, "{accepted}");
    let message_ids: BTreeSet<String> = accepted["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["messageId"].as_str().expect("id").to_string())
        .collect();
    assert_eq!(message_ids.len(), DESTINATIONS);

    // Five calls at a time, 2.3 s each: kill the server when some, not all, are done.
    let mut reports = BTreeMap::new();
    pull_reports(&server, &mut reports, 6, Duration::from_secs(30)).await;
    assert!(
        reports.len() >= 6 && reports.len() < DESTINATIONS,
        "{} reports before the kill\n{}",
        reports.len(),
        server.stderr_tail()
    );
    let server = server.kill_and_restart().await;
    // The webhook receiver was down until now: every report was queued for it.
    let mut pushed = webhook_receiver(webhook_port).await;

    pull_reports(
        &server,
        &mut reports,
        DESTINATIONS,
        Duration::from_secs(120),
    )
    .await;
    assert_eq!(
        reports.keys().cloned().collect::<BTreeSet<_>>(),
        message_ids,
        "every destination has a report\n{}",
        server.stderr_tail()
    );
    for (id, list) in &reports {
        assert_eq!(list.len(), 1, "{id} was reported {} times", list.len());
        let group = list[0]["status"]["groupName"].as_str().unwrap_or_default();
        assert!(
            group == "DELIVERED" || group == "UNDELIVERABLE",
            "{id}: {}",
            list[0]
        );
    }
    let delivered = reports
        .values()
        .filter(|list| list[0]["status"]["groupName"] == "DELIVERED")
        .count();
    assert!(
        delivered >= DESTINATIONS - 5,
        "only calls cut by the kill may fail: {delivered} delivered"
    );

    // No number was called twice: an interrupted attempt is not placed again.
    let trace = std::fs::read_to_string(&carrier.messages_log).unwrap_or_default();
    let calls = calls_per_number(&trace);
    for number in numbers() {
        let placed = calls.get(&number).map_or(0, BTreeSet::len);
        assert!(placed <= 1, "{number} was called {placed} times");
    }

    // Every report reaches the webhook once it is up.
    let mut webhook_ids = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    while webhook_ids.len() < DESTINATIONS && Instant::now() < deadline {
        if let Ok(Some(body)) = tokio::time::timeout(Duration::from_secs(5), pushed.recv()).await {
            for report in body["results"].as_array().cloned().unwrap_or_default() {
                if let Some(id) = report["messageId"].as_str() {
                    webhook_ids.insert(id.to_string());
                }
            }
        }
    }
    assert_eq!(webhook_ids, message_ids, "reports pushed to the webhook");
}
