//! Driving baresip 1.0 (a real softphone) in tests: a config directory written per test, the
//! `aufile` module as microphone (a WAV of silence), `ctrl_tcp` to dial and press keys.
//!
//! baresip must run as `baresip -n 127.0.0.1 -f DIR`: without `-n` its SDP names another address.
//! Its SIP listener takes `port` and `port + 1` (TLS), so the control port is chosen apart from both.
//! ctrl_tcp speaks netstrings (`LEN:JSON,`) carrying `{"command","params","token"}`; replies and
//! events come back the same way. `sndcode` sends RFC 4733 telephone-events.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::time::Instant;

use super::audio::{silence, write_wav};
use super::{free_port, free_udp_block};

pub struct Baresip {
    child: Child,
    control: TcpStream,
    buffer: Vec<u8>,
    /// Every event and reply received, in order.
    pub received: Vec<Value>,
}

impl Baresip {
    /// Writes the config into `dir` and starts baresip; it quits by itself after `lifetime`.
    pub async fn start(dir: &Path, lifetime: Duration) -> Baresip {
        Baresip::start_with_account(
            dir,
            lifetime,
            "<sip:baresip@127.0.0.1>;regint=0;audio_codecs=PCMU,PCMA",
        )
        .await
    }

    /// As [`Baresip::start`], with `account` as its one line in baresip's `accounts` file (e.g. a
    /// registering, auto-answering account).
    pub async fn start_with_account(dir: &Path, lifetime: Duration, account: &str) -> Baresip {
        let sip_port = loop {
            let port = free_port();
            if free_port_pair(port) {
                break port;
            }
        };
        let control_port = loop {
            let port = free_port();
            if port != sip_port && port != sip_port + 1 {
                break port;
            }
        };
        let rtp_first = free_udp_block(20);
        let microphone = dir.join("baresip-silence.wav");
        // Longer than the call: baresip hangs up when its source file ends.
        write_wav(&microphone, &silence(60_000)).expect("write the microphone WAV");
        let config = format!(
            "poll_method\t\tepoll\n\
             sip_listen\t\t127.0.0.1:{sip_port}\n\
             call_local_timeout\t120\n\
             audio_player\t\taufile,{player}\n\
             audio_source\t\taufile,{microphone}\n\
             audio_alert\t\taufile,{microphone}\n\
             audio_level\t\tno\n\
             ausrc_srate\t\t8000\n\
             auplay_srate\t\t8000\n\
             rtp_ports\t\t{rtp_first}-{rtp_last}\n\
             module_path\t\t/usr/lib/baresip/modules\n\
             module\t\t\tg711.so\n\
             module\t\t\taufile.so\n\
             module_app\t\taccount.so\n\
             module_app\t\tmenu.so\n\
             module_app\t\tctrl_tcp.so\n\
             ctrl_tcp_listen\t\t127.0.0.1:{control_port}\n",
            player = dir.join("baresip-heard.wav").display(),
            microphone = microphone.display(),
            rtp_last = rtp_first + 19,
        );
        std::fs::write(dir.join("config"), config).expect("write baresip's config");
        std::fs::write(dir.join("accounts"), format!("{account}\n"))
            .expect("write baresip's accounts");
        let log = std::fs::File::create(dir.join("baresip.log")).expect("create baresip.log");
        let child = Command::new("baresip")
            .args(["-n", "127.0.0.1", "-f"])
            .arg(dir)
            .args(["-t", &lifetime.as_secs().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().expect("clone the log file")))
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .expect("spawn baresip");
        let deadline = Instant::now() + Duration::from_secs(10);
        let control = loop {
            match TcpStream::connect(("127.0.0.1", control_port)).await {
                Ok(stream) => break stream,
                Err(error) if Instant::now() >= deadline => {
                    panic!(
                        "baresip's ctrl_tcp did not come up on {control_port}: {error}\n{}",
                        super::tail(&dir.join("baresip.log"), 40)
                    )
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        Baresip {
            child,
            control,
            buffer: Vec::new(),
            received: Vec::new(),
        }
    }

    /// Sends a ctrl_tcp command (e.g. `dial`, `sndcode`, `hangup`).
    pub async fn command(&mut self, command: &str, params: &str) {
        let body =
            serde_json::json!({"command": command, "params": params, "token": command}).to_string();
        let framed = format!("{}:{body},", body.len());
        self.control
            .write_all(framed.as_bytes())
            .await
            .expect("write to baresip's ctrl_tcp");
    }

    /// Waits for an event of `event_type` (e.g. `CALL_ESTABLISHED`, `CALL_CLOSED`).
    pub async fn wait_event(&mut self, event_type: &str, timeout: Duration) -> Option<Value> {
        if let Some(found) = self.received.iter().find(|v| v["type"] == event_type) {
            return Some(found.clone());
        }
        let deadline = Instant::now() + timeout;
        loop {
            while let Some(value) = take_netstring(&mut self.buffer) {
                self.received.push(value.clone());
                if value["type"] == event_type {
                    return Some(value);
                }
            }
            let mut chunk = [0u8; 4096];
            match tokio::time::timeout_at(deadline, self.control.read(&mut chunk)).await {
                Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return None,
                Ok(Ok(read)) => self.buffer.extend_from_slice(&chunk[..read]),
            }
        }
    }

    /// Stops baresip now.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// Whether `port + 1` is free too (baresip binds TLS there).
fn free_port_pair(port: u16) -> bool {
    port < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", port + 1)).is_ok()
}

/// One netstring's JSON off the front of `buffer`, if complete. Bytes that are not a netstring
/// are dropped up to the next digit.
fn take_netstring(buffer: &mut Vec<u8>) -> Option<Value> {
    loop {
        let colon = buffer.iter().position(|&b| b == b':')?;
        let Some(length) = std::str::from_utf8(&buffer[..colon])
            .ok()
            .and_then(|t| t.parse::<usize>().ok())
        else {
            buffer.drain(..=colon);
            continue;
        };
        let end = colon + 1 + length;
        if buffer.len() <= end {
            return None;
        }
        let value = serde_json::from_slice(&buffer[colon + 1..end]).unwrap_or(Value::Null);
        buffer.drain(..=end);
        return Some(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netstrings_are_cut_whole() {
        let frame = |json: &str| format!("{}:{json},", json.len());
        let mut buffer = format!(
            "{}{}3:{{",
            frame(r#"{"type":"A"}"#),
            frame(r#"{"type":"BC"}"#)
        )
        .into_bytes();
        assert_eq!(take_netstring(&mut buffer).unwrap()["type"], "A");
        assert_eq!(take_netstring(&mut buffer).unwrap()["type"], "BC");
        assert!(take_netstring(&mut buffer).is_none());
        assert_eq!(buffer, b"3:{");
    }
}
