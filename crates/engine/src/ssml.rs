//! The SSML subset `say` understands, turned into what a plain text-to-speech engine can do: runs of
//! text, each at a speech rate, and pauses between them.
//!
//! - `<speak>` (optional wrapper), unknown tags: ignored, their text kept;
//! - `<break time="500ms"/>` or `time="2s"` (capped at 10 s), or `strength="none|x-weak|weak|medium|
//!   strong|x-strong"` (0, 100, 250, 500, 750, 1000 ms; a bare `<break/>` is medium);
//! - `<say-as interpret-as="digits|telephone|characters">`: read one character at a time
//!   (`+46 70` → `+ 4 6 7 0`);
//! - `<prosody rate="x-slow|slow|medium|fast|x-fast|N%">`: multiplies the rate (0.5, 0.75, 1, 1.25,
//!   1.5, N/100), nested prosody multiplies again;
//! - `<emphasis>`: spoken a little slower (×0.85), the one thing every engine can do;
//! - the XML entities `&amp; &lt; &gt; &quot; &apos;`.
//!
//! Text without `<` is one run. Malformed markup never fails a prompt: a tag that does not close is
//! read as text.

use std::time::Duration;

/// One piece of a prompt.
#[derive(Debug, Clone, PartialEq)]
pub enum Segment {
    /// Text to speak at `rate` times the prompt's speech rate.
    Speech { text: String, rate: f32 },
    /// Silence.
    Break(Duration),
}

/// The longest break honoured.
const MAX_BREAK: Duration = Duration::from_secs(10);
const EMPHASIS_RATE: f32 = 0.85;

/// Splits `text` into runs of speech and breaks; adjacent runs at the same rate are merged and
/// runs of white space only are dropped.
pub fn parse(text: &str) -> Vec<Segment> {
    let mut segments = Vec::new();
    let mut rates: Vec<(String, f32)> = Vec::new();
    // One entry per open say-as: whether it reads character by character.
    let mut say_as: Vec<bool> = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let Some(open) = rest.find('<') else {
            push_text(
                &mut segments,
                rest,
                current_rate(&rates),
                say_as.contains(&true),
            );
            break;
        };
        push_text(
            &mut segments,
            &rest[..open],
            current_rate(&rates),
            say_as.contains(&true),
        );
        let Some(close) = rest[open..].find('>') else {
            push_text(
                &mut segments,
                &rest[open..],
                current_rate(&rates),
                say_as.contains(&true),
            );
            break;
        };
        let tag = &rest[open + 1..open + close];
        rest = &rest[open + close + 1..];
        let self_closing = tag.ends_with('/');
        let tag = tag.trim_end_matches('/').trim();
        if let Some(name) = tag.strip_prefix('/') {
            match name.trim() {
                "say-as" => {
                    say_as.pop();
                }
                "prosody" | "emphasis" => {
                    rates.pop();
                }
                _ => {}
            }
            continue;
        }
        let name = tag.split_whitespace().next().unwrap_or_default();
        match name {
            "break" => segments.push(Segment::Break(break_length(tag))),
            "say-as" if !self_closing => say_as.push(matches!(
                attribute(tag, "interpret-as").as_deref(),
                Some("digits" | "telephone" | "characters" | "spell-out")
            )),
            "prosody" if !self_closing => {
                let factor = attribute(tag, "rate").map_or(1.0, |rate| rate_factor(&rate));
                rates.push(("prosody".into(), factor));
            }
            "emphasis" if !self_closing => rates.push(("emphasis".into(), EMPHASIS_RATE)),
            _ => {}
        }
    }
    segments
}

fn current_rate(rates: &[(String, f32)]) -> f32 {
    rates
        .iter()
        .map(|(_, factor)| factor)
        .product::<f32>()
        .clamp(0.25, 4.0)
}

fn push_text(segments: &mut Vec<Segment>, raw: &str, rate: f32, spell_out: bool) {
    let decoded = decode_entities(raw);
    let text = if spell_out {
        decoded
            .chars()
            .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '(' | ')' | '.'))
            .map(String::from)
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        decoded.split_whitespace().collect::<Vec<_>>().join(" ")
    };
    if text.is_empty() {
        return;
    }
    if let Some(Segment::Speech {
        text: previous,
        rate: previous_rate,
    }) = segments.last_mut()
        && (*previous_rate - rate).abs() < f32::EPSILON
    {
        previous.push(' ');
        previous.push_str(&text);
        return;
    }
    segments.push(Segment::Speech { text, rate });
}

fn decode_entities(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// The value of `name="..."` (or single quotes) in a tag.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!("{name}="))? + name.len() + 1;
    let quoted = &tag[start..];
    let quote = quoted.chars().next().filter(|q| *q == '"' || *q == '\'')?;
    let value = &quoted[1..];
    value.find(quote).map(|end| value[..end].trim().to_string())
}

fn break_length(tag: &str) -> Duration {
    if let Some(time) = attribute(tag, "time") {
        let time = time.to_ascii_lowercase();
        let parsed = if let Some(millis) = time.strip_suffix("ms") {
            millis.trim().parse::<f64>().ok().map(|m| m / 1000.0)
        } else if let Some(seconds) = time.strip_suffix('s') {
            seconds.trim().parse::<f64>().ok()
        } else {
            None
        };
        if let Some(seconds) = parsed.filter(|s| s.is_finite() && *s >= 0.0) {
            return Duration::from_secs_f64(seconds).min(MAX_BREAK);
        }
    }
    let millis = match attribute(tag, "strength").as_deref() {
        Some("none") => 0,
        Some("x-weak") => 100,
        Some("weak") => 250,
        Some("strong") => 750,
        Some("x-strong") => 1000,
        _ => 500,
    };
    Duration::from_millis(millis)
}

fn rate_factor(rate: &str) -> f32 {
    match rate.trim() {
        "x-slow" => 0.5,
        "slow" => 0.75,
        "medium" | "default" => 1.0,
        "fast" => 1.25,
        "x-fast" => 1.5,
        other => other
            .strip_suffix('%')
            .and_then(|percent| percent.trim().parse::<f32>().ok())
            .filter(|percent| percent.is_finite() && *percent > 0.0)
            .map_or(1.0, |percent| percent / 100.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn speech(text: &str, rate: f32) -> Segment {
        Segment::Speech {
            text: text.into(),
            rate,
        }
    }

    #[test]
    fn plain_text_is_one_run() {
        assert_eq!(parse("Hello  world"), vec![speech("Hello world", 1.0)]);
        assert_eq!(parse("   "), vec![]);
    }

    #[test]
    fn breaks_by_time_and_strength() {
        assert_eq!(
            parse(
                r#"<speak>Hi <break time="1.5s"/> there<break time="300ms"/><break/><break strength="x-strong"/></speak>"#
            ),
            vec![
                speech("Hi", 1.0),
                Segment::Break(Duration::from_millis(1500)),
                speech("there", 1.0),
                Segment::Break(Duration::from_millis(300)),
                Segment::Break(Duration::from_millis(500)),
                Segment::Break(Duration::from_millis(1000)),
            ]
        );
        assert_eq!(
            parse(r#"<break time="1h"/>"#),
            vec![Segment::Break(Duration::from_millis(500))],
            "an unreadable time falls back to medium"
        );
        assert_eq!(
            parse(r#"<break time="99s"/>"#),
            vec![Segment::Break(MAX_BREAK)]
        );
    }

    #[test]
    fn say_as_digits_and_telephone_are_read_one_by_one() {
        assert_eq!(
            parse(r#"Call <say-as interpret-as="telephone">+46 (70) 12-3</say-as> now"#),
            vec![speech("Call + 4 6 7 0 1 2 3 now", 1.0)]
        );
        assert_eq!(
            parse(r#"<say-as interpret-as="digits">2026</say-as>"#),
            vec![speech("2 0 2 6", 1.0)]
        );
        assert_eq!(
            parse(r#"<say-as interpret-as="date">2026</say-as>"#),
            vec![speech("2026", 1.0)]
        );
    }

    #[test]
    fn prosody_and_emphasis_change_the_rate_and_nest() {
        assert_eq!(
            parse(
                r#"a <prosody rate="slow">b <prosody rate="200%">c</prosody></prosody> <emphasis>d</emphasis> e"#
            ),
            vec![
                speech("a", 1.0),
                speech("b", 0.75),
                speech("c", 1.5),
                speech("d", 0.85),
                speech("e", 1.0),
            ]
        );
    }

    #[test]
    fn entities_and_broken_markup_are_text() {
        assert_eq!(
            parse("Fish &amp; chips &lt;3"),
            vec![speech("Fish & chips <3", 1.0)]
        );
        assert_eq!(parse("a < b"), vec![speech("a < b", 1.0)]);
        assert_eq!(parse("<unknown>kept</unknown>"), vec![speech("kept", 1.0)]);
    }
}
