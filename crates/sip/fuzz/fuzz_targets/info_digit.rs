//! Any SIP INFO body and content type: digit parsing never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.first().copied().unwrap_or(0) as usize % (data.len().max(1));
    let (content_type, body) = data.split_at(split.min(data.len()));
    let content_type = String::from_utf8_lossy(content_type);
    let _ = ivory_sip::dtmf_info::parse_info_digit(&content_type, body);
});
