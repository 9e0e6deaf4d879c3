//! `log.format = "json"`: every line the server writes is one JSON object (the banner too),
//! a message's lines carry its queue id, Message-ID and the remote address as fields, and
//! nothing secret reaches the log: a message full of markers goes through every route
//! (plain, portal, encrypted ZIP with the password by SMS), a login fails with a marked
//! password, and neither the markers nor the links, codes and passwords Veilpost made
//! for it appear.

use std::time::Duration;

use crate::{Gateway, PASSWORD, outbox, test_dir};

const LIST: &str = "naam;geboortedatum;bsn\nMARKERNAAM Jansen;01-02-1960;111222333\n";

/// The log's lines, each parsed; a line that is not one JSON object fails the test.
fn lines(log: &str) -> Vec<serde_json::Value> {
    log.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}"));
            assert!(v.is_object(), "{l}");
            v
        })
        .collect()
}

/// Words in `text` that unlock something: the path segment after `/p/` or `/s/`, and
/// every run of 6 or more digits or of 12 or more letters and digits.
fn secrets_in(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_')) {
        let digits = word.len() >= 6 && word.chars().all(|c| c.is_ascii_digit());
        let mixed = word.len() >= 12
            && word.chars().any(|c| c.is_ascii_digit())
            && word.chars().any(|c| c.is_ascii_alphabetic());
        if digits || mixed {
            out.push(word.to_string());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_lines_name_the_message_and_never_its_secrets() {
    let dir = test_dir("logs");
    let mut gw = Gateway::configure(&dir, "[log]\nformat = \"json\"\n");
    gw.add_user("ann@praktijk.test", PASSWORD, None);
    gw.start();
    let attachment =
        serde_json::json!([{"name": "MARKERFILE.csv", "content_type": "text/csv", "text": LIST}]);
    let r = gw.submit(serde_json::json!({
        "user": "ann@praktijk.test",
        "password": PASSWORD,
        "messages": [
            {"from": "ann@praktijk.test", "to": ["bob@partner.test"], "message_id": "<plain-1@client.test>",
             "subject": "MARKERSUBJECTPLAIN rooster", "body": "MARKERBODYPLAIN de planning."},
            {"from": "ann@praktijk.test", "to": ["dokter@ziekenhuis.test"], "message_id": "<portal-1@client.test>",
             "subject": "MARKERSUBJECTPORTAL verwijzing",
             "body": "Patient MARKERNAAM Jansen, BSN 111222333, geboren 12-03-1961, diabetes. MARKERBODYPORTAL"},
            {"from": "ann@praktijk.test", "to": ["zorg@partner.test"], "message_id": "<zip-1@client.test>",
             "subject": "[zip] [sms 06-12345678] MARKERSUBJECTZIP", "body": "MARKERBODYZIP zie bijlage.",
             "attachments": attachment},
        ],
    }));
    assert!(r.iter().all(|x| x["ok"] == true), "{r:?}");
    // A wrong password: refused, and the password never written down.
    let refused = gw.submit(serde_json::json!({
        "user": "ann@praktijk.test",
        "password": "MARKERPASSWORDWRONG",
        "messages": [{"from": "ann@praktijk.test", "to": ["x@partner.test"], "subject": "x", "body": "x"}],
    }));
    assert!(refused.iter().all(|x| x["ok"] == false), "{refused:?}");

    // The plain message, the portal notification and the sender's confirmation, the
    // encrypted message and its confirmation.
    let out = dir.join("data").join("outbox");
    let start = std::time::Instant::now();
    let mails = loop {
        let mails = outbox(&out);
        if mails.len() >= 5 {
            break mails;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{}", gw.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(mails.len(), 5, "{mails:#?}");
    // Let the delivery records and their lines be written.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let log = gw.log();
    let parsed = lines(&log);

    // The banner is JSON too.
    assert!(
        parsed.iter().any(|l| l["message"]
            .as_str()
            .is_some_and(|m| m.contains("is running"))),
        "{log}"
    );

    // What Veilpost made: links, access codes, the ZIP password by SMS.
    let mut secrets: Vec<String> = Vec::new();
    for (_, _, _, text) in &mails {
        secrets.extend(secrets_in(text));
    }
    let sms = std::fs::read_to_string(dir.join("data").join("sms-outbox.jsonl")).expect("sms");
    for line in sms.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("sms json");
        secrets.extend(secrets_in(v["text"].as_str().expect("text")));
    }
    assert!(
        secrets
            .iter()
            .any(|s| s.chars().all(|c| c.is_ascii_digit()) || s.len() >= 12),
        "found nothing to look for: {mails:#?}"
    );
    let markers = [
        "MARKERSUBJECTPLAIN",
        "MARKERBODYPLAIN",
        "MARKERSUBJECTPORTAL",
        "MARKERBODYPORTAL",
        "MARKERSUBJECTZIP",
        "MARKERBODYZIP",
        "MARKERFILE",
        "MARKERNAAM",
        "MARKERPASSWORDWRONG",
        "111222333",
        "12-03-1961",
        "diabetes",
        PASSWORD,
    ];
    for m in markers.iter().map(|s| s.to_string()).chain(secrets) {
        assert!(!log.contains(&m), "{m} is in the log:\n{log}");
    }

    // Every line of a message's life names it: accepted (with the remote address),
    // processed, delivered (the portal's copy stays in the vault; a notification of its
    // own goes out).
    for (mid, life) in [
        ("<plain-1@client.test>", &["processed", "delivered"][..]),
        ("<portal-1@client.test>", &["processed"][..]),
        ("<zip-1@client.test>", &["processed", "delivered"][..]),
    ] {
        let accepted = parsed
            .iter()
            .find(|l| l["message"] == "accepted" && l["message_id"] == mid)
            .unwrap_or_else(|| panic!("no accepted line for {mid}: {log}"));
        assert!(
            accepted["remote"]
                .as_str()
                .is_some_and(|r| r.starts_with("127.0.0.1:")),
            "{accepted}"
        );
        let queue_id = accepted["queue_id"].as_str().expect("queue_id");
        let of_it: Vec<&serde_json::Value> = parsed
            .iter()
            .filter(|l| l["queue_id"] == queue_id)
            .collect();
        assert!(
            of_it.iter().all(|l| l["message_id"] == mid),
            "{queue_id}: {of_it:#?}"
        );
        for word in life {
            assert!(
                of_it.iter().any(|l| l["message"] == *word),
                "{mid} has no {word} line: {of_it:#?}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
