//! The call log: one JSON object per finished call, appended to a file (`data/calls.jsonl`).
//!
//! One writer task owns the file; legs send finished records over a channel, so no lock is held
//! across file I/O and a slow disk never stalls a call's media. Each line is written whole and
//! flushed (and `fsync`ed) before the next, so a crash loses at most the line being written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tracing::error;

use crate::EngineError;

/// Who ended the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HangupBy {
    Caller,
    Ivory,
    System,
}

/// A digit the caller sent, as logged.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoggedDigit {
    pub digit: char,
    /// `rfc4733`, `inband` or `info`.
    pub source: &'static str,
    /// Milliseconds after the call started.
    pub at_ms: u64,
}

/// RTP counters at the end of the call.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RtpSummary {
    pub packets_in: u64,
    pub packets_out: u64,
    pub lost: u64,
    pub late: u64,
}

/// One line of the call log.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallRecord {
    pub call_id: String,
    pub from: String,
    pub to: String,
    /// The `[[numbers]]` pattern that matched, or null.
    pub number: Option<String>,
    pub scenario: Option<String>,
    pub direction: &'static str,
    pub transport: &'static str,
    pub remote: String,
    /// RFC 3339 UTC timestamps.
    pub start_time: String,
    pub answer_time: Option<String>,
    pub end_time: String,
    pub duration_ms: u64,
    /// The final status ivory sent to the INVITE.
    pub status: u16,
    pub hangup_by: HangupBy,
    pub hangup_reason: String,
    pub digits: Vec<LoggedDigit>,
    pub variables: BTreeMap<String, String>,
    pub notes: Vec<String>,
    /// Recording files (in the recordings directory) made during the call.
    pub recordings: Vec<String>,
    pub rtp: RtpSummary,
    /// The legs this call dialled (`dial`, `dialToMany`), in the order they were called.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub legs: Vec<DialedLeg>,
    /// The answers `capture` heard, in order (the delivery report's `spokenInput` and
    /// `matchedSpokenInput` are the last one's).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub speech: Vec<SpokenAnswer>,
}

/// What one `capture` heard.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SpokenAnswer {
    /// The transcript (`<var>_Full`).
    pub text: String,
    /// The key phrase it matched, when the capture had key phrases and one matched.
    pub matched: Option<String>,
    /// How long the caller's answer was.
    pub audio_ms: u64,
    /// How long recognition took, after the answer ended.
    pub recognition_ms: u64,
}

/// One leg a call dialled out.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DialedLeg {
    /// The dial string (`user:alice`, a number, a `sip:` URI).
    pub target: String,
    pub call_id: String,
    /// Its final SIP status (200 once answered); null when abandoned before one came.
    pub status: Option<u16>,
    pub answered: bool,
    /// How long it was bridged with the caller.
    pub connected_ms: u64,
    /// Its RTP counters: `packets_in` is what the callee sent, `packets_out` what it was sent.
    pub rtp: RtpSummary,
}

/// Sees every record as it is appended (metrics, a database copy); must not block.
pub type CallObserver = std::sync::Arc<dyn Fn(&CallRecord) + Send + Sync>;

/// Where legs send finished records.
#[derive(Clone)]
pub struct CallLog {
    sender: mpsc::UnboundedSender<CallRecord>,
    path: PathBuf,
    observer: Option<CallObserver>,
}

impl std::fmt::Debug for CallLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallLog")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl CallLog {
    /// Opens (creating the directory and file if needed) and starts the writer task.
    pub async fn open(path: &Path) -> Result<Self, EngineError> {
        let io_error = |source| EngineError::CallLog {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir).await.map_err(io_error)?;
        }
        let file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .await
            .map_err(io_error)?;
        let (sender, receiver) = mpsc::unbounded_channel();
        tokio::spawn(write_records(file, receiver, path.to_path_buf()));
        Ok(Self {
            sender,
            path: path.to_path_buf(),
            observer: None,
        })
    }

    /// Calls `observer` with every record appended from now on.
    pub fn with_observer(mut self, observer: CallObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Queues one record for writing.
    pub fn append(&self, record: CallRecord) {
        if let Some(observer) = &self.observer {
            observer(&record);
        }
        if self.sender.send(record).is_err() {
            error!(path = %self.path.display(), "call log writer has stopped; a record is lost");
        }
    }
}

async fn write_records(
    mut file: tokio::fs::File,
    mut receiver: mpsc::UnboundedReceiver<CallRecord>,
    path: PathBuf,
) {
    while let Some(record) = receiver.recv().await {
        let mut line = match serde_json::to_vec(&record) {
            Ok(line) => line,
            Err(error) => {
                error!(%error, "cannot serialise a call record");
                continue;
            }
        };
        line.push(b'\n');
        let written = async {
            file.write_all(&line).await?;
            file.flush().await?;
            file.sync_data().await
        }
        .await;
        if let Err(error) = written {
            error!(path = %path.display(), %error, "cannot write the call log");
        }
    }
}
