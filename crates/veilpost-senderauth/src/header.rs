//! The RFC 8601 `Authentication-Results` header field.

use std::net::IpAddr;

use crate::result::{ArcOutcome, AuthResult, DkimOutcome, DmarcOutcome, SpfOutcome};

/// RFC 2045 `tspecials` plus space and controls: characters that force quoting.
fn is_token(value: &str) -> bool {
    !value.is_empty()
        && value
            .bytes()
            .all(|b| b > b' ' && b < 0x7F && !b"()<>@,;:\\\"/[]?=".contains(&b))
}

/// A property value: a token, an address (`local@domain` with token-like parts), or a
/// quoted string.
fn pvalue(value: &str) -> String {
    let address_like = value
        .split_once('@')
        .is_some_and(|(l, d)| (l.is_empty() || is_token(l)) && is_token(d));
    if is_token(value) || address_like {
        value.to_string()
    } else {
        let escaped: String = value
            .chars()
            .filter(|c| !c.is_control())
            .flat_map(|c| match c {
                '"' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        format!("\"{escaped}\"")
    }
}

/// A comment, with the characters that would end or nest it removed.
fn comment(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| {
            if matches!(c, '(' | ')' | '\\') || c.is_control() {
                ' '
            } else {
                c
            }
        })
        .take(120)
        .collect();
    format!("({})", clean.trim())
}

pub(crate) fn authentication_results(
    authserv_id: &str,
    ip: IpAddr,
    spf: &SpfOutcome,
    dkim: &[DkimOutcome],
    dmarc: &DmarcOutcome,
    arc: &ArcOutcome,
) -> String {
    let mut methods = Vec::new();

    let mut m = format!("spf={}", spf.result);
    if spf.result != AuthResult::Pass
        && let Some(e) = &spf.explanation
    {
        m.push_str(&format!(" {}", comment(e)));
    }
    m.push_str(&format!(" (client-ip {ip})"));
    if !spf.value.is_empty() {
        m.push_str(&format!(
            " {}={}",
            spf.identity.property(),
            pvalue(&spf.value)
        ));
    }
    methods.push(m);

    if dkim.is_empty() {
        methods.push("dkim=none".to_string());
    }
    for d in dkim {
        let mut m = format!("dkim={}", d.result);
        if let Some(detail) = &d.detail {
            m.push_str(&format!(" {}", comment(detail)));
        }
        if !d.domain.is_empty() {
            m.push_str(&format!(" header.d={}", pvalue(&d.domain)));
        }
        if !d.selector.is_empty() {
            m.push_str(&format!(" header.s={}", pvalue(&d.selector)));
        }
        if !d.algorithm.is_empty() {
            m.push_str(&format!(" header.a={}", d.algorithm));
        }
        if !d.b_prefix.is_empty() {
            m.push_str(&format!(" header.b={}", pvalue(&d.b_prefix)));
        }
        methods.push(m);
    }

    let mut m = format!("dmarc={}", dmarc.result);
    if matches!(dmarc.result, AuthResult::Pass | AuthResult::Fail) {
        m.push_str(&format!(
            " (p={} dis={})",
            dmarc.policy.as_str(),
            dmarc.disposition.as_str()
        ));
    } else if let Some(detail) = &dmarc.detail {
        m.push_str(&format!(" {}", comment(detail)));
    }
    if !dmarc.from_domain.is_empty() {
        m.push_str(&format!(" header.from={}", pvalue(&dmarc.from_domain)));
    }
    methods.push(m);

    let mut m = format!("arc={}", arc.result);
    if arc.instances > 0 {
        m.push_str(&format!(" (i={})", arc.instances));
    }
    methods.push(m);

    // Fold at each method: one per line.
    let mut header = format!("Authentication-Results: {}", pvalue(authserv_id));
    for m in methods {
        header.push_str(";\r\n\t");
        header.push_str(&m);
    }
    header.push_str("\r\n");
    header
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::{DmarcPolicy, SpfIdentity};

    #[test]
    fn values_are_quoted_when_needed() {
        assert_eq!(pvalue("example.com"), "example.com");
        assert_eq!(pvalue("jan@example.com"), "jan@example.com");
        assert_eq!(pvalue("a b"), "\"a b\"");
        assert_eq!(pvalue("x\"y"), "\"x\\\"y\"");
        assert_eq!(comment("bad (key) \\ here"), "(bad  key    here)");
    }

    #[test]
    fn header_shape() {
        let spf = SpfOutcome {
            result: AuthResult::Pass,
            identity: SpfIdentity::MailFrom,
            value: "jan@example.nl".into(),
            domain: "example.nl".into(),
            explanation: None,
        };
        let dmarc = DmarcOutcome {
            result: AuthResult::Pass,
            from_domain: "example.nl".into(),
            policy_domain: Some("example.nl".into()),
            policy: DmarcPolicy::Reject,
            disposition: DmarcPolicy::None,
            dkim_aligned: false,
            spf_aligned: true,
            detail: None,
        };
        let arc = ArcOutcome {
            result: AuthResult::None,
            instances: 0,
            detail: None,
        };
        let h = authentication_results(
            "mx.veilpost.nl",
            "192.0.2.1".parse().expect("ip"),
            &spf,
            &[],
            &dmarc,
            &arc,
        );
        assert_eq!(
            h,
            "Authentication-Results: mx.veilpost.nl;\r\n\tspf=pass (client-ip 192.0.2.1) smtp.mailfrom=jan@example.nl;\r\n\tdkim=none;\r\n\tdmarc=pass (p=reject dis=none) header.from=example.nl;\r\n\tarc=none\r\n"
        );
    }
}
