//! Staff in a real headless Chromium against `veilpost serve`: a staff member signs in with
//! a password and an authenticator app (registered on the way), writes a secure message
//! with an attachment in the browser, confirms a message the double-check held for a
//! look-alike domain; an admin offboards her in the web UI, after which a real SMTP client
//! (Python's smtplib) is refused at once and mail to her address is answered with the
//! practice's general address. A second gateway forwards a leaver's mail instead.

use std::path::Path;
use std::time::{Duration, Instant};

use fantoccini::Client;

use crate::browser::{body_text, chromium, click, driver, find, type_into, wait_mail, wait_text};
use crate::{Gateway, PASSWORD, message, test_dir};

/// Sign in: password, then the app (registered when the page shows a key). Returns the
/// app's secret.
pub(crate) async fn sign_in(c: &Client, base: &str, email: &str, secret: Option<&str>) -> String {
    c.goto(&format!("{base}/login")).await.expect("goto");
    type_into(c, "#email", email).await;
    type_into(c, "#password", PASSWORD).await;
    click(c, "form[action='/login'] button").await;
    find(c, "#code").await;
    let secret = match secret {
        Some(s) => s.to_string(),
        // Shown in groups of four; the app takes it without the spaces.
        None => find(c, "#secret")
            .await
            .text()
            .await
            .expect("the key to register")
            .replace(' ', ""),
    };
    let app = totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::try_from_base32(&secret).expect("base32"))
        .with_account_name(email)
        .build()
        .expect("totp");
    let code = app.generate(veilpost_store_now()).to_string();
    type_into(c, "#code", &code).await;
    click(c, "form[action='/login/2fa'] button").await;
    wait_text(c, "Afmelden").await;
    secret
}

fn veilpost_store_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Reload `path` until its text contains `needle`.
async fn reload_until(c: &Client, base: &str, path: &str, needle: &str) -> String {
    let start = Instant::now();
    loop {
        c.goto(&format!("{base}{path}")).await.expect("goto");
        let text = body_text(c).await;
        if text.contains(needle) {
            return text;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{needle:?} never on {path}: {text}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn compose(
    c: &Client,
    base: &str,
    to: &str,
    subject: &str,
    verify: &str,
    file: Option<&Path>,
) {
    c.goto(&format!("{base}/staff/compose"))
        .await
        .expect("goto");
    type_into(c, "#to", to).await;
    type_into(c, "#subject", subject).await;
    type_into(
        c,
        "#body",
        "Beste collega,\n\nHierbij de gegevens (BSN 111222333).\n",
    )
    .await;
    click(c, &format!("#verify-{verify}")).await;
    if verify == "sms" {
        type_into(c, "#phone", "06 12345678").await;
    }
    if let Some(f) = file {
        type_into(c, "#files", &f.display().to_string()).await;
    }
    click(c, "form[action='/staff/compose'] button[type=submit]").await;
    wait_text(c, "is aangenomen").await;
}

#[tokio::test]
async fn staff_sign_in_compose_confirm_and_offboarding_in_chromium() {
    let dir = test_dir("staff-web");
    let mut gw = Gateway::configure(&dir, "[doublecheck]\nlook_alike = true\n");
    gw.add_user("ann@praktijk.test", PASSWORD, None);
    gw.add_user("bob@praktijk.test", PASSWORD, None);
    gw.add_user_with("beheer@praktijk.test", PASSWORD, &["--role", "admin"]);
    let c = gw.cli(&[
        "contact",
        "add",
        "dokter@zorggroep-oost.nl",
        "--phone",
        "0612345678",
    ]);
    assert!(c.status.success());
    gw.start();
    let base = format!("http://127.0.0.1:{}", gw.web_port);
    let out = dir.join("data").join("outbox");
    let attachment = dir.join("verwijsbrief.pdf");
    std::fs::write(&attachment, b"%PDF-1.4\n% verwijsbrief\n").expect("file");

    let d = driver();
    let profile = dir.join("profile");
    let downloads = dir.join("downloads");
    std::fs::create_dir_all(&downloads).expect("downloads");
    let c = chromium(&d, &profile, &downloads).await;

    // Ann signs in (registering her app) and writes a secure message with an attachment.
    sign_in(&c, &base, "ann@praktijk.test", None).await;
    compose(
        &c,
        &base,
        "piet@example.net",
        "Verwijzing",
        "sms",
        Some(&attachment),
    )
    .await;
    let note = wait_mail(&out, "piet@example.net", "", 0).await;
    assert!(note.contains("/p/"), "a portal notification: {note}");
    let home = reload_until(&c, &base, "/staff", "piet@example.net").await;
    assert!(home.contains("nog niet geopend"), "{home}");
    // Its subject, sealed apart from the content, names it on her page.
    assert!(home.contains("Verwijzing"), "{home}");

    // A look-alike of a contact's domain: held; Ann confirms on her page; then it goes.
    compose(
        &c,
        &base,
        "dokter@zorggroep0ost.nl",
        "Overleg",
        "code",
        None,
    )
    .await;
    let held = reload_until(&c, &base, "/staff", "lijkt op zorggroep-oost.nl").await;
    assert!(held.contains("Klopt, versturen"), "{held}");
    crate::axe::screenshot(&c, "staff-home", crate::axe::DESKTOP, &dir).await;
    assert!(
        crate::outbox(&out)
            .iter()
            .all(|(_, to, ..)| to != "dokter@zorggroep0ost.nl")
    );
    click(&c, "#held form[action$='/send'] button").await;
    wait_text(&c, "wordt nu verstuurd").await;
    wait_mail(&out, "dokter@zorggroep0ost.nl", "", 0).await;
    click(&c, "nav form[action='/logout'] button").await;
    wait_text(&c, "U bent afgemeld").await;

    // The admin offboards Ann, with Bob as successor.
    sign_in(&c, &base, "beheer@praktijk.test", None).await;
    c.goto(&format!("{base}/admin/user?email=ann%40praktijk.test"))
        .await
        .expect("goto");
    find(&c, "#successor option[value='bob@praktijk.test']")
        .await
        .click()
        .await
        .expect("choose successor");
    click(&c, "#offboard button").await;
    let text = wait_text(&c, "Het account is afgesloten").await;
    assert!(text.contains("uit dienst"), "{text}");
    // The domain's posture, with the DKIM record to publish (this test's DNS is empty, so
    // the checks fail, as they should).
    c.goto(&format!("{base}/admin/posture"))
        .await
        .expect("goto");
    let posture = wait_text(&c, "Records om te publiceren").await;
    // In plain words, the records in a box to copy from.
    assert!(
        posture.contains("praktijk.test") && posture.contains("DMARC: beleid gepubliceerd"),
        "{posture}"
    );
    assert!(posture.contains("niet in orde"), "{posture}");
    let records = find(&c, "textarea.records")
        .await
        .prop("value")
        .await
        .expect("value")
        .unwrap_or_default();
    assert!(records.contains("._domainkey.praktijk.test"), "{records}");

    // SMTP AUTH is refused right after, from a real SMTP client…
    let r = gw.submit(serde_json::json!({
        "user": "ann@praktijk.test", "password": PASSWORD,
        "messages": [message("ann@praktijk.test", &["x@example.net"], "Nog iets", "Hallo.")],
    }));
    assert_eq!(r[0]["code"], 535, "{r:?}");
    // …and mail to her address is refused, naming the general address.
    let r = gw.submit(serde_json::json!({
        "user": "bob@praktijk.test", "password": PASSWORD,
        "messages": [message("bob@praktijk.test", &["ann@praktijk.test"], "Vraag", "Hallo Ann.")],
    }));
    assert_eq!(r[0]["code"], 550, "{r:?}");
    let why = r[0]["error"].as_str().unwrap_or("");
    assert!(why.contains("info@praktijk.test"), "{why}");
    // Bob now has Ann's portal conversation with Piet on his page.
    let db = dir.join("data").join("veilpost.db");
    assert_eq!(
        crate::sql(
            &db,
            "SELECT sender FROM vault WHERE recipient = 'piet@example.net'"
        ),
        serde_json::json!([["bob@praktijk.test"]])
    );
    let actions = crate::sql(
        &db,
        "SELECT action FROM audit WHERE action IN ('staff.login', 'compose.submitted', 'doublecheck.confirmed', 'user.offboard', 'mail.refused') ORDER BY id",
    );
    for want in [
        "staff.login",
        "compose.submitted",
        "doublecheck.confirmed",
        "user.offboard",
        "mail.refused",
    ] {
        assert!(actions.to_string().contains(want), "{want} in {actions}");
    }
    let _ = c.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// A WebDriver extension command (W3C WebAuthn §11) sent to chromedriver as plain HTTP.
fn webdriver_post(port: u16, path: &str, body: &serde_json::Value) -> String {
    use std::io::{Read, Write};
    let body = body.to_string();
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("chromedriver");
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut out = String::new();
    let mut buf = [0u8; 4096];
    // Read the head and the declared body (chromedriver may keep the connection open).
    loop {
        let n = s.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        out.push_str(&String::from_utf8_lossy(&buf[..n]));
        if let Some((head, body)) = out.split_once("\r\n\r\n") {
            let len = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            if body.len() >= len {
                break;
            }
        }
    }
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    out
}

#[tokio::test]
async fn passkey_registration_and_sign_in_in_chromium() {
    let dir = test_dir("passkey");
    let mut gw = Gateway::configure(&dir, "");
    // Browsers take a domain name, not an IP address, as the passkey's relying party.
    let config = dir.join("veilpost.toml");
    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(
        &config,
        text.replace(
            "public_url = \"http://127.0.0.1:",
            "public_url = \"http://localhost:",
        ),
    )
    .expect("config");
    gw.add_user("ann@praktijk.test", PASSWORD, None);
    gw.start();
    let base = format!("http://localhost:{}", gw.web_port);
    let d = driver();
    let c = chromium(&d, &dir.join("profile"), &dir.join("downloads")).await;
    let session = c
        .session_id()
        .await
        .expect("session id")
        .expect("a session");
    webdriver_post(
        d.port,
        &format!("/session/{session}/webauthn/authenticator"),
        &serde_json::json!({
            "protocol": "ctap2", "transport": "internal", "hasResidentKey": true,
            "hasUserVerification": true, "isUserConsenting": true, "isUserVerified": true,
        }),
    );

    // First sign-in: no factor yet; Ann registers a passkey instead of an app.
    c.goto(&format!("{base}/login")).await.expect("goto");
    type_into(&c, "#email", "ann@praktijk.test").await;
    type_into(&c, "#password", PASSWORD).await;
    click(&c, "form[action='/login'] button").await;
    click(&c, "#passkey-register").await;
    wait_text(&c, "Mijn berichten").await;
    click(&c, "nav form[action='/logout'] button").await;
    wait_text(&c, "U bent afgemeld").await;

    // Next time the passkey is the second step; there is no code to type.
    type_into(&c, "#email", "ann@praktijk.test").await;
    type_into(&c, "#password", PASSWORD).await;
    click(&c, "form[action='/login'] button").await;
    find(&c, "#passkey-signin").await;
    assert!(
        c.find(fantoccini::Locator::Css("#code")).await.is_err(),
        "no TOTP form"
    );
    click(&c, "#passkey-signin").await;
    wait_text(&c, "Mijn berichten").await;

    let db = dir.join("data").join("veilpost.db");
    assert_eq!(
        crate::sql(
            &db,
            "SELECT COUNT(*) FROM staff_passkeys WHERE email = 'ann@praktijk.test'"
        ),
        serde_json::json!([[1]])
    );
    assert_eq!(
        crate::sql(
            &db,
            "SELECT action, detail FROM audit WHERE action IN ('staff.passkey.registered', 'staff.login') ORDER BY id"
        ),
        serde_json::json!([
            ["staff.passkey.registered", null],
            ["staff.login", "passkey"],
            ["staff.login", "passkey"]
        ])
    );
    let _ = c.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn sign_in_with_the_organisations_identity_provider_in_chromium() {
    use veilpost_testkit::oidc::{OidcProvider, OidcUser};
    let idp = OidcProvider::start(
        "veilpost",
        "geheim-client",
        vec![
            OidcUser {
                email: "ann@praktijk.test".into(),
                amr: vec!["pwd".into(), "mfa".into()],
                ..Default::default()
            },
            OidcUser {
                email: "bob@praktijk.test".into(),
                amr: vec!["pwd".into()],
                ..Default::default()
            },
        ],
    )
    .await;
    let dir = test_dir("oidc");
    let mut gw = Gateway::configure(
        &dir,
        &format!(
            "[oidc]\nissuer = \"{}\"\nclient_id = \"veilpost\"\nclient_secret = \"geheim-client\"\nname = \"Testprovider\"\n",
            idp.issuer
        ),
    );
    gw.add_user("ann@praktijk.test", PASSWORD, None);
    gw.add_user("bob@praktijk.test", PASSWORD, None);
    gw.start();
    let base = format!("http://127.0.0.1:{}", gw.web_port);
    let d = driver();
    let c = chromium(&d, &dir.join("profile"), &dir.join("downloads")).await;

    // Ann: the provider's page, then straight to her Veilpost page.
    c.goto(&format!("{base}/login")).await.expect("goto");
    click(&c, "#oidc").await;
    find(&c, "#user option[value='ann@praktijk.test']")
        .await
        .click()
        .await
        .expect("choose");
    click(&c, "#approve").await;
    wait_text(&c, "Mijn berichten").await;
    click(&c, "nav form[action='/logout'] button").await;
    wait_text(&c, "U bent afgemeld").await;

    // Bob signed in at the provider with a password only: Veilpost refuses.
    click(&c, "#oidc").await;
    find(&c, "#user option[value='bob@praktijk.test']")
        .await
        .click()
        .await
        .expect("choose");
    click(&c, "#approve").await;
    wait_text(&c, "niet gelukt").await;

    let db = dir.join("data").join("veilpost.db");
    assert_eq!(
        crate::sql(
            &db,
            "SELECT action, subject, detail FROM audit WHERE action IN ('staff.login', 'staff.login.failed') ORDER BY id"
        ),
        serde_json::json!([
            ["staff.login", "ann@praktijk.test", "oidc"],
            [
                "staff.login.failed",
                "bob@praktijk.test",
                "no second factor at the provider (amr)"
            ]
        ])
    );
    let _ = c.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_leavers_mail_can_go_to_the_successor() {
    let dir = test_dir("forward");
    let mut gw = Gateway::configure(&dir, "");
    gw.add_user("ann@praktijk.test", PASSWORD, None);
    gw.add_user("bob@praktijk.test", PASSWORD, None);
    gw.add_user("eva@praktijk.test", PASSWORD, None);
    gw.start();
    let done = gw.cli(&[
        "user",
        "offboard",
        "ann@praktijk.test",
        "--successor",
        "bob@praktijk.test",
    ]);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    // Refused by default; then an admin chooses forwarding on the policy page (a
    // setting the running server reads at once).
    let first = gw.submit(serde_json::json!({
        "user": "eva@praktijk.test", "password": PASSWORD,
        "messages": [message("eva@praktijk.test", &["ann@praktijk.test"], "Vraag", "Hallo.")],
    }));
    assert_eq!(first[0]["code"], 550, "{first:?}");
    let db = dir.join("data").join("veilpost.db");
    let set = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            "import sqlite3, sys\n\
             c = sqlite3.connect(sys.argv[1])\n\
             c.execute(\"INSERT INTO settings VALUES ('offboarding.answer', '\\\"forward\\\"', 0, 'beheer@praktijk.test')\")\n\
             c.commit()",
        )
        .arg(&db)
        .status()
        .expect("python3");
    assert!(set.success());
    let r = gw.submit(serde_json::json!({
        "user": "eva@praktijk.test", "password": PASSWORD,
        "messages": [message("eva@praktijk.test", &["ann@praktijk.test"], "Overdracht", "Hallo Ann.")],
    }));
    assert_eq!(r[0]["ok"], true, "{r:?}");
    // Delivered to Bob (the header still says Ann, as the writer addressed it).
    let out = dir.join("data").join("outbox");
    let text = wait_mail(&out, "ann@praktijk.test", "Overdracht", 0).await;
    assert!(text.contains("Hallo Ann."), "{text}");
    let start = Instant::now();
    loop {
        let rows = crate::sql(&db, "SELECT address, state FROM recipients");
        if rows == serde_json::json!([["bob@praktijk.test", "delivered"]]) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{rows}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        crate::sql(
            &db,
            "SELECT subject, detail FROM audit WHERE action = 'mail.forwarded'"
        ),
        serde_json::json!([["ann@praktijk.test", "bob@praktijk.test"]])
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn scopes_decide_which_addresses_an_account_may_send_as() {
    let dir = test_dir("scopes");
    let mut gw = Gateway::configure(&dir, "");
    gw.add_user_with(
        "ann@praktijk.test",
        PASSWORD,
        &["--scope", "balie@praktijk.test"],
    );
    gw.add_user_with("audit@praktijk.test", PASSWORD, &["--role", "auditor"]);
    gw.start();
    let send = |user: &str, from: &str| {
        gw.submit(serde_json::json!({
            "user": user, "password": PASSWORD,
            "messages": [message(from, &["x@example.net"], "Afspraak", "Tot dinsdag.")],
        }))[0]
            .clone()
    };
    let own = send("ann@praktijk.test", "ann@praktijk.test");
    assert_eq!(own["ok"], true, "her own address: {own}\n{}", gw.log());
    let shared = send("ann@praktijk.test", "balie@praktijk.test");
    assert_eq!(
        shared["ok"], true,
        "a shared mailbox in her scopes: {shared}"
    );
    let r = send("ann@praktijk.test", "directie@praktijk.test");
    assert_eq!(
        r["code"], 553,
        "an own-domain address outside her scopes: {r}"
    );
    let r = send("audit@praktijk.test", "audit@praktijk.test");
    assert_eq!(r["code"], 553, "an auditor sends nothing: {r}");
    let list = gw.cli(&["user", "list", "--format", "json"]);
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(
        text.contains("\"scopes\":[\"balie@praktijk.test\"]"),
        "{text}"
    );
    assert!(text.contains("\"role\":\"auditor\""), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
