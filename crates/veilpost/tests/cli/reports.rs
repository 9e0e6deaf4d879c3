//! `veilpost report import` and `report summary` (issue 19): a corpus of reports in the
//! shapes reporters send (Google's zip, Microsoft's gzip with schema attributes, Yahoo's
//! plain XML, AOL's namespace prefix, RFC 9990 from mail-auth's own generator, TLS-RPT
//! JSON and gzip, as files and as mails), read the same as parsedmarc reads them (row
//! counts and totals equal), counted once, hostile inputs refused within limits.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use crate::{root, run_bounded, veilpost};

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("veilpost-reports-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn config(dir: &Path, domains: &[&str]) -> PathBuf {
    let path = dir.join("veilpost.toml");
    let list: Vec<String> = domains.iter().map(|d| format!("\"{d}\"")).collect();
    std::fs::write(
        &path,
        format!(
            "data_dir = \"{}\"\n[organisation]\ndomains = [{}]\n",
            dir.join("data").display(),
            list.join(", ")
        ),
    )
    .expect("config");
    path
}

fn run(args: &[&str], config: &Path) -> Output {
    veilpost()
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .expect("veilpost")
}

/// `veilpost report import --format json PATH` under `config`.
fn import(path: &Path, config: &Path) -> Output {
    run(
        &[
            "report",
            "import",
            "--format",
            "json",
            path.to_str().expect("path"),
        ],
        config,
    )
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

fn zip_of(name: &str, data: &[u8]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.start_file(
        name,
        zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated),
    )
    .expect("zip");
    w.write_all(data).expect("zip");
    w.finish().expect("zip").into_inner()
}

/// Deterministic numbers for the corpus (no rand dependency, same corpus every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// One record: (ip, count, spf aligned, dkim aligned).
type Row = (String, u32, bool, bool);

fn rows(rng: &mut Lcg, n: usize) -> Vec<Row> {
    (0..n)
        .map(|_| {
            let ip = if rng.next(4) == 0 {
                format!("2001:db8::{:x}", rng.next(65_000) + 1)
            } else {
                format!("198.51.{}.{}", rng.next(255), rng.next(254) + 1)
            };
            (
                ip,
                rng.next(500) as u32 + 1,
                rng.next(3) > 0,
                rng.next(3) > 0,
            )
        })
        .collect()
}

/// The legacy schema (RFC 7489 appendix C) with a reporter's own touches: `root_open`
/// is the opening `<feedback …>` element, `version` and `contact` optional elements.
fn legacy_xml(
    (root_open, root_close): (&str, &str),
    reporter: &str,
    id: &str,
    domain: &str,
    begin: u64,
    rows: &[Row],
    version: bool,
) -> String {
    let word = |b: bool| if b { "pass" } else { "fail" };
    let mut x = format!("<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n{root_open}\n");
    if version {
        x.push_str("  <version>1.0</version>\n");
    }
    x.push_str(&format!(
        "  <report_metadata>\n    <org_name>{reporter}</org_name>\n    <email>dmarc@{reporter}</email>\n\
         \x20   <extra_contact_info>https://{reporter}/dmarc</extra_contact_info>\n    <report_id>{id}</report_id>\n\
         \x20   <date_range>\n      <begin>{begin}</begin>\n      <end>{}</end>\n    </date_range>\n  </report_metadata>\n\
         \x20 <policy_published>\n    <domain>{domain}</domain>\n    <adkim>r</adkim>\n    <aspf>r</aspf>\n\
         \x20   <p>none</p>\n    <sp>none</sp>\n    <pct>100</pct>\n    <fo>1</fo>\n  </policy_published>\n",
        begin + 86_399
    ));
    for (ip, count, spf, dkim) in rows {
        x.push_str(&format!(
            "  <record>\n    <row>\n      <source_ip>{ip}</source_ip>\n      <count>{count}</count>\n\
             \x20     <policy_evaluated>\n        <disposition>none</disposition>\n        <dkim>{}</dkim>\n\
             \x20       <spf>{}</spf>\n      </policy_evaluated>\n    </row>\n    <identifiers>\n\
             \x20     <envelope_to>{domain}</envelope_to>\n      <envelope_from>{domain}</envelope_from>\n\
             \x20     <header_from>{domain}</header_from>\n    </identifiers>\n    <auth_results>\n\
             \x20     <dkim>\n        <domain>{domain}</domain>\n        <selector>s1</selector>\n\
             \x20       <result>{}</result>\n      </dkim>\n      <spf>\n        <domain>{domain}</domain>\n\
             \x20       <scope>mfrom</scope>\n        <result>{}</result>\n      </spf>\n    </auth_results>\n  </record>\n",
            word(*dkim),
            word(*spf),
            word(*dkim),
            word(*spf)
        ));
    }
    x.push_str(root_close);
    x.push('\n');
    x
}

/// RFC 9990's schema from mail-auth's own generator.
fn rfc9990_report(
    reporter: &str,
    id: &str,
    domain: &str,
    begin: u64,
    rows: &[Row],
) -> mail_auth::report::Report {
    use mail_auth::report::{
        ActionDisposition, DKIMAuthResult, DkimResult, DmarcResult, Record, Report, SPFAuthResult,
        SPFDomainScope, SpfResult,
    };
    let mut r = Report::new()
        .with_version(1.0)
        .with_org_name(reporter)
        .with_email(format!("dmarc@{reporter}"))
        .with_report_id(id)
        .with_date_range_begin(begin)
        .with_date_range_end(begin + 86_399)
        .with_domain(domain)
        .with_p(mail_auth::report::Disposition::Reject);
    for (ip, count, spf, dkim) in rows {
        let res = |b: bool| {
            if b {
                DmarcResult::Pass
            } else {
                DmarcResult::Fail
            }
        };
        r.add_record(
            Record::new()
                .with_source_ip(ip.parse().expect("ip"))
                .with_count(*count)
                .with_action_disposition(ActionDisposition::Pass)
                .with_dmarc_dkim_result(res(*dkim))
                .with_dmarc_spf_result(res(*spf))
                .with_header_from(domain)
                .with_envelope_from(domain)
                .with_dkim_auth_result(
                    DKIMAuthResult::new()
                        .with_domain(domain)
                        .with_selector("s1")
                        .with_result(if *dkim {
                            DkimResult::Pass
                        } else {
                            DkimResult::Fail
                        }),
                )
                .with_spf_auth_result(
                    SPFAuthResult::new()
                        .with_domain(domain)
                        .with_scope(SPFDomainScope::MailFrom)
                        .with_result(if *spf {
                            SpfResult::Pass
                        } else {
                            SpfResult::Fail
                        }),
                ),
        );
    }
    r
}

fn tls_json(reporter: &str, id: &str, domain: &str, ok: u64, failed: u64) -> String {
    serde_json::json!({
        "organization-name": reporter,
        "date-range": {"start-datetime": "2026-11-30T00:00:00Z", "end-datetime": "2026-11-30T23:59:59Z"},
        "contact-info": format!("tlsrpt@{reporter}"),
        "report-id": id,
        "policies": [{
            "policy": {"policy-type": "sts", "policy-string": ["version: STSv1", "mode: enforce"],
                       "policy-domain": domain, "mx-host": [format!("mx.{domain}")]},
            "summary": {"total-successful-session-count": ok, "total-failure-session-count": failed},
            "failure-details": [{"result-type": "certificate-expired", "sending-mta-ip": "192.0.2.1",
                                 "receiving-mx-hostname": format!("mx.{domain}"), "failed-session-count": failed}]
        }]
    })
    .to_string()
}

fn mail_with(from: &str, subject: &str, content_type: &str, name: &str, data: Vec<u8>) -> Vec<u8> {
    mail_builder::MessageBuilder::new()
        .from(from)
        .to("dmarc-rua@praktijk.test")
        .subject(subject)
        .text_body("This is an aggregate report.")
        .attachment(content_type, name, data)
        .write_to_vec()
        .expect("mail")
}

/// Every shape of [`corpus`].
pub(crate) const SHAPES: [u64; 8] = [0, 1, 2, 3, 4, 5, 6, 7];

/// Write the corpus into `dir`: `per_shape` reports of each of `shapes` about `domain`.
/// Returns the expected (records, messages) per report id.
pub(crate) fn corpus(
    dir: &Path,
    per_shape: usize,
    domain: &str,
    seed: u64,
    shapes: &[u64],
) -> Vec<(String, usize, u64)> {
    std::fs::create_dir_all(dir).expect("corpus dir");
    let mut rng = Lcg(seed);
    let mut expected = Vec::new();
    // Yesterday and the days before, whole days (parsedmarc splits longer periods).
    let day0 = (crate::now_secs() / 86_400 - 1) * 86_400;
    for i in 0..per_shape {
        let begin = day0 - 86_400 * (i as u64 % 20);
        for &shape in shapes {
            let n = 1 + rng.next(12) as usize;
            let rs = rows(&mut rng, n);
            let id = format!("{seed}-{i}-{shape}");
            let total: u64 = rs.iter().map(|r| u64::from(r.1)).sum();
            let (name, data): (String, Vec<u8>) = match shape {
                // Google: legacy schema, a zip attachment.
                0 => {
                    let xml = legacy_xml(
                        ("<feedback>", "</feedback>"),
                        "google.com",
                        &id,
                        domain,
                        begin,
                        &rs,
                        false,
                    );
                    let name = format!("google.com!{domain}!{begin}!{}", begin + 86_399);
                    let z = zip_of(&format!("{name}.xml"), xml.as_bytes());
                    (
                        format!("google-{id}.eml"),
                        mail_with(
                            "noreply-dmarc-support@google.com",
                            &format!(
                                "Report domain: {domain} Submitter: google.com Report-ID: {id}"
                            ),
                            "application/zip",
                            &format!("{name}.zip"),
                            z,
                        ),
                    )
                }
                // Microsoft: schema attributes and a version, gzip attachment.
                1 => {
                    let xml = legacy_xml(
                        (
                            "<feedback xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">",
                            "</feedback>",
                        ),
                        "Enterprise Outlook",
                        &id,
                        domain,
                        begin,
                        &rs,
                        true,
                    );
                    (
                        format!("microsoft-{id}.eml"),
                        mail_with(
                            "dmarcreport@microsoft.com",
                            &format!(
                                "Report Domain: {domain} Submitter: protection.outlook.com Report-ID: <{id}>"
                            ),
                            "application/gzip",
                            &format!(
                                "enterprise.protection.outlook.com!{domain}!{begin}!{}.xml.gz",
                                begin + 86_399
                            ),
                            gzip(xml.as_bytes()),
                        ),
                    )
                }
                // Yahoo: plain legacy XML as a file.
                2 => (
                    format!("yahoo.com!{domain}!{begin}!{id}.xml"),
                    legacy_xml(
                        ("<feedback>", "</feedback>"),
                        "Yahoo",
                        &id,
                        domain,
                        begin,
                        &rs,
                        false,
                    )
                    .into_bytes(),
                ),
                // AOL: the schema under a namespace prefix, gzip file.
                3 => (
                    format!("aol.com!{domain}!{begin}!{id}.xml.gz"),
                    gzip(
                        legacy_xml(
                            (
                                "<ns1:feedback xmlns:ns1=\"http://dmarc.org/dmarc-xml/0.1\">",
                                "</ns1:feedback>",
                            ),
                            "AOL",
                            &id,
                            domain,
                            begin,
                            &rs,
                            false,
                        )
                        .as_bytes(),
                    ),
                ),
                // RFC 9990 by mail-auth: XML file, and the generator's own report mail.
                4 => (
                    format!("rfc9990-{id}.xml"),
                    rfc9990_report("receiver.example", &id, domain, begin, &rs)
                        .to_xml()
                        .into_bytes(),
                ),
                5 => (
                    format!("rfc9990-{id}.eml"),
                    rfc9990_report("receiver.example", &id, domain, begin, &rs)
                        .to_rfc5322(
                            "receiver.example",
                            ("DMARC", "dmarc@receiver.example"),
                            ["dmarc-rua@praktijk.test"].into_iter(),
                        )
                        .expect("mail")
                        .into_bytes(),
                ),
                // Google as a bare zip saved from the mailbox.
                6 => {
                    let xml = legacy_xml(
                        ("<feedback>", "</feedback>"),
                        "google.com",
                        &id,
                        domain,
                        begin,
                        &rs,
                        false,
                    );
                    (
                        format!("google.com!{domain}!{id}.zip"),
                        zip_of("report.xml", xml.as_bytes()),
                    )
                }
                // TLS-RPT: JSON gzip file.
                _ => {
                    let failed = rng.next(20);
                    let ok = rng.next(1000);
                    expected.push((id.clone(), 1, ok + failed));
                    std::fs::write(
                        dir.join(format!("tls-{id}.json.gz")),
                        gzip(tls_json("tls.example", &id, domain, ok, failed).as_bytes()),
                    )
                    .expect("write");
                    continue;
                }
            };
            expected.push((id, rs.len(), total));
            std::fs::write(dir.join(name), data).expect("write");
        }
    }
    expected
}

#[test]
fn import_counts_each_report_once_and_summarises() {
    let dir = temp("import");
    let cfg = config(&dir, &["praktijk.test"]);
    let corpus_dir = dir.join("corpus");
    let expected = corpus(&corpus_dir, 3, "praktijk.test", 7, &SHAPES);
    let out = import(&corpus_dir, &cfg);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = json(&out);
    assert_eq!(got["counted"], expected.len(), "{got}");
    assert_eq!(got["aside"], 0, "{got}");
    let reports = got["reports"].as_array().expect("reports");
    for (id, rows, messages) in &expected {
        let r = reports
            .iter()
            .find(|r| r["report_id"] == id.as_str())
            .unwrap_or_else(|| panic!("{id} missing: {got}"));
        assert_eq!(
            (r["rows"].as_u64(), r["messages"].as_u64()),
            (Some(*rows as u64), Some(*messages)),
            "{r}"
        );
    }
    // Again: every one counted before, nothing added.
    let again = json(&import(&corpus_dir, &cfg));
    assert_eq!(
        (again["counted"].as_u64(), again["duplicate"].as_u64()),
        (Some(0), Some(expected.len() as u64))
    );

    // The summary adds up the DMARC messages.
    let dmarc_total: u64 = expected
        .iter()
        .filter(|(id, _, _)| !id.ends_with("-7"))
        .map(|(_, _, m)| m)
        .sum();
    let s = json(&run(
        &["report", "summary", "praktijk.test", "--format", "json"],
        &cfg,
    ));
    assert_eq!(s["domain"], "praktijk.test");
    assert_eq!(s["messages"].as_u64(), Some(dmarc_total), "{s}");
    let sources = s["sources"].as_array().expect("sources");
    let sum: u64 = sources
        .iter()
        .map(|x| x["count"].as_u64().expect("count"))
        .sum();
    assert_eq!(sum, dmarc_total);
    for src in sources {
        let (count, spf, dkim) = (
            src["count"].as_u64(),
            src["spf_aligned"].as_u64(),
            src["dkim_aligned"].as_u64(),
        );
        let alignment = src["alignment"].as_str().expect("alignment");
        if spf == count && dkim == count {
            assert_eq!(alignment, "full", "{src}");
        }
        assert!(["full", "partial", "none"].contains(&alignment));
    }
    // The corpus has unaligned sources with more than 1 %: not ready, and they are named.
    assert_eq!(s["ready_for_reject"], false);
    assert!(!s["blocking_sources"].as_array().expect("list").is_empty());
    // --since after every report: nothing.
    let none = json(&run(
        &[
            "report",
            "summary",
            "praktijk.test",
            "--since",
            "2099-01-01",
            "--format",
            "json",
        ],
        &cfg,
    ));
    assert_eq!(none["messages"], 0);
    assert_eq!(none["ready_for_reject"], false);
    assert_eq!(none["sources"], serde_json::json!([]));
    // The text form says the same, in Dutch by default and in English on request.
    let text = run(&["report", "summary", "praktijk.test"], &cfg);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("Klaar voor p=reject: nee"), "{text}");
    let text = run(
        &["report", "summary", "praktijk.test", "--lang", "en"],
        &cfg,
    );
    assert!(String::from_utf8_lossy(&text.stdout).contains("Ready for p=reject: no"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_domain_whose_senders_all_align_is_ready_for_reject() {
    let dir = temp("ready");
    let cfg = config(&dir, &["praktijk.test"]);
    let begin = (crate::now_secs() / 86_400 - 2) * 86_400;
    let rows = |v: &[(&str, u32, bool, bool)]| -> Vec<Row> {
        v.iter()
            .map(|(ip, c, s, d)| (ip.to_string(), *c, *s, *d))
            .collect()
    };
    // 990 aligned one way or the other, a spoofer under 1 %.
    let good = legacy_xml(
        ("<feedback>", "</feedback>"),
        "google.com",
        "r-1",
        "praktijk.test",
        begin,
        &rows(&[
            ("192.0.2.1", 600, true, true),
            ("192.0.2.2", 390, false, true),
            ("203.0.113.66", 9, false, false),
        ]),
        false,
    );
    std::fs::write(dir.join("r1.xml"), good).expect("write");
    let out = run(
        &[
            "report",
            "import",
            dir.join("r1.xml").to_str().expect("path"),
        ],
        &cfg,
    );
    assert_eq!(out.status.code(), Some(0));
    let s = json(&run(
        &["report", "summary", "praktijk.test", "--format", "json"],
        &cfg,
    ));
    assert_eq!(
        s,
        serde_json::json!({
            "domain": "praktijk.test",
            "messages": 999,
            "sources": [
                {"ip": "192.0.2.1", "count": 600, "spf_aligned": 600, "dkim_aligned": 600, "alignment": "full"},
                {"ip": "192.0.2.2", "count": 390, "spf_aligned": 0, "dkim_aligned": 390, "alignment": "partial"},
                {"ip": "203.0.113.66", "count": 9, "spf_aligned": 0, "dkim_aligned": 0, "alignment": "none"}
            ],
            "ready_for_reject": true,
            "blocking_sources": []
        })
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn reports_not_ours_or_from_the_future_are_kept_aside() {
    let dir = temp("aside");
    let cfg = config(&dir, &["praktijk.test"]);
    let now = crate::now_secs();
    let one = [("192.0.2.1".to_string(), 5, true, true)];
    std::fs::write(
        dir.join("other.xml"),
        legacy_xml(
            ("<feedback>", "</feedback>"),
            "google.com",
            "o-1",
            "elders.test",
            now - 90_000,
            &one,
            false,
        ),
    )
    .expect("write");
    std::fs::write(
        dir.join("future.xml"),
        legacy_xml(
            ("<feedback>", "</feedback>"),
            "google.com",
            "f-1",
            "praktijk.test",
            now + 5 * 86_400,
            &one,
            false,
        ),
    )
    .expect("write");
    std::fs::write(dir.join("junk.xml.gz"), b"\x1f\x8b not really gzip").expect("write");
    let paths: Vec<String> = ["other.xml", "future.xml", "junk.xml.gz"]
        .iter()
        .map(|f| dir.join(f).display().to_string())
        .collect();
    let mut args = vec!["report", "import", "--format", "json"];
    args.extend(paths.iter().map(String::as_str));
    let out = run(&args, &cfg);
    // An unreadable file: exit status 1, the others still taken.
    assert_eq!(out.status.code(), Some(1));
    let got = json(&out);
    let reasons: Vec<&str> = got["reports"]
        .as_array()
        .expect("reports")
        .iter()
        .map(|r| r["reason"].as_str().expect("reason"))
        .collect();
    assert_eq!(
        reasons,
        ["not_our_domain", "future_dates", "unreadable"],
        "{got}"
    );
    let s = json(&run(
        &["report", "summary", "praktijk.test", "--format", "json"],
        &cfg,
    ));
    assert_eq!(s["messages"], 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn hostile_reports_are_refused_within_limits() {
    let dir = temp("hostile");
    let cfg = config(&dir, &["praktijk.test"]);
    // A zip bomb: 64 MiB of spaces in one entry (twice the limit).
    {
        let f = std::fs::File::create(dir.join("bomb.zip")).expect("bomb");
        let mut w = zip::ZipWriter::new(f);
        w.start_file(
            "report.xml",
            zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated)
                .large_file(true),
        )
        .expect("zip");
        let chunk = vec![b' '; 1 << 20];
        for _ in 0..64 {
            w.write_all(&chunk).expect("zip");
        }
        w.finish().expect("zip");
    }
    // A gzip bomb of the same.
    {
        let f = std::fs::File::create(dir.join("bomb.xml.gz")).expect("bomb");
        let mut e = flate2::write::GzEncoder::new(f, flate2::Compression::best());
        let chunk = vec![b' '; 1 << 20];
        for _ in 0..64 {
            e.write_all(&chunk).expect("gzip");
        }
        e.finish().expect("gzip");
    }
    // 100 MB of XML.
    {
        let mut f =
            std::io::BufWriter::new(std::fs::File::create(dir.join("huge.xml")).expect("huge"));
        f.write_all(b"<feedback><report_metadata><org_name>")
            .expect("write");
        let chunk = vec![b'a'; 1 << 20];
        for _ in 0..100 {
            f.write_all(&chunk).expect("write");
        }
        f.write_all(b"</org_name></report_metadata></feedback>")
            .expect("write");
    }
    // Deep nesting, and billion laughs.
    std::fs::write(
        dir.join("deep.xml"),
        format!(
            "<feedback>{}{}</feedback>",
            "<a>".repeat(1_000_000),
            "</a>".repeat(1_000_000)
        ),
    )
    .expect("write");
    std::fs::write(
        dir.join("laughs.xml"),
        "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n \
         <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n \
         <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n]>\n\
         <feedback><report_metadata><org_name>&lol2;</org_name></report_metadata></feedback>",
    )
    .expect("write");
    std::fs::write(
        dir.join("deep.json"),
        format!("{}1{}", "{\"a\":".repeat(100_000), "}".repeat(100_000)),
    )
    .expect("write");
    let files = [
        "bomb.zip",
        "bomb.xml.gz",
        "huge.xml",
        "deep.xml",
        "laughs.xml",
        "deep.json",
    ];
    for f in files {
        let path = dir.join(f).display().to_string();
        let cfg = cfg.display().to_string();
        let out = run_bounded(
            &[
                "report", "import", "--format", "json", "--config", &cfg, &path,
            ],
            Duration::from_secs(60),
        );
        assert_eq!(
            out.status.code(),
            Some(1),
            "{f}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got = json(&out);
        assert_eq!(got["reports"][0]["reason"], "unreadable", "{f}: {got}");
        let detail = got["reports"][0]["detail"].as_str().expect("detail");
        let want = match f {
            "bomb.zip" | "bomb.xml.gz" | "huge.xml" => "larger than the limit",
            "laughs.xml" => "document type",
            "deep.json" => "TLS",
            _ => "DMARC",
        };
        assert!(detail.contains(want), "{f}: {detail}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The peer: parsedmarc (PyPI, installed by test.sh) reads the same files.
#[test]
fn parsedmarc_reads_the_same_rows_and_totals() {
    let dir = temp("peer");
    let cfg = config(&dir, &["praktijk.test"]);
    let corpus_dir = dir.join("corpus");
    // Every shape but AOL's namespace prefix, which parsedmarc does not read (below).
    corpus(&corpus_dir, 6, "praktijk.test", 11, &[0, 1, 2, 4, 5, 6, 7]);
    let peer = std::process::Command::new("python3")
        .arg(root().join("crates/veilpost/tests/cli/parsedmarc_peer.py"))
        .arg(&corpus_dir)
        .output()
        .expect("python3");
    assert!(
        peer.status.success(),
        "{}",
        String::from_utf8_lossy(&peer.stderr)
    );
    let theirs = json(&peer);
    let ours = json(&import(&corpus_dir, &cfg));
    let reports = ours["reports"].as_array().expect("reports");
    let files = theirs["files"].as_object().expect("files");
    assert_eq!(files.len(), reports.len(), "{theirs}");
    for r in reports {
        let origin = r["origin"].as_str().expect("origin");
        let name = Path::new(origin)
            .file_name()
            .expect("name")
            .to_string_lossy();
        let peer = &files[name.as_ref()];
        assert_eq!(peer["error"], serde_json::Value::Null, "{name}: {peer}");
        assert_eq!(peer["report_id"], r["report_id"], "{name}");
        assert_eq!(peer["rows"], r["rows"], "{name}: {peer} vs {r}");
        assert_eq!(peer["messages"], r["messages"], "{name}: {peer} vs {r}");
    }
    // And the same per source: messages, and SPF/DKIM aligned as parsedmarc counts them.
    let s = json(&run(
        &["report", "summary", "praktijk.test", "--format", "json"],
        &cfg,
    ));
    let by_ip = theirs["sources"].as_object().expect("sources");
    let sources = s["sources"].as_array().expect("sources");
    assert_eq!(sources.len(), by_ip.len());
    for src in sources {
        let ip = src["ip"].as_str().expect("ip");
        let peer = &by_ip[ip];
        assert_eq!(
            (&peer["count"], &peer["spf_aligned"], &peer["dkim_aligned"]),
            (&src["count"], &src["spf_aligned"], &src["dkim_aligned"]),
            "{ip}"
        );
    }
    // Where we part: a report under a namespace prefix (AOL's), read here, refused there.
    let aol = dir.join("aol");
    corpus(&aol, 1, "praktijk.test", 12, &[3]);
    let peer = std::process::Command::new("python3")
        .arg(root().join("crates/veilpost/tests/cli/parsedmarc_peer.py"))
        .arg(&aol)
        .output()
        .expect("python3");
    let theirs = json(&peer);
    let (_, entry) = theirs["files"]
        .as_object()
        .expect("files")
        .iter()
        .next()
        .expect("one");
    assert!(
        entry["error"]
            .as_str()
            .is_some_and(|e| e.contains("feedback")),
        "{entry}"
    );
    let ours = json(&import(&aol, &cfg));
    assert_eq!(ours["counted"], 1, "{ours}");
    let _ = std::fs::remove_dir_all(&dir);
}
