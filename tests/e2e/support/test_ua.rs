//! ivory's own small SIP user agent for end-to-end tests, over plain tokio UDP or TCP, with
//! hand-built SIP text and no dependency on ivory's crates (a bug shared by the server and its
//! test client would otherwise cancel out).
//!
//! It plays a UAC: INVITE (with retransmission over UDP until a response), provisional and final
//! responses, ACK (in the INVITE transaction for non-2xx, a new transaction for 2xx, re-sent when
//! the 2xx is retransmitted), CANCEL, BYE both ways, re-INVITE, OPTIONS, and raw bytes. Messages
//! it is not waiting for are kept in an inbox for a later wait.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::Instant;

use super::message::{SipMessage, header_end};
use super::sdp::AudioStream;

/// How the UA reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    fn via_name(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        }
    }
}

/// An INVITE sent and not yet answered finally.
#[derive(Debug, Clone)]
pub struct Invite {
    pub call_id: String,
    pub from_tag: String,
    pub branch: String,
    pub cseq: u32,
    pub request_uri: String,
    request: Vec<u8>,
}

/// An established dialog (the UA's side of a call).
#[derive(Debug, Clone)]
pub struct Call {
    pub call_id: String,
    pub local_tag: String,
    pub remote_tag: String,
    /// Where in-dialog requests go: the Contact of the 2xx.
    pub remote_target: String,
    /// The To URI (the number called).
    pub remote_uri: String,
    pub local_cseq: u32,
    /// The media the server answered with (updated by re-INVITE).
    pub answer: AudioStream,
}

/// The outcome of waiting for an INVITE's final response.
#[derive(Debug, Clone)]
pub struct InviteOutcome {
    /// Status codes of the provisional responses seen, in order (retransmissions included).
    pub provisional: Vec<u16>,
    pub final_response: SipMessage,
}

pub struct TestUa {
    transport: Transport,
    udp: Option<UdpSocket>,
    tcp: Option<TcpStream>,
    tcp_buffer: Vec<u8>,
    server: SocketAddr,
    local: SocketAddr,
    inbox: VecDeque<SipMessage>,
    /// ACKs sent for 2xx responses, by (Call-ID, CSeq number), to answer a retransmitted 2xx.
    acks: HashMap<(String, u32), Vec<u8>>,
}

/// A process-unique token for branches, tags and Call-IDs. Deterministic: a counter, not random.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    format!(
        "{prefix}{}x{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

impl TestUa {
    pub async fn connect(transport: Transport, server: SocketAddr) -> TestUa {
        let (udp, tcp, local) = match transport {
            Transport::Udp => {
                let socket = UdpSocket::bind("127.0.0.1:0")
                    .await
                    .expect("bind the test UA's UDP socket");
                let local = socket
                    .local_addr()
                    .expect("local address of a bound socket");
                (Some(socket), None, local)
            }
            Transport::Tcp => {
                // No retry: once ivory has printed `ready`, its TCP listener must accept.
                let stream = match TcpStream::connect(server).await {
                    Ok(stream) => stream,
                    Err(error) => panic!("test UA cannot connect TCP to {server}: {error}"),
                };
                let local = stream
                    .local_addr()
                    .expect("local address of a connected socket");
                (None, Some(stream), local)
            }
        };
        TestUa {
            transport,
            udp,
            tcp,
            tcp_buffer: Vec::new(),
            server,
            local,
            inbox: VecDeque::new(),
            acks: HashMap::new(),
        }
    }

    /// Sends bytes as they are: one datagram over UDP, or written to the TCP connection.
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        match (&self.udp, &mut self.tcp) {
            (Some(socket), _) => {
                socket
                    .send_to(bytes, self.server)
                    .await
                    .expect("UDP send to the server");
            }
            (None, Some(stream)) => stream
                .write_all(bytes)
                .await
                .expect("TCP write to the server"),
            (None, None) => unreachable!("a TestUa always has one transport"),
        }
    }

    /// Sends an INVITE for `number` with an SDP offer.
    pub async fn send_invite(&mut self, number: &str, sdp: &str) -> Invite {
        let call_id = unique("call-");
        let from_tag = unique("tag-");
        let branch = unique("z9hG4bK-");
        let request_uri = format!("sip:{number}@{}", self.server);
        let to = format!("<{request_uri}>");
        let request = self.request(RequestParts {
            method: "INVITE",
            request_uri: &request_uri,
            branch: &branch,
            from_tag: &from_tag,
            to: &to,
            call_id: &call_id,
            cseq: 1,
            extra_headers: "Content-Type: application/sdp\r\n",
            body: sdp,
        });
        self.send_raw(&request).await;
        Invite {
            call_id,
            from_tag,
            branch,
            cseq: 1,
            request_uri,
            request,
        }
    }

    /// Waits for the INVITE's final response, re-sending the INVITE over UDP (T1 doubling) until
    /// any response arrives. A non-2xx final is ACKed here; a 2xx is left for [`TestUa::ack`].
    pub async fn await_final(&mut self, invite: &Invite, timeout: Duration) -> InviteOutcome {
        let deadline = Instant::now() + timeout;
        let mut provisional = Vec::new();
        let mut retransmit_interval = Duration::from_millis(500);
        let mut next_retransmit = Some(Instant::now() + retransmit_interval);
        loop {
            let wait_until = match next_retransmit {
                Some(at) if self.transport == Transport::Udp => at.min(deadline),
                _ => deadline,
            };
            let call_id = invite.call_id.clone();
            let cseq = invite.cseq;
            let response = self
                .receive_matching(wait_until, move |m| {
                    m.is_response()
                        && m.call_id() == Some(&call_id)
                        && m.cseq() == Some((cseq, "INVITE".into()))
                })
                .await;
            match response {
                Some(response) => {
                    next_retransmit = None;
                    let status = response.status().unwrap_or(0);
                    if status < 200 {
                        provisional.push(status);
                        continue;
                    }
                    if status >= 300 {
                        self.ack_non_2xx(invite, &response).await;
                    }
                    return InviteOutcome {
                        provisional,
                        final_response: response,
                    };
                }
                None if Instant::now() >= deadline => {
                    panic!(
                        "no final response to INVITE {} within {timeout:?} (provisional: {provisional:?})",
                        invite.call_id
                    )
                }
                None => {
                    self.send_raw(&invite.request.clone()).await;
                    retransmit_interval = (retransmit_interval * 2).min(Duration::from_secs(4));
                    next_retransmit = Some(Instant::now() + retransmit_interval);
                }
            }
        }
    }

    /// Waits for the next response to the INVITE with status `status` (e.g. 180), keeping others.
    pub async fn await_invite_status(
        &mut self,
        invite: &Invite,
        status: u16,
        timeout: Duration,
    ) -> SipMessage {
        let call_id = invite.call_id.clone();
        let cseq = invite.cseq;
        self.receive_matching(Instant::now() + timeout, move |m| {
            m.status() == Some(status)
                && m.call_id() == Some(&call_id)
                && m.cseq() == Some((cseq, "INVITE".into()))
        })
        .await
        .unwrap_or_else(|| {
            panic!(
                "no {status} to INVITE {} within {timeout:?}",
                invite.call_id
            )
        })
    }

    /// ACKs a 2xx and returns the dialog. Panics if the 2xx has no usable SDP answer.
    pub async fn ack(&mut self, invite: &Invite, ok: &SipMessage) -> Call {
        let remote_tag = ok.tag("To").expect("a 2xx to INVITE carries a To tag");
        let remote_target = ok
            .contact_uri()
            .unwrap_or_else(|| invite.request_uri.clone());
        let answer = AudioStream::parse(&ok.body_text()).unwrap_or_else(|| {
            panic!(
                "2xx to INVITE without an audio SDP answer:\n{}",
                ok.body_text()
            )
        });
        let call = Call {
            call_id: invite.call_id.clone(),
            local_tag: invite.from_tag.clone(),
            remote_tag,
            remote_target,
            remote_uri: invite.request_uri.clone(),
            local_cseq: invite.cseq,
            answer,
        };
        self.send_dialog_ack(&call, invite.cseq).await;
        call
    }

    /// INVITE, wait for the final response, ACK it. `Ok(call)` on 2xx, `Err(final)` otherwise.
    pub async fn call(
        &mut self,
        number: &str,
        sdp: &str,
        timeout: Duration,
    ) -> Result<Call, SipMessage> {
        let invite = self.send_invite(number, sdp).await;
        let outcome = self.await_final(&invite, timeout).await;
        if outcome
            .final_response
            .status()
            .is_some_and(|s| (200..300).contains(&s))
        {
            Ok(self.ack(&invite, &outcome.final_response).await)
        } else {
            Err(outcome.final_response)
        }
    }

    /// CANCELs a pending INVITE and returns the response to the CANCEL.
    pub async fn cancel(&mut self, invite: &Invite, timeout: Duration) -> SipMessage {
        let to = format!("<{}>", invite.request_uri);
        let request = self.request(RequestParts {
            method: "CANCEL",
            request_uri: &invite.request_uri,
            branch: &invite.branch,
            from_tag: &invite.from_tag,
            to: &to,
            call_id: &invite.call_id,
            cseq: invite.cseq,
            extra_headers: "",
            body: "",
        });
        self.send_raw(&request).await;
        let call_id = invite.call_id.clone();
        let cseq = invite.cseq;
        self.receive_matching(Instant::now() + timeout, move |m| {
            m.is_response()
                && m.status().is_some_and(|s| s >= 200)
                && m.call_id() == Some(&call_id)
                && m.cseq() == Some((cseq, "CANCEL".into()))
        })
        .await
        .unwrap_or_else(|| panic!("no final response to CANCEL within {timeout:?}"))
    }

    /// Sends BYE and returns its final response.
    pub async fn bye(&mut self, call: &mut Call, timeout: Duration) -> SipMessage {
        call.local_cseq += 1;
        self.in_dialog_request(call, "BYE", "", "", timeout).await
    }

    /// Waits for the server's BYE for this call and answers it 200. `None` on timeout.
    pub async fn wait_for_bye(&mut self, call: &Call, timeout: Duration) -> Option<SipMessage> {
        let call_id = call.call_id.clone();
        let bye = self
            .receive_matching(Instant::now() + timeout, move |m| {
                m.method() == Some("BYE") && m.call_id() == Some(&call_id)
            })
            .await?;
        self.respond(&bye, 200, "OK").await;
        Some(bye)
    }

    /// Sends a re-INVITE with a new offer; ACKs a 2xx and takes its answer. Returns the final.
    pub async fn reinvite(&mut self, call: &mut Call, sdp: &str, timeout: Duration) -> SipMessage {
        call.local_cseq += 1;
        let response = self
            .in_dialog_request(
                call,
                "INVITE",
                "Content-Type: application/sdp\r\n",
                sdp,
                timeout,
            )
            .await;
        if response.status().is_some_and(|s| (200..300).contains(&s)) {
            if let Some(answer) = AudioStream::parse(&response.body_text()) {
                call.answer = answer;
            }
            self.send_dialog_ack(call, call.local_cseq).await;
        }
        response
    }

    /// Sends OPTIONS (out of dialog) to `user` at the server and returns the final response.
    pub async fn options(&mut self, user: &str, timeout: Duration) -> SipMessage {
        let call_id = unique("options-");
        let request_uri = format!("sip:{user}@{}", self.server);
        let to = format!("<{request_uri}>");
        let request = self.request(RequestParts {
            method: "OPTIONS",
            request_uri: &request_uri,
            branch: &unique("z9hG4bK-"),
            from_tag: &unique("tag-"),
            to: &to,
            call_id: &call_id,
            cseq: 1,
            extra_headers: "Accept: application/sdp\r\n",
            body: "",
        });
        self.send_raw(&request).await;
        self.final_response_for(&call_id, timeout)
            .await
            .unwrap_or_else(|| panic!("no final response to OPTIONS within {timeout:?}"))
    }

    /// Sends raw bytes and waits for a final response carrying `call_id`. `None` on timeout.
    pub async fn request_response(
        &mut self,
        raw: &[u8],
        call_id: &str,
        timeout: Duration,
    ) -> Option<SipMessage> {
        self.send_raw(raw).await;
        self.final_response_for(call_id, timeout).await
    }

    /// Answers a request with an empty response.
    pub async fn respond(&mut self, request: &SipMessage, status: u16, reason: &str) {
        let mut text = format!("SIP/2.0 {status} {reason}\r\n");
        for via in request.header_all("Via") {
            text.push_str(&format!("Via: {via}\r\n"));
        }
        for name in ["From", "To", "Call-ID", "CSeq"] {
            if let Some(value) = request.header(name) {
                text.push_str(&format!("{name}: {value}\r\n"));
            }
        }
        text.push_str("Content-Length: 0\r\n\r\n");
        self.send_raw(text.as_bytes()).await;
    }

    /// The `Via` header line this UA puts on a request.
    pub fn via(&self, branch: &str) -> String {
        format!(
            "Via: SIP/2.0/{} {};branch={branch};rport\r\n",
            self.transport.via_name(),
            self.local
        )
    }

    fn contact(&self) -> String {
        match self.transport {
            Transport::Udp => format!("<sip:test@{}>", self.local),
            Transport::Tcp => format!("<sip:test@{};transport=tcp>", self.local),
        }
    }

    fn request(&self, parts: RequestParts<'_>) -> Vec<u8> {
        let mut text = format!("{} {} SIP/2.0\r\n", parts.method, parts.request_uri);
        text.push_str(&self.via(parts.branch));
        text.push_str("Max-Forwards: 70\r\n");
        text.push_str(&format!(
            "From: \"ivory test\" <sip:test@{}>;tag={}\r\n",
            self.local.ip(),
            parts.from_tag
        ));
        text.push_str(&format!("To: {}\r\n", parts.to));
        text.push_str(&format!("Call-ID: {}\r\n", parts.call_id));
        let cseq_method = if parts.method == "ACK" {
            "ACK"
        } else {
            parts.method
        };
        text.push_str(&format!("CSeq: {} {cseq_method}\r\n", parts.cseq));
        if parts.method != "CANCEL" {
            text.push_str(&format!("Contact: {}\r\n", self.contact()));
        }
        text.push_str("User-Agent: ivory-e2e-test-ua\r\n");
        text.push_str(parts.extra_headers);
        text.push_str(&format!("Content-Length: {}\r\n\r\n", parts.body.len()));
        text.push_str(parts.body);
        text.into_bytes()
    }

    async fn ack_non_2xx(&mut self, invite: &Invite, response: &SipMessage) {
        let to = response
            .header("To")
            .map_or_else(|| format!("<{}>", invite.request_uri), str::to_string);
        let request = self.request(RequestParts {
            method: "ACK",
            request_uri: &invite.request_uri,
            branch: &invite.branch,
            from_tag: &invite.from_tag,
            to: &to,
            call_id: &invite.call_id,
            cseq: invite.cseq,
            extra_headers: "",
            body: "",
        });
        self.send_raw(&request).await;
    }

    async fn send_dialog_ack(&mut self, call: &Call, cseq: u32) {
        let to = format!("<{}>;tag={}", call.remote_uri, call.remote_tag);
        let request = self.request(RequestParts {
            method: "ACK",
            request_uri: &call.remote_target,
            branch: &unique("z9hG4bK-"),
            from_tag: &call.local_tag,
            to: &to,
            call_id: &call.call_id,
            cseq,
            extra_headers: "",
            body: "",
        });
        self.acks
            .insert((call.call_id.clone(), cseq), request.clone());
        self.send_raw(&request).await;
    }

    pub async fn in_dialog_request(
        &mut self,
        call: &Call,
        method: &str,
        extra_headers: &str,
        body: &str,
        timeout: Duration,
    ) -> SipMessage {
        let to = format!("<{}>;tag={}", call.remote_uri, call.remote_tag);
        let request = self.request(RequestParts {
            method,
            request_uri: &call.remote_target,
            branch: &unique("z9hG4bK-"),
            from_tag: &call.local_tag,
            to: &to,
            call_id: &call.call_id,
            cseq: call.local_cseq,
            extra_headers,
            body,
        });
        let deadline = Instant::now() + timeout;
        let mut interval = Duration::from_millis(500);
        self.send_raw(&request).await;
        loop {
            let wait_until = match self.transport {
                Transport::Udp => (Instant::now() + interval).min(deadline),
                Transport::Tcp => deadline,
            };
            let call_id = call.call_id.clone();
            let expected = (call.local_cseq, method.to_string());
            let response = self
                .receive_matching(wait_until, move |m| {
                    m.is_response()
                        && m.call_id() == Some(&call_id)
                        && m.cseq().as_ref() == Some(&expected)
                })
                .await;
            match response {
                Some(response) if response.status().is_some_and(|s| s >= 200) => return response,
                // A provisional response stops retransmission of INVITE (Timer A); keep waiting.
                Some(_) => interval = Duration::from_secs(3600),
                None if Instant::now() >= deadline => {
                    panic!("no final response to in-dialog {method} within {timeout:?}")
                }
                None => {
                    self.send_raw(&request).await;
                    interval = (interval * 2).min(Duration::from_secs(4));
                }
            }
        }
    }

    async fn final_response_for(&mut self, call_id: &str, timeout: Duration) -> Option<SipMessage> {
        let call_id = call_id.to_string();
        self.receive_matching(Instant::now() + timeout, move |m| {
            m.status().is_some_and(|s| s >= 200) && m.call_id() == Some(&call_id)
        })
        .await
    }

    /// The first message (inbox first) that `wanted` accepts, before `deadline`. Other messages go
    /// to the inbox, except retransmitted 2xx to an INVITE already ACKed, which get the ACK again.
    async fn receive_matching<F>(&mut self, deadline: Instant, wanted: F) -> Option<SipMessage>
    where
        F: Fn(&SipMessage) -> bool,
    {
        if let Some(position) = self.inbox.iter().position(&wanted) {
            return self.inbox.remove(position);
        }
        loop {
            let message = match tokio::time::timeout_at(deadline, self.read_message()).await {
                Ok(Some(message)) => message,
                Ok(None) => continue,
                Err(_) => return None,
            };
            if let Some(ack) = self.retransmitted_2xx_ack(&message) {
                self.send_raw(&ack).await;
                continue;
            }
            if wanted(&message) {
                return Some(message);
            }
            self.inbox.push_back(message);
        }
    }

    fn retransmitted_2xx_ack(&self, message: &SipMessage) -> Option<Vec<u8>> {
        let status = message.status()?;
        if !(200..300).contains(&status) {
            return None;
        }
        let (cseq, method) = message.cseq()?;
        if method != "INVITE" {
            return None;
        }
        self.acks
            .get(&(message.call_id()?.to_string(), cseq))
            .cloned()
    }

    /// One message off the wire; `None` for bytes that are not a SIP message (keep-alives).
    async fn read_message(&mut self) -> Option<SipMessage> {
        match (&self.udp, &mut self.tcp) {
            (Some(socket), _) => {
                let mut buffer = vec![0u8; 65536];
                let (length, _) = socket.recv_from(&mut buffer).await.expect("UDP receive");
                SipMessage::parse(&buffer[..length])
            }
            (None, Some(stream)) => loop {
                if let Some(message) = take_stream_message(&mut self.tcp_buffer) {
                    return SipMessage::parse(&message);
                }
                let mut chunk = [0u8; 16384];
                let read = stream.read(&mut chunk).await.expect("TCP read");
                if read == 0 {
                    // The server closed the connection: nothing more will come.
                    std::future::pending::<()>().await;
                }
                self.tcp_buffer.extend_from_slice(&chunk[..read]);
            },
            (None, None) => unreachable!("a TestUa always has one transport"),
        }
    }
}

struct RequestParts<'a> {
    method: &'a str,
    request_uri: &'a str,
    branch: &'a str,
    from_tag: &'a str,
    to: &'a str,
    call_id: &'a str,
    cseq: u32,
    extra_headers: &'a str,
    body: &'a str,
}

/// Cuts one message off a stream buffer (RFC 3261 §18.3 framing by Content-Length), skipping
/// CRLF keep-alives. `None` until a whole message is there.
fn take_stream_message(buffer: &mut Vec<u8>) -> Option<Vec<u8>> {
    let leading = buffer
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    buffer.drain(..leading);
    let (_, body_start) = header_end(buffer)?;
    let head = SipMessage::parse(&buffer[..body_start])?;
    let total = body_start + head.content_length().unwrap_or(0);
    if buffer.len() < total {
        return None;
    }
    Some(buffer.drain(..total).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_framing_waits_for_the_body_and_skips_keepalives() {
        let mut buffer = b"\r\n\r\nSIP/2.0 200 OK\r\nContent-Length: 3\r\n\r\nab".to_vec();
        assert!(take_stream_message(&mut buffer).is_none());
        buffer.extend_from_slice(b"cBYE sip:x SIP/2.0\r\nl: 0\r\n\r\n");
        let first = take_stream_message(&mut buffer).expect("first message");
        assert!(first.ends_with(b"abc"));
        let second = take_stream_message(&mut buffer).expect("second message");
        assert!(second.starts_with(b"BYE"));
        assert!(buffer.is_empty());
    }
}
