//! The labelled corpus (tests/fixtures/generate_corpus.py): recall and false-positive rate.

use std::collections::HashMap;

use crate::{fixtures, json_lines, veilpost};

#[test]
fn corpus_recall_and_false_positive_rate() {
    let dir = fixtures().join("corpus");
    let labels = std::fs::read_to_string(dir.join("labels.tsv")).expect("labels.tsv");
    let expected: HashMap<String, String> = labels
        .lines()
        .skip(1)
        .map(|l| {
            let mut cols = l.split('\t');
            let file = cols.next().expect("file").to_string();
            let label = cols.next().expect("label").to_string();
            (file, label)
        })
        .collect();
    assert!(
        expected.len() >= 150,
        "corpus has {} messages",
        expected.len()
    );

    let mut files: Vec<String> = expected
        .keys()
        .map(|f| dir.join(f).display().to_string())
        .collect();
    files.sort();
    let mut args = vec!["scan".to_string(), "--format".into(), "json".into()];
    args.extend(files);
    let out = veilpost().args(&args).output().expect("veilpost runs");
    assert_eq!(
        out.status.code(),
        Some(1),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results = json_lines(&out);
    assert_eq!(results.len(), expected.len());

    let (mut tp, mut fn_, mut fp, mut tn) = (0, 0, 0, 0);
    let mut wrong = Vec::new();
    for r in &results {
        let path = r["path"].as_str().expect("path");
        let file = path.rsplit('/').next().expect("file name");
        let verdict = r["verdict"].as_str().expect("verdict");
        match (expected[file].as_str(), verdict) {
            ("sensitive", "sensitive") => tp += 1,
            ("sensitive", _) => {
                fn_ += 1;
                wrong.push(format!("missed {file}: {r}"));
            }
            ("clean", "clean") => tn += 1,
            ("clean", _) => {
                fp += 1;
                wrong.push(format!("false alarm {file}: {r}"));
            }
            (label, _) => panic!("bad label {label}"),
        }
    }
    let recall = f64::from(tp) / f64::from(tp + fn_);
    let fpr = f64::from(fp) / f64::from(fp + tn);
    eprintln!("corpus: {tp} TP, {fn_} FN, {fp} FP, {tn} TN; recall {recall:.3}, FPR {fpr:.3}");
    assert!(recall >= 0.98, "recall {recall:.3}:\n{}", wrong.join("\n"));
    assert!(
        fpr <= 0.05,
        "false-positive rate {fpr:.3}:\n{}",
        wrong.join("\n")
    );
}

/// The committed corpus is exactly what the generator makes: no hand edits.
#[test]
fn corpus_matches_its_generator() {
    let out = std::env::temp_dir().join(format!("veilpost-corpus-{}", std::process::id()));
    let status = std::process::Command::new("python3")
        .arg(fixtures().join("generate_corpus.py"))
        .arg("--out")
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("python3 runs (installed by .ci/run)");
    assert!(status.success());
    let committed = fixtures().join("corpus");
    let mut names: Vec<_> = std::fs::read_dir(&committed)
        .expect("corpus dir")
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .collect();
    names.sort();
    for name in &names {
        let a = std::fs::read(committed.join(name)).expect("committed file");
        let b = std::fs::read(out.join(name)).unwrap_or_default();
        assert!(a == b, "{name:?} differs from the generator's output");
    }
    let generated = std::fs::read_dir(&out).expect("generated").count();
    assert_eq!(generated, names.len());
    let _ = std::fs::remove_dir_all(&out);
}
