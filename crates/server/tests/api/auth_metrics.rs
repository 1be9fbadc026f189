//! `Authorization: App <key>` and `/metrics`.

use crate::support::{KEY, TestServer, both, menu};

async fn the_key_is_required(server: &TestServer) {
    let path = "/voice/ivr/1/scenarios";
    let wrong = format!("App {KEY}x");
    let basic = format!("Basic {KEY}");
    let cases: [(&[(&str, &str)], u16); 5] = [
        (&[], 401),
        (&[("authorization", wrong.as_str())], 401),
        (&[("authorization", basic.as_str())], 401),
        (&[("authorization", "App")], 401),
        (&[("authorization", "App test-key-1")], 200),
    ];
    for (headers, status) in cases {
        let answer = server.raw("GET", path, headers, None).await;
        assert_eq!(answer.status, status, "{headers:?}: {}", answer.body);
        if status == 401 {
            let exception = &answer.json()["requestError"]["serviceException"];
            assert_eq!(exception["messageId"], "UNAUTHORIZED");
            assert!(!answer.body.contains(KEY), "the key must never be echoed");
        }
    }
    // Every API route is behind the key, the writing ones too.
    for (method, path) in [
        ("POST", "/voice/ivr/1/messages"),
        ("DELETE", "/voice/ivr/1/scenarios/x"),
        ("GET", "/voice/ivr/1/reports"),
        ("GET", "/voice/ivr/1/logs"),
        ("POST", "/voice/ivr/1/scenarios/validate"),
    ] {
        let answer = server.raw(method, path, &[], Some("{}".into())).await;
        assert_eq!(answer.status, 401, "{method} {path}");
    }
}
both!(the_key_is_required);

async fn no_configured_key_refuses_everything(server: &TestServer) {
    let mut state = server.state.clone();
    state.api_keys = std::sync::Arc::new(Vec::new());
    let router = crate::api::router(state);
    let request = axum::http::Request::builder()
        .uri("/voice/ivr/1/scenarios")
        .header("authorization", "App ")
        .body(axum::body::Body::empty())
        .expect("request");
    let response = tower::ServiceExt::oneshot(router, request)
        .await
        .expect("infallible");
    assert_eq!(response.status(), 401);
}
both!(no_configured_key_refuses_everything);

async fn metrics_count_requests_by_route(server: &TestServer) {
    let id = server.create_scenario(menu("metrics")).await;
    server
        .call("GET", &format!("/voice/ivr/1/scenarios/{id}"), None)
        .await;
    server
        .call("GET", "/voice/ivr/1/scenarios/nope", None)
        .await;
    server.raw("GET", "/voice/ivr/1/reports", &[], None).await;
    server.metrics.dtmf_digit("inband");
    let answer = server.raw("GET", "/metrics", &[], None).await;
    assert_eq!(answer.status, 200);
    assert!(
        answer
            .content_type
            .as_deref()
            .is_some_and(|kind| kind.starts_with("application/openmetrics-text")),
        "{:?}",
        answer.content_type
    );
    let text = answer.body;
    for line in [
        "ivory_http_requests_total{method=\"POST\",route=\"/voice/ivr/1/scenarios\",status=\"200\"} 1",
        "ivory_http_requests_total{method=\"GET\",route=\"/voice/ivr/1/scenarios/{id}\",status=\"200\"} 1",
        "ivory_http_requests_total{method=\"GET\",route=\"/voice/ivr/1/scenarios/{id}\",status=\"404\"} 1",
        "ivory_http_requests_total{method=\"GET\",route=\"/voice/ivr/1/reports\",status=\"401\"} 1",
        "ivory_dtmf_digits_total{source=\"inband\"} 1",
        "ivory_dialer_queue_depth{phase=\"waiting\"} 0",
    ] {
        assert!(text.contains(line), "missing {line} in\n{text}");
    }
}
both!(metrics_count_requests_by_route);
