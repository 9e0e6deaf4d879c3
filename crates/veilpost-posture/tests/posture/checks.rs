//! Verdicts on well configured, weak, broken, over-long, empty and DNSSEC/DANE domains.

use std::net::IpAddr;
use std::time::Duration;

use veilpost_dns::testserver::{SignedTestDnsServer, TestDnsServer, Zone};
use veilpost_posture::{Checker, Lang, Options, Report, Status};
use veilpost_senderauth::dkim::{KeyAlgorithm, SigningKey};

use crate::servers::{self, Ca};

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

fn status(r: &Report, id: &str) -> Status {
    r.get(id)
        .unwrap_or_else(|| panic!("no check {id}: {:#?}", r.checks))
        .status
}

fn options(ca: &Ca, smtp_port: u16, https_port: u16) -> Options {
    Options {
        lang: Lang::En,
        smtp_port,
        https_port,
        extra_roots_pem: vec![ca.pem.clone()],
        only_extra_roots: true,
        connect_timeout: Duration::from_secs(3),
        deadline: Duration::from_secs(20),
        ..Options::default()
    }
}

const POLICY: &str = "version: STSv1\r\nmode: enforce\r\nmx: mx1.good.test\r\nmax_age: 604800\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn well_configured_domain() {
    let ca = Ca::new();
    let (smtp_port, mut smtp_l) = servers::listeners(&[ip("127.0.0.2")]).await;
    let (https_port, mut https_l) = servers::listeners(&[ip("127.0.0.2")]).await;
    servers::smtp(
        smtp_l.remove(0),
        Some(ca.leaf(&["mx1.good.test"], false).config),
    );
    servers::https(
        https_l.remove(0),
        ca.leaf(&["mta-sts.good.test"], false).config,
        POLICY.into(),
    );
    let key = SigningKey::generate(KeyAlgorithm::Rsa2048).expect("key");
    let mut zone = Zone::parse(
        r#"
        good.test           TXT "v=spf1 mx ip4:192.0.2.0/24 -all"
        _dmarc.good.test    TXT "v=DMARC1; p=reject; rua=mailto:dmarc@good.test"
        good.test           MX  10 mx1.good.test.
        mx1.good.test       A   127.0.0.2
        _mta-sts.good.test  TXT "v=STSv1; id=20260101"
        mta-sts.good.test   A   127.0.0.2
        _smtp._tls.good.test TXT "v=TLSRPTv1; rua=mailto:tlsrpt@good.test"
        good.test           TXT "v=NTA7516-1;startdate=2024-01;enddate=2099-12;provider=Veilpost;ntamx=10 mx1.good.test"
        "#,
    )
    .expect("zone");
    zone.txt("selector1._domainkey.good.test", &[&key.dns_record()])
        .expect("dkim");
    let dns = TestDnsServer::start(zone).await.expect("dns");
    let checker =
        Checker::new(&dns.config(), options(&ca, smtp_port, https_port)).expect("checker");
    let r = checker.check("good.test").await.expect("report");
    for id in [
        "spf-record",
        "spf-syntax",
        "spf-lookups",
        "spf-void-lookups",
        "spf-all",
        "dmarc-record",
        "dmarc-policy",
        "dmarc-rua",
        "dmarc-pct",
        "dkim-selector1",
        "mx-records",
        "mx-mx1.good.test",
        "starttls-mx1.good.test",
        "starttls-mx1.good.test-tls-version",
        "starttls-mx1.good.test-certificate",
        "starttls-mx1.good.test-cipher",
        "mta-sts-record",
        "mta-sts-policy",
        "tls-rpt-record",
        "nta7516-record",
    ] {
        assert_eq!(status(&r, id), Status::Pass, "{id}: {:?}", r.get(id));
    }
    // No DNSSEC on this (plain) test server: DANE and DNSSEC are not satisfied, but MTA-STS
    // in enforce mode with a valid certificate makes secure delivery possible.
    assert_eq!(status(&r, "dnssec-domain"), Status::Fail);
    assert!(r.secure_delivery.possible, "{:?}", r.secure_delivery);
    assert_eq!(status(&r, "nta7516-summary"), Status::Pass);
    assert!(
        r.checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .all(|c| c.id.starts_with("dnssec")),
        "{:#?}",
        r.checks
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weak_domain() {
    let ca = Ca::new();
    let (smtp_port, mut l) = servers::listeners(&[ip("127.0.0.3")]).await;
    servers::smtp(l.remove(0), Some(ca.leaf(&["mx.weak.test"], true).config));
    let zone = Zone::parse(&format!(
        r#"
        weak.test          TXT "v=spf1 a ?all"
        weak.test          A   127.0.0.3
        _dmarc.weak.test   TXT "v=DMARC1; p=none; pct=50"
        weak.test          MX  10 mx.weak.test.
        mx.weak.test       A   127.0.0.3
        default._domainkey.weak.test TXT "v=DKIM1; k=rsa; p={}"
        "#,
        "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB"
    ))
    .expect("zone");
    let dns = TestDnsServer::start(zone).await.expect("dns");
    let checker = Checker::new(&dns.config(), options(&ca, smtp_port, 1)).expect("checker");
    let r = checker.check("weak.test").await.expect("report");
    assert_eq!(status(&r, "spf-all"), Status::Fail);
    assert_eq!(status(&r, "dmarc-policy"), Status::Warn);
    assert_eq!(status(&r, "dmarc-rua"), Status::Warn);
    assert_eq!(status(&r, "dmarc-pct"), Status::Warn);
    assert_eq!(status(&r, "dkim-default"), Status::Warn);
    assert_eq!(status(&r, "starttls-mx.weak.test"), Status::Pass);
    let cert = r
        .get("starttls-mx.weak.test-certificate")
        .expect("cert check");
    assert_eq!(cert.status, Status::Fail);
    assert!(cert.detail.contains("expired"), "{cert:?}");
    assert_eq!(status(&r, "mta-sts-record"), Status::Info);
    assert!(!r.secure_delivery.possible);
    assert!(r.has_failures());
    // Every warn and fail comes with advice.
    for c in &r.checks {
        if matches!(c.status, Status::Warn | Status::Fail) && !c.id.starts_with("dnssec") {
            assert!(
                c.advice.is_some() || c.id.starts_with("dane") || c.id.contains("certificate"),
                "no advice: {c:?}"
            );
        }
    }
    let dmarc_advice = r
        .get("dmarc-policy")
        .and_then(|c| c.advice.clone())
        .expect("advice");
    assert!(
        dmarc_advice.contains(
            "_dmarc.weak.test. TXT \"v=DMARC1; p=quarantine; rua=mailto:dmarc-rua@weak.test\""
        ),
        "{dmarc_advice}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_and_empty_domains() {
    let ca = Ca::new();
    let (smtp_port, mut l) = servers::listeners(&[ip("127.0.0.4"), ip("127.0.0.5")]).await;
    servers::smtp(
        l.remove(0),
        Some(ca.leaf(&["somewhere.else.test"], false).config),
    );
    servers::smtp(l.remove(0), None);
    let mut includes = String::from("v=spf1");
    for i in 0..11 {
        includes.push_str(&format!(" include:i{i}.lookups.test"));
    }
    includes.push_str(" -all");
    let mut zone = Zone::parse(
        r#"
        broken.test          TXT "v=spf1 -all"
        broken.test          TXT "v=spf1 mx -all"
        _dmarc.broken.test   TXT "v=DMARC1; p=none; reject"
        s1._domainkey.broken.test TXT "v=DMARC1; k=rsa; p="
        broken.test          MX  10 mx.broken.test.
        broken.test          MX  20 nohost.broken.test.
        mx.broken.test       A   127.0.0.4
        syntax.test          TXT "v=spf1 ip4:192.0.2.0/33 -all"
        nostarttls.test      MX  10 mx.nostarttls.test.
        mx.nostarttls.test   A   127.0.0.5
        nullmx.test          MX  0 .
        "#,
    )
    .expect("zone");
    zone.txt("lookups.test", &[&includes]).expect("spf");
    for i in 0..11 {
        zone.txt(
            &format!("i{i}.lookups.test"),
            &["v=spf1 ip4:192.0.2.1 -all"],
        )
        .expect("inc");
    }
    zone.txt("empty.test", &["hello"]).expect("txt");
    let dns = TestDnsServer::start(zone).await.expect("dns");
    let mut opts = options(&ca, smtp_port, 1);
    opts.dkim_selectors = vec!["s1".into()];
    let checker = Checker::new(&dns.config(), opts).expect("checker");

    let r = checker.check("broken.test").await.expect("report");
    assert_eq!(status(&r, "spf-record"), Status::Fail, "two records");
    assert_eq!(status(&r, "dmarc-record"), Status::Fail, "broken DMARC");
    assert_eq!(status(&r, "dkim-s1"), Status::Fail, "revoked key");
    assert_eq!(status(&r, "mx-nohost.broken.test"), Status::Fail);
    let cert = r.get("starttls-mx.broken.test-certificate").expect("cert");
    assert!(
        cert.status == Status::Fail && cert.detail.contains("not valid for this host name"),
        "{cert:?}"
    );

    let r = checker.check("syntax.test").await.expect("report");
    assert_eq!(status(&r, "spf-syntax"), Status::Fail);

    let r = checker.check("lookups.test").await.expect("report");
    assert_eq!(
        status(&r, "spf-lookups"),
        Status::Fail,
        "{:?}",
        r.get("spf-lookups")
    );

    let r = checker.check("nostarttls.test").await.expect("report");
    assert_eq!(status(&r, "starttls-mx.nostarttls.test"), Status::Fail);

    let r = checker.check("nullmx.test").await.expect("report");
    assert_eq!(status(&r, "mx-records"), Status::Info);

    let r = checker.check("empty.test").await.expect("report");
    for id in ["spf-record", "dmarc-record"] {
        assert_eq!(status(&r, id), Status::Fail, "{id}");
        assert!(r.get(id).and_then(|c| c.advice.clone()).is_some());
    }
    assert_eq!(status(&r, "dkim-selectors"), Status::Warn);
    assert_eq!(status(&r, "mx-records"), Status::Warn);
    assert!(
        r.get("spf-record")
            .and_then(|c| c.advice.clone())
            .unwrap_or_default()
            .contains("empty.test. TXT \"v=spf1 mx -all\"")
    );

    assert!(checker.check("not a domain").await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dnssec_signed_domain_with_dane() {
    let ca = Ca::new();
    let (smtp_port, mut l) = servers::listeners(&[ip("127.0.0.6"), ip("127.0.0.7")]).await;
    let good = ca.leaf(&["mx.dane.test"], false);
    // DANE-EE authenticates even a certificate no CA vouches for: use another CA's.
    let other = Ca::new().leaf(&["mx2.dane.test"], false);
    servers::smtp(l.remove(0), Some(good.config.clone()));
    servers::smtp(l.remove(0), Some(other.config.clone()));
    let tlsa1 = format!("3 1 1 {}", good.spki_sha256);
    let tlsa2 = format!("3 1 1 {}", other.spki_sha256);
    let signed = SignedTestDnsServer::start(&[
        ("dane.test", "MX", "10 mx.dane.test."),
        ("dane.test", "MX", "20 mx2.dane.test."),
        ("mx.dane.test", "A", "127.0.0.6"),
        ("mx2.dane.test", "A", "127.0.0.7"),
        ("_25._tcp.mx.dane.test", "TLSA", &tlsa1),
        ("_25._tcp.mx2.dane.test", "TLSA", &tlsa2),
        ("dane.test", "TXT", "\"v=spf1 mx -all\""),
        ("wrongtlsa.test", "MX", "10 mx.dane.test."),
        ("_25._tcp.mx.wrongtlsa.test", "TLSA", "3 1 1 00"),
    ])
    .await
    .expect("signed dns");
    let mut opts = options(&ca, smtp_port, 1);
    opts.trust_anchor = Some(signed.trust_anchor());
    let checker = Checker::new(&signed.config(), opts).expect("checker");
    let r = checker.check("dane.test").await.expect("report");
    assert_eq!(
        status(&r, "dnssec-domain"),
        Status::Pass,
        "{:?}",
        r.get("dnssec-domain")
    );
    assert_eq!(status(&r, "dnssec-mx-mx.dane.test"), Status::Pass);
    assert_eq!(
        status(&r, "dane-mx.dane.test"),
        Status::Pass,
        "{:?}",
        r.get("dane-mx.dane.test")
    );
    assert_eq!(status(&r, "dane-mx2.dane.test"), Status::Pass);
    // mx2's certificate is from an unknown CA: PKIX fails, DANE vouches.
    assert_eq!(
        status(&r, "starttls-mx2.dane.test-certificate"),
        Status::Warn
    );
    assert!(r.secure_delivery.possible, "{:?}", r.secure_delivery);
    assert!(r.secure_delivery.reason.contains("DANE"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outdated_tls_versions_fail() {
    let ca = Ca::new();
    let only10 =
        servers::LegacySmtp::start(ip("127.0.0.8"), &ca.leaf(&["mx.tls10.test"], false), "1.0");
    let upto12 =
        servers::LegacySmtp::start(ip("127.0.0.9"), &ca.rsa_leaf(&["mx.tls12.test"]), "1.2");
    let zone = Zone::parse(
        r#"
        tls10.test      MX  10 mx.tls10.test.
        mx.tls10.test   A   127.0.0.8
        tls12.test      MX  10 mx.tls12.test.
        mx.tls12.test   A   127.0.0.9
        "#,
    )
    .expect("zone");
    let dns = TestDnsServer::start(zone).await.expect("dns");

    let checker = Checker::new(&dns.config(), options(&ca, only10.port, 1)).expect("checker");
    let r = checker.check("tls10.test").await.expect("report");
    assert_eq!(status(&r, "starttls-mx.tls10.test"), Status::Fail);
    let v = r
        .get("starttls-mx.tls10.test-tls-version")
        .expect("version");
    assert_eq!(v.status, Status::Fail, "{v:?}");
    assert!(v.detail.contains("TLS 1.0"), "{v:?}");
    assert!(v.advice.is_some());
    assert!(!r.secure_delivery.possible);

    let checker = Checker::new(&dns.config(), options(&ca, upto12.port, 1)).expect("checker");
    let r = checker.check("tls12.test").await.expect("report");
    assert_eq!(status(&r, "starttls-mx.tls12.test"), Status::Pass);
    let v = r
        .get("starttls-mx.tls12.test-tls-version")
        .expect("version");
    assert_eq!(v.status, Status::Fail, "{v:?}");
    assert!(
        v.detail.contains("TLS 1.2")
            && v.detail.contains("TLS 1.0")
            && v.detail.contains("TLS 1.1"),
        "{v:?}"
    );
    assert_eq!(
        status(&r, "starttls-mx.tls12.test-certificate"),
        Status::Pass
    );
    // An RSA certificate with OpenSSL's defaults also allows RSA key exchange.
    let c = r.get("starttls-mx.tls12.test-cipher").expect("cipher");
    assert_eq!(c.status, Status::Warn, "{c:?}");
    assert!(c.detail.contains("RSA_WITH"), "{c:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dmarc_details() {
    let zone = Zone::parse(
        r#"
        _dmarc.trial.test      TXT "v=DMARC1; p=reject; t=y; pct=100; rua=mailto:d@trial.test"
        trial.test             MX  10 mx.trial.test.
        _dmarc.two.test        TXT "v=DMARC1; p=reject"
        _dmarc.two.test        TXT "v=DMARC1; p=none"
        _dmarc.ext.test        TXT "v=DMARC1; p=reject; rua=mailto:d@reports.test,mailto:x@ok.test"
        reports.test           MX  10 mx.reports.test.
        ok.test                MX  10 mx.ok.test.
        ext.test._report._dmarc.ok.test TXT "v=DMARC1"
        _dmarc.typo.test       TXT "v=DMARC1; p=rejcet; rua=mailto:d@typo.test"
        typo.test              A   192.0.2.1
        "#,
    )
    .expect("zone");
    let dns = TestDnsServer::start(zone).await.expect("dns");
    let opts = Options {
        lang: Lang::En,
        probe_smtp: false,
        ..Options::default()
    };
    let checker = Checker::new(&dns.config(), opts).expect("checker");

    let r = checker.check("trial.test").await.expect("report");
    assert_eq!(status(&r, "dmarc-policy"), Status::Pass);
    assert_eq!(status(&r, "dmarc-testing"), Status::Warn);
    assert_eq!(status(&r, "dmarc-pct"), Status::Info, "pct=100 is obsolete");
    assert_eq!(status(&r, "dmarc-rua-destination"), Status::Pass);

    let r = checker.check("two.test").await.expect("report");
    assert_eq!(status(&r, "dmarc-record"), Status::Fail);

    let r = checker.check("ext.test").await.expect("report");
    let dest = r.get("dmarc-rua-destination").expect("destination");
    assert_eq!(dest.status, Status::Warn);
    assert!(dest.detail.contains("reports.test") && !dest.detail.contains("ok.test"));
    assert!(
        dest.advice
            .as_deref()
            .unwrap_or_default()
            .contains("ext.test._report._dmarc.reports.test. TXT \"v=DMARC1\""),
        "{dest:?}"
    );

    let r = checker.check("typo.test").await.expect("report");
    assert_eq!(status(&r, "dmarc-record"), Status::Fail);
    assert_eq!(status(&r, "dmarc-policy"), Status::Fail);
    // An address record is enough to receive reports (implicit MX).
    assert_eq!(status(&r, "dmarc-rua-destination"), Status::Pass);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_mx_does_not_hide_the_rest() {
    let (port, mut l) = servers::listeners(&[ip("127.0.0.10")]).await;
    servers::silent(l.remove(0));
    let zone = Zone::parse(
        r#"
        slow.test      TXT "v=spf1 mx -all"
        _dmarc.slow.test TXT "v=DMARC1; p=reject; rua=mailto:d@slow.test"
        slow.test      MX  10 mx.slow.test.
        mx.slow.test   A   127.0.0.10
        "#,
    )
    .expect("zone");
    let dns = TestDnsServer::start(zone).await.expect("dns");
    let opts = Options {
        lang: Lang::En,
        smtp_port: port,
        https_port: 1,
        connect_timeout: Duration::from_secs(30),
        deadline: Duration::from_secs(2),
        ..Options::default()
    };
    let checker = Checker::new(&dns.config(), opts).expect("checker");
    let started = std::time::Instant::now();
    let r = checker.check("slow.test").await.expect("report");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(status(&r, "spf-all"), Status::Pass);
    assert_eq!(status(&r, "dmarc-policy"), Status::Pass);
    assert_eq!(status(&r, "mx-records"), Status::Pass);
    assert_eq!(status(&r, "mx-mx.slow.test-deadline"), Status::Fail);
    assert!(!r.secure_delivery.possible);
}
