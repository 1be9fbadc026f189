//! Splits a datagram into start line, header fields and body, the way rsipstack's parser
//! will see it, without interpreting any value.
//!
//! Lines end at LF with an optional CR before it (as in rsipstack); the header section ends
//! at the first CRLFCRLF. A line that starts with SP or HTAB continues the previous header
//! field (RFC 3261 §7.3.1 folding). Defects are recorded, not returned early, so that a
//! malformed request still yields the Via/From/To/Call-ID/CSeq needed to answer it.

use std::borrow::Cow;

use super::Defect;

/// One header field as written: `name` trimmed, `raw_value` trimmed but still holding the
/// CRLFs of folded continuation lines (see [`unfold`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawHeader<'a> {
    pub(crate) name: &'a [u8],
    pub(crate) raw_value: &'a [u8],
}

impl RawHeader<'_> {
    /// Whether this field is `long_name` or its RFC 3261 §7.3.3 compact form.
    pub(crate) fn is(&self, long_name: &str, compact: Option<u8>) -> bool {
        if self.name.eq_ignore_ascii_case(long_name.as_bytes()) {
            return true;
        }
        matches!((compact, self.name), (Some(letter), [single]) if single.eq_ignore_ascii_case(&letter))
    }
}

/// A datagram cut into its parts. `body_start` is an offset into `message`.
#[derive(Debug)]
pub(crate) struct Scanned<'a> {
    pub(crate) message: &'a [u8],
    pub(crate) start_line: &'a [u8],
    pub(crate) headers: Vec<RawHeader<'a>>,
    /// Offset of the CRLF that ends the last header line (the blank line follows it).
    pub(crate) header_end: usize,
    pub(crate) body_start: usize,
    /// The first defect met while scanning header lines, if any.
    pub(crate) defect: Option<Defect>,
}

/// Cuts `message` (leading CRLFs already removed) into its parts; `None` when there is no
/// CRLFCRLF, i.e. the datagram is truncated or is not SIP at all.
pub(crate) fn scan(message: &[u8]) -> Option<Scanned<'_>> {
    let separator = find(message, b"\r\n\r\n")?;
    let header_section = &message[..separator];
    let mut lines = Lines {
        data: header_section,
        position: 0,
    };
    let start_line = lines.next().unwrap_or_default();
    // One UTF-8 check for all the header lines; line by line only to find the first bad one.
    let all_utf8 =
        std::str::from_utf8(header_section.get(lines.position..).unwrap_or_default()).is_ok();
    let mut headers: Vec<RawHeader<'_>> = Vec::with_capacity(24);
    let mut defect = None;
    let mut line_number = 1;
    // (line start, colon offset, value end) of the field being collected.
    let mut current: Option<(usize, usize, usize)> = None;
    while let Some(line) = lines.next_with_offset() {
        line_number += 1;
        let (line_start, line) = line;
        if !all_utf8 && std::str::from_utf8(line).is_err() && defect.is_none() {
            defect = Some(Defect::HeaderNotUtf8 { line: line_number });
        }
        let line_end = line_start + line.len();
        if matches!(line.first(), Some(b' ' | b'\t')) {
            match current.as_mut() {
                Some((_, _, value_end)) => *value_end = line_end,
                None => {
                    defect.get_or_insert(Defect::MalformedHeaderLine { line: line_number });
                }
            }
            continue;
        }
        finish(header_section, current.take(), &mut headers);
        match line.iter().position(|&byte| byte == b':') {
            Some(colon) if is_token(trim(&line[..colon])) => {
                current = Some((line_start, line_start + colon, line_end));
            }
            _ => {
                defect.get_or_insert(Defect::MalformedHeaderLine { line: line_number });
            }
        }
    }
    finish(header_section, current, &mut headers);
    Some(Scanned {
        message,
        start_line,
        headers,
        header_end: separator,
        body_start: separator + 4,
        defect,
    })
}

/// Records the field spanning `line_start..value_end` of `header_section`.
fn finish<'a>(
    header_section: &'a [u8],
    current: Option<(usize, usize, usize)>,
    headers: &mut Vec<RawHeader<'a>>,
) {
    if let Some((line_start, colon, value_end)) = current {
        headers.push(RawHeader {
            name: trim(&header_section[line_start..colon]),
            raw_value: trim(&header_section[colon + 1..value_end]),
        });
    }
}

/// The value with folding CRLFs removed (the whitespace after each fold stays), as the
/// checks and a reply need it on one line.
pub(crate) fn unfold(raw_value: &[u8]) -> Vec<u8> {
    unfolded(raw_value).into_owned()
}

/// [`unfold`], borrowing the value when it was not folded (nearly always): screening an
/// ordinary request then copies no header value.
pub(crate) fn unfolded(raw_value: &[u8]) -> Cow<'_, [u8]> {
    if raw_value.iter().any(|&byte| byte == b'\r' || byte == b'\n') {
        Cow::Owned(
            raw_value
                .iter()
                .copied()
                .filter(|&byte| byte != b'\r' && byte != b'\n')
                .collect(),
        )
    } else {
        Cow::Borrowed(raw_value)
    }
}

/// RFC 3261 `token` characters.
pub(crate) fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&byte)
}

pub(crate) fn is_token(bytes: &[u8]) -> bool {
    !bytes.is_empty() && bytes.iter().all(|&byte| is_token_byte(byte))
}

pub(crate) fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|byte| !byte.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|byte| !byte.is_ascii_whitespace())
        .map_or(start, |last| last + 1);
    &bytes[start..end.max(start)]
}

/// Offset of the first occurrence of `needle`; linear for the short needles used here. Jumps
/// from one occurrence of the needle's first byte to the next ([`position_of`]) rather than
/// comparing at every offset.
pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let Some((&first, rest)) = needle.split_first() else {
        return Some(0);
    };
    let mut start = 0;
    while let Some(offset) = position_of(first, haystack.get(start..)?) {
        let at = start + offset;
        // Past the end here means no later occurrence fits either.
        if haystack.get(at + 1..at + needle.len())? == rest {
            return Some(at);
        }
        start = at + 1;
    }
    None
}

/// Offset of the first `byte` in `haystack`. std's word-at-a-time memchr does the search; it is
/// reached through `BufRead::skip_until` on a byte slice, its only safe public door. Several
/// times faster than a byte loop on SIP lines, and the screen looks for line ends in every
/// datagram.
pub(crate) fn position_of(byte: u8, haystack: &[u8]) -> Option<usize> {
    let mut reader = haystack;
    // Reading from a byte slice cannot fail.
    let skipped = std::io::BufRead::skip_until(&mut reader, byte).unwrap_or(0);
    let last = skipped.checked_sub(1)?;
    (haystack.get(last) == Some(&byte)).then_some(last)
}

/// LF-terminated lines with an optional CR before the LF, like rsipstack's splitter.
struct Lines<'a> {
    data: &'a [u8],
    position: usize,
}

impl<'a> Lines<'a> {
    fn next(&mut self) -> Option<&'a [u8]> {
        self.next_with_offset().map(|(_, line)| line)
    }

    fn next_with_offset(&mut self) -> Option<(usize, &'a [u8])> {
        if self.position >= self.data.len() {
            return None;
        }
        let start = self.position;
        let rest = &self.data[start..];
        let (line, advance) = match position_of(b'\n', rest) {
            Some(newline) => {
                let line = &rest[..newline];
                (line.strip_suffix(b"\r").unwrap_or(line), newline + 1)
            }
            None => (rest, rest.len()),
        };
        self.position = start + advance;
        Some((start, line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_values_and_compact_names_are_collected() {
        let message = b"OPTIONS sip:a@b SIP/2.0\r\nv :  SIP/2.0/UDP h\r\n ;branch=z9hG4bK1\r\nX: y\r\n\r\nbody";
        let scanned = scan(message).expect("has a header end");
        assert_eq!(scanned.start_line, b"OPTIONS sip:a@b SIP/2.0");
        assert_eq!(scanned.headers.len(), 2);
        assert!(scanned.headers[0].is("Via", Some(b'v')));
        assert_eq!(
            unfold(scanned.headers[0].raw_value),
            b"SIP/2.0/UDP h ;branch=z9hG4bK1".to_vec()
        );
        assert_eq!(&message[scanned.body_start..], b"body");
        assert!(scanned.defect.is_none());
    }

    #[test]
    fn a_line_without_colon_and_non_utf8_are_defects() {
        let scanned = scan(b"X sip:a SIP/2.0\r\nnocolon\r\nA: \xff\r\n\r\n").expect("has end");
        assert_eq!(
            scanned.defect,
            Some(Defect::MalformedHeaderLine { line: 2 })
        );
        let scanned = scan(b"X sip:a SIP/2.0\r\nA: \xff\r\n\r\n").expect("has end");
        assert_eq!(scanned.defect, Some(Defect::HeaderNotUtf8 { line: 2 }));
    }

    #[test]
    fn no_blank_line_means_no_message() {
        assert!(scan(b"INVITE sip:a@b SIP/2.0\r\nVia: x\r\n").is_none());
    }

    #[test]
    fn byte_and_needle_searches() {
        let text = b"abc\r\ndef\r\n\r\nbody with a long tail beyond one machine word\n";
        assert_eq!(position_of(b'a', text), Some(0));
        assert_eq!(position_of(b'\n', text), Some(4));
        assert_eq!(position_of(b'z', text), None);
        assert_eq!(position_of(b'\n', b""), None);
        assert_eq!(position_of(b'\n', &text[20..]), Some(text.len() - 21));
        assert_eq!(find(text, b"\r\n\r\n"), Some(8));
        assert_eq!(find(text, b"\r\n"), Some(3));
        assert_eq!(find(text, b""), Some(0));
        assert_eq!(find(b"ab\r\n\r", b"\r\n\r\n"), None);
        assert_eq!(find(b"\r\r\n\r\n", b"\r\n\r\n"), Some(1));
    }

    #[test]
    fn trim_handles_all_whitespace() {
        assert_eq!(trim(b"  \t "), b"");
        assert_eq!(trim(b" a b "), b"a b");
    }
}
