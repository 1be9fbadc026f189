//! RFC 4475 replay: every torture message of `../shared/corpora/rfc4475` sent to a running server
//! as one UDP datagram; afterwards the server must still be running and answer OPTIONS.
//!
//! The messages name hosts like example.com and 192.0.2.x in their Via headers, and a UAS answers
//! to the top Via. So that no reply leaves 127.0.0.1 (see the corpus README), the sent-by of each
//! request's top Via is rewritten to this test's socket; nothing else changes, line folding and
//! odd spacing included. The server also runs with `sip.loopback_only = true`. What the server
//! answered to each message is printed for the reader, not asserted: EXPECTED.tsv allows choices.

use std::path::PathBuf;
use std::time::Duration;

use tokio::net::UdpSocket;

use crate::SHORT_TIMEOUT;
use crate::support::message::{SipMessage, header_end};
use crate::support::test_ua::{TestUa, Transport};
use crate::support::{Server, corpus_dir};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc4475_replay_leaves_the_server_serving() {
    let corpus = corpus_dir("rfc4475");
    check_corpus_digests(&corpus);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .unwrap_or_else(|e| {
            panic!(
                "cannot read the RFC 4475 corpus at {}: {e}",
                corpus.display()
            )
        })
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "sip"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 40,
        "the corpus has {} .sip files",
        files.len()
    );

    let mut server = Server::start("rfc4475").await;
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let sent_by = socket.local_addr().expect("bound").to_string();
    let mut sent = Vec::new();
    let mut answers: Vec<SipMessage> = Vec::new();
    let mut buffer = vec![0u8; 65536];
    for file in &files {
        let original = std::fs::read(file).expect("read a corpus file");
        let datagram = if original.starts_with(b"SIP/") {
            original
        } else {
            rewrite_top_via(&original, &sent_by)
        };
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let call_id = SipMessage::parse(&datagram).and_then(|m| m.call_id().map(str::to_string));
        socket
            .send_to(&datagram, server.sip_udp)
            .await
            .expect("send");
        let wait = Duration::from_millis(250);
        while let Ok(Ok((length, _))) =
            tokio::time::timeout(wait, socket.recv_from(&mut buffer)).await
        {
            answers.extend(SipMessage::parse(&buffer[..length]));
        }
        assert!(
            server.is_running(),
            "ivory exited after {name}\n{}",
            server.stderr_tail()
        );
        sent.push((name, call_id));
    }
    while let Ok(Ok((length, _))) =
        tokio::time::timeout(Duration::from_secs(1), socket.recv_from(&mut buffer)).await
    {
        answers.extend(SipMessage::parse(&buffer[..length]));
    }
    // Attributed by Call-ID; retransmissions (the replay never ACKs) shown once.
    let report: Vec<String> = sent
        .iter()
        .map(|(name, call_id)| {
            let mut lines: Vec<&str> = Vec::new();
            for answer in answers
                .iter()
                .filter(|a| call_id.is_some() && a.call_id() == call_id.as_deref())
            {
                if !lines.contains(&answer.start_line.as_str()) {
                    lines.push(&answer.start_line);
                }
            }
            format!(
                "{name:<16} {}",
                if lines.is_empty() {
                    "-".to_string()
                } else {
                    lines.join(" | ")
                }
            )
        })
        .collect();
    eprintln!(
        "RFC 4475 replay, what ivory answered:\n{}",
        report.join("\n")
    );

    assert!(
        server.is_running(),
        "ivory exited during the replay\n{}",
        server.stderr_tail()
    );
    for transport in [Transport::Udp, Transport::Tcp] {
        let target = if transport == Transport::Udp {
            server.sip_udp
        } else {
            server.sip_tcp
        };
        let mut ua = TestUa::connect(transport, target).await;
        let response = ua.options("1000", SHORT_TIMEOUT).await;
        assert_eq!(
            response.status(),
            Some(200),
            "OPTIONS over {transport:?} after the replay"
        );
    }
}

/// Compares the corpus with its SHA256SUMS when `sha256sum` is installed; a mismatch fails loudly,
/// since the messages' exact bytes are the point.
fn check_corpus_digests(corpus: &std::path::Path) {
    let Ok(output) = std::process::Command::new("sha256sum")
        .args(["--check", "--quiet", "SHA256SUMS"])
        .current_dir(corpus)
        .output()
    else {
        eprintln!("sha256sum not available: corpus bytes not verified");
        return;
    };
    assert!(
        output.status.success(),
        "the RFC 4475 corpus does not match its SHA256SUMS:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Replaces the sent-by (host[:port]) of the first Via header with `sent_by`. Tolerates compact
/// `v:`, any case, spaces before the colon, and LWS (folding included) around the `/` of the
/// protocol. A Via it cannot read is left as it is.
fn rewrite_top_via(message: &[u8], sent_by: &str) -> Vec<u8> {
    let Some((head_end, _)) = header_end(message) else {
        return message.to_vec();
    };
    let head = &message[..head_end];
    let mut line_start = match head.iter().position(|&b| b == b'\n') {
        Some(end) => end + 1,
        None => return message.to_vec(),
    };
    while line_start < head.len() {
        let line_end = head[line_start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(head.len(), |p| line_start + p);
        let line = &head[line_start..line_end];
        if let Some(colon) = line.iter().position(|&b| b == b':') {
            let name = String::from_utf8_lossy(&line[..colon]);
            let name = name.trim();
            let continuation = line.first().is_some_and(|&b| b == b' ' || b == b'\t');
            if !continuation && (name.eq_ignore_ascii_case("via") || name.eq_ignore_ascii_case("v"))
            {
                if let Some((start, end)) = sent_by_span(head, line_start + colon + 1) {
                    let mut rewritten = message[..start].to_vec();
                    rewritten.extend_from_slice(sent_by.as_bytes());
                    rewritten.extend_from_slice(&message[end..]);
                    return rewritten;
                }
                return message.to_vec();
            }
        }
        line_start = line_end + 1;
    }
    message.to_vec()
}

/// Byte range of the sent-by in a Via value starting at `position`:
/// `LWS name LWS "/" LWS version LWS "/" LWS transport LWS sent-by`.
fn sent_by_span(head: &[u8], mut position: usize) -> Option<(usize, usize)> {
    let is_lws = |b: u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let is_token = |b: u8| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b);
    let skip_lws = |position: &mut usize| {
        while *position < head.len() && is_lws(head[*position]) {
            *position += 1;
        }
    };
    let token = |position: &mut usize| -> Option<()> {
        let start = *position;
        while *position < head.len() && is_token(head[*position]) {
            *position += 1;
        }
        (*position > start).then_some(())
    };
    for part in 0..3 {
        skip_lws(&mut position);
        token(&mut position)?;
        skip_lws(&mut position);
        if part < 2 {
            (head.get(position) == Some(&b'/')).then_some(())?;
            position += 1;
        }
    }
    let start = position;
    while position < head.len()
        && !matches!(head[position], b';' | b',' | b' ' | b'\t' | b'\r' | b'\n')
    {
        position += 1;
    }
    (position > start).then_some((start, position))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_a_folded_via_and_leaves_the_rest() {
        let message = b"INVITE sip:x SIP/2.0\r\nTo: a\r\nVia  : SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390\r\n\
v: SIP/2.0/TCP other.example.com\r\n\r\nbody";
        let rewritten = rewrite_top_via(message, "127.0.0.1:5555");
        assert_eq!(
            rewritten,
            b"INVITE sip:x SIP/2.0\r\nTo: a\r\nVia  : SIP  /   2.0\r\n /UDP\r\n    127.0.0.1:5555;branch=390\r\n\
v: SIP/2.0/TCP other.example.com\r\n\r\nbody"
                .to_vec()
        );
    }

    #[test]
    fn compact_via_with_port_and_unreadable_via() {
        let message = b"OPTIONS sip:x SIP/2.0\r\nv: SIP/2.0/UDP host:5060\r\n\r\n";
        assert_eq!(
            rewrite_top_via(message, "127.0.0.1:1"),
            b"OPTIONS sip:x SIP/2.0\r\nv: SIP/2.0/UDP 127.0.0.1:1\r\n\r\n".to_vec()
        );
        let unreadable = b"OPTIONS sip:x SIP/2.0\r\nVia: nonsense\r\n\r\n";
        assert_eq!(
            rewrite_top_via(unreadable, "127.0.0.1:1"),
            unreadable.to_vec()
        );
    }
}

/// Random datagrams, every truncation of a valid INVITE and byte-flipped copies of it: the server
/// must neither exit nor stop answering. A seeded generator keeps failures reproducible.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_and_truncated_datagrams_leave_the_server_serving() {
    let mut server = Server::start("garbage").await;
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let local = socket.local_addr().expect("bound");
    let invite = format!(
        "INVITE sip:9999@{server} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-garbage\r\n\
         Max-Forwards: 70\r\nFrom: <sip:fuzz@{local}>;tag=f1\r\nTo: <sip:9999@{server}>\r\n\
         Call-ID: garbage-1@{local}\r\nCSeq: 1 INVITE\r\nContact: <sip:fuzz@{local}>\r\n\
         Content-Type: application/sdp\r\nContent-Length: 53\r\n\r\n\
         v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n",
        server = server.sip_udp
    )
    .into_bytes();
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut datagrams: Vec<Vec<u8>> = (1..invite.len())
        .step_by(3)
        .map(|n| invite[..n].to_vec())
        .collect();
    for _ in 0..300 {
        let length = (next() % 1400) as usize;
        datagrams.push((0..length).map(|_| next() as u8).collect());
        let mut flipped = invite.clone();
        for _ in 0..(1 + next() % 8) {
            let index = (next() as usize) % flipped.len();
            flipped[index] = next() as u8;
        }
        datagrams.push(flipped);
    }
    for (index, datagram) in datagrams.iter().enumerate() {
        socket
            .send_to(datagram, server.sip_udp)
            .await
            .expect("send");
        if index % 50 == 0 {
            // Drain answers so the socket buffer never fills; their content is not the point.
            let mut buffer = vec![0u8; 65536];
            while let Ok(Ok(_)) =
                tokio::time::timeout(Duration::from_millis(5), socket.recv_from(&mut buffer)).await
            {
            }
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        server.is_running(),
        "ivory exited after {} garbage datagrams\n{}",
        datagrams.len(),
        server.stderr_tail()
    );
    let mut ua = TestUa::connect(Transport::Udp, server.sip_udp).await;
    let response = ua.options("1000", SHORT_TIMEOUT).await;
    assert_eq!(response.status(), Some(200), "OPTIONS after the garbage");
    assert!(
        !server.stderr_tail().contains("panicked"),
        "a task panicked:\n{}",
        server.stderr_tail()
    );
}
