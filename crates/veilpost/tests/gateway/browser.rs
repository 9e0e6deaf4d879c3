//! The recipient's whole flow in a real headless Chromium (Debian's `chromium` and
//! `chromium-driver`, driven over WebDriver with fantoccini), against `veilpost serve` on
//! its embedded outbox delivery: a staff member submits a sensitive message with an
//! attachment over SMTP, the recipient follows the notification from the outbox page,
//! chooses SMS, reads the code from the SMS outbox, reads, downloads, replies; the sender
//! reads the reply. Also: wrong codes lock, a revoked and an expired message, and a link
//! fetched five times (a link scanner) before the recipient opens it.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};

use crate::{Gateway, PASSWORD, free_port, http_get, outbox, test_dir};

const BODY: &str = "Beste Piet,\n\nDe uitslag van uw bloedonderzoek (BSN 111222333): HbA1c 48 mmol/mol.\n\
Wij bespreken dit graag op het spreekuur.\n\nMet vriendelijke groet,\nAnn Jansen, huisarts\n";

/// chromedriver on a free port, killed on drop.
pub(crate) struct Driver {
    child: Child,
    pub(crate) port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn driver() -> Driver {
    let port = free_port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver (Debian package chromium-driver; .ci/run installs it)");
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "chromedriver did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Driver { child, port }
}

pub(crate) async fn chromium(driver: &Driver, profile: &Path, downloads: &Path) -> Client {
    let caps = serde_json::json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--lang=nl",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                "--window-size=1280,900",
                format!("--user-data-dir={}", profile.display()),
            ],
            "prefs": {
                "download.default_directory": downloads.display().to_string(),
                "download.prompt_for_download": false,
                "intl.accept_languages": "nl-NL,nl",
            },
        },
    });
    let serde_json::Value::Object(caps) = caps else {
        unreachable!("an object")
    };
    ClientBuilder::rustls()
        .expect("rustls")
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a Chromium session")
}

/// A 1×1 PNG: the organisation's logo in the tests.
const LOGO: &[u8] = b"\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\x0d\x49\x44\x41\x54\x78\xda\x63\xfc\xcf\xc0\xf0\x1f\x00\x05\x05\x02\x00\x5f\xc8\xf1\xd2\x00\x00\x00\x00\x49\x45\x4e\x44\xae\x42\x60\x82";

/// A mail's HTML part as a page, as a mail client shows it: `cid:` references replaced by
/// the inline parts they name (as data: URLs).
fn mail_as_page(raw: &[u8]) -> String {
    use base64::Engine;
    use mail_parser::MimeHeaders;
    let m = mail_parser::MessageParser::default()
        .parse(raw)
        .expect("a message");
    let mut html = m.body_html(0).expect("an HTML part").into_owned();
    for part in &m.parts {
        if let Some(cid) = part.content_id() {
            let kind = part
                .content_type()
                .map(|t| format!("{}/{}", t.ctype(), t.subtype().unwrap_or("")))
                .unwrap_or_default();
            let data = base64::engine::general_purpose::STANDARD.encode(part.contents());
            let cid = cid.trim_matches(['<', '>']);
            html = html.replace(&format!("cid:{cid}"), &format!("data:{kind};base64,{data}"));
        }
    }
    html
}

/// The first six-digit code in a mail's text.
fn six_digits(text: &str) -> String {
    text.split_whitespace()
        .find(|w| {
            w.trim_end_matches('.').len() == 6 && w.chars().take(6).all(|c| c.is_ascii_digit())
        })
        .expect("a code")
        .chars()
        .take(6)
        .collect()
}

/// Wait for a mail to `to` whose subject contains `subject`; its text.
pub(crate) async fn wait_mail(dir: &Path, to: &str, subject: &str, seen: usize) -> String {
    let start = Instant::now();
    loop {
        let found: Vec<_> = outbox(dir)
            .into_iter()
            .filter(|(_, t, s, _)| t == to && s.contains(subject))
            .collect();
        if found.len() > seen {
            let mut found = found;
            found.sort_by_key(|(p, ..)| std::fs::metadata(p).and_then(|m| m.modified()).ok());
            return found.pop().map(|(.., text)| text).unwrap_or_default();
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no mail to {to} about {subject:?} in {}",
            dir.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The first link in `text` containing `marker` (`/p/` or `/s/`), as a path.
pub(crate) fn link(text: &str, marker: &str) -> String {
    let word = text
        .split_whitespace()
        .find(|w| w.contains(marker))
        .unwrap_or_else(|| panic!("no {marker} link in {text}"));
    let at = word.find(marker).expect("marker");
    word[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "/_-".contains(*c))
        .collect()
}

/// The last SMS code in the outbox (waiting for it).
async fn last_sms_code(data: &Path) -> String {
    let start = Instant::now();
    let text = loop {
        if let Ok(t) = std::fs::read_to_string(data.join("sms-outbox.jsonl"))
            && !t.is_empty()
        {
            break t;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no SMS in the outbox"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let line = text.lines().last().expect("an SMS");
    let v: serde_json::Value = serde_json::from_str(line).expect("json");
    v["text"]
        .as_str()
        .expect("text")
        .split_whitespace()
        .next()
        .expect("code")
        .to_string()
}

/// The page's visible text; empty while a navigation replaces the page.
pub(crate) async fn body_text(c: &Client) -> String {
    match c.find(Locator::Css("body")).await {
        Ok(body) => body.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Wait until the page's text contains `needle` (a click's navigation may still be
/// under way); the text.
pub(crate) async fn wait_text(c: &Client, needle: &str) -> String {
    let start = Instant::now();
    loop {
        let text = body_text(c).await;
        if text.contains(needle) {
            crate::axe::check_page(c).await;
            return text;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "{needle:?} not in: {text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(crate) async fn find(c: &Client, css: &str) -> fantoccini::elements::Element {
    match c
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css(css))
        .await
    {
        Ok(e) => {
            crate::axe::check_page(c).await;
            e
        }
        Err(e) => panic!("{css}: {e}\n{}", body_text(c).await),
    }
}

pub(crate) async fn click(c: &Client, css: &str) {
    find(c, css)
        .await
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

pub(crate) async fn type_into(c: &Client, css: &str, text: &str) {
    find(c, css)
        .await
        .send_keys(text)
        .await
        .unwrap_or_else(|e| panic!("type into {css}: {e}"));
}

/// From the landing page of `path`: open, choose `factor`, and wait on the code page.
async fn open_with(c: &Client, base: &str, path: &str, factor: &str) {
    c.goto(&format!("{base}{path}")).await.expect("goto");
    click(c, "form[action$='/open'] button").await;
    click(c, &format!("#f-{factor}")).await;
    click(c, "form[action$='/factor'] button").await;
    find(c, "#code").await;
}

#[tokio::test]
async fn recipient_flow_in_chromium() {
    let t0 = Instant::now();
    let stage = |what: &str| eprintln!("browser test: {what} after {:?}", t0.elapsed());
    let dir = test_dir("browser");
    // The organisation's branding (keys of [organisation]).
    let logo = dir.join("logo.png");
    std::fs::write(&logo, LOGO).expect("logo");
    let mut gw = Gateway::configure(
        &dir,
        &format!(
            "logo = \"{}\"\ncolour = \"#0b6e4f\"\nphone = \"030 123 45 67\"\nwebsite = \"https://praktijk.test\"\n\
             [intake]\nmailbox = \"balie@praktijk.test\"\n",
            logo.display()
        ),
    );
    gw.add_user("ann@praktijk.test", PASSWORD, None);
    gw.start();
    let base = format!("http://127.0.0.1:{}", gw.web_port);
    let data = dir.join("data");
    let out = data.join("outbox");

    let r = gw.submit(serde_json::json!({
        "user": "ann@praktijk.test",
        "password": PASSWORD,
        "messages": [{
            "from": "ann@praktijk.test",
            "to": ["piet@example.net", "kees@example.net", "els@example.net", "jan@example.net"],
            "subject": "[sms 06-12345678] Uitslag bloedonderzoek",
            "body": BODY,
            "attachments": [{"name": "uitslag.pdf", "content_type": "application/pdf",
                             "text": "%PDF-1.4 uitslag HbA1c"}],
        }],
    }));
    assert!(r.iter().all(|x| x["ok"] == true), "{r:?}");
    let piet = link(
        &wait_mail(&out, "piet@example.net", "Beveiligd bericht", 0).await,
        "/p/",
    );
    let kees = link(
        &wait_mail(&out, "kees@example.net", "Beveiligd bericht", 0).await,
        "/p/",
    );
    let els = link(
        &wait_mail(&out, "els@example.net", "Beveiligd bericht", 0).await,
        "/p/",
    );
    let jan = link(
        &wait_mail(&out, "jan@example.net", "Beveiligd bericht", 0).await,
        "/p/",
    );
    let confirmation = wait_mail(&out, "ann@praktijk.test", "Verstuurd via", 0).await;

    stage("links");
    // A link scanner fetches Piet's link five times first: nothing is used up.
    for _ in 0..5 {
        let (status, page) = http_get(gw.web_port, &piet).await;
        assert_eq!(status, 200);
        assert!(!page.contains("111222333"));
    }

    let driver = driver();
    let profile = dir.join("profile");
    let downloads = dir.join("downloads");
    std::fs::create_dir_all(&downloads).expect("downloads");
    let c = chromium(&driver, &profile, &downloads).await;

    stage("browser up");
    // The checker itself: axe finds an image without a text alternative.
    c.goto("data:text/html,<!doctype html><html lang=en><title>t</title><main><h1>t</h1><img src=x></main></html>")
        .await
        .expect("data page");
    let found = crate::axe::axe_violations(&c).await.expect("axe ran");
    assert!(
        found.iter().any(|v| v.starts_with("image-alt")),
        "{found:?}"
    );

    // Piet's notification, opened as a mail client would (its inline logo from the
    // message itself): branded, one button to the portal, the practice's number, axe clean.
    let eml = outbox(&out)
        .into_iter()
        .find(|(_, to, ..)| to == "piet@example.net")
        .map(|(p, ..)| p)
        .expect("Piet's notification");
    let html = dir.join("notification.html");
    std::fs::write(&html, mail_as_page(&std::fs::read(&eml).expect("eml"))).expect("html");
    c.goto(&format!("file://{}", html.display()))
        .await
        .expect("mail");
    let mail = body_text(&c).await;
    for want in [
        "Huisartsenpraktijk De Linde",
        "Bericht openen",
        "030 123 45 67",
        "127.0.0.1",
    ] {
        assert!(mail.contains(want), "{want:?} in {mail}");
    }
    assert!(
        !mail.contains("111222333") && !mail.contains("Uitslag bloedonderzoek"),
        "{mail}"
    );
    let button = find(&c, "a[href*='/p/']").await;
    assert_eq!(button.text().await.expect("text").trim(), "Bericht openen");
    let shown = c
        .execute(
            "const i = document.querySelector('img'); return i !== null && i.complete && i.naturalWidth > 0;",
            vec![],
        )
        .await
        .expect("script");
    assert_eq!(shown, serde_json::Value::Bool(true), "the logo is shown");
    let found = crate::axe::wcag_violations(&c).await.expect("axe ran");
    assert!(found.is_empty(), "the notification: {found:?}");
    crate::axe::screenshot(&c, "notification", crate::axe::PHONE, &dir).await;
    // The recipient finds the notification on the outbox page and follows its link.
    c.goto(&format!("{base}/outbox")).await.expect("outbox");
    wait_text(&c, "piet@example.net").await;
    c.goto(&format!("{base}{piet}")).await.expect("landing");
    let landing = wait_text(&c, "ann@praktijk.test").await;
    crate::axe::screenshot(&c, "recipient-landing", crate::axe::PHONE, &dir).await;
    assert!(!landing.contains("111222333"), "{landing}");
    click(&c, "form[action$='/open'] button").await;
    // SMS is offered first (the number came with the subject tag), masked.
    wait_text(&c, "+316******78").await;
    crate::axe::screenshot(&c, "recipient-verify", crate::axe::PHONE, &dir).await;
    click(&c, "#f-sms").await;
    click(&c, "form[action$='/factor'] button").await;
    let code = last_sms_code(&data).await;
    // The outbox page lists the text too (a new user follows the flow on one machine).
    c.goto(&format!("{base}/outbox")).await.expect("outbox");
    wait_text(&c, &code).await;
    c.back().await.expect("back");
    type_into(&c, "#code", &code).await;
    click(&c, "form[action$='/code'] button").await;

    let message = wait_text(&c, "HbA1c 48 mmol/mol").await;
    crate::axe::screenshot(&c, "recipient-message", crate::axe::DESKTOP, &dir).await;
    assert!(message.contains("uitslag.pdf"), "{message}");
    wait_mail(&out, "ann@praktijk.test", "Gelezen", 0).await;

    stage("read");
    // Download the attachment.
    click(&c, "a[href$='/attachment/0']").await;
    let start = Instant::now();
    let pdf = downloads.join("uitslag.pdf");
    while !pdf.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no download in {}",
            downloads.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        std::fs::read_to_string(&pdf).expect("pdf"),
        "%PDF-1.4 uitslag HbA1c"
    );

    stage("downloaded");
    // Reply securely with an attachment.
    let photo = dir.join("foto.txt");
    std::fs::write(&photo, "meetwaarden thuis").expect("file");
    type_into(&c, "#text", "Dank u, ik kom dinsdag op het spreekuur.").await;
    type_into(&c, "#files", &photo.display().to_string()).await;
    click(&c, "form[action$='/reply'] button").await;
    let conversation = wait_text(&c, "beveiligd verstuurd").await;
    // The conversation: the original and the reply with its file, on one page.
    assert!(
        conversation.contains("Uw antwoorden")
            && conversation.contains("Dank u, ik kom dinsdag op het spreekuur.")
            && conversation.contains("HbA1c 48 mmol/mol"),
        "{conversation}"
    );
    find(&c, "a.button[href*='/reply/'][href$='/attachment/0']").await;

    stage("replied");
    // The sender gets the reply through the portal (an own-domain address: e-mailed code).
    let note = wait_mail(
        &out,
        "ann@praktijk.test",
        "Antwoord van piet@example.net op 'Uitslag bloedonderzoek'",
        0,
    )
    .await;
    let reply_link = link(&note, "/p/");
    c.goto(&format!("{base}{reply_link}"))
        .await
        .expect("reply landing");
    wait_text(&c, "piet@example.net").await;
    click(&c, "form[action$='/open'] button").await;
    click(&c, "#f-email").await;
    click(&c, "form[action$='/factor'] button").await;
    let code_mail = wait_mail(&out, "ann@praktijk.test", "Uw code", 0).await;
    let code = six_digits(&code_mail);
    type_into(&c, "#code", &code).await;
    click(&c, "form[action$='/code'] button").await;
    let reply = wait_text(&c, "ik kom dinsdag op het spreekuur").await;
    assert!(reply.contains("foto.txt"), "{reply}");

    stage("sender read reply");
    // Kees: five wrong access codes lock the message, and the sender is told.
    open_with(&c, &base, &kees, "access_code").await;
    for left in (1..5).rev() {
        type_into(&c, "#code", "0000 0000").await;
        click(&c, "form[action$='/code'] button").await;
        let tries = if left == 1 { "poging" } else { "pogingen" };
        wait_text(&c, &format!("Nog {left} {tries}")).await;
    }
    type_into(&c, "#code", "0000 0000").await;
    click(&c, "form[action$='/code'] button").await;
    let locked = wait_text(&c, "geblokkeerd").await;
    // Who can unlock it, and the practice's number.
    assert!(
        locked
            .contains("ann@praktijk.test van Huisartsenpraktijk De Linde, telefoon 030 123 45 67"),
        "{locked}"
    );
    wait_mail(&out, "ann@praktijk.test", "Toegang geblokkeerd", 0).await;

    stage("locked");
    // Els: the sender revokes from the status link in the confirmation.
    let els_status = {
        let at = confirmation
            .find("els@example.net")
            .expect("els in the confirmation");
        link(&confirmation[at..], "/s/")
    };
    c.goto(&format!("{base}{els_status}"))
        .await
        .expect("status");
    click(&c, "button.danger").await;
    // Asked first: the content is destroyed only on the second press.
    wait_text(&c, "De inhoud wordt vernietigd").await;
    click(&c, "button.danger").await;
    wait_text(&c, "Ingetrokken").await;
    c.goto(&format!("{base}{els}")).await.expect("els landing");
    let revoked = wait_text(&c, "ingetrokken").await;
    assert!(!revoked.contains("Bericht openen"), "{revoked}");

    stage("revoked");
    // Jan: the message has expired (its time moved back in the database).
    let db = data.join("veilpost.db");
    let py = format!(
        "import sqlite3; c = sqlite3.connect('{}'); \
         c.execute(\"UPDATE vault SET expires_at = 1 WHERE recipient = 'jan@example.net'\"); c.commit()",
        db.display()
    );
    let ok = Command::new("python3")
        .args(["-c", &py])
        .status()
        .expect("python3");
    assert!(ok.success());
    c.goto(&format!("{base}{jan}")).await.expect("jan landing");
    let expired = wait_text(&c, "verlopen").await;
    assert!(!expired.contains("Bericht openen"), "{expired}");

    // English works the whole way too.
    c.goto(&format!("{base}{jan}?lang=en"))
        .await
        .expect("english");
    wait_text(&c, "expired").await;

    stage("expired");
    // An upload request: staff ask Maria for documents; she verifies by SMS and uploads.
    let r = gw.submit(serde_json::json!({
        "user": "ann@praktijk.test",
        "password": PASSWORD,
        "messages": [{
            "from": "ann@praktijk.test",
            "to": ["maria@example.net"],
            "subject": "[upload] [sms 06-87654321] Uw medicatielijst",
            "body": "Wilt u uw medicatielijst sturen?",
        }],
    }));
    assert!(r.iter().all(|x| x["ok"] == true), "{r:?}");
    let maria = link(
        &wait_mail(&out, "maria@example.net", "Beveiligd bericht", 0).await,
        "/p/",
    );
    open_with(&c, &base, &maria, "sms").await;
    type_into(&c, "#code", &last_sms_code(&data).await).await;
    click(&c, "form[action$='/code'] button").await;
    // (In English: the language chosen above is remembered.)
    wait_text(&c, "asks you to upload documents").await;
    let list = dir.join("medicatielijst.pdf");
    std::fs::write(&list, "%PDF-1.4 medicatie").expect("file");
    type_into(&c, "#files", &list.display().to_string()).await;
    click(&c, "form[action$='/reply'] button").await;
    wait_text(&c, "sent securely").await;
    stage("upload request");
    // A patient writes in through the secure contact form.
    c.goto(&format!("{base}/contact?lang=nl"))
        .await
        .expect("contact");
    type_into(&c, "#email", "patient@example.net").await;
    click(&c, "form[action='/contact'] button").await;
    let code_mail = wait_mail(&out, "patient@example.net", "Uw code", 0).await;
    let code = six_digits(&code_mail);
    type_into(&c, "#code", &code).await;
    click(&c, "form[action$='/code'] button").await;
    type_into(&c, "#name", "P. de Vries").await;
    type_into(&c, "#text", "Hierbij mijn verwijsbrief, BSN 111222333.").await;
    // A program slipped past the picker: refused in place, the text kept, the way on clear.
    let program = dir.join("programma.exe");
    std::fs::write(&program, "MZ").expect("file");
    type_into(&c, "#files", &program.display().to_string()).await;
    click(&c, "form[action$='/send'] button").await;
    let refused = wait_text(&c, "kunnen niet mee").await;
    assert!(refused.contains("programma.exe"), "{refused}");
    let kept = find(&c, "#text")
        .await
        .prop("value")
        .await
        .expect("value")
        .unwrap_or_default();
    assert_eq!(kept, "Hierbij mijn verwijsbrief, BSN 111222333.");
    let letter = dir.join("verwijsbrief.pdf");
    std::fs::write(&letter, "%PDF-1.4 verwijsbrief").expect("file");
    type_into(&c, "#files", &letter.display().to_string()).await;
    click(&c, "form[action$='/send'] button").await;
    let sent = wait_text(&c, "beveiligd verstuurd").await;
    assert!(
        sent.contains("Wat gebeurt er nu?") && sent.contains("CF-"),
        "{sent}"
    );
    crate::axe::screenshot(&c, "contact-sent", crate::axe::PHONE, &dir).await;
    // The practice's mailbox gets a portal notification, never the content.
    let note = wait_mail(
        &out,
        "balie@praktijk.test",
        "Nieuw bericht via het contactformulier van Huisartsenpraktijk De Linde",
        0,
    )
    .await;
    assert!(
        note.contains("/p/") && !note.contains("111222333"),
        "{note}"
    );

    stage("contact form");
    let _ = c.close().await;
    // The audit log holds each step with address and outcome, and its chain is intact.
    let wanted = [
        "send.portal",
        "send.delivered",
        "code.sms",
        "code.mail",
        "login.succeeded",
        "login.failed",
        "login.locked",
        "message.viewed",
        "attachment.downloaded",
        "reply.sent",
        "message.revoked",
        "intake.sent",
    ];
    // Deliveries are audited after the outbox file is written: allow them a moment.
    let start = Instant::now();
    loop {
        let actions = crate::sql(
            &db,
            "SELECT action, COUNT(*) FROM audit WHERE outcome IS NOT NULL GROUP BY action",
        );
        let names: Vec<&str> = actions
            .as_array()
            .expect("rows")
            .iter()
            .filter_map(|r| r[0].as_str())
            .collect();
        let missing: Vec<&str> = wanted
            .iter()
            .copied()
            .filter(|w| !names.contains(w))
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{missing:?} not audited: {actions}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(gw.cli(&["audit", "verify"]).status.success());
    let _ = std::fs::remove_dir_all(&dir);
}
