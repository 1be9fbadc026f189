//! Live audio from a bridge: sent in place of silence, never over a prompt, and tapped.

use super::*;

fn live_frame(value: i16) -> [i16; FRAME_SAMPLES] {
    [value; FRAME_SAMPLES]
}

fn payload_bytes(harness: &Harness) -> Vec<u8> {
    harness
        .sent
        .iter()
        .map(|sent| sent.packet().payload[0])
        .collect()
}

#[test]
fn live_frames_replace_silence_one_per_tick() {
    let mut harness = Harness::new(config(Some(address(4000))));
    let loud = Codec::Pcmu.encode_sample(8000);
    let silence = Codec::Pcmu.encode_sample(0);
    harness.session.push_live_frame(&live_frame(8000));
    harness.session.push_live_frame(&live_frame(8000));
    harness.run_until(harness.at(60));
    // Ticks at 0, 20, 40, 60: two live frames, then silence when none waits.
    assert_eq!(payload_bytes(&harness), vec![loud, loud, silence, silence]);
    assert!(harness.sent.iter().all(|sent| sent.bytes.len() == 172));
}

#[test]
fn a_prompt_wins_over_live_audio_and_live_frames_wait() {
    let mut harness = Harness::new(config(Some(address(4000))));
    let prompt = Prompt::from_samples(Arc::from(vec![-3000i16; 320]));
    harness.session.play(prompt);
    harness.session.push_live_frame(&live_frame(8000));
    harness.run_until(harness.at(60));
    let bytes = payload_bytes(&harness);
    let prompt_byte = Codec::Pcmu.encode_sample(-3000);
    let live_byte = Codec::Pcmu.encode_sample(8000);
    assert_eq!(
        bytes,
        vec![
            prompt_byte,
            prompt_byte,
            live_byte,
            Codec::Pcmu.encode_sample(0)
        ]
    );
}

#[test]
fn a_producer_running_ahead_is_capped_and_counted() {
    let mut harness = Harness::new(config(Some(address(4000))));
    for value in 1..=5 {
        harness.session.push_live_frame(&live_frame(value * 1000));
    }
    assert_eq!(harness.session.live_frames_dropped(), 2);
    harness.run_until(harness.at(0));
    // The oldest kept frame goes first.
    assert_eq!(
        payload_bytes(&harness),
        vec![Codec::Pcmu.encode_sample(3000)]
    );
    harness.session.clear_live_frames();
    harness.run_until(harness.at(20));
    assert_eq!(
        harness.sent[1].packet().payload[0],
        Codec::Pcmu.encode_sample(0)
    );
}

#[test]
fn live_audio_is_tapped_as_ivory_audio() {
    let mut harness = Harness::new(config(Some(address(4000))));
    harness.session.set_tap(true);
    harness.session.push_live_frame(&live_frame(1234));
    harness.run_until(harness.at(20));
    let mut caller = [0i16; FRAME_SAMPLES];
    let mut ivory = [0i16; FRAME_SAMPLES];
    assert!(harness.session.poll_tapped_frame(&mut caller, &mut ivory));
    assert_eq!(ivory, live_frame(1234));
    assert!(harness.session.poll_tapped_frame(&mut caller, &mut ivory));
    assert_eq!(ivory, live_frame(0));
}
