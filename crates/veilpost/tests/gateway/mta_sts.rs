//! Delivery over MX with MTA-STS and NTA 7516: an enforce domain whose server offers no
//! STARTTLS gets nothing (not even clean mail), an enforce domain with a valid certificate
//! gets the sensitive message itself over authenticated TLS, so does a domain announcing an
//! NTA 7516 host (to that host, not its plaintext MX), and a domain without a policy gets
//! clean mail the ordinary way.

use std::net::IpAddr;
use std::time::Duration;

use crate::{Gateway, PASSWORD, message, test_dir};
use tokio::net::TcpListener;
use veilpost_dns::testserver::{TestDnsServer, Zone};
use veilpost_testkit::{Ca, Sink, https};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mta_sts_enforce_is_never_downgraded() {
    let dir = test_dir("mta-sts");
    let ca = Ca::new();
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, &ca.pem).expect("ca file");

    // Two receiving servers on the same port: 127.0.0.1 without STARTTLS, 127.0.0.2 with a
    // certificate from the test CA for its MX name.
    let plain = Sink::start("127.0.0.1:0", None, vec![]).await;
    let port = plain.addr.port();
    let secure = Sink::start(
        &format!("127.0.0.2:{port}"),
        Some(
            ca.leaf(&["mx.secure.test", "secure.ntaprovider.test"], false)
                .config,
        ),
        vec![],
    )
    .await;
    let policy = TcpListener::bind("127.0.0.1:0").await.expect("https");
    let https_port = policy.local_addr().expect("addr").port();
    https(
        policy,
        ca.leaf(&["mta-sts.nostarttls.test", "mta-sts.secure.test"], false)
            .config,
        "version: STSv1\r\nmode: enforce\r\nmx: mx.nostarttls.test\r\nmx: mx.secure.test\r\nmax_age: 86400\r\n".into(),
    );

    let lo: IpAddr = "127.0.0.1".parse().expect("ip");
    let lo2: IpAddr = "127.0.0.2".parse().expect("ip");
    let mut zone = Zone::new();
    for (domain, ip, sts) in [
        ("nostarttls.test", lo, true),
        ("secure.test", lo2, true),
        ("plain.test", lo, false),
    ] {
        zone.mx(domain, 10, &format!("mx.{domain}")).expect("mx");
        zone.ip(&format!("mx.{domain}"), ip).expect("a");
        if sts {
            zone.txt(&format!("_mta-sts.{domain}"), &["v=STSv1; id=20261126"])
                .expect("txt");
            zone.ip(&format!("mta-sts.{domain}"), lo).expect("a");
        }
    }
    // NTA 7516: the domain's ordinary MX offers no STARTTLS; its announcement names the
    // provider's host that takes secure mail (with a valid certificate).
    zone.mx("nta.test", 10, "mx.nta.test").expect("mx");
    zone.ip("mx.nta.test", lo).expect("a");
    zone.txt(
        "nta.test",
        &["v=NTA7516-1;startdate=2024-01;enddate=2099-12;provider=Test;ntamx=10 secure.ntaprovider.test"],
    )
    .expect("nta");
    zone.ip("secure.ntaprovider.test", lo2).expect("a");
    let dns = TestDnsServer::start(zone).await.expect("dns");

    let mut gw = Gateway::configure(
        &dir,
        &format!(
            "[delivery]\nmode = \"mx\"\nsmtp_port = {port}\nmta_sts_port = {https_port}\n\
             ca_files = [\"{}\"]\nca_only = true\nfirst_retry = 1\n\
             [dns]\nnameservers = [\"{}\"]\n",
            ca_file.display(),
            dns.addr()
        ),
    );
    gw.add_user("ann@praktijk.test", PASSWORD, None);
    gw.start();
    let bsn = "Patiënt J. de Vries, BSN 111222333, diagnose depressie, medicatie sertraline.";
    let r = gw.submit(serde_json::json!({
        "user": "ann@praktijk.test", "password": PASSWORD,
        "messages": [
            message("ann@praktijk.test", &["x@nostarttls.test"], "Planning", "Donderdag om 10.00 uur."),
            message("ann@praktijk.test", &["dokter@secure.test"], "Verwijzing", bsn),
            message("ann@praktijk.test", &["bob@plain.test"], "Lunch", "Zullen we lunchen?"),
            message("ann@praktijk.test", &["zorg@nta.test"], "Overdracht", bsn),
            message("ann@praktijk.test", &["info@nta.test"], "Rooster", "Het rooster voor december."),
        ],
    }));
    assert!(r.iter().all(|x| x["ok"] == true), "{r:?}");

    // The MTA-STS domain and the NTA 7516 domain get the message itself, over TLS
    // verified against the policy's or the announcement's host name.
    let got = secure.wait_for(2, Duration::from_secs(30)).await;
    assert_eq!(got.len(), 2, "{}", gw.log());
    for rcpt in ["dokter@secure.test", "zorg@nta.test"] {
        let g = got.iter().find(|g| g.rcpt_to == [rcpt]).expect(rcpt);
        assert!(g.tls);
        assert!(g.text().contains("BSN 111222333"), "{}", g.text());
    }
    // The domain without a policy gets clean mail, here without TLS (none offered).
    let got = plain.wait_for(1, Duration::from_secs(30)).await;
    assert!(
        got.iter()
            .any(|g| g.rcpt_to == ["bob@plain.test"] && !g.tls),
        "{got:?}"
    );

    // The enforce domain without STARTTLS: tried (more than once) and never given anything.
    let start = std::time::Instant::now();
    while gw.log().matches("offers no STARTTLS").count() < 2 {
        assert!(start.elapsed() < Duration::from_secs(30), "{}", gw.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        plain
            .messages()
            .iter()
            .all(|g| g.rcpt_to != ["x@nostarttls.test"]),
        "{:?}",
        plain.messages()
    );
    assert_eq!(plain.messages().len(), 2);
    let _ = std::fs::remove_dir_all(&dir);
}
