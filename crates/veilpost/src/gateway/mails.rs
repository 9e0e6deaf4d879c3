//! Mails Veilpost writes itself, in Dutch then English: the portal notification (who sent
//! something, the link, until when — never the content, the subject or attachment names)
//! and delivery status notifications (RFC 3464) for failure, delay and policy blocks.

use mail_builder::MessageBuilder;
use mail_builder::headers::content_type::ContentType;
use mail_builder::mime::{BodyPart, MimePart};

/// `26 november 2026` / `26 November 2026`.
pub fn long_date(unix: i64, dutch: bool) -> String {
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp(unix) else {
        return String::new();
    };
    let nl = [
        "januari",
        "februari",
        "maart",
        "april",
        "mei",
        "juni",
        "juli",
        "augustus",
        "september",
        "oktober",
        "november",
        "december",
    ];
    let en = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let m = usize::from(u8::from(t.month())) - 1;
    format!(
        "{} {} {}",
        t.day(),
        if dutch { nl[m] } else { en[m] },
        t.year()
    )
}

/// What the notification needs.
#[derive(Debug, Clone)]
pub struct Notification<'a> {
    pub organisation: &'a str,
    pub from: &'a str,
    pub sender: &'a str,
    pub recipient: &'a str,
    pub link: &'a str,
    pub expires_at: i64,
    /// An upload request: the recipient is asked to send documents.
    pub upload: bool,
}

/// The notification a portal recipient gets.
pub fn notification(n: &Notification<'_>) -> std::io::Result<Vec<u8>> {
    let nl_date = long_date(n.expires_at, true);
    let en_date = long_date(n.expires_at, false);
    let (nl_upload, en_upload) = if n.upload {
        (
            "U wordt gevraagd documenten veilig te uploaden; dat kan op dezelfde pagina.\r\n\r\n",
            "You are asked to upload documents securely; you can do so on the same page.\r\n\r\n",
        )
    } else {
        ("", "")
    };
    let text = format!(
        "{sender} ({org}) heeft u een beveiligd bericht gestuurd.\r\n\r\n{nl_upload}\
         Open het bericht via deze link:\r\n{link}\r\n\r\n\
         Om het bericht te lezen bevestigt u eerst uw identiteit. Het bericht is beschikbaar \
         tot en met {nl_date}.\r\n\r\n\
         Dit bericht bevat gevoelige gegevens en is daarom niet als gewone e-mail verstuurd.\r\n\r\n\
         --\r\n\r\n\
         {sender} ({org}) has sent you a secure message.\r\n\r\n{en_upload}\
         Open it with this link:\r\n{link}\r\n\r\n\
         You confirm your identity before you can read it. The message is available until \
         {en_date}.\r\n\r\n\
         It holds sensitive data and was therefore not sent as ordinary e-mail.\r\n",
        sender = n.sender,
        org = n.organisation,
        link = n.link,
    );
    let html = format!(
        "<p>{sender} ({org}) heeft u een beveiligd bericht gestuurd.</p>\
         <p><a href=\"{link}\">Open het beveiligde bericht</a></p>\
         <p>Om het bericht te lezen bevestigt u eerst uw identiteit. Het bericht is beschikbaar \
         tot en met {nl_date}.</p><hr>\
         <p lang=\"en\">{sender} ({org}) has sent you a secure message. \
         <a href=\"{link}\">Open the secure message</a>. It is available until {en_date}.</p>",
        sender = html_escape(n.sender),
        org = html_escape(n.organisation),
        link = html_escape(n.link),
    );
    MessageBuilder::new()
        .from((
            format!("{} via Veilpost", n.organisation),
            n.from.to_string(),
        ))
        .to(n.recipient.to_string())
        .subject(format!(
            "Beveiligd bericht van {org} / Secure message from {org}",
            org = n.organisation
        ))
        .header(
            "Auto-Submitted",
            mail_builder::headers::raw::Raw::new("auto-generated"),
        )
        .text_body(text)
        .html_body(html)
        .write_to_vec()
}

/// The sender learns that the attachments went encrypted, and which number got each
/// recipient's password.
pub fn zip_confirmation(
    organisation: &str,
    from: &str,
    sender: &str,
    sent: &[(String, String)],
) -> std::io::Result<Vec<u8>> {
    let nl: String = sent
        .iter()
        .map(|(to, phone)| format!("* {to}: wachtwoord per sms naar {phone}\r\n"))
        .collect();
    let en: String = sent
        .iter()
        .map(|(to, phone)| format!("* {to}: password by SMS to {phone}\r\n"))
        .collect();
    let text = format!(
        "De bijlagen van uw bericht bevatten gevoelige gegevens. Ze zijn als één met AES-256 \
         versleuteld ZIP-bestand verstuurd; het wachtwoord ging per sms naar de ontvanger:\r\n\r\n{nl}\r\n\
         --\r\n\r\n\
         The attachments of your message held sensitive data. They were sent as one AES-256 \
         encrypted ZIP file; the password went to the recipient by SMS:\r\n\r\n{en}"
    );
    MessageBuilder::new()
        .from((format!("{organisation} via Veilpost"), from.to_string()))
        .to(sender.to_string())
        .subject("Bijlagen versleuteld verstuurd / Attachments sent encrypted")
        .header(
            "Auto-Submitted",
            mail_builder::headers::raw::Raw::new("auto-generated"),
        )
        .text_body(text)
        .write_to_vec()
}

/// The double-check held a message: the sender confirms or cancels through the link.
pub fn hold_notice(
    organisation: &str,
    from: &str,
    sender: &str,
    reasons: &[(String, String)],
    link: &str,
) -> std::io::Result<Vec<u8>> {
    let nl: String = reasons.iter().map(|(n, _)| format!("* {n}\r\n")).collect();
    let en: String = reasons.iter().map(|(_, e)| format!("* {e}\r\n")).collect();
    let text = format!(
        "Uw bericht is nog niet verstuurd. Controleer de ontvangers:\r\n\r\n{nl}\r\n\
         Versturen of annuleren: {link}\r\n\r\n--\r\n\r\n\
         Your message has not been sent yet. Check its recipients:\r\n\r\n{en}\r\n\
         Send or cancel: {link}\r\n"
    );
    MessageBuilder::new()
        .from((format!("{organisation} via Veilpost"), from.to_string()))
        .to(sender.to_string())
        .subject("Controleer de ontvangers / Check the recipients")
        .header(
            "Auto-Submitted",
            mail_builder::headers::raw::Raw::new("auto-generated"),
        )
        .text_body(text)
        .write_to_vec()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

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
                    .map(|t| format!(" tot en met {}", long_date(t, true)))
                    .unwrap_or_default()
            ),
            format!(
                "Your message to {r} has not been delivered yet; we keep trying{until}.\r\n\
                 Last error: {why}\r\nYou need not do anything.\r\n",
                r = d.recipient,
                why = d.diagnostic,
                until = d
                    .retry_until
                    .map(|t| format!(" until {}", long_date(t, false)))
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
    let arrival = time::OffsetDateTime::from_unix_timestamp(d.arrival)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc2822)
                .ok()
        })
        .unwrap_or_default();
    let mut status = format!(
        "Reporting-MTA: dns; {mta}\r\nArrival-Date: {arrival}\r\n\r\n\
         Final-Recipient: rfc822; {r}\r\nAction: {action}\r\nStatus: {status}\r\n\
         Diagnostic-Code: smtp; {diag}\r\n",
        mta = d.reporting_mta,
        r = d.recipient,
        status = d.status,
        diag = d.diagnostic.replace(['\r', '\n'], " "),
    );
    if let Some(until) = d.retry_until.filter(|_| d.kind == DsnKind::Delayed)
        && let Ok(t) = time::OffsetDateTime::from_unix_timestamp(until)
        && let Ok(s) = t.format(&time::format_description::well_known::Rfc2822)
    {
        status.push_str(&format!("Will-Retry-Until: {s}\r\n"));
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
    fn notification_holds_no_content() {
        let raw = notification(&Notification {
            organisation: "Huisartsenpraktijk De Linde",
            from: "noreply@praktijkdelinde.nl",
            sender: "a.jansen@praktijkdelinde.nl",
            recipient: "p.devries@ziekenhuis.nl",
            link: "https://veilig.example.nl/p/abc",
            expires_at: 1_796_083_200,
            upload: false,
        })
        .expect("mail");
        let text = String::from_utf8_lossy(&raw);
        assert!(text.contains("https://veilig.example.nl/p/abc"));
        let parsed = mail_parser::MessageParser::new()
            .parse(&raw)
            .expect("parse");
        assert!(
            parsed
                .subject()
                .is_some_and(|s| s.starts_with("Beveiligd bericht van Huisartsenpraktijk De Linde")),
            "{:?}",
            parsed.subject()
        );
        let body = parsed.body_text(0).expect("text");
        assert!(body.contains("a.jansen@praktijkdelinde.nl"), "{body}");
        assert!(
            body.contains("december 2026") || body.contains("november 2026"),
            "{body}"
        );
    }

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
