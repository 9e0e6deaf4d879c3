//! The crash test: `kill -9` under load; after a restart every message that got 250 is
//! delivered. Duplicates (delivered, then killed before the delivery was recorded) are
//! counted and reported; they are the price of never losing one.

use std::time::{Duration, Instant};

use crate::{Gateway, PASSWORD, test_dir};
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

    let job = crate::load_job(gw.smtp_port, "crash", MESSAGES, 4);
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
        let (missing, duplicates, delivered) = crate::missing_and_duplicates(&sink, &accepted);
        if missing.is_empty() || Instant::now() > deadline {
            eprintln!(
                "crash test: {} accepted with 250, {at_kill} delivered before the kill, {delivered} delivered in all, {duplicates} duplicate(s), {} missing",
                accepted.len(),
                missing.len()
            );
            // A duplicate needs a kill between the receiver's 250 and the delivery being
            // recorded: at most one per delivery in flight, and all of this load goes to one
            // domain (delivery.destination_concurrency, 20).
            assert!(duplicates <= 20, "{duplicates} duplicates");
            break missing;
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
