//! Jitter buffer tests in virtual time with seeded impairments.

use super::*;
use crate::PayloadType;
use crate::test_support::SplitMix64;

const CODEC: Codec = Codec::Pcmu;
/// Tag bytes 0..128 decode to distinct µ-law values, so a frame says which packet it came from;
/// 128 divides 65536, so tags stay consecutive across a sequence wrap.
const TAG_MODULUS: u16 = 128;

#[derive(Debug, Clone, Copy)]
struct Delivery {
    at_micros: u64,
    ssrc: u32,
    sequence: u16,
    timestamp: u32,
    samples: usize,
}

#[derive(Debug, Clone, Copy)]
struct Played {
    tick_micros: u64,
    playout: Playout,
    /// `sequence % 127` of the packet the frame came from, for received frames.
    tag: Option<u16>,
}

fn tag_of(sequence: u16) -> u8 {
    (sequence % TAG_MODULUS) as u8
}

fn tag_from_sample(sample: i16) -> Option<u16> {
    (0..TAG_MODULUS).find(|tag| CODEC.decode_sample(*tag as u8) == sample)
}

/// Delivers packets (sorted by arrival) and pulls one frame every 20 ms at `tick_phase` + n·20 ms.
fn simulate(
    deliveries: &[Delivery],
    ticks: u64,
    tick_phase_micros: u64,
) -> (Vec<Played>, Vec<Arrival>, JitterBuffer) {
    let origin = Instant::now();
    let mut buffer = JitterBuffer::new(CODEC);
    let mut played = Vec::new();
    let mut arrivals = Vec::new();
    let mut next = 0;
    let mut frame = [0i16; FRAME];
    for tick in 0..ticks {
        let tick_micros = tick_phase_micros + tick * 20_000;
        while let Some(delivery) = deliveries.get(next)
            && delivery.at_micros <= tick_micros
        {
            let payload = vec![tag_of(delivery.sequence); delivery.samples];
            let packet = RtpPacket {
                marker: false,
                payload_type: PayloadType::new(0).expect("valid"),
                sequence: SeqNo(delivery.sequence),
                timestamp: RtpTimestamp(delivery.timestamp),
                ssrc: Ssrc(delivery.ssrc),
                payload: &payload,
            };
            let at = origin + Duration::from_micros(delivery.at_micros);
            arrivals.push(buffer.insert(at, &packet));
            next += 1;
        }
        let playout = buffer.pull(origin + Duration::from_micros(tick_micros), &mut frame);
        let tag = (playout == Playout::Received)
            .then(|| tag_from_sample(frame[0]))
            .flatten();
        played.push(Played {
            tick_micros,
            playout,
            tag,
        });
    }
    (played, arrivals, buffer)
}

/// A steady 20 ms stream with a fixed network delay.
fn steady(
    count: u16,
    first_sequence: u16,
    first_timestamp: u32,
    delay_micros: u64,
) -> Vec<Delivery> {
    (0..count)
        .map(|index| Delivery {
            at_micros: u64::from(index) * 20_000 + delay_micros,
            ssrc: 1,
            sequence: first_sequence.wrapping_add(index),
            timestamp: first_timestamp.wrapping_add(u32::from(index) * 160),
            samples: 160,
        })
        .collect()
}

/// Asserts received frames come out in sequence order without repeats; returns their count.
fn assert_in_order(played: &[Played]) -> usize {
    let tags: Vec<u16> = played.iter().filter_map(|frame| frame.tag).collect();
    for pair in tags.windows(2) {
        let step = (pair[1] + TAG_MODULUS - pair[0]) % TAG_MODULUS;
        assert!((1..=20).contains(&step), "out of order: {pair:?}");
    }
    tags.len()
}

#[test]
fn steady_stream_plays_every_frame_in_order_after_the_initial_delay() {
    let deliveries = steady(100, 500, 12_345, 30_000);
    let (played, arrivals, buffer) = simulate(&deliveries, 110, 5_000);
    assert!(
        arrivals[1..]
            .iter()
            .all(|arrival| *arrival == Arrival::Buffered)
    );
    assert_eq!(assert_in_order(&played), 100);
    let first = played
        .iter()
        .find(|frame| frame.playout == Playout::Received)
        .expect("played");
    // First packet arrives at 30 ms; with a 40 ms delay, playout starts 30-70 ms later.
    assert!(
        (60_000..=100_000).contains(&first.tick_micros),
        "{}",
        first.tick_micros
    );
    assert_eq!(buffer.stats(), JitterStats::default());
    assert!(buffer.playout_delay() <= INITIAL_PLAYOUT_DELAY);
}

/// The issue's criterion: with ±40 ms uniform jitter, 5 % loss and 1 % duplicates at ptime 20,
/// late loss ≤ 1 % and added delay ≤ 2 × the 95th-percentile jitter + one frame, over 20 seeds,
/// one for each receiver tick phase (0-19 ms) against the sender's clock.
///
/// Definitions (see [`JitterFigures`]): jitter is a packet's deviation from the mean transit
/// time; added delay is the time a packet spends in the buffer (WebRTC's `jitterBufferDelay`);
/// late loss counts packets that arrived but were never played. The playout offset above the
/// fastest packet's transit is also bounded, with one more frame for the 20 ms tick grid (the
/// buffer plays whole frames on ticks, so its offset moves in 20 ms steps).
/// `cargo test -p ivory-rtp uniform_jitter -- --nocapture` prints the figures.
#[test]
fn uniform_jitter_with_loss_and_duplicates_meets_the_issue_bounds() {
    let mut worst = (0.0f64, 0.0f64, 0.0f64);
    for phase_ms in 0..20u64 {
        let seed = 0x1f0e + phase_ms;
        let figures = uniform_jitter_scenario(seed, phase_ms * 1000);
        let bound_ms = 2.0 * figures.jitter_p95_ms + 20.0;
        println!(
            "jitter buffer, seed {seed:#x}, tick phase {phase_ms:2} ms: p95 jitter {:.1} ms, \
             added delay {:.1} ms (bound {bound_ms:.1}), playout offset {:.1} ms, late loss \
             {:.2} % ({} late + {} dropped of {} received)",
            figures.jitter_p95_ms,
            figures.buffering_ms,
            figures.playout_offset_ms,
            100.0 * figures.late_loss,
            figures.late,
            figures.dropped,
            figures.received,
        );
        assert!(figures.late_loss <= 0.01, "seed {seed}: {figures:?}");
        assert!(figures.buffering_ms <= bound_ms, "seed {seed}: {figures:?}");
        assert!(
            figures.playout_offset_ms <= bound_ms + 20.0,
            "seed {seed}: {figures:?}"
        );
        worst.0 = worst.0.max(figures.buffering_ms);
        worst.1 = worst.1.max(figures.playout_offset_ms);
        worst.2 = worst.2.max(100.0 * figures.late_loss);
    }
    println!(
        "jitter buffer, worst of 20: added delay {:.1} ms, playout offset {:.1} ms, late loss \
         {:.2} %",
        worst.0, worst.1, worst.2
    );
}

/// What [`uniform_jitter_scenario`] measured.
#[derive(Debug)]
struct JitterFigures {
    /// 95th percentile of |transit - mean transit| over the packets sent, in ms.
    jitter_p95_ms: f64,
    /// Mean of (playout - arrival) over the frames played from packets: how long a packet
    /// waits in the buffer, the delay the buffer adds (WebRTC's `jitterBufferDelay`).
    buffering_ms: f64,
    /// Mean of (playout - send - minimum transit): the playout point above the fastest
    /// packet's network delay.
    playout_offset_ms: f64,
    /// (late + dropped) / received: packets that arrived but were never played.
    late_loss: f64,
    late: u64,
    dropped: u64,
    received: u64,
}

/// ±40 ms uniform jitter around 100 ms, 5 % loss, 1 % duplicates, 60 s of audio.
fn uniform_jitter_scenario(seed: u64, tick_phase_micros: u64) -> JitterFigures {
    let mut random = SplitMix64::new(seed);
    let count = 3000u16;
    let mut deliveries = Vec::new();
    let mut arrival_of = Vec::new();
    let mut lost = 0;
    let mut duplicated = 0;
    for index in 0..count {
        let send_micros = u64::from(index) * 20_000;
        let arrival = send_micros + 100_000 + random.below(80_001) - 40_000;
        arrival_of.push(arrival);
        let edge = index == 0 || index == count - 1;
        if !edge && random.percent(5) {
            lost += 1;
            continue;
        }
        let delivery = Delivery {
            at_micros: arrival,
            ssrc: 7,
            sequence: index.wrapping_add(60_000),
            timestamp: u32::from(index) * 160,
            samples: 160,
        };
        deliveries.push(delivery);
        if random.percent(1) {
            duplicated += 1;
            deliveries.push(Delivery {
                at_micros: arrival + random.below(30_000),
                ..delivery
            });
        }
    }
    deliveries.sort_by_key(|delivery| delivery.at_micros);
    let (played, _, buffer) = simulate(&deliveries, u64::from(count) + 20, tick_phase_micros);
    let stats = buffer.stats();
    assert_eq!(stats.duplicates, duplicated);
    assert_eq!(stats.lost, lost);
    let received = u64::from(count) - lost;
    let played_received = assert_in_order(&played);
    assert_eq!(
        played_received as u64 + stats.dropped,
        received - stats.late,
        "every packet is played, late or dropped, once"
    );

    let transits: Vec<f64> = arrival_of
        .iter()
        .enumerate()
        .map(|(index, arrival)| (*arrival as f64 - index as f64 * 20_000.0) / 1000.0)
        .collect();
    let mean_transit = transits.iter().sum::<f64>() / transits.len() as f64;
    let minimum_transit = transits.iter().copied().fold(f64::INFINITY, f64::min);
    let mut deviations: Vec<f64> = transits
        .iter()
        .map(|transit| (transit - mean_transit).abs())
        .collect();
    deviations.sort_by(f64::total_cmp);
    let jitter_p95_ms = deviations[deviations.len() * 95 / 100];

    // Match each played frame to its packet through the tag (sequence modulo 128).
    let mut last_sequence: Option<u16> = None;
    let (mut added_total, mut buffering_total) = (0.0, 0.0);
    for frame in &played {
        let Some(tag) = frame.tag else { continue };
        let sequence = (last_sequence.map_or(0, |last| last + 1)..count)
            .find(|sequence| sequence.wrapping_add(60_000) % TAG_MODULUS == tag)
            .expect("a matching packet");
        last_sequence = Some(sequence);
        let arrival = arrival_of[usize::from(sequence)];
        assert!(frame.tick_micros >= arrival, "played before it arrived");
        let send_ms = f64::from(sequence) * 20.0;
        added_total += frame.tick_micros as f64 / 1000.0 - send_ms - minimum_transit;
        buffering_total += (frame.tick_micros - arrival) as f64 / 1000.0;
    }
    JitterFigures {
        jitter_p95_ms,
        playout_offset_ms: added_total / played_received as f64,
        buffering_ms: buffering_total / played_received as f64,
        late_loss: (stats.late + stats.dropped) as f64 / received as f64,
        late: stats.late,
        dropped: stats.dropped,
        received,
    }
}

#[test]
fn delay_shrinks_again_when_jitter_goes_away() {
    let mut random = SplitMix64::new(99);
    let mut deliveries: Vec<Delivery> = (0..500u16)
        .map(|index| {
            let jitter = if index < 200 {
                random.below(120_000)
            } else {
                0
            };
            Delivery {
                at_micros: u64::from(index) * 20_000 + 20_000 + jitter,
                ssrc: 1,
                sequence: index,
                timestamp: u32::from(index) * 160,
                samples: 160,
            }
        })
        .collect();
    deliveries.sort_by_key(|delivery| delivery.at_micros);
    let (played, _, buffer) = simulate(&deliveries, 520, 0);
    assert_in_order(&played);
    assert!(
        buffer.playout_delay() <= Duration::from_millis(40),
        "{:?}",
        buffer.playout_delay()
    );
}

#[test]
fn reordered_pairs_are_played_in_order_without_loss() {
    let deliveries: Vec<Delivery> = (0..200u16)
        .map(|index| {
            // Each even packet arrives just after its odd successor.
            let arrival_slot = if index % 2 == 0 { index + 1 } else { index };
            Delivery {
                at_micros: u64::from(arrival_slot) * 20_000 + 30_000 + u64::from(index % 2 == 0),
                ssrc: 3,
                sequence: index,
                timestamp: u32::from(index) * 160 + 1_000,
                samples: 160,
            }
        })
        .collect();
    let mut deliveries = deliveries;
    deliveries.sort_by_key(|delivery| delivery.at_micros);
    let (played, _, buffer) = simulate(&deliveries, 230, 7_000);
    assert_eq!(buffer.stats(), JitterStats::default());
    assert_eq!(assert_in_order(&played), 200);
}

#[test]
fn sequence_and_timestamp_wrap_are_seamless() {
    let deliveries = steady(300, 65_400, u32::MAX - 160 * 100, 25_000);
    let (played, arrivals, buffer) = simulate(&deliveries, 320, 0);
    assert!(!arrivals.contains(&Arrival::Restarted) || arrivals[0] == Arrival::Restarted);
    assert_eq!(
        arrivals
            .iter()
            .filter(|arrival| **arrival == Arrival::Restarted)
            .count(),
        1
    );
    assert_eq!(buffer.stats(), JitterStats::default());
    assert_eq!(assert_in_order(&played), 300);
}

#[test]
fn new_ssrc_restarts_at_once() {
    let mut deliveries = steady(100, 1_000, 5_000, 30_000);
    // Tags continue across the switch (1100 + 128·40), though the sequence jumps.
    let second: Vec<Delivery> = steady(100, 6_220, 999_999, 30_000 + 100 * 20_000)
        .into_iter()
        .map(|delivery| Delivery {
            ssrc: 2,
            ..delivery
        })
        .collect();
    let switch_micros = second[0].at_micros;
    deliveries.extend(second);
    let (played, arrivals, buffer) = simulate(&deliveries, 230, 1_000);
    assert_eq!(arrivals[100], Arrival::Restarted);
    assert_eq!(buffer.stats(), JitterStats::default());
    let resumed = played
        .iter()
        .filter(|frame| frame.tick_micros > switch_micros)
        .find(|frame| frame.playout == Playout::Received)
        .expect("second stream plays");
    assert!(resumed.tick_micros - switch_micros <= 80_000);
    // Both streams are played fully (the first one's tail is cut by at most the delay).
    assert!(assert_in_order(&played) >= 195);
}

#[test]
fn timestamp_jump_restarts_at_once() {
    let mut deliveries = steady(100, 10, 0, 30_000);
    deliveries.extend(
        steady(100, 110, 8_000_000, 30_000 + 100 * 20_000)
            .into_iter()
            .map(|delivery| Delivery { ..delivery }),
    );
    let (played, arrivals, buffer) = simulate(&deliveries, 230, 1_000);
    assert_eq!(arrivals[100], Arrival::Restarted);
    assert_eq!(buffer.stats(), JitterStats::default());
    assert!(assert_in_order(&played) >= 195);
}

#[test]
fn duplicates_and_late_packets_are_counted_and_dropped() {
    let mut deliveries = steady(50, 0, 0, 20_000);
    // A duplicate of packet 10 right away, and packet 20 arriving 300 ms late.
    deliveries.push(Delivery {
        at_micros: deliveries[10].at_micros + 1,
        ..deliveries[10]
    });
    deliveries[20].at_micros += 300_000;
    deliveries.sort_by_key(|delivery| delivery.at_micros);
    let (played, arrivals, buffer) = simulate(&deliveries, 70, 0);
    assert_eq!(
        buffer.stats(),
        JitterStats {
            lost: 0,
            late: 1,
            duplicates: 1,
            dropped: 0,
        }
    );
    assert!(arrivals.contains(&Arrival::Duplicate));
    assert!(arrivals.contains(&Arrival::Late));
    assert_eq!(assert_in_order(&played), 49);
}

#[test]
fn loss_is_concealed_then_silent() {
    let mut deliveries = steady(40, 0, 0, 10_000);
    deliveries.drain(10..15);
    let origin = Instant::now();
    let mut buffer = JitterBuffer::new(CODEC);
    let mut frame = [0i16; FRAME];
    let mut outputs = Vec::new();
    let mut next = 0;
    for tick in 0..45u64 {
        let tick_micros = tick * 20_000;
        while let Some(delivery) = deliveries.get(next)
            && delivery.at_micros <= tick_micros
        {
            let payload = [tag_of(delivery.sequence); 160];
            let packet = RtpPacket {
                marker: false,
                payload_type: PayloadType::new(0).expect("valid"),
                sequence: SeqNo(delivery.sequence),
                timestamp: RtpTimestamp(delivery.timestamp),
                ssrc: Ssrc(1),
                payload: &payload,
            };
            buffer.insert(origin + Duration::from_micros(delivery.at_micros), &packet);
            next += 1;
        }
        let playout = buffer.pull(origin + Duration::from_micros(tick_micros), &mut frame);
        outputs.push((playout, frame[0]));
    }
    let start = outputs
        .iter()
        .position(|(playout, _)| *playout == Playout::Received)
        .expect("played");
    assert!(
        outputs[..start]
            .iter()
            .all(|(playout, sample)| *playout == Playout::Silent && *sample == 0)
    );
    let last_good = CODEC.decode_sample(tag_of(9));
    let gap = &outputs[start + 10..start + 15];
    assert_eq!(gap[0], (Playout::Concealed, last_good >> 1));
    assert_eq!(gap[1], (Playout::Concealed, last_good >> 2));
    assert!(
        gap[2..]
            .iter()
            .all(|output| *output == (Playout::Concealed, 0))
    );
    assert_eq!(outputs[start + 15].0, Playout::Received);
    assert_eq!(buffer.stats().lost, 5);
}

#[test]
fn short_packets_fill_whole_frames() {
    // ptime 10: two 80-sample packets per frame.
    let deliveries: Vec<Delivery> = (0..100u16)
        .map(|index| Delivery {
            at_micros: u64::from(index) * 10_000 + 15_000,
            ssrc: 1,
            sequence: index,
            timestamp: u32::from(index) * 80,
            samples: 80,
        })
        .collect();
    let (played, _, buffer) = simulate(&deliveries, 60, 0);
    assert_eq!(buffer.stats(), JitterStats::default());
    let received = played
        .iter()
        .filter(|frame| frame.playout == Playout::Received)
        .count();
    assert!(received >= 45, "{received}");
}

#[test]
fn reordering_before_playout_starts_moves_the_start_back() {
    let mut deliveries = steady(20, 100, 16_000, 30_000);
    deliveries.swap(0, 1);
    deliveries[0].at_micros = 30_000;
    deliveries[1].at_micros = 31_000;
    let (played, arrivals, buffer) = simulate(&deliveries, 30, 0);
    assert_eq!(arrivals[1], Arrival::Buffered);
    assert_eq!(buffer.stats(), JitterStats::default());
    assert_eq!(assert_in_order(&played), 20);
}

#[test]
fn empty_payloads_and_no_stream_are_harmless() {
    let mut buffer = JitterBuffer::new(Codec::Pcma);
    let mut frame = [1i16; FRAME];
    assert_eq!(buffer.pull(Instant::now(), &mut frame), Playout::Silent);
    assert!(frame.iter().all(|sample| *sample == 0));
    let packet = RtpPacket {
        marker: false,
        payload_type: PayloadType::new(8).expect("valid"),
        sequence: SeqNo(1),
        timestamp: RtpTimestamp(1),
        ssrc: Ssrc(1),
        payload: &[],
    };
    assert_eq!(buffer.insert(Instant::now(), &packet), Arrival::Discarded);
    assert!(!buffer.has_stream());
}

#[test]
fn sender_resuming_with_old_timestamps_restarts_instead_of_staying_late() {
    // 50 packets, a 600 ms pause, then the stream continues as if no time had passed.
    let mut deliveries = steady(50, 0, 0, 20_000);
    deliveries.extend(steady(100, 50, 50 * 160, 20_000 + 50 * 20_000 + 600_000));
    let (played, arrivals, buffer) = simulate(&deliveries, 230, 0);
    assert_eq!(arrivals[50], Arrival::Restarted);
    assert_eq!(buffer.stats().late, 0);
    assert_eq!(assert_in_order(&played), 150);
}

proptest::proptest! {
    /// The window's kept extremes are those of its last `TRANSIT_WINDOW` values, as a scan finds.
    #[test]
    fn transit_window_extremes_match_a_scan(values in proptest::collection::vec(-50i64..50, 1..300)) {
        let mut window = TransitWindow::default();
        for (count, &value) in values.iter().enumerate() {
            window.push(value);
            let recent = &values[(count + 1).saturating_sub(TRANSIT_WINDOW)..=count];
            let (minimum, maximum) = (recent.iter().min().unwrap(), recent.iter().max().unwrap());
            proptest::prop_assert_eq!(window.minimum(), *minimum);
            proptest::prop_assert_eq!(window.spread(), maximum - minimum);
        }
    }

    /// Placing a payload slot by slot fills the same bytes and quarters as placing it byte by byte.
    #[test]
    fn placing_matches_a_byte_by_byte_copy(
        head in 0..SLOT_COUNT,
        offset in -400i64..(CAPACITY_SAMPLES + 50),
        length in 0usize..700,
    ) {
        let payload: Vec<u8> = (0..length).map(|index| (index % 251) as u8).collect();
        let mut buffer = JitterBuffer::new(CODEC);
        buffer.head = head;
        buffer.place(offset, &payload);
        let mut expected = vec![(0u8, false); SLOT_COUNT * FRAME];
        for (index, &byte) in payload.iter().enumerate() {
            let position = offset + index as i64;
            if (0..CAPACITY_SAMPLES).contains(&position) {
                expected[position as usize] = (byte, true);
            }
        }
        for (position, &(byte, written)) in expected.iter().enumerate() {
            let slot = &buffer.slots[(head + position / FRAME) % SLOT_COUNT];
            let within = position % FRAME;
            if written {
                proptest::prop_assert_eq!(slot.samples[within], byte);
            }
            let quarter_written = expected[position - within..position - within + FRAME]
                [within / QUARTER * QUARTER..(within / QUARTER + 1) * QUARTER]
                .iter()
                .any(|&(_, written)| written);
            proptest::prop_assert_eq!(slot.quarters_filled & (1 << (within / QUARTER)) != 0, quarter_written);
        }
    }
}
