//! `veilpost scan`: the JSON interface, exit codes, text output, inputs.

use std::io::Write;
use std::process::Stdio;

use crate::hostile::minimal_pdf;
use crate::{json_lines, root, veilpost};

fn sample(name: &str) -> String {
    root().join("samples").join(name).display().to_string()
}

#[test]
fn json_schema_and_exit_code_for_a_sensitive_message() {
    let out = veilpost()
        .args(["scan", "--format", "json", &sample("verwijzing.eml")])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1);
    let r = &lines[0];
    assert_eq!(r["path"], sample("verwijzing.eml"));
    assert_eq!(r["verdict"], "sensitive");
    assert!(r["error"].is_null());
    let findings = r["findings"].as_array().expect("findings");
    assert!(!findings.is_empty());
    for f in findings {
        for key in ["kind", "location", "confidence", "excerpt"] {
            assert!(f[key].is_string(), "{key} in {f}");
        }
        let loc = f["location"].as_str().unwrap_or_default();
        assert!(
            loc == "subject" || loc == "body" || loc.starts_with("attachment/"),
            "{loc}"
        );
    }
    let kinds: Vec<&str> = findings.iter().filter_map(|f| f["kind"].as_str()).collect();
    for kind in ["bsn", "health", "date_of_birth"] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    // Excerpts are masked: the BSN in the sample never appears whole.
    assert!(!r.to_string().contains("123456782"), "{r}");
    // The attachment is found under its name.
    assert!(
        findings
            .iter()
            .any(|f| f["location"] == "attachment/medicatieoverzicht.pdf"),
        "{findings:?}"
    );
}

#[test]
fn clean_message_exits_zero() {
    let out = veilpost()
        .args(["scan", "--format", "json", &sample("nieuwsbrief.eml")])
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(json_lines(&out)[0]["verdict"], "clean");
}

#[test]
fn missing_file_is_an_error_with_exit_two() {
    let out = veilpost()
        .args([
            "scan",
            "--format",
            "json",
            "/nonexistent/x.eml",
            &sample("verwijzing.eml"),
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let lines = json_lines(&out);
    assert_eq!(lines[0]["verdict"], "error");
    assert!(lines[0]["error"].as_str().is_some_and(|e| !e.is_empty()));
    // The other input is still scanned, in order.
    assert_eq!(lines[1]["verdict"], "sensitive");
}

#[test]
fn any_file_by_content_and_stdin() {
    let dir = std::env::temp_dir().join(format!("veilpost-scan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    // A PDF without an extension, and a text file named .bin.
    std::fs::write(dir.join("zonder-extensie"), minimal_pdf("BSN 123456782")).expect("write");
    std::fs::write(dir.join("notitie.bin"), "Burgerservicenummer: 111222333").expect("write");
    let out = veilpost()
        .args(["scan", "--format", "json", &dir.display().to_string()])
        .output()
        .expect("runs");
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2, "directory walked");
    for r in &lines {
        assert_eq!(r["verdict"], "sensitive", "{r}");
        assert_eq!(r["findings"][0]["kind"], "bsn", "{r}");
    }
    let _ = std::fs::remove_dir_all(&dir);

    let mut child = veilpost()
        .args(["scan", "--format", "json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"From: a@b.nl\r\nSubject: BSN 123456782\r\n\r\nzie onderwerp\r\n")
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    let r = &json_lines(&out)[0];
    assert_eq!(r["findings"][0]["location"], "subject", "{r}");
}

#[test]
fn text_output_in_dutch_and_english() {
    let nl = veilpost()
        .args([
            "scan",
            &sample("verwijzing.eml"),
            &sample("nieuwsbrief.eml"),
        ])
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&nl.stdout);
    assert!(text.contains("✗ gevoelig"), "{text}");
    assert!(text.contains("✓ schoon"), "{text}");
    assert!(text.contains("burgerservicenummer"), "{text}");
    assert!(!text.contains("\x1b["), "no colour when not a terminal");
    let en = veilpost()
        .args(["--lang", "en", "scan", &sample("verwijzing.eml")])
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&en.stdout);
    assert!(text.contains("✗ sensitive"), "{text}");
}
