//! Helpers shared by the socket tests: endpoints on 127.0.0.1, bounded waits, a raw UDP peer.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::Duration;

use ivory_sip::{
    InboundCall, Listener, OutboundCall, OutboundEvent, SipConfig, SipEndpoint, TransportKind,
};
use rsipstack::sip::prelude::HeadersExt;
use rsipstack::sip::{Method, Request, SipMessage};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// How long any single step may take before the test fails (real sockets, loaded machine).
pub const STEP: Duration = Duration::from_secs(10);

pub const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n";

pub fn config(transports: &[TransportKind]) -> SipConfig {
    SipConfig {
        listeners: transports
            .iter()
            .map(|&transport| Listener {
                transport,
                address: "127.0.0.1:0".parse().unwrap(),
            })
            .collect(),
        loopback_only: true,
        ..SipConfig::default()
    }
}

pub async fn endpoint(config: SipConfig) -> (SipEndpoint, mpsc::Receiver<InboundCall>) {
    SipEndpoint::bind(config).await.expect("endpoint binds")
}

pub fn address(endpoint: &SipEndpoint, transport: TransportKind) -> SocketAddr {
    endpoint
        .listeners()
        .iter()
        .find(|l| l.transport == transport)
        .expect("listener")
        .address
}

pub async fn next_event(call: &mut OutboundCall) -> OutboundEvent {
    tokio::time::timeout(STEP, call.next_event())
        .await
        .expect("an outbound event in time")
        .expect("the call has more events")
}

/// The next event that is not `Trying`.
pub async fn next_progress(call: &mut OutboundCall) -> OutboundEvent {
    loop {
        match next_event(call).await {
            OutboundEvent::Trying => continue,
            other => return other,
        }
    }
}

pub async fn incoming(calls: &mut mpsc::Receiver<InboundCall>) -> InboundCall {
    tokio::time::timeout(STEP, calls.recv())
        .await
        .expect("an inbound call in time")
        .expect("endpoint running")
}

pub async fn inbound_event(call: &mut InboundCall) -> ivory_sip::CallEvent {
    tokio::time::timeout(STEP, call.next_event())
        .await
        .expect("an inbound event in time")
        .expect("the call has more events")
}

/// Waits (bounded) until `condition` holds; for state that settles asynchronously.
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + STEP;
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A hand-driven SIP peer on a UDP socket.
pub struct RawPeer {
    pub socket: UdpSocket,
}

impl RawPeer {
    pub async fn bind() -> Self {
        Self {
            socket: UdpSocket::bind("127.0.0.1:0").await.unwrap(),
        }
    }

    pub fn address(&self) -> SocketAddr {
        self.socket.local_addr().unwrap()
    }

    /// The next request with `method` (others are skipped), and where it came from.
    pub async fn request(&self, method: Method) -> (Request, SocketAddr) {
        let mut buffer = vec![0u8; 65536];
        loop {
            let (length, from) = tokio::time::timeout(STEP, self.socket.recv_from(&mut buffer))
                .await
                .unwrap_or_else(|_| panic!("no {method} in time"))
                .unwrap();
            if let Ok(SipMessage::Request(request)) = SipMessage::try_from(&buffer[..length])
                && request.method == method
            {
                return (request, from);
            }
        }
    }

    /// The next response (requests are skipped), as text.
    pub async fn response(&self) -> String {
        let mut buffer = vec![0u8; 65536];
        loop {
            let (length, _) = tokio::time::timeout(STEP, self.socket.recv_from(&mut buffer))
                .await
                .expect("a response in time")
                .unwrap();
            let text = String::from_utf8_lossy(&buffer[..length]).to_string();
            if text.starts_with("SIP/2.0 ") {
                return text;
            }
        }
    }

    pub async fn send(&self, text: &str, to: SocketAddr) {
        self.socket.send_to(text.as_bytes(), to).await.unwrap();
    }

    /// A response to `request` with our To tag, a Contact and `extra` header lines.
    pub fn reply_text(&self, request: &Request, status: &str, extra: &str, body: &str) -> String {
        let to = request.to_header().unwrap().value().to_string();
        let to = if to.contains("tag=") {
            to
        } else {
            format!("{to};tag=peer1")
        };
        let vias: String = request
            .headers
            .iter()
            .filter(|h| h.name().eq_ignore_ascii_case("Via"))
            .map(|h| format!("Via: {}\r\n", h.value()))
            .collect();
        format!(
            "SIP/2.0 {status}\r\n{vias}From: {}\r\nTo: {to}\r\nCall-ID: {}\r\nCSeq: {}\r\nContact: <sip:peer@{}>\r\n{extra}Content-Length: {}\r\n\r\n{body}",
            request.from_header().unwrap().value(),
            request.call_id_header().unwrap().value(),
            request.cseq_header().unwrap().value(),
            self.address(),
            body.len()
        )
    }
}

/// A header's value in a message's text, by (case-insensitive) name.
pub fn header<'a>(message: &'a str, name: &str) -> Option<&'a str> {
    message.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then_some(value.trim())
    })
}
