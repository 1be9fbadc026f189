//! Stateless responses to requests that never reach rsipstack (RFC 3261 §8.2.6): the Via,
//! From, To, Call-ID and CSeq values are copied as written; To gets a tag when it has none.

use super::checks::has_tag;
use super::scan::{RawHeader, unfold};

/// The methods ivory answers, as advertised in `Allow` (in a 501, a 405 and the answer to
/// OPTIONS) when the registrar is off.
pub const ALLOWED_METHODS: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO";

/// [`ALLOWED_METHODS`] and REGISTER: the list when users are configured.
pub const ALLOWED_METHODS_WITH_REGISTER: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, REGISTER";

/// The `Allow` list for a configuration: the single source every `Allow` header is written from.
pub fn allowed_methods(registrar_enabled: bool) -> &'static str {
    if registrar_enabled {
        ALLOWED_METHODS_WITH_REGISTER
    } else {
        ALLOWED_METHODS
    }
}

/// The header values a response is built from.
#[derive(Debug, Default)]
pub(crate) struct Routing<'a> {
    pub(crate) vias: Vec<&'a [u8]>,
    pub(crate) from: Option<&'a [u8]>,
    pub(crate) to: Option<&'a [u8]>,
    pub(crate) call_id: Option<&'a [u8]>,
    pub(crate) cseq: Option<&'a [u8]>,
}

impl<'a> Routing<'a> {
    /// The first value of each field (duplicates are themselves a defect; answering with
    /// the first is what RFC 4475 multi01 expects a 400 to look like).
    pub(crate) fn collect(headers: &[RawHeader<'a>]) -> Self {
        let mut routing = Routing::default();
        for header in headers {
            if header.is("Via", Some(b'v')) {
                routing.vias.push(header.raw_value);
            } else if header.is("From", Some(b'f')) {
                routing.from.get_or_insert(header.raw_value);
            } else if header.is("To", Some(b't')) {
                routing.to.get_or_insert(header.raw_value);
            } else if header.is("Call-ID", Some(b'i')) {
                routing.call_id.get_or_insert(header.raw_value);
            } else if header.is("CSeq", None) {
                routing.cseq.get_or_insert(header.raw_value);
            }
        }
        routing
    }
}

/// What the response says beyond the copied fields.
#[derive(Debug)]
pub(crate) struct ReplyContent<'a> {
    pub(crate) status: u16,
    pub(crate) reason: &'a str,
    /// Text for `Warning: 399 ivory "..."`; quotes and control characters are removed.
    pub(crate) warning: &'a str,
    /// The `Allow` value, when the response carries one (501).
    pub(crate) allow: Option<&'a str>,
}

pub(crate) fn build_reply(routing: &Routing<'_>, content: &ReplyContent<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + routing.vias.iter().map(|via| via.len()).sum::<usize>());
    out.extend_from_slice(format!("SIP/2.0 {} {}\r\n", content.status, content.reason).as_bytes());
    for via in &routing.vias {
        push_header(&mut out, "Via", via);
    }
    if let Some(from) = routing.from {
        push_header(&mut out, "From", from);
    }
    if let Some(to) = routing.to {
        let mut to = unfold(to);
        if !has_tag(&to) {
            to.extend_from_slice(format!(";tag=ivs{:016x}", tag_seed(routing)).as_bytes());
        }
        push_header(&mut out, "To", &to);
    }
    if let Some(call_id) = routing.call_id {
        push_header(&mut out, "Call-ID", call_id);
    }
    if let Some(cseq) = routing.cseq {
        push_header(&mut out, "CSeq", cseq);
    }
    if let Some(allow) = content.allow {
        push_header(&mut out, "Allow", allow.as_bytes());
    }
    let warning: String = content
        .warning
        .chars()
        .filter(|character| *character != '"' && *character != '\\' && !character.is_control())
        .take(200)
        .collect();
    push_header(
        &mut out,
        "Warning",
        format!("399 ivory \"{warning}\"").as_bytes(),
    );
    out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
    out
}

fn push_header(out: &mut Vec<u8>, name: &str, raw_value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend(
        raw_value
            .iter()
            .copied()
            .filter(|&byte| byte != b'\r' && byte != b'\n'),
    );
    out.extend_from_slice(b"\r\n");
}

/// A To tag that is the same for every retransmission of the request (RFC 3261 §8.2.6.2),
/// without randomness: FNV-1a over the transaction's identifying fields.
fn tag_seed(routing: &Routing<'_>) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let fields = routing
        .vias
        .first()
        .into_iter()
        .chain(routing.from.iter())
        .chain(routing.call_id.iter())
        .chain(routing.cseq.iter());
    for field in fields {
        for &byte in field.iter().chain(b"\0") {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_copies_fields_and_adds_a_stable_tag() {
        let routing = Routing {
            vias: vec![b"SIP/2.0/UDP a;branch=z9hG4bK1", b"SIP/2.0/UDP b"],
            from: Some(b"<sip:a@b>;tag=1"),
            to: Some(b"<sip:c@d>"),
            call_id: Some(b"abc"),
            cseq: Some(b"1 NEWMETHOD"),
        };
        let content = ReplyContent {
            status: 501,
            reason: "Not Implemented",
            warning: "unknown \"method\"",
            allow: Some(ALLOWED_METHODS),
        };
        let first = build_reply(&routing, &content);
        assert_eq!(first, build_reply(&routing, &content));
        let text = String::from_utf8(first).expect("ascii");
        assert!(text.starts_with("SIP/2.0 501 Not Implemented\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nVia: SIP/2.0/UDP b\r\n"));
        assert!(text.contains("\r\nTo: <sip:c@d>;tag=ivs"));
        assert!(text.contains(&format!("\r\nAllow: {ALLOWED_METHODS}\r\n")));
        assert!(text.contains("\r\nWarning: 399 ivory \"unknown method\"\r\n"));
        assert!(text.ends_with("Content-Length: 0\r\n\r\n"));
    }

    #[test]
    fn the_register_list_extends_the_plain_one() {
        assert_eq!(allowed_methods(false), ALLOWED_METHODS);
        assert_eq!(
            allowed_methods(true),
            format!("{ALLOWED_METHODS}, REGISTER")
        );
    }
}
