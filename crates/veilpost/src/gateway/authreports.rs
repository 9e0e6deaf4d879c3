//! The report addresses (`reports.dmarc_address`, `reports.tlsrpt_address`; issue 19):
//! DMARC aggregate and TLS reports that come to the MX listener are read, counted once
//! and kept for the reports pages, not sent on. A DMARC report counts only when its own
//! mail passed DMARC, a TLS report only with a DKIM signature aligned with its From
//! (RFC 8460 §5.3), both as Veilpost's own `Authentication-Results` says (forged ones
//! were removed at the listener); anything else is kept aside with the reason.

use std::sync::Arc;

use anyhow::Result;
use veilpost_reports::Vouched;
use veilpost_smtp::Transaction;
use veilpost_store::{Origin, Received};

use super::Shared;

/// Whether `address` is one of the report addresses.
pub(super) fn is_report_address(shared: &Shared, address: &str) -> bool {
    let a = address.trim();
    shared
        .report_addresses
        .iter()
        .any(|r| r.eq_ignore_ascii_case(a))
}

/// What Veilpost's own `Authentication-Results` (`ours`, the header's value) vouches for,
/// for a message From `from_domain`: a DMARC pass, and a DKIM pass whose `header.d` has
/// the From domain's organisational domain.
pub(crate) fn vouched(ours: &str, authserv_id: &str, from_domain: &str) -> Vouched {
    let mut v = Vouched {
        dmarc_pass: false,
        aligned_dkim: false,
    };
    let mut methods = ours.split(';');
    let id = methods.next().unwrap_or("").trim();
    let id = id.split_whitespace().next().unwrap_or("");
    if !id.eq_ignore_ascii_case(authserv_id) || from_domain.is_empty() {
        return v;
    }
    let from_org = veilpost_verdict::registrable(from_domain);
    for m in methods {
        let mut words = m.split_whitespace();
        match words.next().map(str::to_ascii_lowercase).as_deref() {
            Some("dmarc=pass") => v.dmarc_pass = true,
            Some("dkim=pass") => {
                let d = words
                    .find_map(|w| w.strip_prefix("header.d="))
                    .unwrap_or("");
                if !d.is_empty() && veilpost_verdict::registrable(d) == from_org {
                    v.aligned_dkim = true;
                }
            }
            _ => {}
        }
    }
    v
}

/// Take a message to a report address. `Ok(true)`: it was for report addresses only and
/// is finished here; `Ok(false)`: it goes on through processing as well.
pub(super) async fn intake(shared: &Arc<Shared>, m: &Received) -> Result<bool> {
    let to_us = m
        .recipients
        .iter()
        .filter(|(_, a)| is_report_address(shared, a))
        .count();
    if to_us == 0 {
        return Ok(false);
    }
    let raw = shared.store.read_blob(&m.blob).await?;
    // Only the MX listener's own header vouches for anything.
    take(
        shared,
        "mail",
        &raw,
        m.origin == Origin::Inbound,
        &m.mail_from,
    )
    .await?;
    super::report::finished_if_only(shared, m, to_us, "dmarc/tls report").await
}

/// Read the reports in `raw` (a message with Veilpost's own Authentication-Results when
/// `ours`) and record them, as `via`.
async fn take(shared: &Shared, via: &str, raw: &[u8], ours: bool, mail_from: &str) -> Result<()> {
    let from = veilpost_verdict::gather(raw).from;
    let vouched = if ours {
        vouched(
            &veilpost_verdict::headers::first_value(raw, "Authentication-Results")
                .unwrap_or_default(),
            shared.config.authserv_id(),
            &super::processor::domain_of(&from),
        )
    } else {
        Vouched {
            dmarc_pass: false,
            aligned_dkim: false,
        }
    };
    let origin = if from.is_empty() { mail_from } else { &from };
    let outcomes =
        crate::reports::take_one(&shared.store, &shared.config, via, origin, raw, vouched).await?;
    for o in &outcomes {
        tracing::info!(
            "{} report {} {} from {origin} ({via}): {}{}",
            if o.kind.is_empty() { "?" } else { o.kind },
            o.reporter,
            o.report_id,
            o.status,
            if o.reason.is_empty() || o.status != "aside" {
                String::new()
            } else {
                format!(" ({})", o.reason)
            }
        );
    }
    Ok(())
}

/// In front of Postfix (the milter): a report for a report address is read from the
/// message as judged (with Veilpost's own Authentication-Results) and recorded, and the
/// message goes on to its mailbox as any other. A report that cannot be recorded now is
/// logged: the mailbox still has it, for `veilpost report import`.
pub(super) async fn take_copy(shared: &Shared, t: &Transaction, judged: &[u8]) {
    if !t.rcpt_to.iter().any(|r| is_report_address(shared, r)) {
        return;
    }
    if let Err(e) = take(shared, "milter", judged, true, &t.mail_from).await {
        tracing::error!("report from {} not recorded: {e:#}", t.mail_from);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_our_header_vouches_for_table() {
        let id = "mx.praktijk.nl";
        let cases: &[(&str, &str, bool, bool)] = &[
            (
                "mx.praktijk.nl;\r\n\tspf=pass (client-ip 192.0.2.1) smtp.mailfrom=google.com;\r\n\tdkim=pass header.d=google.com header.s=20230601;\r\n\tdmarc=pass (p=reject dis=none) header.from=google.com;\r\n\tarc=none",
                "google.com",
                true,
                true,
            ),
            // A subdomain's signature aligns with the organisational domain.
            (
                "mx.praktijk.nl; dkim=pass header.d=mail.company-x.example; dmarc=fail",
                "company-x.example",
                false,
                true,
            ),
            // Someone else's signature does not.
            (
                "mx.praktijk.nl; dkim=pass header.d=esp.example; dmarc=pass",
                "company-x.example",
                true,
                false,
            ),
            (
                "mx.praktijk.nl; dkim=fail header.d=company-x.example; dmarc=fail",
                "company-x.example",
                false,
                false,
            ),
            // Not our header: nothing.
            (
                "mx.google.com; dkim=pass header.d=google.com; dmarc=pass",
                "google.com",
                false,
                false,
            ),
            ("", "google.com", false, false),
            // No From domain: nothing.
            (
                "mx.praktijk.nl; dkim=pass header.d=x.example; dmarc=pass",
                "",
                false,
                false,
            ),
        ];
        for (header, from, dmarc, dkim) in cases {
            let v = vouched(header, id, from);
            assert_eq!((v.dmarc_pass, v.aligned_dkim), (*dmarc, *dkim), "{header}");
        }
    }
}
