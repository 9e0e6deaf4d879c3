//! Bad input: malformed signatures, oversized records, dead and failing DNS. Results are
//! temperror/permerror words with a reason, within the configured time.

use std::time::{Duration, Instant};

use veilpost_dns::testserver::Zone;
use veilpost_senderauth::{AuthResult, VerifyRequest};

use crate::serve;

#[tokio::test]
async fn malformed_dkim_signature_tags() {
    let (_server, auth) = serve(Zone::new()).await;
    let bodies = [
        "DKIM-Signature: v=1; a=rsa-sha256; d=example.com\r\n",
        "DKIM-Signature: v=2; a=rsa-sha256; c=relaxed; d=example.com; s=s; h=from; bh=AAAA; b=AAAA\r\n",
        "DKIM-Signature: v=1; a=rot13; c=relaxed; d=example.com; s=s; h=from; bh=AAAA; b=AAAA\r\n",
        "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed; d=example.com; s=s; h=; bh=!!!; b=@@@\r\n",
        "DKIM-Signature: ;;;;====;;;\r\n",
        "DKIM-Signature: v=1; a=rsa-sha256; d=; s=; h=from; bh=AAAA; b=AAAA; l=99999999999999999999\r\n",
    ];
    for sig in bodies {
        let msg = format!("{sig}From: a@example.com\r\nSubject: x\r\n\r\nbody\r\n");
        let out = auth.check_dkim(msg.as_bytes()).await;
        assert!(!out.is_empty(), "{sig:?}");
        for d in &out {
            assert!(
                matches!(
                    d.result,
                    AuthResult::PermError | AuthResult::Neutral | AuthResult::Fail
                ),
                "{sig:?}: {d:?}"
            );
            assert!(
                d.detail.as_deref().is_some_and(|s| !s.is_empty()),
                "a reason: {d:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_64_kilobyte_spf_record_is_a_permerror() {
    let mut zone = Zone::new();
    let big = format!("v=spf1 {} -all", "ip4:192.0.2.1 ".repeat(4300));
    assert!(big.len() > 60_000);
    zone.txt("big.test", &[&big]).expect("txt");
    let (_server, auth) = serve(zone).await;
    let spf = auth
        .check_spf(
            "192.0.2.9".parse().expect("ip"),
            "mail.big.test",
            "a@big.test",
        )
        .await;
    assert!(
        matches!(spf.result, AuthResult::PermError | AuthResult::Fail),
        "{spf:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_timeouts_and_servfail_are_temperrors_within_the_deadline() {
    let zone = Zone::parse(
        "slow.test TIMEOUT\n_dmarc.slow.test TIMEOUT\ns._domainkey.slow.test TIMEOUT\n\
         broken.test SERVFAIL\n_dmarc.broken.test SERVFAIL\n",
    )
    .expect("zone");
    let (_server, auth) = serve(zone).await;
    let ip = "192.0.2.1".parse().expect("ip");
    let start = Instant::now();
    assert_eq!(
        auth.check_spf(ip, "h.test", "a@slow.test").await.result,
        AuthResult::TempError
    );
    assert_eq!(
        auth.check_spf(ip, "h.test", "a@broken.test").await.result,
        AuthResult::TempError
    );
    let msg = "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=slow.test; s=s; h=from; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA\r\n\
               From: a@slow.test\r\n\r\n";
    let v = auth
        .verify(&VerifyRequest {
            message: msg.as_bytes(),
            ip,
            helo: "h.test",
            mail_from: "a@slow.test",
        })
        .await;
    assert_eq!(v.spf.result, AuthResult::TempError);
    assert_eq!(v.dkim[0].result, AuthResult::TempError, "{:?}", v.dkim);
    assert_eq!(v.dmarc.result, AuthResult::TempError, "{:?}", v.dmarc);
    let v = auth
        .verify(&VerifyRequest {
            message: b"From: a@broken.test\r\n\r\nx",
            ip,
            helo: "h.test",
            mail_from: "a@broken.test",
        })
        .await;
    assert_eq!(v.dmarc.result, AuthResult::TempError, "{:?}", v.dmarc);
    // Each look-up gives up after 0.5 s (the test server's config): all of this is quick.
    assert!(
        start.elapsed() < Duration::from_secs(8),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn whole_verification_is_bounded_by_its_deadline() {
    let zone = Zone::parse("slow.test TIMEOUT\n_dmarc.slow.test TIMEOUT\n").expect("zone");
    let server = veilpost_dns::testserver::TestDnsServer::start(zone)
        .await
        .expect("server");
    let mut config = server.config();
    config.timeout = Duration::from_secs(30);
    let auth = veilpost_senderauth::Authenticator::new(&config, "mx.test")
        .expect("auth")
        .with_deadline(Duration::from_millis(800));
    let start = Instant::now();
    let v = auth
        .verify(&VerifyRequest {
            message: b"From: a@slow.test\r\n\r\nx",
            ip: "192.0.2.1".parse().expect("ip"),
            helo: "h.test",
            mail_from: "a@slow.test",
        })
        .await;
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(v.spf.result, AuthResult::TempError);
    assert_eq!(v.dmarc.result, AuthResult::TempError);
}

#[tokio::test]
async fn not_a_message() {
    let (_server, auth) = serve(Zone::new()).await;
    for raw in [&b""[..], b"\x00\x01\x02", b"no headers at all"] {
        let v = auth
            .verify(&VerifyRequest {
                message: raw,
                ip: "192.0.2.1".parse().expect("ip"),
                helo: "h.test",
                mail_from: "",
            })
            .await;
        assert!(v.dkim.is_empty());
        assert_eq!(v.dmarc.result, AuthResult::PermError, "{:?}", v.dmarc);
        assert!(
            v.authentication_results
                .starts_with("Authentication-Results: mx.veilpost.test;")
        );
    }
}

/// Every parser of outside input over byte-mutated suite messages and records: no panic.
/// A deterministic complement to `cargo fuzz run auth_headers`.
#[test]
fn parsers_survive_mutations() {
    let mut seeds: Vec<Vec<u8>> = Vec::new();
    for file in [
        "dkim-dkimpy/rfc6376.signed.msg",
        "auth-authheaders/test.message_signed",
        "arc/arc-draft-validation-tests.yml",
    ] {
        seeds.push(crate::read(file).into_bytes());
    }
    seeds.push(
        b"v=spf1 include:%{d2}._spf.%{ir}.%{v} a/24//64 mx:%{o} exists:%{l1r-}.x -all exp=%{h}"
            .to_vec(),
    );
    seeds.push(b"v=DMARC1; p=reject; sp=none; pct=50; rua=mailto:a@b.nl".to_vec());
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut runs = 0;
    for seed in &seeds {
        let chunk = &seed[..seed.len().min(8192)];
        for _ in 0..400 {
            let mut m = chunk.to_vec();
            for _ in 0..1 + next() % 8 {
                let i = (next() as usize) % m.len().max(1);
                match next() % 3 {
                    0 if !m.is_empty() => m[i] = next() as u8,
                    1 if !m.is_empty() => {
                        m.remove(i);
                    }
                    _ => m.insert(i.min(m.len()), b"%;={}:/\r\n"[(next() % 9) as usize]),
                }
            }
            veilpost_senderauth::fuzz_parsers(&m);
            runs += 1;
        }
    }
    assert_eq!(runs, 2000);
}
