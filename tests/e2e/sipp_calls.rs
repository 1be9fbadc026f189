//! Calls placed by sipp with the scenarios in `tools/sipp/`: sipp's exit status says whether the
//! SIP flow went as the scenario expects; the call log says what ivory made of the call.

use crate::support::sipp::{SippTransport, run_scenario};
use crate::support::{Server, ServerOptions, assert_demo_ended_by_ivory, digits, peer_available};
use crate::{CALL_TIMEOUT, SHORT_TIMEOUT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_rfc4733_digit_1_chooses_sales() {
    if !peer_available("sipp") {
        return;
    }
    let server = Server::start("sipp-rfc4733").await;
    let run = run_scenario(
        &server,
        "uac-rfc4733.xml",
        "1000",
        SippTransport::Udp,
        CALL_TIMEOUT,
    )
    .await;
    run.assert_success(&server);
    let call = server.single_call(SHORT_TIMEOUT).await;
    assert_demo_ended_by_ivory(&call, "1");
    assert_eq!(
        digits(&call),
        vec![("1".to_string(), "rfc4733".to_string())],
        "{call:#}"
    );
    assert_eq!(call["transport"], "udp", "{call:#}");
    assert_eq!(call["to"], "1000", "{call:#}");
    assert_eq!(call["direction"], "inbound", "{call:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_inband_digit_2_chooses_support() {
    if !peer_available("sipp") {
        return;
    }
    let server = Server::start("sipp-inband").await;
    let run = run_scenario(
        &server,
        "uac-inband.xml",
        "1000",
        SippTransport::Udp,
        CALL_TIMEOUT,
    )
    .await;
    run.assert_success(&server);
    let call = server.single_call(SHORT_TIMEOUT).await;
    assert_demo_ended_by_ivory(&call, "2");
    assert_eq!(
        digits(&call),
        vec![("2".to_string(), "inband".to_string())],
        "{call:#}"
    );
    assert!(
        call["rtp"]["packetsIn"].as_u64().is_some_and(|n| n > 100),
        "sipp streamed audio: {call:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_over_tcp_chooses_sales() {
    if !peer_available("sipp") {
        return;
    }
    let server = Server::start("sipp-tcp").await;
    let run = run_scenario(
        &server,
        "uac-rfc4733.xml",
        "1000",
        SippTransport::Tcp,
        CALL_TIMEOUT,
    )
    .await;
    run.assert_success(&server);
    let call = server.single_call(SHORT_TIMEOUT).await;
    assert_demo_ended_by_ivory(&call, "1");
    assert_eq!(call["transport"], "tcp", "{call:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_caller_hangs_up_mid_prompt() {
    if !peer_available("sipp") {
        return;
    }
    let server = Server::start("sipp-hangup").await;
    let run = run_scenario(
        &server,
        "uac-hangup-mid-prompt.xml",
        "1000",
        SippTransport::Udp,
        CALL_TIMEOUT,
    )
    .await;
    run.assert_success(&server);
    let call = server.single_call(SHORT_TIMEOUT).await;
    assert_eq!(call["status"], 200, "{call:#}");
    assert_eq!(call["hangupBy"], "caller", "{call:#}");
    assert_eq!(call["hangupReason"], "bye", "{call:#}");
    assert!(digits(&call).is_empty(), "{call:#}");
    assert!(
        call["variables"].get("choice").is_none_or(|c| c == ""),
        "no choice was made: {call:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_cancel_while_ringing_gets_487() {
    if !peer_available("sipp") {
        return;
    }
    let server = Server::start_with("sipp-cancel", ServerOptions::ringing(10_000)).await;
    // The scenario itself requires 180, 200 to the CANCEL and 487 to the INVITE.
    let run = run_scenario(
        &server,
        "uac-cancel.xml",
        "1000",
        SippTransport::Udp,
        CALL_TIMEOUT,
    )
    .await;
    run.assert_success(&server);
    let call = server.single_call(SHORT_TIMEOUT).await;
    assert_eq!(call["status"], 487, "{call:#}");
    assert_eq!(call["hangupBy"], "caller", "{call:#}");
    assert_eq!(call["hangupReason"], "cancel", "{call:#}");
    assert!(call["answerTime"].is_null(), "{call:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sipp_unknown_number_gets_404() {
    if !peer_available("sipp") {
        return;
    }
    let server = Server::start("sipp-404").await;
    let run = run_scenario(
        &server,
        "uac-unknown.xml",
        "9999",
        SippTransport::Udp,
        CALL_TIMEOUT,
    )
    .await;
    run.assert_success(&server);
    let call = server.single_call(SHORT_TIMEOUT).await;
    assert_eq!(call["status"], 404, "{call:#}");
    assert_eq!(call["hangupReason"], "not-found", "{call:#}");
    assert_eq!(call["to"], "9999", "{call:#}");
    assert!(call["answerTime"].is_null(), "{call:#}");
}
