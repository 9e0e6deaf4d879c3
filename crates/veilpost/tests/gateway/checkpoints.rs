//! The audit chain anchored outside the database: whoever can write the database can
//! rewrite an entry and recompute every hash after it, and `audit verify` alone then says
//! "intact"; the checkpoints the gateway signed with a key outside the database do not
//! match the rewritten chain, and `audit verify --checkpoints` says where. Entries and
//! checkpoints also reach a syslog receiver (RFC 5424 over UDP), in order.

use std::time::Duration;

use crate::{Gateway, PASSWORD, message, outbox, test_dir};

/// Rewrite entry `entry`'s detail in the SQLite database and recompute the chain from
/// there, as an attacker with write access to the database would (the append-only
/// triggers dropped for the while and put back).
const REWRITE: &str = r#"
import json, hashlib, sqlite3, sys
db, entry = sys.argv[1], int(sys.argv[2])
c = sqlite3.connect(db)
triggers = c.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit'").fetchall()
for name, _ in triggers:
    c.execute(f'DROP TRIGGER "{name}"')
rows = c.execute("SELECT id, at, actor, action, subject, detail, ip, outcome, prev_hash FROM audit WHERE id >= ? ORDER BY id", (entry,)).fetchall()
prev = rows[0][8]
for (id, at, actor, action, subject, detail, ip, outcome, _) in rows:
    if id == entry:
        detail = "nothing happened here"
    fields = [prev, id, at, actor, action, subject, detail]
    if ip is not None or outcome is not None:
        fields += [ip, outcome]
    h = hashlib.sha256(json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()
    c.execute("UPDATE audit SET detail = ?, prev_hash = ?, hash = ? WHERE id = ?", (detail, prev, h, id))
    prev = h
for _, sql in triggers:
    c.execute(sql)
c.commit()
"#;

fn verify(gw: &Gateway, extra: &[&str]) -> (Option<i32>, serde_json::Value) {
    let mut args = vec!["audit", "verify", "--format", "json"];
    args.extend_from_slice(extra);
    let out = gw.cli(&args);
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    (out.status.code(), json)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rewritten_chain_does_not_match_the_signed_checkpoints() {
    let dir = test_dir("checkpoints");
    let mut gw = Gateway::configure(&dir, "");
    gw.add_user("ann@praktijk.test", PASSWORD, None);
    gw.start();
    let r = gw.submit(serde_json::json!({
        "user": "ann@praktijk.test",
        "password": PASSWORD,
        "messages": [
            message("ann@praktijk.test", &["bob@partner.test"], "Planning", "Donderdag."),
            message("ann@praktijk.test", &["carla@partner.test"], "Rooster", "Vrijdag."),
        ],
    }));
    assert!(r.iter().all(|x| x["ok"] == true), "{r:?}");
    let start = std::time::Instant::now();
    while outbox(&dir.join("data").join("outbox")).len() < 2 {
        assert!(start.elapsed() < Duration::from_secs(30), "{}", gw.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    // A checkpoint is made at start: the restart signs the grown chain.
    gw.kill9();
    gw.start();
    let file = dir.join("data").join("audit-checkpoints.jsonl");
    let start = std::time::Instant::now();
    while std::fs::read_to_string(&file).map_or(0, |t| t.lines().count()) < 2 {
        assert!(start.elapsed() < Duration::from_secs(10), "{}", gw.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    gw.kill9();
    // The checkpoint is in the log too (for the SIEM).
    assert!(gw.log().contains("audit checkpoint"), "{}", gw.log());

    let file_arg = file.to_str().expect("utf-8");
    let (code, before) = verify(&gw, &["--checkpoints", file_arg]);
    assert_eq!(code, Some(0), "{before}");
    assert_eq!(before["intact"], true);
    assert_eq!(before["checkpoints"]["matched"], 2, "{before}");
    let entries = before["entries"].as_i64().expect("entries");
    assert!(entries >= 4, "{before}");

    // Rewrite the second entry and every hash after it.
    let db = dir.join("data").join("veilpost.db");
    let out = std::process::Command::new("python3")
        .args(["-c", REWRITE])
        .arg(&db)
        .arg("2")
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The chain alone cannot tell…
    let (code, alone) = verify(&gw, &[]);
    assert_eq!(
        (code, &alone["intact"]),
        (Some(0), &serde_json::json!(true)),
        "{alone}"
    );
    assert_ne!(alone["last_hash"], before["last_hash"]);
    // …the checkpoints can.
    let (code, anchored) = verify(&gw, &["--checkpoints", file_arg]);
    assert_eq!(code, Some(1), "{anchored}");
    assert_eq!(anchored["intact"], false);
    let at = anchored["checkpoints"]["rewritten_at_or_before"]
        .as_i64()
        .expect("where");
    assert!(at >= 2, "{anchored}");
    let text = gw.cli(&["audit", "verify", "--checkpoints", file_arg]);
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("herschreven"),
        "{text:?}"
    );

    // A checkpoint nobody signed (written to fit the rewritten chain) is named, not believed.
    let forged = serde_json::json!({
        "entry": entries,
        "hash": alone["last_hash"],
        "at": 1_800_000_000,
        "signature": "AAAA",
    });
    std::fs::write(dir.join("forged.jsonl"), format!("{forged}\n")).expect("write");
    let (code, report) = verify(
        &gw,
        &[
            "--checkpoints",
            dir.join("forged.jsonl").to_str().expect("utf-8"),
        ],
    );
    assert_eq!(code, Some(1), "{report}");
    assert_eq!(
        report["checkpoints"]["unsigned"],
        serde_json::json!([entries])
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_entries_and_checkpoints_reach_syslog_in_order() {
    let dir = test_dir("syslog");
    let collector = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = collector.local_addr().expect("addr").port();
    let mut gw = Gateway::configure(
        &dir,
        &format!("[audit]\nsyslog = \"udp://127.0.0.1:{port}\"\n"),
    );
    gw.add_user("ann@praktijk.test", PASSWORD, None);
    gw.start();
    let r = gw.submit(serde_json::json!({
        "user": "ann@praktijk.test",
        "password": PASSWORD,
        "messages": [message("ann@praktijk.test", &["bob@partner.test"], "MARKERSYSLOG", "Donderdag.")],
    }));
    assert!(r.iter().all(|x| x["ok"] == true), "{r:?}");

    let mut got: Vec<String> = Vec::new();
    let mut buf = vec![0u8; 65536];
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !got.iter().any(|m| m.contains(" send.delivered ")) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let n = tokio::time::timeout(left, collector.recv(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("syslog got {got:#?}\n{}", gw.log()))
            .expect("recv");
        got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    for m in &got {
        assert!(m.starts_with("<86>1 "), "{m}");
        assert!(m.contains(" gw.praktijk.test veilpost "), "{m}");
        assert!(
            !m.contains("MARKERSYSLOG") && !m.contains("Donderdag"),
            "{m}"
        );
    }
    // The checkpoint made at start, signed.
    assert!(
        got.iter()
            .any(|m| m.contains(" checkpoint [audit@32473 entry=\"") && m.contains("signature=\"")),
        "{got:#?}"
    );
    // Entries in order, one after the other, each with its hash.
    let ids: Vec<i64> = got
        .iter()
        .filter(|m| !m.contains(" checkpoint "))
        .map(|m| {
            assert!(m.contains(" hash=\""), "{m}");
            let start = m.find("[audit@32473 id=\"").expect("id") + "[audit@32473 id=\"".len();
            m[start..]
                .split('"')
                .next()
                .expect("id")
                .parse()
                .expect("number")
        })
        .collect();
    assert!(!ids.is_empty());
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "{ids:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
