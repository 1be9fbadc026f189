//! The HTTP API, storage and webhook pusher, in-process: the router is driven with
//! `tower::ServiceExt::oneshot` over a temporary SQLite database, and, when
//! `IVORY_TEST_POSTGRES_URL` names a PostgreSQL server (its user may create databases), over
//! a fresh PostgreSQL database too. Every test runs against both (`both!`).
//!
//! The server is a binary crate, so the API and storage modules are compiled into this test
//! crate from their source files.
#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::expect_used)]

#[path = "../src/api/mod.rs"]
mod api;
#[path = "../src/storage/mod.rs"]
mod storage;

#[path = "api/support.rs"]
mod support;

#[path = "api/auth_metrics.rs"]
mod auth_metrics;
#[path = "api/launch.rs"]
mod launch;
#[path = "api/queue.rs"]
mod queue;
#[path = "api/reports.rs"]
mod reports;
#[path = "api/scenarios.rs"]
mod scenarios;
#[path = "api/webhooks.rs"]
mod webhooks;
