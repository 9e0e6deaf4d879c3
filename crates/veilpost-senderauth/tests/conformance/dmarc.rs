//! DMARC: authheaders' cases (tests/suites/auth-authheaders/README.md), plus SPF
//! alignment and pct.

use std::net::IpAddr;

use veilpost_dns::testserver::Zone;
use veilpost_senderauth::{AuthResult, DmarcPolicy, VerifyRequest};

use crate::{crlf, read, serve};

fn authheaders_zone() -> Zone {
    let zone = format!(
        r#"
        test._domainkey.example.com TXT "{key}"
        _dmarc.example.com     TXT "v=DMARC1; p=reject; rua=mailto:dmarc@example.com; ruf=mailto:dmarc@example.com"
        _dmarc.example.org     TXT "v=DMARC1; p=none"
        _dmarc.example.net     TXT "v=DMARC1; p=none; sp=reject"
        _dmarc.example.biz     TXT "v=DMARC1; p=none; sp=quarantine; np=reject"
        _dmarc.nop.example.org TXT "v=DMARC1; sp=quarantine; np=reject"
        _dmarc.bad.example.com TXT "v=DMARC1; p=none; reject"
        _dmarc.gov             TXT "v=DMARC1; p=reject; sp=none; np=reject; psd=y"
        sub2.example.biz       A   192.0.2.10
        "#,
        key = read("auth-authheaders/test.txt").trim()
    );
    Zone::parse(&zone).expect("zone")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authheaders_dmarc_cases() {
    let (_server, auth) = serve(authheaders_zone()).await;
    let ip: IpAddr = "192.0.2.99".parse().expect("ip");
    let cases: &[(&str, AuthResult, Option<DmarcPolicy>)] = &[
        (
            "test.message_signed",
            AuthResult::Pass,
            Some(DmarcPolicy::Reject),
        ),
        (
            "testcomma.message",
            AuthResult::Pass,
            Some(DmarcPolicy::Reject),
        ),
        ("test.bad.message", AuthResult::PermError, None),
        ("test.nofrom.message", AuthResult::PermError, None),
        (
            "test.message_multi",
            AuthResult::Fail,
            Some(DmarcPolicy::Reject),
        ),
        (
            "test.message_multi2",
            AuthResult::Fail,
            Some(DmarcPolicy::Reject),
        ),
        (
            "test.message_sub",
            AuthResult::Fail,
            Some(DmarcPolicy::Reject),
        ),
        (
            "test.message_np1",
            AuthResult::Fail,
            Some(DmarcPolicy::Reject),
        ),
        (
            "test.message_np2",
            AuthResult::Fail,
            Some(DmarcPolicy::Quarantine),
        ),
        ("test_nop.message", AuthResult::None, None),
        (
            "test.gov.message",
            AuthResult::Fail,
            Some(DmarcPolicy::Reject),
        ),
    ];
    let mut wrong = Vec::new();
    for (file, result, policy) in cases {
        let raw = crlf(&read(&format!("auth-authheaders/{file}")));
        // SPF off, as in authheaders' tests: the HELO name has no SPF record.
        let v = auth
            .verify(&VerifyRequest {
                message: &raw,
                ip,
                helo: "localhost",
                mail_from: "",
            })
            .await;
        let ok = v.dmarc.result == *result && policy.is_none_or(|p| v.dmarc.policy == p);
        if !ok {
            wrong.push(format!(
                "{file}: want {result} {policy:?}, got {:?}",
                v.dmarc
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spf_alignment_and_pct() {
    let zone = Zone::parse(
        r#"
        praktijk.test        TXT "v=spf1 ip4:192.0.2.0/24 -all"
        bounces.praktijk.test TXT "v=spf1 ip4:192.0.2.0/24 -all"
        _dmarc.praktijk.test TXT "v=DMARC1; p=reject; aspf=s; pct=0"
        other.test           TXT "v=spf1 ip4:192.0.2.0/24 -all"
        "#,
    )
    .expect("zone");
    let (_server, auth) = serve(zone).await;
    let msg = b"From: a@praktijk.test\r\nSubject: x\r\n\r\nbody\r\n";
    let verify = |mail_from: &'static str| VerifyRequest {
        message: msg,
        ip: "192.0.2.7".parse().expect("ip"),
        helo: "mail.praktijk.test",
        mail_from,
    };
    let v = auth.verify(&verify("a@praktijk.test")).await;
    assert_eq!(v.spf.result, AuthResult::Pass);
    assert_eq!(v.dmarc.result, AuthResult::Pass, "{:?}", v.dmarc);
    assert!(v.dmarc.spf_aligned);
    // Strict SPF alignment: a subdomain bounce address does not align.
    let v = auth.verify(&verify("b@bounces.praktijk.test")).await;
    assert_eq!(v.spf.result, AuthResult::Pass);
    assert_eq!(v.dmarc.result, AuthResult::Fail, "{:?}", v.dmarc);
    // pct=0: the reject policy applies to no one, so the disposition is one step milder.
    assert_eq!(v.dmarc.policy, DmarcPolicy::Reject);
    assert_eq!(v.dmarc.disposition, DmarcPolicy::Quarantine);
    // Another domain's SPF pass never aligns.
    let v = auth.verify(&verify("c@other.test")).await;
    assert_eq!(v.dmarc.result, AuthResult::Fail);
    assert!(
        v.authentication_results
            .contains("dmarc=fail (p=reject dis=quarantine) header.from=praktijk.test"),
        "{}",
        v.authentication_results
    );
}
