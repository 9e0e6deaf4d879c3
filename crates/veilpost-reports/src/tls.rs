//! SMTP TLS reports (RFC 8460), parsed by mail-auth and normalised: per policy the
//! sessions that succeeded and failed, and the failures by receiving MX and result type.

use std::net::IpAddr;

use mail_auth::report::tlsrpt as ma;
use serde::Serialize;

use crate::{Error, domain};

/// One TLS report as kept.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct TlsReport {
    /// The reporting organisation (`organization-name`).
    pub organization: String,
    pub contact: String,
    pub report_id: String,
    /// The period, Unix seconds.
    pub begin: i64,
    pub end: i64,
    pub policies: Vec<TlsPolicy>,
}

/// The sessions under one policy.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct TlsPolicy {
    /// `sts`, `tlsa`, `no-policy-found` or `other`.
    pub policy_type: String,
    /// The domain the policy is for, lower-case.
    pub domain: String,
    pub mx_hosts: Vec<String>,
    pub successes: u64,
    pub failures: u64,
    pub failure_details: Vec<TlsFailure>,
}

/// Failed sessions of one kind.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct TlsFailure {
    /// `starttls-not-supported`, `certificate-expired`, … (RFC 8460 §4.3).
    pub result_type: String,
    pub sending_ip: Option<IpAddr>,
    /// The receiving MX as the reporter names it (lower-case), empty when not given.
    pub mx: String,
    pub count: u64,
}

/// Parse one report's JSON (serde_json refuses nesting deeper than 128).
pub fn parse(json: &[u8]) -> Result<TlsReport, Error> {
    let r = ma::TlsReport::parse_json(json).map_err(|e| Error::Tls(format!("{e:?}")))?;
    Ok(normalise(r))
}

fn normalise(r: ma::TlsReport) -> TlsReport {
    TlsReport {
        organization: r.organization_name.unwrap_or_default().trim().to_string(),
        contact: r.contact_info.unwrap_or_default().trim().to_string(),
        report_id: r.report_id.trim().to_string(),
        begin: r.date_range.start_datetime.to_timestamp(),
        end: r.date_range.end_datetime.to_timestamp(),
        policies: r
            .policies
            .into_iter()
            .map(|p| TlsPolicy {
                policy_type: named(&p.policy.policy_type),
                domain: domain(&p.policy.policy_domain),
                mx_hosts: p.policy.mx_host.iter().map(|h| domain(h)).collect(),
                successes: u64::from(p.summary.total_success),
                failures: u64::from(p.summary.total_failure),
                failure_details: p
                    .failure_details
                    .into_iter()
                    .map(|f| TlsFailure {
                        result_type: named(&f.result_type),
                        sending_ip: f.sending_mta_ip,
                        mx: domain(f.receiving_mx_hostname.as_deref().unwrap_or("")),
                        count: u64::from(f.failed_session_count),
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// The RFC's name of a serde-named enum value (`other` when it has none).
fn named(v: &impl Serialize) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s.to_ascii_lowercase(),
        _ => "other".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = r#"{
  "organization-name": "Company-X",
  "date-range": {"start-datetime": "2026-11-30T00:00:00Z", "end-datetime": "2026-11-30T23:59:59Z"},
  "contact-info": "sts-reporting@company-x.example",
  "report-id": "5065427c-23d3-47ca-b6e0-946ea0e8c4be",
  "policies": [{
    "policy": {"policy-type": "sts", "policy-string": ["version: STSv1", "mode: enforce"],
               "policy-domain": "Praktijk.nl", "mx-host": ["*.mail.praktijk.nl"]},
    "summary": {"total-successful-session-count": 5326, "total-failure-session-count": 303},
    "failure-details": [
      {"result-type": "certificate-expired", "sending-mta-ip": "2001:db8:abcd:0012::1",
       "receiving-mx-hostname": "mx1.mail.praktijk.nl", "failed-session-count": 100},
      {"result-type": "starttls-not-supported", "sending-mta-ip": "198.51.100.62",
       "receiving-mx-hostname": "MX2.mail.praktijk.nl", "receiving-ip": "192.0.2.1",
       "failed-session-count": 200, "additional-information": "https://reports.company-x.example/"},
      {"result-type": "something-new", "failed-session-count": 3}
    ]
  }]
}"#;

    #[test]
    fn the_rfc_example_normalises() {
        let r = parse(REPORT.as_bytes()).expect("test input");
        assert_eq!(r.organization, "Company-X");
        assert_eq!(r.report_id, "5065427c-23d3-47ca-b6e0-946ea0e8c4be");
        assert_eq!(r.end - r.begin, 86_399);
        let p = &r.policies[0];
        assert_eq!(
            (p.policy_type.as_str(), p.domain.as_str()),
            ("sts", "praktijk.nl")
        );
        assert_eq!((p.successes, p.failures), (5326, 303));
        let kinds: Vec<(&str, &str, u64)> = p
            .failure_details
            .iter()
            .map(|f| (f.result_type.as_str(), f.mx.as_str(), f.count))
            .collect();
        assert_eq!(
            kinds,
            [
                ("certificate-expired", "mx1.mail.praktijk.nl", 100),
                ("starttls-not-supported", "mx2.mail.praktijk.nl", 200),
                ("other", "", 3)
            ]
        );
    }

    #[test]
    fn hostile_json_is_refused() {
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        for bad in [
            deep.as_str(),
            "",
            "{",
            "[]",
            r#"{"report-id": 5}"#,
            "\u{0}\u{1}",
        ] {
            assert!(
                matches!(parse(bad.as_bytes()), Err(Error::Tls(_))),
                "{:?}",
                &bad[..bad.len().min(30)]
            );
        }
    }
}
