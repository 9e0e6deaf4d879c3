//! DMARC aggregate reports (RFC 7489 appendix C, and the RFC 9990 schema with its
//! namespace, `np`, `testing` and `discovery_method`), parsed by mail-auth and normalised
//! into the rows the store keeps.

use std::net::IpAddr;

use mail_auth::report as ma;
use serde::Serialize;

use crate::{Error, domain, within};

/// One aggregate report as kept.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct DmarcReport {
    /// The reporting organisation (`org_name`).
    pub reporter: String,
    pub reporter_email: String,
    pub report_id: String,
    /// The period, Unix seconds.
    pub begin: i64,
    pub end: i64,
    /// The domain whose policy was applied (`policy_published/domain`), lower-case.
    pub domain: String,
    /// The published policy as the reporter saw it: `none`, `quarantine`, `reject` or
    /// empty when not given.
    pub policy: String,
    pub rows: Vec<DmarcRow>,
}

/// One record: messages from one source with one outcome.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct DmarcRow {
    /// The sending server; `None` when the reporter left it out (counted, shown as such).
    pub source_ip: Option<IpAddr>,
    pub count: u32,
    /// What the receiver did: `none`, `quarantine`, `reject` (`pass` in some reports).
    pub disposition: String,
    /// DMARC's own evaluation: an SPF pass aligned with the From domain.
    pub spf_aligned: bool,
    /// DMARC's own evaluation: a DKIM pass aligned with the From domain.
    pub dkim_aligned: bool,
    pub header_from: String,
    pub envelope_from: String,
    /// Every DKIM result the reporter gives, in its order.
    pub dkim: Vec<DkimAuth>,
    /// Every SPF result the reporter gives, in its order.
    pub spf: Vec<SpfAuth>,
}

impl DmarcRow {
    /// Whether these messages pass DMARC.
    pub fn dmarc_pass(&self) -> bool {
        self.spf_aligned || self.dkim_aligned
    }

    /// The DKIM result that tells most: a pass aligned with the From domain, else any
    /// pass, else the first.
    pub fn main_dkim(&self) -> Option<&DkimAuth> {
        let from = self.header_from.as_str();
        self.dkim
            .iter()
            .find(|d| d.result == "pass" && aligned(&d.domain, from))
            .or_else(|| self.dkim.iter().find(|d| d.result == "pass"))
            .or_else(|| self.dkim.first())
    }

    /// The SPF result that tells most, in the same order as [`DmarcRow::main_dkim`].
    pub fn main_spf(&self) -> Option<&SpfAuth> {
        let from = self.header_from.as_str();
        self.spf
            .iter()
            .find(|s| s.result == "pass" && aligned(&s.domain, from))
            .or_else(|| self.spf.iter().find(|s| s.result == "pass"))
            .or_else(|| self.spf.first())
    }
}

/// Relaxed alignment for choosing what to show (the reporter's own evaluation is what
/// counts): the same domain, or one a subdomain of the other.
fn aligned(a: &str, b: &str) -> bool {
    !a.is_empty() && !b.is_empty() && (within(a, b) || within(b, a))
}

/// A DKIM result in a record.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct DkimAuth {
    pub domain: String,
    pub selector: String,
    /// `pass`, `fail`, `none`, `policy`, `neutral`, `temperror`, `permerror`.
    pub result: String,
}

/// An SPF result in a record.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct SpfAuth {
    pub domain: String,
    /// `mfrom`, `helo` or empty.
    pub scope: String,
    /// `pass`, `fail`, `softfail`, `neutral`, `none`, `temperror`, `permerror`.
    pub result: String,
}

/// Parse one report's XML. Refused before parsing: a document type or entity
/// declarations (billion laughs; reports never carry them).
pub fn parse(xml: &[u8]) -> Result<DmarcReport, Error> {
    if declares(xml) {
        return Err(Error::Declarations);
    }
    let unprefixed;
    let xml = if root_is_prefixed(xml) {
        unprefixed = without_prefixes(xml)?;
        &unprefixed[..]
    } else {
        xml
    };
    let report = ma::Report::parse_xml(xml).map_err(|e| Error::Dmarc(short(&e)))?;
    Ok(normalise(report))
}

/// Whether the root element has a namespace prefix (`<ns1:feedback xmlns:ns1=…>`, as
/// some reporters write the RFC 7489 schema).
fn root_is_prefixed(xml: &[u8]) -> bool {
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e)) => {
                return e.name().prefix().is_some();
            }
            Ok(quick_xml::events::Event::Eof) | Err(_) => return false,
            Ok(_) => buf.clear(),
        }
    }
}

/// The document with every element named by its local name (prefixes and attributes
/// dropped: the report schema has no attributes that matter).
fn without_prefixes(xml: &[u8]) -> Result<Vec<u8>, Error> {
    use quick_xml::events::{BytesEnd, BytesStart, Event};
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut writer = quick_xml::Writer::new(Vec::with_capacity(xml.len()));
    let mut buf = Vec::new();
    let local = |name: quick_xml::name::QName<'_>| {
        let local = name.local_name();
        let l: &str = local.as_ref();
        l.to_string()
    };
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| Error::Dmarc(short(&e.to_string())))?;
        let written = match event {
            Event::Eof => break,
            Event::Start(e) => writer.write_event(Event::Start(BytesStart::new(local(e.name())))),
            Event::Empty(e) => writer.write_event(Event::Empty(BytesStart::new(local(e.name())))),
            Event::End(e) => writer.write_event(Event::End(BytesEnd::new(local(e.name())))),
            other => writer.write_event(other),
        };
        written.map_err(|e| Error::Dmarc(short(&e.to_string())))?;
        buf.clear();
    }
    Ok(writer.into_inner())
}

/// Whether the XML has `<!DOCTYPE` or `<!ENTITY` outside comments and CDATA: looked for
/// anywhere (a report has neither, so a false alarm costs nothing real).
fn declares(xml: &[u8]) -> bool {
    memchr::memmem::find_iter(xml, b"<!").any(|at| {
        let rest = &xml[at + 2..];
        let word = &rest[..rest.len().min(7)];
        word.eq_ignore_ascii_case(b"DOCTYPE")
            || word
                .get(..6)
                .is_some_and(|w| w.eq_ignore_ascii_case(b"ENTITY"))
    })
}

/// An error message cut to a line's length (it may quote the input).
fn short(e: &str) -> String {
    let mut s: String = e.chars().take(200).collect();
    if s.len() < e.len() {
        s.push('…');
    }
    s
}

fn normalise(r: ma::Report) -> DmarcReport {
    let meta = r.report_metadata;
    DmarcReport {
        reporter: meta.org_name.trim().to_string(),
        reporter_email: meta.email.trim().to_string(),
        report_id: meta.report_id.trim().to_string(),
        begin: clamp(meta.date_range.begin),
        end: clamp(meta.date_range.end),
        domain: domain(&r.policy_published.domain),
        policy: disposition(r.policy_published.p).to_string(),
        rows: r.record.into_iter().map(row).collect(),
    }
}

fn clamp(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}

fn row(rec: ma::Record) -> DmarcRow {
    let pe = rec.row.policy_evaluated;
    DmarcRow {
        source_ip: rec.row.source_ip,
        count: rec.row.count,
        disposition: action(pe.disposition).to_string(),
        spf_aligned: pe.spf == ma::DmarcResult::Pass,
        dkim_aligned: pe.dkim == ma::DmarcResult::Pass,
        header_from: domain(&rec.identifiers.header_from),
        envelope_from: domain(&rec.identifiers.envelope_from),
        dkim: rec
            .auth_results
            .dkim
            .into_iter()
            .map(|d| DkimAuth {
                domain: domain(&d.domain),
                selector: d.selector.trim().to_string(),
                result: dkim_result(d.result).to_string(),
            })
            .collect(),
        spf: rec
            .auth_results
            .spf
            .into_iter()
            .map(|s| SpfAuth {
                domain: domain(&s.domain),
                scope: match s.scope {
                    ma::SPFDomainScope::Helo => "helo",
                    ma::SPFDomainScope::MailFrom => "mfrom",
                    ma::SPFDomainScope::Unspecified => "",
                }
                .to_string(),
                result: spf_result(s.result).to_string(),
            })
            .collect(),
    }
}

fn disposition(d: ma::Disposition) -> &'static str {
    match d {
        ma::Disposition::None => "none",
        ma::Disposition::Quarantine => "quarantine",
        ma::Disposition::Reject => "reject",
        ma::Disposition::Unspecified => "",
    }
}

fn action(d: ma::ActionDisposition) -> &'static str {
    match d {
        ma::ActionDisposition::None => "none",
        ma::ActionDisposition::Pass => "pass",
        ma::ActionDisposition::Quarantine => "quarantine",
        ma::ActionDisposition::Reject => "reject",
        ma::ActionDisposition::Unspecified => "",
    }
}

fn dkim_result(r: ma::DkimResult) -> &'static str {
    match r {
        ma::DkimResult::None => "none",
        ma::DkimResult::Pass => "pass",
        ma::DkimResult::Fail => "fail",
        ma::DkimResult::Policy => "policy",
        ma::DkimResult::Neutral => "neutral",
        ma::DkimResult::TempError => "temperror",
        ma::DkimResult::PermError => "permerror",
    }
}

fn spf_result(r: ma::SpfResult) -> &'static str {
    match r {
        ma::SpfResult::None => "none",
        ma::SpfResult::Neutral => "neutral",
        ma::SpfResult::Pass => "pass",
        ma::SpfResult::Fail => "fail",
        ma::SpfResult::SoftFail => "softfail",
        ma::SpfResult::TempError => "temperror",
        ma::SpfResult::PermError => "permerror",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEGACY: &str = r#"<?xml version="1.0" encoding="UTF-8" ?>
<feedback>
  <report_metadata>
    <org_name>google.com</org_name>
    <email>noreply-dmarc-support@google.com</email>
    <report_id>  1234567890  </report_id>
    <date_range><begin>1764460800</begin><end>1764547199</end></date_range>
  </report_metadata>
  <policy_published>
    <domain>Praktijk.NL</domain><adkim>r</adkim><aspf>r</aspf><p>none</p><sp>none</sp><pct>100</pct>
  </policy_published>
  <record>
    <row>
      <source_ip>192.0.2.10</source_ip><count>12</count>
      <policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>fail</spf></policy_evaluated>
    </row>
    <identifiers><header_from>praktijk.nl</header_from></identifiers>
    <auth_results>
      <dkim><domain>esp.example</domain><selector>s1</selector><result>pass</result></dkim>
      <dkim><domain>praktijk.nl</domain><selector>vp</selector><result>pass</result></dkim>
      <spf><domain>bounce.esp.example</domain><result>pass</result></spf>
    </auth_results>
  </record>
  <record>
    <row>
      <source_ip>2001:db8::1</source_ip><count>3</count>
      <policy_evaluated><disposition>none</disposition><dkim>fail</dkim><spf>fail</spf></policy_evaluated>
    </row>
    <identifiers><header_from>praktijk.nl</header_from></identifiers>
    <auth_results><spf><domain>praktijk.nl</domain><scope>mfrom</scope><result>softfail</result></spf></auth_results>
  </record>
</feedback>"#;

    #[test]
    fn a_legacy_report_normalises() {
        let r = parse(LEGACY.as_bytes()).expect("test input");
        assert_eq!(r.reporter, "google.com");
        assert_eq!(r.report_id, "1234567890");
        assert_eq!((r.begin, r.end), (1764460800, 1764547199));
        assert_eq!(r.domain, "praktijk.nl");
        assert_eq!(r.policy, "none");
        assert_eq!(r.rows.len(), 2);
        let a = &r.rows[0];
        assert_eq!(a.source_ip, Some("192.0.2.10".parse().expect("test input")));
        assert_eq!(a.count, 12);
        assert!(a.dkim_aligned && !a.spf_aligned && a.dmarc_pass());
        // The aligned pass is the one shown, not the first.
        assert_eq!(a.main_dkim().expect("test input").domain, "praktijk.nl");
        assert_eq!(a.main_dkim().expect("test input").selector, "vp");
        assert_eq!(
            a.main_spf().expect("test input").domain,
            "bounce.esp.example"
        );
        let b = &r.rows[1];
        assert!(!b.dmarc_pass());
        assert_eq!(b.spf[0].scope, "mfrom");
        assert_eq!(b.spf[0].result, "softfail");
        assert_eq!(b.main_dkim(), None);
    }

    #[test]
    fn the_rfc9990_schema_with_its_namespace_normalises() {
        let xml = r#"<?xml version="1.0"?>
<feedback xmlns="urn:ietf:params:xml:ns:dmarc-2.0">
  <version>1.0</version>
  <report_metadata>
    <org_name>Receiver Example</org_name><email>dmarc@receiver.example</email>
    <report_id>rx-2026-12-01</report_id>
    <date_range><begin>1764547200</begin><end>1764633600</end></date_range>
    <generator>rx 2.1</generator>
  </report_metadata>
  <policy_published>
    <domain>praktijk.nl</domain><p>reject</p><sp>quarantine</sp><np>reject</np>
    <testing>n</testing><discovery_method>treewalk</discovery_method>
  </policy_published>
  <record>
    <row><source_ip>198.51.100.7</source_ip><count>40</count>
      <policy_evaluated><disposition>pass</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated>
    </row>
    <identifiers><envelope_from>praktijk.nl</envelope_from><header_from>praktijk.nl</header_from></identifiers>
    <auth_results>
      <dkim><domain>praktijk.nl</domain><selector>vp</selector><result>pass</result><human_result>good</human_result></dkim>
      <spf><domain>praktijk.nl</domain><scope>mfrom</scope><result>pass</result></spf>
    </auth_results>
  </record>
</feedback>"#;
        let r = parse(xml.as_bytes()).expect("test input");
        assert_eq!(r.policy, "reject");
        assert_eq!(r.rows[0].disposition, "pass");
        assert!(r.rows[0].spf_aligned && r.rows[0].dkim_aligned);
        assert_eq!(r.rows[0].envelope_from, "praktijk.nl");
    }

    #[test]
    fn hostile_xml_is_refused_table() {
        let laughs = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><feedback><report_metadata><org_name>&lol2;</org_name></report_metadata></feedback>"#;
        let deep = format!(
            "<feedback>{}{}</feedback>",
            "<x>".repeat(100_000),
            "</x>".repeat(100_000)
        );
        type Case<'a> = (&'a [u8], fn(&Error) -> bool);
        let cases: &[Case] = &[
            (laughs.as_bytes(), |e| *e == Error::Declarations),
            (b"<!doctype feedback><feedback/>", |e| {
                *e == Error::Declarations
            }),
            (b"<!ENTITY x 'y'>", |e| *e == Error::Declarations),
            (deep.as_bytes(), |e| matches!(e, Error::Dmarc(_))),
            (b"<feedback><report_metadata>", |e| {
                matches!(e, Error::Dmarc(_))
            }),
            (b"<other/>", |e| matches!(e, Error::Dmarc(_))),
            (b"", |e| matches!(e, Error::Dmarc(_))),
            (&[0xff, 0xfe, 0x00, 0x3c], |e| matches!(e, Error::Dmarc(_))),
        ];
        for (input, ok) in cases {
            let got = parse(input);
            assert!(
                got.as_ref().is_err_and(ok),
                "{:?} -> {got:?}",
                String::from_utf8_lossy(&input[..input.len().min(60)])
            );
        }
    }

    #[test]
    fn a_namespace_prefix_on_every_element_is_read_as_without() {
        // As AOL wrote them: the RFC 7489 schema under a prefix, on the root only…
        let root_only = LEGACY
            .replacen(
                "<feedback>",
                "<ns1:feedback xmlns:ns1='http://dmarc.org/dmarc-xml/0.1'>",
                1,
            )
            .replacen("</feedback>", "</ns1:feedback>", 1);
        // …or on every element.
        let everywhere = LEGACY
            .replace(
                "<feedback>",
                "<d:feedback xmlns:d=\"urn:ietf:params:xml:ns:dmarc-2.0\">",
            )
            .replace("</", "</d:")
            .replace("<d:feedback", "\u{0}")
            .replace('<', "<d:")
            .replace("<d:/d:", "</d:")
            .replace("<d:?xml", "<?xml")
            .replace('\u{0}', "<d:feedback");
        for xml in [root_only, everywhere] {
            let r = parse(xml.as_bytes()).unwrap_or_else(|e| panic!("{e}: {xml}"));
            assert_eq!(r.reporter, "google.com");
            assert_eq!(r.rows.len(), 2);
            assert_eq!(r.rows[0].count, 12);
        }
    }

    #[test]
    fn comments_mentioning_declarations_do_not_hide_a_report() {
        // `<!--` is not a declaration.
        let xml = LEGACY.replace("<feedback>", "<!-- generated --><feedback>");
        assert!(parse(xml.as_bytes()).is_ok());
    }
}
