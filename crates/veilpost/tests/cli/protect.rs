//! `veilpost protect`: the ZIP opens with the printed password in an independent tool
//! (7-Zip from Debian's `7zip`, installed by .ci/run) and not with a wrong one; the JSON
//! shape; `--sms` through the outbox provider; no overwriting; bad input.

use std::path::Path;
use std::process::Command;

use crate::veilpost;

fn temp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("veilpost-protect-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    d
}

/// 7-Zip: `7zz` (Debian 12's 7zip package) or `7z`.
fn seven_zip() -> Command {
    for name in ["7zz", "7z"] {
        if Command::new(name).arg("i").output().is_ok() {
            return Command::new(name);
        }
    }
    panic!("7-Zip is missing: apt-get install 7zip");
}

fn extract(zip: &Path, password: &str, into: &Path) -> std::process::Output {
    seven_zip()
        .args([
            "x",
            "-y",
            &format!("-p{password}"),
            &format!("-o{}", into.display()),
        ])
        .arg(zip)
        .output()
        .expect("7-Zip runs")
}

#[test]
fn the_zip_opens_in_7zip_with_the_printed_password_only() {
    let d = temp("json");
    std::fs::write(
        d.join("verwijzing.txt"),
        "Patiënt J. de Vries, BSN 111222333",
    )
    .expect("file");
    std::fs::create_dir_all(d.join("sub")).expect("sub");
    std::fs::write(d.join("sub").join("verwijzing.txt"), "tweede").expect("file");
    let zip = d.join("uit.zip");
    let out = veilpost()
        .args(["protect", "--format", "json", "--out"])
        .arg(&zip)
        .arg(d.join("verwijzing.txt"))
        .arg(d.join("sub").join("verwijzing.txt"))
        .output()
        .expect("veilpost");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["zip"], zip.display().to_string());
    let password = v["password"].as_str().expect("password");
    assert!(password.len() >= 16, "{password}");
    let raw = std::fs::read(&zip).expect("zip");
    assert!(
        !raw.windows(9).any(|w| w == b"111222333"),
        "no plaintext in the ZIP"
    );

    // 7-Zip says AES-256, refuses a wrong password, and opens with the right one.
    let list = seven_zip()
        .args(["l", "-slt", &format!("-p{password}")])
        .arg(&zip)
        .output()
        .expect("7-Zip");
    let listing = String::from_utf8_lossy(&list.stdout);
    assert!(listing.contains("AES-256"), "{listing}");
    let wrong = extract(&zip, "verkeerd-wachtwoord", &d.join("wrong"));
    assert!(!wrong.status.success(), "a wrong password opens nothing");
    let right = extract(&zip, password, &d.join("right"));
    assert!(
        right.status.success(),
        "{}",
        String::from_utf8_lossy(&right.stdout)
    );
    assert_eq!(
        std::fs::read_to_string(d.join("right").join("verwijzing.txt")).expect("first"),
        "Patiënt J. de Vries, BSN 111222333"
    );
    assert_eq!(
        std::fs::read_to_string(d.join("right").join("verwijzing (2).txt")).expect("second"),
        "tweede"
    );

    // Never over an existing file.
    let again = veilpost()
        .args(["protect", "--out"])
        .arg(&zip)
        .arg(d.join("verwijzing.txt"))
        .output()
        .expect("veilpost");
    assert_eq!(again.status.code(), Some(2));
    assert_eq!(
        std::fs::read(&zip).expect("zip"),
        raw,
        "the first ZIP is untouched"
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn the_password_goes_by_sms_and_text_output_is_dutch() {
    let d = temp("sms");
    std::fs::write(d.join("uitslag.pdf"), b"%PDF-1.4 uitslag").expect("file");
    let config = d.join("veilpost.toml");
    std::fs::write(
        &config,
        format!("data_dir = \"{}\"\n", d.join("data").display()),
    )
    .expect("config");
    let out = veilpost()
        .current_dir(&d)
        .args(["protect", "--sms", "06-1234 5678", "--config"])
        .arg(&config)
        .arg("uitslag.pdf")
        .output()
        .expect("veilpost");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Versleuteld (AES-256): uitslag-beveiligd.zip"),
        "{text}"
    );
    assert!(text.contains("+316******78"), "{text}");
    let password = text
        .lines()
        .find_map(|l| l.strip_prefix("Wachtwoord: "))
        .expect("the password line");
    let sms = std::fs::read_to_string(d.join("data").join("sms-outbox.jsonl")).expect("sms outbox");
    let line: serde_json::Value =
        serde_json::from_str(sms.lines().last().expect("a text")).expect("json");
    assert_eq!(line["to"], "+31612345678");
    assert!(line["text"].as_str().expect("text").contains(password));
    assert!(
        extract(&d.join("uitslag-beveiligd.zip"), password, &d.join("x"))
            .status
            .success()
    );

    // Bad input: a clear error, exit 2, nothing made.
    let bad = veilpost()
        .current_dir(&d)
        .args(["protect", "--sms", "12345", "uitslag.pdf"])
        .output()
        .expect("veilpost");
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("mobiel nummer"));
    let missing = veilpost()
        .current_dir(&d)
        .args(["protect", "--out", "y.zip", "bestaat-niet.pdf"])
        .output()
        .expect("veilpost");
    assert_eq!(missing.status.code(), Some(2));
    assert!(!d.join("y.zip").exists());
    let _ = std::fs::remove_dir_all(&d);
}
