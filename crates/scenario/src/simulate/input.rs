//! The simulator's inputs: the caller's script (`1 wait:6s speech:"yes" hangup`) and the
//! scripted HTTP answers (`URL=STATUS:BODY`).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::run::DialStatus;

/// One step of the caller's script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimulatedInput {
    /// `0`-`9`, `*`, `#`, `A`-`D`: a key press.
    Key(char),
    /// `wait:6s`, `wait:500ms`, `wait:1.5s`, `wait:2m`: the caller does nothing for so long.
    Wait(Duration),
    /// `speech:"text"` (or `speech:word`): what the recogniser hears at the next `capture`.
    Speech(String),
    /// `hangup`: the caller hangs up.
    Hangup,
    /// `dial:BUSY` (`ANSWERED`, `NO_ANSWER`, `BUSY`, `DECLINED`, `FAILED`): how the next
    /// `dial`/`dialToMany` ends (default: `ANSWERED`).
    Dial(DialStatus),
    /// `machine:yes` / `machine:no`: what the next `machineDetection` finds (default: no).
    Machine(bool),
}

/// A malformed input script or HTTP answer, at a 1-based character column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct SimulationInputError {
    pub column: usize,
    pub message: String,
}

fn error(column: usize, message: impl Into<String>) -> SimulationInputError {
    SimulationInputError {
        column,
        message: message.into(),
    }
}

/// Parses a whitespace-separated input script.
pub fn parse_simulation_input(text: &str) -> Result<Vec<SimulatedInput>, SimulationInputError> {
    let characters: Vec<char> = text.chars().collect();
    let mut inputs = Vec::new();
    let mut position = 0;
    while position < characters.len() {
        if characters[position].is_whitespace() {
            position += 1;
            continue;
        }
        let start = position;
        let mut word = String::new();
        let mut quoted: Option<String> = None;
        while position < characters.len() && !characters[position].is_whitespace() {
            if characters[position] == '"' {
                let (text, length) = quoted_text(&characters[position..])
                    .ok_or_else(|| error(position + 1, "unterminated quoted text"))?;
                quoted = Some(text);
                position += length;
                break;
            }
            word.push(characters[position]);
            position += 1;
        }
        let column = start + 1;
        inputs.push(input(&word, quoted, column)?);
    }
    Ok(inputs)
}

/// `"..."` with `\"` and `\\` escapes: the text and the characters it took.
fn quoted_text(characters: &[char]) -> Option<(String, usize)> {
    let mut text = String::new();
    let mut index = 1;
    while let Some(&character) = characters.get(index) {
        match character {
            '"' => return Some((text, index + 1)),
            '\\' => {
                text.push(*characters.get(index + 1)?);
                index += 2;
            }
            other => {
                text.push(other);
                index += 1;
            }
        }
    }
    None
}

fn input(
    word: &str,
    quoted: Option<String>,
    column: usize,
) -> Result<SimulatedInput, SimulationInputError> {
    let (name, argument) = match word.split_once(':') {
        Some((name, argument)) => (name, Some(argument)),
        None => (word, None),
    };
    if let Some(text) = quoted {
        return match (name, argument) {
            ("speech", Some("")) => Ok(SimulatedInput::Speech(text)),
            _ => Err(error(column, "quoted text only follows `speech:`")),
        };
    }
    let mut characters = word.chars();
    if let (Some(key), None) = (characters.next(), characters.next())
        && crate::run::is_dtmf_key(key)
    {
        return Ok(SimulatedInput::Key(key));
    }
    match (name, argument) {
        ("hangup", None) => Ok(SimulatedInput::Hangup),
        ("wait", Some(duration)) => parse_duration(duration)
            .map(SimulatedInput::Wait)
            .ok_or_else(|| {
                error(
                    column,
                    format!("{duration:?} is not a duration (6s, 500ms, 1.5s, 2m)"),
                )
            }),
        ("speech", Some(text)) if !text.is_empty() => Ok(SimulatedInput::Speech(text.to_owned())),
        ("dial", Some(status)) => DialStatus::parse(status)
            .map(SimulatedInput::Dial)
            .ok_or_else(|| {
                error(
                    column,
                    format!(
                        "{status:?} is not a dial status (ANSWERED, NO_ANSWER, BUSY, DECLINED, FAILED)"
                    ),
                )
            }),
        ("machine", Some(answer)) => match answer.to_ascii_lowercase().as_str() {
            "yes" | "true" => Ok(SimulatedInput::Machine(true)),
            "no" | "false" => Ok(SimulatedInput::Machine(false)),
            _ => Err(error(column, format!("{answer:?} is not yes or no"))),
        },
        _ => Err(error(
            column,
            format!(
                "unknown input {word:?}: use a key (0-9 * # A-D), wait:6s, speech:\"text\", \
                 hangup, dial:STATUS or machine:yes|no"
            ),
        )),
    }
}

/// `6s`, `500ms`, `1.5s`, `2m`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let (number, unit_seconds) = if let Some(number) = text.strip_suffix("ms") {
        (number, 0.001)
    } else if let Some(number) = text.strip_suffix('s') {
        (number, 1.0)
    } else if let Some(number) = text.strip_suffix('m') {
        (number, 60.0)
    } else {
        return None;
    };
    let valid = !number.is_empty() && number.chars().all(|c| c.is_ascii_digit() || c == '.');
    let value: f64 = number.parse().ok().filter(|_| valid)?;
    let seconds = value * unit_seconds;
    // A day of silence is more than any scenario waits.
    (seconds.is_finite() && seconds <= 86_400.0).then(|| Duration::from_secs_f64(seconds))
}

/// One scripted HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptedResponse {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: String,
}

/// HTTP answers by URL, for the simulator. A request is answered by its exact URL, else
/// by its URL without the query string; a URL with no answer fails like a refused
/// connection ([`Event::ActionFailed`](crate::Event::ActionFailed)).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScriptedHttp {
    answers: BTreeMap<String, ScriptedResponse>,
}

impl ScriptedHttp {
    pub fn new() -> Self {
        ScriptedHttp::default()
    }

    /// Answers `url` with `status` and `body`; the content type is guessed from the body
    /// (`{`/`[` JSON, `<` XML, else plain text).
    pub fn insert(&mut self, url: &str, status: u16, body: &str) {
        let trimmed = body.trim_start();
        let content_type = if trimmed.starts_with('{') || trimmed.starts_with('[') {
            "application/json"
        } else if trimmed.starts_with('<') {
            "application/xml"
        } else {
            "text/plain"
        };
        self.answers.insert(
            url.to_owned(),
            ScriptedResponse {
                status,
                content_type: Some(content_type.to_owned()),
                body: body.to_owned(),
            },
        );
    }

    /// Adds an answer written `URL=STATUS:BODY` (`https://x/api?a=1=200:{"ok":true}`):
    /// the URL ends at the first `=` followed by three digits and `:`.
    pub fn insert_spec(&mut self, spec: &str) -> Result<(), SimulationInputError> {
        let bytes = spec.as_bytes();
        let split = (0..bytes.len()).find(|&index| {
            bytes[index] == b'='
                && bytes
                    .get(index + 1..index + 4)
                    .is_some_and(|digits| digits.iter().all(u8::is_ascii_digit))
                && bytes.get(index + 4) == Some(&b':')
        });
        let Some(split) = split else {
            return Err(error(
                1,
                "expected URL=STATUS:BODY (e.g. https://x/y=200:{})",
            ));
        };
        let url = &spec[..split];
        let status: u16 = spec[split + 1..split + 4]
            .parse()
            .map_err(|_| error(split + 2, "the status is not a number"))?;
        if !(100..=599).contains(&status) {
            return Err(error(split + 2, format!("{status} is not an HTTP status")));
        }
        if url.is_empty() {
            return Err(error(1, "the URL is empty"));
        }
        self.insert(url, status, &spec[split + 5..]);
        Ok(())
    }

    /// The answer for `url`, if scripted.
    pub fn answer(&self, url: &str) -> Option<&ScriptedResponse> {
        self.answers.get(url).or_else(|| {
            let without_query = url.split(['?', '#']).next().unwrap_or(url);
            self.answers.get(without_query)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_parse() {
        let inputs = parse_simulation_input(
            "1 # wait:6s  wait:500ms wait:1.5s speech:\"yes, \\\"please\\\"\" speech:no \
             dial:busy machine:yes hangup D",
        )
        .expect("valid");
        assert_eq!(
            inputs,
            vec![
                SimulatedInput::Key('1'),
                SimulatedInput::Key('#'),
                SimulatedInput::Wait(Duration::from_secs(6)),
                SimulatedInput::Wait(Duration::from_millis(500)),
                SimulatedInput::Wait(Duration::from_millis(1_500)),
                SimulatedInput::Speech("yes, \"please\"".to_owned()),
                SimulatedInput::Speech("no".to_owned()),
                SimulatedInput::Dial(DialStatus::Busy),
                SimulatedInput::Machine(true),
                SimulatedInput::Hangup,
                SimulatedInput::Key('D'),
            ]
        );
        assert_eq!(parse_simulation_input("  ").expect("valid"), vec![]);
    }

    #[test]
    fn bad_scripts_name_the_column() {
        let cases = [
            ("1 x", 3),
            ("wait:6", 1),
            ("1 wait:-1s", 3),
            ("12", 1),
            ("speech:\"open", 8),
            ("dial:MAYBE", 1),
            ("1 hangup:now", 3),
            ("wait:\"6s\"", 1),
            ("machine:perhaps", 1),
        ];
        for (text, column) in cases {
            let error = parse_simulation_input(text).expect_err(text);
            assert_eq!(error.column, column, "{text}: {error}");
        }
    }

    #[test]
    fn http_specs() {
        let mut http = ScriptedHttp::new();
        http.insert_spec("https://x/api?a=1=200:{\"ok\":true}")
            .expect("valid");
        http.insert_spec("http://y/z=503:down").expect("valid");
        let answer = http.answer("https://x/api?a=1").expect("scripted");
        assert_eq!(answer.status, 200);
        assert_eq!(answer.content_type.as_deref(), Some("application/json"));
        assert_eq!(answer.body, "{\"ok\":true}");
        assert_eq!(http.answer("http://y/z?q=2").map(|a| a.status), Some(503));
        assert!(http.answer("http://nowhere").is_none());
        for bad in ["no-status", "=200:x", "http://a=999:x", "http://a=20:x"] {
            assert!(http.insert_spec(bad).is_err(), "{bad}");
        }
    }
}
