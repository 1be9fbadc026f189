//! Hot pieces of the media path, per 20 ms frame (160 samples at 8 kHz): G.711 encode and decode,
//! and the in-band DTMF detector (push one frame, drain the digits) on silence, on speech-like
//! noise, on synthetic voiced speech and on DTMF tones.
//!
//! Run: `cargo bench -p ivory-dsp --bench dsp`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ivory_dsp::{Codec, FRAME_SAMPLES, InbandDtmfDetector, tone};

/// The crate's own synthetic speech (vowel bursts with gliding pitch), which is test-only inside
/// the crate; compiled here from the same file. It reaches `tone` as `crate::tone`, hence the
/// import above being named `tone` at the root.
#[allow(dead_code, unreachable_pub)]
#[path = "../src/test_signals.rs"]
mod test_signals;

/// Seconds of signal a detector bench cycles through: long enough that the detector sees
/// several digits and pauses, short enough to stay in cache like a live call's frame.
const SIGNAL_MS: u32 = 2000;

/// Noise that looks more like speech than white noise does: a tilted spectrum (one-pole low
/// pass) and a 4 Hz syllable envelope, scaled to `level_dbm0` over the whole buffer.
fn speech_like_noise(duration_ms: u32, level_dbm0: f32, seed: u64) -> Vec<i16> {
    let white = tone::white_noise(duration_ms, 0.0, seed);
    let mut low_passed = 0.0_f64;
    let shaped: Vec<f64> = white
        .iter()
        .enumerate()
        .map(|(index, sample)| {
            low_passed = 0.8 * low_passed + 0.2 * f64::from(*sample);
            let seconds = index as f64 / f64::from(ivory_dsp::SAMPLE_RATE_HZ);
            let envelope = 0.55 + 0.45 * (2.0 * std::f64::consts::PI * 4.0 * seconds).sin();
            low_passed * envelope
        })
        .collect();
    let mean_square = shaped.iter().map(|value| value * value).sum::<f64>() / shaped.len() as f64;
    let target_power = tone::DBM0_REFERENCE_POWER * 10f64.powf(f64::from(level_dbm0) / 10.0);
    let gain = (target_power / mean_square).sqrt();
    shaped
        .iter()
        .map(|value| (value * gain).clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16)
        .collect()
}

fn g711(criterion: &mut Criterion) {
    let pcm = speech_like_noise(20, -20.0, 7);
    assert_eq!(pcm.len(), FRAME_SAMPLES, "one frame of audio");
    let mut group = criterion.benchmark_group("g711_frame");
    group.throughput(Throughput::Elements(FRAME_SAMPLES as u64));
    for (name, codec) in [("ulaw", Codec::Pcmu), ("alaw", Codec::Pcma)] {
        let mut encoded = [0u8; FRAME_SAMPLES];
        codec.encode(&pcm, &mut encoded);
        group.bench_function(format!("{name}_encode"), |bencher| {
            let mut out = [0u8; FRAME_SAMPLES];
            bencher.iter(|| {
                codec.encode(black_box(&pcm), &mut out);
                black_box(&out);
            });
        });
        group.bench_function(format!("{name}_decode"), |bencher| {
            let mut out = [0i16; FRAME_SAMPLES];
            bencher.iter(|| {
                codec.decode(black_box(&encoded), &mut out);
                black_box(&out);
            });
        });
    }
    group.finish();
}

/// One iteration = one 20 ms frame pushed into a long-lived detector, then every pending
/// detection drained, as the media session does each tick. The frames cycle through
/// [`SIGNAL_MS`] of signal so the detector's state evolves as on a real call.
fn bench_detector(criterion: &mut Criterion, name: &str, signal: &[i16]) {
    let frames: Vec<&[i16]> = signal.chunks_exact(FRAME_SAMPLES).collect();
    criterion.bench_function(name, |bencher| {
        let mut detector = InbandDtmfDetector::new();
        let mut next = 0;
        let mut digits = 0u64;
        bencher.iter(|| {
            detector.push_samples(black_box(frames[next]));
            while let Some(detection) = detector.poll_detection() {
                black_box(detection);
                digits += 1;
            }
            next = (next + 1) % frames.len();
        });
        black_box(digits);
    });
}

fn inband_dtmf(criterion: &mut Criterion) {
    bench_detector(
        criterion,
        "inband_dtmf_frame/silence",
        &tone::silence(SIGNAL_MS),
    );
    bench_detector(
        criterion,
        "inband_dtmf_frame/speech_like_noise_-20dBm0",
        &speech_like_noise(SIGNAL_MS, -20.0, 42),
    );
    // Syllables of 150 to 400 ms at -15 dBm0 with short pauses, as a caller talking.
    let talk = test_signals::speech(
        &[
            (300, 40),
            (180, 60),
            (400, 30),
            (150, 120),
            (250, 50),
            (350, 70),
        ],
        -15.0,
    );
    bench_detector(criterion, "inband_dtmf_frame/speech_-15dBm0", &talk);
    // Ten key presses of 100 ms with 100 ms gaps, each tone at -10 dBm0.
    let keys = tone::dtmf_sequence("1234567890", 100, 100, -10.0);
    assert_eq!(
        ivory_dsp::detect_digits(&keys),
        "1234567890",
        "the tone signal holds the ten digits"
    );
    bench_detector(criterion, "inband_dtmf_frame/dtmf_tones", &keys);
}

criterion_group!(benches, g711, inband_dtmf);
criterion_main!(benches);
