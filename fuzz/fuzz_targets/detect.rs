//! The detectors alone over arbitrary text: the hot path every segment goes through.
//!
//!     cargo fuzz run -s none detect -- -max_total_time=60
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use veilpost_dlp::detect::Engine;

fuzz_target!(|data: &[u8]| {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    let engine = ENGINE.get_or_init(Engine::new);
    let text = String::from_utf8_lossy(data);
    let report = engine.report(&text, "body");
    for finding in &report.findings {
        // Excerpts are masked and bounded.
        assert!(finding.excerpt.len() <= 4 * 200, "{finding:?}");
    }
});
