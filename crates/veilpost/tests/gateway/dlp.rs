//! The DLP in the gateway: an organisation-defined identifier (`[[dlp.identifiers]]`) and
//! a patient named plainly send the message through the portal; the audit entry of the
//! routing decision names the rule and the evidence.

use std::time::Duration;

use crate::hold::{mails_to, wait_for};
use crate::{Gateway, PASSWORD, message, test_dir};

#[tokio::test]
async fn organisation_identifiers_and_named_patients_take_the_portal() {
    let dir = test_dir("dlp");
    let mut gw = Gateway::configure(
        &dir,
        "[[dlp.identifiers]]\nname = \"patientnummer\"\npattern = '\\bPAT-\\d{7}\\b'\n",
    );
    gw.add_user("ann@praktijk.test", PASSWORD, None);
    gw.start();
    let out = dir.join("data").join("outbox");
    let r = gw.submit(serde_json::json!({
        "user": "ann@praktijk.test",
        "password": PASSWORD,
        "messages": [
            message("ann@praktijk.test", &["a@extern.test"], "Terugbellen", "Graag terugbellen over PAT-1234567."),
            message("ann@praktijk.test", &["b@extern.test"], "Gesprek", "Gesprek gehad met Noor Jansen (14-02-1961) over haar COPD."),
            message("ann@praktijk.test", &["c@extern.test"], "Rooster", "Het rooster voor volgende week staat online."),
        ],
    }));
    assert!(r.iter().all(|x| x["ok"] == true), "{r:?}");
    let a = wait_for(&out, "a@extern.test", 1).await;
    let b = wait_for(&out, "b@extern.test", 1).await;
    let c = wait_for(&out, "c@extern.test", 1).await;
    // The identifier and the patient never leave in the mail: a notification instead.
    assert!(
        a[0].contains("/p/") && !a[0].contains("PAT-1234567"),
        "{a:?}"
    );
    assert!(
        b[0].contains("/p/") && !b[0].contains("Noor Jansen"),
        "{b:?}"
    );
    assert!(c[0].contains("Het rooster"), "{c:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(mails_to(&out, "a@extern.test").len(), 1);

    let audit = crate::sql(
        &dir.join("data").join("veilpost.db"),
        "SELECT action, detail FROM audit WHERE action LIKE 'send.%' ORDER BY id",
    );
    let text = audit.to_string();
    assert!(
        text.contains("patientnummer [custom.patientnummer: pattern]"),
        "{text}"
    );
    assert!(
        text.contains("health [health.person: name+date_of_birth+diagnosis]"),
        "{text}"
    );
}
