//! The CLI on PostgreSQL (`store.database_url`, issue 20): accounts, the audit log and
//! reports land in the database the configuration names, and a URL that is none is
//! refused with the key named.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use crate::veilpost;

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("veilpost-engines-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// `veilpost ARGS` with the store in `url` (through the environment, as an operator's
/// unit file would set it) and `stdin` as input.
fn run(dir: &Path, url: &str, args: &[&str], stdin: &str) -> Output {
    let mut child = veilpost()
        .args(args)
        .env("VEILPOST_DATA_DIR", dir.join("data"))
        .env("VEILPOST_STORE_DATABASE_URL", url)
        .env("VEILPOST_ORGANISATION_DOMAINS", "praktijk.test")
        .env_remove("VEILPOST_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("veilpost");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("output")
}

#[test]
fn the_cli_keeps_its_data_in_postgresql() {
    let dir = temp("pg");
    let url = veilpost_testkit::postgres::fresh_database("cli_engines");
    let out = run(
        &dir,
        &url,
        &[
            "user",
            "add",
            "ann@praktijk.test",
            "--role",
            "admin",
            "--password-stdin",
        ],
        "een lang genoeg wachtwoord\n",
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&dir, &url, &["user", "list", "--format", "json"], "");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("ann@praktijk.test"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // Nothing of it in an SQLite file: the data directory holds blobs and keys only.
    assert!(!dir.join("data/veilpost.db").exists());
    let out = run(&dir, &url, &["audit", "verify"], "");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let begin = (crate::now_secs() / 86_400 - 2) * 86_400;
    let report = format!(
        "<feedback><report_metadata><org_name>google.com</org_name><email>noreply-dmarc-support@google.com</email>\
         <report_id>pg-1</report_id><date_range><begin>{begin}</begin><end>{}</end></date_range></report_metadata>\
         <policy_published><domain>praktijk.test</domain><p>none</p></policy_published>\
         <record><row><source_ip>192.0.2.1</source_ip><count>40</count><policy_evaluated><disposition>none</disposition>\
         <dkim>pass</dkim><spf>pass</spf></policy_evaluated></row><identifiers><header_from>praktijk.test</header_from></identifiers>\
         <auth_results><dkim><domain>praktijk.test</domain><result>pass</result></dkim><spf><domain>praktijk.test</domain><result>pass</result></spf></auth_results></record>\
         </feedback>",
        begin + 86_399
    );
    std::fs::write(dir.join("r.xml"), report).expect("report");
    let path = dir.join("r.xml");
    let path = path.to_str().expect("path");
    for _ in 0..2 {
        let out = run(&dir, &url, &["report", "import", path], "");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = run(
        &dir,
        &url,
        &["report", "summary", "praktijk.test", "--format", "json"],
        "",
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(summary["messages"], 40, "counted once: {summary}");
    assert_eq!(summary["ready_for_reject"], true);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_database_url_that_is_none_is_refused() {
    let dir = temp("bad-url");
    for url in ["mysql://x@localhost/veilpost", "/var/lib/veilpost.db"] {
        let out = run(&dir, url, &["user", "list"], "");
        assert!(matches!(out.status.code(), Some(c) if c != 0), "{url}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("store.database_url"), "{url}: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
