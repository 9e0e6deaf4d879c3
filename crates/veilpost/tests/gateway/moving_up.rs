//! `veilpost migrate` (issue 20, point 5): a running single node's store (SQLite and the
//! blob directory) copied into PostgreSQL and an S3-compatible store while it runs, again
//! after it stops (resuming), verified by counts and the audit chain; a node on the new
//! store then has the accounts, the audit log and the portal messages (their blobs moved
//! and renamed), and goes on delivering.

use std::time::{Duration, Instant};

use veilpost_store::vault::MasterKey;
use veilpost_store::{Blobs, Clock, Database, ObjectBlobs, S3Options, Store};
use veilpost_testkit::Sink;

use crate::{Gateway, PASSWORD, message, test_dir};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_node_moves_up_to_postgresql_and_s3() {
    let dir = test_dir("moving-up");
    let db = veilpost_testkit::postgres::fresh_database("moving_up");
    let bucket = veilpost_testkit::s3::fresh_bucket("moving-up");
    let s3 = veilpost_testkit::s3::endpoint();
    let sink = Sink::start("127.0.0.1:0", None, vec![]).await;
    let delivery = format!(
        "[delivery]\nmode = \"mx\"\nfirst_retry = 1\n[delivery.routes]\n\"*\" = \"{}\"\n",
        sink.addr
    );
    let mut gw = Gateway::configure(
        &dir,
        &format!("[blobs]\nendpoint = \"{s3}\"\npath_style = true\n{delivery}"),
    );
    gw.add_user("ann@praktijk.test", PASSWORD, None);
    gw.add_user_with("beheer@praktijk.test", PASSWORD, &["--role", "admin"]);
    assert!(
        gw.cli(&[
            "contact",
            "add",
            "Piet@Extern.test",
            "--phone",
            "0612345678"
        ])
        .status
        .success()
    );
    gw.start();
    let sent = gw.submit(serde_json::json!({
        "user": "ann@praktijk.test",
        "password": PASSWORD,
        "messages": [
            message("ann@praktijk.test", &["piet@extern.test"], "[veilig] Uitslag", "De uitslag is goed."),
            message("ann@praktijk.test", &["jan@extern.test"], "Afspraak", "Tot dinsdag."),
        ],
    }));
    assert!(sent.iter().all(|r| r["ok"] == true), "{sent:?}");
    let start = Instant::now();
    while sink.messages().len() < 2 && start.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The plain one and the portal's notice (and whatever else that brings) are out.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = sink.messages().len();
    assert!(before >= 2, "delivered and the portal notice: {before}");

    // While the node runs: most of the copying.
    let bucket_url = format!("s3://{bucket}/veilpost");
    let migrate = |gw: &Gateway| gw.cli(&["migrate", "--to", &db, "--blobs", &bucket_url]);
    let first = migrate(&gw);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&first.stdout),
        String::from_utf8_lossy(&first.stderr)
    );
    // Then stopped, and again: it resumes (no blob copied twice) and verifies.
    gw.kill9();
    let again = migrate(&gw);
    let text = String::from_utf8_lossy(&again.stdout);
    assert_eq!(
        again.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert!(
        text.contains("blobs: 0 gekopieerd") || text.contains("blobs: 0 copied"),
        "{text}"
    );
    assert!(text.contains("audit:"), "{text}");

    // The moved store: accounts, audit, and the portal message readable with the same key.
    let key_text = std::fs::read_to_string(dir.join("data/keys/master.key")).expect("key");
    let key = MasterKey::from_base64(&key_text).expect("master key");
    let moved = Store::connect(
        &dir.join("node-b"),
        &Database::Postgres(db.clone()),
        Clock::system(),
    )
    .await
    .expect("connect");
    let blob_key = moved.blob_key(&key).await.expect("the blob key");
    let moved = moved.with_blobs(Blobs::Object(
        ObjectBlobs::s3(
            &S3Options {
                url: bucket_url.clone(),
                endpoint: s3.clone(),
                region: "us-east-1".into(),
                path_style: true,
            },
            blob_key,
        )
        .expect("bucket"),
    ));
    assert_eq!(moved.list_users().await.expect("users").len(), 2);
    assert!(moved.verify_audit().await.expect("audit").broken.is_none());
    let vault = moved.sent_by("ann@praktijk.test", 10).await.expect("sent");
    assert_eq!(vault.len(), 1);
    let entry = moved
        .portal_by_id(&vault[0].id)
        .await
        .expect("entry")
        .expect("the portal message");
    let sealed = moved
        .blobs()
        .read(&entry.blob)
        .await
        .expect("the moved blob");
    let plain = key
        .open(&entry.id, &entry.wrapped_key, &sealed)
        .expect("opens with the same master key");
    assert!(String::from_utf8_lossy(&plain).contains("De uitslag is goed"));
    assert_eq!(
        moved
            .contact_phone("piet@extern.test")
            .await
            .expect("contact")
            .as_deref(),
        Some("+31612345678")
    );

    // A node on the new store goes on: it delivers for the same accounts.
    let node = dir.join("node");
    std::fs::create_dir_all(&node).expect("node");
    let mut next = Gateway::configure(
        &node,
        &format!(
            "[store]\ndatabase_url = \"{db}\"\n\
             [blobs]\nurl = \"{bucket_url}\"\nendpoint = \"{s3}\"\npath_style = true\n\
             [portal]\nmaster_key = \"{}\"\n[dkim]\nkey_dir = \"{}\"\n{delivery}",
            key_text.trim(),
            dir.join("data/dkim").display(),
        ),
    );
    next.start();
    let sent = next.submit(serde_json::json!({
        "user": "ann@praktijk.test",
        "password": PASSWORD,
        "messages": [message("ann@praktijk.test", &["jan@extern.test"], "Na de verhuizing", "Hallo.")],
    }));
    assert_eq!(sent[0]["ok"], true, "{sent:?}");
    let start = Instant::now();
    while sink.messages().len() <= before && start.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        sink.messages()
            .iter()
            .any(|g| g.text().contains("Na de verhuizing")),
        "{}",
        next.log()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
