//! DMARC aggregate and TLS reports from outside (mail, files, HTTPS bodies): any bytes
//! give reports or an error within the limits, never a panic.
//!
//!     cargo fuzz run -O -s none reports -- -max_total_time=60
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = veilpost_reports::Limits {
        max_input: 1 << 20,
        max_report: 4 << 20,
        ..veilpost_reports::Limits::default()
    };
    let served = vec!["praktijk.test".to_string()];
    let now = 1_800_000_000;
    let vouched = veilpost_reports::Vouched::TRUSTED;
    for step in veilpost_reports::triage(data, &limits, &served, now, vouched) {
        if let veilpost_reports::Step::Count(r) = step {
            let _ = r.key();
            let _ = r.domains();
        }
    }
});
