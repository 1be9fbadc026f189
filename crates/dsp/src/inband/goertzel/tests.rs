//! The bank against the plain way of filtering: keep each window, Hann-weight it and run
//! goertzel-nostd over it once per filter. The outputs must be equal bit for bit, which is what
//! guarantees the detector's decisions did not change when the bank replaced that loop.

use goertzel_nostd::Parameters;
use proptest::prelude::*;

use super::*;
use crate::{test_signals, tone};

/// Every complete window of `samples` (starts one hop apart), filtered the plain way.
fn reference(samples: &[i16]) -> Vec<WindowOutputs> {
    let window = hann_window();
    samples
        .windows(WINDOW_SAMPLES)
        .step_by(HOP_SAMPLES)
        .map(|input| {
            let weighted: Vec<f32> = input
                .iter()
                .zip(&window)
                .map(|(&sample, weight)| f32::from(sample) * weight)
                .collect();
            WindowOutputs {
                outputs: FILTER_FREQUENCIES_HZ.map(|frequency_hz| {
                    Parameters::new(frequency_hz, SAMPLE_RATE_HZ, WINDOW_SAMPLES)
                        .start()
                        .add_samples(weighted.iter())
                        .finish()
                }),
                weighted_energy: weighted.iter().map(|x| x * x).sum(),
            }
        })
        .collect()
}

/// The windows the bank completes when `samples` are fed in chunks of `chunk`.
fn streamed(samples: &[i16], chunk: usize) -> Vec<WindowOutputs> {
    let mut bank = GoertzelBank::new();
    samples
        .chunks(chunk)
        .flat_map(|piece| feed_all(&mut bank, piece))
        .collect()
}

fn assert_identical(samples: &[i16], what: &str) {
    let expected = reference(samples);
    for chunk in [1, 13, 40, 160, samples.len().max(1)] {
        assert_eq!(streamed(samples, chunk), expected, "{what}, chunk {chunk}");
    }
}

#[test]
fn outputs_equal_the_plain_filters_bit_for_bit() {
    let mut dialled = tone::dtmf_sequence("159#0*D", 45, 48, -12.0);
    dialled = test_signals::mix(&dialled, &tone::white_noise(700, -30.0, 5));
    let cases = [
        ("silence", tone::silence(200)),
        ("white noise", tone::white_noise(500, -20.0, 9)),
        ("loud noise", tone::white_noise(300, 0.0, 2)),
        (
            "speech",
            test_signals::speech(&[(300, 40), (200, 60)], -15.0),
        ),
        ("digits in noise", dialled),
        ("beep", tone::beep()),
        (
            "one sample short of a window",
            tone::white_noise(20, -10.0, 4)[1..].to_vec(),
        ),
    ];
    for (what, samples) in cases {
        assert_identical(&samples, what);
    }
}

#[test]
fn coefficients_are_the_filter_frequencies() {
    for frequency_hz in FILTER_FREQUENCIES_HZ {
        let omega = std::f32::consts::TAU * frequency_hz / SAMPLE_RATE_HZ as f32;
        let (cosine, sine) = cosine_and_sine(frequency_hz);
        assert!((cosine - omega.cos()).abs() < 1e-5, "{frequency_hz} Hz");
        assert!((sine - omega.sin()).abs() < 1e-5, "{frequency_hz} Hz");
    }
}

/// Feeds all of `samples` and returns the windows completed.
fn feed_all(bank: &mut GoertzelBank, samples: &[i16]) -> Vec<WindowOutputs> {
    let mut complete = Vec::new();
    let mut rest = samples;
    while !rest.is_empty() {
        let (used, window) = bank.feed(rest);
        rest = &rest[used..];
        complete.extend(window);
    }
    complete
}

#[test]
fn reset_starts_the_next_window_at_the_next_sample() {
    let before = tone::white_noise(100, -10.0, 1);
    let after = tone::white_noise(300, -10.0, 2);
    let mut bank = GoertzelBank::new();
    // 817 samples: every window in progress, 17 samples into a hop.
    assert!(!feed_all(&mut bank, &before).is_empty());
    assert!(feed_all(&mut bank, &before[..17]).is_empty());
    bank.reset();
    assert_eq!(feed_all(&mut bank, &after), reference(&after));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn arbitrary_samples_and_chunking_match_the_plain_filters(
        samples in prop::collection::vec(any::<i16>(), 0..700),
        chunk in 1usize..200,
    ) {
        prop_assert_eq!(streamed(&samples, chunk), reference(&samples));
    }
}
