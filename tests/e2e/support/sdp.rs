//! The test UA's SDP: a hand-written offer and a tolerant reader for the first audio stream of
//! an answer. Independent of ivory's own SDP code on purpose.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// What the test UA offers.
#[derive(Debug, Clone)]
pub struct Offer {
    pub rtp_port: u16,
    /// Static payload types of G.711, in order of preference: 0 (PCMU), 8 (PCMA).
    pub codecs: Vec<u8>,
    /// The telephone-event payload type, if offered.
    pub telephone_event: Option<u8>,
    /// `sendrecv`, `sendonly` (hold), `recvonly`, `inactive`.
    pub direction: &'static str,
    /// Incremented for each new offer in a dialog (RFC 3264 §8).
    pub version: u32,
}

impl Offer {
    /// PCMU, PCMA and telephone-event 101, sendrecv.
    pub fn new(rtp_port: u16) -> Offer {
        Offer {
            rtp_port,
            codecs: vec![0, 8],
            telephone_event: Some(101),
            direction: "sendrecv",
            version: 1,
        }
    }

    pub fn render(&self) -> String {
        let mut formats: Vec<String> = self.codecs.iter().map(u8::to_string).collect();
        if let Some(event) = self.telephone_event {
            formats.push(event.to_string());
        }
        let mut text = format!(
            "v=0\r\no=ivory-test 4242 {} IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=audio {} RTP/AVP {}\r\n",
            self.version,
            self.rtp_port,
            formats.join(" ")
        );
        for codec in &self.codecs {
            match codec {
                0 => text.push_str("a=rtpmap:0 PCMU/8000\r\n"),
                8 => text.push_str("a=rtpmap:8 PCMA/8000\r\n"),
                _ => {}
            }
        }
        if let Some(event) = self.telephone_event {
            text.push_str(&format!(
                "a=rtpmap:{event} telephone-event/8000\r\na=fmtp:{event} 0-16\r\n"
            ));
        }
        text.push_str("a=ptime:20\r\n");
        text.push_str(&format!("a={}\r\n", self.direction));
        text
    }
}

/// The first audio stream of an SDP body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioStream {
    pub address: IpAddr,
    pub port: u16,
    pub payload_types: Vec<u8>,
    /// `(payload type, "encoding/clock")` from `a=rtpmap`.
    pub rtpmaps: Vec<(u8, String)>,
    /// The media-level direction attribute, else the session-level one; `None` means sendrecv.
    pub direction: Option<String>,
}

impl AudioStream {
    pub fn parse(body: &str) -> Option<AudioStream> {
        let mut session_address = None;
        let mut session_direction = None;
        let mut stream: Option<AudioStream> = None;
        let mut in_other_media = false;
        for line in body.lines().map(str::trim) {
            if let Some(rest) = line.strip_prefix("m=") {
                if stream.is_some() {
                    break;
                }
                let fields: Vec<&str> = rest.split_whitespace().collect();
                if fields.first() != Some(&"audio") {
                    in_other_media = true;
                    continue;
                }
                in_other_media = false;
                stream = Some(AudioStream {
                    address: session_address.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
                    port: fields.get(1)?.split('/').next()?.parse().ok()?,
                    payload_types: fields
                        .iter()
                        .skip(3)
                        .filter_map(|f| f.parse().ok())
                        .collect(),
                    rtpmaps: Vec::new(),
                    direction: None,
                });
                continue;
            }
            if in_other_media {
                continue;
            }
            if let Some(rest) = line.strip_prefix("c=") {
                let address = rest
                    .split_whitespace()
                    .nth(2)
                    .and_then(|a| a.split('/').next()?.parse().ok());
                match stream.as_mut() {
                    Some(stream) => {
                        if let Some(address) = address {
                            stream.address = address;
                        }
                    }
                    None => session_address = address,
                }
            } else if let Some(rest) = line.strip_prefix("a=rtpmap:") {
                if let (Some(stream), Some((payload_type, encoding))) =
                    (stream.as_mut(), rest.split_once(' '))
                    && let Ok(payload_type) = payload_type.parse()
                {
                    stream
                        .rtpmaps
                        .push((payload_type, encoding.trim().to_string()));
                }
            } else if let Some(attribute) = line.strip_prefix("a=")
                && matches!(attribute, "sendrecv" | "sendonly" | "recvonly" | "inactive")
            {
                match stream.as_mut() {
                    Some(stream) => stream.direction = Some(attribute.to_string()),
                    None => session_direction = Some(attribute.to_string()),
                }
            }
        }
        let mut stream = stream?;
        if stream.direction.is_none() {
            stream.direction = session_direction;
        }
        Some(stream)
    }

    pub fn rtp_address(&self) -> SocketAddr {
        SocketAddr::new(self.address, self.port)
    }

    /// The payload type mapped to an encoding name (case-insensitive), e.g. `telephone-event`.
    pub fn payload_type_of(&self, encoding: &str) -> Option<u8> {
        self.rtpmaps
            .iter()
            .find(|(payload_type, map)| {
                self.payload_types.contains(payload_type)
                    && map
                        .split('/')
                        .next()
                        .is_some_and(|name| name.eq_ignore_ascii_case(encoding))
            })
            .map(|(payload_type, _)| *payload_type)
    }

    /// The first G.711 payload type in the answer's format list.
    pub fn first_g711(&self) -> Option<u8> {
        self.payload_types
            .iter()
            .copied()
            .find(|pt| *pt == 0 || *pt == 8)
    }

    /// The effective direction, `sendrecv` when none is given.
    pub fn direction(&self) -> &str {
        self.direction.as_deref().unwrap_or("sendrecv")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offer_round_trips_through_the_reader() {
        let mut offer = Offer::new(40000);
        offer.direction = "sendonly";
        let stream = AudioStream::parse(&offer.render()).expect("parses");
        assert_eq!(stream.rtp_address(), "127.0.0.1:40000".parse().unwrap());
        assert_eq!(stream.payload_types, vec![0, 8, 101]);
        assert_eq!(stream.payload_type_of("telephone-event"), Some(101));
        assert_eq!(stream.payload_type_of("PCMA"), Some(8));
        assert_eq!(stream.first_g711(), Some(0));
        assert_eq!(stream.direction(), "sendonly");
    }

    #[test]
    fn media_level_connection_and_session_direction() {
        let body = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\na=recvonly\r\n\
                    m=audio 5004 RTP/AVP 8 96\r\nc=IN IP4 127.0.0.2\r\na=rtpmap:96 telephone-event/8000\r\n";
        let stream = AudioStream::parse(body).expect("parses");
        assert_eq!(stream.rtp_address(), "127.0.0.2:5004".parse().unwrap());
        assert_eq!(stream.direction(), "recvonly");
        assert_eq!(stream.payload_type_of("telephone-event"), Some(96));
        assert_eq!(stream.first_g711(), Some(8));
    }
}
