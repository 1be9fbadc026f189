//! A work-around for rsipstack 0.7.14's spelling of the SHA-256 digest algorithm.
//!
//! RFC 7616 and RFC 8760 name it `SHA-256` (and `SHA-256-sess`). rsipstack parses and writes
//! `SHA256`: a challenge with `algorithm=SHA-256` fails to parse, so the INVITE or REGISTER is
//! never retried with credentials. The hash rsipstack computes is the right one; only the name is
//! off. So, on UDP, the screening socket renames the algorithm in the challenge headers of
//! incoming responses ([`incoming`]: `SHA-256` → `SHA256`) and back in the credential headers of
//! outgoing requests ([`outgoing`]: `SHA256` → `SHA-256`). Over TCP (not screened), a SHA-256
//! challenge still fails the request; MD5 works on both.
//!
//! Pure functions of the bytes; `None` when nothing is to change (the common case, found by one
//! scan for `sha`).

const CHALLENGE_HEADERS: [&str; 2] = ["WWW-Authenticate", "Proxy-Authenticate"];
const CREDENTIAL_HEADERS: [&str; 2] = ["Authorization", "Proxy-Authorization"];

/// The incoming message with `SHA-256` renamed for rsipstack in challenge headers, if any.
pub fn incoming(message: &[u8]) -> Option<Vec<u8>> {
    rename(message, &CHALLENGE_HEADERS, "SHA-256", "SHA256")
}

/// The outgoing message with rsipstack's `SHA256` renamed to the RFC name in credential
/// headers, if any.
pub fn outgoing(message: &[u8]) -> Option<Vec<u8>> {
    rename(message, &CREDENTIAL_HEADERS, "SHA256", "SHA-256")
}

fn rename(message: &[u8], headers: &[&str], from: &str, to: &str) -> Option<Vec<u8>> {
    if !message
        .windows(3)
        .any(|window| window.eq_ignore_ascii_case(b"sha"))
    {
        return None;
    }
    let header_end = find(message, b"\r\n\r\n")?;
    let mut out = Vec::with_capacity(message.len() + 8);
    let mut changed = false;
    let mut position = 0;
    while position < header_end {
        let line_end = find(&message[position..header_end], b"\r\n")
            .map_or(header_end, |offset| position + offset);
        let line = &message[position..line_end];
        match rename_in_line(line, headers, from, to) {
            Some(renamed) => {
                out.extend_from_slice(&renamed);
                changed = true;
            }
            None => out.extend_from_slice(line),
        }
        out.extend_from_slice(b"\r\n");
        position = line_end + 2;
    }
    if !changed {
        return None;
    }
    // `out` ends with the CRLF of the last header line; the blank line and body follow.
    out.extend_from_slice(&message[header_end + 2..]);
    Some(out)
}

/// The header line with `algorithm=<from>` (quoted or not, any case) replaced, when the line is
/// one of `headers`.
fn rename_in_line(line: &[u8], headers: &[&str], from: &str, to: &str) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(line).ok()?;
    let (name, value) = text.split_once(':')?;
    if !headers
        .iter()
        .any(|header| name.trim().eq_ignore_ascii_case(header))
    {
        return None;
    }
    let lower = value.to_ascii_lowercase();
    let mut result = String::with_capacity(value.len() + 4);
    let mut cursor = 0;
    let mut changed = false;
    while let Some(found) = lower[cursor..].find("algorithm") {
        let start = cursor + found;
        let after_name = start + "algorithm".len();
        let rest = &lower[after_name..];
        let trimmed = rest.trim_start_matches([' ', '\t']);
        let Some(after_equals) = trimmed.strip_prefix('=') else {
            result.push_str(&value[cursor..after_name]);
            cursor = after_name;
            continue;
        };
        let spaces = after_equals.len() - after_equals.trim_start_matches([' ', '\t']).len();
        let mut value_start = lower.len() - after_equals.len() + spaces;
        let quoted = lower[value_start..].starts_with('"');
        if quoted {
            value_start += 1;
        }
        let token_end = lower[value_start..]
            .find(|c: char| c == '"' || c == ',' || c.is_ascii_whitespace())
            .map_or(lower.len(), |offset| value_start + offset);
        let token = &lower[value_start..token_end];
        let from_lower = from.to_ascii_lowercase();
        let replacement = if token == from_lower {
            Some(to.to_string())
        } else if token == format!("{from_lower}-sess") {
            Some(format!("{to}-sess"))
        } else {
            None
        };
        result.push_str(&value[cursor..value_start]);
        match replacement {
            Some(replacement) => {
                result.push_str(&replacement);
                changed = true;
            }
            None => result.push_str(&value[value_start..token_end]),
        }
        cursor = token_end;
    }
    if !changed {
        return None;
    }
    result.push_str(&value[cursor..]);
    Some(format!("{name}:{result}").into_bytes())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHALLENGE: &str = "SIP/2.0 407 Proxy Authentication Required\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\nProxy-Authenticate: Digest realm=\"c\", nonce=\"SHA-256\", algorithm=SHA-256, qop=\"auth\"\r\nContent-Length: 4\r\n\r\nbody";

    #[test]
    fn challenges_are_renamed_for_rsipstack() {
        let renamed = incoming(CHALLENGE.as_bytes()).expect("changed");
        let text = String::from_utf8(renamed).expect("utf-8");
        assert_eq!(
            text,
            CHALLENGE.replace("algorithm=SHA-256", "algorithm=SHA256")
        );
        // The nonce that happens to read SHA-256 is left alone.
        assert!(text.contains("nonce=\"SHA-256\""));
    }

    #[test]
    fn credentials_are_renamed_back() {
        let request = "INVITE sip:a@b SIP/2.0\r\nProxy-Authorization: Digest username=\"u\", algorithm=\"sha256-sess\", response=\"x\"\r\nAuthorization: Digest algorithm = SHA256,uri=\"sip:a@b\"\r\nContent-Length: 0\r\n\r\n";
        let renamed =
            String::from_utf8(outgoing(request.as_bytes()).expect("changed")).expect("utf-8");
        assert!(renamed.contains("algorithm=\"SHA-256-sess\""));
        assert!(renamed.contains("algorithm = SHA-256,uri"));
        assert!(renamed.ends_with("Content-Length: 0\r\n\r\n"));
    }

    #[test]
    fn other_messages_are_untouched() {
        assert_eq!(incoming(b"OPTIONS sip:a SIP/2.0\r\nVia: x\r\n\r\n"), None);
        let md5 = CHALLENGE.replace("SHA-256", "MD5");
        assert_eq!(incoming(md5.as_bytes()), None);
        // Only challenge headers are renamed on the way in, credential headers on the way out.
        assert_eq!(outgoing(CHALLENGE.as_bytes()), None);
        let sha_elsewhere = "SIP/2.0 200 OK\r\nX-Algorithm: algorithm=SHA-256\r\n\r\n";
        assert_eq!(incoming(sha_elsewhere.as_bytes()), None);
        assert_eq!(incoming(b"sha without header end"), None);
        assert_eq!(
            incoming(&[0xff, b's', b'h', b'a', b'\r', b'\n', b'\r', b'\n']),
            None
        );
    }
}
