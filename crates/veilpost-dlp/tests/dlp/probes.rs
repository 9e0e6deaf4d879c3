//! Probe sets: sentences written blind (without reading the detectors' lists) to find
//! what the rules miss, kept once fixed so that what was found stays found. Each file in
//! `tests/fixtures/probes/` is `expected<TAB>sentence`; the README says what each found
//! on arrival.

use veilpost_dlp::{Scanner, Verdict};

use crate::fixtures;

#[test]
fn probe_sets_keep_their_verdicts() {
    let dir = fixtures().join("probes");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("probes dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "tsv"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let scanner = Scanner::new();
    let mut wrong = Vec::new();
    let mut counted = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).expect("probe file");
        for line in text.lines().skip(1) {
            let (expected, sentence) = line.split_once('\t').expect("expected<TAB>sentence");
            let want = match expected {
                "sensitive" => Verdict::Sensitive,
                "clean" => Verdict::Clean,
                other => panic!("bad label {other}"),
            };
            let report = scanner.scan_file(sentence.as_bytes(), "probe.txt");
            if report.verdict != want {
                wrong.push(format!("{expected}: {sentence}\n  {:?}", report.findings));
            }
            counted += 1;
        }
    }
    assert!(counted >= 60, "{counted} probe sentences");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
