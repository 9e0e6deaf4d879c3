//! Certificates by ACME against a small RFC 8555 server in the test (veilpost-testkit's;
//! no Pebble installs here): at first start the node orders one for `smtp.hostname`,
//! proves it with HTTP-01 on its web listener and presents it on STARTTLS; a restart with
//! a fresh certificate orders nothing; one within `acme.renew_days` of its end is renewed.

use std::time::{Duration, Instant};

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use veilpost_testkit::acme::AcmeServer;

use crate::reload::{fingerprint, sha256_hex};
use crate::{Gateway, test_dir};

fn pem_sha256(pem: &str) -> String {
    let der = CertificateDer::from_pem_slice(pem.as_bytes()).expect("pem");
    sha256_hex(&der)
}

/// Wait until STARTTLS presents the certificate with `fp`.
fn wait_for_certificate(gw: &Gateway, fp: &str) {
    let start = Instant::now();
    while fingerprint(gw.smtp_port) != fp {
        assert!(start.elapsed() < Duration::from_secs(30), "{}", gw.log());
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_orders_presents_and_renews_its_certificate() {
    let dir = test_dir("acme");
    let acme = AcmeServer::start().await;
    let ca = dir.join("acme-ca.pem");
    std::fs::write(&ca, &acme.tls_ca_pem).expect("ca");
    let mut gw = Gateway::configure(
        &dir,
        &format!(
            "[acme]\ndirectory = \"{}\"\nca_file = \"{}\"\ncontact = [\"ict@praktijk.test\"]\nrenew_days = 30\n",
            acme.directory,
            ca.display()
        ),
    );
    acme.target("gw.praktijk.test", ([127, 0, 0, 1], gw.web_port).into());
    gw.start();
    acme.target("gw.praktijk.test", ([127, 0, 0, 1], gw.web_port).into());
    let start = Instant::now();
    while acme.issued().is_empty() {
        assert!(start.elapsed() < Duration::from_secs(30), "{}", gw.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let first = pem_sha256(&acme.issued()[0]);
    tokio::task::block_in_place(|| wait_for_certificate(&gw, &first));
    assert_eq!(acme.orders(), 1);
    // The challenge answer is gone once the order is done.
    let (code, _) = crate::http_get(gw.web_port, "/.well-known/acme-challenge/nothing").await;
    assert_eq!(code, 404);

    // A restart with a fresh certificate orders nothing and presents the same one.
    gw.kill9();
    gw.start();
    tokio::task::block_in_place(|| wait_for_certificate(&gw, &first));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(acme.orders(), 1, "{}", gw.log());

    // Within renew_days of its end (90-day certificates, renewed 100 days ahead): renewed.
    gw.kill9();
    let config = std::fs::read_to_string(&gw.config).expect("config");
    std::fs::write(
        &gw.config,
        config.replace("renew_days = 30", "renew_days = 100"),
    )
    .expect("config");
    acme.target("gw.praktijk.test", ([127, 0, 0, 1], gw.web_port).into());
    gw.start();
    acme.target("gw.praktijk.test", ([127, 0, 0, 1], gw.web_port).into());
    let start = Instant::now();
    while acme.issued().len() < 2 {
        assert!(start.elapsed() < Duration::from_secs(30), "{}", gw.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let second = pem_sha256(&acme.issued()[1]);
    assert_ne!(first, second);
    tokio::task::block_in_place(|| wait_for_certificate(&gw, &second));
    // The same account both times.
    assert!(dir.join("data").join("acme").join("account.json").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
