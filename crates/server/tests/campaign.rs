//! The outbound-campaign worker over the real queue (SQLite, and PostgreSQL when
//! `IVORY_TEST_POSTGRES_URL` is set), with a scripted fake [`campaign::CallPlacer`].
//!
//! Most tests drive the worker pass by pass on the test server's virtual clock
//! ([`fake::drive`]): calls end when virtual time reaches their scripted end, so a campaign
//! of an hour runs in a moment and every run is the same. The `run` loop itself is tested
//! with calls that end at once.
//!
//! The server is a binary crate, so the modules are compiled into this test crate from
//! their source files.
#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::expect_used)]

#[path = "../src/api/mod.rs"]
mod api;
#[path = "../src/campaign/mod.rs"]
mod campaign;
#[path = "../src/storage/mod.rs"]
mod storage;

#[path = "api/support.rs"]
mod support;

#[path = "campaign/fake.rs"]
mod fake;

#[path = "campaign/crash.rs"]
mod crash;
#[path = "campaign/runs.rs"]
mod runs;
