//! The RFC 4475 and RFC 5118 torture messages through `screen_datagram` (and the SDP ones
//! through `answer_offer`), checked against each message's expected behaviour from the
//! corpus's EXPECTED.tsv. The corpus bytes are verified against SHA256SUMS first.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};

use ivory_sip::screen::{DropReason, Screening, screen_datagram};
use ivory_sip::sdp::{AudioCodec, LocalMedia, SdpError, answer_offer};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use rsipstack::sip::{HeadersExt, SipMessage};
use sha2::{Digest, Sha256};

const CORPORA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpora");
const SUITES: [&str; 2] = ["rfc4475", "rfc5118"];

/// One corpus message with its EXPECTED.tsv row.
struct Message {
    suite: &'static str,
    file: String,
    bytes: Vec<u8>,
    /// `class` column (rfc4475 only; rfc5118 has none).
    class: String,
    behaviour: String,
}

/// What screening must do with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expected {
    /// Pass or Rewrite, and rsipstack parses the result.
    Accept,
    Reply(u16),
    Drop,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut out, byte| {
        let _ = write!(out, "{byte:02x}");
        out
    })
}

/// Reads a suite, failing on any SHA-256 mismatch or on a file missing from a list.
fn load_suite(suite: &'static str) -> Vec<Message> {
    let directory = format!("{CORPORA}/{suite}");
    let sums = std::fs::read_to_string(format!("{directory}/SHA256SUMS"))
        .unwrap_or_else(|error| panic!("cannot read {directory}/SHA256SUMS: {error}"));
    let mut summed = BTreeSet::new();
    for line in sums.lines().filter(|line| !line.trim().is_empty()) {
        let (sum, file) = line.split_once("  ").expect("`<sha256>  <file>` lines");
        let bytes = std::fs::read(format!("{directory}/{file}")).expect("listed file exists");
        let actual = hex(&Sha256::digest(&bytes));
        assert_eq!(
            actual, sum,
            "{suite}/{file}: SHA-256 mismatch: the corpus file was altered (line endings?); \
             expected {sum}, found {actual}"
        );
        summed.insert(file.to_string());
    }
    let expected =
        std::fs::read_to_string(format!("{directory}/EXPECTED.tsv")).expect("EXPECTED.tsv");
    let mut messages = Vec::new();
    for line in expected
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
    {
        let columns: Vec<&str> = line.split('\t').collect();
        let (class, behaviour) = match suite {
            "rfc4475" => (columns[3].to_string(), columns[4].to_string()),
            _ => (String::new(), columns[3].to_string()),
        };
        let file = columns[0].to_string();
        assert!(
            summed.contains(&file),
            "{suite}/{file} is in EXPECTED.tsv but not in SHA256SUMS"
        );
        let bytes = std::fs::read(format!("{directory}/{file}")).expect("message file");
        messages.push(Message {
            suite,
            file,
            bytes,
            class,
            behaviour,
        });
    }
    let listed: BTreeSet<String> = messages
        .iter()
        .map(|message| message.file.clone())
        .collect();
    let on_disk: BTreeSet<String> = std::fs::read_dir(&directory)
        .expect("corpus directory")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".sip"))
        .collect();
    assert_eq!(
        listed, on_disk,
        "{suite}: EXPECTED.tsv and the .sip files differ"
    );
    assert_eq!(
        listed,
        summed.into_iter().filter(|f| f.ends_with(".sip")).collect()
    );
    messages
}

fn all_messages() -> Vec<Message> {
    SUITES.into_iter().flat_map(load_suite).collect()
}

/// The expected screening outcome, read from the TSV row. Where the RFC leaves a choice
/// ("may", "reasonable", "policy"), ivory's choice is written out here.
fn expectation(message: &Message) -> Expected {
    let behaviour = message.behaviour.as_str();
    let policy = match message.file.as_str() {
        // "may reject 400 only if Date matters": ivory ignores Date.
        "baddate.sip" => Some(Expected::Accept),
        // "either 400 or fall back to RFC 2543 matching": rsipstack matches transactions.
        "badbranch.sip" => Some(Expected::Accept),
        // "accept-and-normalise or 400": the 3-colon form is not an IPv6 address (RFC 5954).
        "ipv6-bug-abnf-3-colons.sip" => Some(Expected::Reply(400)),
        _ => None,
    };
    if let Some(policy) = policy {
        return policy;
    }
    match (message.suite, message.class.as_str()) {
        ("rfc5118", _) if behaviour.starts_with("reject, 400") => Expected::Reply(400),
        ("rfc5118", _) => Expected::Accept,
        (_, "valid") if behaviour.contains("501") => Expected::Reply(501),
        (_, "valid") => Expected::Accept,
        (_, "invalid") if behaviour.starts_with("response: discard") => Expected::Drop,
        (_, "invalid") if behaviour.starts_with("505") => Expected::Reply(505),
        (_, "invalid") if behaviour.contains("400") => Expected::Reply(400),
        // The application answers these (420, 415, 406, 401, 405...); the screen only
        // catches what is syntax: missing/duplicate headers and an unusable URI scheme.
        (_, "application") if behaviour.starts_with("400") => Expected::Reply(400),
        (_, "application") if behaviour.starts_with("416") => Expected::Reply(416),
        (_, "application" | "transaction" | "backward-compat") => Expected::Accept,
        (suite, class) => panic!("{suite}/{}: no rule for class {class:?}", message.file),
    }
}

fn reply_status(reply: &[u8]) -> Option<u16> {
    match SipMessage::try_from(reply).ok()? {
        SipMessage::Response(response) => Some(response.status_code.code()),
        SipMessage::Request(_) => None,
    }
}

/// Checks one message; returns a table row and, on failure, why.
fn check(message: &Message) -> (String, Option<String>) {
    let expected = expectation(message);
    let screening = screen_datagram(&message.bytes);
    let outcome = match &screening {
        Screening::Pass => "Pass".to_string(),
        Screening::Rewrite(bytes) => {
            format!("Rewrite ({} -> {} bytes)", message.bytes.len(), bytes.len())
        }
        Screening::Reply(bytes) => {
            let text = String::from_utf8_lossy(bytes);
            let status_line = text.lines().next().unwrap_or_default().to_string();
            let warning = text
                .lines()
                .find_map(|line| line.strip_prefix("Warning: 399 ivory "))
                .unwrap_or_default()
                .to_string();
            format!(
                "Reply {} {warning}",
                status_line.trim_start_matches("SIP/2.0 ")
            )
        }
        Screening::Drop(reason) => format!("Drop ({reason})"),
    };
    let row = format!(
        "{}/{:<32} {:<9} {outcome}",
        message.suite,
        message.file,
        format!("{expected:?}")
    );
    let failure = match (expected, &screening) {
        (Expected::Accept, Screening::Pass | Screening::Rewrite(_)) => {
            let bytes = match &screening {
                Screening::Rewrite(bytes) => bytes.as_slice(),
                _ => message.bytes.as_slice(),
            };
            SipMessage::try_from(bytes)
                .err()
                .map(|error| format!("accepted but rsipstack rejects it: {error}"))
        }
        (Expected::Reply(status), Screening::Reply(bytes)) => check_reply(message, bytes, status),
        (Expected::Drop, Screening::Drop(_)) => None,
        _ => Some(format!("expected {expected:?}")),
    };
    (row, failure)
}

/// A reply parses, has the status, and copies Call-ID and CSeq; its To has a tag.
fn check_reply(message: &Message, reply: &[u8], status: u16) -> Option<String> {
    let Ok(SipMessage::Response(response)) = SipMessage::try_from(reply) else {
        return Some("reply does not parse as a response".into());
    };
    if response.status_code.code() != status {
        return Some(format!(
            "replied {} instead of {status}",
            response.status_code.code()
        ));
    }
    let request_text = String::from_utf8_lossy(&message.bytes);
    let reply_text = String::from_utf8_lossy(reply);
    for header in ["Call-ID: ", "CSeq: "] {
        let in_request = request_text
            .lines()
            .find_map(|line| line.strip_prefix(header));
        let in_reply = reply_text
            .lines()
            .find_map(|line| line.strip_prefix(header));
        if in_request.is_some() && in_request.map(str::trim) != in_reply {
            return Some(format!(
                "{header} not copied: {in_request:?} vs {in_reply:?}"
            ));
        }
    }
    if let Ok(to) = response.to_header()
        && !to.value().contains("tag")
    {
        return Some("To without tag".into());
    }
    if status == 501 && !reply_text.contains("\r\nAllow: ") {
        return Some("501 without Allow".into());
    }
    None
}

#[test]
fn corpus_messages_are_screened_as_expected() {
    let messages = all_messages();
    assert_eq!(messages.len(), 49 + 12);
    let mut table = String::from("file                                       expected  outcome\n");
    let mut failures = Vec::new();
    for message in &messages {
        let (row, failure) = check(message);
        table.push_str(&row);
        if let Some(failure) = &failure {
            let _ = write!(table, "   <-- FAIL: {failure}");
            failures.push(format!("{}/{}: {failure}", message.suite, message.file));
        }
        table.push('\n');
    }
    println!("{table}");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}\n{table}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn dblreq_keeps_the_register_and_drops_the_trailing_invite() {
    let message = std::fs::read(format!("{CORPORA}/rfc4475/dblreq.sip")).expect("dblreq");
    let Screening::Rewrite(bytes) = screen_datagram(&message) else {
        panic!("dblreq must be rewritten");
    };
    let Ok(SipMessage::Request(request)) = SipMessage::try_from(bytes.as_slice()) else {
        panic!("rewritten dblreq parses");
    };
    assert_eq!(request.method, rsipstack::sip::Method::Register);
    assert!(request.body.is_empty());
    assert!(!String::from_utf8_lossy(&bytes).contains("INVITE"));
}

#[test]
fn inv2543_gets_a_content_length_and_keeps_its_body() {
    let message = std::fs::read(format!("{CORPORA}/rfc4475/inv2543.sip")).expect("inv2543");
    let Screening::Rewrite(bytes) = screen_datagram(&message) else {
        panic!("inv2543 must be rewritten");
    };
    let Ok(SipMessage::Request(request)) = SipMessage::try_from(bytes.as_slice()) else {
        panic!("rewritten inv2543 parses");
    };
    assert!(request.body.starts_with(b"v=0\r\n"));
    assert!(request.body.ends_with(b"m=audio 49217 RTP/AVP 0\r\n"));
}

fn local_media() -> LocalMedia {
    LocalMedia {
        address: IpAddr::V4(Ipv4Addr::LOCALHOST),
        rtp_port: 20000,
        session_id: 1,
        session_version: 1,
        codecs: vec![AudioCodec::Pcmu, AudioCodec::Pcma],
    }
}

/// The body rsipstack hands over for an accepted request.
fn accepted_body(bytes: &[u8]) -> Option<Vec<u8>> {
    let bytes = match screen_datagram(bytes) {
        Screening::Pass => bytes.to_vec(),
        Screening::Rewrite(rewritten) => rewritten,
        _ => return None,
    };
    match SipMessage::try_from(bytes.as_slice()).ok()? {
        SipMessage::Request(request) => Some(request.body),
        SipMessage::Response(_) => None,
    }
}

#[test]
fn sdp_bodies_of_accepted_corpus_requests_are_answered() {
    // (file, expected: Some((codec, remote)) or None for an SdpError::NoCommonCodec).
    let cases: [(&str, Option<(AudioCodec, &str)>); 9] = [
        (
            "rfc4475/wsinv.sip",
            Some((AudioCodec::Pcmu, "192.0.2.4:49217")),
        ),
        (
            "rfc4475/esc01.sip",
            Some((AudioCodec::Pcmu, "192.0.2.1:49217")),
        ),
        (
            "rfc4475/longreq.sip",
            Some((AudioCodec::Pcmu, "192.0.2.1:49217")),
        ),
        (
            "rfc4475/baddate.sip",
            Some((AudioCodec::Pcmu, "192.0.2.5:49217")),
        ),
        // 406 comes from the Accept header, not the SDP: the SDP itself is fine.
        (
            "rfc4475/sdp01.sip",
            Some((AudioCodec::Pcmu, "192.0.2.5:49217")),
        ),
        (
            "rfc4475/inv2543.sip",
            Some((AudioCodec::Pcmu, "192.0.2.5:49217")),
        ),
        (
            "rfc5118/mult-ip-in-sdp.sip",
            Some((AudioCodec::Pcmu, "192.0.2.1:22334")),
        ),
        // G726-32 only, over IPv6.
        ("rfc5118/ipv6-in-sdp.sip", None),
        ("rfc5118/ipv4-mapped-ipv6.sip", None),
    ];
    for (file, expected) in cases {
        let bytes = std::fs::read(format!("{CORPORA}/{file}")).expect("corpus file");
        let body = accepted_body(&bytes).unwrap_or_else(|| panic!("{file}: not accepted"));
        let result = answer_offer(&body, &local_media());
        match (expected, result) {
            (Some((codec, remote)), Ok(answer)) => {
                assert_eq!(answer.media.codec, codec, "{file}");
                assert_eq!(
                    answer.media.remote_rtp,
                    Some(remote.parse().unwrap()),
                    "{file}"
                );
                let offer_m_lines = body
                    .split(|&b| b == b'\n')
                    .filter(|l| l.starts_with(b"m="))
                    .count();
                let answer_m_lines = answer.body.lines().filter(|l| l.starts_with("m=")).count();
                assert_eq!(offer_m_lines, answer_m_lines, "{file}: m-line count");
                println!("{file}: {:?} -> {}", answer.media.codec, remote);
            }
            (None, Err(SdpError::NoCommonCodec)) => println!("{file}: NoCommonCodec"),
            (expected, result) => panic!("{file}: expected {expected:?}, got {result:?}"),
        }
    }
}

/// The screen's promises on any input: a Pass/Rewrite parses in rsipstack, a Reply is a
/// parseable error response.
fn assert_screen_contract(bytes: &[u8]) {
    match screen_datagram(bytes) {
        Screening::Pass => assert!(
            SipMessage::try_from(bytes).is_ok(),
            "Pass that does not parse"
        ),
        Screening::Rewrite(rewritten) => {
            assert!(
                SipMessage::try_from(rewritten.as_slice()).is_ok(),
                "Rewrite that does not parse"
            );
        }
        Screening::Reply(reply) => {
            assert!(!bytes.starts_with(b"ACK "), "an ACK was answered");
            let status = reply_status(&reply).expect("Reply parses as a response");
            assert!((400..600).contains(&status));
        }
        Screening::Drop(DropReason::KeepAlive) => {
            assert!(bytes.iter().all(u8::is_ascii_whitespace));
        }
        Screening::Drop(_) => {}
    }
}

#[test]
fn every_truncation_of_every_corpus_message_is_handled() {
    for message in all_messages() {
        for end in 0..=message.bytes.len() {
            let prefix = &message.bytes[..end];
            assert_screen_contract(prefix);
            let _ = answer_offer(prefix, &local_media());
        }
    }
}

fn corpus_bytes() -> &'static [Vec<u8>] {
    static CORPUS: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    CORPUS.get_or_init(|| {
        all_messages()
            .into_iter()
            .map(|message| message.bytes)
            .collect()
    })
}

fn config() -> Config {
    Config {
        cases: 512,
        rng_seed: RngSeed::Fixed(0x1f0a_4475),
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_bytes_never_break_the_screen(bytes in proptest::collection::vec(any::<u8>(), 0..1500)) {
        assert_screen_contract(&bytes);
        let _ = answer_offer(&bytes, &local_media());
    }

    #[test]
    fn mutated_corpus_messages_never_break_the_screen(
        index in 0usize..61,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let corpus = corpus_bytes();
        let mut bytes = corpus[index % corpus.len()].clone();
        for (position, byte) in edits {
            if !bytes.is_empty() {
                let at = position.index(bytes.len());
                bytes[at] = byte;
            }
        }
        assert_screen_contract(&bytes);
        let _ = answer_offer(&bytes, &local_media());
    }
}
