//! Measures the key-phrase grammar on the labelled espeak-ng set of the e2e speech test (12
//! phrases × 4 voices, through µ-law), and its false accepts on answers that hold no key phrase
//! (8 phrases × 4 voices), under the tuning given on the command line:
//!
//! ```text
//! cargo run --release -p ivory-asr --example key_phrase_sweep -- [wip=3e-5] [lw=6.5] [whole] [lead_ms=0] [-v]
//! ```
//!
//! By default each phrase goes through ivory's endpointer after 300 ms of line silence, as in the
//! server; `whole` decodes espeak-ng's file as it is, `lead_ms` puts that much digital silence in
//! front of it. `-v` prints every decode, not only the wrong ones. Needs espeak-ng and Debian's
//! pocketsphinx-en-us.

use std::path::Path;
use std::time::Duration;

use ivory_asr::labelled_set::{KEY_PHRASES, OUT_OF_GRAMMAR, PHRASES, VOICES, spoken, through_pcmu};
use ivory_asr::{GrammarTuning, ModelPaths, PocketsphinxRecogniser, load_dictionary};
use ivory_dsp::{EndpointConfig, SpeechEndpointer};

#[derive(Debug, Default)]
struct Options {
    tuning: GrammarTuning,
    whole: bool,
    lead_ms: usize,
    verbose: bool,
}

fn options() -> Result<Options, String> {
    let mut options = Options::default();
    for argument in std::env::args().skip(1) {
        let (key, value) = argument.split_once('=').unwrap_or((argument.as_str(), ""));
        let number = || {
            value
                .parse::<f64>()
                .map_err(|_| format!("{argument}: not a number"))
        };
        match key {
            "wip" => options.tuning.word_insertion_penalty = number()?,
            "lw" => options.tuning.language_weight = number()?,
            "lead_ms" => options.lead_ms = number()? as usize,
            "whole" => options.whole = true,
            "-v" => options.verbose = true,
            _ => return Err(format!("unknown argument {argument}")),
        }
    }
    Ok(options)
}

/// What the server would hand the recogniser: 300 ms of line silence, the phrase, then silence
/// until the endpointer ends the answer (maxSilence 1 s).
fn endpointed(audio: &[i16]) -> Vec<i16> {
    let mut endpointer = SpeechEndpointer::new(EndpointConfig {
        timeout: Duration::from_secs(4),
        max_silence: Duration::from_secs(1),
        max_utterance: Duration::from_secs(30),
    });
    let mut line = vec![0i16; 2400];
    line.extend_from_slice(audio);
    line.extend(std::iter::repeat_n(0, 8000 * 5));
    for frame in line.chunks(160) {
        if endpointer.push_samples(frame).is_some() {
            break;
        }
    }
    endpointer.take_utterance()
}

/// The earliest key phrase in what was heard (ties to the first listed), as `capture` matches.
fn first_key_phrase(heard: &str) -> &'static str {
    let words: Vec<&str> = heard.split_whitespace().collect();
    KEY_PHRASES
        .iter()
        .enumerate()
        .filter_map(|(order, phrase)| {
            let wanted: Vec<&str> = phrase.split_whitespace().collect();
            let at = words
                .windows(wanted.len())
                .position(|w| w == wanted.as_slice())?;
            Some(((at, order), *phrase))
        })
        .min_by_key(|(key, _)| *key)
        .map_or("", |(_, phrase)| phrase)
}

fn main() -> Result<(), String> {
    let options = options()?;
    let paths = ModelPaths::in_directory(Path::new(ivory_asr::DEBIAN_MODEL_DIRECTORY));
    let dictionary = load_dictionary(&paths).map_err(|error| error.to_string())?;
    let mut recogniser =
        PocketsphinxRecogniser::new(paths, dictionary).map_err(|error| error.to_string())?;
    recogniser.set_grammar_tuning(options.tuning);
    let phrases: Vec<String> = KEY_PHRASES.iter().map(|p| (*p).to_owned()).collect();

    let mut decide = |text: &str, expected: &str, voice: &str, speed: u32| {
        let spoken = through_pcmu(&spoken(text, voice, speed)?);
        let audio = if options.whole {
            let mut audio = vec![0i16; options.lead_ms * 8];
            audio.extend(spoken);
            audio
        } else {
            endpointed(&spoken)
        };
        let heard = recogniser
            .recognise_key_phrases(&audio, &phrases)
            .map_err(|error| error.to_string())?;
        let matched = first_key_phrase(&heard);
        if options.verbose || matched != expected {
            println!("{voice}@{speed} {text:?}: matched {matched:?}, heard {heard:?}");
        }
        Ok::<bool, String>(matched == expected)
    };
    let (mut right, mut said, mut false_accepts, mut unmatched_said) = (0, 0, 0, 0);
    for (voice, speed) in VOICES {
        for (text, expected) in PHRASES {
            said += 1;
            right += usize::from(decide(text, expected, voice, speed)?);
        }
        for text in OUT_OF_GRAMMAR {
            unmatched_said += 1;
            false_accepts += usize::from(!decide(text, "", voice, speed)?);
        }
    }
    println!(
        "{:?}: key phrases {right}/{said} ({:.1} %), false accepts {false_accepts}/{unmatched_said}",
        options.tuning,
        right as f64 * 100.0 / said as f64
    );
    Ok(())
}
