//! A tolerant SIP message reader for the test UA: start line, unfolded headers (compact forms
//! understood), body. It trusts nothing and never panics; what it cannot read it leaves out.

/// One SIP request or response as received.
#[derive(Debug, Clone)]
pub struct SipMessage {
    pub start_line: String,
    /// Header name as received, value trimmed, folded lines joined; in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl SipMessage {
    /// Reads one message from a datagram (or a framed stream message). Bytes after the body that
    /// Content-Length leaves out are ignored.
    pub fn parse(bytes: &[u8]) -> Option<SipMessage> {
        let start = bytes.iter().position(|&b| b != b'\r' && b != b'\n')?;
        let bytes = &bytes[start..];
        let (head_end, body_start) = header_end(bytes)?;
        let head = String::from_utf8_lossy(&bytes[..head_end]);
        let mut lines: Vec<String> = Vec::new();
        for line in head.split('\n').map(|line| line.trim_end_matches('\r')) {
            if line.starts_with([' ', '\t'])
                && let Some(last) = lines.last_mut()
            {
                last.push(' ');
                last.push_str(line.trim());
                continue;
            }
            lines.push(line.to_string());
        }
        let mut lines = lines.into_iter();
        let start_line = lines.next()?.trim().to_string();
        let headers = lines
            .filter_map(|line| {
                let (name, value) = line.split_once(':')?;
                Some((name.trim().to_string(), value.trim().to_string()))
            })
            .collect();
        let mut message = SipMessage {
            start_line,
            headers,
            body: Vec::new(),
        };
        let available = &bytes[body_start..];
        let length = message
            .content_length()
            .unwrap_or(available.len())
            .min(available.len());
        message.body = available[..length].to_vec();
        Some(message)
    }

    /// The status code of a response.
    pub fn status(&self) -> Option<u16> {
        let rest = self.start_line.strip_prefix("SIP/2.0 ")?;
        rest.split_whitespace().next()?.parse().ok()
    }

    /// The method of a request.
    pub fn method(&self) -> Option<&str> {
        if self.start_line.starts_with("SIP/") {
            return None;
        }
        self.start_line.split_whitespace().next()
    }

    pub fn is_response(&self) -> bool {
        self.status().is_some()
    }

    /// The first value of a header, by full or compact name, case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_all(name).into_iter().next()
    }

    /// Every value of a header, comma-joined values left as they are.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        let compact = compact_form(name);
        self.headers
            .iter()
            .filter(|(header, _)| {
                header.eq_ignore_ascii_case(name)
                    || compact.is_some_and(|c| header.eq_ignore_ascii_case(c))
            })
            .map(|(_, value)| value.as_str())
            .collect()
    }

    pub fn call_id(&self) -> Option<&str> {
        self.header("Call-ID")
    }

    /// `(number, method)` of CSeq.
    pub fn cseq(&self) -> Option<(u32, String)> {
        let value = self.header("CSeq")?;
        let mut parts = value.split_whitespace();
        let number = parts.next()?.parse().ok()?;
        Some((number, parts.next()?.to_ascii_uppercase()))
    }

    pub fn content_length(&self) -> Option<usize> {
        self.header("Content-Length")?.trim().parse().ok()
    }

    /// The `tag` parameter of To or From.
    pub fn tag(&self, header: &str) -> Option<String> {
        parameter(self.header(header)?, "tag")
    }

    /// The URI inside the first Contact (between `<` and `>`, or the bare value up to `;`).
    pub fn contact_uri(&self) -> Option<String> {
        let contact = self.header("Contact")?;
        Some(uri_of(contact))
    }

    /// The branch of the top Via.
    pub fn top_branch(&self) -> Option<String> {
        parameter(self.header("Via")?, "branch")
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Where the header section ends: `(end of headers, start of body)`; bare LF tolerated.
pub fn header_end(bytes: &[u8]) -> Option<(usize, usize)> {
    if let Some(position) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
        return Some((position, position + 4));
    }
    bytes
        .windows(2)
        .position(|w| w == b"\n\n")
        .map(|position| (position, position + 2))
}

/// The URI of a name-addr or addr-spec header value.
pub fn uri_of(value: &str) -> String {
    match (value.find('<'), value.find('>')) {
        (Some(open), Some(close)) if open < close => value[open + 1..close].to_string(),
        _ => value.split(';').next().unwrap_or(value).trim().to_string(),
    }
}

/// A `;name=value` header parameter outside `<...>`.
pub fn parameter(value: &str, name: &str) -> Option<String> {
    let after_uri = match value.rfind('>') {
        Some(close) => &value[close + 1..],
        None => value,
    };
    after_uri.split(';').skip(1).find_map(|part| {
        let (key, parameter_value) = part.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| parameter_value.trim().trim_end_matches(',').to_string())
    })
}

fn compact_form(name: &str) -> Option<&'static str> {
    Some(match name.to_ascii_lowercase().as_str() {
        "call-id" => "i",
        "contact" => "m",
        "content-encoding" => "e",
        "content-length" => "l",
        "content-type" => "c",
        "from" => "f",
        "subject" => "s",
        "supported" => "k",
        "to" => "t",
        "via" => "v",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_folded_compact_response() {
        let text =
            b"SIP/2.0 200 OK\r\nv: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKabc;rport=5070\r\n\
f: <sip:a@b>;tag=1\r\nt: <sip:1000@b>\r\n ;tag=xyz\r\ni: call-1\r\nCSeq: 7 invite\r\n\
m: <sip:ivory@127.0.0.1:5060;transport=udp>\r\nl: 4\r\n\r\nv=0\r\nextra";
        let message = SipMessage::parse(text).expect("parses");
        assert_eq!(message.status(), Some(200));
        assert_eq!(message.method(), None);
        assert_eq!(message.tag("To").as_deref(), Some("xyz"));
        assert_eq!(message.call_id(), Some("call-1"));
        assert_eq!(message.cseq(), Some((7, "INVITE".into())));
        assert_eq!(
            message.contact_uri().as_deref(),
            Some("sip:ivory@127.0.0.1:5060;transport=udp")
        );
        assert_eq!(message.top_branch().as_deref(), Some("z9hG4bKabc"));
        assert_eq!(message.body, b"v=0\r");
    }

    #[test]
    fn garbage_is_none_not_a_panic() {
        assert!(SipMessage::parse(b"").is_none());
        assert!(SipMessage::parse(b"\r\n\r\n").is_none());
        assert!(SipMessage::parse(b"no header end").is_none());
        let request = SipMessage::parse(b"BYE sip:x SIP/2.0\r\nContent-Length: 99\r\n\r\nab")
            .expect("request");
        assert_eq!(request.method(), Some("BYE"));
        assert_eq!(request.body, b"ab");
    }
}
