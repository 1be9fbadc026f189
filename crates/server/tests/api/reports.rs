//! Reports (each pulled once), message logs, call logs, recordings.

use ivory_engine::dialer::AttemptOutcome;
use serde_json::json;

use crate::queue::{end, launch};
use crate::storage::{CallLogEntry, RecordingRow};
use crate::support::{TestServer, both};

const MINUTE: i64 = 60_000;

async fn reports_are_pulled_once(server: &TestServer) {
    let first = launch(server, &["46700000001", "46700000002", "bad"], json!({})).await;
    let second = launch(server, &["46700000003"], json!({})).await;
    // The rejected destination has its report at once.
    let bulk = server
        .storage
        .destination(&first[0])
        .await
        .expect("row")
        .bulk_id;
    for id in [&first[0], &first[1], &second[0]] {
        assert!(
            server
                .storage
                .begin_attempt("n", id, 1, server.now(), server.now() + MINUTE)
                .await
                .expect("begin")
        );
        server.advance(1_000);
        end(
            server,
            id,
            1,
            AttemptOutcome::Answered {
                machine: Some(true),
            },
        )
        .await;
    }
    let only_second = server
        .call(
            "GET",
            &format!("/voice/ivr/1/reports?messageId={}", second[0]),
            None,
        )
        .await
        .json();
    assert_eq!(only_second["results"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        only_second["results"][0]["error"]["name"],
        "VOICE_ANSWERED_MACHINE"
    );
    let one = server
        .call(
            "GET",
            &format!("/voice/ivr/1/reports?bulkId={bulk}&limit=1"),
            None,
        )
        .await
        .json();
    let one = one["results"].as_array().expect("results").clone();
    assert_eq!(one.len(), 1);
    assert_eq!(
        one[0]["messageId"],
        first[2].as_str(),
        "oldest first: the rejection"
    );
    assert_eq!(one[0]["status"]["groupName"], "REJECTED");
    let rest = server
        .call("GET", &format!("/voice/ivr/1/reports?bulkId={bulk}"), None)
        .await
        .json();
    let rest: Vec<String> = rest["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["messageId"].as_str().expect("id").to_string())
        .collect();
    assert_eq!(rest, [first[0].clone(), first[1].clone()]);
    let empty = server
        .call("GET", "/voice/ivr/1/reports", None)
        .await
        .json();
    assert_eq!(empty["results"], json!([]));
    for query in ["limit=0", "limit=1001", "limit=x", "colour=blue"] {
        let answer = server
            .call("GET", &format!("/voice/ivr/1/reports?{query}"), None)
            .await;
        assert_eq!(answer.status, 400, "{query}");
    }
}
both!(reports_are_pulled_once);

async fn logs_show_pending_and_final_destinations(server: &TestServer) {
    let ids = launch(
        server,
        &["46700000001", "46700000002"],
        json!({"callbackData": "cb"}),
    )
    .await;
    assert!(
        server
            .storage
            .begin_attempt("n", &ids[0], 1, server.now(), server.now() + MINUTE)
            .await
            .expect("begin")
    );
    server.advance(20_000);
    end(
        server,
        &ids[0],
        1,
        AttemptOutcome::Answered { machine: None },
    )
    .await;
    let logs = server.call("GET", "/voice/ivr/1/logs", None).await.json();
    let results = logs["results"].as_array().expect("results");
    assert_eq!(results.len(), 2);
    let delivered = results
        .iter()
        .find(|r| r["messageId"] == ids[0].as_str())
        .expect("delivered");
    assert_eq!(delivered["status"]["groupName"], "DELIVERED");
    assert_eq!(delivered["attempts"], 1);
    assert_eq!(delivered["callbackData"], "cb");
    let pending = results
        .iter()
        .find(|r| r["messageId"] == ids[1].as_str())
        .expect("pending");
    assert_eq!(pending["status"]["name"], "PENDING_ACCEPTED");
    let only = server
        .call("GET", "/voice/ivr/1/logs?generalStatus=PENDING", None)
        .await
        .json();
    assert_eq!(only["results"].as_array().map(Vec::len), Some(1));
    let only = server
        .call(
            "GET",
            "/voice/ivr/1/logs?generalStatus=delivered&to=46700000001",
            None,
        )
        .await
        .json();
    assert_eq!(only["results"][0]["messageId"], ids[0].as_str());
    let bad = server
        .call("GET", "/voice/ivr/1/logs?generalStatus=LOST", None)
        .await;
    assert_eq!(bad.error_paths(), ["generalStatus"]);
}
both!(logs_show_pending_and_final_destinations);

async fn call_logs_and_recordings(server: &TestServer) {
    for (call_id, direction, started_at) in [
        ("c1", "inbound", 1),
        ("c2", "outbound", 2),
        ("c1", "inbound", 3),
    ] {
        server
            .storage
            .insert_call_log(&CallLogEntry {
                call_id: call_id.into(),
                direction: direction.into(),
                message_id: None,
                from: Some("sipp".into()),
                to: Some("1000".into()),
                started_at,
                record: json!({"callId": call_id, "direction": direction}),
            })
            .await
            .expect("call log");
    }
    let calls = server.call("GET", "/voice/ivr/1/calls", None).await.json();
    assert_eq!(
        calls["results"],
        json!([{"callId": "c2", "direction": "outbound"}, {"callId": "c1", "direction": "inbound"}])
    );
    let inbound = server
        .call("GET", "/voice/ivr/1/calls?direction=INBOUND", None)
        .await
        .json();
    assert_eq!(inbound["results"].as_array().map(Vec::len), Some(1));

    let wav = b"RIFF....WAVEfmt ".to_vec();
    std::fs::write(server.dir.join("recordings/c1-1.wav"), &wav).expect("write");
    server
        .storage
        .index_recording(&RecordingRow {
            file: "c1-1.wav".into(),
            identifier: "greeting".into(),
            call_id: "c1".into(),
            message_id: None,
            kind: "record".into(),
            duration_ms: 1_500,
            created_at: server.now(),
        })
        .await
        .expect("index");
    let list = server
        .call("GET", "/voice/ivr/1/recordings?callId=c1", None)
        .await
        .json();
    assert_eq!(list["results"][0]["identifier"], "greeting");
    for name in ["c1-1.wav", "greeting"] {
        let download = server
            .call("GET", &format!("/voice/ivr/1/recordings/{name}"), None)
            .await;
        assert_eq!(download.status, 200);
        assert_eq!(download.content_type.as_deref(), Some("audio/wav"));
        assert_eq!(download.body.as_bytes(), wav.as_slice());
    }
    let missing = server
        .call("GET", "/voice/ivr/1/recordings/none.wav", None)
        .await;
    assert_eq!(missing.status, 404);
}
both!(call_logs_and_recordings);
