//! Any datagram: screening never panics, and whatever it passes or rewrites, rsipstack's parser
//! accepts (that is screening's contract: rsipstack never sees a message it would drop).
#![no_main]

use ivory_sip::screen::{Screening, screen_datagram};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let passed = match screen_datagram(data) {
        Screening::Pass => data.to_vec(),
        Screening::Rewrite(fixed) => fixed,
        Screening::Reply(_) | Screening::Drop(_) => return,
    };
    if passed.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    assert!(
        rsipstack::sip::SipMessage::try_from(passed.as_slice()).is_ok(),
        "screening passed a message rsipstack cannot parse"
    );
});
