//! Offer/answer against the offers real peers send.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::*;

fn local() -> LocalMedia {
    LocalMedia {
        address: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)),
        rtp_port: 20000,
        session_id: 42,
        session_version: 1,
        codecs: vec![AudioCodec::Pcmu, AudioCodec::Pcma],
    }
}

fn answer(offer: &str) -> SdpAnswer {
    answer_offer(offer.as_bytes(), &local()).expect("offer is answerable")
}

/// The answer's m-lines, and a check that sdp-types reads the answer back.
fn m_lines(body: &str) -> Vec<String> {
    let parsed = Session::parse(body.as_bytes()).expect("answer parses");
    assert_eq!(parsed.origin.sess_id, "42");
    parsed
        .medias
        .iter()
        .map(|media| {
            format!(
                "{} {} {} {}",
                media.media, media.port, media.proto, media.fmt
            )
        })
        .collect()
}

/// What `sipp -sn uac` sends.
const SIPP: &str = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\n\
                    c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

#[test]
fn sipp_default_offer_gets_pcmu_without_telephone_event() {
    let answer = answer(SIPP);
    assert_eq!(
        answer.media,
        NegotiatedMedia {
            codec: AudioCodec::Pcmu,
            audio_payload_type: 0,
            telephone_event_payload_type: None,
            remote_rtp: Some("127.0.0.1:6000".parse().expect("literal")),
            remote_direction: MediaDirection::SendRecv,
            local_direction: MediaDirection::SendRecv,
            ptime_ms: 20,
        }
    );
    assert_eq!(
        answer.body,
        "v=0\r\no=ivory 42 1 IN IP4 127.0.0.1\r\ns=ivory\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio 20000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\na=sendrecv\r\n"
    );
}

#[test]
fn sipp_with_rfc4733_keeps_payload_type_96() {
    let offer = SIPP.replace("RTP/AVP 0\r\n", "RTP/AVP 0 96\r\n")
        + "a=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-15\r\n";
    let answer = answer(&offer);
    assert_eq!(answer.media.telephone_event_payload_type, Some(96));
    assert!(answer.body.contains("m=audio 20000 RTP/AVP 0 96\r\n"));
    assert!(
        answer
            .body
            .contains("a=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-16\r\n")
    );
}

/// Like baresip 1.0 with its default codec list.
const BARESIP: &str = "v=0\r\no=- 1283612394 3429871340 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n\
     t=0 0\r\nm=audio 10442 RTP/AVP 96 97 9 0 8 101\r\nb=AS:64\r\na=rtpmap:96 opus/48000/2\r\n\
     a=fmtp:96 stereo=1;sprop-stereo=1\r\na=rtpmap:97 G7221/16000\r\na=rtpmap:9 G722/8000\r\n\
     a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
     a=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n";

#[test]
fn baresip_offer_gets_its_first_g711_and_payload_type_101() {
    let answer = answer(BARESIP);
    assert_eq!(answer.media.codec, AudioCodec::Pcmu);
    assert_eq!(answer.media.audio_payload_type, 0);
    assert_eq!(answer.media.telephone_event_payload_type, Some(101));
    assert_eq!(
        answer.media.remote_rtp,
        Some("127.0.0.1:10442".parse().expect("literal"))
    );
    assert_eq!(m_lines(&answer.body), ["audio 20000 RTP/AVP 0 101"]);
}

#[test]
fn callers_preference_wins_over_ours() {
    let offer = BARESIP.replace("RTP/AVP 96 97 9 0 8 101", "RTP/AVP 8 0 101");
    assert_eq!(answer(&offer).media.codec, AudioCodec::Pcma);
}

#[test]
fn pcma_only_and_dynamic_payload_type_by_name() {
    let pcma = SIPP
        .replace("RTP/AVP 0", "RTP/AVP 8")
        .replace("a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000");
    let answer_pcma = answer(&pcma);
    assert_eq!(answer_pcma.media.codec, AudioCodec::Pcma);
    assert!(
        answer_pcma
            .body
            .contains("m=audio 20000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n")
    );

    let dynamic = SIPP
        .replace("RTP/AVP 0", "RTP/AVP 112")
        .replace("a=rtpmap:0 PCMU/8000", "a=rtpmap:112 pcma/8000/1");
    let answer_dynamic = answer(&dynamic);
    assert_eq!(answer_dynamic.media.codec, AudioCodec::Pcma);
    assert_eq!(answer_dynamic.media.audio_payload_type, 112);
    assert!(answer_dynamic.body.contains("a=rtpmap:112 PCMA/8000\r\n"));

    // Static payload types need no rtpmap.
    let bare = SIPP.replace("a=rtpmap:0 PCMU/8000\r\n", "");
    assert_eq!(answer(&bare).media.codec, AudioCodec::Pcmu);
}

#[test]
fn pcma_only_offer_fails_when_we_accept_only_pcmu() {
    let pcma = SIPP
        .replace("RTP/AVP 0", "RTP/AVP 8")
        .replace("a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000");
    let pcmu_only = LocalMedia {
        codecs: vec![AudioCodec::Pcmu],
        ..local()
    };
    assert!(matches!(
        answer_offer(pcma.as_bytes(), &pcmu_only),
        Err(SdpError::NoCommonCodec)
    ));
}

#[test]
fn no_common_codec_and_no_audio_are_errors() {
    let opus = BARESIP.replace("RTP/AVP 96 97 9 0 8 101", "RTP/AVP 96 9 101");
    assert!(matches!(
        answer_offer(opus.as_bytes(), &local()),
        Err(SdpError::NoCommonCodec)
    ));
    // A static payload type rebound to another codec by rtpmap is that codec.
    let rebound = SIPP.replace("PCMU/8000", "G729/8000");
    assert!(matches!(
        answer_offer(rebound.as_bytes(), &local()),
        Err(SdpError::NoCommonCodec)
    ));
    let video_only = SIPP.replace("m=audio 6000 RTP/AVP 0", "m=video 6000 RTP/AVP 0");
    assert!(matches!(
        answer_offer(video_only.as_bytes(), &local()),
        Err(SdpError::NoAudio)
    ));
    let srtp = SIPP.replace("RTP/AVP", "RTP/SAVP");
    assert!(matches!(
        answer_offer(srtp.as_bytes(), &local()),
        Err(SdpError::NoAudio)
    ));
    assert!(matches!(
        answer_offer(b"garbage", &local()),
        Err(SdpError::Malformed(_))
    ));
    let no_connection = SIPP.replace("c=IN IP4 127.0.0.1\r\n", "");
    assert!(matches!(
        answer_offer(no_connection.as_bytes(), &local()),
        Err(SdpError::MissingConnection)
    ));
    let hostname = SIPP.replace("c=IN IP4 127.0.0.1", "c=IN IP4 pbx.example.com");
    assert!(matches!(
        answer_offer(hostname.as_bytes(), &local()),
        Err(SdpError::InvalidConnectionAddress { .. })
    ));
}

#[test]
fn directions_are_mirrored() {
    for (offered, ours) in [
        ("sendonly", MediaDirection::RecvOnly),
        ("recvonly", MediaDirection::SendOnly),
        ("inactive", MediaDirection::Inactive),
        ("sendrecv", MediaDirection::SendRecv),
    ] {
        let offer = format!("{SIPP}a={offered}\r\n");
        let answer = answer(&offer);
        assert_eq!(answer.media.local_direction, ours, "{offered}");
        assert!(
            answer
                .body
                .ends_with(&format!("a={}\r\n", ours.attribute()))
        );
        assert!(answer.media.remote_rtp.is_some());
    }
    // A session-level attribute applies when the m-line has none.
    let session_level = SIPP.replace("t=0 0\r\n", "t=0 0\r\na=sendonly\r\n");
    assert_eq!(
        answer(&session_level).media.local_direction,
        MediaDirection::RecvOnly
    );
}

#[test]
fn old_style_hold_has_no_remote_address_and_counts_as_sendonly() {
    let hold = SIPP.replace("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0");
    let answer = answer(&hold);
    assert_eq!(answer.media.remote_rtp, None);
    assert_eq!(answer.media.remote_direction, MediaDirection::SendOnly);
    assert_eq!(answer.media.local_direction, MediaDirection::RecvOnly);
    let hold_recvonly = format!("{hold}a=recvonly\r\n");
    assert_eq!(
        answer_offer(hold_recvonly.as_bytes(), &local())
            .expect("ok")
            .media
            .local_direction,
        MediaDirection::Inactive
    );
}

#[test]
fn video_and_extra_streams_are_refused_with_port_zero() {
    let offer = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
                 m=video 5000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n\
                 m=audio 0 RTP/AVP 0\r\n\
                 m=audio 6000 RTP/AVP 0\r\nc=IN IP4 192.0.2.7\r\n\
                 m=audio 7000 RTP/AVP 8\r\n";
    let answer = answer(offer);
    assert_eq!(
        m_lines(&answer.body),
        [
            "video 0 RTP/AVP 96",
            "audio 0 RTP/AVP 0",
            "audio 20000 RTP/AVP 0",
            "audio 0 RTP/AVP 8"
        ]
    );
    // The media-level c= wins over the session-level one.
    assert_eq!(
        answer.media.remote_rtp,
        Some("192.0.2.7:6000".parse().expect("literal"))
    );
}

#[test]
fn ipv6_offer_and_ipv6_answer() {
    let offer = "v=0\r\no=- 1 1 IN IP6 2001:db8::20\r\ns=-\r\nc=IN IP6 2001:db8::20\r\nt=0 0\r\n\
                 m=audio 6000 RTP/AVP 8 0\r\n";
    let local6 = LocalMedia {
        address: IpAddr::V6(Ipv6Addr::LOCALHOST),
        ..local()
    };
    let answer = answer_offer(offer.as_bytes(), &local6).expect("answerable");
    assert_eq!(answer.media.codec, AudioCodec::Pcma);
    assert_eq!(
        answer.media.remote_rtp,
        Some("[2001:db8::20]:6000".parse().expect("literal"))
    );
    assert!(answer.body.contains("o=ivory 42 1 IN IP6 ::1\r\n"));
    assert!(answer.body.contains("c=IN IP6 ::1\r\n"));
    m_lines(&answer.body);
}

#[test]
fn offers_without_t_line_and_with_bare_lf_are_accepted() {
    let no_time = SIPP.replace("t=0 0\r\n", "");
    assert_eq!(answer(&no_time).media.codec, AudioCodec::Pcmu);
    let bare_lf = SIPP.replace("\r\n", "\n");
    assert_eq!(answer(&bare_lf).media.codec, AudioCodec::Pcmu);
}

#[test]
fn ptime_follows_the_offer_within_limits() {
    let ptime = |value: &str| answer(&format!("{SIPP}a=ptime:{value}\r\n")).media.ptime_ms;
    assert_eq!(ptime("30"), 30);
    assert_eq!(ptime("25"), 20);
    assert_eq!(ptime("1000"), 20);
    assert_eq!(ptime("x"), 20);
}

#[test]
fn offer_lists_our_codecs_and_telephone_event() {
    let offer = make_offer(&local(), 101);
    assert_eq!(
        offer,
        "v=0\r\no=ivory 42 1 IN IP4 127.0.0.1\r\ns=ivory\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio 20000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n"
    );
    // Our own offer is answerable by our own answerer.
    let answer = answer(&offer);
    assert_eq!(answer.media.codec, AudioCodec::Pcmu);
    assert_eq!(answer.media.telephone_event_payload_type, Some(101));
}
