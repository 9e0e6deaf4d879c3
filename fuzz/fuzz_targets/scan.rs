//! Extraction and detection over arbitrary bytes, as a message and as a file.
//!
//! PDF parsing is stubbed out: in production it runs in a sandboxed child process (see
//! `crates/veilpost/src/sandbox.rs`) because pdf-extract is known to abort on hostile
//! input; here we fuzz our own code.
//!
//!     cargo fuzz run -s none scan -- -max_total_time=60
#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use veilpost_dlp::{Kind, Limits, PdfExtractor, PdfOutcome, Scanner, Verdict};

#[derive(Debug)]
struct NoPdf;

impl PdfExtractor for NoPdf {
    fn extract(&self, _pdf: &[u8]) -> PdfOutcome {
        PdfOutcome::Unreadable("not parsed while fuzzing".into())
    }
}

fn scanner() -> &'static Scanner {
    static SCANNER: OnceLock<Scanner> = OnceLock::new();
    SCANNER.get_or_init(|| {
        Scanner::new()
            .with_pdf_extractor(Arc::new(NoPdf))
            .with_limits(Limits {
                max_bytes: 8 * 1024 * 1024,
                max_time: Duration::from_secs(5),
                ..Limits::default()
            })
    })
}

fuzz_target!(|data: &[u8]| {
    for report in [
        scanner().scan_message(data),
        scanner().scan_file(data, "fuzz.bin"),
    ] {
        // Fail closed: whatever could not be inspected never yields a clean verdict.
        if report
            .findings
            .iter()
            .any(|f| f.kind == Kind::Uninspectable)
        {
            assert_eq!(report.verdict, Verdict::Sensitive);
        }
    }
});
