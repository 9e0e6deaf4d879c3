//! An administrator's first run and every admin page in a real headless Chromium (axe and
//! the 360 px check on each, see `axe.rs`): the first-admin link printed at start-up,
//! "Nu aanmelden", sign-in with an authenticator app, a user added, the address book
//! refusing a bad number and a bad domain while keeping what was typed, the policy's
//! checkboxes beside their labels, the audit log, the queue, a trace and the posture page.

use fantoccini::Client;

use crate::axe::{DESKTOP, PHONE, screenshot};
use crate::browser::{chromium, click, driver, find, type_into, wait_text};
use crate::staff_web::sign_in;
use crate::{Gateway, PASSWORD, message, test_dir};

/// The value of the form field `css`.
async fn value(c: &Client, css: &str) -> String {
    find(c, css)
        .await
        .prop("value")
        .await
        .expect("value")
        .unwrap_or_default()
}

#[tokio::test]
async fn admin_first_run_and_every_admin_page_in_chromium() {
    let dir = test_dir("admin-web");
    let mut gw = Gateway::configure(&dir, "");
    gw.add_user("ann@praktijk.test", PASSWORD, None);
    gw.start();
    // Something in the queue and the trace: Ann's plain message.
    let r = gw.submit(serde_json::json!({
        "user": "ann@praktijk.test", "password": PASSWORD,
        "messages": [message("ann@praktijk.test", &["bob@partner.test"], "Overleg", "Tot morgen.")],
    }));
    assert_eq!(r[0]["ok"], true, "{r:?}");
    let base = format!("http://127.0.0.1:{}", gw.web_port);
    // With no admin yet, start-up prints the first-admin link.
    let log = gw.log();
    let at = log
        .find("/setup/")
        .unwrap_or_else(|| panic!("no setup link in {log}"));
    let setup: String = log[at..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();

    let d = driver();
    let c = chromium(&d, &dir.join("profile"), &dir.join("downloads")).await;
    c.goto(&format!("{base}{setup}")).await.expect("setup");
    type_into(&c, "#email", "beheer@praktijk.test").await;
    type_into(&c, "#password", PASSWORD).await;
    click(&c, "form button[type=submit]").await;
    wait_text(&c, "Nu aanmelden").await;
    click(&c, "a.button[href='/login']").await;
    find(&c, "form[action='/login']").await;
    sign_in(&c, &base, "beheer@praktijk.test", None).await;

    // Users: one added.
    c.goto(&format!("{base}/admin/users")).await.expect("users");
    type_into(&c, "#email", "bob@praktijk.test").await;
    type_into(&c, "#name", "Bob de Assistent").await;
    type_into(&c, "#password", PASSWORD).await;
    click(&c, "#add-user button[type=submit]").await;
    wait_text(&c, "bob@praktijk.test").await;
    c.goto(&format!("{base}/admin/user?email=bob%40praktijk.test"))
        .await
        .expect("user");
    wait_text(&c, "Status").await;
    assert_eq!(value(&c, "#name").await, "Bob de Assistent");

    // The address book: a bad number is refused and what was typed stays, tied to the
    // message; then the corrected one is saved.
    c.goto(&format!("{base}/admin/contacts"))
        .await
        .expect("contacts");
    type_into(&c, "#email", "dokter@zorggroep-oost.nl").await;
    type_into(&c, "#name", "Dr. Bakker").await;
    type_into(&c, "#phone", "12345").await;
    click(&c, "#add-contact button[type=submit]").await;
    let refused = wait_text(&c, "geen mobiel nummer").await;
    assert!(refused.contains("geen mobiel nummer"), "{refused}");
    assert_eq!(value(&c, "#email").await, "dokter@zorggroep-oost.nl");
    assert_eq!(value(&c, "#name").await, "Dr. Bakker");
    assert_eq!(
        find(&c, "#phone")
            .await
            .attr("aria-describedby")
            .await
            .expect("attr"),
        Some("contact-error".into())
    );
    let phone = find(&c, "#phone").await;
    phone.clear().await.expect("clear");
    phone.send_keys("06 12345678").await.expect("type");
    click(&c, "#add-contact button[type=submit]").await;
    wait_text(&c, "+31612345678").await;
    screenshot(&c, "admin-address-book", DESKTOP, &dir).await;
    // A partner domain that is not a domain: refused, kept.
    type_into(&c, "#domain", "zorggroep oost").await;
    type_into(&c, "#note", "afspraak 2026").await;
    click(&c, "#add-partner button[type=submit]").await;
    wait_text(&c, "geen domeinnaam").await;
    assert_eq!(value(&c, "#domain").await, "zorggroep oost");
    assert_eq!(value(&c, "#note").await, "afspraak 2026");

    // The policy: each checkbox on the line of its label.
    c.goto(&format!("{base}/admin/policy"))
        .await
        .expect("policy");
    let beside = c
        .execute(
            "return [...document.querySelectorAll('label.choice')].every(l => {
                 const box = l.querySelector('input').getBoundingClientRect();
                 const label = l.getBoundingClientRect();
                 return box.top >= label.top - 1 && box.bottom <= label.bottom + 1 && box.left - label.left < 4;
             });",
            vec![],
        )
        .await
        .expect("script");
    assert_eq!(beside, serde_json::Value::Bool(true));
    click(&c, "#doublecheck button[type=submit]").await;
    wait_text(&c, "opgeslagen").await;

    // The audit log (and one account's), the queue, a trace, the posture.
    for (path, needle) in [
        ("/admin/audit", "user.add"),
        (
            "/admin/audit?subject=bob%40praktijk.test",
            "bob@praktijk.test",
        ),
        ("/admin/queue", "Wachtrij"),
        ("/admin/quarantine", "Er staat niets in quarantaine"),
        ("/admin/posture", "praktijk.test"),
        ("/staff/compose", "Nieuw beveiligd bericht"),
    ] {
        c.goto(&format!("{base}{path}")).await.expect("goto");
        wait_text(&c, needle).await;
    }
    // Trace Ann's message: the list by sender, then the one message.
    c.goto(&format!("{base}/admin/trace?sender=ann%40praktijk.test"))
        .await
        .expect("trace");
    click(&c, "#messages a").await;
    wait_text(&c, "bob@partner.test").await;
    c.goto(&format!("{base}/staff/compose"))
        .await
        .expect("compose");
    find(&c, "#to").await;
    screenshot(&c, "compose-phone", PHONE, &dir).await;
    let _ = c.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}
