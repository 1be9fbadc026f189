//! The text-to-speech cache: prompts in memory, and on disk as 8 kHz WAV files named by a hash
//! of their key, plus one lock per key so that a prompt is synthesised once however many ask
//! for it at the same time.
//!
//! Disk problems are never errors: an unreadable file is a miss, a failed write costs a later
//! re-synthesis. Files are written to a `.partial` name and renamed, so a reader never sees half
//! a file.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use ivory_rtp::Prompt;

use super::pcm;

#[derive(Debug)]
pub(super) struct SpeechCache {
    dir: Option<PathBuf>,
    memory: Mutex<HashMap<String, Prompt>>,
    /// One lock per key ever synthesised (a few bytes each, beside the prompt itself).
    in_flight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl SpeechCache {
    pub(super) fn new(dir: Option<PathBuf>) -> Self {
        Self {
            dir,
            memory: Mutex::new(HashMap::new()),
            in_flight: Mutex::new(HashMap::new()),
        }
    }

    pub(super) fn in_memory(&self, key: &str) -> Option<Prompt> {
        self.memory.lock().ok()?.get(key).cloned()
    }

    /// Waits until no one else is producing `key`'s prompt; hold the guard while producing it.
    pub(super) async fn lock_key(&self, key: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = match self.in_flight.lock() {
            Ok(mut locks) => locks.entry(key.to_string()).or_default().clone(),
            // A poisoned map only loses the sharing, never the prompt.
            Err(_) => Arc::new(tokio::sync::Mutex::new(())),
        };
        lock.lock_owned().await
    }

    /// The prompt the disk cache holds for `key`, now also in memory.
    pub(super) async fn on_disk(&self, key: &str) -> Option<Prompt> {
        let path = self.path(key)?;
        let bytes = tokio::fs::read(&path).await.ok()?;
        let samples = pcm::read_prompt_wav(&bytes)?;
        let prompt = Prompt::from_samples(samples.into());
        self.remember(key.to_string(), prompt.clone());
        Some(prompt)
    }

    /// Keeps freshly synthesised samples in memory and on disk.
    pub(super) async fn store(&self, key: String, samples: Vec<i16>) -> Prompt {
        if let Some(path) = self.path(&key)
            && let Some(dir) = &self.dir
            && tokio::fs::create_dir_all(dir).await.is_ok()
        {
            let partial = path.with_extension("partial");
            if tokio::fs::write(&partial, pcm::prompt_wav(&samples))
                .await
                .is_ok()
            {
                tokio::fs::rename(&partial, &path).await.ok();
            }
        }
        let prompt = Prompt::from_samples(samples.into());
        self.remember(key, prompt.clone());
        prompt
    }

    fn remember(&self, key: String, prompt: Prompt) {
        if let Ok(mut memory) = self.memory.lock() {
            memory.insert(key, prompt);
        }
    }

    fn path(&self, key: &str) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        Some(dir.join(format!("{:016x}.wav", fnv1a(key.as_bytes()))))
    }
}

/// 64-bit FNV-1a: a stable file name for a key (std's hasher may change between releases).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_damaged_file_is_a_miss_and_is_replaced() {
        let dir = std::env::temp_dir().join(format!("ivory-tts-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cache = SpeechCache::new(Some(dir.clone()));
        assert!(cache.on_disk("k").await.is_none());
        std::fs::create_dir_all(&dir).expect("dir");
        let path = cache.path("k").expect("path");
        std::fs::write(&path, b"RIFF garbage").expect("write");
        assert!(cache.on_disk("k").await.is_none());
        cache.store("k".into(), vec![5, 6, 7]).await;
        let fresh = SpeechCache::new(Some(dir.clone()));
        let prompt = fresh.on_disk("k").await.expect("stored");
        assert_eq!(prompt.samples(), [5, 6, 7]);
        assert_eq!(
            fresh.in_memory("k").expect("remembered").samples(),
            [5, 6, 7]
        );
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
