#![allow(clippy::unwrap_used)]
use crate::inband::window::*;
use crate::tone;
use crate::{Codec, DtmfDigit};

fn round_trip(samples: &[i16], codec: Codec) -> Vec<i16> {
    samples.iter().map(|&s| codec.decode_sample(codec.encode_sample(s))).collect()
}

fn trace(samples: &[i16]) {
    let mut bank = ToneBank::new();
    let limits = Thresholds::standard();
    let mut index = 0;
    while index + WINDOW_SAMPLES <= samples.len() {
        let mut window = [0f32; WINDOW_SAMPLES];
        for (w, s) in window.iter_mut().zip(&samples[index..]) { *w = f32::from(*s); }
        let m = bank.analyse(&window);
        let lp = crate::tone::power_to_dbm0(f64::from(m.low_power));
        let hp = crate::tone::power_to_dbm0(f64::from(m.high_power));
        println!("{index:5} r{} c{} lo {lp:6.1} hi {hp:6.1} ru {:5.1} cu {:5.1} dl {:7.4} dh {:7.4} share {:5.3} -> {:?}",
            m.row, m.column,
            10.0*(m.low_runner_up/m.low_power).log10(), 10.0*(m.high_runner_up/m.high_power).log10(),
            m.low_deviation.unwrap_or(9.0), m.high_deviation.unwrap_or(9.0), m.energy_share, m.digit(&limits));
        index += HOP_SAMPLES;
    }
}

#[test]
#[ignore]
fn explore_trace() {
    let mut s = tone::silence(30);
    s.extend(tone::dtmf_with_offset(DtmfDigit::A, 60, -10.0, 0.015));
    s.extend(tone::silence(30));
    trace(&round_trip(&s, Codec::Pcmu));
}

fn mix(a: &[i16], b: &[i16]) -> Vec<i16> {
    a.iter().zip(b).map(|(x, y)| (i32::from(*x) + i32::from(*y)).clamp(-32768, 32767) as i16).collect()
}

/// Detected strings for the signal placed after `lead` samples of silence for lead in 0..40 step 3.
fn detect_all_alignments(signal: &[i16], codec: Codec) -> Vec<String> {
    (0..40).step_by(3).map(|lead| {
        let mut s = vec![0i16; lead];
        s.extend_from_slice(signal);
        s.extend(tone::silence(100));
        crate::detect_digits(&round_trip(&s, codec))
    }).collect()
}

fn report(name: &str, signal: &[i16], expected: &str) {
    for codec in [Codec::Pcmu, Codec::Pcma] {
        let results = detect_all_alignments(signal, codec);
        let bad: Vec<&String> = results.iter().filter(|r| r.as_str() != expected).collect();
        if !bad.is_empty() {
            println!("FAIL {name} {codec:?}: expected {expected:?}, got {:?}", bad);
        }
    }
}

#[test]
#[ignore]
fn explore_rules() {
    let all = "0123456789*#ABCD";
    for d in DtmfDigit::ALL {
        let e = d.to_char().to_string();
        report(&format!("digit {d}"), &tone::dtmf(d, 50, -10.0), &e);
        for off in [-0.015f32, 0.015] {
            report(&format!("offset {d} {off}"), &tone::dtmf_with_offset(d, 60, -10.0, off), &e);
        }
        for off in [-0.08f32, -0.06, -0.05, -0.045, -0.04, -0.035, 0.035, 0.04, 0.045, 0.05, 0.06, 0.08] {
            report(&format!("offset {d} {off}"), &tone::dtmf_with_offset(d, 60, -10.0, off), "");
        }
        for (lo, hi) in [(-10.0f32, -6.0f32), (-10.0, -18.0), (-17.0, -25.0), (-25.0, -21.0), (-4.0, 0.0), (0.0, -8.0)] {
            report(&format!("twist {d} {lo} {hi}"), &tone::dtmf_with_twist(d, 50, lo, hi), &e);
        }
        for level in [0.0f32, -3.0, -10.0, -20.0, -25.0] {
            report(&format!("level {d} {level}"), &tone::dtmf(d, 50, level), &e);
        }
        for level in [-55.0f32, -60.0] {
            report(&format!("level {d} {level}"), &tone::dtmf(d, 500, level), "");
        }
        report(&format!("40ms {d}"), &tone::dtmf(d, 40, -10.0), &e);
        report(&format!("40ms {d} -25"), &tone::dtmf(d, 40, -25.0), &e);
        report(&format!("40ms {d} 0"), &tone::dtmf(d, 40, 0.0), &e);
        for level in [0.0f32, -10.0, -25.0] {
            report(&format!("23ms {d} {level}"), &tone::dtmf(d, 23, level), "");
        }
        let mut drop = tone::dtmf(d, 100, -10.0);
        for s in &mut drop[400..480] { *s = 0; }
        report(&format!("dropout {d}"), &drop, &e);
        let mut pause = tone::dtmf(d, 40, -10.0);
        pause.extend(tone::silence(40));
        pause.extend(tone::dtmf(d, 40, -10.0));
        report(&format!("pause {d}"), &pause, &format!("{e}{e}"));
    }
    report("45/48", &tone::dtmf_sequence(all, 45, 48, -10.0), all);
    report("45/48 -25", &tone::dtmf_sequence(all, 45, 48, -25.0), all);
    report("45/48 0", &tone::dtmf_sequence(all, 45, 48, 0.0), all);
    for seed in 0..10u64 {
        for level in [-5.0f32, -15.0, -25.0] {
            let sig = tone::dtmf_sequence(all, 45, 48, level);
            let noise = tone::white_noise(1 + (sig.len() / 8) as u32, level + 3.0 - 15.0, seed);
            report(&format!("noise seed {seed} lvl {level}"), &mix(&sig, &noise), all);
        }
    }
}
