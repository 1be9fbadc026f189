//! sipp as the called party of ivory's outbound calls: one background process per UAS, listening
//! on its own SIP and media ports, answering per a scenario of `tools/sipp/uas-*.xml`, echoing
//! RTP (`-rtp_echo`) so that packets flow both ways. It exits 0 once its call went as scripted.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use super::{free_port, free_udp_block, repository_root, tail};

pub struct SippUas {
    child: Child,
    pub port: u16,
    pub messages_log: std::path::PathBuf,
}

impl SippUas {
    /// Starts `tools/sipp/<scenario>` (or a scenario at an absolute path) for one call. `extra`
    /// adds sipp arguments (`-d 2000` for the pause before an answer).
    pub async fn start(dir: &Path, scenario: &str, extra: &[&str]) -> SippUas {
        SippUas::start_for(dir, scenario, 1, extra).await
    }

    /// As [`SippUas::start`], for `calls` calls (any number at once).
    pub async fn start_for(dir: &Path, scenario: &str, calls: u32, extra: &[&str]) -> SippUas {
        let port = free_port();
        let messages_log = dir.join(format!("sipp-uas-{port}-messages.log"));
        let scenarios = repository_root().join("tools/sipp");
        let child = Command::new("sipp")
            .args(["-sf", &scenarios.join(scenario).display().to_string()])
            .args(["-m", &calls.to_string()])
            .args(["-i", "127.0.0.1", "-mi", "127.0.0.1"])
            .args(["-p", &port.to_string()])
            .args(["-mp", &free_udp_block(4).to_string()])
            .arg("-rtp_echo")
            .args(["-timeout", "60s"])
            .arg("-nostdin")
            .args(extra)
            .args([
                "-trace_msg",
                "-message_file",
                &messages_log.display().to_string(),
            ])
            .current_dir(&scenarios)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn sipp as a UAS");
        // sipp binds its port within a few milliseconds of starting.
        tokio::time::sleep(Duration::from_millis(300)).await;
        SippUas {
            child,
            port,
            messages_log,
        }
    }

    /// Its address as a dial target.
    pub fn uri(&self, user: &str) -> String {
        format!("sip:{user}@127.0.0.1:{}", self.port)
    }

    /// Waits for sipp to finish its call; true when it went as the scenario says.
    pub async fn finished_ok(&mut self, timeout: Duration) -> bool {
        match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(Ok(status)) => status.success(),
            _ => false,
        }
    }

    /// The end of sipp's message trace, for failure messages.
    pub fn trace(&self) -> String {
        tail(&self.messages_log, 60)
    }
}
