//! An example report on loopback: a GP practice's domain, half-way configured, served by
//! the in-process DNS server, an SMTP server with STARTTLS and an HTTPS server for the
//! MTA-STS policy (certificates from a throw-away CA). Prints the report as `veilpost
//! check-domain` would; nothing leaves the machine.
//!
//! Run: `cargo run -p veilpost-posture --example demo [-- en]`

use std::time::Duration;

use veilpost_dns::testserver::{TestDnsServer, Zone};
use veilpost_posture::{Checker, Lang, Options};
use veilpost_senderauth::dkim::{KeyAlgorithm, SigningKey};

#[allow(dead_code)]
#[path = "../tests/posture/servers.rs"]
mod servers;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let lang = match std::env::args().nth(1).as_deref() {
        Some("en") => Lang::En,
        _ => Lang::Nl,
    };
    let ca = servers::Ca::new();
    let ip = "127.0.0.2".parse()?;
    let (smtp_port, mut smtp) = servers::listeners(&[ip]).await;
    let (https_port, mut https) = servers::listeners(&[ip]).await;
    servers::smtp(
        smtp.remove(0),
        Some(ca.leaf(&["mx.praktijkdelinde.test"], false).config),
    );
    servers::https(
        https.remove(0),
        ca.leaf(&["mta-sts.praktijkdelinde.test"], false).config,
        "version: STSv1\r\nmode: testing\r\nmx: mx.praktijkdelinde.test\r\nmax_age: 86400\r\n"
            .into(),
    );
    let key = SigningKey::generate(KeyAlgorithm::Rsa2048)?;
    let mut zone = Zone::parse(
        r#"
        praktijkdelinde.test          MX  10 mx.praktijkdelinde.test.
        mx.praktijkdelinde.test       A   127.0.0.2
        praktijkdelinde.test          TXT "v=spf1 mx include:_spf.mailprovider.test ~all"
        _spf.mailprovider.test        TXT "v=spf1 ip4:192.0.2.0/24 -all"
        _dmarc.praktijkdelinde.test   TXT "v=DMARC1; p=none; rua=mailto:dmarc@praktijkdelinde.test"
        _mta-sts.praktijkdelinde.test TXT "v=STSv1; id=2026110101"
        mta-sts.praktijkdelinde.test  A   127.0.0.2
        "#,
    )?;
    zone.txt(
        "selector1._domainkey.praktijkdelinde.test",
        &[&key.dns_record()],
    )?;
    let dns = TestDnsServer::start(zone).await?;
    let checker = Checker::new(
        &dns.config(),
        Options {
            lang,
            smtp_port,
            https_port,
            extra_roots_pem: vec![ca.pem.clone()],
            only_extra_roots: true,
            connect_timeout: Duration::from_secs(3),
            ..Options::default()
        },
    )?;
    let report = checker.check("praktijkdelinde.test").await?;
    print!("{}", report.to_text(lang, false));
    Ok(())
}
