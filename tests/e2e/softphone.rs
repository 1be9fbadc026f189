//! A real softphone, baresip 1.0, calls the demo and presses 1 (RFC 4733 via `sndcode`).

use std::time::Duration;

use tokio::time::{Instant, sleep_until};

use crate::support::baresip::Baresip;
use crate::support::{Server, assert_demo_ended_by_ivory, digits, peer_available, tail};
use crate::{CALL_TIMEOUT, DIGIT_AT, SHORT_TIMEOUT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baresip_presses_1_and_ivory_hangs_up() {
    if !peer_available("baresip") {
        return;
    }
    let server = Server::start("baresip").await;
    let dir = server.dir.path().join("baresip");
    std::fs::create_dir_all(&dir).expect("create baresip's config dir");
    let mut phone = Baresip::start(&dir, Duration::from_secs(90)).await;
    phone
        .command("dial", &format!("sip:1000@{}", server.sip_udp))
        .await;
    let established = phone.wait_event("CALL_ESTABLISHED", SHORT_TIMEOUT).await;
    assert!(
        established.is_some(),
        "baresip's call was not established; events {:#?}\nbaresip log:\n{}\nserver stderr:\n{}",
        phone.received,
        tail(&dir.join("baresip.log"), 40),
        server.stderr_tail()
    );
    sleep_until(Instant::now() + DIGIT_AT).await;
    phone.command("sndcode", "1").await;
    let closed = phone.wait_event("CALL_CLOSED", CALL_TIMEOUT).await;
    assert!(
        closed.is_some(),
        "ivory did not hang up on baresip; events {:#?}\nserver stderr:\n{}",
        phone.received,
        server.stderr_tail()
    );
    phone.stop().await;
    let call = server.single_call(SHORT_TIMEOUT).await;
    assert_demo_ended_by_ivory(&call, "1");
    assert_eq!(
        digits(&call),
        vec![("1".to_string(), "rfc4733".to_string())],
        "{call:#}"
    );
}
