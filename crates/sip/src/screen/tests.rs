//! Unit tests of `screen_datagram` on hand-written datagrams; the RFC 4475/5118 corpus is
//! covered by `tests/corpus.rs`.

use super::*;

fn request(method: &str, extra: &str, body: &str) -> Vec<u8> {
    format!(
        "{method} sip:1000@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-1\r\n\
         From: <sip:sipp@127.0.0.1>;tag=1\r\n\
         To: <sip:1000@127.0.0.1>\r\n\
         Call-ID: call-1\r\n\
         CSeq: 1 {method}\r\n\
         Max-Forwards: 70\r\n\
         {extra}\r\n{body}"
    )
    .into_bytes()
}

fn reply_status(screening: &Screening) -> Option<u16> {
    let Screening::Reply(bytes) = screening else {
        return None;
    };
    let text = std::str::from_utf8(bytes).ok()?;
    text.get(8..11)?.parse().ok()
}

#[test]
fn a_plain_request_passes() {
    let datagram = request("OPTIONS", "Content-Length: 0\r\n", "");
    assert_eq!(screen_datagram(&datagram), Screening::Pass);
}

#[test]
fn keep_alives_are_dropped() {
    for datagram in [&b""[..], b"\r\n", b"\r\n\r\n", b"  \t"] {
        assert_eq!(
            screen_datagram(datagram),
            Screening::Drop(DropReason::KeepAlive)
        );
    }
}

#[test]
fn missing_content_length_over_udp_takes_the_rest_of_the_datagram() {
    let datagram = request("INVITE", "", "v=0\r\n");
    let Screening::Rewrite(bytes) = screen_datagram(&datagram) else {
        panic!("expected a rewrite");
    };
    let text = String::from_utf8(bytes.clone()).expect("ascii");
    assert!(text.contains("Content-Length: 5\r\n\r\nv=0\r\n"), "{text}");
    let SipMessage::Request(parsed) = SipMessage::try_from(&bytes[..]).expect("parses") else {
        panic!("expected a request");
    };
    assert_eq!(parsed.body, b"v=0\r\n");
}

#[test]
fn octets_beyond_content_length_are_cut() {
    let datagram = request("OPTIONS", "Content-Length: 2\r\n", "abJUNK");
    let Screening::Rewrite(bytes) = screen_datagram(&datagram) else {
        panic!("expected a rewrite");
    };
    assert!(bytes.ends_with(b"\r\n\r\nab"));
}

#[test]
fn leading_crlf_is_removed() {
    let mut datagram = b"\r\n\r\n".to_vec();
    datagram.extend(request("OPTIONS", "Content-Length: 0\r\n", ""));
    let Screening::Rewrite(bytes) = screen_datagram(&datagram) else {
        panic!("expected a rewrite");
    };
    assert!(bytes.starts_with(b"OPTIONS "));
}

#[test]
fn non_utf8_header_is_answered_400() {
    let mut datagram = request("INVITE", "Subject: ~~\r\nContent-Length: 0\r\n", "");
    let tilde = datagram
        .iter()
        .position(|&byte| byte == b'~')
        .expect("placeholder");
    datagram[tilde] = 0xff;
    datagram[tilde + 1] = 0xfe;
    let screening = screen_datagram(&datagram);
    assert_eq!(reply_status(&screening), Some(400));
    let Screening::Reply(bytes) = screening else {
        unreachable!()
    };
    let text = String::from_utf8(bytes).expect("ascii reply");
    assert!(
        text.contains("Warning: 399 ivory \"header line 8 is not valid UTF-8\""),
        "{text}"
    );
    assert!(text.contains("Call-ID: call-1\r\n"));
    assert!(text.contains("CSeq: 1 INVITE\r\n"));
}

#[test]
fn unknown_and_lowercase_methods_get_501_with_allow() {
    for method in ["FOO", "invite"] {
        let screening = screen_datagram(&request(method, "Content-Length: 0\r\n", ""));
        assert_eq!(reply_status(&screening), Some(501), "{method}");
        let Screening::Reply(bytes) = screening else {
            unreachable!()
        };
        let text = String::from_utf8(bytes).expect("ascii");
        assert!(text.contains(&format!("Allow: {ALLOWED_METHODS}\r\n")));
    }
}

#[test]
fn malformed_ack_is_never_answered() {
    let datagram = request("ACK", "Content-Length: 99\r\n", "");
    assert!(matches!(
        screen_datagram(&datagram),
        Screening::Drop(DropReason::MalformedAck(
            Defect::ContentLengthTooLarge { .. }
        ))
    ));
}

#[test]
fn request_without_via_is_dropped() {
    let datagram = b"OPTIONS sip:a@b SIP/2.0\r\nCSeq: 1 OPTIONS\r\n\r\n";
    assert_eq!(
        screen_datagram(datagram),
        Screening::Drop(DropReason::UnroutableRequest(Defect::MissingHeader {
            header: "Via"
        }))
    );
}

#[test]
fn truncated_and_garbage_datagrams_are_dropped() {
    assert_eq!(
        screen_datagram(b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n"),
        Screening::Drop(DropReason::NoHeaderEnd)
    );
    assert!(matches!(
        screen_datagram(b"\x16\x03\x01\x00\xa5\r\n\r\n"),
        Screening::Drop(DropReason::UnroutableRequest(_))
    ));
}

#[test]
fn responses_with_bad_scalars_are_dropped() {
    let response = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n\
                     To: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 99999999999 INVITE\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(
        screen_datagram(response),
        Screening::Drop(DropReason::MalformedResponse(Defect::ValueOutOfRange {
            header: "CSeq"
        }))
    );
    let fine = String::from_utf8_lossy(response).replace("99999999999", "1");
    assert_eq!(screen_datagram(fine.as_bytes()), Screening::Pass);
}
