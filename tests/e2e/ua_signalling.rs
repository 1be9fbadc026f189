//! SIP signalling seen from the test UA: OPTIONS, malformed requests, unknown numbers, CANCEL while
//! ringing, the caller's BYE in the middle of a prompt.

use std::time::Duration;

use tokio::time::sleep;

use crate::SHORT_TIMEOUT;
use crate::support::rtp_peer::RtpPeer;
use crate::support::sdp::Offer;
use crate::support::test_ua::{TestUa, Transport, unique};
use crate::support::{Server, ServerOptions, digits};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_is_answered_200_over_udp_and_tcp() {
    let server = Server::start("ua-options").await;
    for (transport, target) in [
        (Transport::Udp, server.sip_udp),
        (Transport::Tcp, server.sip_tcp),
    ] {
        let mut ua = TestUa::connect(transport, target).await;
        let response = ua.options("1000", SHORT_TIMEOUT).await;
        assert_eq!(
            response.status(),
            Some(200),
            "{transport:?}: {}",
            response.start_line
        );
    }
    assert!(server.calls().is_empty(), "OPTIONS is not a call");
}

/// Requests RFC 4475 calls invalid, each answerable (a good Via), each to be answered 400.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_400() {
    let server = Server::start("ua-400").await;
    let mut ua = TestUa::connect(Transport::Udp, server.sip_udp).await;
    let cases = [
        (
            "CSeq method differs from the request method",
            "CSeq: 1 INVITE\r\n",
            "Content-Length: 0\r\n",
        ),
        (
            "CSeq number is not a number",
            "CSeq: one OPTIONS\r\n",
            "Content-Length: 0\r\n",
        ),
        (
            "negative Content-Length",
            "CSeq: 1 OPTIONS\r\n",
            "Content-Length: -5\r\n",
        ),
    ];
    for (what, cseq, content_length) in cases {
        let call_id = unique("bad-");
        let request = format!(
            "OPTIONS sip:1000@{server} SIP/2.0\r\n{via}Max-Forwards: 70\r\n\
             From: <sip:test@127.0.0.1>;tag={tag}\r\nTo: <sip:1000@{server}>\r\nCall-ID: {call_id}\r\n\
             {cseq}{content_length}\r\n",
            server = server.sip_udp,
            via = ua.via(&unique("z9hG4bK-")),
            tag = unique("tag-"),
        );
        let response = ua
            .request_response(request.as_bytes(), &call_id, SHORT_TIMEOUT)
            .await;
        let status = response.as_ref().and_then(|r| r.status());
        assert_eq!(
            status,
            Some(400),
            "{what}: got {:?}\nserver stderr:\n{}",
            response.map(|r| r.start_line),
            server.stderr_tail()
        );
    }
    // Still serving.
    assert_eq!(ua.options("1000", SHORT_TIMEOUT).await.status(), Some(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_number_gets_404_and_a_call_log_line() {
    let server = Server::start("ua-404").await;
    let mut ua = TestUa::connect(Transport::Udp, server.sip_udp).await;
    let peer = RtpPeer::bind().await;
    let outcome = ua
        .call("9999", &Offer::new(peer.port()).render(), SHORT_TIMEOUT)
        .await;
    let Err(response) = outcome else {
        panic!("a call to an unknown number was answered");
    };
    assert_eq!(response.status(), Some(404), "{}", response.start_line);
    let call = server.single_call(SHORT_TIMEOUT).await;
    assert_eq!(call["status"], 404, "{call:#}");
    assert_eq!(call["hangupReason"], "not-found", "{call:#}");
    assert!(call["answerTime"].is_null(), "{call:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_while_ringing_gets_487() {
    let server = Server::start_with("ua-cancel", ServerOptions::ringing(10_000)).await;
    let mut ua = TestUa::connect(Transport::Udp, server.sip_udp).await;
    let peer = RtpPeer::bind().await;
    let invite = ua
        .send_invite("1000", &Offer::new(peer.port()).render())
        .await;
    ua.await_invite_status(&invite, 180, SHORT_TIMEOUT).await;
    let cancel_response = ua.cancel(&invite, SHORT_TIMEOUT).await;
    assert_eq!(
        cancel_response.status(),
        Some(200),
        "CANCEL: {}",
        cancel_response.start_line
    );
    let outcome = ua.await_final(&invite, SHORT_TIMEOUT).await;
    assert_eq!(
        outcome.final_response.status(),
        Some(487),
        "{}",
        outcome.final_response.start_line
    );
    let call = server.single_call(SHORT_TIMEOUT).await;
    assert_eq!(call["status"], 487, "{call:#}");
    assert_eq!(call["hangupReason"], "cancel", "{call:#}");
    assert_eq!(call["hangupBy"], "caller", "{call:#}");
    assert!(call["answerTime"].is_null(), "{call:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ringing_number_sends_180_then_answers() {
    let server = Server::start_with("ua-ringing", ServerOptions::ringing(1500)).await;
    let mut ua = TestUa::connect(Transport::Udp, server.sip_udp).await;
    let peer = RtpPeer::bind().await;
    let invite = ua
        .send_invite("1000", &Offer::new(peer.port()).render())
        .await;
    let outcome = ua.await_final(&invite, SHORT_TIMEOUT).await;
    assert_eq!(
        outcome.final_response.status(),
        Some(200),
        "{}",
        outcome.final_response.start_line
    );
    assert!(
        outcome.provisional.contains(&180),
        "ringing before the answer: {:?}",
        outcome.provisional
    );
    let mut call = ua.ack(&invite, &outcome.final_response).await;
    let bye = ua.bye(&mut call, SHORT_TIMEOUT).await;
    assert_eq!(bye.status(), Some(200), "{}", bye.start_line);
    let logged = server.single_call(SHORT_TIMEOUT).await;
    assert_eq!(logged["status"], 200, "{logged:#}");
    assert!(logged["answerTime"].is_string(), "{logged:#}");
    assert_ne!(
        logged["answerTime"], logged["startTime"],
        "answered after ringing: {logged:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caller_bye_mid_prompt_ends_the_call() {
    let server = Server::start("ua-bye").await;
    let mut ua = TestUa::connect(Transport::Udp, server.sip_udp).await;
    let peer = RtpPeer::bind().await;
    let mut call = ua
        .call("1000", &Offer::new(peer.port()).render(), SHORT_TIMEOUT)
        .await
        .unwrap_or_else(|r| panic!("not answered: {}\n{}", r.start_line, server.stderr_tail()));
    peer.start_answered(&call.answer);
    // demo-welcome lasts 3.8 s: hang up in the middle of it.
    sleep(Duration::from_millis(1500)).await;
    let bye = ua.bye(&mut call, SHORT_TIMEOUT).await;
    assert_eq!(bye.status(), Some(200), "{}", bye.start_line);
    let logged = server.single_call(SHORT_TIMEOUT).await;
    assert_eq!(logged["status"], 200, "{logged:#}");
    assert_eq!(logged["hangupBy"], "caller", "{logged:#}");
    assert_eq!(logged["hangupReason"], "bye", "{logged:#}");
    assert!(digits(&logged).is_empty(), "{logged:#}");
    // ivory stops sending once the call is over.
    sleep(Duration::from_millis(300)).await;
    let settled = peer.stats().packets;
    sleep(Duration::from_millis(600)).await;
    assert_eq!(
        peer.stats().packets,
        settled,
        "RTP still arrives after the BYE"
    );
}
