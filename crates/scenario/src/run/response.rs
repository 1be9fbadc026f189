//! Reading what the outside world answered: the top-level fields of a `request` answer
//! (`collectResponse`), and the key phrase in a `capture` transcript.

use serde_json::Value;

/// Nested XML deeper than this is refused rather than walked.
const MAXIMUM_XML_DEPTH: usize = 64;

/// The top-level fields of a JSON object or of an XML document's root element, as
/// variables: JSON strings as they are, numbers and booleans as their text, `null` as
/// `""`, arrays and objects as JSON text; XML child elements as their text content.
/// Field names that are not variable names are skipped.
pub(super) fn fields(
    content_type: Option<&str>,
    body: &str,
) -> Result<Vec<(String, String)>, String> {
    let trimmed = body.trim_start_matches('\u{feff}').trim();
    let declared = content_type.unwrap_or_default().to_ascii_lowercase();
    let fields =
        if declared.contains("json") || trimmed.starts_with('{') || trimmed.starts_with('[') {
            json_fields(trimmed)?
        } else if declared.contains("xml") || trimmed.starts_with('<') {
            xml_fields(trimmed)?
        } else {
            return Err("the answer is neither a JSON object nor XML; nothing saved".to_owned());
        };
    Ok(fields
        .into_iter()
        .filter(|(name, _)| is_variable_name(name))
        .collect())
}

fn is_variable_name(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

fn json_fields(text: &str) -> Result<Vec<(String, String)>, String> {
    let value: Value =
        serde_json::from_str(text).map_err(|error| format!("invalid JSON answer: {error}"))?;
    let Value::Object(map) = value else {
        return Err("the JSON answer is not an object; nothing saved".to_owned());
    };
    Ok(map
        .into_iter()
        .map(|(name, value)| {
            let text = match value {
                Value::String(text) => text,
                Value::Null => String::new(),
                Value::Bool(flag) => flag.to_string(),
                Value::Number(number) => number.to_string(),
                nested => nested.to_string(),
            };
            (name, text)
        })
        .collect())
}

/// A small XML reader: enough for `<root><a>1</a><b>x &amp; y</b></root>`. Attributes,
/// namespaces and processing instructions are skipped; nested elements contribute their text.
fn xml_fields(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut reader = XmlReader { text, position: 0 };
    let mut fields = Vec::new();
    let mut depth = 0usize;
    // The current top-level child: its name and its text so far.
    let mut current: Option<(String, String)> = None;
    let mut saw_root = false;
    while let Some(token) = reader.next()? {
        match token {
            XmlToken::Open { name, closed } => {
                if depth == 0 && saw_root {
                    return Err("invalid XML answer: more than one root element".to_owned());
                }
                saw_root = true;
                if depth == 1 {
                    current = Some((name, String::new()));
                }
                if closed {
                    if depth == 1
                        && let Some(field) = current.take()
                    {
                        fields.push(field);
                    }
                } else {
                    depth += 1;
                    if depth > MAXIMUM_XML_DEPTH {
                        return Err("invalid XML answer: nested too deeply".to_owned());
                    }
                }
            }
            XmlToken::Close => {
                depth = depth
                    .checked_sub(1)
                    .ok_or("invalid XML answer: a closing tag without an opening one")?;
                if depth == 1
                    && let Some(field) = current.take()
                {
                    fields.push(field);
                }
            }
            XmlToken::Text(content) => {
                if let Some((_, value)) = current.as_mut() {
                    value.push_str(&content);
                }
            }
        }
    }
    if !saw_root || depth != 0 {
        return Err("invalid XML answer: unbalanced elements".to_owned());
    }
    Ok(fields
        .into_iter()
        .map(|(name, value)| (name, value.trim().to_owned()))
        .collect())
}

enum XmlToken {
    Open { name: String, closed: bool },
    Close,
    Text(String),
}

struct XmlReader<'a> {
    text: &'a str,
    position: usize,
}

impl XmlReader<'_> {
    fn rest(&self) -> &str {
        self.text.get(self.position..).unwrap_or_default()
    }

    fn skip_past(&mut self, end: &str) -> Result<&str, String> {
        let rest = self.rest();
        let Some(offset) = rest.find(end) else {
            return Err(format!("invalid XML answer: missing {end:?}"));
        };
        let start = self.position;
        self.position += offset + end.len();
        Ok(self.text.get(start..start + offset).unwrap_or_default())
    }

    fn next(&mut self) -> Result<Option<XmlToken>, String> {
        loop {
            let rest = self.rest();
            if rest.is_empty() {
                return Ok(None);
            }
            if rest.starts_with("<?") {
                self.skip_past("?>")?;
            } else if rest.starts_with("<!--") {
                self.skip_past("-->")?;
            } else if let Some(after) = rest.strip_prefix("<![CDATA[") {
                self.position += rest.len() - after.len();
                let data = self.skip_past("]]>")?;
                return Ok(Some(XmlToken::Text(data.to_owned())));
            } else if rest.starts_with("<!") {
                self.skip_past(">")?;
            } else if rest.starts_with("</") {
                self.skip_past(">")?;
                return Ok(Some(XmlToken::Close));
            } else if rest.starts_with('<') {
                let tag = self.skip_past(">")?;
                let inner = tag.strip_prefix('<').unwrap_or(tag);
                let closed = inner.ends_with('/');
                let inner = inner.strip_suffix('/').unwrap_or(inner);
                let name = inner.split_whitespace().next().unwrap_or_default();
                if name.is_empty() {
                    return Err("invalid XML answer: an element without a name".to_owned());
                }
                // `ns:name` saves as `name`.
                let local = name.rsplit(':').next().unwrap_or(name).to_owned();
                return Ok(Some(XmlToken::Open {
                    name: local,
                    closed,
                }));
            } else {
                let end = rest.find('<').unwrap_or(rest.len());
                let raw = rest.get(..end).unwrap_or_default().to_owned();
                self.position += end;
                return Ok(Some(XmlToken::Text(unescape(&raw))));
            }
        }
    }
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('&') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let Some(end) = after.find(';').filter(|end| *end <= 10) else {
            out.push('&');
            rest = after;
            continue;
        };
        let entity = &after[..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(character) => {
                out.push(character);
                rest = &after[end + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The words of `text`, lowercased, punctuation dropped: `"Yes, please!"` → `["yes", "please"]`.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .map(|word| word.trim_matches('\'').to_lowercase())
        .filter(|word| !word.is_empty())
        .collect()
}

/// The key phrase that occurs earliest in `transcript` as whole words (case and
/// punctuation ignored); on a tie, the one listed first. Returned as written in the scenario.
pub fn key_phrase(transcript: &str, phrases: &[String]) -> Option<String> {
    let heard = words(transcript);
    phrases
        .iter()
        .enumerate()
        .filter_map(|(order, phrase)| {
            let wanted = words(phrase);
            if wanted.is_empty() || wanted.len() > heard.len() {
                return None;
            }
            let at = heard
                .windows(wanted.len())
                .position(|window| window == wanted.as_slice())?;
            Some(((at, order), phrase))
        })
        .min_by_key(|(key, _)| *key)
        .map(|(_, phrase)| phrase.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn json_top_level_fields() {
        let body = r#"{"status": "open", "count": 3, "vip": true, "none": null,
                       "nested": {"a": [1, 2]}, "first name": "x"}"#;
        let fields = fields(Some("application/json"), body).expect("a JSON object");
        assert_eq!(
            fields,
            pairs(&[
                ("count", "3"),
                ("nested", r#"{"a":[1,2]}"#),
                ("none", ""),
                ("status", "open"),
                ("vip", "true"),
            ])
        );
        assert!(super::fields(None, "[1, 2]").is_err());
        assert!(super::fields(None, "{broken").is_err());
        assert!(super::fields(Some("text/plain"), "hello").is_err());
    }

    #[test]
    fn xml_top_level_elements() {
        let body = "<?xml version=\"1.0\"?><!-- c --><response xmlns:x=\"u\">\
                    <status>open</status><x:count> 3 </x:count><empty/>\
                    <note>a &amp; b &#65;<b>bold</b></note><data><![CDATA[<raw>]]></data></response>";
        assert_eq!(
            fields(Some("application/xml"), body).expect("XML"),
            pairs(&[
                ("status", "open"),
                ("count", "3"),
                ("empty", ""),
                ("note", "a & b Abold"),
                ("data", "<raw>"),
            ])
        );
        for broken in ["<a><b></a>", "<a>", "</a>", "<a></a><b></b>", "<>", "<a"] {
            assert!(fields(Some("text/xml"), broken).is_err(), "{broken}");
        }
    }

    #[test]
    fn key_phrases_match_whole_words_anywhere() {
        let phrases: Vec<String> = ["sales", "customer support", "no"]
            .iter()
            .map(|phrase| (*phrase).to_owned())
            .collect();
        let cases = [
            ("I want Customer-Support, please", Some("customer support")),
            ("SALES!", Some("sales")),
            ("wholesales", None),
            ("no, sales", Some("no")),
            ("not now", None),
            ("", None),
        ];
        for (heard, expected) in cases {
            assert_eq!(key_phrase(heard, &phrases).as_deref(), expected, "{heard}");
        }
    }
}
