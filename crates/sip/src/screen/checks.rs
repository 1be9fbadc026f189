//! Syntax checks on single header values and on the Request-URI (RFC 3261 §25 grammar,
//! only as far as RFC 4475 shows that lenient parsers go wrong). Values come in unfolded.

use std::net::Ipv6Addr;

use super::Defect;
use super::scan::{is_token, is_token_byte, trim};

/// Largest CSeq sequence number (RFC 3261 §8.1.1.5: less than 2**31).
const CSEQ_MAX: u64 = (1 << 31) - 1;
/// Largest Max-Forwards (RFC 3261 §20.22: 0-255).
const MAX_FORWARDS_MAX: u64 = 255;
/// Largest delta-seconds (RFC 3261 §20.19 says 2**32-1 for Expires and its param).
const DELTA_SECONDS_MAX: u64 = u32::MAX as u64;

/// Why a number did not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumberError {
    NotDigits,
    Overflow,
}

/// `1*DIGIT` as a u64, leading zeros allowed (`0068` in RFC 4475 wsinv).
pub(crate) fn parse_digits(bytes: &[u8]) -> Result<u64, NumberError> {
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
        return Err(NumberError::NotDigits);
    }
    bytes.iter().try_fold(0u64, |total, &digit| {
        total
            .checked_mul(10)
            .and_then(|total| total.checked_add(u64::from(digit - b'0')))
            .ok_or(NumberError::Overflow)
    })
}

fn bounded(value: &[u8], max: u64, header: &'static str) -> Result<u64, Defect> {
    match parse_digits(trim(value)) {
        Ok(number) if number <= max => Ok(number),
        Ok(_) | Err(NumberError::Overflow) => Err(Defect::ValueOutOfRange { header }),
        Err(NumberError::NotDigits) => Err(Defect::MalformedHeader { header }),
    }
}

/// `CSeq: 1*DIGIT LWS Method`; returns the method.
pub(crate) fn cseq_method(value: &[u8]) -> Result<&[u8], Defect> {
    let value = trim(value);
    let split = value
        .iter()
        .position(u8::is_ascii_whitespace)
        .ok_or(Defect::MalformedHeader { header: "CSeq" })?;
    bounded(&value[..split], CSEQ_MAX, "CSeq")?;
    let method = trim(&value[split..]);
    if is_token(method) {
        Ok(method)
    } else {
        Err(Defect::MalformedHeader { header: "CSeq" })
    }
}

pub(crate) fn check_max_forwards(value: &[u8]) -> Result<(), Defect> {
    bounded(value, MAX_FORWARDS_MAX, "Max-Forwards").map(drop)
}

pub(crate) fn check_expires(value: &[u8]) -> Result<(), Defect> {
    bounded(value, DELTA_SECONDS_MAX, "Expires").map(drop)
}

/// `Retry-After: delta-seconds [comment] *(;param)`: only the number is checked.
pub(crate) fn check_retry_after(value: &[u8]) -> Result<(), Defect> {
    let value = trim(value);
    let end = value
        .iter()
        .position(|&byte| byte.is_ascii_whitespace() || byte == b'(' || byte == b';')
        .unwrap_or(value.len());
    bounded(&value[..end], DELTA_SECONDS_MAX, "Retry-After").map(drop)
}

/// `Content-Length: 1*DIGIT`.
pub(crate) fn content_length(value: &[u8]) -> Result<u64, Defect> {
    let value = trim(value);
    if value.first() == Some(&b'-') {
        return Err(Defect::NegativeContentLength);
    }
    match parse_digits(value) {
        Ok(length) => Ok(length),
        Err(NumberError::Overflow) => Err(Defect::ValueOutOfRange {
            header: "Content-Length",
        }),
        Err(NumberError::NotDigits) => Err(Defect::MalformedHeader {
            header: "Content-Length",
        }),
    }
}

/// Splits at `separator` where it is outside quoted strings and `<...>`; fails on an
/// unterminated quoted string or an unclosed `<`.
pub(crate) fn split_outside<'a>(
    value: &'a [u8],
    separator: u8,
    header: &'static str,
) -> Result<Vec<&'a [u8]>, Defect> {
    let mut parts = Vec::new();
    let mut in_quotes = false;
    let mut escaped = false;
    let mut in_angle = false;
    let mut part_start = 0;
    for (index, &byte) in value.iter().enumerate() {
        if in_quotes {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_quotes = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' if !in_angle => in_quotes = true,
            b'<' if !in_angle => in_angle = true,
            b'>' if in_angle => in_angle = false,
            _ if byte == separator && !in_angle => {
                parts.push(&value[part_start..index]);
                part_start = index + 1;
            }
            _ => {}
        }
    }
    if in_quotes {
        return Err(Defect::UnterminatedQuote { header });
    }
    if in_angle {
        return Err(Defect::MalformedHeader { header });
    }
    parts.push(&value[part_start..]);
    Ok(parts)
}

/// A `name[=value]` parameter, trimmed.
type Parameter<'a> = (&'a [u8], Option<&'a [u8]>);

/// `;name[=value]` parameters: no empty ones (`;;` in RFC 4475 badinv01), token names.
/// Returns (name, value) pairs, trimmed.
fn parameters<'a>(parts: &[&'a [u8]], header: &'static str) -> Result<Vec<Parameter<'a>>, Defect> {
    parts
        .iter()
        .map(|part| {
            let (name, value) = match part.iter().position(|&byte| byte == b'=') {
                Some(equals) => (trim(&part[..equals]), Some(trim(&part[equals + 1..]))),
                None => (trim(part), None),
            };
            if !is_token(name) || value.is_some_and(<[u8]>::is_empty) {
                return Err(Defect::MalformedHeader { header });
            }
            Ok((name, value))
        })
        .collect()
}

/// `Via: SIP / 2.0 / transport sent-by *(; param)`, comma-separated values.
pub(crate) fn check_via(value: &[u8]) -> Result<(), Defect> {
    const HEADER: &str = "Via";
    let malformed = Defect::MalformedHeader { header: HEADER };
    for via in split_outside(value, b',', HEADER)? {
        let parts = split_outside(via, b';', HEADER)?;
        let (protocol, params) = parts.split_first().ok_or(malformed.clone())?;
        let mut fields = protocol.splitn(3, |&byte| byte == b'/');
        let name = trim(fields.next().unwrap_or_default());
        let version = trim(fields.next().unwrap_or_default());
        let rest = trim(fields.next().unwrap_or_default());
        let transport_end = rest
            .iter()
            .position(u8::is_ascii_whitespace)
            .unwrap_or(rest.len());
        let (transport, sent_by) = rest.split_at(transport_end);
        let sent_by = trim(sent_by);
        if !name.eq_ignore_ascii_case(b"SIP")
            || version != b"2.0"
            || !is_token(transport)
            || sent_by.is_empty()
            || sent_by.iter().any(u8::is_ascii_whitespace)
        {
            return Err(malformed);
        }
        parameters(params, HEADER)?;
    }
    Ok(())
}

/// From, To, Contact (and Reply-To...): `name-addr / addr-spec` with parameters. `multiple`
/// allows comma-separated values and `*` (Contact).
pub(crate) fn check_address(
    value: &[u8],
    header: &'static str,
    multiple: bool,
) -> Result<(), Defect> {
    let values = if multiple {
        split_outside(value, b',', header)?
    } else {
        vec![value]
    };
    for address in values {
        if multiple && trim(address) == b"*" {
            continue;
        }
        let parts = split_outside(address, b';', header)?;
        let (address, params) = parts
            .split_first()
            .ok_or(Defect::MalformedHeader { header })?;
        check_address_part(trim(address), header)?;
        for (name, value) in parameters(params, header)? {
            if name.eq_ignore_ascii_case(b"expires") {
                bounded(value.unwrap_or_default(), DELTA_SECONDS_MAX, header)?;
            }
        }
    }
    Ok(())
}

fn check_address_part(address: &[u8], header: &'static str) -> Result<(), Defect> {
    let malformed = Defect::MalformedHeader { header };
    let Some(open) = angle_open(address) else {
        // addr-spec: RFC 3261 §20 requires <> around a URI holding ',', '?' or ';'.
        let has_scheme = address.iter().position(|&byte| byte == b':').is_some();
        if address.is_empty()
            || !has_scheme
            || address
                .iter()
                .any(|&byte| byte.is_ascii_whitespace() || b"?,<>\"".contains(&byte))
        {
            return Err(malformed);
        }
        return Ok(());
    };
    let display_name = trim(&address[..open]);
    let display_ok = match display_name {
        [] => true,
        [b'"', .., b'"'] => true,
        // Tokens and LWS (RFC 3261 §25.1); bytes above ASCII are let through because
        // phones do send unquoted UTF-8 names, but separators such as ',' are not
        // (RFC 4475 baddn).
        name => name
            .iter()
            .all(|&byte| is_token_byte(byte) || byte == b' ' || byte == b'\t' || !byte.is_ascii()),
    };
    let Some(close_offset) = address[open..].iter().position(|&byte| byte == b'>') else {
        return Err(malformed);
    };
    let close = open + close_offset;
    let uri = &address[open + 1..close];
    // No LWS inside <> (RFC 4475 badaspec), nothing but LWS after it.
    if !display_ok
        || uri.is_empty()
        || uri.iter().any(u8::is_ascii_whitespace)
        || !trim(&address[close + 1..]).is_empty()
    {
        return Err(malformed);
    }
    Ok(())
}

/// Offset of the `<` that opens a name-addr, skipping a quoted display name.
fn angle_open(address: &[u8]) -> Option<usize> {
    let mut in_quotes = false;
    let mut escaped = false;
    for (index, &byte) in address.iter().enumerate() {
        if in_quotes {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_quotes = false,
                _ => {}
            }
        } else if byte == b'"' {
            in_quotes = true;
        } else if byte == b'<' {
            return Some(index);
        }
    }
    None
}

/// Whether a To (or From) value carries a `tag` header parameter.
pub(crate) fn has_tag(value: &[u8]) -> bool {
    let Ok(parts) = split_outside(value, b';', "To") else {
        return false;
    };
    parts.iter().skip(1).any(|part| {
        let name = part.split(|&byte| byte == b'=').next().unwrap_or_default();
        trim(name).eq_ignore_ascii_case(b"tag")
    })
}

/// The Request-URI: what rsipstack's URI parser lets through but a UAS must refuse.
pub(crate) fn check_request_uri(uri: &[u8]) -> Result<(), Defect> {
    let malformed = Defect::MalformedRequestUri;
    if uri
        .iter()
        .any(|&byte| byte <= b' ' || byte == b'<' || byte == b'>')
    {
        return Err(malformed);
    }
    let colon = uri
        .iter()
        .position(|&byte| byte == b':')
        .ok_or(malformed.clone())?;
    let scheme = &uri[..colon];
    let scheme_ok = scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .iter()
            .all(|&byte| byte.is_ascii_alphanumeric() || b"+-.".contains(&byte));
    if !scheme_ok {
        return Err(malformed);
    }
    if scheme.eq_ignore_ascii_case(b"tel") {
        return Ok(());
    }
    if !scheme.eq_ignore_ascii_case(b"sip") && !scheme.eq_ignore_ascii_case(b"sips") {
        return Err(Defect::UnsupportedUriScheme);
    }
    let rest = &uri[colon + 1..];
    // The user part may hold almost anything but '@' (RFC 4475 intmeth), so the host
    // starts after the first '@'.
    let host_and_more = match rest.iter().position(|&byte| byte == b'@') {
        Some(at) => &rest[at + 1..],
        None => rest,
    };
    // URI headers (`?Route=...`) are not allowed in a Request-URI (RFC 4475 escruri).
    if host_and_more.contains(&b'?') {
        return Err(malformed);
    }
    let host_port = host_and_more
        .split(|&byte| byte == b';')
        .next()
        .unwrap_or_default();
    if let Some(bracketed) = host_port.strip_prefix(b"[") {
        let close = bracketed
            .iter()
            .position(|&byte| byte == b']')
            .ok_or(malformed.clone())?;
        let address = std::str::from_utf8(&bracketed[..close]).map_err(|_| malformed.clone())?;
        address.parse::<Ipv6Addr>().map_err(|_| malformed.clone())?;
        let after = &bracketed[close + 1..];
        if !after.is_empty() && port_of(after).is_none() {
            return Err(malformed);
        }
        return Ok(());
    }
    // An IPv6 address must be bracketed (RFC 5118 §4.2): more than one ':' means it was not.
    let colons = host_port.iter().filter(|&&byte| byte == b':').count();
    let host = host_port
        .split(|&byte| byte == b':')
        .next()
        .unwrap_or_default();
    if host.is_empty() || colons > 1 {
        return Err(malformed);
    }
    if colons == 1 && port_of(&host_port[host.len()..]).is_none() {
        return Err(malformed);
    }
    Ok(())
}

/// `:port` as a u16.
fn port_of(bytes: &[u8]) -> Option<u16> {
    let digits = bytes.strip_prefix(b":")?;
    parse_digits(digits)
        .ok()
        .and_then(|port| u16::try_from(port).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_overflow_instead_of_wrapping() {
        assert_eq!(parse_digits(b"0068"), Ok(68));
        assert_eq!(
            parse_digits(b"36893488147419103232"),
            Err(NumberError::Overflow)
        );
        assert_eq!(parse_digits(b"-1"), Err(NumberError::NotDigits));
        assert_eq!(parse_digits(b""), Err(NumberError::NotDigits));
    }

    #[test]
    fn cseq_reads_method_and_bounds_number() {
        assert_eq!(cseq_method(b"0009  INVITE"), Ok(&b"INVITE"[..]));
        assert_eq!(cseq_method(b"2147483647 BYE"), Ok(&b"BYE"[..]));
        assert_eq!(
            cseq_method(b"2147483648 BYE"),
            Err(Defect::ValueOutOfRange { header: "CSeq" })
        );
        assert!(cseq_method(b"INVITE").is_err());
    }

    #[test]
    fn via_values() {
        assert!(check_via(b"SIP  /   2.0 /UDP    192.0.2.2;branch=390skdjuw").is_ok());
        assert!(
            check_via(b"SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=x").is_ok()
        );
        assert!(check_via(b"SIP/2.0/UDP 192.0.2.15;;,;,,").is_err());
        assert!(check_via(b"SIP/2.0/UDP").is_err());
        assert!(check_via(b"SIP/2.0/UDP h;branch=").is_err());
    }

    #[test]
    fn addresses() {
        assert!(
            check_address(
                br#""J Rosenberg \\\""  <sip:j@example.com> ; tag = 9"#,
                "From",
                false
            )
            .is_ok()
        );
        assert!(check_address(b"caller<sip:caller@example.com>;tag=323", "From", false).is_ok());
        assert!(check_address(b"sip:u@example.com;tag=1", "To", false).is_ok());
        assert!(check_address(b"*", "Contact", true).is_ok());
        assert_eq!(
            check_address(br#""Mr. J. User <sip:j.user@example.com>"#, "To", false),
            Err(Defect::UnterminatedQuote { header: "To" })
        );
        assert!(
            check_address(b"Bell, Alexander <sip:a@example.com>;tag=43", "From", false).is_err()
        );
        assert!(check_address(b"\"W\" < sip:t@example.org >", "To", false).is_err());
        assert!(check_address("Jöhn Doe <sip:j@example.com>".as_bytes(), "From", false).is_ok());
        assert!(check_address(b"sip:u@example.com?Route=%3Csip:x%3E", "Contact", true).is_err());
        assert!(check_address(b"<sip:u@h>;expires=280297596632815", "Contact", true).is_err());
        assert!(check_address(b"\"Joe\" <sip:joe@example.org>;;;;", "Contact", true).is_err());
    }

    #[test]
    fn tags() {
        assert!(has_tag(b"sip:u@h ;   tag    = 1918181833n"));
        assert!(!has_tag(b"<sip:u@h;tag=inside-uri>"));
        assert!(!has_tag(b"\"a;tag=b\" <sip:u@h>"));
    }

    #[test]
    fn request_uris() {
        assert!(check_request_uri(b"sip:user@example.com").is_ok());
        assert!(check_request_uri(b"sip:[2001:db8::10]:5070").is_ok());
        assert!(check_request_uri(b"tel:+15551234567").is_ok());
        assert!(check_request_uri(b"sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com").is_ok());
        assert_eq!(
            check_request_uri(b"sip:2001:db8::10"),
            Err(Defect::MalformedRequestUri)
        );
        assert_eq!(
            check_request_uri(b"sip:user@[2001:db8:::192.0.2.1]"),
            Err(Defect::MalformedRequestUri)
        );
        assert_eq!(
            check_request_uri(b"sip:user@example.com?Route=%3Csip:example.com%3E"),
            Err(Defect::MalformedRequestUri)
        );
        assert_eq!(
            check_request_uri(b"<sip:user@example.com>"),
            Err(Defect::MalformedRequestUri)
        );
        assert_eq!(
            check_request_uri(b"soap.beep://192.0.2.103:3002"),
            Err(Defect::UnsupportedUriScheme)
        );
    }
}
