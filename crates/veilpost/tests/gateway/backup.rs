//! `veilpost backup create` while the gateway runs, and `veilpost backup restore` onto a
//! fresh data directory: the restored node opens, in the portal, a message sent before
//! the backup, and the audit chain verifies; wrong passphrases and second restores are
//! refused; nothing in the backup is plaintext.

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use crate::{Gateway, PASSWORD, outbox, test_dir, veilpost};

const PASSPHRASE: &str = "lange zin voor de back-up van de praktijk";

/// `veilpost backup ARGS --config FILE` with the passphrase on stdin.
fn backup_stdin(gw: &Gateway, args: &[&str], passphrase: &str) -> std::process::Output {
    let mut child = veilpost()
        .arg("backup")
        .args(args)
        .args(["--passphrase-stdin", "--config"])
        .arg(&gw.config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("backup");
    writeln!(child.stdin.take().expect("stdin"), "{passphrase}").expect("passphrase");
    child.wait_with_output().expect("wait")
}

/// Through the portal as a recipient with the sender's access code: the message page.
fn read_in_portal(port: u16, link: &str, code: &str) -> String {
    let script = format!(
        r#"
import http.cookiejar, re, urllib.request, urllib.parse
jar = http.cookiejar.CookieJar()
o = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
base = "http://127.0.0.1:{port}/p/{link}"
def csrf(page):
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)
def post(path, fields):
    return o.open(base + path, urllib.parse.urlencode(fields).encode()).read().decode()
page = o.open(base).read().decode()
page = post("/open", {{"csrf": csrf(page)}})
page = post("/factor", {{"csrf": csrf(page), "factor": "access_code"}})
page = post("/code", {{"csrf": csrf(page), "code": "{code}"}})
print(page)
"#
    );
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(&script)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Send one sensitive message with `marker` in its body to the portal, and wait for the
/// notification and the sender's confirmation: (the portal link's token, the access code).
async fn send_to_portal(gw: &Gateway, marker: &str) -> (String, String) {
    let r = gw.submit(serde_json::json!({
        "user": "ann@praktijk.test",
        "password": PASSWORD,
        "messages": [{"from": "ann@praktijk.test", "to": ["dokter@ziekenhuis.test"],
                      "subject": "Verwijzing",
                      "body": format!("{marker} patient J. de Vries, BSN 111222333, geboren 12-03-1961, diabetes.")}],
    }));
    assert!(r.iter().all(|x| x["ok"] == true), "{r:?}");
    let out_dir = gw.dir.join("data").join("outbox");
    let start = std::time::Instant::now();
    let mails = loop {
        let mails = outbox(&out_dir);
        if mails.len() >= 2 {
            break mails;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{}", gw.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let notification = &mails
        .iter()
        .find(|m| m.1 == "dokter@ziekenhuis.test")
        .expect("notification")
        .3;
    let link: String = notification[notification.find("/p/").expect("link") + 3..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "_-".contains(*c))
        .collect();
    let code = mails
        .iter()
        .find(|m| m.1 == "ann@praktijk.test")
        .expect("confirmation")
        .3
        .lines()
        .find_map(|l| l.trim().strip_prefix("Toegangscode: "))
        .expect("access code")
        .trim()
        .to_string();
    (link, code)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_node_opens_what_was_sent_before_the_backup() {
    let dir = test_dir("backup");
    let first_dir = dir.join("first");
    std::fs::create_dir_all(&first_dir).expect("dir");
    let mut first = Gateway::configure(&first_dir, "");
    first.add_user("ann@praktijk.test", PASSWORD, None);
    first.start();
    let (link, code) = send_to_portal(&first, "MARKERBACKUP").await;

    // A short passphrase is refused; the backup is made while the gateway runs.
    let store = dir.join("store");
    let store_arg = store.to_str().expect("utf-8");
    let short = backup_stdin(&first, &["create", store_arg], "kort");
    assert_eq!(short.status.code(), Some(2), "{short:?}");
    let made = backup_stdin(&first, &["create", store_arg], PASSPHRASE);
    assert!(made.status.success(), "{made:?}");
    assert!(
        String::from_utf8_lossy(&made.stdout).contains("backup in"),
        "{made:?}"
    );
    // Nothing in it is readable without the passphrase.
    let mut files = 0;
    for entry in walk(&store) {
        let bytes = std::fs::read(&entry).expect("read");
        for secret in [
            &b"111222333"[..],
            b"MARKERBACKUP",
            b"praktijk.test",
            b"BEGIN PRIVATE KEY",
        ] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret),
                "{} holds {}",
                entry.display(),
                String::from_utf8_lossy(secret)
            );
        }
        files += 1;
    }
    assert!(
        files >= 5,
        "database, blobs, keys, manifest, header: {files}"
    );
    // A second backup into the same directory is refused.
    let again = backup_stdin(&first, &["create", store_arg], PASSPHRASE);
    assert_eq!(again.status.code(), Some(2), "{again:?}");
    first.kill9();

    // A fresh node with its own (empty) data directory.
    let second_dir = dir.join("second");
    std::fs::create_dir_all(&second_dir).expect("dir");
    let mut second = Gateway::configure(&second_dir, "");
    let wrong = backup_stdin(&second, &["restore", store_arg], "een andere lange zin");
    assert_eq!(wrong.status.code(), Some(2), "{wrong:?}");
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("wrong passphrase"),
        "{wrong:?}"
    );
    let restored = backup_stdin(&second, &["restore", store_arg], PASSPHRASE);
    assert!(restored.status.success(), "{restored:?}");
    assert!(
        String::from_utf8_lossy(&restored.stdout).contains("intact"),
        "{restored:?}"
    );
    // Restoring over it is refused: nothing is overwritten.
    let twice = backup_stdin(&second, &["restore", store_arg], PASSPHRASE);
    assert_eq!(twice.status.code(), Some(2), "{twice:?}");

    let verify = second.cli(&["audit", "verify", "--format", "json"]);
    assert!(verify.status.success(), "{verify:?}");
    let check: serde_json::Value = serde_json::from_slice(&verify.stdout).expect("json");
    assert_eq!(check["intact"], true);
    second.start();
    let page = read_in_portal(second.web_port, &link, &code);
    assert!(page.contains("MARKERBACKUP"), "{page}");
    // The account came along too.
    let r = second.submit(serde_json::json!({
        "user": "ann@praktijk.test",
        "password": PASSWORD,
        "messages": [{"from": "ann@praktijk.test", "to": ["bob@partner.test"], "subject": "Na herstel", "body": "Hallo."}],
    }));
    assert!(r.iter().all(|x| x["ok"] == true), "{r:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The same on PostgreSQL and an S3-compatible store (`pg_dump`/`pg_restore`, sealed
/// objects copied as they are): the master key is in the configuration, so a restore with
/// another key is refused before anything is written. Then a master-key rotation there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_and_s3_back_up_and_restore_too() {
    const MASTER_KEY: &str = "YmFja3VwIHRlc3Qga2V5IG9mIGV4YWN0bHkgMzIgYnk=";
    let dir = test_dir("backup-pg");
    let s3 = veilpost_testkit::s3::endpoint();
    let node = |name: &str, db: &str, bucket: &str, key: &str| {
        let d = dir.join(name);
        std::fs::create_dir_all(&d).expect("dir");
        Gateway::configure(
            &d,
            &format!(
                "[store]\ndatabase_url = \"{db}\"\n\
                 [blobs]\nurl = \"s3://{bucket}/veilpost\"\nendpoint = \"{s3}\"\npath_style = true\n\
                 [portal]\nmaster_key = \"{key}\"\n\
                 [dkim]\nkey_dir = \"{}\"\n",
                d.join("dkim").display()
            ),
        )
    };
    let first_db = veilpost_testkit::postgres::fresh_database("backup_first");
    let first_bucket = veilpost_testkit::s3::fresh_bucket("backup-first");
    let mut first = node("first", &first_db, &first_bucket, MASTER_KEY);
    crate::dkim_keygen("praktijk.test", "veilpost", &dir.join("first").join("dkim"));
    first.add_user("ann@praktijk.test", PASSWORD, None);
    first.start();
    let (link, code) = send_to_portal(&first, "MARKERPG").await;
    let store = dir.join("store");
    let store_arg = store.to_str().expect("utf-8");
    let made = backup_stdin(&first, &["create", store_arg], PASSPHRASE);
    assert!(made.status.success(), "{made:?}");
    first.kill9();

    // Another key in the configuration: refused, nothing written.
    let second_db = veilpost_testkit::postgres::fresh_database("backup_second");
    let second_bucket = veilpost_testkit::s3::fresh_bucket("backup-second");
    let other = node(
        "other",
        &second_db,
        &second_bucket,
        "b3RoZXIga2V5IG9mIGV4YWN0bHkgMzIgYnl0ZXMgISE=",
    );
    let refused = backup_stdin(&other, &["restore", store_arg], PASSPHRASE);
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("master key"),
        "{refused:?}"
    );
    let mut second = node("second", &second_db, &second_bucket, MASTER_KEY);
    let restored = backup_stdin(&second, &["restore", store_arg], PASSPHRASE);
    assert!(restored.status.success(), "{restored:?}");
    assert!(
        String::from_utf8_lossy(&restored.stdout).contains("intact"),
        "{restored:?}"
    );
    second.start();
    let page = read_in_portal(second.web_port, &link, &code);
    assert!(page.contains("MARKERPG"), "{page}");

    // Master-key rotation with the blobs in the bucket: the blob key is re-wrapped, no
    // object is touched, and the message opens under the new key; the old key no longer
    // opens the store, and says why. The database is made to look like one from before
    // blob keys were kept (none stored yet): the rotation keeps the one the bucket needs.
    second.kill9();
    veilpost_testkit::postgres::psql(&second_db, "DELETE FROM blob_keys");
    let objects = || {
        let mut names = veilpost_testkit::s3::object_names(&second_bucket);
        names.sort();
        names
    };
    let before = objects();
    let rotated = second.cli(&["master-key", "rotate", "--all-nodes-stopped"]);
    assert!(rotated.status.success(), "{rotated:?}");
    let said = String::from_utf8_lossy(&rotated.stdout).to_string();
    assert!(said.contains("blob_keys.wrapped: 1 rewrapped"), "{said}");
    assert_eq!(objects(), before, "no object is written or removed");
    let new_key = said
        .split("portal.master_key = \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the new key is printed")
        .to_string();
    let stale_dir = dir.join("stale");
    let stale = backup_stdin(
        &second,
        &["create", stale_dir.to_str().expect("utf-8")],
        PASSPHRASE,
    );
    assert_eq!(stale.status.code(), Some(2), "{stale:?}");
    assert!(
        String::from_utf8_lossy(&stale.stderr).contains("blob key"),
        "{stale:?}"
    );
    let mut rotated_node = node("second", &second_db, &second_bucket, &new_key);
    rotated_node.start();
    let page = read_in_portal(rotated_node.web_port, &link, &code);
    assert!(page.contains("MARKERPG"), "{page}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `veilpost master-key rotate` with the node stopped: every per-message key is wrapped by
/// a new master key, the old file is kept aside, and the message sent before still opens
/// in the portal; refused while the node runs; a second rotation works the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn master_key_rotation_keeps_every_message_readable() {
    let dir = test_dir("rotate");
    let mut gw = Gateway::configure(&dir, "");
    gw.add_user("ann@praktijk.test", PASSWORD, None);
    gw.start();
    let (link, code) = send_to_portal(&gw, "MARKERROTATE").await;
    let key_file = dir.join("data").join("keys").join("master.key");
    let before = std::fs::read_to_string(&key_file).expect("key");

    let busy = gw.cli(&["master-key", "rotate"]);
    assert_eq!(busy.status.code(), Some(2), "{busy:?}");
    assert_eq!(std::fs::read_to_string(&key_file).expect("key"), before);

    gw.kill9();
    for round in 0..2 {
        let current = std::fs::read_to_string(&key_file).expect("key");
        let out = gw.cli(&["master-key", "rotate"]);
        assert!(out.status.success(), "{out:?}");
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(said.contains("vault.wrapped_key: 1 rewrapped"), "{said}");
        assert!(said.contains("vault.subject_key: 1 rewrapped"), "{said}");
        let after = std::fs::read_to_string(&key_file).expect("key");
        assert_ne!(after, current, "round {round}");
        let retired = std::fs::read_dir(key_file.parent().expect("dir"))
            .expect("keys")
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("master.key.retired-")
            })
            .count();
        assert_eq!(retired, round + 1);
    }
    gw.start();
    let page = read_in_portal(gw.web_port, &link, &code);
    assert!(page.contains("MARKERROTATE"), "{page}");
    // The rotation is in the audit log, and the chain holds.
    let verify = gw.cli(&["audit", "verify", "--format", "json"]);
    assert!(verify.status.success(), "{verify:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
