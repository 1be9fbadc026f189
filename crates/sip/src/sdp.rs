//! SDP offer/answer (RFC 3264) for what ivory speaks: one audio stream of G.711 (PCMU or
//! PCMA at 8000 Hz) plus RFC 4733 `telephone-event/8000`.
//!
//! [`answer_offer`] parses the offer with sdp-types, picks the first audio m-line that is
//! RTP/AVP (or RTP/AVPF), has a non-zero port and a codec we accept, and answers with the
//! caller's most preferred codec among ours, the caller's telephone-event payload type (with
//! `a=fmtp:<pt> 0-16`), `a=ptime:20` and the mirrored direction. Every other m-line is
//! answered with port 0, so the answer has as many m-lines as the offer. An offer with no
//! usable audio, or no codec in common, is an [`SdpError`] (the caller answers 488).
//! [`make_offer`] writes the offer for an outbound call. Both write the text themselves.
//!
//! Old-style hold (`c=0.0.0.0`, RFC 2543) gives `remote_rtp: None` and is read as the peer
//! no longer receiving: sendrecv becomes sendonly, recvonly becomes inactive.
//!
//! Out of scope: SRTP, ICE, other codecs, multiple audio streams, `a=rtcp`, re-offers that
//! change the codec (the caller compares [`NegotiatedMedia`] values).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use sdp_types::{Media, RtpMap, Session};

/// The codecs ivory encodes and decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AudioCodec {
    /// G.711 µ-law, static payload type 0.
    Pcmu,
    /// G.711 A-law, static payload type 8.
    Pcma,
}

impl AudioCodec {
    /// RTP clock rate of both G.711 variants.
    pub const CLOCK_RATE_HZ: u32 = 8000;

    /// The static payload type of RFC 3551.
    pub fn static_payload_type(self) -> u8 {
        match self {
            AudioCodec::Pcmu => 0,
            AudioCodec::Pcma => 8,
        }
    }

    /// The rtpmap encoding name.
    pub fn encoding_name(self) -> &'static str {
        match self {
            AudioCodec::Pcmu => "PCMU",
            AudioCodec::Pcma => "PCMA",
        }
    }
}

/// An m-line's direction attribute (RFC 3264 §5.1), from the point of view of its writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaDirection {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl MediaDirection {
    /// The direction an answer gives to an offer with this direction (RFC 3264 §6.1).
    pub fn mirrored(self) -> Self {
        match self {
            MediaDirection::SendRecv => MediaDirection::SendRecv,
            MediaDirection::SendOnly => MediaDirection::RecvOnly,
            MediaDirection::RecvOnly => MediaDirection::SendOnly,
            MediaDirection::Inactive => MediaDirection::Inactive,
        }
    }

    /// Whether the writer of this direction sends media.
    pub fn sends(self) -> bool {
        matches!(self, MediaDirection::SendRecv | MediaDirection::SendOnly)
    }

    /// Whether the writer of this direction receives media.
    pub fn receives(self) -> bool {
        matches!(self, MediaDirection::SendRecv | MediaDirection::RecvOnly)
    }

    /// The SDP attribute name.
    pub fn attribute(self) -> &'static str {
        match self {
            MediaDirection::SendRecv => "sendrecv",
            MediaDirection::SendOnly => "sendonly",
            MediaDirection::RecvOnly => "recvonly",
            MediaDirection::Inactive => "inactive",
        }
    }

    fn from_attribute(name: &str) -> Option<Self> {
        [
            MediaDirection::SendRecv,
            MediaDirection::SendOnly,
            MediaDirection::RecvOnly,
            MediaDirection::Inactive,
        ]
        .into_iter()
        .find(|direction| name.eq_ignore_ascii_case(direction.attribute()))
    }
}

/// Our side of the media session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalMedia {
    /// Written in `o=` and `c=`.
    pub address: IpAddr,
    pub rtp_port: u16,
    pub session_id: u64,
    /// Incremented by the caller for each new offer or answer in a dialog (RFC 3264 §8).
    pub session_version: u64,
    /// The codecs we accept, in our order of preference (used for offers).
    pub codecs: Vec<AudioCodec>,
}

/// The outcome of a negotiation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiatedMedia {
    pub codec: AudioCodec,
    /// The payload type the peer uses for `codec` (static 0/8, or its dynamic one).
    pub audio_payload_type: u8,
    /// The peer's telephone-event payload type; `None` when it offered none.
    pub telephone_event_payload_type: Option<u8>,
    /// Where to send RTP; `None` on hold with `c=0.0.0.0` (or `::`).
    pub remote_rtp: Option<SocketAddr>,
    /// The peer's direction, after the old-style-hold adjustment.
    pub remote_direction: MediaDirection,
    /// Our direction, as written in the answer.
    pub local_direction: MediaDirection,
    /// Packet duration to send: the peer's `a=ptime` when it is a multiple of 10 from 10
    /// to 60 ms, otherwise 20.
    pub ptime_ms: u32,
}

/// An answer body and what it agreed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdpAnswer {
    pub body: String,
    pub media: NegotiatedMedia,
}

/// Why an offer cannot be answered; the caller answers 488 Not Acceptable Here.
#[derive(Debug, thiserror::Error)]
pub enum SdpError {
    #[error("SDP does not parse: {0}")]
    Malformed(#[from] sdp_types::ParserError),
    #[error("no audio stream over RTP/AVP with a non-zero port")]
    NoAudio,
    #[error("no codec in common (we accept PCMU/PCMA at 8000 Hz)")]
    NoCommonCodec,
    #[error("the audio stream has no connection (c=) line")]
    MissingConnection,
    #[error("connection address {address:?} is not an IP address")]
    InvalidConnectionAddress { address: String },
}

/// The payload-type number RFC 3551 allows.
const MAX_PAYLOAD_TYPE: u8 = 127;
/// Packet duration we ask for and default to.
const DEFAULT_PTIME_MS: u32 = 20;

/// Answers an SDP offer; see the module docs.
pub fn answer_offer(offer: &[u8], local: &LocalMedia) -> Result<SdpAnswer, SdpError> {
    let session = Session::parse(offer)?;
    let mut saw_audio = false;
    let mut chosen = None;
    for (index, media) in session.medias.iter().enumerate() {
        if !is_usable_audio(media) {
            continue;
        }
        saw_audio = true;
        if let Some(selection) = select_codecs(media, &local.codecs) {
            chosen = Some((index, selection));
            break;
        }
    }
    let Some((audio_index, selection)) = chosen else {
        return Err(if saw_audio {
            SdpError::NoCommonCodec
        } else {
            SdpError::NoAudio
        });
    };
    let media = &session.medias[audio_index];
    let connection = media
        .connections
        .first()
        .or(session.connection.as_ref())
        .ok_or(SdpError::MissingConnection)?;
    let remote_ip = connection
        .try_address()
        .map_err(|_| SdpError::InvalidConnectionAddress {
            address: connection.connection_address.clone(),
        })?
        .ip;
    let offered_direction = direction_of(&media.attributes)
        .or_else(|| direction_of(&session.attributes))
        .unwrap_or(MediaDirection::SendRecv);
    let on_hold = remote_ip.is_unspecified();
    let remote_direction = if on_hold {
        match offered_direction {
            MediaDirection::SendRecv | MediaDirection::SendOnly => MediaDirection::SendOnly,
            MediaDirection::RecvOnly | MediaDirection::Inactive => MediaDirection::Inactive,
        }
    } else {
        offered_direction
    };
    let negotiated = NegotiatedMedia {
        codec: selection.codec,
        audio_payload_type: selection.audio_payload_type,
        telephone_event_payload_type: selection.telephone_event_payload_type,
        remote_rtp: (!on_hold).then(|| SocketAddr::new(remote_ip, media.port)),
        remote_direction,
        local_direction: remote_direction.mirrored(),
        ptime_ms: ptime_of(media).unwrap_or(DEFAULT_PTIME_MS),
    };
    let mut body = session_header(local);
    for (index, media) in session.medias.iter().enumerate() {
        if index == audio_index {
            write_audio_media(
                &mut body,
                local.rtp_port,
                &media.proto,
                &[(negotiated.codec, negotiated.audio_payload_type)],
                negotiated.telephone_event_payload_type,
                negotiated.local_direction,
            );
        } else {
            // RFC 3264 §6: a rejected stream keeps its m-line, with port 0.
            let _ = write!(
                body,
                "m={} 0 {} {}\r\n",
                media.media, media.proto, media.fmt
            );
        }
    }
    Ok(SdpAnswer {
        body,
        media: negotiated,
    })
}

/// An offer for an outbound call: every codec of `local.codecs` at its static payload
/// type, then telephone-event at `telephone_event_payload_type`, sendrecv.
pub fn make_offer(local: &LocalMedia, telephone_event_payload_type: u8) -> String {
    let mut codecs: Vec<(AudioCodec, u8)> = Vec::new();
    for codec in &local.codecs {
        if !codecs.iter().any(|(known, _)| known == codec) {
            codecs.push((*codec, codec.static_payload_type()));
        }
    }
    let mut body = session_header(local);
    write_audio_media(
        &mut body,
        local.rtp_port,
        "RTP/AVP",
        &codecs,
        Some(telephone_event_payload_type),
        MediaDirection::SendRecv,
    );
    body
}

/// What was picked from one m-line.
struct Selection {
    codec: AudioCodec,
    audio_payload_type: u8,
    telephone_event_payload_type: Option<u8>,
}

fn is_usable_audio(media: &Media) -> bool {
    media.media.eq_ignore_ascii_case("audio")
        && media.port != 0
        && (media.proto.eq_ignore_ascii_case("RTP/AVP")
            || media.proto.eq_ignore_ascii_case("RTP/AVPF"))
}

/// The caller's first payload type that maps to a codec in `accepted`, and its
/// telephone-event payload type.
fn select_codecs(media: &Media, accepted: &[AudioCodec]) -> Option<Selection> {
    let mut rtpmaps: HashMap<u8, RtpMap> = HashMap::new();
    for rtpmap in media.attributes_typed::<RtpMap>().flatten() {
        rtpmaps.entry(rtpmap.payload_type).or_insert(rtpmap);
    }
    let payload_types: Vec<u8> = media
        .fmt
        .split_ascii_whitespace()
        .filter_map(|format| format.parse::<u8>().ok())
        .filter(|payload_type| *payload_type <= MAX_PAYLOAD_TYPE)
        .collect();
    let (codec, audio_payload_type) = payload_types.iter().find_map(|&payload_type| {
        codec_of(payload_type, rtpmaps.get(&payload_type))
            .filter(|codec| accepted.contains(codec))
            .map(|codec| (codec, payload_type))
    })?;
    let telephone_event_payload_type = payload_types.iter().copied().find(|payload_type| {
        rtpmaps.get(payload_type).is_some_and(|rtpmap| {
            rtpmap.encoding_name.eq_ignore_ascii_case("telephone-event")
                && rtpmap.clock_rate == AudioCodec::CLOCK_RATE_HZ
        })
    });
    Some(Selection {
        codec,
        audio_payload_type,
        telephone_event_payload_type,
    })
}

/// The codec a payload type stands for: its rtpmap when present (any payload type,
/// names compared case-insensitively), else the static assignment of RFC 3551.
fn codec_of(payload_type: u8, rtpmap: Option<&RtpMap>) -> Option<AudioCodec> {
    let Some(rtpmap) = rtpmap else {
        return match payload_type {
            0 => Some(AudioCodec::Pcmu),
            8 => Some(AudioCodec::Pcma),
            _ => None,
        };
    };
    let mono = rtpmap
        .encoding_params
        .as_deref()
        .is_none_or(|channels| channels.trim() == "1");
    if rtpmap.clock_rate != AudioCodec::CLOCK_RATE_HZ || !mono {
        return None;
    }
    [AudioCodec::Pcmu, AudioCodec::Pcma]
        .into_iter()
        .find(|codec| {
            rtpmap
                .encoding_name
                .eq_ignore_ascii_case(codec.encoding_name())
        })
}

fn direction_of(attributes: &[sdp_types::Attribute]) -> Option<MediaDirection> {
    attributes
        .iter()
        .find_map(|attribute| MediaDirection::from_attribute(&attribute.attribute))
}

fn ptime_of(media: &Media) -> Option<u32> {
    let value = media.get_first_attribute_value("ptime")??;
    let ptime: u32 = value.trim().parse().ok()?;
    ((10..=60).contains(&ptime) && ptime.is_multiple_of(10)).then_some(ptime)
}

/// `v=` to `t=` of our description, with the session-level connection.
fn session_header(local: &LocalMedia) -> String {
    let address_type = match local.address {
        IpAddr::V4(_) => "IP4",
        IpAddr::V6(_) => "IP6",
    };
    format!(
        "v=0\r\no=ivory {session_id} {version} IN {address_type} {address}\r\ns=ivory\r\n\
         c=IN {address_type} {address}\r\nt=0 0\r\n",
        session_id = local.session_id,
        version = local.session_version,
        address = local.address,
    )
}

fn write_audio_media(
    body: &mut String,
    port: u16,
    proto: &str,
    codecs: &[(AudioCodec, u8)],
    telephone_event_payload_type: Option<u8>,
    direction: MediaDirection,
) {
    let _ = write!(body, "m=audio {port} {proto}");
    for (_, payload_type) in codecs {
        let _ = write!(body, " {payload_type}");
    }
    if let Some(payload_type) = telephone_event_payload_type {
        let _ = write!(body, " {payload_type}");
    }
    body.push_str("\r\n");
    for (codec, payload_type) in codecs {
        let _ = write!(
            body,
            "a=rtpmap:{payload_type} {}/{}\r\n",
            codec.encoding_name(),
            AudioCodec::CLOCK_RATE_HZ
        );
    }
    if let Some(payload_type) = telephone_event_payload_type {
        let _ = write!(
            body,
            "a=rtpmap:{payload_type} telephone-event/{rate}\r\na=fmtp:{payload_type} 0-16\r\n",
            rate = AudioCodec::CLOCK_RATE_HZ
        );
    }
    let _ = write!(
        body,
        "a=ptime:{DEFAULT_PTIME_MS}\r\na={}\r\n",
        direction.attribute()
    );
}

#[cfg(test)]
mod tests;
