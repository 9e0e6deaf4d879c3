//! Veilpost's person recogniser beside deduce 3.0.6 (UMC Utrecht's de-identification of
//! Dutch medical text, installed by ./test.sh from PyPI; LGPL, so a separate program run
//! as a peer, never linked) on the same 344 sentences of many shapes
//! (`tests/fixtures/generate_persons.py`): Veilpost must find the person in at least as
//! many as deduce does.

use std::time::Instant;

use veilpost_dlp::detect::Engine;

use crate::fixtures;

#[test]
fn person_recall_against_deduce() {
    let path = fixtures().join("persons/sentences.tsv");
    let text = std::fs::read_to_string(&path).expect("sentences.tsv");
    let rows: Vec<(&str, &str)> = text
        .lines()
        .skip(1)
        .map(|l| l.split_once('\t').expect("two columns"))
        .collect();
    assert!(rows.len() >= 300, "{} sentences", rows.len());

    let engine = Engine::new();
    let start = Instant::now();
    let mut ours = Vec::with_capacity(rows.len());
    for _ in 0..10 {
        ours.clear();
        for (sentence, name) in &rows {
            let begin = sentence.find(name).expect("name in sentence");
            let end = begin + name.len();
            let found = engine
                .person_mentions(sentence)
                .iter()
                .any(|m| m.start < end && m.end > begin);
            ours.push(found);
        }
    }
    let our_seconds = start.elapsed().as_secs_f64() / 10.0;

    let out = std::process::Command::new("python3")
        .arg(fixtures().join("deduce_persons.py"))
        .arg(&path)
        .output()
        .expect("python3 runs (./test.sh installs deduce)");
    assert!(
        out.status.success(),
        "deduce failed (pip install deduce==3.0.6): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let peer: serde_json::Value = serde_json::from_slice(&out.stdout).expect("deduce JSON");
    let theirs: Vec<bool> = peer["found"]
        .as_array()
        .expect("found")
        .iter()
        .map(|v| v.as_bool().expect("bool"))
        .collect();
    let their_seconds = peer["seconds"].as_f64().expect("seconds");
    assert_eq!(theirs.len(), rows.len());

    let count = |v: &[bool]| v.iter().filter(|&&b| b).count();
    let (n, a, b) = (rows.len(), count(&ours), count(&theirs));
    let missed: Vec<&str> = rows
        .iter()
        .zip(&ours)
        .filter(|(_, f)| !**f)
        .map(|((s, _), _)| *s)
        .collect();
    eprintln!(
        "person recall on {n} sentences: Veilpost {a} ({:.3}) in {:.2} ms, deduce 3.0.6 {b} ({:.3}) in {:.0} ms",
        a as f64 / n as f64,
        our_seconds * 1000.0,
        b as f64 / n as f64,
        their_seconds * 1000.0
    );
    assert!(
        a >= b,
        "Veilpost found {a}, deduce {b}; missed:\n{}",
        missed.join("\n")
    );
}
