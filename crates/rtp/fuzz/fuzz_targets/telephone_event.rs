//! Any RFC 4733 payload: the multi-block parser never panics.
#![no_main]

use ivory_rtp::telephone_event::TelephoneEventPayload;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = TelephoneEventPayload::parse(data);
    for block in TelephoneEventPayload::parse_blocks(data) {
        let _ = block;
    }
});
