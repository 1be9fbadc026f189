//! Any offer: the SDP answerer never panics.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use ivory_sip::sdp::{AudioCodec, LocalMedia, answer_offer};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let local = LocalMedia {
        address: IpAddr::V4(Ipv4Addr::LOCALHOST),
        rtp_port: 20000,
        session_id: 1,
        session_version: 1,
        codecs: vec![AudioCodec::Pcmu, AudioCodec::Pcma],
    };
    let _ = answer_offer(data, &local);
});
