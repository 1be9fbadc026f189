//! The test UA's media end: a UDP socket on 127.0.0.1 that sends a continuous 20 ms G.711 stream
//! (silence, or audio it is given) and RFC 4733 telephone-events in place of audio, and counts
//! what it receives.
//!
//! A sender task ticks every 20 ms, like a phone: each tick sends the next event packet(s) if an
//! event is in progress, else the next queued audio frame, else silence. One SSRC, one sequence
//! space and one timestamp clock for everything, as RFC 4733 §2.5 asks. Event packets for one
//! press share the timestamp of its start; the duration grows by 160 each tick; the end packet
//! carries the E bit and goes out three times (each a new sequence number, as any RTP packet).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use super::audio::{Codec, FRAME_SAMPLES, alaw_to_linear, dtmf_event_code, ulaw_to_linear};
use super::sdp::AudioStream;

/// How one RFC 4733 key press is sent.
#[derive(Debug, Clone, Copy)]
pub struct EventOptions {
    /// Length of the press; rounded up to whole 20 ms packets.
    pub duration: Duration,
    /// How many times the end packet is sent (RFC 4733 §2.5.1.4 says 3).
    pub end_repeats: u32,
    /// Send every packet twice, identical (same sequence number): network duplication.
    pub duplicate_packets: bool,
    /// Leave out this many of the end packets, from the first (they are "lost": their sequence
    /// numbers are used but nothing is sent).
    pub lost_end_packets: u32,
    /// Volume field, -dBm0 (0-63).
    pub volume: u8,
}

impl Default for EventOptions {
    fn default() -> Self {
        EventOptions {
            duration: Duration::from_millis(200),
            end_repeats: 3,
            duplicate_packets: false,
            lost_end_packets: 0,
            volume: 10,
        }
    }
}

/// What has arrived at the peer.
#[derive(Debug, Clone, Default)]
pub struct ReceivedStats {
    pub packets: u64,
    pub by_payload_type: BTreeMap<u8, u64>,
    pub sources: BTreeSet<SocketAddr>,
    pub ssrcs: BTreeSet<u32>,
    /// Time between consecutive packets, in arrival order.
    pub inter_arrival: Vec<Duration>,
    /// Datagrams too short or not RTP version 2.
    pub not_rtp: u64,
    /// The received G.711 audio (PCMU/PCMA), decoded, in arrival order.
    pub audio: Vec<i16>,
    last_arrival: Option<Instant>,
}

impl ReceivedStats {
    /// The median inter-arrival time, for printing.
    pub fn median_inter_arrival(&self) -> Option<Duration> {
        let mut sorted = self.inter_arrival.clone();
        sorted.sort();
        sorted.get(sorted.len() / 2).copied()
    }
}

enum Command {
    Start {
        remote: SocketAddr,
        codec: Codec,
        event_payload_type: Option<u8>,
    },
    Audio(Vec<u8>),
    Event(u8, EventOptions),
    /// Answered when everything queued before it has been sent.
    Flush(oneshot::Sender<()>),
}

pub struct RtpPeer {
    socket: Arc<UdpSocket>,
    commands: mpsc::UnboundedSender<Command>,
    stats: Arc<Mutex<ReceivedStats>>,
    codec: Arc<Mutex<Codec>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for RtpPeer {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl RtpPeer {
    /// Binds an even port on 127.0.0.1 (RTP convention; the odd one above is left for RTCP).
    pub async fn bind() -> RtpPeer {
        let mut socket = None;
        for _ in 0..64 {
            let candidate = UdpSocket::bind("127.0.0.1:0")
                .await
                .expect("bind an RTP socket");
            if candidate
                .local_addr()
                .expect("bound")
                .port()
                .is_multiple_of(2)
            {
                socket = Some(candidate);
                break;
            }
        }
        let socket = Arc::new(socket.expect("an even UDP port within 64 tries"));
        let stats = Arc::new(Mutex::new(ReceivedStats::default()));
        let codec = Arc::new(Mutex::new(Codec::Pcmu));
        let (commands, receiver) = mpsc::unbounded_channel();
        let tasks = vec![
            tokio::spawn(receive_loop(socket.clone(), stats.clone())),
            tokio::spawn(send_loop(socket.clone(), receiver)),
        ];
        RtpPeer {
            socket,
            commands,
            stats,
            codec,
            tasks,
        }
    }

    pub fn port(&self) -> u16 {
        self.socket.local_addr().expect("bound").port()
    }

    /// Starts the 50 packets/s stream towards `remote` (silence until told otherwise).
    pub fn start(&self, remote: SocketAddr, codec: Codec, event_payload_type: Option<u8>) {
        *self.codec.lock().expect("codec lock") = codec;
        self.send(Command::Start {
            remote,
            codec,
            event_payload_type,
        });
    }

    /// Starts the stream as ivory's SDP answer says: to its RTP address, in its first G.711
    /// codec, with its telephone-event payload type.
    pub fn start_answered(&self, answer: &AudioStream) {
        let codec = answer
            .first_g711()
            .and_then(Codec::from_payload_type)
            .unwrap_or_else(|| panic!("the answer has no G.711 codec: {answer:?}"));
        self.start(
            answer.rtp_address(),
            codec,
            answer.payload_type_of("telephone-event"),
        );
    }

    /// Queues linear audio, encoded with the stream's codec, sent in 20 ms frames.
    pub fn play(&self, samples: &[i16]) {
        let codec = *self.codec.lock().expect("codec lock");
        self.send(Command::Audio(codec.encode(samples)));
    }

    /// Queues one RFC 4733 key press.
    pub fn press(&self, digit: char, options: EventOptions) {
        let code = dtmf_event_code(digit).expect("test asked for a DTMF key that exists");
        self.send(Command::Event(code, options));
    }

    /// Waits until everything queued so far has been sent.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        self.send(Command::Flush(done));
        wait.await.expect("the RTP sender task is running");
    }

    pub fn stats(&self) -> ReceivedStats {
        self.stats.lock().expect("stats lock").clone()
    }

    fn send(&self, command: Command) {
        self.commands
            .send(command)
            .unwrap_or_else(|_| panic!("the RTP sender task has stopped"));
    }
}

async fn receive_loop(socket: Arc<UdpSocket>, stats: Arc<Mutex<ReceivedStats>>) {
    let mut buffer = vec![0u8; 2048];
    loop {
        let Ok((length, source)) = socket.recv_from(&mut buffer).await else {
            continue;
        };
        let now = Instant::now();
        let mut stats = stats.lock().expect("stats lock");
        let packet = &buffer[..length];
        if length < 12 || packet[0] >> 6 != 2 {
            stats.not_rtp += 1;
            continue;
        }
        stats.packets += 1;
        *stats.by_payload_type.entry(packet[1] & 0x7F).or_default() += 1;
        stats.sources.insert(source);
        let payload = &packet[12..];
        match packet[1] & 0x7F {
            0 => stats
                .audio
                .extend(payload.iter().map(|&b| ulaw_to_linear(b))),
            8 => stats
                .audio
                .extend(payload.iter().map(|&b| alaw_to_linear(b))),
            _ => {}
        }
        stats.ssrcs.insert(u32::from_be_bytes([
            packet[8], packet[9], packet[10], packet[11],
        ]));
        if let Some(last) = stats.last_arrival {
            stats.inter_arrival.push(now - last);
        }
        stats.last_arrival = Some(now);
    }
}

/// Sender state: one RTP stream.
struct Stream {
    remote: Option<SocketAddr>,
    codec: Codec,
    event_payload_type: Option<u8>,
    ssrc: u32,
    sequence: u16,
    /// The media clock of the next audio frame.
    timestamp: u32,
    marker_next: bool,
    audio: VecDeque<u8>,
    /// Per tick, the packets to send (a `None` is a lost packet: sequence used, nothing sent).
    event_ticks: VecDeque<Vec<Option<Vec<u8>>>>,
    pending: VecDeque<Command>,
}

async fn send_loop(socket: Arc<UdpSocket>, mut commands: mpsc::UnboundedReceiver<Command>) {
    static SSRC: AtomicU32 = AtomicU32::new(0x1E50_0000);
    let mut stream = Stream {
        remote: None,
        codec: Codec::Pcmu,
        event_payload_type: None,
        ssrc: SSRC.fetch_add(1, Ordering::Relaxed),
        sequence: 1000,
        timestamp: 16000,
        marker_next: true,
        audio: VecDeque::new(),
        event_ticks: VecDeque::new(),
        pending: VecDeque::new(),
    };
    let mut ticker = tokio::time::interval(Duration::from_millis(20));
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                Some(command) => stream.pending.push_back(command),
                None => return,
            },
            _ = ticker.tick() => {
                stream.take_commands();
                for packet in stream.next_tick() {
                    if let Some(remote) = stream.remote {
                        // Loss of a UDP send to a closed port is fine: the call may be over.
                        let _ = socket.send_to(&packet, remote).await;
                    }
                }
            }
        }
    }
}

impl Stream {
    /// Applies queued commands until one needs the stream to drain first (audio, events).
    fn take_commands(&mut self) {
        while let Some(command) = self.pending.front() {
            let busy = !self.audio.is_empty() || !self.event_ticks.is_empty();
            match command {
                Command::Audio(_) | Command::Event(..) | Command::Flush(_) if busy => return,
                _ => {}
            }
            let Some(command) = self.pending.pop_front() else {
                return;
            };
            match command {
                Command::Start {
                    remote,
                    codec,
                    event_payload_type,
                } => {
                    self.remote = Some(remote);
                    self.codec = codec;
                    self.event_payload_type = event_payload_type;
                }
                Command::Audio(bytes) => self.audio.extend(bytes),
                Command::Event(code, options) => self.plan_event(code, options),
                Command::Flush(done) => {
                    let _ = done.send(());
                }
            }
        }
    }

    /// The packets of one 20 ms tick.
    fn next_tick(&mut self) -> Vec<Vec<u8>> {
        if self.remote.is_none() {
            return Vec::new();
        }
        if let Some(tick) = self.event_ticks.pop_front() {
            self.timestamp = self.timestamp.wrapping_add(FRAME_SAMPLES as u32);
            if self.event_ticks.is_empty() {
                // Audio after an event starts a new talkspurt.
                self.marker_next = true;
            }
            return tick.into_iter().flatten().collect();
        }
        let mut payload: Vec<u8> = self
            .audio
            .drain(..FRAME_SAMPLES.min(self.audio.len()))
            .collect();
        payload.resize(FRAME_SAMPLES, self.codec.silence_byte());
        let marker = std::mem::take(&mut self.marker_next);
        let packet = self.packet(self.codec.payload_type(), marker, self.timestamp, &payload);
        self.timestamp = self.timestamp.wrapping_add(FRAME_SAMPLES as u32);
        vec![packet]
    }

    fn plan_event(&mut self, code: u8, options: EventOptions) {
        let Some(payload_type) = self.event_payload_type else {
            panic!("the answer has no telephone-event payload type to press a key with");
        };
        let frame = FRAME_SAMPLES as u32;
        let total_ticks = (options.duration.as_millis() as u32).div_ceil(20).max(1);
        let start = self.timestamp;
        let volume = options.volume & 0x3F;
        let copies = if options.duplicate_packets { 2 } else { 1 };
        for tick in 1..=total_ticks {
            let body = event_payload(code, false, volume, (tick * frame).min(0xFFFF) as u16);
            let packet = self.packet(payload_type, tick == 1, start, &body);
            self.event_ticks.push_back(vec![Some(packet); copies]);
        }
        let duration = (total_ticks * frame).min(0xFFFF) as u16;
        for repeat in 0..options.end_repeats {
            let body = event_payload(code, true, volume, duration);
            let packet = self.packet(payload_type, false, start, &body);
            let sent = if repeat < options.lost_end_packets {
                None
            } else {
                Some(packet)
            };
            self.event_ticks.push_back(vec![sent; copies]);
        }
    }

    /// One RTP packet; takes the next sequence number.
    fn packet(
        &mut self,
        payload_type: u8,
        marker: bool,
        timestamp: u32,
        payload: &[u8],
    ) -> Vec<u8> {
        let mut packet = Vec::with_capacity(12 + payload.len());
        packet.push(0x80);
        packet.push(payload_type & 0x7F | if marker { 0x80 } else { 0 });
        packet.extend_from_slice(&self.sequence.to_be_bytes());
        packet.extend_from_slice(&timestamp.to_be_bytes());
        packet.extend_from_slice(&self.ssrc.to_be_bytes());
        packet.extend_from_slice(payload);
        self.sequence = self.sequence.wrapping_add(1);
        packet
    }
}

/// RFC 4733 §2.3: event, E|R|volume, duration.
fn event_payload(code: u8, end: bool, volume: u8, duration: u16) -> [u8; 4] {
    let duration = duration.to_be_bytes();
    [
        code,
        if end { 0x80 } else { 0 } | volume,
        duration[0],
        duration[1],
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream() -> Stream {
        Stream {
            remote: Some("127.0.0.1:9".parse().unwrap()),
            codec: Codec::Pcmu,
            event_payload_type: Some(101),
            ssrc: 7,
            sequence: 100,
            timestamp: 8000,
            marker_next: true,
            audio: VecDeque::new(),
            event_ticks: VecDeque::new(),
            pending: VecDeque::new(),
        }
    }

    #[test]
    fn an_event_is_start_updates_and_three_ends_on_one_timestamp() {
        let mut stream = stream();
        let first_audio = stream.next_tick().remove(0);
        assert_eq!(
            first_audio[1], 0x80,
            "marker on the first audio packet, PCMU"
        );
        stream.plan_event(1, EventOptions::default());
        let mut packets = Vec::new();
        while !stream.event_ticks.is_empty() {
            packets.extend(stream.next_tick());
        }
        assert_eq!(packets.len(), 10 + 3);
        assert_eq!(
            packets[0][1],
            0x80 | 101,
            "marker on the event's first packet"
        );
        let timestamps: BTreeSet<_> = packets
            .iter()
            .map(|p| u32::from_be_bytes([p[4], p[5], p[6], p[7]]))
            .collect();
        assert_eq!(timestamps, BTreeSet::from([8160]));
        let sequences: Vec<_> = packets
            .iter()
            .map(|p| u16::from_be_bytes([p[2], p[3]]))
            .collect();
        assert_eq!(sequences, (101..114).collect::<Vec<_>>());
        assert_eq!(&packets[9][12..], &[1, 10, 0x06, 0x40]);
        for end in &packets[10..] {
            assert_eq!(&end[12..], &[1, 0x80 | 10, 0x06, 0x40]);
        }
        let after = stream.next_tick().remove(0);
        assert_eq!(after[1], 0x80, "audio after the event starts a talkspurt");
        assert_eq!(
            u32::from_be_bytes([after[4], after[5], after[6], after[7]]),
            8160 + 13 * 160
        );
    }

    #[test]
    fn duplicates_and_lost_end_packets() {
        let mut stream = stream();
        stream.plan_event(
            11,
            EventOptions {
                duration: Duration::from_millis(40),
                duplicate_packets: true,
                lost_end_packets: 2,
                ..EventOptions::default()
            },
        );
        let ticks: Vec<Vec<Vec<u8>>> = (0..5).map(|_| stream.next_tick()).collect();
        let counts: Vec<usize> = ticks.iter().map(Vec::len).collect();
        assert_eq!(counts, vec![2, 2, 0, 0, 2]);
        assert_eq!(ticks[0][0], ticks[0][1]);
        assert_eq!(ticks[4][0][13] & 0x80, 0x80);
        assert_eq!(u16::from_be_bytes([ticks[4][0][2], ticks[4][0][3]]), 104);
    }
}
