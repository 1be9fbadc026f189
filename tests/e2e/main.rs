//! ivory's end-to-end tests: the real `ivory` binary on 127.0.0.1, driven by sipp, baresip and the
//! test UA in `support/`, judged by SIP responses and the call log (one JSON line per call).
//!
//! They wait on real time (the demo's prompts last seconds) but never assert on durations. Each
//! test starts its own server with its own ports, so they run in parallel. A missing sipp or
//! baresip skips the tests that need it, unless `IVORY_REQUIRE_PEERS=1` (set by `.ci/run`).
//! `IVORY_TEST_LOG` sets the server's `RUST_LOG` (default `debug`); its stderr and every peer's
//! trace stay in the test's temp dir, which is kept when a test fails.
#![allow(clippy::unwrap_used)]

mod campaigns;
mod dialling;
mod dtmf_cli;
mod scenarios;
mod sipp_calls;
mod softphone;
mod speech;
mod support;
mod torture;
mod ua_media;
mod ua_signalling;

use std::time::Duration;

/// When the caller presses its key, counted from the 200 OK: after demo-welcome (3.8 s) and
/// demo-menu (3.3 s), inside the 5 s collect window that follows. Later than the menu so the test
/// does not depend on whether ivory lets digits barge into prompts.
pub const DIGIT_AT: Duration = Duration::from_secs(9);

/// Enough for the whole demo (about 16 s even when nothing is pressed) plus a loaded machine.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(40);

/// How long to wait for a SIP response or a call log line once the call is over.
pub const SHORT_TIMEOUT: Duration = Duration::from_secs(10);
