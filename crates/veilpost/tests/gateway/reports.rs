//! DMARC and TLS reports through the MX listener (issue 19, point 1): a reporter's mail to
//! `dmarc-rua@` / `tls-rpt@` is read and counted once, never sent on; a report whose mail
//! does not authenticate, or about a domain not ours, is kept aside with the reason; the
//! summary shows what was counted.

use std::io::Write;
use std::time::Duration;

use veilpost_dns::testserver::{TestDnsServer, Zone};
use veilpost_testkit::sink::Sink;

use crate::{Gateway, free_port, test_dir, veilpost};

/// A DMARC aggregate report about `domain` from `reporter`, for the day before now.
pub(crate) fn dmarc_xml(
    reporter: &str,
    id: &str,
    domain: &str,
    rows: &[(&str, u32, bool, bool)],
) -> String {
    let end = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        - 3600;
    let word = |b: bool| if b { "pass" } else { "fail" };
    let records: String = rows
        .iter()
        .map(|(ip, count, spf, dkim)| {
            format!(
                "<record><row><source_ip>{ip}</source_ip><count>{count}</count><policy_evaluated>\
                 <disposition>none</disposition><dkim>{}</dkim><spf>{}</spf></policy_evaluated></row>\
                 <identifiers><header_from>{domain}</header_from></identifiers><auth_results>\
                 <dkim><domain>{domain}</domain><selector>s1</selector><result>{}</result></dkim>\
                 <spf><domain>{domain}</domain><result>{}</result></spf></auth_results></record>",
                word(*dkim),
                word(*spf),
                word(*dkim),
                word(*spf)
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<feedback><report_metadata><org_name>{reporter}</org_name>\
         <email>noreply-dmarc-support@{reporter}</email><report_id>{id}</report_id>\
         <date_range><begin>{}</begin><end>{end}</end></date_range></report_metadata>\
         <policy_published><domain>{domain}</domain><adkim>r</adkim><aspf>r</aspf><p>none</p>\
         <sp>none</sp><pct>100</pct></policy_published>{records}</feedback>",
        end - 86_399
    )
}

/// A zip of one file, as Google attaches its reports.
fn zipped(name: &str, data: &[u8]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.start_file(name, zip::write::SimpleFileOptions::default())
        .expect("zip");
    w.write_all(data).expect("zip");
    w.finish().expect("zip").into_inner()
}

/// A report mail from `from` to `to` with `attachment` (content type, name, bytes).
pub(crate) fn report_mail(
    from: &str,
    to: &str,
    subject: &str,
    attachment: (&str, &str, Vec<u8>),
) -> String {
    mail_builder::MessageBuilder::new()
        .from(from)
        .to(to)
        .subject(subject)
        .message_id(format!(
            "{}@{}",
            subject.len(),
            from.split('@').nth(1).unwrap_or("x")
        ))
        .text_body("This is an aggregate report.")
        .attachment(attachment.0, attachment.1, attachment.2)
        .write_to_string()
        .expect("mail")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_to_the_report_addresses_are_counted_once_or_kept_aside() {
    let dir = test_dir("authreports");
    let mailboxes = Sink::start("127.0.0.1:0", None, vec![]).await;
    let mx_port = free_port();
    // The TLS reporter signs its mail (RFC 8460 §5.3): a key of its own, published.
    let keys = dir.join("keys");
    crate::dkim_keygen("company-x.test", "tls", &keys);
    let record = std::fs::read_to_string(keys.join("tls.company-x.test.txt")).expect("record");
    let value: String = record.split('"').skip(1).step_by(2).collect();

    let mut zone = Zone::new();
    for (line, rtype, data) in [
        ("google.test", "TXT", "\"v=spf1 ip4:127.0.0.1 -all\""),
        ("_dmarc.google.test", "TXT", "\"v=DMARC1; p=reject\""),
        ("company-x.test", "TXT", "\"v=spf1 -all\""),
        ("spoof.test", "TXT", "\"v=spf1 -all\""),
    ] {
        zone.record(line, rtype, data).expect("zone");
    }
    zone.txt("tls._domainkey.company-x.test", &[&value])
        .expect("zone");
    let dns = TestDnsServer::start(zone).await.expect("dns");
    let mut gw = Gateway::configure_smtp(
        &dir,
        &format!("inbound_listen = \"127.0.0.1:{mx_port}\""),
        &format!(
            "[delivery]\nmode = \"mx\"\n[inbound]\nrelay_to = \"{}\"\ndigest_hour = -1\n\
             [dns]\nnameservers = [\"{}\"]\n",
            mailboxes.addr,
            dns.addr()
        ),
    );
    gw.start();
    let send = |from: &str, to: &str, raw: String| {
        crate::inbound::send_plain(
            mx_port,
            serde_json::json!({"from": from, "to": [to], "raw": raw}),
        )
    };

    let xml = dmarc_xml(
        "google.test",
        "g-1",
        "praktijk.test",
        &[
            ("192.0.2.1", 90, true, true),
            ("198.51.100.9", 10, false, false),
        ],
    );
    let google = |subject: &str| {
        report_mail(
            "noreply-dmarc-support@google.test",
            "dmarc-rua@praktijk.test",
            subject,
            (
                "application/zip",
                "google.test!praktijk.test!1!2.zip",
                zipped("google.test!praktijk.test!1!2.xml", xml.as_bytes()),
            ),
        )
    };
    // Counted, then the same report again: not counted twice.
    for subject in [
        "Report domain: praktijk.test",
        "Report domain: praktijk.test (again)",
    ] {
        let r = send(
            "noreply-dmarc-support@google.test",
            "dmarc-rua@praktijk.test",
            google(subject),
        );
        assert_eq!(r["code"], 250, "{r}\n{}", gw.log());
    }
    // A report whose mail does not pass DMARC.
    let spoofed = report_mail(
        "dmarc@spoof.test",
        "dmarc-rua@praktijk.test",
        "Report domain: praktijk.test",
        (
            "application/xml",
            "spoof.xml",
            dmarc_xml(
                "spoof.test",
                "s-1",
                "praktijk.test",
                &[("203.0.113.5", 1000, true, true)],
            )
            .into_bytes(),
        ),
    );
    assert_eq!(
        send("dmarc@spoof.test", "dmarc-rua@praktijk.test", spoofed)["code"],
        250
    );
    // A report about someone else's domain.
    let other = report_mail(
        "noreply-dmarc-support@google.test",
        "dmarc-rua@praktijk.test",
        "Report domain: elders.test",
        (
            "application/xml",
            "other.xml",
            dmarc_xml(
                "google.test",
                "g-2",
                "elders.test",
                &[("192.0.2.7", 5, true, true)],
            )
            .into_bytes(),
        ),
    );
    assert_eq!(
        send(
            "noreply-dmarc-support@google.test",
            "dmarc-rua@praktijk.test",
            other
        )["code"],
        250
    );
    // A TLS report, signed by its reporter, and the same unsigned.
    let tls_mail = |id: &str| {
        let json = format!(
            r#"{{"organization-name":"Company-X","date-range":{{"start-datetime":"2026-11-30T00:00:00Z","end-datetime":"2026-11-30T23:59:59Z"}},"contact-info":"tls@company-x.test","report-id":"{id}","policies":[{{"policy":{{"policy-type":"sts","policy-domain":"praktijk.test","mx-host":["mx.praktijk.test"]}},"summary":{{"total-successful-session-count":50,"total-failure-session-count":4}},"failure-details":[{{"result-type":"certificate-expired","receiving-mx-hostname":"mx.praktijk.test","failed-session-count":4}}]}}]}}"#
        );
        report_mail(
            "tls-reports@company-x.test",
            "tls-rpt@praktijk.test",
            &format!("Report Domain: praktijk.test Submitter: company-x.test Report-ID: <{id}>"),
            (
                "application/tlsrpt+json",
                "company-x.test!praktijk.test!1!2.json",
                json.into_bytes(),
            ),
        )
    };
    let mut sign = veilpost()
        .args([
            "dkim",
            "sign",
            "--domain",
            "company-x.test",
            "--selector",
            "tls",
            "--key",
        ])
        .arg(keys.join("tls.company-x.test.key"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("sign");
    sign.stdin
        .take()
        .expect("stdin")
        .write_all(tls_mail("tls-1").as_bytes())
        .expect("write");
    let signed = sign.wait_with_output().expect("sign");
    assert!(signed.status.success());
    let signed = String::from_utf8(signed.stdout).expect("utf-8");
    assert_eq!(
        send(
            "tls-reports@company-x.test",
            "tls-rpt@praktijk.test",
            signed
        )["code"],
        250
    );
    let unsigned = tls_mail("tls-2");
    assert_eq!(
        send(
            "tls-reports@company-x.test",
            "tls-rpt@praktijk.test",
            unsigned
        )["code"],
        250
    );

    // Wait until all six are processed.
    let db = dir.join("data").join("veilpost.db");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let done = crate::sql(
            &db,
            "SELECT COUNT(*) FROM messages WHERE origin = 'inbound' AND state = 'processed'",
        );
        if done == serde_json::json!([[6]]) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{done}\n{}", gw.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let counted = crate::sql(
        &db,
        "SELECT kind, reporter, report_id, via FROM auth_reports ORDER BY kind",
    );
    assert_eq!(
        counted,
        serde_json::json!([
            ["dmarc", "google.test", "g-1", "mail"],
            ["tlsrpt", "Company-X", "tls-1", "mail"]
        ]),
        "{}",
        gw.log()
    );
    let aside = crate::sql(
        &db,
        "SELECT reason, reporter, report_id, raw IS NOT NULL FROM reports_aside ORDER BY report_id",
    );
    assert_eq!(
        aside,
        serde_json::json!([
            ["not_our_domain", "google.test", "g-2", 1],
            ["unauthenticated", "spoof.test", "s-1", 1],
            ["unauthenticated", "Company-X", "tls-2", 1]
        ]),
        "{}",
        gw.log()
    );
    // The summary: the second copy did not count twice, the spoof not at all.
    let out = gw.cli(&["report", "summary", "praktijk.test", "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(s["messages"], 100, "{s}");
    assert_eq!(s["ready_for_reject"], false);
    assert_eq!(s["blocking_sources"], serde_json::json!(["198.51.100.9"]));
    // Nothing was sent on to the mailboxes.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(mailboxes.messages().is_empty(), "{}", gw.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_reports_posted_over_https_are_counted_once() {
    let dir = test_dir("tlsrpt-post");
    let mut gw = Gateway::configure(&dir, "");
    gw.start();
    let report = |id: &str, domain: &str| {
        let json = format!(
            r#"{{"organization-name":"Company-Y","date-range":{{"start-datetime":"2026-11-30T00:00:00Z","end-datetime":"2026-11-30T23:59:59Z"}},"report-id":"{id}","policies":[{{"policy":{{"policy-type":"tlsa","policy-domain":"{domain}"}},"summary":{{"total-successful-session-count":7,"total-failure-session-count":1}},"failure-details":[{{"result-type":"dane-required","receiving-mx-hostname":"mx.{domain}","failed-session-count":1}}]}}]}}"#
        );
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(json.as_bytes()).expect("gzip");
        e.finish().expect("gzip")
    };
    let post = |body: Vec<u8>, kind: &'static str| {
        let port = gw.web_port;
        async move { crate::http_post(port, "/tlsrpt", kind, &body).await }
    };
    let (status, text) = post(report("y-1", "praktijk.test"), "application/tlsrpt+gzip").await;
    assert_eq!(status, 201, "{text}\n{}", gw.log());
    // Again: 201 (taken), not counted twice.
    let (status, _) = post(report("y-1", "praktijk.test"), "application/tlsrpt+gzip").await;
    assert_eq!(status, 201);
    // About another domain: taken, kept aside.
    let (status, _) = post(report("y-2", "elders.test"), "application/tlsrpt+gzip").await;
    assert_eq!(status, 201);
    // Not a report: 400, kept for inspection; the wrong type: 415.
    let (status, _) = post(b"{\"hello\": 1}".to_vec(), "application/tlsrpt+json").await;
    assert_eq!(status, 400);
    let (status, _) = post(report("y-3", "praktijk.test"), "text/plain").await;
    assert_eq!(status, 415);
    let db = dir.join("data").join("veilpost.db");
    assert_eq!(
        crate::sql(&db, "SELECT reporter, report_id, via FROM auth_reports"),
        serde_json::json!([["Company-Y", "y-1", "https"]])
    );
    assert_eq!(
        crate::sql(
            &db,
            "SELECT reason, report_id FROM reports_aside ORDER BY received_at, id"
        ),
        serde_json::json!([["not_our_domain", "y-2"], ["unreadable", ""]])
    );
    assert_eq!(
        crate::sql(
            &db,
            "SELECT mx, result_type, failures FROM tls_rows WHERE result_type <> ''"
        ),
        serde_json::json!([["mx.praktijk.test", "dane-required", 1]])
    );
}
