//! The per-call SIP work that is ivory's own: screening an INVITE datagram before rsipstack
//! sees it, and answering its SDP offer. rsipstack's own parse of the same INVITE is measured
//! beside them for scale.
//!
//! Run: `cargo bench -p ivory-sip --bench sip`.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use criterion::{Criterion, criterion_group, criterion_main};
use ivory_sip::screen::{Screening, screen_datagram};
use ivory_sip::sdp::{AudioCodec, LocalMedia, answer_offer};

/// A trunk's offer: several codecs, telephone-event, ptime, an explicit direction.
const OFFER: &str = "v=0\r\n\
o=- 1711012345 1711012345 IN IP4 198.51.100.7\r\n\
s=SIP Call\r\n\
c=IN IP4 198.51.100.7\r\n\
t=0 0\r\n\
m=audio 31452 RTP/AVP 8 0 18 101\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:18 G729/8000\r\n\
a=fmtp:18 annexb=no\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n\
a=maxptime:150\r\n\
a=sendrecv\r\n";

/// A typical INVITE from a trunk over UDP, carrying [`OFFER`].
fn invite() -> Vec<u8> {
    let head = format!(
        "INVITE sip:+15550100@203.0.113.10:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK-524287-1---a4b8c2d1e0f3;rport\r\n\
Max-Forwards: 69\r\n\
From: \"Alice\" <sip:+15550123@198.51.100.7>;tag=7f3a9c21\r\n\
To: <sip:+15550100@203.0.113.10>\r\n\
Call-ID: 3c26700d-7a1b-4b8e-9f62-0c5de1f0a9b4@198.51.100.7\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:+15550123@198.51.100.7:5060;transport=udp>\r\n\
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, PRACK, REFER, NOTIFY\r\n\
Supported: replaces, timer, 100rel\r\n\
Session-Expires: 1800;refresher=uac\r\n\
Min-SE: 90\r\n\
User-Agent: ExampleTrunk/4.2\r\n\
P-Asserted-Identity: <sip:+15550123@198.51.100.7>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: {}\r\n\r\n",
        OFFER.len()
    );
    let mut datagram = head.into_bytes();
    datagram.extend_from_slice(OFFER.as_bytes());
    datagram
}

fn screening(criterion: &mut Criterion) {
    let datagram = invite();
    assert_eq!(
        screen_datagram(&datagram),
        Screening::Pass,
        "the INVITE is well formed"
    );
    criterion.bench_function("sip/screen_invite", |bencher| {
        bencher.iter(|| screen_datagram(black_box(&datagram)));
    });
    criterion.bench_function("sip/rsipstack_parse_invite", |bencher| {
        bencher.iter(|| {
            rsipstack::sip::SipMessage::try_from(black_box(datagram.as_slice()))
                .expect("rsipstack parses the INVITE")
        });
    });
}

fn sdp(criterion: &mut Criterion) {
    let local = LocalMedia {
        address: IpAddr::V4(Ipv4Addr::new(203, 0, 113, 10)),
        rtp_port: 20_000,
        session_id: 1,
        session_version: 1,
        codecs: vec![AudioCodec::Pcmu, AudioCodec::Pcma],
    };
    let answer = answer_offer(OFFER.as_bytes(), &local).expect("the offer is answerable");
    assert_eq!(answer.media.telephone_event_payload_type, Some(101));
    criterion.bench_function("sip/sdp_answer_offer", |bencher| {
        bencher.iter(|| {
            answer_offer(black_box(OFFER.as_bytes()), black_box(&local))
                .expect("the offer is answerable")
        });
    });
}

criterion_group!(benches, screening, sdp);
criterion_main!(benches);
