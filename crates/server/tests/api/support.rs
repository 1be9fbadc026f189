//! The test server: the API router over a fresh database, a virtual clock, requests sent
//! in-process.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

use axum::body::Body;
use axum::http::Request;
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection};
use tower::ServiceExt;

use crate::api::{self, ApiState, Metrics};
use crate::storage::Storage;

/// The API key the test server accepts.
pub const KEY: &str = "test-key-1";

/// Monday 2026-11-23 08:00:00 UTC, in milliseconds.
pub const START: i64 = 1_795_420_800_000;

/// Runs a test body against SQLite, and against PostgreSQL when `IVORY_TEST_POSTGRES_URL`
/// is set.
macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let server = crate::support::TestServer::sqlite().await;
                super::$name(&server).await;
                server.finish().await;
            }

            #[tokio::test]
            async fn postgres() {
                let Some(server) = crate::support::TestServer::postgres().await else {
                    return;
                };
                super::$name(&server).await;
                server.finish().await;
            }
        }
    };
}
pub(crate) use both;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub struct TestServer {
    pub router: axum::Router,
    pub storage: Storage,
    pub state: ApiState,
    pub clock: Arc<AtomicI64>,
    pub metrics: Arc<Metrics>,
    pub dir: PathBuf,
    /// The database URL (a second `Storage` on it plays a second node).
    pub url: String,
    postgres: Option<(String, String)>,
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.body))
    }

    /// The paths of a 400's `validationErrors`.
    pub fn error_paths(&self) -> Vec<String> {
        assert_eq!(self.status, 400, "{}", self.body);
        self.json()["requestError"]["serviceException"]["validationErrors"]
            .as_object()
            .map(|map| map.keys().cloned().collect())
            .unwrap_or_default()
    }
}

fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ivory-api-test-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(dir.join("recordings")).expect("scratch directory");
    dir
}

impl TestServer {
    pub async fn sqlite() -> TestServer {
        let dir = scratch_dir();
        let url = format!("sqlite://{}/db/ivory.db", dir.display());
        let storage = Storage::open(&url).await.expect("open SQLite");
        TestServer::build(storage, dir, url, None)
    }

    /// `None` when no PostgreSQL server is configured.
    pub async fn postgres() -> Option<TestServer> {
        let base = std::env::var("IVORY_TEST_POSTGRES_URL").ok()?;
        sqlx::any::install_default_drivers();
        let name = format!(
            "ivory_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst),
            rand::random::<u32>()
        );
        let mut connection = sqlx::AnyConnection::connect(&base)
            .await
            .expect("connect to IVORY_TEST_POSTGRES_URL");
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut connection)
            .await
            .expect("create a test database");
        connection.close().await.ok();
        let url = database_url(&base, &name);
        let storage = Storage::open(&url).await.expect("open PostgreSQL");
        Some(TestServer::build(
            storage,
            scratch_dir(),
            url,
            Some((base, name)),
        ))
    }

    fn build(
        storage: Storage,
        dir: PathBuf,
        url: String,
        postgres: Option<(String, String)>,
    ) -> TestServer {
        let clock = Arc::new(AtomicI64::new(START));
        let metrics = Arc::new(Metrics::new());
        let mut state = ApiState::new(storage.clone(), vec![KEY.to_string()], metrics.clone());
        let reader = clock.clone();
        state.clock = Arc::new(move || reader.load(Ordering::SeqCst));
        state.recordings_dir = Some(dir.join("recordings"));
        TestServer {
            router: api::router(state.clone()),
            storage,
            state,
            clock,
            metrics,
            dir,
            url,
            postgres,
        }
    }

    pub fn now(&self) -> i64 {
        self.clock.load(Ordering::SeqCst)
    }

    pub fn advance(&self, milliseconds: i64) {
        self.clock.fetch_add(milliseconds, Ordering::SeqCst);
    }

    /// A request with the right key and a JSON body.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        let auth = format!("App {KEY}");
        self.raw(
            method,
            path,
            &[("authorization", auth.as_str())],
            body.map(|body| body.to_string()),
        )
        .await
    }

    /// A request with exactly these headers and body text.
    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Answer {
        let mut builder = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        if body.is_some() {
            builder = builder.header("content-type", "application/json");
        }
        let request = builder
            .body(body.map(Body::from).unwrap_or_else(Body::empty))
            .expect("request");
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .map(str::to_string);
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        Answer {
            status,
            content_type,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    /// Stores `scenario` and returns its id.
    pub async fn create_scenario(&self, scenario: Value) -> String {
        let answer = self
            .call("POST", "/voice/ivr/1/scenarios", Some(scenario))
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        answer.json()["id"].as_str().expect("id").to_string()
    }

    pub async fn finish(self) {
        self.storage.close().await;
        if let Some((base, name)) = &self.postgres
            && let Ok(mut connection) = sqlx::AnyConnection::connect(base).await
        {
            sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}")))
                .execute(&mut connection)
                .await
                .ok();
        }
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

/// `base` with its database name replaced by `name`.
fn database_url(base: &str, name: &str) -> String {
    let (without_query, query) = base.split_once('?').unwrap_or((base, ""));
    let scheme_end = without_query.find("://").map_or(0, |index| index + 3);
    let path_start = without_query[scheme_end..]
        .find('/')
        .map_or(without_query.len(), |index| scheme_end + index);
    let mut url = format!("{}/{name}", &without_query[..path_start]);
    if !query.is_empty() {
        url.push('?');
        url.push_str(query);
    }
    url
}

/// A small valid scenario.
pub fn menu(name: &str) -> Value {
    json!({
        "name": name,
        "description": "press 1",
        "script": [
            {"playFromUrl": "demo-menu.wav"},
            {"collectInto": "choice", "options": {"maxInputLength": 1, "timeout": 5}},
            {"if": "${choice == '1'}", "then": [{"playFromUrl": "demo-option1.wav"}]},
            "hangup"
        ]
    })
}

/// A launch body for `scenario_id` to `numbers`, with `extra` fields merged into the message.
pub fn launch_body(scenario_id: &str, numbers: &[&str], extra: Value) -> Value {
    let mut message = json!({
        "scenarioId": scenario_id,
        "from": "46700000000",
        "destinations": numbers.iter().map(|to| json!({"to": to})).collect::<Vec<_>>(),
    });
    if let (Some(message), Value::Object(extra)) = (message.as_object_mut(), extra) {
        message.extend(extra);
    }
    json!({ "messages": [message] })
}

#[test]
fn database_urls_swap_the_name() {
    assert_eq!(
        database_url(
            "postgres://u:p@localhost:5432/postgres?sslmode=disable",
            "x"
        ),
        "postgres://u:p@localhost:5432/x?sslmode=disable"
    );
    assert_eq!(
        database_url("postgres://localhost", "x"),
        "postgres://localhost/x"
    );
}

#[test]
fn start_is_the_documented_moment() {
    let start: jiff::Timestamp = "2026-11-23T08:00:00Z".parse().expect("time");
    assert_eq!(start.as_millisecond(), START);
}
