//! Several nodes (issue 20, point 4): two `veilpost serve` on one PostgreSQL and one
//! S3-compatible store (the servers `./test.sh` starts), each with only caches in its own
//! data directory. Mail is submitted to both under load; one is killed with SIGKILL; the
//! other takes up its work when its leases run out, and every message that got 250 is
//! delivered. A staff member signed in on one node works on the other, and an account
//! disabled through one is refused by the other at its next login.

use std::path::Path;
use std::time::{Duration, Instant};

use veilpost_testkit::Sink;

use crate::browser::{body_text, chromium, driver};
use crate::staff_web::sign_in;
use crate::{Gateway, PASSWORD, message, test_dir};

const MESSAGES: usize = 240;
/// Every node's master key (from the configuration: all nodes must hold the same).
const MASTER_KEY: &str = "c2NhbGUtb3V0IHRlc3Qga2V5IG9mIDMyIGJ5dGVzISE=";
const LEASE_SECONDS: u64 = 5;

/// A node's configuration: the shared database, bucket, master key and DKIM keys.
fn node(dir: &Path, db: &str, bucket: &str, dkim: &Path, sink: &str) -> Gateway {
    Gateway::configure(
        dir,
        &format!(
            "[store]\ndatabase_url = \"{db}\"\nlease_seconds = {LEASE_SECONDS}\n\
             [blobs]\nurl = \"s3://{bucket}/veilpost\"\nendpoint = \"{s3}\"\npath_style = true\n\
             [portal]\nmaster_key = \"{MASTER_KEY}\"\n\
             [dkim]\nkey_dir = \"{dkim}\"\n\
             [delivery]\nmode = \"mx\"\nfirst_retry = 1\n[delivery.routes]\n\"*\" = \"{sink}\"\n",
            s3 = veilpost_testkit::s3::endpoint(),
            dkim = dkim.display(),
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_the_work_and_one_dying_loses_nothing() {
    let dir = test_dir("nodes");
    let db = veilpost_testkit::postgres::fresh_database("gateway_nodes");
    let bucket = veilpost_testkit::s3::fresh_bucket("gateway-nodes");
    let sink = Sink::start("127.0.0.1:0", None, vec![]).await;
    let sink_addr = sink.addr.to_string();

    // One DKIM key for both nodes, made once (as an operator would).
    let dkim = dir.join("dkim");
    crate::dkim_keygen("praktijk.test", "veilpost", &dkim);

    let a_dir = dir.join("a");
    let b_dir = dir.join("b");
    std::fs::create_dir_all(&a_dir).expect("a");
    std::fs::create_dir_all(&b_dir).expect("b");
    let mut a = node(&a_dir, &db, &bucket, &dkim, &sink_addr);
    let mut b = node(&b_dir, &db, &bucket, &dkim, &sink_addr);
    // Accounts live in the database: added through one node, known to both.
    a.add_user("ann@praktijk.test", PASSWORD, None);
    b.add_user("bob@praktijk.test", PASSWORD, None);
    a.start();
    b.start();

    // A node refuses to make a DKIM key of its own when the database is shared.
    std::fs::create_dir_all(dir.join("c")).expect("c");
    let lonely = node(
        &dir.join("c"),
        &db,
        &bucket,
        &dir.join("no-keys"),
        &sink_addr,
    );
    let out = lonely.cli(&["dkim", "show"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("dkim.key_dir"));

    // Load on both nodes at once; A dies half-way.
    let jobs = [
        crate::load_job(a.smtp_port, "a", MESSAGES / 2, 3),
        crate::load_job(b.smtp_port, "b", MESSAGES / 2, 3),
    ];
    let loads: Vec<_> = jobs
        .into_iter()
        .map(|job| std::thread::spawn(move || crate::submit(&job)))
        .collect();
    let start = Instant::now();
    while sink.messages().len() < 60 && start.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    a.kill9();
    let killed_at = Instant::now();
    let at_kill = sink.messages().len();
    let results: Vec<serde_json::Value> = loads
        .into_iter()
        .flat_map(|l| l.join().expect("load"))
        .collect();
    let accepted: Vec<String> = results
        .iter()
        .filter(|r| r["ok"] == true)
        .map(|r| r["message_id"].as_str().expect("id").to_string())
        .collect();
    assert!(
        accepted.len() > MESSAGES / 2 && accepted.len() < MESSAGES,
        "the kill should land mid-load: {} accepted, {at_kill} delivered at the kill",
        accepted.len()
    );

    // B alone delivers everything both nodes acknowledged: A's held work comes back to it
    // when A's leases run out.
    let deadline = Instant::now() + Duration::from_secs(120);
    let (missing, duplicates) = loop {
        let (missing, duplicates, delivered) = crate::missing_and_duplicates(&sink, &accepted);
        if missing.is_empty() || Instant::now() > deadline {
            eprintln!(
                "nodes test: {} accepted with 250 by two nodes, {at_kill} delivered before node A was killed, \
                 {delivered} delivered in all ({:.1} s after the kill), {duplicates} duplicate(s), {} missing",
                accepted.len(),
                killed_at.elapsed().as_secs_f64(),
                missing.len()
            );
            break (missing, duplicates);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        missing.is_empty(),
        "lost after 250: {missing:?}\n{}",
        b.log()
    );
    // A duplicate needs node A killed between a receiver's 250 and the delivery being
    // recorded: at most one per delivery A had in flight, all to one domain here
    // (delivery.destination_concurrency, 20).
    assert!(duplicates <= 20, "{duplicates} duplicates");
    // Every delivered message is signed with the one shared key (s=veilpost).
    assert!(
        sink.messages()
            .iter()
            .all(|g| String::from_utf8_lossy(&g.data).contains("s=veilpost")),
        "signed by both nodes with the shared selector"
    );
    // Nothing but caches in a node's own directory: no database file, no blobs.
    for d in [&a_dir, &b_dir] {
        assert!(!d.join("data/veilpost.db").exists());
        let blobs = std::fs::read_dir(d.join("data/blobs"))
            .map(|r| r.count())
            .unwrap_or(0);
        assert_eq!(blobs, 0, "no blobs in {}", d.display());
    }

    // A staff member signs in on A (started again) and carries on on B.
    a.start();
    // Guessing is counted over all nodes: ten wrong passwords through A, and B refuses
    // even the right one from that address.
    a.add_user("eve@praktijk.test", PASSWORD, None);
    let guesses: Vec<_> = (0..10)
        .map(|i| {
            message(
                "eve@praktijk.test",
                &["x@partner.test"],
                &format!("G{i}"),
                ".",
            )
        })
        .collect();
    let wrong = a.submit(serde_json::json!({
        "user": "eve@praktijk.test",
        "password": "niet het goede wachtwoord",
        "messages": guesses,
    }));
    assert!(wrong.iter().all(|r| r["ok"] == false), "{wrong:?}");
    let held = b.submit(serde_json::json!({
        "user": "eve@praktijk.test",
        "password": PASSWORD,
        "messages": [message("eve@praktijk.test", &["x@partner.test"], "Echt", "Hallo.")],
    }));
    assert_eq!(
        held[0]["ok"], false,
        "the lock-out holds on B too: {held:?}"
    );
    assert!(b.log().contains("refused for"), "{}", b.log());
    let d = driver();
    let c = chromium(&d, &dir.join("profile"), &dir.join("downloads")).await;
    let base_a = format!("http://127.0.0.1:{}", a.web_port);
    let base_b = format!("http://127.0.0.1:{}", b.web_port);
    sign_in(&c, &base_a, "bob@praktijk.test", None).await;
    c.goto(&format!("{base_b}/staff")).await.expect("goto");
    let page = body_text(&c).await;
    assert!(page.contains("Afmelden"), "signed in on B too: {page}");

    // Disabled through A: B refuses the next login, and the session ends there too.
    let out = a.cli(&["user", "disable", "bob@praktijk.test"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let refused = b.submit(serde_json::json!({
        "user": "bob@praktijk.test",
        "password": PASSWORD,
        "messages": [message("bob@praktijk.test", &["x@partner.test"], "Na vertrek", "Hallo.")],
    }));
    assert_eq!(refused[0]["ok"], false, "{refused:?}");
    c.goto(&format!("{base_b}/staff")).await.expect("goto");
    let page = body_text(&c).await;
    assert!(!page.contains("Afmelden"), "the session ended on B: {page}");
    c.close().await.expect("close");
    let _ = std::fs::remove_dir_all(&dir);
}
