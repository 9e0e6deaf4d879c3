//! The double-check end to end: a look-alike of a contact's domain holds the message, the
//! sender gets a confirm/cancel link, nothing reaches the recipient until "send"; "cancel"
//! sends nothing; a confirmed address is known from then on.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::{Gateway, PASSWORD, message, test_dir};

/// The outbox mails to `to`: subject and text.
pub(crate) fn mails_to(out: &Path, to: &str) -> Vec<String> {
    crate::outbox(out)
        .into_iter()
        .filter(|(_, t, ..)| t == to)
        .map(|(_, _, subject, text)| format!("{subject}\n{text}"))
        .collect()
}

pub(crate) async fn wait_for(out: &Path, to: &str, n: usize) -> Vec<String> {
    let start = Instant::now();
    loop {
        let found = mails_to(out, to);
        if found.len() >= n {
            return found;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{n} mails to {to}: {found:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Open `url`, then submit its form whose action ends in `action`, as a browser would
/// (cookies kept, the CSRF field sent back).
fn press(url: &str, action: &str) -> String {
    let script = r#"
import http.cookiejar, re, sys, urllib.parse, urllib.request
url, action = sys.argv[1], sys.argv[2]
op = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
page = op.open(url).read().decode()
csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', page).group(1)
base = url.split('/h/')[0]
path = re.search(r'action="(/h/[^"]*' + re.escape(action) + ')"', page).group(1)
print(op.open(base + path, urllib.parse.urlencode({'csrf': csrf}).encode()).read().decode())
"#;
    let out = Command::new("python3")
        .args(["-c", script, url, action])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn link(text: &str) -> String {
    text.split_whitespace()
        .find(|w| w.contains("/h/"))
        .expect("a confirm link")
        .trim_end_matches(['.', ')'])
        .to_string()
}

#[tokio::test]
async fn a_look_alike_domain_waits_for_the_sender() {
    let dir = test_dir("hold");
    let mut gw = Gateway::configure(&dir, "");
    gw.add_user("ann@praktijk.test", PASSWORD, None);
    let c = gw.cli(&[
        "contact",
        "add",
        "dokter@zorggroep-oost.nl",
        "--phone",
        "0612345678",
    ]);
    assert!(c.status.success());
    gw.start();
    let out = dir.join("data").join("outbox");
    let send = |to: &str, subject: &str| {
        let r = gw.submit(serde_json::json!({
            "user": "ann@praktijk.test",
            "password": PASSWORD,
            "messages": [message("ann@praktijk.test", &[to], subject, "Het overleg is dinsdag.")],
        }));
        assert!(r.iter().all(|x| x["ok"] == true), "{r:?}");
    };

    // To the real contact: goes at once.
    send("dokter@zorggroep-oost.nl", "Overleg");
    wait_for(&out, "dokter@zorggroep-oost.nl", 1).await;

    // To a look-alike: held; the sender is asked.
    send("dokter@zorggroep0ost.nl", "Overleg");
    let asked = wait_for(&out, "ann@praktijk.test", 1).await;
    assert!(asked[0].contains("lijkt op zorggroep-oost.nl"), "{asked:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        mails_to(&out, "dokter@zorggroep0ost.nl").is_empty(),
        "held, not sent"
    );
    let page = press(&link(&asked[0]), "/send");
    assert!(page.contains("wordt verstuurd"), "{page}");
    wait_for(&out, "dokter@zorggroep0ost.nl", 1).await;

    // Confirmed once, the address is known: the next message goes without asking.
    send("dokter@zorggroep0ost.nl", "Nog iets");
    wait_for(&out, "dokter@zorggroep0ost.nl", 2).await;
    assert_eq!(mails_to(&out, "ann@praktijk.test").len(), 1);

    // Another look-alike, cancelled: nothing goes.
    send("dokter@zorggroep-oost.com", "Overleg");
    let asked = wait_for(&out, "ann@praktijk.test", 2).await;
    let notice = asked
        .iter()
        .find(|t| t.contains("zorggroep-oost.com"))
        .expect("second notice");
    let page = press(&link(notice), "/cancel");
    assert!(page.contains("geannuleerd"), "{page}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(mails_to(&out, "dokter@zorggroep-oost.com").is_empty());

    let actions = crate::sql(
        &dir.join("data").join("veilpost.db"),
        "SELECT action FROM audit WHERE action LIKE 'doublecheck.%' ORDER BY id",
    );
    assert_eq!(
        actions,
        serde_json::json!([
            ["doublecheck.held"],
            ["doublecheck.confirmed"],
            ["doublecheck.held"],
            ["doublecheck.cancelled"]
        ])
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn offboarding_closes_the_account_cancels_held_mail_and_hands_over_conversations() {
    let dir = test_dir("offboard");
    let mut gw = Gateway::configure(&dir, "");
    gw.add_user("ann@praktijk.test", PASSWORD, None);
    gw.add_user("bob@praktijk.test", PASSWORD, None);
    let c = gw.cli(&[
        "contact",
        "add",
        "dokter@zorggroep-oost.nl",
        "--phone",
        "0612345678",
    ]);
    assert!(c.status.success());
    gw.start();
    let out = dir.join("data").join("outbox");
    let r = gw.submit(serde_json::json!({
        "user": "ann@praktijk.test",
        "password": PASSWORD,
        "messages": [
            message("ann@praktijk.test", &["dokter@zorggroep0ost.nl"], "Overleg", "Dinsdag."),
            message("ann@praktijk.test", &["piet@example.net"], "[veilig] Uitslag", "Uw uitslag is goed."),
        ],
    }));
    assert!(r.iter().all(|x| x["ok"] == true), "{r:?}");
    wait_for(&out, "ann@praktijk.test", 1).await;
    wait_for(&out, "piet@example.net", 1).await;

    let bad = gw.cli(&[
        "user",
        "offboard",
        "ann@praktijk.test",
        "--successor",
        "niemand@praktijk.test",
    ]);
    assert_eq!(
        bad.status.code(),
        Some(2),
        "an unknown successor is refused"
    );
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
    let text = String::from_utf8_lossy(&done.stdout);
    assert!(
        text.contains("1 vastgehouden berichten geannuleerd")
            && text.contains("1 portaalgesprekken"),
        "{text}"
    );

    // SMTP AUTH refused at once by the running server.
    let r = gw.submit(serde_json::json!({
        "user": "ann@praktijk.test",
        "password": PASSWORD,
        "messages": [message("ann@praktijk.test", &["x@example.net"], "Nog iets", "Hallo.")],
    }));
    assert_eq!(r[0]["ok"], false, "{r:?}");
    assert_eq!(r[0]["code"], 535, "{r:?}");
    let db = dir.join("data").join("veilpost.db");
    assert_eq!(
        crate::sql(
            &db,
            "SELECT state FROM recipients WHERE address = 'dokter@zorggroep0ost.nl'"
        ),
        serde_json::json!([["cancelled"]])
    );
    assert_eq!(
        crate::sql(
            &db,
            "SELECT sender FROM vault WHERE recipient = 'piet@example.net'"
        ),
        serde_json::json!([["bob@praktijk.test"]])
    );
    assert_eq!(
        crate::sql(
            &db,
            "SELECT COUNT(*) FROM audit WHERE action = 'user.offboard'"
        ),
        serde_json::json!([[1]])
    );
    let _ = std::fs::remove_dir_all(&dir);
}
