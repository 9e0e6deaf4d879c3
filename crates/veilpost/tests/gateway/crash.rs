//! The crash test: `kill -9` under load; after a restart every message that got 250 is
//! delivered. Duplicates (delivered, then killed before the delivery was recorded) are
//! counted and reported; they are the price of never losing one.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::{Gateway, PASSWORD, message, test_dir};
use veilpost_testkit::Sink;

const MESSAGES: usize = 300;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_nothing() {
    let dir = test_dir("crash");
    let sink = Sink::start("127.0.0.1:0", None, vec![]).await;
    let mut gw = Gateway::configure(
        &dir,
        &format!(
            "[delivery]\nmode = \"mx\"\nfirst_retry = 1\n[delivery.routes]\n\"*\" = \"{}\"\n",
            sink.addr
        ),
    );
    gw.add_user("ann@praktijk.test", PASSWORD, None);
    gw.start();

    let messages: Vec<_> = (0..MESSAGES)
        .map(|i| {
            let mut m = message(
                "ann@praktijk.test",
                &[&format!("r{}@partner.test", i % 7)],
                &format!("Bericht {i}"),
                &format!(
                    "Dit is bericht nummer {i}.\n{}",
                    "Gewone tekst. ".repeat(40)
                ),
            );
            m["message_id"] = format!("<crash-{i}@client.test>").into();
            m
        })
        .collect();
    let job = serde_json::json!({
        "port": gw.smtp_port,
        "user": "ann@praktijk.test",
        "password": PASSWORD,
        "connections": 4,
        "messages": messages,
    });
    let load = std::thread::spawn(move || crate::submit(&job));

    // Kill once delivery is well under way, with submissions still coming in.
    let start = Instant::now();
    while sink.messages().len() < 100 && start.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    gw.kill9();
    let at_kill = sink.messages().len();
    let results = load.join().expect("load");
    assert_eq!(results.len(), MESSAGES);
    let accepted: Vec<String> = results
        .iter()
        .filter(|r| r["ok"] == true)
        .map(|r| r["message_id"].as_str().expect("id").to_string())
        .collect();
    assert!(
        accepted.len() >= at_kill && accepted.len() < MESSAGES,
        "the kill should land mid-load: {} accepted, {at_kill} delivered at the kill",
        accepted.len()
    );

    gw.start();
    let deadline = Instant::now() + Duration::from_secs(120);
    let missing = loop {
        let mut seen: HashMap<String, usize> = HashMap::new();
        for g in sink.messages() {
            *seen.entry(g.message_id().unwrap_or_default()).or_default() += 1;
        }
        let missing: Vec<&String> = accepted
            .iter()
            .filter(|id| !seen.contains_key(*id))
            .collect();
        if missing.is_empty() || Instant::now() > deadline {
            let duplicates: usize = seen.values().map(|n| n - 1).sum();
            eprintln!(
                "crash test: {} accepted with 250, {at_kill} delivered before the kill, {} delivered in all, {duplicates} duplicate(s), {} missing",
                accepted.len(),
                seen.len(),
                missing.len()
            );
            // A duplicate needs a kill between the receiver's 250 and the delivery being
            // recorded: at most one per delivery worker.
            assert!(duplicates <= 16, "{duplicates} duplicates");
            break missing.into_iter().cloned().collect::<Vec<_>>();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        missing.is_empty(),
        "lost after 250: {missing:?}\n{}",
        gw.log()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
