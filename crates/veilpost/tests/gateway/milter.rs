//! Veilpost beside a real Postfix (issue 18, points 1 and 7). Postfix (Debian's, a private
//! instance on loopback) is the organisation's mail server: it asks Veilpost's milter
//! about every message from outside before it takes it, delivers the organisation's mail
//! to a sink standing for the mailboxes, and sends staff mail out through Veilpost as its
//! relayhost. The in-process DNS server answers SPF and DMARC.
//!
//! Shown: genuine partner mail reaches the mailbox with Veilpost's Authentication-Results
//! (the forged one with our authserv-id gone) and verdict; a look-alike arrives with the
//! warning above the message; a `p=reject` forgery gets Veilpost's 5xx from Postfix at the
//! end of DATA; a `p=quarantine` forgery is taken, kept by Veilpost (not by Postfix) and
//! reaches the mailbox only when released; staff mail to the outside goes through
//! Veilpost's outbound route; with Veilpost down Postfix defers (its default) and the
//! mail arrives once Veilpost is back.

use std::time::Duration;

use veilpost_testkit::postfix::{Options, Postfix};
use veilpost_testkit::sink::Sink;

use crate::inbound::{know_the_partner, release_quarantine, send_plain, senders_dns, wait_held};
use crate::{Gateway, free_port, message, test_dir};

fn port_of(addr: &str) -> u16 {
    addr.rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .expect("port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postfix_asks_veilpost_before_it_takes_mail_and_relays_staff_mail_through_it() {
    let dir = test_dir("milter");
    let mailboxes = Sink::start("127.0.0.1:0", None, vec![]).await;
    let outside = Sink::start("127.0.0.1:0", None, vec![]).await;
    let dns = senders_dns().await;
    let milter = format!("127.0.0.1:{}", free_port());
    let mut gw = Gateway::configure_smtp(
        &dir,
        // Postfix relays staff mail from loopback without logging in.
        "trusted_networks = [\"127.0.0.1/32\"]",
        &format!(
            "[milter]\nlisten = \"{milter}\"\n\
             [delivery]\nmode = \"mx\"\n[delivery.routes]\n\"*\" = \"{}\"\n\
             [inbound]\nrelay_to = \"{}\"\n\
             [dns]\nnameservers = [\"{}\"]\n",
            outside.addr,
            mailboxes.addr,
            dns.addr()
        ),
    );
    know_the_partner(&gw);
    gw.start();
    let postfix = Postfix::start(
        &dir.join("postfix"),
        &Options {
            domain: "praktijk.test".into(),
            deliver_to: mailboxes.addr.to_string(),
            relayhost: Some(format!("127.0.0.1:{}", gw.smtp_port)),
            milter: Some(milter.clone()),
            milter_default_action: "tempfail".into(),
        },
    );
    let send_to = send_plain;
    let mx = port_of(&postfix.addr);

    // Genuine partner mail, with a forged result claiming to be ours.
    let mut genuine = message(
        "secretariaat@partner.test",
        &["ann@praktijk.test"],
        "Verwijzing",
        "Hierbij de verwijzing.",
    );
    genuine["headers"] = serde_json::json!({
        "Authentication-Results": "gw.praktijk.test; dmarc=pass header.from=umc.test",
    });
    let r = send_to(mx, genuine);
    assert_eq!(r["code"], 250, "{r}\n{}\n{}", postfix.log(), gw.log());
    let got = mailboxes.wait_for(1, Duration::from_secs(30)).await;
    assert_eq!(got.len(), 1, "{}\n{}", postfix.log(), gw.log());
    let text = got[0].text();
    let head = &text[..text.find("\r\n\r\n").expect("head")];
    assert!(
        head.contains("Authentication-Results: gw.praktijk.test")
            && head.contains("spf=pass")
            && head.contains("X-Veilpost-Verdict: "),
        "{head}"
    );
    assert!(
        !head.contains("header.from=umc.test"),
        "forged A-R kept: {head}"
    );
    // Postfix's own Received stays; the message reads whole, note above it.
    assert!(head.contains("by mail.praktijk.test (Postfix)"), "{head}");
    let parsed = mail_parser::MessageParser::default()
        .parse(&got[0].data)
        .expect("parses");
    let shown: String = (0..4)
        .filter_map(|i| parsed.body_text(i))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(shown.contains("Hierbij de verwijzing."), "{shown}");

    // The look-alike passes its own SPF, yet arrives with the warning on top.
    let r = send_to(
        mx,
        message(
            "facturen@partnar.test",
            &["ann@praktijk.test"],
            "Factuur 2026-114",
            "Graag vandaag betalen.",
        ),
    );
    assert_eq!(r["code"], 250, "{r}");
    let got = mailboxes.wait_for(2, Duration::from_secs(30)).await;
    assert_eq!(got.len(), 2, "{}", postfix.log());
    assert!(
        got[1]
            .text()
            .contains("X-Veilpost-Verdict: tag; lookalike.sender"),
        "{}",
        got[1].text()
    );
    let parsed = mail_parser::MessageParser::default()
        .parse(&got[1].data)
        .expect("parses");
    let shown = parsed.body_text(0).expect("the warning");
    assert!(
        shown.contains("partnar.test lijkt op partner.test, maar is het niet"),
        "{shown}"
    );
    let original: String = (1..4)
        .filter_map(|i| parsed.body_text(i))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(original.contains("Graag vandaag betalen."), "{original}");

    // A forgery of a p=reject domain: Veilpost's refusal, from Postfix.
    let r = send_to(
        mx,
        message(
            "facturen@umc.test",
            &["ann@praktijk.test"],
            "Openstaande factuur",
            "Betaal vandaag.",
        ),
    );
    assert_eq!(r["code"], 550, "{r}");
    assert!(
        r["error"].as_str().unwrap_or("").contains("dmarc.reject"),
        "{r}"
    );

    // A p=quarantine forgery: taken, kept by Veilpost, not in Postfix's queue.
    let r = send_to(
        mx,
        message(
            "uitslagen@lab.test",
            &["ann@praktijk.test"],
            "Uw uitslag",
            "Klik hier.",
        ),
    );
    assert_eq!(r["code"], 250, "{r}");
    let db = dir.join("data").join("veilpost.db");
    wait_held(&db, &["uitslagen@lab.test"], || gw.log()).await;
    assert_eq!(postfix.queued(), 0, "{}", postfix.log());
    assert_eq!(mailboxes.messages().len(), 2);

    // Staff mail to the outside: Postfix relays it to Veilpost, which sends it on.
    let r = send_to(
        port_of(&postfix.submission),
        message(
            "ann@praktijk.test",
            &["iemand@elders.test"],
            "Afspraak",
            "Tot dinsdag.",
        ),
    );
    assert_eq!(r["code"], 250, "{r}");
    let out = outside.wait_for(1, Duration::from_secs(60)).await;
    assert_eq!(out.len(), 1, "{}\n{}", postfix.log(), gw.log());
    assert_eq!(out[0].rcpt_to, ["iemand@elders.test"]);
    assert!(out[0].text().contains("Tot dinsdag."));

    // Released by an administrator: Veilpost takes it to the mail server.
    release_quarantine(&db);
    let got = mailboxes.wait_for(3, Duration::from_secs(30)).await;
    assert_eq!(got.len(), 3, "{}", gw.log());
    assert!(
        got[2]
            .text()
            .contains("X-Veilpost-Verdict: quarantine; dmarc.quarantine"),
        "{}",
        got[2].text()
    );

    // A DMARC report to the report address: read and counted by the milter, and on to the
    // mailbox as Postfix delivers it.
    let xml = crate::reports::dmarc_xml(
        "partner.test",
        "p-1",
        "praktijk.test",
        &[("192.0.2.1", 40, true, true)],
    );
    let raw = crate::reports::report_mail(
        "dmarc@partner.test",
        "dmarc-rua@praktijk.test",
        "Report domain: praktijk.test Submitter: partner.test",
        (
            "application/xml",
            "partner.test!praktijk.test.xml",
            xml.into_bytes(),
        ),
    );
    let r = send_to(
        mx,
        serde_json::json!({"from": "dmarc@partner.test", "to": ["dmarc-rua@praktijk.test"], "raw": raw}),
    );
    assert_eq!(r["code"], 250, "{r}");
    let got = mailboxes.wait_for(4, Duration::from_secs(30)).await;
    assert_eq!(got.len(), 4, "{}", gw.log());
    assert_eq!(
        crate::sql(&db, "SELECT reporter, report_id, via FROM auth_reports"),
        serde_json::json!([["partner.test", "p-1", "milter"]]),
        "{}",
        gw.log()
    );

    // Veilpost down: Postfix says "try again later" (milter_default_action = tempfail),
    // nothing gets in unchecked.
    gw.kill9();
    let r = send_to(
        mx,
        message(
            "secretariaat@partner.test",
            &["ann@praktijk.test"],
            "Nog een",
            "Tweede bericht.",
        ),
    );
    assert_eq!(r["code"], 451, "{r}");
    assert_eq!(mailboxes.messages().len(), 4);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The milter driven by `miltertest` (Debian's, from OpenDKIM: an independent milter
/// client, scripted in Lua): each answer and edit as the protocol names them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn miltertest_sees_edits_a_reply_code_and_a_discard() {
    let dir = test_dir("miltertest");
    let sink = Sink::start("127.0.0.1:0", None, vec![]).await;
    let dns = senders_dns().await;
    let port = free_port();
    let mut gw = Gateway::configure(
        &dir,
        &format!(
            "[milter]\nlisten = \"127.0.0.1:{port}\"\n\
             [inbound]\nrelay_to = \"{}\"\n\
             [dns]\nnameservers = [\"{}\"]\n",
            sink.addr,
            dns.addr()
        ),
    );
    gw.start();
    // One message per connection: (sender, subject, what must be true at its end).
    let script = format!(
        r#"
function message(from, subject, extra)
  local conn = mt.connect("inet:{port}@127.0.0.1", 40, 0.25)
  if conn == nil then error("no connection") end
  if mt.conninfo(conn, "mail.sender.test", "127.0.0.1") ~= nil then error("conninfo") end
  if mt.getreply(conn) ~= SMFIR_CONTINUE then error("connect reply") end
  if mt.helo(conn, "mail.sender.test") ~= nil then error("helo") end
  if mt.mailfrom(conn, "<" .. from .. ">") ~= nil then error("mail") end
  if mt.rcptto(conn, "<ann@praktijk.test>") ~= nil then error("rcpt") end
  mt.header(conn, "From", from)
  mt.header(conn, "To", "ann@praktijk.test")
  mt.header(conn, "Subject", subject)
  if extra then mt.header(conn, "Authentication-Results", extra) end
  mt.eoh(conn)
  mt.bodystring(conn, "Hallo,\r\n\r\nZie bijlage.\r\n")
  if mt.eom(conn) ~= nil then error("eom") end
  return conn
end

-- A first message from the partner, with a forged result in our name.
local c = message("secretariaat@partner.test", "Verwijzing", "gw.praktijk.test; dmarc=pass")
if mt.getreply(c) ~= SMFIR_CONTINUE then error("partner: not continued") end
if not mt.eom_check(c, MT_HDRINSERT, "X-Veilpost-Verdict") then error("partner: no verdict header") end
if not mt.eom_check(c, MT_HDRCHANGE, "Authentication-Results") then error("partner: forged A-R kept") end
if not mt.eom_check(c, MT_BODYCHANGE) then error("partner: no first-time note") end
mt.echo("verdict: " .. mt.getheader(c, "X-Veilpost-Verdict", 0))
mt.disconnect(c)

-- A forgery of a p=reject domain: refused with our reply code.
c = message("facturen@umc.test", "Factuur", nil)
if mt.getreply(c) ~= SMFIR_REPLYCODE then error("umc: not refused") end
if not mt.eom_check(c, MT_SMTPREPLY, "550", "5.7.1",
    "Message refused (dmarc.reject): the sender's domain does not vouch for it") then
  error("umc: wrong reply")
end
mt.disconnect(c)

-- A p=quarantine forgery: Veilpost keeps it, Postfix is told to drop its copy.
c = message("uitslagen@lab.test", "Uw uitslag", nil)
if mt.getreply(c) ~= SMFIR_DISCARD then error("lab: not discarded") end
mt.disconnect(c)
mt.echo("all good")
"#
    );
    let path = dir.join("milter.lua");
    std::fs::write(&path, script).expect("script");
    let out = std::process::Command::new("miltertest")
        .arg("-s")
        .arg(&path)
        .output()
        .expect("miltertest (Debian package miltertest; .ci/run installs it)");
    let said = format!(
        "{}: {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.contains("all good"),
        "{said}\n{}",
        gw.log()
    );
    assert!(said.contains("verdict: "), "{said}");
    // The discarded one waits in Veilpost's quarantine.
    let db = dir.join("data").join("veilpost.db");
    wait_held(&db, &["uitslagen@lab.test"], || gw.log()).await;
    assert!(sink.messages().is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}
