//! The few WAV and PCM byte layouts text-to-speech needs: the canonical 44-byte WAV header
//! around 16-bit little-endian PCM (for the disk cache, and to hand raw PCM to the decoder).

/// Bytes in the canonical header written by [`wav_bytes`].
const HEADER_BYTES: usize = 44;

/// The sample rate of every prompt.
pub(crate) const PROMPT_RATE_HZ: u32 = 8_000;

/// `pcm` (16-bit little-endian, `channels` interleaved) in a canonical RIFF/WAVE file.
pub(crate) fn wav_bytes(pcm: &[u8], sample_rate_hz: u32, channels: u16) -> Vec<u8> {
    let block_align = channels.saturating_mul(2);
    let data_length = u32::try_from(pcm.len()).unwrap_or(u32::MAX);
    let mut bytes = Vec::with_capacity(HEADER_BYTES + pcm.len());
    bytes.extend_from_slice(b"RIFF");
    bytes.extend_from_slice(&data_length.saturating_add(36).to_le_bytes());
    bytes.extend_from_slice(b"WAVEfmt ");
    bytes.extend_from_slice(&16u32.to_le_bytes());
    bytes.extend_from_slice(&1u16.to_le_bytes()); // PCM
    bytes.extend_from_slice(&channels.to_le_bytes());
    bytes.extend_from_slice(&sample_rate_hz.to_le_bytes());
    bytes.extend_from_slice(
        &sample_rate_hz
            .saturating_mul(u32::from(block_align))
            .to_le_bytes(),
    );
    bytes.extend_from_slice(&block_align.to_le_bytes());
    bytes.extend_from_slice(&16u16.to_le_bytes());
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&data_length.to_le_bytes());
    bytes.extend_from_slice(pcm);
    bytes
}

/// 8 kHz mono samples as the WAV file the disk cache keeps.
pub(crate) fn prompt_wav(samples: &[i16]) -> Vec<u8> {
    let pcm: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    wav_bytes(&pcm, PROMPT_RATE_HZ, 1)
}

/// The samples of a file [`prompt_wav`] wrote; `None` for anything else (a file from an older
/// version, a truncated write), which the cache treats as a miss.
pub(crate) fn read_prompt_wav(bytes: &[u8]) -> Option<Vec<i16>> {
    let (header, data) = bytes.split_at_checked(HEADER_BYTES)?;
    if data.is_empty() || !data.len().is_multiple_of(2) {
        return None;
    }
    let expected = wav_bytes(&[], PROMPT_RATE_HZ, 1);
    let data_length = u32::try_from(data.len()).ok()?;
    // Everything but the two length fields must be what prompt_wav writes.
    let same_format = header[8..40] == expected[8..40]
        && header[..4] == expected[..4]
        && header[4..8] == (data_length + 36).to_le_bytes()
        && header[40..44] == data_length.to_le_bytes();
    same_format.then(|| {
        data.chunks_exact(2)
            .map(|pair| i16::from_le_bytes([pair[0], pair[1]]))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_wavs_round_trip_and_others_are_refused() {
        let samples = [0i16, 1, -1, i16::MAX, i16::MIN];
        let wav = prompt_wav(&samples);
        assert_eq!(wav.len(), 44 + 10);
        assert_eq!(read_prompt_wav(&wav).as_deref(), Some(&samples[..]));
        // The decoder reads it the same (8 kHz 16-bit mono passes through bit-exact).
        assert_eq!(
            ivory_dsp::decode::decode_audio(&wav, Some("wav")).expect("decodes"),
            samples
        );
        assert_eq!(read_prompt_wav(&wav[..wav.len() - 1]), None);
        assert_eq!(read_prompt_wav(&prompt_wav(&[])), None);
        let other_rate = wav_bytes(&wav[44..], 16_000, 1);
        assert_eq!(read_prompt_wav(&other_rate), None);
    }
}
