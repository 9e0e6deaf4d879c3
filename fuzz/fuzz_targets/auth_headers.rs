//! Sender-authentication parsers over arbitrary bytes: message headers with
//! DKIM-Signature and ARC tag lists, SPF and DMARC records, SPF macro expansion.
//!
//!     cargo fuzz run -O -s none auth_headers -- -max_total_time=60
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    veilpost_senderauth::fuzz_parsers(data);
});
