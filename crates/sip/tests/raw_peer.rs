//! The dialer and the registrar against a hand-driven UDP peer, for what two ivory endpoints
//! never do to each other: digest challenges (401 MD5, 407 SHA-256), a 200 OK retransmitted, a
//! 200 OK crossing our CANCEL, in-dialog re-INVITE and INFO from the callee, and REGISTER written
//! by hand.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use ivory_sip::digest::{DigestAlgorithm, DigestCredentials, DigestInput, digest_response};
use ivory_sip::{
    OutboundEvent, OutboundRequest, TransportKind, TrunkConfig, TrunkState, UserAccount,
};
use rsipstack::sip::Method;
use rsipstack::sip::prelude::HeadersExt;

fn request_to(peer: &RawPeer, credentials: Option<(&str, &str)>) -> OutboundRequest {
    OutboundRequest {
        target: format!("sip:5555@{}", peer.address()),
        from_user: "4600".into(),
        sdp_offer: SDP.into(),
        credentials: credentials.map(|(user, password)| (user.into(), password.into())),
        ..OutboundRequest::default()
    }
}

/// Challenges the first INVITE with `status` and `header`, checks the second one's credentials.
async fn challenge_and_verify(
    peer: &RawPeer,
    status: &str,
    challenge_header: &str,
    answer_header: &str,
) {
    let (invite, from) = peer.request(Method::Invite).await;
    let text = peer.reply_text(&invite, status, challenge_header, "");
    peer.send(&text, from).await;
    let (ack, _) = peer.request(Method::Ack).await;
    assert_eq!(
        ack.call_id_header().unwrap().value(),
        invite.call_id_header().unwrap().value()
    );
    let (retry, from) = peer.request(Method::Invite).await;
    let value = retry
        .headers
        .iter()
        .find(|h| h.name().eq_ignore_ascii_case(answer_header))
        .unwrap_or_else(|| panic!("{answer_header} in the retried INVITE"))
        .value()
        .to_string();
    let credentials = DigestCredentials::parse(&value).unwrap();
    assert_eq!(credentials.username, "trunkuser");
    assert!(
        credentials.verify("trunkpass", "INVITE"),
        "credentials verify: {value}"
    );
    assert!(!credentials.verify("other", "INVITE"));
    let ok = peer.reply_text(
        &retry,
        "200 OK",
        "Content-Type: application/sdp\r\n",
        "v=0 peer",
    );
    peer.send(&ok, from).await;
    peer.request(Method::Ack).await;
}

#[tokio::test]
async fn answers_a_407_sha256_challenge() {
    let (caller, _) = endpoint(config(&[TransportKind::Udp])).await;
    let peer = RawPeer::bind().await;
    let mut call = caller
        .dialer()
        .call(request_to(&peer, Some(("trunkuser", "trunkpass"))))
        .unwrap();
    challenge_and_verify(
        &peer,
        "407 Proxy Authentication Required",
        "Proxy-Authenticate: Digest realm=\"carrier\", nonce=\"n0nce-256\", algorithm=SHA-256, qop=\"auth\"\r\n",
        "Proxy-Authorization",
    )
    .await;
    match next_progress(&mut call).await {
        OutboundEvent::Answered { sdp } => assert_eq!(sdp, b"v=0 peer"),
        other => panic!("expected Answered, got {other:?}"),
    }
}

#[tokio::test]
async fn answers_a_401_md5_challenge() {
    let (caller, _) = endpoint(config(&[TransportKind::Udp])).await;
    let peer = RawPeer::bind().await;
    let mut call = caller
        .dialer()
        .call(request_to(&peer, Some(("trunkuser", "trunkpass"))))
        .unwrap();
    challenge_and_verify(
        &peer,
        "401 Unauthorized",
        "WWW-Authenticate: Digest realm=\"carrier\", nonce=\"n0nce-md5\", algorithm=MD5\r\n",
        "Authorization",
    )
    .await;
    assert!(matches!(
        next_progress(&mut call).await,
        OutboundEvent::Answered { .. }
    ));
}

#[tokio::test]
async fn a_challenge_without_credentials_fails_the_call() {
    let (caller, _) = endpoint(config(&[TransportKind::Udp])).await;
    let peer = RawPeer::bind().await;
    let mut call = caller.dialer().call(request_to(&peer, None)).unwrap();
    let (invite, from) = peer.request(Method::Invite).await;
    let challenge = "WWW-Authenticate: Digest realm=\"carrier\", nonce=\"x\"\r\n";
    peer.send(
        &peer.reply_text(&invite, "401 Unauthorized", challenge, ""),
        from,
    )
    .await;
    match next_progress(&mut call).await {
        OutboundEvent::Failed { status, .. } => assert_eq!(status, 401),
        other => panic!("expected Failed 401, got {other:?}"),
    }
}

#[tokio::test]
async fn a_retransmitted_200_is_acked_again_and_answers_once() {
    let (caller, _) = endpoint(config(&[TransportKind::Udp])).await;
    let peer = RawPeer::bind().await;
    let mut call = caller.dialer().call(request_to(&peer, None)).unwrap();
    let (invite, from) = peer.request(Method::Invite).await;
    let ok = peer.reply_text(
        &invite,
        "200 OK",
        "Content-Type: application/sdp\r\n",
        "v=0 peer",
    );
    peer.send(&ok, from).await;
    peer.request(Method::Ack).await;
    assert!(matches!(
        next_progress(&mut call).await,
        OutboundEvent::Answered { .. }
    ));
    peer.send(&ok, from).await;
    peer.request(Method::Ack).await;
    let callee = async {
        let (bye, from) = peer.request(Method::Bye).await;
        peer.send(&peer.reply_text(&bye, "200 OK", "", ""), from)
            .await;
    };
    let (hung_up, ()) = tokio::join!(call.hangup(), callee);
    hung_up.unwrap();
    // The retransmission produced no second Answered: the next event is the end.
    assert!(matches!(
        next_event(&mut call).await,
        OutboundEvent::Ended { .. }
    ));
    drop(call);
    eventually("no dialog left", || caller.live_dialogs() == 0).await;
}

#[tokio::test]
async fn a_200_crossing_our_cancel_is_acked_and_ended_with_bye() {
    let (caller, _) = endpoint(config(&[TransportKind::Udp])).await;
    let peer = RawPeer::bind().await;
    let mut call = caller.dialer().call(request_to(&peer, None)).unwrap();
    let (invite, from) = peer.request(Method::Invite).await;
    peer.send(&peer.reply_text(&invite, "180 Ringing", "", ""), from)
        .await;
    assert!(matches!(
        next_progress(&mut call).await,
        OutboundEvent::Ringing
    ));
    let callee = async {
        let (cancel, cancel_from) = peer.request(Method::Cancel).await;
        // The callee answered before it saw the CANCEL: 200 to the INVITE, then to the CANCEL.
        let ok = peer.reply_text(
            &invite,
            "200 OK",
            "Content-Type: application/sdp\r\n",
            "v=0 late",
        );
        peer.send(&ok, from).await;
        peer.send(&peer.reply_text(&cancel, "200 OK", "", ""), cancel_from)
            .await;
        peer.request(Method::Ack).await;
        let (bye, bye_from) = peer.request(Method::Bye).await;
        peer.send(&peer.reply_text(&bye, "200 OK", "", ""), bye_from)
            .await;
    };
    let (cancelled, ()) = tokio::join!(call.cancel(), callee);
    cancelled.unwrap();
    match next_event(&mut call).await {
        OutboundEvent::Failed { status, .. } => assert_eq!(status, 487),
        other => panic!("expected Failed 487, got {other:?}"),
    }
    drop(call);
    eventually("no dialog left", || caller.live_dialogs() == 0).await;
}

/// An in-dialog request from the peer (the callee) to the caller's Contact.
fn in_dialog(
    peer: &RawPeer,
    invite: &rsipstack::sip::Request,
    method: &str,
    cseq: u32,
    extra: &str,
    body: &str,
) -> String {
    let contact = invite.contact_header().unwrap().value().to_string();
    let target = contact
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap()
        .to_string();
    format!(
        "{method} {target} SIP/2.0\r\nVia: SIP/2.0/UDP {};branch=z9hG4bKpeer{cseq}{method}\r\nFrom: {};tag=peer1\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {cseq} {method}\r\nContact: <sip:peer@{}>\r\nMax-Forwards: 70\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        peer.address(),
        invite.to_header().unwrap().value(),
        invite.from_header().unwrap().value(),
        invite.call_id_header().unwrap().value(),
        peer.address(),
        body.len()
    )
}

#[tokio::test]
async fn re_invite_and_info_from_the_callee() {
    let (caller, _) = endpoint(config(&[TransportKind::Udp])).await;
    let peer = RawPeer::bind().await;
    let mut call = caller.dialer().call(request_to(&peer, None)).unwrap();
    let (invite, from) = peer.request(Method::Invite).await;
    let ok = peer.reply_text(
        &invite,
        "200 OK",
        "Content-Type: application/sdp\r\n",
        "v=0 peer",
    );
    peer.send(&ok, from).await;
    peer.request(Method::Ack).await;
    assert!(matches!(
        next_progress(&mut call).await,
        OutboundEvent::Answered { .. }
    ));

    let info = in_dialog(
        &peer,
        &invite,
        "INFO",
        2,
        "Content-Type: application/dtmf-relay\r\n",
        "Signal=7\r\nDuration=160\r\n",
    );
    peer.send(&info, from).await;
    assert!(peer.response().await.starts_with("SIP/2.0 200"));
    assert!(matches!(
        next_event(&mut call).await,
        OutboundEvent::InfoDigit('7')
    ));

    let reinvite = in_dialog(
        &peer,
        &invite,
        "INVITE",
        3,
        "Content-Type: application/sdp\r\n",
        "v=0 hold",
    );
    peer.send(&reinvite, from).await;
    match next_event(&mut call).await {
        OutboundEvent::Offer { sdp, responder } => {
            assert_eq!(sdp, b"v=0 hold");
            responder.answer("v=0 held".into()).await.unwrap();
        }
        other => panic!("expected Offer, got {other:?}"),
    }
    let response = peer.response().await;
    assert!(response.starts_with("SIP/2.0 200"), "{response}");
    assert!(response.ends_with("v=0 held"));

    let bye = in_dialog(&peer, &invite, "BYE", 4, "", "");
    peer.send(&bye, from).await;
    assert!(peer.response().await.starts_with("SIP/2.0 200"));
    assert!(matches!(
        next_event(&mut call).await,
        OutboundEvent::RemoteHangup
    ));
}

fn register_text(peer: &RawPeer, server: std::net::SocketAddr, cseq: u32, extra: &str) -> String {
    format!(
        "REGISTER sip:{server} SIP/2.0\r\nVia: SIP/2.0/UDP {};rport;branch=z9hG4bKreg{cseq}\r\nFrom: <sip:alice@{server}>;tag=reg1\r\nTo: <sip:alice@{server}>\r\nCall-ID: reg-call-1\r\nCSeq: {cseq} REGISTER\r\nMax-Forwards: 70\r\n{extra}Content-Length: 0\r\n\r\n",
        peer.address()
    )
}

fn authorization(response_text: &str, server: std::net::SocketAddr, password: &str) -> String {
    let challenge = header(response_text, "WWW-Authenticate").unwrap();
    let field = |name: &str| {
        let start = challenge.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        challenge[start..].split('"').next().unwrap().to_string()
    };
    let (realm, nonce) = (field("realm"), field("nonce"));
    let uri = format!("sip:{server}");
    let response = digest_response(&DigestInput {
        algorithm: DigestAlgorithm::Md5,
        username: "alice",
        realm: &realm,
        password,
        method: "REGISTER",
        uri: &uri,
        nonce: &nonce,
        qop_auth: Some(("00000001", "0a4f113b")),
    });
    format!(
        "Authorization: Digest username=\"alice\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{response}\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"0a4f113b\"\r\n"
    )
}

#[tokio::test]
async fn a_hand_written_softphone_registers() {
    let mut with_users = config(&[TransportKind::Udp]);
    with_users.users = vec![UserAccount {
        username: "alice".into(),
        password: "wonderland".into(),
    }];
    let (server, _calls) = endpoint(with_users).await;
    let server_address = address(&server, TransportKind::Udp);
    let peer = RawPeer::bind().await;
    let contact = "Contact: <sip:alice@10.9.8.7:5062>;expires=300\r\n";

    peer.send(
        &register_text(&peer, server_address, 1, contact),
        server_address,
    )
    .await;
    let challenge = peer.response().await;
    assert!(challenge.starts_with("SIP/2.0 401"), "{challenge}");
    assert!(
        header(&challenge, "WWW-Authenticate")
            .unwrap()
            .contains("qop=\"auth\"")
    );

    let wrong = authorization(&challenge, server_address, "guess");
    peer.send(
        &register_text(&peer, server_address, 2, &format!("{contact}{wrong}")),
        server_address,
    )
    .await;
    assert!(peer.response().await.starts_with("SIP/2.0 401"));

    let right = authorization(&challenge, server_address, "wonderland");
    peer.send(
        &register_text(&peer, server_address, 3, &format!("{contact}{right}")),
        server_address,
    )
    .await;
    let accepted = peer.response().await;
    assert!(accepted.starts_with("SIP/2.0 200"), "{accepted}");
    assert!(
        header(&accepted, "Contact")
            .unwrap()
            .contains("expires=300")
    );
    let bindings = server.registrar().lookup("alice");
    assert_eq!(bindings.len(), 1);
    assert_eq!(bindings[0].contact, "sip:alice@10.9.8.7:5062");
    assert_eq!(
        bindings[0].source,
        peer.address(),
        "reached where it registered from"
    );

    let remove = format!("Contact: *\r\nExpires: 0\r\n{right}");
    peer.send(
        &register_text(&peer, server_address, 4, &remove),
        server_address,
    )
    .await;
    assert!(peer.response().await.starts_with("SIP/2.0 200"));
    assert!(server.registrar().lookup("alice").is_empty());

    // OPTIONS lists REGISTER when the registrar is on.
    let options = register_text(&peer, server_address, 5, "").replace("REGISTER", "OPTIONS");
    peer.send(&options, server_address).await;
    let answer = peer.response().await;
    assert!(
        header(&answer, "Allow").unwrap().contains("REGISTER"),
        "{answer}"
    );
}

#[tokio::test]
async fn register_without_users_is_not_allowed() {
    let (server, _calls) = endpoint(config(&[TransportKind::Udp])).await;
    let server_address = address(&server, TransportKind::Udp);
    let peer = RawPeer::bind().await;
    peer.send(
        &register_text(&peer, server_address, 1, "Contact: <sip:a@10.0.0.1>\r\n"),
        server_address,
    )
    .await;
    let answer = peer.response().await;
    assert!(answer.starts_with("SIP/2.0 405"), "{answer}");
    assert!(!header(&answer, "Allow").unwrap().contains("REGISTER"));
}

#[tokio::test]
async fn progress_early_media_once_then_busy() {
    let (caller, _) = endpoint(config(&[TransportKind::Udp])).await;
    let peer = RawPeer::bind().await;
    let mut call = caller.dialer().call(request_to(&peer, None)).unwrap();
    let (invite, from) = peer.request(Method::Invite).await;
    let sdp = "Content-Type: application/sdp\r\n";
    for (status, extra, body) in [
        ("100 Trying", "", ""),
        ("183 Session Progress", sdp, "v=0 early"),
        ("183 Session Progress", sdp, "v=0 early"),
        ("180 Ringing", "", ""),
        ("486 Busy Here", "", ""),
    ] {
        peer.send(&peer.reply_text(&invite, status, extra, body), from)
            .await;
    }
    assert!(matches!(next_event(&mut call).await, OutboundEvent::Trying));
    match next_event(&mut call).await {
        OutboundEvent::EarlyMedia { sdp } => assert_eq!(sdp, b"v=0 early"),
        other => panic!("expected EarlyMedia, got {other:?}"),
    }
    // The repeated 183 with the same SDP is not reported again.
    assert!(matches!(
        next_event(&mut call).await,
        OutboundEvent::Ringing
    ));
    match next_event(&mut call).await {
        OutboundEvent::Failed { status, reason } => {
            assert_eq!((status, reason.as_str()), (486, "Busy Here"));
        }
        other => panic!("expected Failed 486, got {other:?}"),
    }
    peer.request(Method::Ack).await;
    assert!(call.next_event().await.is_none());
}

#[tokio::test]
async fn targets_that_are_not_sip_uris_are_errors() {
    let (caller, _) = endpoint(config(&[TransportKind::Udp])).await;
    for target in ["not a uri", "tel:+4670", "sip:"] {
        let request = OutboundRequest {
            target: target.into(),
            ..OutboundRequest::default()
        };
        assert!(
            matches!(
                caller.dialer().call(request),
                Err(ivory_sip::SipError::InvalidTarget { .. })
            ),
            "{target}"
        );
    }
}

/// A carrier's registrar that loses one REGISTER datagram, first of the registration and then of
/// a refresh: the retransmission is answered, and the trunk stays registered throughout.
#[tokio::test]
async fn a_trunk_registration_survives_a_lost_register() {
    let registrar = RawPeer::bind().await;
    let mut phone_config = config(&[TransportKind::Udp]);
    let mut trunk = TrunkConfig::new("carrier", "127.0.0.1");
    trunk.port = registrar.address().port();
    trunk.register = true;
    // Refreshed at 80 %: 1.6 s after each 200 OK.
    trunk.register_expires_seconds = 2;
    phone_config.trunks = vec![trunk];
    let (phone, _calls) = endpoint(phone_config).await;

    let registered_until = |phone: &ivory_sip::SipEndpoint| match phone.trunk_states().as_slice() {
        [(_, TrunkState::Registered { expires_at })] => Some(*expires_at),
        _ => None,
    };
    let mut previous = None;
    for round in ["registration", "refresh"] {
        let (lost, _) = registrar.request(Method::Register).await;
        let (again, from) = registrar.request(Method::Register).await;
        assert_eq!(
            lost.via_header().unwrap().value(),
            again.via_header().unwrap().value(),
            "the {round} was retransmitted, not sent anew"
        );
        let ok = registrar.reply_text(&again, "200 OK", "Expires: 2\r\n", "");
        registrar.send(&ok, from).await;
        // Registered anew: a later expiry than before this round.
        eventually("the trunk reports a new registration", || {
            registered_until(&phone).is_some_and(|until| previous.is_none_or(|p| until > p))
        })
        .await;
        previous = registered_until(&phone);
    }
}
