//! The webhook pusher against a local receiver that is down, then answers 503, then 2xx.
//! The pusher's clock is the test's: back-off waits take no time.

use std::sync::{Arc, Mutex};

use ivory_engine::http_client::HttpClient;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::api::webhooks::{PushOptions, WebhookPusher};
use crate::queue::launch;
use crate::support::{TestServer, both};

/// A receiver on `address` that answers each request with the next status of `statuses`
/// (the last one repeats) and keeps the bodies.
struct Receiver {
    bodies: Arc<Mutex<Vec<(String, String)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start(address: std::net::SocketAddr, statuses: Vec<u16>) -> Receiver {
        let listener = TcpListener::bind(address).await.expect("bind the receiver");
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let seen = bodies.clone();
        let task = tokio::spawn(async move {
            let mut served = 0;
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buffer = [0u8; 8192];
                // Read the head, then as much body as Content-Length says.
                while let Ok(read) = socket.read(&mut buffer).await {
                    if read == 0 {
                        break;
                    }
                    request.extend_from_slice(&buffer[..read]);
                    let text = String::from_utf8_lossy(&request).to_string();
                    if let Some(head_end) = text.find("\r\n\r\n") {
                        let length = text[..head_end]
                            .lines()
                            .find_map(|line| {
                                let lower = line.to_ascii_lowercase();
                                lower
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if request.len() >= head_end + 4 + length {
                            break;
                        }
                    }
                }
                let text = String::from_utf8_lossy(&request).to_string();
                let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
                let content_type = head
                    .lines()
                    .find_map(|line| {
                        line.to_ascii_lowercase()
                            .strip_prefix("content-type:")
                            .map(|v| v.trim().to_string())
                    })
                    .unwrap_or_default();
                seen.lock()
                    .expect("lock")
                    .push((content_type, body.to_string()));
                let status = statuses
                    .get(served)
                    .or(statuses.last())
                    .copied()
                    .unwrap_or(200);
                served += 1;
                let answer = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                socket.write_all(answer.as_bytes()).await.ok();
                socket.shutdown().await.ok();
            }
        });
        Receiver { bodies, task }
    }

    fn bodies(&self) -> Vec<(String, String)> {
        self.bodies.lock().expect("lock").clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn pusher(server: &TestServer) -> WebhookPusher {
    WebhookPusher::new(
        server.storage.clone(),
        HttpClient::new("ivory-test").expect("client"),
        server.metrics.clone(),
        server.state.clock.clone(),
        PushOptions::default(),
    )
}

async fn reports_reach_a_receiver_that_was_down(server: &TestServer) {
    // A port nobody listens on: the receiver is down.
    let address = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address");
    let url = format!("http://{address}/hook");
    let json_ids = launch(
        server,
        &["46700000001", "bad"],
        json!({"notifyUrl": url, "callbackData": "j"}),
    )
    .await;
    let xml_ids = launch(
        server,
        &["bad-too"],
        json!({"notifyUrl": url, "notifyContentType": "application/xml"}),
    )
    .await;
    assert_eq!(
        server.storage.outbox_pending().await.expect("pending"),
        2,
        "the two rejections"
    );
    let pusher = pusher(server);
    assert_eq!(pusher.push_due().await.expect("pass"), 0);
    assert_eq!(
        pusher.push_due().await.expect("pass"),
        0,
        "nothing due before the back-off"
    );
    assert_eq!(server.storage.outbox_pending().await.expect("pending"), 2);

    // Up, but answering 503 once.
    let receiver = Receiver::start(address, vec![503, 200]).await;
    server.advance(1_000);
    let delivered = pusher.push_due().await.expect("pass");
    assert_eq!(delivered, 1, "one 503, one 200");
    server.advance(1_000);
    assert_eq!(
        pusher.push_due().await.expect("pass"),
        0,
        "the 503 waits 2 s after its second try"
    );
    server.advance(1_000);
    assert_eq!(pusher.push_due().await.expect("pass"), 1);
    assert_eq!(server.storage.outbox_pending().await.expect("pending"), 0);

    let bodies = receiver.bodies();
    assert_eq!(bodies.len(), 3);
    let delivered: Vec<&(String, String)> = bodies[1..].iter().collect();
    let json_body = delivered
        .iter()
        .find(|(kind, _)| kind == "application/json")
        .expect("JSON");
    let report: Value = serde_json::from_str(&json_body.1).expect("JSON body");
    assert_eq!(report["results"][0]["messageId"], json_ids[1].as_str());
    assert_eq!(report["results"][0]["callbackData"], "j");
    assert_eq!(report["results"][0]["status"]["groupName"], "REJECTED");
    let xml_body = delivered
        .iter()
        .find(|(kind, _)| kind == "application/xml")
        .expect("XML");
    assert!(xml_body.1.starts_with("<?xml"), "{}", xml_body.1);
    assert!(
        xml_body
            .1
            .contains(&format!("<messageId>{}</messageId>", xml_ids[0]))
    );

    // The report of a call that ends later goes out on the next pass.
    assert!(
        server
            .storage
            .begin_attempt("n", &json_ids[0], 1, server.now(), server.now() + 60_000)
            .await
            .expect("begin")
    );
    crate::queue::end(
        server,
        &json_ids[0],
        1,
        ivory_engine::dialer::AttemptOutcome::NoAnswer,
    )
    .await;
    assert_eq!(pusher.push_due().await.expect("pass"), 1);
    let last = receiver.bodies().last().cloned().expect("a body");
    let report: Value = serde_json::from_str(&last.1).expect("JSON");
    assert_eq!(report["results"][0]["status"]["groupName"], "UNDELIVERABLE");
    assert_eq!(report["results"][0]["error"]["name"], "EC_VOICE_NO_ANSWER");
    let metrics = server.metrics.encode();
    assert!(
        metrics.contains("ivory_webhooks_total{result=\"delivered\"} 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("ivory_webhooks_total{result=\"failed\"} 3"),
        "{metrics}"
    );
}
both!(reports_reach_a_receiver_that_was_down);

async fn a_pusher_gives_up_after_the_limit(server: &TestServer) {
    let address = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address");
    launch(
        server,
        &["bad"],
        json!({"notifyUrl": format!("http://{address}/hook")}),
    )
    .await;
    let pusher = WebhookPusher::new(
        server.storage.clone(),
        HttpClient::new("ivory-test").expect("client"),
        server.metrics.clone(),
        server.state.clock.clone(),
        PushOptions {
            give_up_after: std::time::Duration::from_secs(5),
            ..PushOptions::default()
        },
    );
    for _ in 0..5 {
        pusher.push_due().await.expect("pass");
        server.advance(4_000);
    }
    assert_eq!(server.storage.outbox_pending().await.expect("pending"), 0);
    assert!(
        server
            .metrics
            .encode()
            .contains("ivory_webhooks_total{result=\"abandoned\"} 1")
    );
}
both!(a_pusher_gives_up_after_the_limit);
