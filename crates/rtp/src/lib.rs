//! Sans-IO RTP media sessions for ivory: one [`MediaSession`] per call leg sends prompts as
//! G.711 at ptime 20, receives the caller's audio through an adaptive jitter buffer, and turns
//! RFC 4733 telephone-events and in-band tones into digits.
//!
//! # Run loop
//!
//! The session opens no socket, spawns nothing and never reads the clock. A driver owns it and
//! repeats four steps; `now` is always the driver's `Instant::now()` (or virtual time in tests):
//!
//! 1. feed every datagram from the RTP socket: [`MediaSession::handle_datagram`];
//! 2. when [`MediaSession::poll_timeout`] has passed, call [`MediaSession::handle_timeout`];
//! 3. drain [`MediaSession::poll_transmit`] into the socket until it returns `None`;
//! 4. drain [`MediaSession::poll_event`] (digits, finished prompts) into the IVR, and, when
//!    recording, [`MediaSession::poll_tapped_frame`] into the recording;
//!
//! then sleep until the next datagram or `poll_timeout`, whichever comes first.
//!
//! ```
//! use std::net::SocketAddr;
//! use std::sync::Arc;
//! use std::time::{Duration, Instant};
//! use ivory_dsp::Codec;
//! use ivory_rtp::*;
//!
//! let start = Instant::now();
//! let config = MediaConfig {
//!     codec: Codec::Pcmu,
//!     audio_payload_type: PayloadType::new(0).expect("valid"),
//!     telephone_event_payload_type: Some(PayloadType::new(101).expect("valid")),
//!     remote: Some(SocketAddr::from(([127, 0, 0, 1], 40_000))),
//!     ssrc: Ssrc(0x1234_5678),
//!     initial_sequence: SeqNo(1000),
//!     initial_timestamp: RtpTimestamp(160_000),
//!     inband_dtmf: true,
//! };
//! let mut session = MediaSession::new(config, start);
//! let beep = Prompt::from_samples(Arc::from(vec![1000i16; 800]));
//! let playing = session.play(beep);
//! let mut buffer = [0u8; 1500];
//! let mut now = start;
//! let mut sent = 0;
//! let mut finished = None;
//! while finished.is_none() {
//!     // A real driver waits here for `poll_timeout` or a datagram, then calls
//!     // `handle_datagram(now, from, &bytes)` for each datagram that arrived.
//!     now = session.poll_timeout().expect("the send clock always has a deadline");
//!     session.handle_timeout(now);
//!     while let Some((length, destination)) = session.poll_transmit(&mut buffer) {
//!         // socket.send_to(&buffer[..length], destination)
//!         assert_eq!(length, 172);
//!         sent += 1;
//!     }
//!     while let Some(event) = session.poll_event() {
//!         if let MediaEvent::PlaybackFinished { id } = event {
//!             finished = Some(id);
//!         }
//!     }
//! }
//! assert_eq!(finished, Some(playing));
//! assert_eq!(sent, 6); // 5 frames of beep, then the first silence frame
//! assert_eq!(now - start, Duration::from_millis(100));
//! ```
//!
//! # Contract
//!
//! - Transmit: one 172-byte packet (12-byte header + 160 samples) every 20 ms on the drift-free
//!   schedule `start + n · 20 ms`, prompt frames while playing and silence otherwise (a 16-byte
//!   RFC 4733 packet instead while a digit from [`MediaSession::send_digit`] is sent), so NATs,
//!   symmetric-RTP peers and the peer's jitter buffer stay fed. Nothing is sent before a remote
//!   address is known or while sending is off (hold); the clock, RTP timestamp and prompts move
//!   on regardless. A late driver gets at most [`MAX_BURST`] packets per wake-up; older due
//!   packets are skipped, because a burst of stale audio is worse than a gap.
//! - Receive: datagrams are validated (never a panic, whatever the bytes); RTCP (rtcp-mux) and
//!   unknown payload types are ignored; audio goes through the [`jitter_buffer`]; one frame is
//!   played out per tick and fed to the in-band DTMF detector when enabled.
//! - Digits: [`telephone_event`] describes how exactly one digit per key press is guaranteed.
//!   Once any telephone-event packet arrived, in-band detection is switched off for the rest of
//!   the session, so a phone that sends both RFC 4733 and the tone is heard once per key.
//! - Symmetric RTP: see [`RELATCH_PACKETS`] and [`MediaSession::set_remote`].
//!
//! - Sending digits: [`MediaSession::send_digit`] replaces audio packets with RFC 4733 event
//!   packets on the same ticks; [`telephone_event_sender`] describes the packet sequence.
//! - Recording: with [`MediaSession::set_tap`] on, every tick leaves the caller's played-out
//!   frame and ivory's frame for [`MediaSession::poll_tapped_frame`] (a fixed ring of
//!   [`TAP_FRAMES`] ticks, no allocation); a driver drains it into a WAV writer.
//! - Bridging: frames given to [`MediaSession::push_live_frame`] (the other leg's audio) are
//!   sent on ticks that play no prompt and send no digit, in place of silence ([`live`]).
//!
//! Out of scope: RTCP generation, codecs other than G.711, SRTP, RFC 2198 redundancy.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod error;
mod ids;
pub mod jitter_buffer;
mod latching;
pub mod live;
mod pacing;
pub mod packet;
mod playback;
mod session;
mod tap;
pub mod telephone_event;
pub mod telephone_event_sender;
#[cfg(test)]
mod test_support;

pub use error::RtpError;
pub use ids::{PayloadType, RtpTimestamp, SeqNo, Ssrc};
pub use latching::RELATCH_PACKETS;
pub use live::{Frame, FrameRing, LIVE_FRAMES};
pub use pacing::{FRAME_DURATION, MAX_BURST};
pub use playback::{PlaybackId, Prompt};
pub use session::{
    DigitDetector, DigitSource, MIN_TRANSMIT_BUFFER, MediaConfig, MediaEvent, MediaSession,
    MediaStats,
};
pub use tap::TAP_FRAMES;
