//! Scenario endpoints, and the validate / simulate / graph tools.

use serde_json::json;

use crate::support::{TestServer, both, menu};

async fn scenarios_are_created_read_updated_and_deleted(server: &TestServer) {
    let created = server
        .call("POST", "/voice/ivr/1/scenarios", Some(menu("first")))
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let created = created.json();
    let id = created["id"].as_str().expect("id").to_string();
    assert_eq!(created["name"], "first");
    assert_eq!(created["createTime"], "2026-11-23T08:00:00.000+0000");
    assert_eq!(created["script"][0]["playFromUrl"], "demo-menu.wav");

    let read = server
        .call("GET", &format!("/voice/ivr/1/scenarios/{id}"), None)
        .await;
    assert_eq!(read.status, 200);
    assert_eq!(read.json(), created);

    server.advance(60_000);
    let mut changed = menu("renamed");
    // Infobip's metadata in a PUT body is ignored, not refused.
    changed["id"] = json!("something else");
    changed["createTime"] = json!("2020-01-01T00:00:00.000+0000");
    let updated = server
        .call(
            "PUT",
            &format!("/voice/ivr/1/scenarios/{id}"),
            Some(changed),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    let updated = updated.json();
    assert_eq!(updated["id"], id.as_str());
    assert_eq!(updated["name"], "renamed");
    assert_eq!(updated["createTime"], "2026-11-23T08:00:00.000+0000");
    assert_eq!(updated["updateTime"], "2026-11-23T08:01:00.000+0000");

    let deleted = server
        .call("DELETE", &format!("/voice/ivr/1/scenarios/{id}"), None)
        .await;
    assert_eq!(deleted.status, 204);
    for method in ["GET", "DELETE"] {
        let gone = server
            .call(method, &format!("/voice/ivr/1/scenarios/{id}"), None)
            .await;
        assert_eq!(gone.status, 404, "{method}");
    }
    let missing = server
        .call("PUT", "/voice/ivr/1/scenarios/missing", Some(menu("x")))
        .await;
    assert_eq!(missing.status, 404);
}
both!(scenarios_are_created_read_updated_and_deleted);

async fn bad_scenarios_list_every_problem_with_its_path(server: &TestServer) {
    let bad = json!({
        "name": "bad",
        "script": [
            {"collectInto": "choice", "options": {"timeout": 45}},
            {"goTo": "nowhere"},
            {"playFromUrl": "x.wav", "colour": "blue"}
        ]
    });
    let answer = server
        .call("POST", "/voice/ivr/1/scenarios", Some(bad.clone()))
        .await;
    let paths = answer.error_paths();
    for expected in [
        "script[0].options.timeout",
        "script[1].goTo",
        "script[2].colour",
    ] {
        assert!(
            paths.iter().any(|p| p == expected),
            "{expected} not in {paths:?}"
        );
    }
    let id = server.create_scenario(menu("good")).await;
    let answer = server
        .call("PUT", &format!("/voice/ivr/1/scenarios/{id}"), Some(bad))
        .await;
    assert!(!answer.error_paths().is_empty());
    // Not an object, not JSON, empty: 400, never 500.
    for body in ["[1, 2]", "{\"name\": ", "", "\"text\""] {
        let answer = server
            .raw(
                "POST",
                "/voice/ivr/1/scenarios",
                &[("authorization", "App test-key-1")],
                Some(body.to_string()),
            )
            .await;
        assert_eq!(answer.status, 400, "{body:?}: {}", answer.body);
    }
}
both!(bad_scenarios_list_every_problem_with_its_path);

async fn listing_pages_and_filters_by_name(server: &TestServer) {
    for name in [
        "Sales menu",
        "support",
        "sales-after-hours",
        "Billing",
        "SALES",
    ] {
        server.create_scenario(menu(name)).await;
        server.advance(1_000);
    }
    let names = |answer: &crate::support::Answer| -> Vec<String> {
        answer
            .json()
            .as_array()
            .expect("array")
            .iter()
            .map(|s| s["name"].as_str().expect("name").to_string())
            .collect()
    };
    let all = server.call("GET", "/voice/ivr/1/scenarios", None).await;
    assert_eq!(names(&all).len(), 5);
    let page = server
        .call("GET", "/voice/ivr/1/scenarios?page=1&pageSize=2", None)
        .await;
    assert_eq!(names(&page), ["sales-after-hours", "Billing"]);
    let last = server
        .call("GET", "/voice/ivr/1/scenarios?page=2&pageSize=2", None)
        .await;
    assert_eq!(names(&last), ["SALES"]);
    let sales = server
        .call("GET", "/voice/ivr/1/scenarios?name=sales", None)
        .await;
    assert_eq!(names(&sales), ["Sales menu", "sales-after-hours", "SALES"]);
    let none = server
        .call("GET", "/voice/ivr/1/scenarios?name=%25", None)
        .await;
    assert!(names(&none).is_empty(), "% is a character, not a wildcard");
    for query in [
        "pageSize=0",
        "pageSize=1001",
        "page=-1",
        "page=x",
        "colour=blue",
    ] {
        let answer = server
            .call("GET", &format!("/voice/ivr/1/scenarios?{query}"), None)
            .await;
        assert_eq!(answer.status, 400, "{query}: {}", answer.body);
    }
}
both!(listing_pages_and_filters_by_name);

async fn validate_simulate_and_graph(server: &TestServer) {
    let valid = server
        .call("POST", "/voice/ivr/1/scenarios/validate", Some(menu("v")))
        .await;
    assert_eq!(valid.status, 200);
    assert_eq!(valid.json()["valid"], true);
    let invalid = server
        .call(
            "POST",
            "/voice/ivr/1/scenarios/validate",
            Some(json!({"name": "v", "script": [{"pause": 9}]})),
        )
        .await;
    assert_eq!(invalid.status, 200);
    let invalid = invalid.json();
    assert_eq!(invalid["valid"], false);
    assert_eq!(invalid["errors"][0]["path"], "script[0].pause");

    let id = server.create_scenario(menu("sim")).await;
    let simulated = server
        .call(
            "POST",
            &format!("/voice/ivr/1/scenarios/{id}/simulate"),
            Some(json!({"input": "1", "variables": {"customer": "42"}})),
        )
        .await;
    assert_eq!(simulated.status, 200, "{}", simulated.body);
    let simulated = simulated.json();
    assert_eq!(simulated["variables"]["choice"], "1");
    assert_eq!(simulated["variables"]["customer"], "42");
    assert_eq!(simulated["endedNormally"], true);
    assert!(
        simulated["trace"]
            .as_array()
            .expect("trace")
            .iter()
            .any(|line| line
                .as_str()
                .is_some_and(|l| l.contains("demo-option1.wav"))),
        "{simulated}"
    );
    let bad_input = server
        .call(
            "POST",
            &format!("/voice/ivr/1/scenarios/{id}/simulate"),
            Some(json!({"input": "speech:\"unterminated"})),
        )
        .await;
    assert_eq!(bad_input.error_paths(), ["input"]);
    let unknown_field = server
        .call(
            "POST",
            &format!("/voice/ivr/1/scenarios/{id}/simulate"),
            Some(json!({"inputs": "1"})),
        )
        .await;
    assert_eq!(unknown_field.status, 400);

    let dot = server
        .call("GET", &format!("/voice/ivr/1/scenarios/{id}/graph"), None)
        .await;
    assert_eq!(dot.status, 200);
    assert!(dot.body.starts_with("digraph"), "{}", dot.body);
    let mermaid = server
        .call(
            "GET",
            &format!("/voice/ivr/1/scenarios/{id}/graph?format=mermaid"),
            None,
        )
        .await;
    assert_eq!(mermaid.status, 200);
    assert!(mermaid.body.starts_with("flowchart"), "{}", mermaid.body);
    let bad = server
        .call(
            "GET",
            &format!("/voice/ivr/1/scenarios/{id}/graph?format=png"),
            None,
        )
        .await;
    assert_eq!(bad.error_paths(), ["format"]);
    let missing = server
        .call("GET", "/voice/ivr/1/scenarios/none/graph", None)
        .await;
    assert_eq!(missing.status, 404);
}
both!(validate_simulate_and_graph);

/// A text-to-speech provider that reports each text it synthesises on a channel.
#[derive(Debug)]
struct Reporting(tokio::sync::mpsc::UnboundedSender<String>);

impl ivory_engine::SpeechSynthesiser for Reporting {
    fn name(&self) -> &str {
        "reporting"
    }
    fn voice_key(&self, request: &ivory_engine::SynthesisRequest) -> String {
        request.language.clone()
    }
    fn synthesise<'a>(
        &'a self,
        request: &'a ivory_engine::SynthesisRequest,
    ) -> ivory_engine::tts::SynthesisFuture<'a> {
        self.0.send(request.text.clone()).expect("the test listens");
        Box::pin(async { Ok(vec![1; 800]) })
    }
}

async fn stored_scenarios_have_their_say_texts_synthesised_ahead_of_calls(server: &TestServer) {
    use std::sync::Arc;
    use tower::ServiceExt;

    let (sender, mut synthesised) = tokio::sync::mpsc::unbounded_channel();
    let prompts = Arc::new(ivory_engine::PromptStore::new(
        server.dir.join("sounds"),
        Some(ivory_engine::TextToSpeech::new(
            Arc::new(Reporting(sender)),
            None,
        )),
        None,
    ));
    let mut state = server.state.clone();
    state.prompts = Some(prompts.clone());
    let router = crate::api::router(state);
    let scenario = json!({
        "name": "greeting",
        "script": [{"say": "Welcome"}, {"say": "Hello ${name}"}, "hangup"]
    });
    let request = axum::http::Request::builder()
        .method("POST")
        .uri("/voice/ivr/1/scenarios")
        .header("authorization", format!("App {}", crate::support::KEY))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(scenario.to_string()))
        .expect("request");
    let response = router.oneshot(request).await.expect("infallible");
    assert_eq!(response.status(), 200);
    // The background task synthesises the constant text, and only that.
    assert_eq!(synthesised.recv().await.as_deref(), Some("Welcome"));
    prompts
        .say("Welcome", None, None, 1.0)
        .await
        .expect("from the cache");
    assert!(synthesised.try_recv().is_err(), "said again");

    // At start, every stored scenario is warmed (a fresh store: nothing cached yet).
    let (sender, mut synthesised) = tokio::sync::mpsc::unbounded_channel();
    let fresh = Arc::new(ivory_engine::PromptStore::new(
        server.dir.join("sounds"),
        Some(ivory_engine::TextToSpeech::new(
            Arc::new(Reporting(sender)),
            None,
        )),
        None,
    ));
    let warmed = crate::api::warm_stored_scenarios(server.storage.clone(), fresh)
        .await
        .expect("the task ends");
    assert_eq!(warmed, 1);
    assert_eq!(synthesised.recv().await.as_deref(), Some("Welcome"));
}
both!(stored_scenarios_have_their_say_texts_synthesised_ahead_of_calls);
