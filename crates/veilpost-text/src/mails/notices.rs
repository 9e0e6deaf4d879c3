//! Mails to portal recipients and to senders: the notification with the link (who sent
//! something and until when, never the content, the subject or attachment names), the
//! ZIP confirmation, and the double-check's hold notice.

use super::{Brand, From, builder, html_escape};
use crate::Lang;
use crate::dates::long_date;

/// What the notification needs.
#[derive(Debug, Clone)]
pub struct Notification<'a> {
    pub from: From<'a>,
    /// How the organisation looks and is reached.
    pub brand: &'a Brand,
    /// The sender's address, and their name when the account has one.
    pub sender: &'a str,
    pub sender_name: Option<&'a str>,
    pub recipient: &'a str,
    pub link: &'a str,
    pub expires_at: i64,
    /// An upload request: the recipient is asked to send documents.
    pub upload: bool,
    /// A reference the sender chose to show ("Uw uitslag van 2 december"); never the
    /// subject unless the sender typed it here.
    pub reference: Option<&'a str>,
    /// Who wrote it: a member of the organisation, or an outsider through the portal.
    pub about: About<'a>,
}

/// Who a notification says the message is from. An outsider is never shown as being of
/// the organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum About<'a> {
    /// Someone of the organisation wrote to the recipient.
    Staff,
    /// An outsider answered a staff member's secure message: the staff member is told
    /// what it answers (`topic`: the original subject, theirs to see).
    Reply { topic: &'a str },
    /// Someone wrote in through the organisation's secure contact form.
    ContactForm,
}

/// The host a link points to (`veilig.praktijk.nl`), shown in plain text so people can
/// check where the button goes.
fn host_of(link: &str) -> &str {
    let rest = link.split_once("://").map(|(_, r)| r).unwrap_or(link);
    rest.split(['/', '?', '#']).next().unwrap_or(rest)
}

/// The notification a portal recipient gets: branded, one button, the portal's address
/// in plain text, who to call, and how to recognise a genuine one. Never content.
pub fn notification(n: &Notification<'_>) -> std::io::Result<Vec<u8>> {
    let shown = Shown::of(n);
    let text = notification_text(n, &shown);
    let html = notification_html(n, &shown);
    let mut b = builder(&n.from, n.recipient, shown.subject.clone())
        .text_body(text)
        .html_body(html);
    if let Some((bytes, content_type)) = &n.brand.logo {
        b = b.inline(*content_type, "logo", bytes.clone());
    }
    b.write_to_vec()
}

/// What both parts of the notification show, worked out once.
struct Shown<'a> {
    /// The mail's subject, the heading and the opening line, in Dutch and English.
    subject: String,
    nl_title: String,
    nl_lead: String,
    en_lead: String,
    /// The portal's host, to check the link against.
    host: &'a str,
    nl_date: String,
    en_date: String,
    reference: Option<&'a str>,
    phone: Option<&'a str>,
    website: Option<&'a str>,
}

impl<'a> Shown<'a> {
    fn of(n: &'a Notification<'a>) -> Shown<'a> {
        let given = |v: Option<&'a str>| v.map(str::trim).filter(|v| !v.is_empty());
        let who = match given(n.sender_name) {
            Some(name) => format!("{name} ({})", n.sender),
            None => n.sender.to_string(),
        };
        let org = n.from.organisation;
        let (subject, nl_title, nl_lead, en_lead) = match n.about {
            About::Staff => (
                format!("Beveiligd bericht van {org} / Secure message from {org}"),
                "U hebt een beveiligd bericht".to_string(),
                format!("{who} van {org} heeft u een beveiligd bericht gestuurd."),
                format!("{who} of {org} has sent you a secure message."),
            ),
            About::Reply { topic } => {
                let topic: String = topic
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(120)
                    .collect();
                (
                    format!("Antwoord van {who} op '{topic}' / Reply from {who}"),
                    format!("Antwoord van {who} op '{topic}'"),
                    format!("{who} heeft beveiligd geantwoord op uw bericht '{topic}'."),
                    format!("{who} has replied securely to your message '{topic}'."),
                )
            }
            About::ContactForm => (
                format!(
                    "Nieuw bericht via het contactformulier van {org} / New message through the contact form"
                ),
                format!("Nieuw bericht via het contactformulier van {org}"),
                format!(
                    "{who} heeft een beveiligd bericht gestuurd via het contactformulier van {org} (het e-mailadres is met een code bevestigd)."
                ),
                format!(
                    "{who} has sent a secure message through the contact form of {org} (the address was confirmed with a code)."
                ),
            ),
        };
        Shown {
            subject,
            nl_title,
            nl_lead,
            en_lead,
            host: host_of(n.link),
            nl_date: long_date(n.expires_at, Lang::Nl),
            en_date: long_date(n.expires_at, Lang::En),
            reference: given(n.reference),
            phone: given(n.brand.phone.as_deref()),
            website: given(n.brand.website.as_deref()),
        }
    }
}

fn notification_text(n: &Notification<'_>, shown: &Shown<'_>) -> String {
    let Shown {
        nl_lead,
        en_lead,
        host,
        nl_date,
        en_date,
        reference,
        phone,
        website,
        ..
    } = shown;
    let org = n.from.organisation;
    let nl_ref = reference
        .map(|r| format!("Kenmerk: {r}\r\n\r\n"))
        .unwrap_or_default();
    let en_ref = reference
        .map(|r| format!("Reference: {r}\r\n\r\n"))
        .unwrap_or_default();
    let (nl_upload, en_upload) = if n.upload {
        (
            "U wordt gevraagd documenten veilig te uploaden; dat kan op dezelfde pagina.\r\n\r\n",
            "You are asked to upload documents securely; you can do so on the same page.\r\n\r\n",
        )
    } else {
        ("", "")
    };
    let nl_call = match (phone, website) {
        (Some(p), _) => format!("Verwacht u dit bericht niet? Bel {org}: {p}.\r\n"),
        (None, Some(w)) => {
            format!("Verwacht u dit bericht niet? Neem contact op met {org}: {w}.\r\n")
        }
        (None, None) => format!("Verwacht u dit bericht niet? Neem contact op met {org}.\r\n"),
    };
    let en_call = match (phone, website) {
        (Some(p), _) => format!("Not expecting this message? Call {org}: {p}.\r\n"),
        (None, Some(w)) => format!("Not expecting this message? Contact {org}: {w}.\r\n"),
        (None, None) => format!("Not expecting this message? Contact {org}.\r\n"),
    };
    format!(
        "{nl_lead}\r\n\r\n{nl_ref}{nl_upload}\
         Bericht openen:\r\n{link}\r\n\r\n\
         Het bericht staat op {host}. Om het te lezen bevestigt u eerst wie u bent. Het is \
         beschikbaar tot en met {nl_date}.\r\n\r\n\
         {nl_call}\
         Zo herkent u een echte melding: de link gaat altijd naar {host}; wij vragen nooit om \
         een wachtwoord, een betaling of uw bankgegevens, en deze mail bevat nooit de inhoud \
         zelf.\r\n\r\n\
         --\r\n\r\n\
         {en_lead}\r\n\r\n{en_ref}{en_upload}\
         Open the message:\r\n{link}\r\n\r\n\
         The message is on {host}. You confirm who you are before you can read it. It is \
         available until {en_date}.\r\n\r\n\
         {en_call}\
         How to recognise a genuine notification: the link always goes to {host}; we never ask \
         for a password, a payment or your bank details, and this mail never holds the \
         content itself.\r\n",
        link = n.link,
    )
}

fn notification_html(n: &Notification<'_>, shown: &Shown<'_>) -> String {
    let Shown {
        nl_title,
        nl_lead,
        en_lead,
        host,
        nl_date,
        en_date,
        reference,
        phone,
        website,
        ..
    } = shown;
    let e = html_escape;
    let (org, colour, on) = (
        e(n.from.organisation),
        n.brand.colour(),
        n.brand.on_colour(),
    );
    let (nl_title, nl_lead, en_lead) = (e(nl_title), e(nl_lead), e(en_lead));
    let (host, link) = (e(host), e(n.link));
    let logo = if n.brand.logo.is_some() {
        "<img src=\"cid:logo\" alt=\"\" height=\"40\" style=\"height:40px;vertical-align:middle;margin-right:12px\">"
    } else {
        ""
    };
    let reference = reference
        .map(|r| {
            format!(
                "<p style=\"margin:0 0 16px;padding:10px 14px;background:#f5f7fa;border-left:4px solid {colour}\">\
                 <strong>Kenmerk</strong> / <span lang=\"en\">Reference</span>: {}</p>",
                e(r)
            )
        })
        .unwrap_or_default();
    let upload = if n.upload {
        "<p style=\"margin:0 0 16px\">U wordt gevraagd documenten veilig te uploaden; dat kan op dezelfde pagina.</p>"
    } else {
        ""
    };
    let call = match (phone, website) {
        (Some(p), _) => format!(
            "Bel <strong>{org}</strong>: <a href=\"tel:{tel}\" style=\"color:{colour}\">{p}</a>",
            tel = e(&p.replace([' ', '-'], "")),
            p = e(p)
        ),
        (None, Some(w)) => format!("Neem contact op met <strong>{org}</strong>: {}", e(w)),
        (None, None) => format!("Neem contact op met <strong>{org}</strong>"),
    };
    let site = website.map(|w| format!(" · {}", e(w))).unwrap_or_default();
    format!(
        "<!doctype html><html lang=\"nl\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{nl_title}</title></head>\
         <body style=\"margin:0;padding:0;background:#eef1f5;font-family:Arial,Helvetica,sans-serif;color:#1d2733\">\
         <table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" style=\"background:#eef1f5\"><tr><td align=\"center\" style=\"padding:24px 12px\">\
         <table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" style=\"max-width:560px;background:#ffffff;border-radius:8px;overflow:hidden\">\
         <tr><td style=\"background:{colour};color:{on};padding:16px 24px;font-size:18px;font-weight:bold\">{logo}{org}</td></tr>\
         <tr><td style=\"padding:24px;font-size:16px;line-height:1.5\">\
         <h1 style=\"font-size:20px;margin:0 0 16px\">{nl_title}</h1>\
         <p style=\"margin:0 0 16px\">{nl_lead}</p>\
         {reference}{upload}\
         <p style=\"margin:24px 0;text-align:center\"><a href=\"{link}\" style=\"display:inline-block;background:{colour};color:{on};font-size:18px;font-weight:bold;text-decoration:none;padding:14px 32px;border-radius:6px\">Bericht openen</a></p>\
         <p style=\"margin:0 0 16px\">Het bericht staat op <strong>{host}</strong>. Om het te lezen bevestigt u eerst wie u bent. \
         Het is beschikbaar tot en met {nl_date}.</p>\
         <p style=\"margin:0 0 16px\">Verwacht u dit bericht niet? {call}.</p>\
         <p style=\"margin:0 0 16px;font-size:14px;color:#4a5563\"><strong>Zo herkent u een echte melding:</strong> \
         de link gaat altijd naar {host}; wij vragen nooit om een wachtwoord, een betaling of uw bankgegevens, \
         en deze mail bevat nooit de inhoud zelf.</p>\
         <hr style=\"border:0;border-top:1px solid #e1e6ec;margin:24px 0\">\
         <div lang=\"en\" style=\"font-size:14px;color:#4a5563\">\
         <p style=\"margin:0 0 8px\">{en_lead} \
         <a href=\"{link}\" style=\"color:{colour}\">Open the message</a> on {host}; you confirm who you are first. \
         It is available until {en_date}. A genuine notification always links to {host} and never asks for a \
         password, a payment or bank details.</p></div>\
         </td></tr>\
         <tr><td style=\"padding:12px 24px;background:#f5f7fa;font-size:12px;color:#4a5563\">{org}{site} · verstuurd met Veilpost</td></tr>\
         </table></td></tr></table></body></html>"
    )
}

/// The sender learns that the attachments went encrypted, and which number got each
/// recipient's password.
pub fn zip_confirmation(
    from: &From<'_>,
    sender: &str,
    subject: &str,
    sent: &[(String, String)],
) -> std::io::Result<Vec<u8>> {
    let q = super::quoted(subject);
    let (nl_which, en_which) = match &q {
        Some(q) => (format!(" {q}"), format!(" {q}")),
        None => (String::new(), String::new()),
    };
    let nl: String = sent
        .iter()
        .map(|(to, phone)| format!("* {to}: wachtwoord per sms naar {phone}\r\n"))
        .collect();
    let en: String = sent
        .iter()
        .map(|(to, phone)| format!("* {to}: password by SMS to {phone}\r\n"))
        .collect();
    let text = format!(
        "De bijlagen van uw bericht{nl_which} bevatten gevoelige gegevens. Ze zijn als één met AES-256 \
         versleuteld ZIP-bestand verstuurd; het wachtwoord ging per sms naar de ontvanger:\r\n\r\n{nl}\r\n\
         --\r\n\r\n\
         The attachments of your message{en_which} held sensitive data. They were sent as one AES-256 \
         encrypted ZIP file; the password went to the recipient by SMS:\r\n\r\n{en}"
    );
    let title = match &q {
        Some(q) => format!("Bijlagen versleuteld verstuurd: {q} / Attachments sent encrypted"),
        None => "Bijlagen versleuteld verstuurd / Attachments sent encrypted".to_string(),
    };
    builder(from, sender, title).text_body(text).write_to_vec()
}

/// The double-check held a message: the sender confirms or cancels through the link.
pub fn hold_notice(
    from: &From<'_>,
    sender: &str,
    subject: &str,
    reasons: &[(String, String)],
    link: &str,
) -> std::io::Result<Vec<u8>> {
    let q = super::quoted(subject);
    let (nl_which, en_which) = match &q {
        Some(q) => (format!(" {q}"), format!(" {q}")),
        None => (String::new(), String::new()),
    };
    let nl: String = reasons.iter().map(|(n, _)| format!("* {n}\r\n")).collect();
    let en: String = reasons.iter().map(|(_, e)| format!("* {e}\r\n")).collect();
    let text = format!(
        "Uw bericht{nl_which} is nog niet verstuurd. Controleer de ontvangers:\r\n\r\n{nl}\r\n\
         Versturen of annuleren: {link}\r\n\r\n--\r\n\r\n\
         Your message{en_which} has not been sent yet. Check its recipients:\r\n\r\n{en}\r\n\
         Send or cancel: {link}\r\n"
    );
    let title = match &q {
        Some(q) => format!("Controleer de ontvangers van {q} / Check the recipients"),
        None => "Controleer de ontvangers / Check the recipients".to_string(),
    };
    builder(from, sender, title).text_body(text).write_to_vec()
}

/// Thanks to a member of staff who reported phishing.
pub fn report_thanks(from: &From<'_>, to: &str, subject: &str) -> std::io::Result<Vec<u8>> {
    let q = super::quoted(subject);
    let (nl_which, en_which) = match &q {
        Some(q) => (format!(" over {q}"), format!(" about {q}")),
        None => (String::new(), String::new()),
    };
    let text = format!(
        "Dank u voor uw melding{nl_which}. De beheerder bekijkt het bericht en blokkeert de \
         afzender als het phishing is. Open geen links of bijlagen in het bericht en verwijder \
         het uit uw mailbox.\r\n\r\n--\r\n\r\n\
         Thank you for your report{en_which}. The administrator looks at the message and blocks \
         the sender if it is phishing. Do not open links or attachments in it; delete it from \
         your mailbox.\r\n"
    );
    builder(
        from,
        to,
        "Dank voor uw melding / Thank you for your report".to_string(),
    )
    .text_body(text)
    .write_to_vec()
}

/// One quarantined message as the daily digest lists it: who sent it, when, and why it
/// was held (in both languages). Never its subject or content.
#[derive(Debug, Clone)]
pub struct Waiting {
    pub sender: String,
    pub received: String,
    pub why_nl: String,
    pub why_en: String,
}

/// The daily quarantine digest: what waits for `to` (everything, for an administrator),
/// and where to release or delete it.
pub fn quarantine_digest(
    from: &From<'_>,
    to: &str,
    waiting: &[Waiting],
    link: &str,
) -> std::io::Result<Vec<u8>> {
    // A sender's address is outside input: one line, no control characters.
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(200)
            .collect()
    };
    let nl: String = waiting
        .iter()
        .map(|w| format!("* {} ({}): {}\r\n", clean(&w.sender), w.received, w.why_nl))
        .collect();
    let en: String = waiting
        .iter()
        .map(|w| format!("* {} ({}): {}\r\n", clean(&w.sender), w.received, w.why_en))
        .collect();
    let n = waiting.len();
    let (nl_count, en_count) = if n == 1 {
        (
            "Er wacht 1 bericht".to_string(),
            "1 message is waiting".to_string(),
        )
    } else {
        (
            format!("Er wachten {n} berichten"),
            format!("{n} messages are waiting"),
        )
    };
    let text = format!(
        "{nl_count} in quarantaine: binnengekomen mail die te verdacht was om door te laten.\r\n\r\n\
         {nl}\r\nBekijken, vrijgeven of verwijderen: {link}\r\n\
         Twijfelt u? Vraag het de afzender via een nummer dat u al kent, niet via het bericht.\r\n\r\n--\r\n\r\n\
         {en_count} in quarantine: incoming mail too suspicious to let through.\r\n\r\n\
         {en}\r\nView, release or delete: {link}\r\n\
         In doubt? Ask the sender on a number you already know, not through the message.\r\n"
    );
    builder(
        from,
        to,
        format!("Quarantaine: {n} wachtend / Quarantine: {n} waiting"),
    )
    .text_body(text)
    .write_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mails::topic;

    const FROM: From<'static> = From {
        organisation: "Huisartsenpraktijk De Linde",
        address: "noreply@praktijkdelinde.nl",
    };

    /// Issue 18, point 5: the digest names sender, time and reason, never a subject, and
    /// a sender's address cannot add lines.
    #[test]
    fn the_quarantine_digest_lists_what_waits() {
        let raw = quarantine_digest(
            &FROM,
            "ann@praktijkdelinde.nl",
            &[
                Waiting {
                    sender: "facturen@zorggroep0ost.nl\r\nBcc: x@y.z".into(),
                    received: "3-12-2026 07:12".into(),
                    why_nl: "het afzenderdomein lijkt op een bekend domein".into(),
                    why_en: "the sender's domain looks like a known one".into(),
                },
                Waiting {
                    sender: "uitslagen@lab.test".into(),
                    received: "3-12-2026 07:30".into(),
                    why_nl: "DMARC".into(),
                    why_en: "DMARC".into(),
                },
            ],
            "https://veilpost.praktijkdelinde.nl/quarantine",
        )
        .expect("mail");
        let m = mail_parser::MessageParser::default()
            .parse(&raw)
            .expect("parses");
        assert_eq!(
            m.subject(),
            Some("Quarantaine: 2 wachtend / Quarantine: 2 waiting")
        );
        let text = m.body_text(0).expect("text");
        assert!(
            text.contains("Er wachten 2 berichten in quarantaine"),
            "{text}"
        );
        assert!(text.contains("* facturen@zorggroep0ost.nl  Bcc: x@y.z (3-12-2026 07:12): het afzenderdomein lijkt op een bekend domein"), "{text}");
        assert!(text.contains("https://veilpost.praktijkdelinde.nl/quarantine"));
        assert!(m.header("Bcc").is_none());
    }

    /// Issue 17, point 1: the notification is branded, has one button, says where it
    /// points, who to call, how to recognise a genuine one and the sender's own reference;
    /// a mail client gets HTML, plain text and the logo inline.
    #[test]
    fn the_notification_people_trust() {
        let brand = Brand {
            colour: "#0b6e4f".into(),
            phone: Some("030 123 45 67".into()),
            website: Some("www.praktijkdelinde.nl".into()),
            logo: Some((b"\x89PNG\r\n\x1a\nlogo".to_vec(), "image/png")),
        };
        let raw = notification(&Notification {
            from: FROM,
            brand: &brand,
            sender: "a.jansen@praktijkdelinde.nl",
            sender_name: Some("Dr. A. Jansen"),
            recipient: "p.devries@example.net",
            link: "https://veilig.praktijkdelinde.nl/p/abc",
            expires_at: 1_796_083_200,
            upload: false,
            about: About::Staff,
            reference: Some("Uw uitslag van 2 december <b>"),
        })
        .expect("mail");
        let m = mail_parser::MessageParser::new()
            .parse(&raw)
            .expect("parse");
        let html = m.body_html(0).expect("html").into_owned();
        let text = m.body_text(0).expect("text").into_owned();
        for part in [&html, &text] {
            assert!(part.contains("Dr. A. Jansen"), "{part}");
            assert!(part.contains("Huisartsenpraktijk De Linde"));
            assert!(part.contains("veilig.praktijkdelinde.nl"));
            assert!(part.contains("030 123 45 67"));
            assert!(part.contains("nooit om een wachtwoord"));
            assert!(part.contains("Uw uitslag van 2 december"));
        }
        // The link on a line of its own: plain-text readers and copying see it whole.
        assert!(text.contains("Bericht openen:\r\nhttps://veilig.praktijkdelinde.nl/p/abc\r\n"));
        assert_eq!(html.matches(">Bericht openen</a>").count(), 1, "one button");
        assert!(html.contains("background:#0b6e4f;color:#ffffff"));
        assert!(html.contains("src=\"cid:logo\""));
        assert!(html.contains("href=\"tel:0301234567\""));
        assert!(
            html.contains("&lt;b&gt;") && !html.contains("december <b>"),
            "escaped"
        );
        let logo = m.attachment(0).expect("the logo, inline");
        assert_eq!(mail_parser::MimeHeaders::content_id(logo), Some("logo"));
        assert_eq!(logo.contents(), b"\x89PNG\r\n\x1a\nlogo");
        // Never the subject or any content.
        assert!(!String::from_utf8_lossy(&raw).contains("Uitslag HbA1c"));
    }

    /// Issue 16, point 14: a quoted local part stays quoted in the headers we write.
    #[test]
    fn quoted_local_parts_stay_quoted_in_headers() {
        let raw = notification(&Notification {
            from: FROM,
            brand: &Brand::default(),
            sender_name: None,
            reference: None,
            sender: "\"a. jansen\"@praktijkdelinde.nl",
            recipient: "\"p. de vries\"@ziekenhuis.nl",
            link: "https://veilig.example.nl/p/abc",
            expires_at: 1_796_083_200,
            upload: false,
            about: About::Staff,
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
            brand: &Brand::default(),
            sender_name: None,
            reference: None,
            sender: "a.jansen@praktijkdelinde.nl",
            recipient: "p.devries@ziekenhuis.nl",
            link: "https://veilig.example.nl/p/abc",
            expires_at: 1_796_083_200,
            upload: false,
            about: About::Staff,
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
            "Verwijzing\r\n  dhr. Jansen",
            &[("nieuw adres".into(), "new address".into())],
            "https://veilig.example.nl/h/x",
        )
        .expect("mail");
        let m = mail_parser::MessageParser::new()
            .parse(&raw)
            .expect("parse");
        // The sender is told which message, on one line.
        assert_eq!(
            m.subject(),
            Some("Controleer de ontvangers van 'Verwijzing dhr. Jansen' / Check the recipients")
        );
        let text = m.body_text(0).expect("text");
        assert!(
            text.contains("Uw bericht 'Verwijzing dhr. Jansen' is nog niet"),
            "{text}"
        );
        assert!(
            text.contains("* nieuw adres") && text.contains("* new address"),
            "{text}"
        );
        assert!(text.contains("https://veilig.example.nl/h/x"), "{text}");
    }

    /// Issue 17, point 7: an outsider's reply names what it answers, a contact-form
    /// message where it came in; neither shows the outsider as the organisation's.
    #[test]
    fn outsiders_are_never_shown_as_the_organisations() {
        let org = FROM.organisation;
        for (about, subject, lead) in [
            (
                About::Staff,
                format!("Beveiligd bericht van {org}"),
                format!("piet@example.net van {org} heeft u"),
            ),
            (
                About::Reply { topic: topic("Re: [veilig] Uitslag bloedonderzoek") },
                "Antwoord van piet@example.net op 'Uitslag bloedonderzoek'".to_string(),
                "piet@example.net heeft beveiligd geantwoord op uw bericht 'Uitslag bloedonderzoek'".to_string(),
            ),
            (
                About::ContactForm,
                format!("Nieuw bericht via het contactformulier van {org}"),
                format!("piet@example.net heeft een beveiligd bericht gestuurd via het contactformulier van {org}"),
            ),
        ] {
            let raw = notification(&Notification {
                from: FROM,
                brand: &Brand::default(),
                sender_name: None,
                reference: None,
                sender: "piet@example.net",
                recipient: "ann@praktijkdelinde.nl",
                link: "https://veilig.example.nl/p/abc",
                expires_at: 1_796_083_200,
                upload: false,
                about,
            })
            .expect("mail");
            let m = mail_parser::MessageParser::new().parse(&raw).expect("parse");
            assert!(m.subject().unwrap_or("").starts_with(&subject), "{about:?}: {:?}", m.subject());
            let text = m.body_text(0).expect("text");
            let html = m.body_html(0).expect("html");
            assert!(text.contains(&lead), "{about:?}: {text}");
            assert!(html.contains(&html_escape(&lead)), "{about:?}: {html}");
            if about != About::Staff {
                let as_ours = format!("piet@example.net van {org}");
                assert!(!text.contains(&as_ours) && !html.contains(&as_ours), "{about:?}");
            }
        }
        assert_eq!(topic("RE: Re: [veilig]  Verwijzing"), "Verwijzing");
        assert_eq!(topic("Verwijzing"), "Verwijzing");
    }
}
