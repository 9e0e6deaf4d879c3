//! The encrypted-attachment route end to end: a message whose only sensitive content is
//! its attachment reaches the receiving server (a Rust SMTP sink) with one AES-256 ZIP
//! instead, the password is in the SMS outbox and opens the ZIP in 7-Zip, the sender is
//! told which number got it; a message whose text is sensitive too goes to the portal;
//! a partner domain in `policy.zip_domains` gets the route without the tag.

use std::process::Command;
use std::time::Duration;

use veilpost_testkit::{Sink, self_signed};

use crate::{Gateway, PASSWORD, test_dir};

fn seven_zip() -> Command {
    for name in ["7zz", "7z"] {
        if Command::new(name).arg("i").output().is_ok() {
            return Command::new(name);
        }
    }
    panic!("7-Zip is missing: apt-get install 7zip");
}

const LIST: &str =
    "naam;geboortedatum;bsn\nJan Jansen;01-02-1960;111222333\nPiet de Vries;03-04-1970;123456782\n";

#[tokio::test]
async fn attachments_travel_as_an_aes_zip_with_the_password_by_sms() {
    let dir = test_dir("zip");
    let sink = Sink::start("127.0.0.1:0", Some(self_signed(&["sink.test"])), vec![]).await;
    let mut gw = Gateway::configure(
        &dir,
        &format!(
            "[delivery]\nmode = \"mx\"\n[delivery.routes]\n\"*\" = \"{}\"\n\
             [policy]\nzip_domains = [\"lab.test\"]\n",
            sink.addr
        ),
    );
    gw.add_user("ann@praktijk.test", PASSWORD, None);
    let contact = gw.cli(&[
        "contact",
        "add",
        "uitslagen@lab.test",
        "--phone",
        "+31687654321",
    ]);
    assert!(contact.status.success());
    gw.start();
    let attachment = serde_json::json!([{"name": "clientenlijst.csv", "content_type": "text/csv", "text": LIST}]);
    let r = gw.submit(serde_json::json!({
        "user": "ann@praktijk.test",
        "password": PASSWORD,
        "messages": [
            {"from": "ann@praktijk.test", "to": ["zorg@partner.test"],
             "subject": "[zip] [sms 06-12345678] Overdracht", "body": "Zie de bijlage.",
             "attachments": attachment},
            {"from": "ann@praktijk.test", "to": ["uitslagen@lab.test"],
             "subject": "Aanvraag", "body": "Graag verwerken.", "attachments": attachment},
            {"from": "ann@praktijk.test", "to": ["buren@extern.test"],
             "subject": "[zip] [sms 0611112222] Verwijzing",
             "body": "Patiënt J. Jansen, BSN 111222333, heeft diabetes.",
             "attachments": attachment},
        ],
    }));
    assert!(r.iter().all(|x| x["ok"] == true), "{r:?}");
    // Two encrypted messages and a confirmation for each, a portal notification and its
    // confirmation.
    let got = sink.wait_for(6, Duration::from_secs(30)).await;
    assert_eq!(got.len(), 6, "{}", gw.log());
    let texts = std::fs::read_to_string(dir.join("data").join("sms-outbox.jsonl")).expect("sms");
    let texts: Vec<serde_json::Value> = texts
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();

    for (to, phone) in [
        ("zorg@partner.test", "+31612345678"),
        ("uitslagen@lab.test", "+31687654321"),
    ] {
        let m = got.iter().find(|g| g.rcpt_to == [to]).expect("delivered");
        let raw = String::from_utf8_lossy(&m.data);
        assert!(
            !raw.contains("111222333") && !raw.contains("Jan Jansen"),
            "plaintext reached {to}"
        );
        assert!(
            !raw.contains("[zip]") && !raw.contains("[sms"),
            "tags removed"
        );
        let parsed = mail_parser::MessageParser::default()
            .parse(&m.data)
            .expect("mail");
        assert!(
            parsed
                .body_text(0)
                .is_some_and(|t| t.contains("Zie de bijlage") || t.contains("Graag verwerken"))
        );
        assert_eq!(parsed.attachment_count(), 1);
        let zip = parsed.attachment(0).expect("zip");
        let path = dir.join(format!("{to}.zip"));
        std::fs::write(&path, zip.contents()).expect("write zip");
        let sms = texts
            .iter()
            .find(|t| t["to"] == phone)
            .expect("an SMS to the recipient");
        let password = sms["text"]
            .as_str()
            .expect("text")
            .split(": ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .expect("password in the SMS")
            .to_string();
        let wrong = seven_zip()
            .args(["x", "-y", "-pverkeerd"])
            .arg(format!("-o{}", dir.join("wrong").display()))
            .arg(&path)
            .output()
            .expect("7z");
        assert!(!wrong.status.success());
        let into = dir.join(format!("{to}-open"));
        let ok = seven_zip()
            .args(["x", "-y", &format!("-p{password}")])
            .arg(format!("-o{}", into.display()))
            .arg(&path)
            .output()
            .expect("7z");
        assert!(
            ok.status.success(),
            "{}",
            String::from_utf8_lossy(&ok.stdout)
        );
        assert_eq!(
            std::fs::read_to_string(into.join("clientenlijst.csv")).expect("csv"),
            LIST
        );
    }

    // Sensitive text too: the portal, no SMS with a password, no ZIP.
    let portal = got
        .iter()
        .find(|g| g.rcpt_to == ["buren@extern.test"])
        .expect("notification");
    assert!(portal.text().contains("/p/") && !portal.text().contains("111222333"));
    assert!(
        !texts.iter().any(|t| t["to"] == "+31611112222"),
        "{texts:?}"
    );

    // The sender is told which numbers got the passwords.
    let told: String = got
        .iter()
        .filter(|g| g.rcpt_to == ["ann@praktijk.test"])
        .filter_map(|g| {
            let m = mail_parser::MessageParser::default().parse(&g.data)?;
            Some(m.body_text(0)?.into_owned())
        })
        .filter(|t| t.contains("versleuteld"))
        .collect();
    assert!(
        told.contains("zorg@partner.test: wachtwoord per sms naar +316******78"),
        "{told}"
    );
    assert!(
        told.contains("uitslagen@lab.test: wachtwoord per sms naar +316******21"),
        "{told}"
    );
    let audit = crate::sql(
        &dir.join("data").join("veilpost.db"),
        "SELECT COUNT(*) FROM audit WHERE action = 'send.encrypted-attachment'",
    );
    assert_eq!(audit, serde_json::json!([[2]]));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn between_colleagues_sensitive_attachments_become_a_link() {
    let dir = test_dir("internal");
    let mut gw = Gateway::configure(&dir, "");
    gw.add_user("ann@praktijk.test", PASSWORD, None);
    gw.start();
    let attachment = serde_json::json!([{"name": "clientenlijst.csv", "content_type": "text/csv", "text": LIST}]);
    let harmless = serde_json::json!([{"name": "rooster.txt", "content_type": "text/plain", "text": "Maandag: Ann\nDinsdag: Bob\n"}]);
    let r = gw.submit(serde_json::json!({
        "user": "ann@praktijk.test",
        "password": PASSWORD,
        "messages": [
            {"from": "ann@praktijk.test", "to": ["bob@praktijk.test"], "subject": "Lijst",
             "body": "Hierbij de lijst voor morgen.", "attachments": attachment},
            {"from": "ann@praktijk.test", "to": ["carla@praktijk.test"], "subject": "Rooster",
             "body": "Het rooster.", "attachments": harmless},
        ],
    }));
    assert!(r.iter().all(|x| x["ok"] == true), "{r:?}");
    let out = dir.join("data").join("outbox");
    let start = std::time::Instant::now();
    let (bob, carla) = loop {
        let mails = crate::outbox(&out);
        let bob = mails
            .iter()
            .find(|(_, to, ..)| to == "bob@praktijk.test")
            .cloned();
        let carla = mails
            .iter()
            .find(|(_, to, ..)| to == "carla@praktijk.test")
            .cloned();
        if let (Some(b), Some(c)) = (bob, carla) {
            break (b, c);
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{}", gw.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Bob gets the text and a link; the list stays in the vault.
    let raw = String::from_utf8_lossy(&std::fs::read(&bob.0).expect("mail")).into_owned();
    assert!(
        !raw.contains("111222333") && !raw.contains("Jan Jansen"),
        "{raw}"
    );
    assert!(bob.3.contains("Hierbij de lijst voor morgen.") && bob.3.contains("clientenlijst.csv"));
    let link = bob
        .3
        .split_whitespace()
        .find(|w| w.contains("/p/"))
        .expect("a link")
        .to_string();
    let path = &link[link.find("/p/").expect("path")..];
    let (status, page) = crate::http_get(gw.web_port, path).await;
    assert_eq!(status, 200, "{page}");
    // Carla's harmless attachment travels as it is.
    let parsed = mail_parser::MessageParser::default()
        .parse(&std::fs::read(&carla.0).expect("mail"))
        .expect("parse")
        .attachment_count();
    assert_eq!(parsed, 1);
    let _ = std::fs::remove_dir_all(&dir);
}
