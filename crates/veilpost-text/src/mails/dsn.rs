//! Delivery status notifications (RFC 3464) for failure, delay and policy blocks, and
//! the headers of the original one may return.

use mail_builder::MessageBuilder;
use mail_builder::headers::content_type::ContentType;
use mail_builder::mime::{BodyPart, MimePart};

use crate::Lang;
use crate::dates::{long_date, rfc5322};

/// Why a DSN is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DsnKind {
    /// Permanent failure (or retries exhausted).
    Failed,
    /// Still trying.
    Delayed,
    /// The policy refused the recipient.
    Blocked,
}

/// What a DSN needs.
#[derive(Debug, Clone)]
pub struct Dsn<'a> {
    pub kind: DsnKind,
    pub reporting_mta: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    pub recipient: &'a str,
    /// `5.7.1`, `4.4.1`...
    pub status: &'a str,
    /// The server's answer or the policy's reason.
    pub diagnostic: &'a str,
    /// Headers of the original worth returning (never the subject: it may hold personal data).
    pub original_headers: String,
    pub arrival: i64,
    pub retry_until: Option<i64>,
}

/// A delivery status notification (RFC 3464).
pub fn dsn(d: &Dsn<'_>) -> std::io::Result<Vec<u8>> {
    let (subject, nl, en, action) = match d.kind {
        DsnKind::Failed => (
            "Niet afgeleverd / Undeliverable",
            format!(
                "Uw bericht kon niet worden afgeleverd bij {r}.\r\nReden: {why}\r\n",
                r = d.recipient,
                why = d.diagnostic
            ),
            format!(
                "Your message could not be delivered to {r}.\r\nReason: {why}\r\n",
                r = d.recipient,
                why = d.diagnostic
            ),
            "failed",
        ),
        DsnKind::Delayed => (
            "Vertraagd / Delayed",
            format!(
                "Uw bericht aan {r} is nog niet afgeleverd; we proberen het opnieuw{until}.\r\n\
                 Laatste fout: {why}\r\nU hoeft niets te doen.\r\n",
                r = d.recipient,
                why = d.diagnostic,
                until = d
                    .retry_until
                    .map(|t| format!(" tot en met {}", long_date(t, Lang::Nl)))
                    .unwrap_or_default()
            ),
            format!(
                "Your message to {r} has not been delivered yet; we keep trying{until}.\r\n\
                 Last error: {why}\r\nYou need not do anything.\r\n",
                r = d.recipient,
                why = d.diagnostic,
                until = d
                    .retry_until
                    .map(|t| format!(" until {}", long_date(t, Lang::En)))
                    .unwrap_or_default()
            ),
            "delayed",
        ),
        DsnKind::Blocked => (
            "Niet verzonden: beleid / Not sent: policy",
            format!(
                "Uw bericht is niet verzonden aan {r}, omdat het beleid van uw organisatie dat \
                 niet toestaat.\r\nReden: {why}\r\n",
                r = d.recipient,
                why = d.diagnostic
            ),
            format!(
                "Your message was not sent to {r}, because your organisation's policy does not \
                 allow it.\r\nReason: {why}\r\n",
                r = d.recipient,
                why = d.diagnostic
            ),
            "failed",
        ),
    };
    let human = format!("{nl}\r\n--\r\n\r\n{en}");
    let arrival = rfc5322(d.arrival);
    let mut status = format!(
        "Reporting-MTA: dns; {mta}\r\nArrival-Date: {arrival}\r\n\r\n\
         Final-Recipient: rfc822; {r}\r\nAction: {action}\r\nStatus: {status}\r\n\
         Diagnostic-Code: smtp; {diag}\r\n",
        mta = d.reporting_mta,
        r = d.recipient,
        status = d.status,
        diag = d.diagnostic.replace(['\r', '\n'], " "),
    );
    if let Some(until) = d.retry_until.filter(|_| d.kind == DsnKind::Delayed) {
        let s = rfc5322(until);
        if !s.is_empty() {
            status.push_str(&format!("Will-Retry-Until: {s}\r\n"));
        }
    }
    let report = MimePart::new(
        ContentType::new("multipart/report").attribute("report-type", "delivery-status"),
        BodyPart::Multipart(vec![
            MimePart::new("text/plain", BodyPart::Text(human.into())),
            MimePart::new(
                ContentType::new("message/delivery-status"),
                BodyPart::Binary(status.into_bytes().into()),
            )
            .transfer_encoding("7bit"),
            MimePart::new(
                ContentType::new("text/rfc822-headers"),
                BodyPart::Binary(d.original_headers.clone().into_bytes().into()),
            )
            .transfer_encoding("7bit"),
        ]),
    );
    MessageBuilder::new()
        .from(("Veilpost".to_string(), d.from.to_string()))
        .to(d.to.to_string())
        .subject(subject)
        .header(
            "Auto-Submitted",
            mail_builder::headers::raw::Raw::new("auto-replied"),
        )
        .body(report)
        .write_to_vec()
}

/// The headers of `raw` a DSN may return: identifiers, not content.
pub fn returnable_headers(raw: &[u8]) -> String {
    let Some(msg) = mail_parser::MessageParser::new().parse_headers(raw) else {
        return String::new();
    };
    let mut out = String::new();
    for name in ["Message-ID", "Date", "From", "To"] {
        if let Some(h) = msg
            .headers()
            .iter()
            .find(|h| h.name().eq_ignore_ascii_case(name))
        {
            let value =
                String::from_utf8_lossy(&raw[h.offset_start() as usize..h.offset_end() as usize]);
            let value: String = value
                .chars()
                .filter(|c| c.is_ascii() && *c != '\0')
                .take(998)
                .collect();
            out.push_str(&format!("{name}:{}", value.trim_end()));
            out.push_str("\r\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsn_structure() {
        let raw = dsn(&Dsn {
            kind: DsnKind::Failed,
            reporting_mta: "gw.example.nl",
            from: "mailer-daemon@example.nl",
            to: "a@example.nl",
            recipient: "x@y.nl",
            status: "5.1.1",
            diagnostic: "550 5.1.1 no such user",
            original_headers: "Message-ID: <1@x>\r\n".into(),
            arrival: 1_796_083_200,
            retry_until: None,
        })
        .expect("dsn");
        let text = String::from_utf8_lossy(&raw);
        assert!(text.contains("multipart/report"), "{text}");
        assert!(
            text.contains("report-type=\"delivery-status\"")
                || text.contains("report-type=delivery-status"),
            "{text}"
        );
        assert!(text.contains("Action: failed"));
        assert!(text.contains("Status: 5.1.1"));
        assert!(text.contains("Final-Recipient: rfc822; x@y.nl"));
        assert!(text.contains("Niet afgeleverd"));
        let parsed = mail_parser::MessageParser::new()
            .parse(&raw)
            .expect("parse");
        assert!(
            parsed
                .body_text(0)
                .expect("text")
                .contains("could not be delivered")
        );
    }

    #[test]
    fn returned_headers_leave_out_the_subject() {
        let h = returnable_headers(
            b"Subject: BSN 111222333\r\nMessage-ID: <a@b>\r\nFrom: a@b.nl\r\n\r\nbody",
        );
        assert!(h.contains("Message-ID: <a@b>"), "{h}");
        assert!(!h.contains("111222333"));
    }
}
