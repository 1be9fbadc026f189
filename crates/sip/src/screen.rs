//! Datagram screening: the checks rsipstack's parser lacks, run on every UDP datagram
//! before rsipstack sees it.
//!
//! [`screen_datagram`] is a pure function of the bytes: no state, no clock, no I/O. It is
//! linear in the datagram size, allocates at most a small multiple of it, and never panics.
//! The driver acts on the verdict:
//!
//! - [`Screening::Pass`]: hand the datagram to rsipstack unchanged; it parses.
//! - [`Screening::Rewrite`]: hand these bytes to rsipstack instead: leading CRLFs removed
//!   (RFC 3261 §7.5), octets beyond Content-Length cut off (RFC 4475 dblreq), or a
//!   Content-Length added when the header is absent, since over UDP the body is the rest of
//!   the datagram (RFC 3261 §18.3) while rsipstack would take it as empty.
//! - [`Screening::Reply`]: a complete response to send back to the datagram's source: 400
//!   (with a `Warning` saying what is wrong), 505 for another SIP version, 416 for a
//!   Request-URI scheme other than sip/sips/tel, 501 (with `Allow`) for a well-formed request
//!   with a method rsipstack cannot represent. An ACK is never answered.
//! - [`Screening::Drop`]: keep-alives, garbage, truncated datagrams, malformed responses and
//!   malformed requests without a Via to answer to.
//!
//! What it does not judge: header semantics the application owns (Require, Accept,
//! Content-Type, Request-URI user, Max-Forwards of 0...), transaction matching, and TCP
//! framing.

pub(crate) mod checks;
mod reply;
mod scan;

use std::borrow::Cow;

use rsipstack::sip::SipMessage;

use self::reply::{ReplyContent, Routing, build_reply};
use self::scan::{RawHeader, Scanned, scan};

pub use self::reply::{ALLOWED_METHODS, ALLOWED_METHODS_WITH_REGISTER, allowed_methods};

/// The verdict on one datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Screening {
    /// rsipstack parses the datagram as it is, and it is acceptable.
    Pass,
    /// Acceptable once rewritten: give these bytes to rsipstack instead.
    Rewrite(Vec<u8>),
    /// A malformed or unsupported request: send this response to the datagram's source.
    Reply(Vec<u8>),
    /// Ignore the datagram.
    Drop(DropReason),
}

/// Why a datagram is ignored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DropReason {
    /// Only whitespace (RFC 5626 CRLF keep-alive), or nothing at all.
    #[error("keep-alive")]
    KeepAlive,
    /// No blank line ends the header section: truncated, or not SIP.
    #[error("no end of header section")]
    NoHeaderEnd,
    /// A response that cannot be trusted; responses are never answered.
    #[error("malformed response: {0}")]
    MalformedResponse(Defect),
    /// A malformed request without a Via, so no response can be routed.
    #[error("unanswerable request: {0}")]
    UnroutableRequest(Defect),
    /// A malformed ACK; ACKs are never answered.
    #[error("malformed ACK: {0}")]
    MalformedAck(Defect),
}

/// What is wrong with a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Defect {
    #[error("start line is not valid UTF-8")]
    StartLineNotUtf8,
    #[error("malformed Request-Line")]
    MalformedRequestLine,
    #[error("malformed Status-Line")]
    MalformedStatusLine,
    #[error("SIP version not supported")]
    UnsupportedVersion,
    #[error("header line {line} is not valid UTF-8")]
    HeaderNotUtf8 { line: usize },
    #[error("header line {line} is malformed")]
    MalformedHeaderLine { line: usize },
    #[error("missing {header} header")]
    MissingHeader { header: &'static str },
    #[error("more than one {header} header")]
    DuplicateHeader { header: &'static str },
    #[error("malformed {header} header")]
    MalformedHeader { header: &'static str },
    #[error("{header} value out of range")]
    ValueOutOfRange { header: &'static str },
    #[error("unterminated quoted string in {header}")]
    UnterminatedQuote { header: &'static str },
    #[error("negative Content-Length")]
    NegativeContentLength,
    #[error("Content-Length {declared} exceeds the {available} bytes after the header")]
    ContentLengthTooLarge { declared: u64, available: usize },
    #[error("CSeq method does not match the request method")]
    CseqMethodMismatch,
    #[error("malformed Request-URI")]
    MalformedRequestUri,
    #[error("Request-URI scheme not supported")]
    UnsupportedUriScheme,
    #[error("method not implemented")]
    UnknownMethod,
    #[error("SIP parser rejected the message: {detail}")]
    Unparseable { detail: String },
}

impl Defect {
    /// The status code and reason phrase a request with this defect is answered with.
    pub fn status(&self) -> (u16, &'static str) {
        match self {
            Defect::UnsupportedVersion => (505, "Version Not Supported"),
            Defect::UnsupportedUriScheme => (416, "Unsupported URI Scheme"),
            Defect::UnknownMethod => (501, "Not Implemented"),
            _ => (400, "Bad Request"),
        }
    }
}

/// Judges one UDP datagram; see the module docs for what each verdict asks of the driver.
/// A 501 lists [`ALLOWED_METHODS`]; see [`screen_datagram_allowing`].
pub fn screen_datagram(datagram: &[u8]) -> Screening {
    screen_datagram_allowing(datagram, ALLOWED_METHODS)
}

/// [`screen_datagram`] with the `Allow` list a 501 carries (REGISTER is in it when the
/// registrar is on: see [`allowed_methods`]).
pub fn screen_datagram_allowing(datagram: &[u8], allow: &str) -> Screening {
    if datagram.iter().all(u8::is_ascii_whitespace) {
        return Screening::Drop(DropReason::KeepAlive);
    }
    let leading = datagram
        .iter()
        .position(|&byte| byte != b'\r' && byte != b'\n')
        .unwrap_or(datagram.len());
    let Some(scanned) = scan(&datagram[leading..]) else {
        return Screening::Drop(DropReason::NoHeaderEnd);
    };
    if scanned.start_line.starts_with(b"SIP/") {
        match check_response(&scanned, leading > 0) {
            Ok(verdict) => verdict,
            Err(defect) => Screening::Drop(DropReason::MalformedResponse(defect)),
        }
    } else {
        match check_request(&scanned, leading > 0) {
            Ok(verdict) => verdict,
            Err(defect) => answer(&scanned, defect, allow),
        }
    }
}

/// Headers of which a message carries at most one (RFC 3261 §7.3.1, RFC 4475 multi01).
const SINGLE_HEADERS: [(&str, Option<u8>); 7] = [
    ("From", Some(b'f')),
    ("To", Some(b't')),
    ("Call-ID", Some(b'i')),
    ("CSeq", None),
    ("Max-Forwards", None),
    ("Expires", None),
    ("Content-Type", Some(b'c')),
];

/// Headers every message needs; Max-Forwards is left out because RFC 2543 requests
/// (RFC 4475 inv2543) lack it and must still be accepted.
const MANDATORY_HEADERS: [(&str, Option<u8>); 5] = [
    ("Via", Some(b'v')),
    ("From", Some(b'f')),
    ("To", Some(b't')),
    ("Call-ID", Some(b'i')),
    ("CSeq", None),
];

fn check_request(scanned: &Scanned<'_>, strip_leading: bool) -> Result<Screening, Defect> {
    let method = check_request_line(scanned.start_line)?;
    if let Some(defect) = &scanned.defect {
        return Err(defect.clone());
    }
    let framed = frame(scanned, strip_leading)?;
    check_header_presence(scanned)?;
    if let Some(cseq) = header_values(scanned, "CSeq", None).next()
        && checks::cseq_method(&cseq)? != method
    {
        return Err(Defect::CseqMethodMismatch);
    }
    check_header_values(scanned)?;
    if !is_known_method(method) {
        return Err(Defect::UnknownMethod);
    }
    let bytes = framed.as_deref().unwrap_or(scanned.message);
    match SipMessage::try_from(bytes) {
        Ok(SipMessage::Request(_)) => Ok(verdict(framed)),
        Ok(SipMessage::Response(_)) => Err(Defect::MalformedRequestLine),
        Err(error) => Err(Defect::Unparseable {
            detail: error.to_string(),
        }),
    }
}

/// `Method SP Request-URI SP SIP-Version` with single spaces (RFC 4475 lwsstart, trws,
/// lwsruri, ltgtruri, escruri); returns the method.
fn check_request_line(line: &[u8]) -> Result<&[u8], Defect> {
    if std::str::from_utf8(line).is_err() {
        return Err(Defect::StartLineNotUtf8);
    }
    let mut parts = line.split(|&byte| byte == b' ');
    let (Some(method), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Defect::MalformedRequestLine);
    };
    if !scan::is_token(method) {
        return Err(Defect::MalformedRequestLine);
    }
    if version != b"SIP/2.0" {
        return Err(if version.starts_with(b"SIP/") {
            Defect::UnsupportedVersion
        } else {
            Defect::MalformedRequestLine
        });
    }
    checks::check_request_uri(uri)?;
    Ok(method)
}

fn check_response(scanned: &Scanned<'_>, strip_leading: bool) -> Result<Screening, Defect> {
    let line = scanned.start_line;
    let Some(rest) = line.strip_prefix(b"SIP/2.0 ") else {
        return Err(Defect::UnsupportedVersion);
    };
    let code_ok = match rest {
        [b'1'..=b'6', second, third, tail @ ..] => {
            second.is_ascii_digit()
                && third.is_ascii_digit()
                && matches!(tail.first(), None | Some(b' '))
        }
        _ => false,
    };
    if !code_ok || std::str::from_utf8(line).is_err() {
        return Err(Defect::MalformedStatusLine);
    }
    if let Some(defect) = &scanned.defect {
        return Err(defect.clone());
    }
    let framed = frame(scanned, strip_leading)?;
    check_header_presence(scanned)?;
    if let Some(cseq) = header_values(scanned, "CSeq", None).next() {
        checks::cseq_method(&cseq)?;
    }
    check_header_values(scanned)?;
    for value in header_values(scanned, "Retry-After", None) {
        checks::check_retry_after(&value)?;
    }
    let bytes = framed.as_deref().unwrap_or(scanned.message);
    match SipMessage::try_from(bytes) {
        Ok(SipMessage::Response(_)) => Ok(verdict(framed)),
        Ok(SipMessage::Request(_)) => Err(Defect::MalformedStatusLine),
        Err(error) => Err(Defect::Unparseable {
            detail: error.to_string(),
        }),
    }
}

/// Presence and uniqueness of the header fields rsipstack and the dialog layer rely on.
fn check_header_presence(scanned: &Scanned<'_>) -> Result<(), Defect> {
    for (header, compact) in MANDATORY_HEADERS {
        if !scanned.headers.iter().any(|raw| raw.is(header, compact)) {
            return Err(Defect::MissingHeader { header });
        }
    }
    for (header, compact) in SINGLE_HEADERS {
        if scanned
            .headers
            .iter()
            .filter(|raw| raw.is(header, compact))
            .nth(1)
            .is_some()
        {
            return Err(Defect::DuplicateHeader { header });
        }
    }
    Ok(())
}

/// Syntax of the header values rsipstack and the dialog layer read.
fn check_header_values(scanned: &Scanned<'_>) -> Result<(), Defect> {
    for value in header_values(scanned, "Via", Some(b'v')) {
        checks::check_via(&value)?;
    }
    for (header, compact) in [("From", Some(b'f')), ("To", Some(b't'))] {
        for value in header_values(scanned, header, compact) {
            checks::check_address(&value, header, false)?;
        }
    }
    for value in header_values(scanned, "Contact", Some(b'm')) {
        checks::check_address(&value, "Contact", true)?;
    }
    for value in header_values(scanned, "Max-Forwards", None) {
        checks::check_max_forwards(&value)?;
    }
    for value in header_values(scanned, "Expires", None) {
        checks::check_expires(&value)?;
    }
    Ok(())
}

/// Unfolded values of one header field, in message order (borrowed unless folded).
fn header_values<'a>(
    scanned: &'a Scanned<'_>,
    name: &'a str,
    compact: Option<u8>,
) -> impl Iterator<Item = Cow<'a, [u8]>> + 'a {
    scanned
        .headers
        .iter()
        .filter(move |raw| raw.is(name, compact))
        .map(|raw: &RawHeader<'a>| scan::unfolded(raw.raw_value))
}

/// Applies UDP framing (RFC 3261 §18.3): returns the bytes rsipstack must see when they
/// differ from the datagram, `None` when the datagram is already exact.
fn frame(scanned: &Scanned<'_>, strip_leading: bool) -> Result<Option<Vec<u8>>, Defect> {
    let message = scanned.message;
    let available = message.len() - scanned.body_start;
    let mut lengths = scanned
        .headers
        .iter()
        .filter(|raw| raw.is("Content-Length", Some(b'l')));
    let declared = match (lengths.next(), lengths.next()) {
        (None, _) => None,
        (Some(raw), None) => Some(checks::content_length(raw.raw_value)?),
        (Some(_), Some(_)) => {
            return Err(Defect::DuplicateHeader {
                header: "Content-Length",
            });
        }
    };
    match declared {
        Some(declared) if declared > available as u64 => Err(Defect::ContentLengthTooLarge {
            declared,
            available,
        }),
        Some(declared) if declared < available as u64 => {
            // `declared < available`, so it fits in usize.
            let end = scanned.body_start + usize::try_from(declared).unwrap_or(available);
            Ok(Some(message[..end].to_vec()))
        }
        None if available > 0 => {
            let mut bytes = Vec::with_capacity(message.len() + 32);
            bytes.extend_from_slice(&message[..scanned.header_end + 2]);
            bytes.extend_from_slice(format!("Content-Length: {available}\r\n").as_bytes());
            bytes.extend_from_slice(&message[scanned.header_end + 2..]);
            Ok(Some(bytes))
        }
        _ if strip_leading => Ok(Some(message.to_vec())),
        _ => Ok(None),
    }
}

fn verdict(framed: Option<Vec<u8>>) -> Screening {
    match framed {
        Some(bytes) => Screening::Rewrite(bytes),
        None => Screening::Pass,
    }
}

/// The response to a request with `defect`, or why there is none.
fn answer(scanned: &Scanned<'_>, defect: Defect, allow: &str) -> Screening {
    let method = scanned
        .start_line
        .split(|&byte| byte == b' ')
        .next()
        .unwrap_or_default();
    if method == b"ACK" {
        return Screening::Drop(DropReason::MalformedAck(defect));
    }
    let routing = Routing::collect(&scanned.headers);
    if routing.vias.is_empty() {
        return Screening::Drop(DropReason::UnroutableRequest(defect));
    }
    let (status, reason) = defect.status();
    let warning = defect.to_string();
    Screening::Reply(build_reply(
        &routing,
        &ReplyContent {
            status,
            reason,
            warning: &warning,
            allow: (status == 501).then_some(allow),
        },
    ))
}

/// Methods rsipstack represents (its `Method` enum), in the case RFC 3261 requires:
/// methods are case-sensitive, so `invite` is an unknown method.
fn is_known_method(method: &[u8]) -> bool {
    const KNOWN: [&[u8]; 14] = [
        b"ACK",
        b"BYE",
        b"CANCEL",
        b"INFO",
        b"INVITE",
        b"MESSAGE",
        b"NOTIFY",
        b"OPTIONS",
        b"PRACK",
        b"PUBLISH",
        b"REFER",
        b"REGISTER",
        b"SUBSCRIBE",
        b"UPDATE",
    ];
    KNOWN.contains(&method)
}

#[cfg(test)]
mod tests;
