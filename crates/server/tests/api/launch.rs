//! `POST /voice/ivr/1/messages`: the answer, every rule (table-driven), clamping.

use serde_json::{Value, json};

use crate::support::{START, TestServer, both, launch_body, menu};

const HOUR: i64 = 3_600_000;

async fn a_launch_answers_each_destination(server: &TestServer) {
    let id = server.create_scenario(menu("launch")).await;
    let body = json!({
        "bulkId": "bulk-1",
        "messages": [{
            "scenarioId": id,
            "from": "46700000000",
            "destinations": [
                {"to": "46700000001", "messageId": "m-1"},
                {"to": "+46700000002"},
                {"to": "not-a-number", "messageId": "m-3"},
                {"to": "46700000004", "messageId": "m-1"}
            ],
            "parameters": {"customer": "Ada", "tries": 3, "vip": true},
            "callbackData": "crm-17"
        }]
    });
    let answer = server
        .call("POST", "/voice/ivr/1/messages", Some(body))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let answer = answer.json();
    assert_eq!(answer["bulkId"], "bulk-1");
    let messages = answer["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 4);
    assert_eq!(messages[0]["messageId"], "m-1");
    assert_eq!(messages[0]["status"]["name"], "PENDING_ACCEPTED");
    assert_eq!(messages[0]["status"]["groupName"], "PENDING");
    assert_eq!(messages[1]["to"], "46700000002");
    assert!(
        messages[1]["messageId"]
            .as_str()
            .is_some_and(|id| id.len() == 36)
    );
    assert_eq!(messages[2]["status"]["name"], "REJECTED_DESTINATION");
    assert_eq!(messages[2]["status"]["groupName"], "REJECTED");
    assert_eq!(
        messages[3]["status"]["name"],
        "REJECTED_DUPLICATE_MESSAGE_ID"
    );

    let stored = server.storage.destination("m-1").await.expect("row");
    assert_eq!(stored.state.as_str(), "scheduled");
    assert_eq!(stored.next_attempt_at, START);
    assert_eq!(stored.expires_at, START + 48 * HOUR);
    assert_eq!(stored.call_options.ring_timeout_seconds, 45);
    assert_eq!(stored.parameters["tries"], "3");
    assert_eq!(stored.parameters["vip"], "true");
    assert_eq!(stored.callback_data.as_deref(), Some("crm-17"));
    let rejected = server.storage.destination("m-3").await.expect("row");
    assert_eq!(rejected.state.as_str(), "rejected");

    // A scenario that waiting destinations still need cannot be deleted.
    let in_use = server
        .call("DELETE", &format!("/voice/ivr/1/scenarios/{id}"), None)
        .await;
    assert_eq!(in_use.status, 409, "{}", in_use.body);

    // The same bulkId again is refused; so is a messageId used by the first launch.
    let again = server
        .call(
            "POST",
            "/voice/ivr/1/messages",
            Some(json!({"bulkId": "bulk-1", "messages": [{"scenarioId": id, "destinations": [{"to": "461234"}]}]})),
        )
        .await;
    assert_eq!(again.error_paths(), ["bulkId"]);
    let reused = server
        .call(
            "POST",
            "/voice/ivr/1/messages",
            Some(json!({"messages": [{"scenarioId": id, "destinations": [{"to": "461234", "messageId": "m-1"}]}]})),
        )
        .await;
    assert_eq!(reused.status, 200);
    assert_eq!(
        reused.json()["messages"][0]["status"]["name"],
        "REJECTED_DUPLICATE_MESSAGE_ID"
    );
}
both!(a_launch_answers_each_destination);

/// Each case: extra fields of the message, and the path the 400 must name.
fn rule_cases() -> Vec<(Value, &'static str)> {
    vec![
        (json!({"from": "12"}), "messages[0].from"),
        (json!({"from": "123456789012345"}), "messages[0].from"),
        (json!({"from": "12a4"}), "messages[0].from"),
        (json!({"from": 4670}), "messages[0].from"),
        (
            json!({"callbackData": "x".repeat(201)}),
            "messages[0].callbackData",
        ),
        (json!({"validityPeriod": 0}), "messages[0].validityPeriod"),
        (
            json!({"validityPeriod": "long"}),
            "messages[0].validityPeriod",
        ),
        (
            json!({"retry": {"minPeriod": 0, "maxPeriod": 5, "maxCount": 1}}),
            "messages[0].retry",
        ),
        (
            json!({"retry": {"minPeriod": 30, "maxPeriod": 5, "maxCount": 1}}),
            "messages[0].retry",
        ),
        (
            json!({"retry": {"minPeriod": 1, "maxPeriod": 5, "maxCount": -1}}),
            "messages[0].retry.maxCount",
        ),
        (
            json!({"retry": {"minPeriod": 1, "maxPeriod": 5}}),
            "messages[0].retry",
        ),
        (json!({"pause": 11}), "messages[0].pause"),
        (json!({"pause": -1}), "messages[0].pause"),
        (json!({"ringTimeout": 0}), "messages[0].ringTimeout"),
        (json!({"ringTimeout": 301}), "messages[0].ringTimeout"),
        (json!({"callTimeout": 0}), "messages[0].callTimeout"),
        (
            json!({"sendingSpeed": {"speed": 0}}),
            "messages[0].sendingSpeed.speed",
        ),
        (
            json!({"sendingSpeed": {"speed": 5, "timeUnit": "WEEK"}}),
            "messages[0].sendingSpeed.timeUnit",
        ),
        (json!({"notifyUrl": "ftp://x/y"}), "messages[0].notifyUrl"),
        (
            json!({"notifyContentType": "text/plain"}),
            "messages[0].notifyContentType",
        ),
        (
            json!({"notifyContentVersion": 1}),
            "messages[0].notifyContentVersion",
        ),
        (json!({"sendAt": "next tuesday"}), "messages[0].sendAt"),
        (
            json!({"deliveryTimeWindow": {"days": []}}),
            "messages[0].deliveryTimeWindow",
        ),
        (
            json!({"deliveryTimeWindow": {"days": ["FUNDAY"]}}),
            "messages[0].deliveryTimeWindow.days[0]",
        ),
        (
            json!({"deliveryTimeWindow": {"days": ["MONDAY"], "from": {"hour": 9, "minute": 0}, "to": {"hour": 9, "minute": 30}}}),
            "messages[0].deliveryTimeWindow",
        ),
        (
            json!({"deliveryTimeWindow": {"days": ["MONDAY"], "from": {"hour": 25, "minute": 0}}}),
            "messages[0].deliveryTimeWindow",
        ),
        (
            json!({"parameters": {"from": "x"}}),
            "messages[0].parameters.from",
        ),
        (
            json!({"parameters": {"nested": {"a": 1}}}),
            "messages[0].parameters.nested",
        ),
        (json!({"record": "yes"}), "messages[0].record"),
        (json!({"colour": "blue"}), "messages[0]"),
        (json!({"destinations": []}), "messages[0].destinations"),
        (
            json!({"destinations": [{"to": 46700000001_u64}]}),
            "messages[0].destinations[0].to",
        ),
        (
            json!({"destinations": [{"to": "461234", "messageId": ""}]}),
            "messages[0].destinations[0].messageId",
        ),
        (
            json!({"destinations": [{"number": "461234"}]}),
            "messages[0].destinations[0]",
        ),
        (
            json!({"scenarioId": "no-such-scenario"}),
            "messages[0].scenarioId",
        ),
    ]
}

async fn every_rule_is_a_400_naming_its_path(server: &TestServer) {
    let id = server.create_scenario(menu("rules")).await;
    for (extra, path) in rule_cases() {
        let body = launch_body(&id, &["46700000001"], extra.clone());
        let answer = server
            .call("POST", "/voice/ivr/1/messages", Some(body))
            .await;
        let paths = answer.error_paths();
        assert!(
            paths.iter().any(|found| found.starts_with(path)),
            "{extra}: expected {path}, got {paths:?}: {}",
            answer.body
        );
    }
    // Request-level shapes.
    for (body, path) in [
        (json!({"messages": []}), "messages"),
        (json!({}), ""),
        (json!({"messages": {}}), "messages"),
        (
            json!({"bulkId": "", "messages": [{"scenarioId": id, "destinations": [{"to": "461234"}]}]}),
            "bulkId",
        ),
        (
            json!({"messages": [{"destinations": [{"to": "461234"}]}]}),
            "messages[0]",
        ),
    ] {
        let answer = server
            .call("POST", "/voice/ivr/1/messages", Some(body.clone()))
            .await;
        let paths = answer.error_paths();
        assert!(
            paths.iter().any(|found| found.starts_with(path)),
            "{body}: {paths:?}"
        );
    }
    // Several problems at once are all listed.
    let body = launch_body(
        &id,
        &["46700000001"],
        json!({"from": "1", "pause": 99, "callbackData": "x".repeat(300)}),
    );
    let answer = server
        .call("POST", "/voice/ivr/1/messages", Some(body))
        .await;
    assert_eq!(answer.error_paths().len(), 3, "{}", answer.body);
    // Nothing of a refused launch is stored.
    let logs = server.call("GET", "/voice/ivr/1/logs", None).await;
    assert_eq!(logs.json()["results"], json!([]));
}
both!(every_rule_is_a_400_naming_its_path);

async fn too_many_destinations_are_refused(server: &TestServer) {
    let id = server.create_scenario(menu("big")).await;
    let numbers: Vec<String> = (0..20_001).map(|n| format!("46{n:09}")).collect();
    let numbers: Vec<&str> = numbers.iter().map(String::as_str).collect();
    let answer = server
        .call(
            "POST",
            "/voice/ivr/1/messages",
            Some(launch_body(&id, &numbers, json!({}))),
        )
        .await;
    assert_eq!(answer.error_paths(), ["messages"]);
    // 20,000 is accepted, in one transaction.
    let answer = server
        .call(
            "POST",
            "/voice/ivr/1/messages",
            Some(launch_body(&id, &numbers[..20_000], json!({}))),
        )
        .await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        &answer.body[..answer.body.len().min(300)]
    );
    assert_eq!(
        answer.json()["messages"].as_array().map(Vec::len),
        Some(20_000)
    );
    let depth = server.storage.queue_depth().await.expect("depth");
    assert_eq!(depth.waiting, 20_000);
}
both!(too_many_destinations_are_refused);

async fn out_of_range_values_are_clamped_as_documented(server: &TestServer) {
    let id = server.create_scenario(menu("clamp")).await;
    let body = json!({"messages": [{
        "scenarioId": id,
        "destinations": [{"to": "46700000001", "messageId": "c-1"}],
        "validityPeriod": 10_000,
        "retry": {"minPeriod": 1, "maxPeriod": 45, "maxCount": 9},
        "sendAt": "2026-11-24T10:00:00.000+0000",
        "sendingSpeed": {"speed": 10},
        "deliveryTimeWindow": {"days": ["MONDAY", "TUESDAY"], "from": {"hour": 9, "minute": 0}, "to": {"hour": 17, "minute": 0}},
        "ringTimeout": 30, "callTimeout": 600, "pause": 2, "record": true,
        "notifyUrl": "http://127.0.0.1:9/hook", "notifyContentType": "application/XML", "notifyContentVersion": 2
    }]});
    let answer = server
        .call("POST", "/voice/ivr/1/messages", Some(body))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let row = server.storage.destination("c-1").await.expect("row");
    let send_at = START + 26 * HOUR;
    assert_eq!(row.next_attempt_at, send_at);
    assert_eq!(
        row.expires_at,
        send_at + 48 * HOUR,
        "validity above 48 h is 48 h"
    );
    let retry = row.policy.retry.expect("retry");
    assert_eq!(retry.max_count, 4, "maxCount above 4 is 4");
    assert_eq!(
        retry.max_period_minutes, 60,
        "maxPeriod is rounded up to the ladder"
    );
    assert_eq!(row.policy.speed.map(|s| s.speed), Some(10));
    assert!(row.policy.window.is_some());
    assert_eq!(row.call_options.ring_timeout_seconds, 30);
    assert_eq!(row.call_options.call_timeout_seconds, Some(600));
    assert_eq!(row.call_options.pause_seconds, 2);
    assert!(row.call_options.record);
    let notify = row.notify.expect("notify");
    assert_eq!(notify.content_type, "application/xml");
    // A sendAt in the past means now.
    let body = launch_body(
        &id,
        &["46700000002"],
        json!({"sendAt": "2020-01-01T00:00:00Z"}),
    );
    let answer = server
        .call("POST", "/voice/ivr/1/messages", Some(body))
        .await;
    let message_id = answer.json()["messages"][0]["messageId"]
        .as_str()
        .expect("id")
        .to_string();
    let row = server.storage.destination(&message_id).await.expect("row");
    assert_eq!(row.next_attempt_at, START);
}
both!(out_of_range_values_are_clamped_as_documented);
