//! The delivery client against real TLS servers on loopback: DANE-EE and DANE-TA matched
//! inside certificate verification, a server replaying a certificate whose key it does not
//! hold (TLS 1.3 and 1.2), PKIX for MTA-STS, and never plaintext when TLS is required;
//! connection reuse, and pipelining against a server that answers only once it has read
//! the whole batch.

use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use veilpost_dns::dane::Tlsa;
use veilpost_smtp::{
    ClientSettings, DeliveryError, Outgoing, SessionCache, TlsRequirement, deliver, deliver_cached,
};
use veilpost_testkit::{Ca, Sink, impostor, self_signed, sha256};

const BODY: &[u8] =
    b"From: a@praktijk.test\r\nTo: b@ontvanger.test\r\nSubject: t\r\n\r\nBSN 111222333\r\n";

fn tlsa(usage: u8, selector: u8, data: &[u8]) -> Tlsa {
    Tlsa {
        usage,
        selector,
        matching: 1,
        data: sha256(data),
    }
}

fn spki(leaf: &veilpost_testkit::Leaf) -> Vec<u8> {
    veilpost_dns::der::certificate_spki(&leaf.chain[0])
        .expect("spki")
        .to_vec()
}

/// Deliver one message to a fresh sink (STARTTLS with `tls` when given); what the client
/// said and what the sink received.
async fn attempt(
    ca: &Ca,
    tls: Option<Arc<ServerConfig>>,
    host: &str,
    req: TlsRequirement,
) -> (Result<veilpost_smtp::Delivered, DeliveryError>, Sink) {
    let sink = Sink::start("127.0.0.1:0", tls, vec![]).await;
    let settings = quick_settings(ca);
    let rcpt = vec!["b@ontvanger.test".to_string()];
    let msg = Outgoing {
        mail_from: "a@praktijk.test",
        rcpt_to: &rcpt,
        data: BODY,
        smtputf8: false,
    };
    let r = deliver(&settings, sink.addr, host, &req, &msg).await;
    (r, sink)
}

fn assert_refused(r: &Result<veilpost_smtp::Delivered, DeliveryError>, sink: &Sink, why: &str) {
    let e = r.as_ref().expect_err(why);
    assert!(!e.permanent, "{why}: a TLS failure is temporary: {e:?}");
    assert!(sink.messages().is_empty(), "{why}: something was sent");
}

#[tokio::test]
async fn dane_ee_matches_the_key_in_verification() {
    let ca = Ca::new();
    let leaf = ca.leaf(&["mx.dane.test"], false);
    let (r, sink) = attempt(
        &ca,
        Some(leaf.config.clone()),
        "mx.dane.test",
        TlsRequirement::Dane(vec![tlsa(3, 1, &spki(&leaf))]),
    )
    .await;
    let done = r.expect("DANE-EE match delivers");
    assert!(
        done.tls.as_deref().is_some_and(|t| t.contains("TLS")),
        "{done:?}"
    );
    assert_eq!(sink.messages().len(), 1);
    assert!(sink.messages()[0].tls);

    // DANE-EE pins the key: names and the issuer do not matter (RFC 7672 §3.1.1).
    let stranger = self_signed(&["elders.test"]);
    let other = Ca::new().leaf(&["elders.test"], true);
    let (r, _) = attempt(
        &ca,
        Some(other.config.clone()),
        "mx.dane.test",
        TlsRequirement::Dane(vec![tlsa(3, 1, &spki(&other))]),
    )
    .await;
    assert!(
        r.is_ok(),
        "expired, other name, unknown issuer, pinned key: {r:?}"
    );

    // A record for another key: nothing is sent, not even in plaintext.
    let (r, sink) = attempt(
        &ca,
        Some(stranger),
        "mx.dane.test",
        TlsRequirement::Dane(vec![tlsa(3, 1, &spki(&leaf))]),
    )
    .await;
    assert_refused(&r, &sink, "TLSA mismatch");
}

#[tokio::test]
async fn a_replayed_certificate_without_its_key_is_refused() {
    // The attacker presents the real server's certificate (public, it is sent to
    // everyone) and signs the handshake with its own key. Matching TLSA alone would pass;
    // the handshake signature check does not.
    let ca = Ca::new();
    let real = ca.leaf(&["mx.dane.test"], false);
    let attacker = ca.leaf(&["mx.dane.test"], false);
    let records = vec![tlsa(3, 1, &spki(&real))];
    for versions in [
        &[&rustls::version::TLS13][..],
        &[&rustls::version::TLS12][..],
    ] {
        let (r, sink) = attempt(
            &ca,
            Some(impostor(&real, &attacker, versions)),
            "mx.dane.test",
            TlsRequirement::Dane(records.clone()),
        )
        .await;
        assert_refused(&r, &sink, "replayed certificate");
        // The same impostor against PKIX (its chain is valid for the name).
        let (r, sink) = attempt(
            &ca,
            Some(impostor(&real, &attacker, versions)),
            "mx.dane.test",
            TlsRequirement::Pkix,
        )
        .await;
        assert_refused(&r, &sink, "replayed certificate, PKIX");
        // Opportunistic TLS authenticates nothing, but a bad signature still ends the
        // handshake; the client then delivers in plaintext as any MTA does.
        let (r, sink) = attempt(
            &ca,
            Some(impostor(&real, &attacker, versions)),
            "mx.dane.test",
            TlsRequirement::Opportunistic,
        )
        .await;
        assert_eq!(r.expect("plaintext fallback").tls, None);
        assert!(!sink.messages()[0].tls);
    }
}

#[tokio::test]
async fn dane_ta_validates_the_chain_and_the_name() {
    let ca = Ca::new();
    let leaf = ca.leaf_with_anchor(&["mx.ta.test"]);
    let records = vec![tlsa(2, 0, &ca.der)];
    let (r, _) = attempt(
        &ca,
        Some(leaf.config.clone()),
        "mx.ta.test",
        TlsRequirement::Dane(records.clone()),
    )
    .await;
    assert!(r.is_ok(), "{r:?}");
    // Under DANE-TA the name must match.
    let (r, sink) = attempt(
        &ca,
        Some(leaf.config.clone()),
        "mx.elders.test",
        TlsRequirement::Dane(records.clone()),
    )
    .await;
    assert_refused(&r, &sink, "DANE-TA, wrong name");
    // A leaf from another CA does not chain to the anchor.
    let other = Ca::new().leaf_with_anchor(&["mx.ta.test"]);
    let (r, sink) = attempt(
        &ca,
        Some(other.config.clone()),
        "mx.ta.test",
        TlsRequirement::Dane(records),
    )
    .await;
    assert_refused(&r, &sink, "DANE-TA, other CA");
}

#[tokio::test]
async fn pkix_checks_issuer_and_name() {
    let ca = Ca::new();
    let leaf = ca.leaf(&["mx.sts.test"], false);
    let (r, _) = attempt(
        &ca,
        Some(leaf.config.clone()),
        "mx.sts.test",
        TlsRequirement::Pkix,
    )
    .await;
    assert!(r.is_ok(), "{r:?}");
    let (r, sink) = attempt(
        &ca,
        Some(leaf.config.clone()),
        "mx.other.test",
        TlsRequirement::Pkix,
    )
    .await;
    assert_refused(&r, &sink, "PKIX, wrong name");
    let (r, sink) = attempt(
        &ca,
        Some(self_signed(&["mx.sts.test"])),
        "mx.sts.test",
        TlsRequirement::Pkix,
    )
    .await;
    assert_refused(&r, &sink, "PKIX, self-signed");
    let expired = ca.leaf(&["mx.sts.test"], true);
    let (r, sink) = attempt(
        &ca,
        Some(expired.config),
        "mx.sts.test",
        TlsRequirement::Pkix,
    )
    .await;
    assert_refused(&r, &sink, "PKIX, expired");
}

#[tokio::test]
async fn required_tls_is_never_skipped() {
    let ca = Ca::new();
    for req in [
        TlsRequirement::Pkix,
        TlsRequirement::Dane(vec![tlsa(3, 1, b"anything")]),
    ] {
        let (r, sink) = attempt(&ca, None, "mx.plain.test", req).await;
        assert_refused(&r, &sink, "no STARTTLS offered");
        assert!(r.expect_err("err").text.contains("offers no STARTTLS"));
    }
    // Opportunistic: STARTTLS with any certificate, or plaintext when not offered.
    let (r, sink) = attempt(
        &ca,
        Some(self_signed(&["x.test"])),
        "mx.plain.test",
        TlsRequirement::Opportunistic,
    )
    .await;
    assert!(r.expect("delivered").tls.is_some());
    assert!(sink.messages()[0].tls);
    let (r, sink) = attempt(&ca, None, "mx.plain.test", TlsRequirement::Opportunistic).await;
    assert_eq!(r.expect("delivered").tls, None);
    assert_eq!(sink.messages()[0].data, BODY);
}

fn quick_settings(ca: &Ca) -> ClientSettings {
    let mut settings =
        ClientSettings::new("client.test", std::slice::from_ref(&ca.pem), true).expect("settings");
    settings.connect_timeout = Duration::from_secs(5);
    settings.command_timeout = Duration::from_secs(5);
    settings
}

/// Send `n` messages one after another through `cache`.
async fn send_through(
    cache: &SessionCache,
    settings: &ClientSettings,
    sink: &Sink,
    host: &str,
    req: &TlsRequirement,
    n: usize,
) -> Vec<Result<veilpost_smtp::Delivered, DeliveryError>> {
    let rcpt = vec!["b@ontvanger.test".to_string()];
    let msg = Outgoing {
        mail_from: "a@praktijk.test",
        rcpt_to: &rcpt,
        data: BODY,
        smtputf8: false,
    };
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(deliver_cached(cache, settings, sink.addr, host, req, &msg).await);
    }
    out
}

#[tokio::test]
async fn connections_are_reused_for_the_next_message_to_a_server() {
    use std::sync::atomic::Ordering;
    let ca = Ca::new();
    let settings = quick_settings(&ca);
    let leaf = ca.leaf(&["mx.reuse.test"], false);
    let sink = Sink::start("127.0.0.1:0", Some(leaf.config.clone()), vec![]).await;
    let cache = SessionCache::new(Duration::from_secs(5), 4);
    for r in send_through(
        &cache,
        &settings,
        &sink,
        "mx.reuse.test",
        &TlsRequirement::Pkix,
        5,
    )
    .await
    {
        assert!(
            r.expect("delivered").tls.is_some(),
            "over TLS, also when reused"
        );
    }
    assert_eq!(sink.messages().len(), 5);
    assert_eq!(
        sink.connections.load(Ordering::SeqCst),
        1,
        "one session for five messages"
    );
    assert_eq!(cache.len(), 1);

    // Kept for another TLS requirement, it is not used: a connection made for
    // opportunistic TLS never carries a message that needs more.
    let plain = Sink::start("127.0.0.1:0", None, vec![]).await;
    let r = send_through(
        &cache,
        &settings,
        &plain,
        "mx.plain.test",
        &TlsRequirement::Opportunistic,
        1,
    )
    .await;
    assert!(r[0].as_ref().expect("plain").tls.is_none());
    let r = send_through(
        &cache,
        &settings,
        &plain,
        "mx.plain.test",
        &TlsRequirement::Pkix,
        1,
    )
    .await;
    assert!(
        r[0].is_err(),
        "no STARTTLS on a new connection: refused, not sent over the kept one"
    );
    assert_eq!(plain.messages().len(), 1);

    // Without a cache every message has its own connection.
    let off = SessionCache::new(Duration::ZERO, 4);
    send_through(
        &off,
        &settings,
        &plain,
        "mx.plain.test",
        &TlsRequirement::Opportunistic,
        3,
    )
    .await;
    assert_eq!(plain.connections.load(Ordering::SeqCst), 1 + 1 + 3);
    assert!(off.is_empty());
}

#[tokio::test]
async fn a_connection_the_server_dropped_is_replaced_and_nothing_is_lost() {
    use std::sync::atomic::Ordering;
    let ca = Ca::new();
    let settings = quick_settings(&ca);
    let sink = Sink::start("127.0.0.1:0", None, vec![]).await;
    sink.hang_up.store(true, Ordering::SeqCst);
    let cache = SessionCache::new(Duration::from_secs(5), 4);
    for r in send_through(
        &cache,
        &settings,
        &sink,
        "mx.test",
        &TlsRequirement::Opportunistic,
        4,
    )
    .await
    {
        r.expect("delivered over a new connection when the kept one was closed");
    }
    assert_eq!(sink.messages().len(), 4, "each message once");
    assert_eq!(sink.connections.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn idle_connections_are_closed_after_the_limit() {
    use std::sync::atomic::Ordering;
    let ca = Ca::new();
    let settings = quick_settings(&ca);
    let sink = Sink::start("127.0.0.1:0", None, vec![]).await;
    let cache = SessionCache::new(Duration::from_millis(200), 4);
    send_through(
        &cache,
        &settings,
        &sink,
        "mx.test",
        &TlsRequirement::Opportunistic,
        1,
    )
    .await;
    cache.close_idle().await;
    assert_eq!(cache.len(), 1, "still fresh");
    tokio::time::sleep(Duration::from_millis(300)).await;
    cache.close_idle().await;
    assert!(cache.is_empty(), "closed after the idle limit");
    send_through(
        &cache,
        &settings,
        &sink,
        "mx.test",
        &TlsRequirement::Opportunistic,
        1,
    )
    .await;
    assert_eq!(
        sink.connections.load(Ordering::SeqCst),
        2,
        "a new connection after it"
    );
    assert_eq!(sink.messages().len(), 2);
}

/// A server on loopback that says nothing until it has read `until`, then `reply`, step
/// by step (after its greeting); then it reads until the client is gone. Returns its
/// address and, at the end, everything it read.
async fn scripted(
    steps: Vec<(&'static str, &'static str)>,
) -> (std::net::SocketAddr, tokio::task::JoinHandle<String>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let served = tokio::spawn(async move {
        let (mut c, _) = listener.accept().await.expect("accept");
        let mut seen = Vec::new();
        let mut from = 0;
        c.write_all(b"220 scripted ESMTP\r\n").await.expect("greet");
        let mut buf = [0u8; 4096];
        for (until, reply) in steps {
            while !String::from_utf8_lossy(&seen[from..]).contains(until) {
                let n = c.read(&mut buf).await.expect("read");
                assert!(n > 0, "the client left before sending {until:?}");
                seen.extend_from_slice(&buf[..n]);
            }
            from = seen.len();
            c.write_all(reply.as_bytes()).await.expect("reply");
        }
        let rest = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match c.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
        })
        .await;
        assert!(rest.is_ok(), "the client never closed the connection");
        String::from_utf8_lossy(&seen).into_owned()
    });
    (addr, served)
}

/// [`BODY`] from a@praktijk.test to `rcpt`, with TLS if offered (the scripted server
/// offers none).
async fn deliver_plain(
    addr: std::net::SocketAddr,
    rcpt: &str,
) -> Result<veilpost_smtp::Delivered, DeliveryError> {
    let rcpt = vec![rcpt.to_string()];
    let msg = Outgoing {
        mail_from: "a@praktijk.test",
        rcpt_to: &rcpt,
        data: BODY,
        smtputf8: false,
    };
    let settings = quick_settings(&Ca::new());
    deliver(
        &settings,
        addr,
        "mx.scripted.test",
        &TlsRequirement::Opportunistic,
        &msg,
    )
    .await
}

/// A server that offers PIPELINING gets MAIL, RCPT and DATA at once: this one answers
/// MAIL only after it has read DATA, so a client waiting for each reply would time out.
#[tokio::test]
async fn a_server_that_offers_pipelining_gets_the_transaction_in_two_round_trips() {
    let (addr, served) = scripted(vec![
        (
            "\r\n",
            "250-scripted\r\n250-SIZE 1000000\r\n250 PIPELINING\r\n",
        ),
        ("DATA\r\n", "250 2.1.0 ok\r\n250 2.1.5 ok\r\n354 go on\r\n"),
        ("\r\n.\r\n", "250 2.0.0 queued as P1\r\n"),
        ("QUIT\r\n", "221 bye\r\n"),
    ])
    .await;
    let started = std::time::Instant::now();
    let done = deliver_plain(addr, "b@ontvanger.test")
        .await
        .expect("delivered");
    assert!(done.reply.contains("queued as P1"), "{}", done.reply);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "no command waited"
    );
    let seen = served.await.expect("server");
    let mail = seen
        .find("MAIL FROM:<a@praktijk.test> SIZE=")
        .expect("MAIL");
    let rcpt = seen.find("RCPT TO:<b@ontvanger.test>\r\n").expect("RCPT");
    let data = seen.find("DATA\r\n").expect("DATA");
    assert!(mail < rcpt && rcpt < data, "{seen}");
    assert!(seen.contains("BSN 111222333\r\n.\r\nQUIT\r\n"), "{seen}");
}

/// A refused recipient fails the delivery, and a server that answered DATA with 354 all
/// the same gets no data: the connection closes without ending the transaction.
#[tokio::test]
async fn a_refused_recipient_gets_no_data_even_after_354() {
    let (addr, served) = scripted(vec![
        ("\r\n", "250-scripted\r\n250 PIPELINING\r\n"),
        (
            "DATA\r\n",
            "250 ok\r\n550 5.1.1 no such user\r\n354 go on\r\n",
        ),
    ])
    .await;
    let e = deliver_plain(addr, "nobody@ontvanger.test")
        .await
        .expect_err("refused");
    assert!(e.permanent, "{e:?}");
    assert!(
        e.to_string().contains("RCPT TO: 550 5.1.1 no such user"),
        "{e}"
    );
    let seen = served.await.expect("server");
    assert!(!seen.contains("BSN"), "no data was sent: {seen}");
    assert!(!seen.contains("\r\n.\r\n"), "{seen}");
}
