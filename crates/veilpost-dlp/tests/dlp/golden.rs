//! Golden files: each `tests/fixtures/golden/NAME.eml` is scanned and its report compared
//! with `NAME.json`. Run with `UPDATE_GOLDEN=1` to rewrite the expectations, then review
//! the diff.

use serde_json::{Value, json};
use veilpost_dlp::{Report, Scanner};

use crate::fixtures;

fn to_json(report: &Report) -> Value {
    json!({
        "verdict": report.verdict.as_str(),
        "reason": report.reason(),
        "findings": report.findings.iter().map(|f| json!({
            "kind": f.kind_name(),
            "location": f.location,
            "confidence": f.confidence.as_str(),
            "excerpt": f.excerpt,
            "rule": f.rule,
            "evidence": f.evidence,
        })).collect::<Vec<_>>(),
    })
}

#[test]
fn golden_messages() {
    let dir = fixtures().join("golden");
    let scanner = Scanner::new();
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("golden dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    names.sort();
    assert!(names.len() >= 8, "{names:?}");
    let mut failures = Vec::new();
    for eml in names {
        let raw = std::fs::read(&eml).expect("read eml");
        let got = to_json(&scanner.scan_message(&raw));
        let golden = eml.with_extension("json");
        if update {
            let text = serde_json::to_string_pretty(&got).expect("json") + "\n";
            std::fs::write(&golden, text).expect("write golden");
            continue;
        }
        let want: Value = serde_json::from_str(
            &std::fs::read_to_string(&golden).unwrap_or_else(|_| panic!("missing {golden:?}")),
        )
        .expect("golden JSON");
        if got != want {
            failures.push(format!("{}:\n  want {want}\n  got  {got}", eml.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
