//! What a running node reads again without a restart. The configuration's policy and
//! transport map on SIGHUP. The STARTTLS certificate: on
//! SIGHUP (and when its files change) new connections get the new certificate, a
//! connection already open goes on, and a pair that does not fit together leaves the
//! current one in place. The DKIM keys: after `veilpost dkim rotate` the node signs with
//! the new selector from the set time.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Gateway, test_dir};

/// A self-signed pair for `name`: (certificate PEM, key PEM, SHA-256 of the DER in hex).
fn pair(name: &str) -> (String, String, String) {
    let c = rcgen::generate_simple_self_signed(vec![name.to_string()]).expect("cert");
    (
        c.cert.pem(),
        c.signing_key.serialize_pem(),
        sha256_hex(c.cert.der()),
    )
}

/// SHA-256 in hex, made by Python's hashlib as the peer's certificate is.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    let out = Command::new("python3")
        .args([
            "-c",
            "import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().expect("stdin").write_all(bytes)?;
            c.wait_with_output()
        })
        .expect("python3");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// An SMTP session over STARTTLS that prints the certificate's SHA-256, then one NOOP
/// reply code for each line it reads.
const SESSION: &str = r#"
import hashlib, smtplib, ssl, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
s.ehlo("client.test")
s.starttls(context=ssl._create_unverified_context())
print(hashlib.sha256(s.sock.getpeercert(binary_form=True)).hexdigest(), flush=True)
for _ in sys.stdin:
    print(s.noop()[0], flush=True)
s.quit()
"#;

pub(crate) fn fingerprint(port: u16) -> String {
    let out = Command::new("python3")
        .args(["-c", SESSION, &port.to_string()])
        .stdin(Stdio::null())
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn install(dir: &std::path::Path, cert: &str, key: &str) {
    // As an operator's renewal would: new files moved into place.
    std::fs::write(dir.join("cert.pem.new"), cert).expect("cert");
    std::fs::write(dir.join("key.pem.new"), key).expect("key");
    std::fs::rename(dir.join("key.pem.new"), dir.join("key.pem")).expect("key");
    std::fs::rename(dir.join("cert.pem.new"), dir.join("cert.pem")).expect("cert");
}

fn hangup(gw: &Gateway) {
    let status = Command::new("kill")
        .args(["-HUP", &gw.pid().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

#[test]
fn sighup_brings_the_new_certificate_and_keeps_open_sessions() {
    let dir = test_dir("certificates");
    let (cert_a, key_a, fp_a) = pair("gw.praktijk.test");
    let (cert_b, key_b, fp_b) = pair("gw.praktijk.test");
    install(&dir, &cert_a, &key_a);
    let mut gw = Gateway::configure_smtp(
        &dir,
        &format!(
            "tls_cert = \"{}\"\ntls_key = \"{}\"\n",
            dir.join("cert.pem").display(),
            dir.join("key.pem").display()
        ),
        "",
    );
    gw.start();
    assert_eq!(fingerprint(gw.smtp_port), fp_a);

    // A session opened before the renewal.
    let mut open = Command::new("python3")
        .args(["-c", SESSION, &gw.smtp_port.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut replies = BufReader::new(open.stdout.take().expect("stdout")).lines();
    let first = replies.next().expect("line").expect("fingerprint");
    assert_eq!(first, fp_a);

    install(&dir, &cert_b, &key_b);
    hangup(&gw);
    let start = Instant::now();
    while fingerprint(gw.smtp_port) != fp_b {
        assert!(start.elapsed() < Duration::from_secs(10), "{}", gw.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    // The process lives on (SIGHUP no longer ends it), and the old session too.
    let mut stdin = open.stdin.take().expect("stdin");
    writeln!(stdin, "noop").expect("write");
    assert_eq!(replies.next().expect("line").expect("noop"), "250");
    drop(stdin);
    assert!(open.wait().expect("wait").success());

    // A certificate with another's key: refused, B stays.
    install(&dir, &cert_a, &key_b);
    hangup(&gw);
    gw.wait_for_log("not reloaded");
    assert_eq!(fingerprint(gw.smtp_port), fp_b);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The DKIM-Signature selector of a mail in the outbox.
fn dkim_selector(raw: &str) -> Option<String> {
    let start = raw.find("DKIM-Signature:")?;
    raw[start..]
        .split(';')
        .find_map(|t| t.trim().strip_prefix("s="))
        .map(|s| s.trim().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dkim_rotation_is_followed_without_a_restart() {
    let dir = test_dir("dkim-rotation");
    let mut gw = Gateway::configure(&dir, "");
    gw.add_user("ann@praktijk.test", crate::PASSWORD, None);
    gw.start();
    let send = |subject: &str| gw.send_from_ann("bob@partner.test", subject, "Hallo.");
    let out_dir = dir.join("data").join("outbox");
    let selector_of = |subject: &str| -> String {
        let start = Instant::now();
        loop {
            for (path, _, s, _) in crate::outbox(&out_dir) {
                if s == subject {
                    let raw = std::fs::read_to_string(&path).expect("read");
                    return dkim_selector(&raw).expect("signed");
                }
            }
            assert!(start.elapsed() < Duration::from_secs(30), "{}", gw.log());
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    send("Voor");
    assert_eq!(selector_of("Voor"), "veilpost");

    // Published beside the old one, signing from now; the running node follows on SIGHUP.
    let out = gw.cli(&["dkim", "rotate", "--selector", "vp2027", "--after", "0"]);
    assert!(out.status.success(), "{out:?}");
    let told = String::from_utf8_lossy(&out.stdout);
    assert!(told.contains("vp2027._domainkey.praktijk.test."), "{told}");
    hangup(&gw);
    gw.wait_for_log("signing with selector vp2027");
    send("Na");
    assert_eq!(selector_of("Na"), "vp2027");
    let shown = gw.cli(&["dkim", "show"]);
    assert!(
        String::from_utf8_lossy(&shown.stdout).contains("vp2027._domainkey.praktijk.test."),
        "{shown:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_policy_and_keeps_the_old_one_when_the_file_is_broken() {
    let dir = test_dir("reload-policy");
    let mut gw = Gateway::configure(&dir, "[policy]\nblock_domains = []\n");
    gw.add_user("ann@praktijk.test", crate::PASSWORD, None);
    gw.start();
    let send = |subject: &str| gw.send_from_ann("iemand@geblokt.test", subject, "Hallo.");
    let out_dir = dir.join("data").join("outbox");
    let reports = || {
        crate::outbox(&out_dir)
            .iter()
            .filter(|m| m.1 == "ann@praktijk.test")
            .count()
    };
    // Whether the message with `subject` reached the recipient; else a new report to the
    // sender (beyond the `before` there were) says it did not.
    let delivered = |subject: &str, before: usize| -> bool {
        let start = Instant::now();
        loop {
            let mails = crate::outbox(&out_dir);
            if mails
                .iter()
                .any(|m| m.2 == subject && m.1 == "iemand@geblokt.test")
            {
                return true;
            }
            if mails.iter().filter(|m| m.1 == "ann@praktijk.test").count() > before {
                return false;
            }
            assert!(start.elapsed() < Duration::from_secs(30), "{}", gw.log());
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let before = reports();
    send("Eerste");
    assert!(delivered("Eerste", before));

    let config = std::fs::read_to_string(&gw.config).expect("config");
    std::fs::write(
        &gw.config,
        config.replace("block_domains = []", "block_domains = [\"geblokt.test\"]"),
    )
    .expect("config");
    hangup(&gw);
    gw.wait_for_log("configuration reloaded");
    let before = reports();
    send("Tweede");
    assert!(!delivered("Tweede", before), "blocked after the reload");

    // A file that does not read: said in the log, the policy in force stays.
    std::fs::write(&gw.config, "this is not toml [").expect("config");
    hangup(&gw);
    gw.wait_for_log("configuration not reloaded");
    let before = reports();
    send("Derde");
    assert!(!delivered("Derde", before), "still blocked");
    let _ = std::fs::remove_dir_all(&dir);
}
