//! Mails to portal recipients and to senders: the notification with the link (who sent
//! something and until when, never the content, the subject or attachment names), the
//! ZIP confirmation, and the double-check's hold notice.

use super::{From, builder, html_escape};
use crate::Lang;
use crate::dates::long_date;

/// What the notification needs.
#[derive(Debug, Clone)]
pub struct Notification<'a> {
    pub from: From<'a>,
    pub sender: &'a str,
    pub recipient: &'a str,
    pub link: &'a str,
    pub expires_at: i64,
    /// An upload request: the recipient is asked to send documents.
    pub upload: bool,
}

/// The notification a portal recipient gets.
pub fn notification(n: &Notification<'_>) -> std::io::Result<Vec<u8>> {
    let nl_date = long_date(n.expires_at, Lang::Nl);
    let en_date = long_date(n.expires_at, Lang::En);
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
        org = n.from.organisation,
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
        org = html_escape(n.from.organisation),
        link = html_escape(n.link),
    );
    builder(
        &n.from,
        n.recipient,
        format!(
            "Beveiligd bericht van {org} / Secure message from {org}",
            org = n.from.organisation
        ),
    )
    .text_body(text)
    .html_body(html)
    .write_to_vec()
}

/// The sender learns that the attachments went encrypted, and which number got each
/// recipient's password.
pub fn zip_confirmation(
    from: &From<'_>,
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
    builder(
        from,
        sender,
        "Bijlagen versleuteld verstuurd / Attachments sent encrypted".to_string(),
    )
    .text_body(text)
    .write_to_vec()
}

/// The double-check held a message: the sender confirms or cancels through the link.
pub fn hold_notice(
    from: &From<'_>,
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
    builder(
        from,
        sender,
        "Controleer de ontvangers / Check the recipients".to_string(),
    )
    .text_body(text)
    .write_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FROM: From<'static> = From {
        organisation: "Huisartsenpraktijk De Linde",
        address: "noreply@praktijkdelinde.nl",
    };

    /// Issue 16, point 14: a quoted local part stays quoted in the headers we write.
    #[test]
    fn quoted_local_parts_stay_quoted_in_headers() {
        let raw = notification(&Notification {
            from: FROM,
            sender: "\"a. jansen\"@praktijkdelinde.nl",
            recipient: "\"p. de vries\"@ziekenhuis.nl",
            link: "https://veilig.example.nl/p/abc",
            expires_at: 1_796_083_200,
            upload: false,
        })
        .expect("mail");
        let text = String::from_utf8_lossy(&raw);
        let head = &text[..text.find("\r\n\r\n").expect("head")];
        assert!(head.contains("<\"p. de vries\"@ziekenhuis.nl>"), "{head}");
        let parsed = mail_parser::MessageParser::new()
            .parse(&raw)
            .expect("parse");
        let to = parsed
            .to()
            .and_then(|a| a.first())
            .and_then(|a| a.address());
        assert_eq!(
            to,
            Some("\"p. de vries\"@ziekenhuis.nl"),
            "read back as one address"
        );
    }

    #[test]
    fn notification_holds_no_content() {
        let raw = notification(&Notification {
            from: FROM,
            sender: "a.jansen@praktijkdelinde.nl",
            recipient: "p.devries@ziekenhuis.nl",
            link: "https://veilig.example.nl/p/abc",
            expires_at: 1_796_083_200,
            upload: false,
        })
        .expect("mail");
        let text = String::from_utf8_lossy(&raw);
        assert!(text.contains("https://veilig.example.nl/p/abc"));
        assert!(text.contains("Auto-Submitted: auto-generated"), "{text}");
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
        assert!(body.contains("1 december 2026"), "{body}");
        assert!(body.contains("1 December 2026"), "{body}");
        let html = parsed.body_html(0).expect("html");
        assert!(
            html.contains("href=\"https://veilig.example.nl/p/abc\""),
            "{html}"
        );
    }

    #[test]
    fn hold_notice_lists_reasons_in_both_languages() {
        let raw = hold_notice(
            &FROM,
            "a.jansen@praktijkdelinde.nl",
            &[("nieuw adres".into(), "new address".into())],
            "https://veilig.example.nl/h/x",
        )
        .expect("mail");
        let text = String::from_utf8_lossy(&raw);
        assert!(
            text.contains("* nieuw adres") && text.contains("* new address"),
            "{text}"
        );
        assert!(text.contains("https://veilig.example.nl/h/x"), "{text}");
    }
}
