//! The detectors alone over arbitrary text: the hot path every segment goes through,
//! with an organisation-defined identifier of each checksum, the name recogniser, and a
//! fixed day (so dates beside names are judged as dates of birth).
//!
//!     cargo fuzz run -s none detect -- -max_total_time=60
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use veilpost_dlp::detect::Engine;
use veilpost_dlp::{Checksum, Confidence, CustomIdentifier};

fn engine() -> Engine {
    let ids = [
        ("pat", r"\bPAT-\d{7}\b", Checksum::None, vec![], true),
        ("ecd", r"\b\d{9}\b", Checksum::Elfproef, vec!["ecd".to_string()], false),
        ("pas", r"\b\d{16}\b", Checksum::Luhn, vec![], true),
        ("rek", r"\b[A-Z]{2}\d{2}[A-Z0-9]{10,30}\b", Checksum::Mod97, vec![], false),
    ];
    Engine::with_identifiers(
        ids.into_iter()
            .map(|(name, pattern, checksum, keywords, alone)| CustomIdentifier {
                name: name.into(),
                pattern: pattern.into(),
                checksum,
                keywords,
                confidence: Confidence::High,
                sensitive_alone: alone,
            })
            .collect(),
    )
    .expect("valid identifiers")
}

fuzz_target!(|data: &[u8]| {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    let engine = ENGINE.get_or_init(engine);
    let text = String::from_utf8_lossy(data);
    let report = engine.report_on(&text, "body", Some((2026, 12, 2)));
    for finding in &report.findings {
        // Excerpts are masked and bounded; every finding names its rule.
        assert!(finding.excerpt.len() <= 4 * 200, "{finding:?}");
        assert!(!finding.rule.is_empty(), "{finding:?}");
    }
    for m in engine.person_mentions(&text) {
        assert!(m.start < m.end && m.end <= text.len(), "{m:?}");
        assert!(text.is_char_boundary(m.start) && text.is_char_boundary(m.end));
    }
});
