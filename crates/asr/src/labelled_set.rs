//! The labelled key-phrase set that measures recognition: phrases spoken by espeak-ng in several
//! voices, each with the key phrase `capture` must match, and answers that must match nothing.
//! The e2e speech test sends it through the whole server; the `key_phrase_sweep` example decodes
//! it directly, to tune the grammar.

use ivory_dsp::Codec;

/// The key phrases of the `capture` under test.
pub const KEY_PHRASES: [&str; 6] = ["yes", "no", "agent", "info", "more info", "exit"];

/// What the caller says, and the key phrase that must match (the earliest in the phrase).
pub const PHRASES: [(&str, &str); 12] = [
    ("yes", "yes"),
    ("no", "no"),
    ("agent", "agent"),
    ("info", "info"),
    ("more info", "more info"),
    ("exit", "exit"),
    ("yes please", "yes"),
    ("no thank you", "no"),
    ("I want more info", "more info"),
    ("talk to an agent", "agent"),
    ("exit now", "exit"),
    ("give me the info", "info"),
];

/// Answers that hold no key phrase, nor a homophone of one ("know" for "no").
pub const OUT_OF_GRAMMAR: [&str; 8] = [
    "billing",
    "support",
    "operator",
    "hello there",
    "call me back later",
    "maybe",
    "wrong number",
    "thank you",
];

/// espeak-ng voices and speeds (words per minute).
pub const VOICES: [(&str, u32); 4] = [
    ("en-us", 130),
    ("en-us", 175),
    ("en-us+f3", 150),
    ("en-gb+m3", 160),
];

/// `text` spoken by espeak-ng with `voice` at `words_per_minute`, as 8 kHz samples.
pub fn spoken(text: &str, voice: &str, words_per_minute: u32) -> Result<Vec<i16>, String> {
    let output = std::process::Command::new("espeak-ng")
        .args([
            "-v",
            voice,
            "-s",
            &words_per_minute.to_string(),
            "--stdout",
            text,
        ])
        .output()
        .map_err(|error| format!("espeak-ng: {error}"))?;
    if !output.status.success() {
        return Err(format!("espeak-ng failed for {text:?}"));
    }
    ivory_dsp::decode::decode_audio(&output.stdout, Some("wav"))
        .map_err(|error| format!("espeak-ng's WAV for {text:?}: {error}"))
}

/// `samples` through µ-law and back, as a call carries them.
pub fn through_pcmu(samples: &[i16]) -> Vec<i16> {
    let mut encoded = vec![0u8; samples.len()];
    Codec::Pcmu.encode(samples, &mut encoded);
    let mut decoded = vec![0i16; samples.len()];
    Codec::Pcmu.decode(&encoded, &mut decoded);
    decoded
}
