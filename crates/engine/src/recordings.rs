//! Where recordings go and how they are found again: `playFromRecording` by identifier, of this call
//! or an earlier one.
//!
//! Files are `DIR/<call id>-<n>.wav` (`-call.wav` for whole-call recordings), written by
//! [`ivory_dsp::WavFileWriter`], whose header is rewritten every second, so a crash leaves a playable
//! file. When a recording ends, one JSON line is appended to `DIR/index.jsonl` (identifier, call id,
//! file, duration). The index is read at start-up and kept in memory; the newest recording with an
//! identifier wins. A recording cut short by a crash is on disk but not in the index (it is found by
//! listing the directory; re-indexing such files comes with the storage issue).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

use crate::EngineError;

/// One line of the index.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RecordingEntry {
    pub identifier: String,
    pub call_id: String,
    /// The file name inside the recordings directory.
    pub file: String,
    pub duration_ms: u64,
    /// `record` (the action) or `call` (whole-call, stereo).
    pub kind: String,
    pub created_at: String,
}

/// Sees every recording as it is indexed (a database copy); must not block.
pub type RecordingObserver = std::sync::Arc<dyn Fn(&RecordingEntry) + Send + Sync>;

/// The recordings directory and its index.
pub struct RecordingStore {
    dir: PathBuf,
    by_identifier: Mutex<HashMap<String, RecordingEntry>>,
    index_writer: tokio::sync::Mutex<()>,
    observer: Option<RecordingObserver>,
}

impl std::fmt::Debug for RecordingStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingStore")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl RecordingStore {
    /// Creates the directory if needed and loads the index (unreadable lines are skipped, with a
    /// warning: one bad line must not hide every other recording).
    pub fn open(dir: &Path) -> Result<Self, EngineError> {
        std::fs::create_dir_all(dir).map_err(|source| EngineError::Recordings {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut by_identifier = HashMap::new();
        if let Ok(text) = std::fs::read_to_string(dir.join("index.jsonl")) {
            for (number, line) in text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
            {
                match serde_json::from_str::<RecordingEntry>(line) {
                    Ok(entry) => {
                        by_identifier.insert(entry.identifier.clone(), entry);
                    }
                    Err(error) => {
                        tracing::warn!(line = number + 1, %error, "skipping a bad recordings index line")
                    }
                }
            }
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            by_identifier: Mutex::new(by_identifier),
            index_writer: tokio::sync::Mutex::new(()),
            observer: None,
        })
    }

    /// Calls `observer` with every recording indexed from now on (after its index line is on
    /// disk).
    pub fn with_observer(mut self, observer: RecordingObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path for a new recording of a call.
    pub fn path_for(&self, call_id: &str, suffix: &str) -> (String, PathBuf) {
        let file = format!("{}-{suffix}.wav", sanitise(call_id));
        let path = self.dir.join(&file);
        (file, path)
    }

    /// The file of the newest recording with this identifier.
    pub fn find(&self, identifier: &str) -> Option<PathBuf> {
        let entries = self.by_identifier.lock().ok()?;
        entries
            .get(identifier)
            .map(|entry| self.dir.join(&entry.file))
    }

    /// Adds a finished recording to the index (memory and disk).
    pub async fn add(&self, entry: RecordingEntry) -> Result<(), EngineError> {
        let mut line = serde_json::to_vec(&entry).unwrap_or_default();
        line.push(b'\n');
        {
            let _serialised = self.index_writer.lock().await;
            let path = self.dir.join("index.jsonl");
            let io = |source| EngineError::Recordings {
                path: path.clone(),
                source,
            };
            let mut file = tokio::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .await
                .map_err(io)?;
            file.write_all(&line).await.map_err(io)?;
            file.sync_data().await.map_err(io)?;
        }
        if let Some(observer) = &self.observer {
            observer(&entry);
        }
        if let Ok(mut entries) = self.by_identifier.lock() {
            entries.insert(entry.identifier.clone(), entry);
        }
        Ok(())
    }
}

/// A file-name-safe form of a call id or identifier.
pub fn sanitise(text: &str) -> String {
    let safe: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(120)
        .collect();
    if safe.is_empty() || safe.starts_with('.') {
        format!("r{safe}")
    } else {
        safe
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(identifier: &str, file: &str) -> RecordingEntry {
        RecordingEntry {
            identifier: identifier.into(),
            call_id: "c1".into(),
            file: file.into(),
            duration_ms: 1000,
            kind: "record".into(),
            created_at: "2026-11-22T00:00:00Z".into(),
        }
    }

    #[tokio::test]
    async fn the_index_survives_a_restart_and_the_newest_wins() {
        let dir = std::env::temp_dir().join(format!("ivory-recordings-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = RecordingStore::open(&dir).expect("open");
        store.add(entry("greeting", "a.wav")).await.expect("add");
        store.add(entry("greeting", "b.wav")).await.expect("add");
        store.add(entry("other", "c.wav")).await.expect("add");
        std::fs::write(dir.join("index.jsonl"), {
            let mut text = std::fs::read_to_string(dir.join("index.jsonl")).expect("read");
            text.push_str("not json\n");
            text
        })
        .expect("append junk");
        let reopened = RecordingStore::open(&dir).expect("reopen");
        assert_eq!(reopened.find("greeting"), Some(dir.join("b.wav")));
        assert_eq!(reopened.find("other"), Some(dir.join("c.wav")));
        assert_eq!(reopened.find("missing"), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn names_are_file_safe() {
        assert_eq!(sanitise("1-234@127.0.0.1"), "1-234_127.0.0.1");
        assert_eq!(sanitise("../etc"), "r.._etc");
        assert_eq!(sanitise(""), "r");
    }
}
