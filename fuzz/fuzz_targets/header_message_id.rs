//! The `Message-ID` the spool keeps for the log and for phishing reports, read from
//! whatever a client sent: never a panic, and an answer is always a printable ASCII token
//! of at most 998 characters.
//!
//!     cargo fuzz run -O -s none header_message_id -- -max_total_time=120
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(id) = veilpost_store::header_message_id(data) {
        assert!(!id.is_empty() && id.len() <= 998);
        assert!(id.bytes().all(|b| b.is_ascii_graphic()));
    }
});
