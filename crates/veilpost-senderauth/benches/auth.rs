//! Sender-authentication throughput, one core, against the in-process DNS server on
//! loopback:
//!
//! - `dkim_verify_rsa2048`: one RSA-2048 signature over a typical message, key cached.
//! - `dkim_sign_rsa2048`: signing that message (what the gateway does for every message
//!   from the organisation's domains; the key parsed once, as in `serve`).
//! - `spf_evaluate`: a realistic policy (`include`, `a`, `mx`, `ip4`, `-all`), resolver
//!   cache warm; and `spf_evaluate_uncached`, every look-up asked of the DNS server.
//!
//! Run: `cargo bench -p veilpost-senderauth --bench auth`

use std::net::IpAddr;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use veilpost_dns::testserver::{TestDnsServer, Zone};
use veilpost_senderauth::Authenticator;
use veilpost_senderauth::dkim::{KeyAlgorithm, SigningKey};

const MESSAGE: &[u8] = b"From: Sanne Jansen <s.jansen@praktijk.test>\r\n\
To: Team <team@zorg.test>\r\n\
Subject: Re: planning voorjaar\r\n\
Date: Mon, 2 Mar 2026 09:00:00 +0100\r\n\
Message-ID: <bench@praktijk.test>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\n\
Beste collega's,\r\n\r\nHierbij de planning voor de komende weken. De teamvergadering van\r\n\
donderdag begint om 10.00 uur in zaal 2. Wil iedereen voor 1 april zijn vakantiewensen\r\n\
doorgeven aan het secretariaat?\r\n\r\nMet vriendelijke groet,\r\nSanne Jansen\r\n";

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let key = SigningKey::generate(KeyAlgorithm::Rsa2048).expect("key");
    let zone = Zone::parse(
        "praktijk.test       TXT \"v=spf1 include:_spf.provider.test a mx ip4:198.51.100.0/24 -all\"\n\
         _spf.provider.test  TXT \"v=spf1 ip4:203.0.113.0/24 ip6:2001:db8::/32 -all\"\n\
         praktijk.test       A   192.0.2.10\n\
         praktijk.test       MX  10 mx1.praktijk.test.\n\
         mx1.praktijk.test   A   192.0.2.20\n",
    )
    .expect("zone");
    let mut zone = zone;
    zone.txt("bench._domainkey.praktijk.test", &[&key.dns_record()])
        .expect("key record");
    let server = rt.block_on(TestDnsServer::start(zone)).expect("server");
    let config = server.config();
    let auth = Authenticator::new(&config, "mx.veilpost.test").expect("auth");
    let header = key.sign(MESSAGE, "praktijk.test", "bench").expect("sign");
    let signed = [header.as_bytes(), MESSAGE].concat();
    // Warm the key cache and check the set-up works.
    let first = rt.block_on(auth.check_dkim(&signed));
    assert_eq!(first[0].result.as_str(), "pass", "{first:?}");

    let mut group = c.benchmark_group("dkim");
    group.throughput(Throughput::Elements(1));
    group.bench_function("dkim_verify_rsa2048", |b| {
        b.iter(|| rt.block_on(auth.check_dkim(&signed)))
    });
    group.bench_function("dkim_sign_rsa2048", |b| {
        b.iter(|| key.sign(MESSAGE, "praktijk.test", "bench").expect("sign"))
    });
    group.finish();

    // The client matches the mx mechanism: include, a and mx are all evaluated.
    let ip: IpAddr = "192.0.2.20".parse().expect("ip");
    let spf = rt.block_on(auth.check_spf(ip, "mx1.praktijk.test", "s.jansen@praktijk.test"));
    assert_eq!(spf.result.as_str(), "pass", "{spf:?}");
    let mut group = c.benchmark_group("spf");
    group.throughput(Throughput::Elements(1));
    group.bench_function("spf_evaluate", |b| {
        b.iter(|| rt.block_on(auth.check_spf(ip, "mx1.praktijk.test", "s.jansen@praktijk.test")))
    });
    let mut uncached = config.clone();
    uncached.cache_size = 0;
    uncached.timeout = Duration::from_secs(2);
    let cold = Authenticator::new(&uncached, "mx.veilpost.test").expect("auth");
    group.bench_function("spf_evaluate_uncached", |b| {
        b.iter(|| rt.block_on(cold.check_spf(ip, "mx1.praktijk.test", "s.jansen@praktijk.test")))
    });
    group.finish();
    drop(server);
}

criterion_group!(auth, benches);
criterion_main!(auth);
