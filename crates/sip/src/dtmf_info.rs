//! DTMF digits carried in SIP INFO bodies.
//!
//! Two formats are in use: `application/dtmf-relay` (`Signal=5\r\nDuration=160`, the de-facto
//! standard from Cisco) and `application/dtmf` (the bare digit, sometimes an event code `0`-`16`).
//! Returns the digit as a character from `0123456789*#ABCD`.

/// The digit an INFO body carries, or `None` when the content type is not a DTMF one or the body
/// holds no valid digit.
pub fn parse_info_digit(content_type: &str, body: &[u8]) -> Option<char> {
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let text = std::str::from_utf8(body).ok()?;
    match media_type.as_str() {
        "application/dtmf-relay" => text.lines().find_map(|line| {
            let (key, value) = line.split_once('=')?;
            key.trim()
                .eq_ignore_ascii_case("signal")
                .then(|| digit_from_token(value.trim()))
                .flatten()
        }),
        "application/dtmf" => digit_from_token(text.trim()),
        _ => None,
    }
}

fn digit_from_token(token: &str) -> Option<char> {
    const DIGITS: &str = "0123456789*#ABCD";
    let mut chars = token.chars();
    let first = chars.next()?;
    if chars.next().is_none() {
        let upper = first.to_ascii_uppercase();
        return DIGITS.contains(upper).then_some(upper);
    }
    // Some gateways send the RFC 4733 event code ("10" for '*', "11" for '#').
    let code: usize = token.parse().ok()?;
    DIGITS.chars().nth(code)
}

#[cfg(test)]
mod tests {
    use super::parse_info_digit;

    #[test]
    fn dtmf_relay_bodies() {
        assert_eq!(
            parse_info_digit("application/dtmf-relay", b"Signal=5\r\nDuration=160\r\n"),
            Some('5')
        );
        assert_eq!(
            parse_info_digit("Application/DTMF-Relay; x=y", b"signal= #\nDuration=100"),
            Some('#')
        );
        assert_eq!(
            parse_info_digit("application/dtmf-relay", b"Signal=11"),
            Some('#')
        );
        assert_eq!(
            parse_info_digit("application/dtmf-relay", b"Duration=100"),
            None
        );
        assert_eq!(
            parse_info_digit("application/dtmf-relay", b"Signal=x"),
            None
        );
    }

    #[test]
    fn dtmf_bodies() {
        assert_eq!(parse_info_digit("application/dtmf", b"*"), Some('*'));
        assert_eq!(parse_info_digit("application/dtmf", b"a\r\n"), Some('A'));
        assert_eq!(parse_info_digit("application/dtmf", b"10"), Some('*'));
        assert_eq!(parse_info_digit("application/dtmf", b"17"), None);
        assert_eq!(parse_info_digit("application/sdp", b"1"), None);
        assert_eq!(parse_info_digit("application/dtmf", &[0xff, 0xfe]), None);
    }
}
