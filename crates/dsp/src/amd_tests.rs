//! Answering-machine detection on synthetic answers: vowel bursts for words, a 1 kHz beep.

use super::*;
use crate::test_signals::{VOWELS, speech, vowel};
use crate::{Codec, tone};

fn through_g711(samples: &[i16]) -> Vec<i16> {
    samples
        .iter()
        .map(|&sample| Codec::Pcmu.decode_sample(Codec::Pcmu.encode_sample(sample)))
        .collect()
}

fn ms(samples: u64) -> u64 {
    samples / 8
}

fn detect(audio: &[i16]) -> (Option<AmdVerdict>, Option<GreetingEnd>) {
    let mut detector = AnsweringMachineDetector::new(AmdConfig::default());
    for chunk in through_g711(audio).chunks(160) {
        detector.push_samples(chunk);
    }
    let verdict = detector.poll_verdict();
    assert_eq!(
        detector.poll_verdict(),
        None,
        "the verdict is reported once"
    );
    let greeting_end = detector.poll_greeting_end();
    assert_eq!(detector.poll_greeting_end(), None);
    (verdict, greeting_end)
}

/// A voicemail greeting: about 6 s of words (300-450 ms) with short pauses (80-250 ms).
fn voicemail_greeting() -> Vec<i16> {
    let pattern: Vec<(u32, u32)> = (0..14)
        .map(|index| (300 + (index * 37) % 150, 80 + (index * 53) % 170))
        .collect();
    speech(&pattern, -18.0)
}

#[test]
fn a_short_hello_then_silence_is_a_human() {
    let mut audio = tone::silence(300);
    audio.extend(speech(&[(500, 2000)], -20.0));
    let (verdict, greeting_end) = detect(&audio);
    let verdict = verdict.expect("a verdict");
    assert!(!verdict.machine);
    assert_eq!(verdict.reason, AmdReason::AfterGreetingSilence);
    // Voice ends at 800 ms (minus the burst's fade); 800 ms of silence later.
    let decided = ms(verdict.decided_at_sample);
    assert!((1560..=1620).contains(&decided), "decided at {decided} ms");
    assert_eq!(greeting_end, None);
}

#[test]
fn a_long_greeting_then_a_beep_is_a_machine_and_ends_after_the_beep() {
    let mut audio = tone::silence(200);
    audio.extend(voicemail_greeting());
    audio.extend(tone::silence(300));
    let beep_start = ms(audio.len() as u64);
    audio.extend(tone::sine(1000.0, 400, -12.0));
    let beep_end = ms(audio.len() as u64);
    audio.extend(tone::silence(1000));
    assert!(beep_start >= 6000, "greeting of {beep_start} ms");

    let (verdict, greeting_end) = detect(&audio);
    let verdict = verdict.expect("a verdict");
    assert!(verdict.machine);
    assert!(
        matches!(
            verdict.reason,
            AmdReason::MaximumWords | AmdReason::LongGreeting
        ),
        "{verdict:?}"
    );
    assert!(ms(verdict.decided_at_sample) <= 4000);
    let end = greeting_end.expect("the greeting end");
    assert_eq!(end.cause, GreetingEndCause::Beep);
    assert!(
        (beep_end - 20..=beep_end).contains(&ms(end.at_sample)),
        "beep ended at {beep_end} ms, reported {} ms",
        ms(end.at_sample)
    );
    assert!(ms(end.decided_at_sample) <= beep_end + 20);
}

#[test]
fn beeps_at_usual_frequencies_are_found_and_speech_is_not_a_beep() {
    for frequency in [425.0, 800.0, 1000.0, 1400.0, 2100.0] {
        let mut audio = voicemail_greeting();
        let beep_end = ms(audio.len() as u64) + 250;
        audio.extend(tone::sine(frequency, 250, -20.0));
        audio.extend(tone::silence(500));
        let (verdict, greeting_end) = detect(&audio);
        let end = greeting_end.unwrap_or_else(|| panic!("{frequency} Hz: {verdict:?}"));
        assert_eq!(end.cause, GreetingEndCause::Beep, "{frequency} Hz");
        assert!(ms(end.at_sample) + 20 >= beep_end, "{frequency} Hz");
    }
    // Every vowel at several pitches, steady or gliding: never a beep.
    for formants in VOWELS {
        for (f0_start, f0_end) in [
            (100.0, 100.0),
            (140.0, 180.0),
            (220.0, 220.0),
            (300.0, 260.0),
        ] {
            let audio = through_g711(&vowel(f0_start, f0_end, formants, 2000, -15.0));
            let mut tracker = BeepTracker::new();
            for (index, frame) in audio.chunks_exact(FRAME_SAMPLES).enumerate() {
                let frame: &[i16; FRAME_SAMPLES] = frame.try_into().expect("a frame");
                tracker.push(frame, true, (index * FRAME_SAMPLES) as u64);
                assert!(!tracker.is_active(), "{formants:?} {f0_start}-{f0_end}");
            }
        }
    }
}

#[test]
fn a_greeting_without_a_beep_ends_after_a_long_silence() {
    let mut audio = tone::silence(200);
    audio.extend(voicemail_greeting());
    // `speech` ends with the last word's pause; the voice stops there.
    let voice_end = ms(audio.len() as u64) - 80 - (13 * 53) % 170;
    audio.extend(tone::silence(2000));
    let (verdict, greeting_end) = detect(&audio);
    assert!(verdict.expect("a verdict").machine);
    let end = greeting_end.expect("greeting end");
    assert_eq!(end.cause, GreetingEndCause::Silence);
    assert!(
        (voice_end - 30..=voice_end + 20).contains(&ms(end.at_sample)),
        "voice ended at {voice_end}, reported {}",
        ms(end.at_sample)
    );
    let waited = ms(end.decided_at_sample) - ms(end.at_sample);
    assert!((1480..=1540).contains(&waited), "waited {waited} ms");
}

#[test]
fn a_short_leave_a_message_with_a_beep_is_a_machine() {
    // Two words and a beep: too short for the word and greeting rules, but people do not beep.
    let mut audio = tone::silence(200);
    audio.extend(speech(&[(350, 100), (450, 200)], -18.0));
    audio.extend(tone::sine(1000.0, 500, -12.0));
    audio.extend(tone::silence(1500));
    let (verdict, greeting_end) = detect(&audio);
    let verdict = verdict.expect("a verdict");
    assert!(verdict.machine);
    assert_eq!(verdict.reason, AmdReason::Beep);
    assert_eq!(
        greeting_end.map(|end| end.cause),
        Some(GreetingEndCause::Beep)
    );
}

#[test]
fn long_initial_silence_is_a_machine() {
    let (verdict, greeting_end) = detect(&tone::white_noise(4000, -50.0, 1));
    let verdict = verdict.expect("a verdict");
    assert_eq!(
        (verdict.machine, verdict.reason),
        (true, AmdReason::InitialSilence)
    );
    assert_eq!(ms(verdict.decided_at_sample), 2500);
    // The greeting never came: the silence that followed ends it.
    assert_eq!(
        greeting_end.map(|end| end.cause),
        Some(GreetingEndCause::Silence)
    );
}

#[test]
fn one_long_utterance_is_a_long_greeting() {
    let mut audio = tone::silence(100);
    audio.extend(speech(&[(2500, 500)], -20.0));
    let (verdict, _) = detect(&audio);
    let verdict = verdict.expect("a verdict");
    assert_eq!(
        (verdict.machine, verdict.reason),
        (true, AmdReason::LongGreeting)
    );
    let decided = ms(verdict.decided_at_sample);
    assert!((1590..=1640).contains(&decided), "{decided}");
}

#[test]
fn undecided_after_the_total_analysis_time_is_reported_as_a_human() {
    // 2.4 s of silence, then three words 700 ms apart: no rule fires within 5 s.
    let mut audio = tone::silence(2400);
    audio.extend(speech(&[(450, 700), (450, 700), (400, 1000)], -20.0));
    let (verdict, greeting_end) = detect(&audio);
    let verdict = verdict.expect("a verdict");
    assert_eq!(
        (
            verdict.machine,
            verdict.reason,
            ms(verdict.decided_at_sample)
        ),
        (false, AmdReason::TotalAnalysisTime, 5000)
    );
    assert_eq!(greeting_end, None);
}

#[test]
fn chunking_does_not_change_the_outcome() {
    let mut audio = voicemail_greeting();
    audio.extend(tone::sine(1000.0, 300, -12.0));
    audio.extend(tone::silence(300));
    let mut whole = AnsweringMachineDetector::new(AmdConfig::default());
    whole.push_samples(&audio);
    let mut chunked = AnsweringMachineDetector::new(AmdConfig::default());
    for chunk in audio.chunks(33) {
        chunked.push_samples(chunk);
    }
    assert_eq!(whole.poll_verdict(), chunked.poll_verdict());
    assert_eq!(whole.poll_greeting_end(), chunked.poll_greeting_end());
    assert!(whole.verdict().is_some());
}
