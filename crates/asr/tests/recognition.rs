//! The recogniser on real speech: espeak-ng phrases through G.711 µ-law, decoded with the
//! key-phrase grammar; silence and noise match nothing. (The labelled set through the whole server
//! path is the e2e test `speech`.) Needs espeak-ng and Debian's pocketsphinx-en-us: a missing one
//! skips, or fails under `IVORY_REQUIRE_PEERS=1`.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use ivory_asr::labelled_set::{spoken, through_pcmu};
use ivory_asr::{AsrError, ModelPaths, PocketsphinxRecogniser, load_dictionary};

const MODEL_DIRECTORY: &str = ivory_asr::DEBIAN_MODEL_DIRECTORY;

fn available() -> bool {
    let espeak = std::process::Command::new("espeak-ng")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    let model = ModelPaths::in_directory(Path::new(MODEL_DIRECTORY))
        .check()
        .is_ok();
    if !(espeak && model) {
        if std::env::var("IVORY_REQUIRE_PEERS").is_ok_and(|v| v == "1") {
            panic!("espeak-ng ({espeak}) or pocketsphinx-en-us ({model}) missing");
        }
        eprintln!("SKIPPED: espeak-ng or pocketsphinx-en-us is not installed");
    }
    espeak && model
}

/// `text` by espeak-ng at 8 kHz, through µ-law and back as on a call.
fn telephone(text: &str, voice: &str) -> Vec<i16> {
    through_pcmu(&spoken(text, voice, 175).unwrap())
}

fn recogniser() -> PocketsphinxRecogniser {
    let paths = ModelPaths::in_directory(Path::new(MODEL_DIRECTORY));
    let dictionary = load_dictionary(&paths).unwrap();
    PocketsphinxRecogniser::new(paths, dictionary).unwrap()
}

fn key_phrases() -> Vec<String> {
    ["yes", "no", "agent", "more info", "exit"]
        .iter()
        .map(|p| (*p).to_string())
        .collect()
}

#[test]
fn key_phrases_are_heard_inside_longer_answers() {
    if !available() {
        return;
    }
    let mut recogniser = recogniser();
    let phrases = key_phrases();
    for (said, expected) in [
        ("yes", "yes"),
        ("agent", "agent"),
        ("I want more info", "more info"),
        ("exit", "exit"),
    ] {
        let transcript = recogniser
            .recognise(&telephone(said, "en-us"), &phrases)
            .unwrap();
        let heard = transcript.key_phrases_heard.clone().unwrap();
        assert_eq!(heard, expected, "said {said:?}: {transcript:?}");
    }
}

#[test]
fn silence_and_noise_hold_no_key_phrase() {
    if !available() {
        return;
    }
    let mut recogniser = recogniser();
    let phrases = key_phrases();
    let silence = recogniser.recognise(&[0; 16000], &phrases).unwrap();
    assert_eq!(
        silence.key_phrases_heard.as_deref(),
        Some(""),
        "{silence:?}"
    );
    let noise = ivory_dsp::tone::white_noise(2000, -25.0, 3);
    let heard = recogniser.recognise(&noise, &phrases).unwrap();
    assert_eq!(heard.key_phrases_heard.as_deref(), Some(""), "{heard:?}");
    assert_eq!(
        recogniser.recognise(&[], &phrases).unwrap(),
        Default::default()
    );
}

#[test]
fn without_key_phrases_the_free_transcript_is_returned() {
    if !available() {
        return;
    }
    let mut recogniser = recogniser();
    let transcript = recogniser
        .recognise(&telephone("hello world", "en-us"), &[])
        .unwrap();
    assert_eq!(transcript.key_phrases_heard, None);
    assert!(!transcript.text.is_empty(), "{transcript:?}");
}

#[test]
fn a_missing_model_is_an_error_naming_the_file() {
    let paths = ModelPaths::in_directory(Path::new("/nonexistent/model"));
    let error = PocketsphinxRecogniser::new(paths, Default::default()).unwrap_err();
    assert_eq!(
        error,
        AsrError::MissingModel {
            path: "/nonexistent/model/en-us/mdef".into()
        }
    );
    assert!(error.to_string().contains("pocketsphinx-en-us"));
}
