//! Running sipp (Debian `sip-tester`, sipp 3.6.1) with the scenarios in `tools/sipp/` against a test
//! server: one call, its own SIP and media ports, bounded in time, messages and errors traced into
//! the test's temp dir for the failure message.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::process::Command;

use super::{Server, free_port, free_udp_block, repository_root, tail};

/// Which transport sipp uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SippTransport {
    Udp,
    Tcp,
}

/// The result of one sipp run.
#[derive(Debug)]
pub struct SippRun {
    pub status: ExitStatus,
    pub stdout: String,
    pub messages_log: PathBuf,
    pub errors_log: PathBuf,
}

impl SippRun {
    /// Whether sipp counted its call as successful (exit status 0).
    pub fn succeeded(&self) -> bool {
        self.status.success()
    }

    /// Panics with sipp's and the server's view when the call failed.
    pub fn assert_success(&self, server: &Server) {
        assert!(
            self.succeeded(),
            "sipp failed ({}).\n--- sipp errors:\n{}\n--- sipp messages (tail):\n{}\n--- sipp screen (tail):\n{}\n--- ivory stderr (tail):\n{}",
            self.status,
            tail(&self.errors_log, 40),
            tail(&self.messages_log, 80),
            self.stdout
                .lines()
                .rev()
                .take(30)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n"),
            server.stderr_tail()
        );
    }
}

/// Runs `tools/sipp/<scenario>` for one call to `service` (the number) at `server`.
/// `timeout` bounds sipp's run (`-timeout`, plus a kill a few seconds later as a backstop).
pub async fn run_scenario(
    server: &Server,
    scenario: &str,
    service: &str,
    transport: SippTransport,
    timeout: Duration,
) -> SippRun {
    static RUN: AtomicU32 = AtomicU32::new(0);
    let run = RUN.fetch_add(1, Ordering::Relaxed);
    let scenarios = repository_root().join("tools/sipp");
    let messages_log = server.dir.path().join(format!("sipp-{run}-messages.log"));
    let errors_log = server.dir.path().join(format!("sipp-{run}-errors.log"));
    let target: SocketAddr = match transport {
        SippTransport::Udp => server.sip_udp,
        SippTransport::Tcp => server.sip_tcp,
    };
    let mut command = Command::new("sipp");
    command
        .arg(target.to_string())
        .args(["-sf", &scenarios.join(scenario).display().to_string()])
        .args(["-s", service])
        .args(["-m", "1"])
        .args(["-i", "127.0.0.1", "-mi", "127.0.0.1"])
        .args(["-p", &free_port().to_string()])
        .args(["-mp", &free_udp_block(4).to_string()])
        .args([
            "-t",
            if transport == SippTransport::Tcp {
                "t1"
            } else {
                "u1"
            },
        ])
        .args(["-timeout", &format!("{}s", timeout.as_secs().max(1))])
        .arg("-timeout_error")
        .arg("-nostdin")
        .args([
            "-trace_msg",
            "-message_file",
            &messages_log.display().to_string(),
        ])
        .args([
            "-trace_err",
            "-error_file",
            &errors_log.display().to_string(),
        ])
        // rtp_stream paths in the scenarios are relative to tools/sipp.
        .current_dir(&scenarios)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = command.spawn().expect("spawn sipp");
    let output = tokio::time::timeout(timeout + Duration::from_secs(10), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("sipp ran past its own -timeout of {timeout:?}"))
        .expect("wait for sipp");
    let mut stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    stdout.push_str(&String::from_utf8_lossy(&output.stderr));
    SippRun {
        status: output.status,
        stdout,
        messages_log,
        errors_log,
    }
}
