//! Two `SipEndpoint`s on 127.0.0.1: one dials the other. Answer and BYE from each side, busy,
//! no answer and CANCEL, TCP, the inbound source policy, and a trunk registering with the other
//! endpoint's registrar, then being called as `user:`.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use ivory_sip::{
    CallEvent, OutboundEvent, OutboundRequest, TransportKind, TrunkConfig, TrunkState, UserAccount,
};

fn request_to(target: String) -> OutboundRequest {
    OutboundRequest {
        target,
        from_user: "4600".into(),
        from_display: Some("Ivory Test".into()),
        sdp_offer: SDP.into(),
        headers: vec![("X-Test".into(), "calls".into())],
        ..OutboundRequest::default()
    }
}

#[tokio::test]
async fn answered_call_hung_up_by_the_caller() {
    let (caller, _) = endpoint(config(&[TransportKind::Udp])).await;
    let (callee, mut calls) = endpoint(config(&[TransportKind::Udp])).await;
    let target = format!("sip:1000@{}", address(&callee, TransportKind::Udp));
    let mut call = caller.dialer().call(request_to(target)).unwrap();
    assert!(!call.call_id().is_empty());

    let mut inbound = incoming(&mut calls).await;
    assert_eq!(inbound.info().request_user, "1000");
    assert_eq!(inbound.info().from_user, "4600");
    assert_eq!(inbound.info().call_id, call.call_id());
    assert_eq!(inbound.offer(), SDP.as_bytes());
    inbound.ring().unwrap();
    assert!(matches!(
        next_progress(&mut call).await,
        OutboundEvent::Ringing
    ));
    inbound.answer("v=0 answer".into()).unwrap();
    match next_progress(&mut call).await {
        OutboundEvent::Answered { sdp } => assert_eq!(sdp, b"v=0 answer"),
        other => panic!("expected Answered, got {other:?}"),
    }
    assert!(matches!(
        inbound_event(&mut inbound).await,
        CallEvent::Confirmed
    ));

    call.hangup().await.unwrap();
    assert!(matches!(
        inbound_event(&mut inbound).await,
        CallEvent::RemoteHangup
    ));
    match next_event(&mut call).await {
        OutboundEvent::Ended { reason } => assert_eq!(reason, "local-bye"),
        other => panic!("expected Ended, got {other:?}"),
    }
    assert!(call.next_event().await.is_none(), "Ended is the last event");
    drop(inbound);
    drop(call);
    eventually("no dialog left on either side", || {
        caller.live_dialogs() == 0 && callee.live_dialogs() == 0
    })
    .await;
}

#[tokio::test]
async fn answered_call_hung_up_by_the_callee_over_tcp() {
    let (caller, _) = endpoint(config(&[TransportKind::Udp, TransportKind::Tcp])).await;
    let (callee, mut calls) = endpoint(config(&[TransportKind::Udp, TransportKind::Tcp])).await;
    let target = format!(
        "sip:1000@{};transport=tcp",
        address(&callee, TransportKind::Tcp)
    );
    let mut call = caller.dialer().call(request_to(target)).unwrap();
    let mut inbound = incoming(&mut calls).await;
    assert_eq!(inbound.info().transport, TransportKind::Tcp);
    inbound.answer("v=0 tcp".into()).unwrap();
    assert!(matches!(
        next_progress(&mut call).await,
        OutboundEvent::Answered { .. }
    ));
    assert!(matches!(
        inbound_event(&mut inbound).await,
        CallEvent::Confirmed
    ));
    inbound.hangup().await.unwrap();
    assert!(matches!(
        next_event(&mut call).await,
        OutboundEvent::RemoteHangup
    ));
    assert!(call.next_event().await.is_none());
    drop(inbound);
    drop(call);
    eventually("no dialog left", || {
        caller.live_dialogs() == 0 && callee.live_dialogs() == 0
    })
    .await;
}

#[tokio::test]
async fn busy_callee() {
    let (caller, _) = endpoint(config(&[TransportKind::Udp])).await;
    let (callee, mut calls) = endpoint(config(&[TransportKind::Udp])).await;
    let target = format!("sip:1000@{}", address(&callee, TransportKind::Udp));
    let mut call = caller.dialer().call(request_to(target)).unwrap();
    let inbound = incoming(&mut calls).await;
    inbound.reject(486).unwrap();
    match next_progress(&mut call).await {
        OutboundEvent::Failed { status, .. } => assert_eq!(status, 486),
        other => panic!("expected Failed, got {other:?}"),
    }
    assert!(call.next_event().await.is_none());
    drop(call);
    eventually("no dialog left on the caller", || {
        caller.live_dialogs() == 0
    })
    .await;
}

#[tokio::test]
async fn unanswered_call_cancelled() {
    let (caller, _) = endpoint(config(&[TransportKind::Udp])).await;
    let (callee, mut calls) = endpoint(config(&[TransportKind::Udp])).await;
    let target = format!("sip:1000@{}", address(&callee, TransportKind::Udp));
    let mut call = caller.dialer().call(request_to(target)).unwrap();
    let mut inbound = incoming(&mut calls).await;
    inbound.ring().unwrap();
    assert!(matches!(
        next_progress(&mut call).await,
        OutboundEvent::Ringing
    ));
    call.cancel().await.unwrap();
    match next_event(&mut call).await {
        OutboundEvent::Failed { status, .. } => assert_eq!(status, 487),
        other => panic!("expected Failed 487, got {other:?}"),
    }
    assert!(matches!(
        inbound_event(&mut inbound).await,
        CallEvent::Cancelled
    ));
    drop(inbound);
    drop(call);
    eventually("no dialog left on either side", || {
        caller.live_dialogs() == 0 && callee.live_dialogs() == 0
    })
    .await;
}

#[tokio::test]
async fn sources_outside_the_trunk_networks_are_refused() {
    let (caller, _) = endpoint(config(&[TransportKind::Udp])).await;
    let mut guarded = config(&[TransportKind::Udp]);
    let mut carrier = TrunkConfig::new("carrier", "192.0.2.1");
    carrier.allow = vec!["192.0.2.0/24".parse().unwrap()];
    guarded.trunks = vec![carrier];
    let (callee, _calls) = endpoint(guarded).await;
    let target = format!("sip:1000@{}", address(&callee, TransportKind::Udp));
    let mut call = caller.dialer().call(request_to(target)).unwrap();
    match next_progress(&mut call).await {
        OutboundEvent::Failed { status, .. } => assert_eq!(status, 403),
        other => panic!("expected Failed 403, got {other:?}"),
    }
    // The same endpoint with the caller's network allowed takes the call.
    let mut open = config(&[TransportKind::Udp]);
    let mut local = TrunkConfig::new("local", "127.0.0.1");
    local.allow = vec!["127.0.0.0/8".parse().unwrap()];
    open.trunks = vec![local];
    let (callee, mut calls) = endpoint(open).await;
    let target = format!("sip:1000@{}", address(&callee, TransportKind::Udp));
    let _call = caller.dialer().call(request_to(target)).unwrap();
    let inbound = incoming(&mut calls).await;
    inbound.reject(404).unwrap();
}

#[tokio::test]
async fn a_trunk_registers_with_the_registrar_and_is_then_called_as_a_user() {
    let mut registrar_config = config(&[TransportKind::Udp]);
    registrar_config.users = vec![UserAccount {
        username: "alice".into(),
        password: "wonderland".into(),
    }];
    registrar_config.realm = "ivory.test".into();
    // Only trunks' networks and registered users may call in: the softphone side must register.
    let mut nowhere = TrunkConfig::new("nowhere", "192.0.2.1");
    nowhere.allow = vec!["192.0.2.0/24".parse().unwrap()];
    registrar_config.trunks = vec![nowhere];
    let (server, mut server_calls) = endpoint(registrar_config).await;
    let server_address = address(&server, TransportKind::Udp);

    let mut phone_config = config(&[TransportKind::Udp]);
    let mut trunk = TrunkConfig::new("pbx", server_address.ip().to_string());
    trunk.port = server_address.port();
    trunk.username = Some("alice".into());
    trunk.password = Some("wonderland".into());
    trunk.register = true;
    trunk.register_expires_seconds = 120;
    phone_config.trunks = vec![trunk];
    let (phone, mut phone_calls) = endpoint(phone_config).await;

    let registrar = server.registrar();
    eventually("alice is registered", || {
        !registrar.lookup("alice").is_empty()
    })
    .await;
    eventually("the trunk reports Registered", || {
        matches!(
            phone.trunk_states().as_slice(),
            [(name, TrunkState::Registered { .. })] if name == "pbx"
        )
    })
    .await;
    let bindings = registrar.lookup("alice");
    assert_eq!(bindings.len(), 1);
    assert_eq!(bindings[0].source, address(&phone, TransportKind::Udp));
    assert!(registrar.is_user("alice") && !registrar.is_user("bob"));

    // Call the registered user at its binding.
    let binding = &bindings[0];
    let request = OutboundRequest {
        destination: Some(binding.source),
        ..request_to(binding.contact.clone())
    };
    let mut call = server.dialer().call(request).unwrap();
    let inbound = incoming(&mut phone_calls).await;
    inbound.answer("v=0 phone".into()).unwrap();
    assert!(matches!(
        next_progress(&mut call).await,
        OutboundEvent::Answered { .. }
    ));
    call.hangup().await.unwrap();

    // The registered softphone may call in although it is outside every trunk network.
    let target = format!("sip:2000@{server_address}");
    let mut call_in = phone.dialer().call(request_to(target)).unwrap();
    let inbound = incoming(&mut server_calls).await;
    inbound.reject(480).unwrap();
    match next_progress(&mut call_in).await {
        OutboundEvent::Failed { status, .. } => assert_eq!(status, 480),
        other => panic!("expected Failed 480, got {other:?}"),
    }
}

#[tokio::test]
async fn a_wrong_trunk_password_is_reported_as_failed() {
    let mut registrar_config = config(&[TransportKind::Udp]);
    registrar_config.users = vec![UserAccount {
        username: "alice".into(),
        password: "wonderland".into(),
    }];
    let (server, _calls) = endpoint(registrar_config).await;
    let server_address = address(&server, TransportKind::Udp);
    let mut phone_config = config(&[TransportKind::Udp]);
    let mut trunk = TrunkConfig::new("pbx", server_address.ip().to_string());
    trunk.port = server_address.port();
    trunk.username = Some("alice".into());
    trunk.password = Some("guess".into());
    trunk.register = true;
    phone_config.trunks = vec![trunk];
    let (phone, _) = endpoint(phone_config).await;
    eventually("the trunk reports Failed 401", || {
        matches!(
            phone.trunk_states().as_slice(),
            [(_, TrunkState::Failed { reason, .. })] if reason.starts_with("401")
        )
    })
    .await;
    assert!(server.registrar().lookup("alice").is_empty());
}

#[tokio::test]
async fn dropping_an_unanswered_call_cancels_it() {
    let (caller, _) = endpoint(config(&[TransportKind::Udp])).await;
    let (callee, mut calls) = endpoint(config(&[TransportKind::Udp])).await;
    let target = format!("sip:1000@{}", address(&callee, TransportKind::Udp));
    let mut call = caller.dialer().call(request_to(target)).unwrap();
    let mut inbound = incoming(&mut calls).await;
    inbound.ring().unwrap();
    assert!(matches!(
        next_progress(&mut call).await,
        OutboundEvent::Ringing
    ));
    drop(call);
    assert!(matches!(
        inbound_event(&mut inbound).await,
        CallEvent::Cancelled
    ));
    drop(inbound);
    eventually("no dialog left on either side", || {
        caller.live_dialogs() == 0 && callee.live_dialogs() == 0
    })
    .await;
}
