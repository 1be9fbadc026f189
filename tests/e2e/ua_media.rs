//! Calls from the test UA that exercise media: RFC 4733 key presses in their awkward forms,
//! in-band tones, the RTP ivory sends, codecs, hold, and TCP signalling.

use std::time::Duration;

use tokio::time::{Instant, sleep, sleep_until};

use crate::support::audio::{dtmf_tone, silence};
use crate::support::rtp_peer::{EventOptions, RtpPeer};
use crate::support::sdp::Offer;
use crate::support::test_ua::{Call, TestUa, Transport};
use crate::support::{Server, assert_demo_ended_by_ivory, digits};
use crate::{CALL_TIMEOUT, DIGIT_AT, SHORT_TIMEOUT};

/// A call into the demo on 1000 with media flowing: silence from the peer from the start.
struct DemoCall {
    server: Server,
    ua: TestUa,
    peer: RtpPeer,
    call: Call,
    answered_at: Instant,
}

async fn demo_call(
    label: &str,
    transport: Transport,
    offer: impl FnOnce(u16) -> Offer,
) -> DemoCall {
    let server = Server::start(label).await;
    let target = match transport {
        Transport::Udp => server.sip_udp,
        Transport::Tcp => server.sip_tcp,
    };
    let mut ua = TestUa::connect(transport, target).await;
    let peer = RtpPeer::bind().await;
    let sdp = offer(peer.port()).render();
    let call = match ua.call("1000", &sdp, SHORT_TIMEOUT).await {
        Ok(call) => call,
        Err(response) => panic!(
            "the demo call was not answered: {}\nserver stderr:\n{}",
            response.start_line,
            server.stderr_tail()
        ),
    };
    let answered_at = Instant::now();
    peer.start_answered(&call.answer);
    DemoCall {
        server,
        ua,
        peer,
        call,
        answered_at,
    }
}

impl DemoCall {
    /// Waits for ivory's BYE after the demo's goodbye, then for the call log line.
    async fn ended_by_ivory(mut self) -> serde_json::Value {
        let bye = self.ua.wait_for_bye(&self.call, CALL_TIMEOUT).await;
        assert!(
            bye.is_some(),
            "ivory did not hang up the demo call\nserver stderr:\n{}",
            self.server.stderr_tail()
        );
        self.server.single_call(SHORT_TIMEOUT).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc4733_duplicated_packets_and_three_ends_count_once() {
    let demo = demo_call("ua-rfc4733-dup", Transport::Udp, Offer::new).await;
    assert_eq!(
        demo.call.answer.payload_type_of("telephone-event"),
        Some(101),
        "ivory answers telephone-event with the offered payload type: {:?}",
        demo.call.answer
    );
    sleep_until(demo.answered_at + DIGIT_AT).await;
    demo.peer.press(
        '1',
        EventOptions {
            duplicate_packets: true,
            end_repeats: 3,
            ..EventOptions::default()
        },
    );
    demo.peer.flush().await;
    let call = demo.ended_by_ivory().await;
    assert_demo_ended_by_ivory(&call, "1");
    assert_eq!(
        digits(&call),
        vec![("1".to_string(), "rfc4733".to_string())],
        "{call:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc4733_first_end_packets_lost_still_one_digit() {
    let demo = demo_call("ua-rfc4733-lost", Transport::Udp, Offer::new).await;
    sleep_until(demo.answered_at + DIGIT_AT).await;
    demo.peer.press(
        '2',
        EventOptions {
            end_repeats: 3,
            lost_end_packets: 2,
            ..EventOptions::default()
        },
    );
    demo.peer.flush().await;
    let call = demo.ended_by_ivory().await;
    assert_demo_ended_by_ivory(&call, "2");
    assert_eq!(
        digits(&call),
        vec![("2".to_string(), "rfc4733".to_string())],
        "{call:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inband_tone_is_heard_as_a_digit() {
    // No telephone-event offered: the caller can only press keys as tones.
    let demo = demo_call("ua-inband", Transport::Udp, |port| Offer {
        telephone_event: None,
        ..Offer::new(port)
    })
    .await;
    assert_eq!(
        demo.call.answer.payload_type_of("telephone-event"),
        None,
        "{:?}",
        demo.call.answer
    );
    sleep_until(demo.answered_at + DIGIT_AT).await;
    let mut press = dtmf_tone('2', 150);
    press.extend(silence(200));
    demo.peer.play(&press);
    demo.peer.flush().await;
    let call = demo.ended_by_ivory().await;
    assert_demo_ended_by_ivory(&call, "2");
    assert_eq!(
        digits(&call),
        vec![("2".to_string(), "inband".to_string())],
        "{call:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompts_reach_the_caller_at_about_50_packets_per_second() {
    let mut demo = demo_call("ua-rtp-rate", Transport::Udp, Offer::new).await;
    let (first, last) = demo.server.rtp_range;
    let port = demo.call.answer.port;
    assert!(
        (first..=last).contains(&port) && port.is_multiple_of(2),
        "ivory's RTP port {port} is an even port of its range {first}-{last}"
    );
    assert_eq!(
        demo.call.answer.address.to_string(),
        "127.0.0.1",
        "public_address goes into c="
    );
    // Measure while demo-welcome and demo-menu play (the first 7 s).
    sleep(Duration::from_secs(1)).await;
    let (before, from) = (demo.peer.stats(), Instant::now());
    sleep(Duration::from_secs(4)).await;
    let (after, to) = (demo.peer.stats(), Instant::now());
    let received = after.packets - before.packets;
    let expected = (to - from).as_secs_f64() * 50.0;
    eprintln!(
        "received {received} RTP packets in {:?} (expected about {expected:.0}); median inter-arrival {:?}; \
         payload types {:?}; SSRCs {:?}; sources {:?}",
        to - from,
        after.median_inter_arrival(),
        after.by_payload_type,
        after.ssrcs,
        after.sources
    );
    // A count, with a wide margin: a loaded machine may deliver late, not at another rate.
    assert!(
        (received as f64) > expected * 0.5 && (received as f64) < expected * 1.5,
        "ivory should send one 20 ms packet per 20 ms: {received} packets, expected about {expected:.0}"
    );
    let codec = demo.call.answer.first_g711().expect("a G.711 answer");
    assert_eq!(
        after.by_payload_type.keys().copied().collect::<Vec<_>>(),
        vec![codec],
        "prompts are sent in the negotiated codec only"
    );
    assert!(
        after.sources.contains(&demo.call.answer.rtp_address()),
        "RTP comes from the address ivory's SDP names (symmetric RTP): {:?} vs {}",
        after.sources,
        demo.call.answer.rtp_address()
    );
    let bye = demo.ua.bye(&mut demo.call, SHORT_TIMEOUT).await;
    assert_eq!(bye.status(), Some(200), "{}", bye.start_line);
    let call = demo.server.single_call(SHORT_TIMEOUT).await;
    assert_eq!(call["hangupBy"], "caller", "{call:#}");
    assert!(
        call["rtp"]["packetsOut"]
            .as_u64()
            .is_some_and(|n| n >= received),
        "{call:#}"
    );
    assert!(
        call["rtp"]["packetsIn"].as_u64().is_some_and(|n| n > 100),
        "{call:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pcma_only_offer_is_answered_in_pcma() {
    let mut demo = demo_call("ua-pcma", Transport::Udp, |port| Offer {
        codecs: vec![8],
        ..Offer::new(port)
    })
    .await;
    assert_eq!(
        demo.call.answer.first_g711(),
        Some(8),
        "{:?}",
        demo.call.answer
    );
    assert!(
        !demo.call.answer.payload_types.contains(&0),
        "{:?}",
        demo.call.answer
    );
    sleep(Duration::from_secs(2)).await;
    let stats = demo.peer.stats();
    assert!(
        stats.by_payload_type.get(&8).is_some_and(|&n| n > 20),
        "{stats:?}"
    );
    assert_eq!(stats.by_payload_type.get(&0), None, "{stats:?}");
    let bye = demo.ua.bye(&mut demo.call, SHORT_TIMEOUT).await;
    assert_eq!(bye.status(), Some(200), "{}", bye.start_line);
    demo.server.single_call(SHORT_TIMEOUT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_and_unhold_by_reinvite_keep_the_call() {
    let mut demo = demo_call("ua-hold", Transport::Udp, Offer::new).await;
    let port = demo.peer.port();
    sleep(Duration::from_secs(1)).await;

    let hold = Offer {
        direction: "sendonly",
        version: 2,
        ..Offer::new(port)
    };
    let response = demo
        .ua
        .reinvite(&mut demo.call, &hold.render(), SHORT_TIMEOUT)
        .await;
    assert_eq!(
        response.status(),
        Some(200),
        "hold: {}",
        response.start_line
    );
    let direction = demo.call.answer.direction().to_string();
    assert!(
        direction == "recvonly" || direction == "inactive",
        "the answer to sendonly is recvonly or inactive, not {direction}"
    );
    // On hold ivory must not send: allow what was in flight when the 200 left.
    sleep(Duration::from_millis(300)).await;
    let before = demo.peer.stats().packets;
    sleep(Duration::from_secs(1)).await;
    let during_hold = demo.peer.stats().packets - before;
    assert!(
        during_hold < 10,
        "ivory sent {during_hold} RTP packets to a caller on hold"
    );

    let unhold = Offer {
        version: 3,
        ..Offer::new(port)
    };
    let response = demo
        .ua
        .reinvite(&mut demo.call, &unhold.render(), SHORT_TIMEOUT)
        .await;
    assert_eq!(
        response.status(),
        Some(200),
        "unhold: {}",
        response.start_line
    );
    assert_eq!(demo.call.answer.direction(), "sendrecv");

    // Whether ivory paused the prompts on hold or not, a press now and one 2.5 s later land in the
    // collect window; only one can be taken (maxInputLength 1).
    sleep_until(demo.answered_at + DIGIT_AT).await;
    demo.peer.press('1', EventOptions::default());
    demo.peer.flush().await;
    let bye = match demo
        .ua
        .wait_for_bye(&demo.call, Duration::from_millis(2500))
        .await
    {
        Some(bye) => Some(bye),
        None => {
            demo.peer.press('1', EventOptions::default());
            demo.ua.wait_for_bye(&demo.call, CALL_TIMEOUT).await
        }
    };
    assert!(
        bye.is_some(),
        "ivory did not end the call after unhold\n{}",
        demo.server.stderr_tail()
    );
    let call = demo.server.single_call(SHORT_TIMEOUT).await;
    assert_demo_ended_by_ivory(&call, "1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_call_chooses_sales() {
    let demo = demo_call("ua-tcp", Transport::Tcp, Offer::new).await;
    sleep_until(demo.answered_at + DIGIT_AT).await;
    demo.peer.press('1', EventOptions::default());
    demo.peer.flush().await;
    let call = demo.ended_by_ivory().await;
    assert_demo_ended_by_ivory(&call, "1");
    assert_eq!(call["transport"], "tcp", "{call:#}");
}
