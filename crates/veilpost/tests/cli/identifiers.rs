//! `veilpost scan --config FILE` with the organisation's own identifiers
//! (`[[dlp.identifiers]]`), the `rule` and `evidence` fields of every finding, and people
//! named plainly.

use crate::{json_lines, veilpost};

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("veilpost-ids-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

const CONFIG: &str = r#"
[[dlp.identifiers]]
name = "patientnummer"
pattern = '\bPAT-\d{7}\b'
confidence = "high"
sensitive_alone = true

[[dlp.identifiers]]
name = "ecd_id"
pattern = '\b\d{9}\b'
checksum = "elfproef"
keywords = ["ECD", "cliënt-id"]
confidence = "medium"
sensitive_alone = false

[[dlp.identifiers]]
name = "pasnummer"
pattern = '\b\d{16}\b'
checksum = "luhn"
"#;

#[test]
fn organisation_identifiers_from_the_config() {
    let dir = scratch("ok");
    let config = dir.join("veilpost.toml");
    std::fs::write(&config, CONFIG).expect("config");
    let files = [
        ("a.txt", "Graag terugbellen over PAT-1234567, dank je."),
        ("b.txt", "ECD 123456782 is bijgewerkt."),
        ("c.txt", "ECD 123456782: diabetes type 2, start metformine."),
        ("d.txt", "Pas 4111111111111111 geblokkeerd."),
        ("e.txt", "Pas 4111111111111112 geblokkeerd."),
    ];
    let mut args = vec![
        "scan".to_string(),
        "--format".into(),
        "json".into(),
        "--config".into(),
        config.display().to_string(),
    ];
    for (name, text) in files {
        std::fs::write(dir.join(name), text).expect("write");
        args.push(dir.join(name).display().to_string());
    }
    let out = veilpost().args(&args).output().expect("veilpost runs");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = json_lines(&out);
    let kinds = |i: usize| -> Vec<String> {
        r[i]["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .map(|f| f["kind"].as_str().expect("kind").to_string())
            .collect()
    };
    assert_eq!(r[0]["verdict"], "sensitive");
    let f = &r[0]["findings"][0];
    assert_eq!(f["kind"], "patientnummer");
    assert_eq!(f["rule"], "custom.patientnummer");
    assert_eq!(f["confidence"], "high");
    assert!(!f["excerpt"].as_str().expect("excerpt").contains("1234567"));
    // Not sensitive alone, but the person a diagnosis is about.
    assert_eq!(r[1]["verdict"], "clean", "{}", r[1]);
    assert!(kinds(1).contains(&"ecd_id".to_string()));
    let findings = r[1]["findings"].as_array().expect("findings");
    let ecd = findings
        .iter()
        .find(|f| f["kind"] == "ecd_id")
        .expect("ecd_id");
    assert_eq!(
        ecd["evidence"],
        serde_json::json!(["pattern", "checksum", "keyword"])
    );
    // The organisation says what the 9-digit number is: no longer a BSN without a label.
    let bsn = findings.iter().find(|f| f["kind"] == "bsn").expect("bsn");
    assert_eq!(
        (bsn["confidence"].as_str(), bsn["rule"].as_str()),
        (Some("low"), Some("bsn.organisation-identifier"))
    );
    assert_eq!(r[2]["verdict"], "sensitive", "{}", r[2]);
    // Luhn decides.
    assert_eq!(r[3]["verdict"], "sensitive");
    assert_eq!(r[4]["verdict"], "clean", "{}", r[4]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn invalid_identifiers_are_refused_with_the_key_named() {
    let dir = scratch("bad");
    let cases = [
        (
            "name = \"x\"\npattern = \"(open\"\n",
            "dlp.identifiers[0].pattern",
        ),
        (
            "name = \"x\"\npattern = \"a\"\nchecksum = \"crc\"\n",
            "dlp.identifiers[0].checksum",
        ),
        (
            "name = \"x\"\npattern = \"a\"\nconfidence = \"zeker\"\n",
            "dlp.identifiers[0].confidence",
        ),
        (
            "name = \"bsn\"\npattern = \"a\"\n",
            "dlp.identifiers[0].name",
        ),
        ("name = \"x\"\npattern = \"a\"\nkleur = \"rood\"\n", "kleur"),
    ];
    std::fs::write(dir.join("m.txt"), "hallo").expect("input");
    for (table, want) in cases {
        let config = dir.join("veilpost.toml");
        std::fs::write(&config, format!("[[dlp.identifiers]]\n{table}")).expect("config");
        let out = veilpost()
            .args(["scan", "--config"])
            .arg(&config)
            .arg(dir.join("m.txt"))
            .output()
            .expect("veilpost runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{table}: {err}");
        assert!(err.contains(want), "{table}: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn people_named_plainly_and_why() {
    let dir = scratch("people");
    let cases = [
        (
            "a.txt",
            "Gesprek gehad met Noor Jansen (14-02-1961) over haar COPD.",
            "sensitive",
        ),
        (
            "b.txt",
            "Bij Daan van Leeuwen is autisme vastgesteld.",
            "sensitive",
        ),
        (
            "c.txt",
            "Beste Jan,\n\nKun jij de COPD-spreekuren overnemen?\n\nGroet, Anna",
            "clean",
        ),
    ];
    let mut args = vec!["scan".to_string(), "--format".into(), "json".into()];
    for (name, text, _) in cases {
        std::fs::write(dir.join(name), text).expect("write");
        args.push(dir.join(name).display().to_string());
    }
    let out = veilpost().args(&args).output().expect("veilpost runs");
    let r = json_lines(&out);
    for (i, (_, text, want)) in cases.iter().enumerate() {
        assert_eq!(r[i]["verdict"], *want, "{text}: {}", r[i]);
    }
    let health = r[0]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["kind"] == "health")
        .expect("health finding");
    assert_eq!(health["rule"], "health.person");
    assert_eq!(
        health["evidence"],
        serde_json::json!(["name", "date_of_birth", "diagnosis"])
    );
    // Every finding carries a rule.
    for res in &r {
        for f in res["findings"].as_array().expect("findings") {
            assert!(f["rule"].as_str().is_some_and(|s| !s.is_empty()), "{f}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
