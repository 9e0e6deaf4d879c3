//! What the portal sends (the e-mailed login code, the read receipt and the lock-out
//! notice for the sender, the sender's confirmation with the status link and the access
//! code to pass on) and what people write in it: the recipient's secure reply, a
//! patient's contact-form message, a staff member's web-composed message.

use mail_builder::MessageBuilder;
use mail_builder::headers::raw::Raw;

use super::{From, builder, crlf};

/// The login code by e-mail (only where policy lets an e-mailed code do alone).
pub fn code_mail(from: &From<'_>, to: &str, code: &str, minutes: i64) -> std::io::Result<Vec<u8>> {
    let text = format!(
        "Uw code om het beveiligde bericht te openen: {code}\r\n\
         De code is {minutes} minuten geldig. Hebt u geen code aangevraagd? Dan kunt u deze mail negeren.\r\n\r\n--\r\n\r\n\
         Your code to open the secure message: {code}\r\n\
         It is valid for {minutes} minutes. If you did not ask for a code, ignore this mail.\r\n"
    );
    builder(from, to, format!("Uw code: {code} / Your code"))
        .text_body(text)
        .write_to_vec()
}

/// The recipient is told an authenticator app was linked to their address (so that a
/// link they did not make is noticed).
pub fn totp_registered(from: &From<'_>, to: &str, at: &str) -> std::io::Result<Vec<u8>> {
    let text = format!(
        "Op {at} is een authenticator-app gekoppeld aan {to} voor het openen van beveiligde berichten.\r\n\
         Was u dat niet? Neem dan contact op met de afzender van het bericht.\r\n\r\n--\r\n\r\n\
         On {at} (Dutch time) an authenticator app was linked to {to} for opening secure messages.\r\n\
         If that was not you, contact the sender of the message.\r\n"
    );
    builder(
        from,
        to,
        "Authenticator-app gekoppeld / Authenticator app linked".to_string(),
    )
    .text_body(text)
    .write_to_vec()
}

/// A successor is told which secure conversations of a leaver are now theirs, with a
/// status link of their own for each (the leaver's links no longer work).
pub fn handed_over(
    from: &From<'_>,
    to: &str,
    leaver: &str,
    links: &[(String, String)],
) -> std::io::Result<Vec<u8>> {
    let list: String = links
        .iter()
        .map(|(recipient, url)| format!("- {recipient}: {url}\r\n"))
        .collect();
    let text = format!(
        "{leaver} werkt hier niet meer. Deze beveiligde berichten zijn aan u overgedragen; antwoorden,\r\n\
         leesbevestigingen en meldingen komen voortaan bij u. Per bericht uw eigen statuslink:\r\n\r\n{list}\r\n\
         --\r\n\r\n\
         {leaver} no longer works here. These secure messages are now yours; replies, read receipts\r\n\
         and notices come to you from now on. Your own status link per message is above.\r\n"
    );
    builder(
        from,
        to,
        format!("Overgedragen berichten van {leaver} / Messages handed over from {leaver}"),
    )
    .text_body(text)
    .write_to_vec()
}

/// The sender is told the recipient opened the message (a read receipt).
pub fn read_receipt(
    from: &From<'_>,
    sender: &str,
    recipient: &str,
    at: &str,
    status_link: Option<&str>,
) -> std::io::Result<Vec<u8>> {
    let status = status_link
        .map(|l| format!("\r\nStatus: {l}\r\n"))
        .unwrap_or_default();
    let text = format!(
        "{recipient} heeft uw beveiligde bericht geopend op {at}.\r\n{status}\r\n--\r\n\r\n\
         {recipient} opened your secure message on {at} (Dutch time).\r\n"
    );
    builder(
        from,
        sender,
        format!("Gelezen: beveiligd bericht aan {recipient} / Read: secure message to {recipient}"),
    )
    .text_body(text)
    .write_to_vec()
}

/// The sender is told the recipient's login locked after too many wrong codes.
pub fn locked_notice(
    from: &From<'_>,
    sender: &str,
    recipient: &str,
    status_link: Option<&str>,
) -> std::io::Result<Vec<u8>> {
    let status = status_link
        .map(|l| format!("\r\nOntgrendelen of intrekken / Unlock or revoke: {l}\r\n"))
        .unwrap_or_default();
    let text = format!(
        "Bij uw beveiligde bericht aan {recipient} is te vaak een verkeerde code ingevoerd. \
         De toegang is geblokkeerd. Neem contact op met de ontvanger via een ander kanaal (telefoon) \
         en ontgrendel de toegang als het de ontvanger zelf was; trek het bericht anders in.\r\n{status}\r\n--\r\n\r\n\
         Too many wrong codes were entered for your secure message to {recipient}. Access is \
         locked. Contact the recipient through another channel (phone) and unlock access if it \
         was them; otherwise revoke the message.\r\n"
    );
    builder(
        from,
        sender,
        format!("Toegang geblokkeerd: bericht aan {recipient} / Access locked"),
    )
    .text_body(text)
    .write_to_vec()
}

/// One portal recipient in the sender's confirmation.
#[derive(Debug, Clone)]
pub struct Confirmed {
    pub recipient: String,
    pub status_link: String,
    /// The access code to pass on by phone, if the recipient may use one.
    pub access_code: Option<String>,
    /// The number SMS codes go to (masked), if known.
    pub phone: Option<String>,
}

/// The sender's confirmation that the message went through the portal.
pub fn sender_confirmation(
    from: &From<'_>,
    sender: &str,
    subject: &str,
    recipients: &[Confirmed],
    expires: &str,
) -> std::io::Result<Vec<u8>> {
    let mut nl = String::new();
    let mut en = String::new();
    for r in recipients {
        nl.push_str(&format!(
            "\r\n* {}\r\n  Status en intrekken: {}\r\n",
            r.recipient, r.status_link
        ));
        en.push_str(&format!(
            "\r\n* {}\r\n  Status and revoke: {}\r\n",
            r.recipient, r.status_link
        ));
        if let Some(code) = &r.access_code {
            nl.push_str(&format!(
                "  Toegangscode: {code}\r\n  Geef deze code door via een ander kanaal (telefonisch, niet per e-mail).\r\n"
            ));
            en.push_str(&format!(
                "  Access code: {code}\r\n  Pass it on through another channel (by phone, not by e-mail).\r\n"
            ));
        }
        if let Some(phone) = &r.phone {
            nl.push_str(&format!("  Sms-codes gaan naar {phone}.\r\n"));
            en.push_str(&format!("  SMS codes go to {phone}.\r\n"));
        }
    }
    let (nl_which, en_which, title) = match super::quoted(subject) {
        Some(q) => (
            format!("Uw bericht {q}"),
            format!("Your message {q}"),
            format!("Verstuurd via het beveiligde portaal: {q} / Sent through the secure portal"),
        ),
        None => (
            "Uw bericht".to_string(),
            "Your message".to_string(),
            "Verstuurd via het beveiligde portaal / Sent through the secure portal".to_string(),
        ),
    };
    let text = format!(
        "{nl_which} bevatte gevoelige gegevens en is daarom via het beveiligde portaal verstuurd. \
         De ontvangers kregen een melding met een link; lezen kan pas als zij met een code hebben bevestigd wie zij zijn. \
         Het bericht is beschikbaar tot en met {expires}.\r\n{nl}\r\n--\r\n\r\n\
         {en_which} held sensitive data and was therefore sent through the secure portal. \
         The recipients got a notification with a link; they read it after confirming who they are with a code. \
         It is available until {expires}.\r\n{en}"
    );
    builder(from, sender, title).text_body(text).write_to_vec()
}

/// What a reply's subject answers: without `Re:` and the `[veilig]` marker
/// (`Re: [veilig] Uitslag` → `Uitslag`).
pub fn topic(subject: &str) -> &str {
    let mut t = subject.trim();
    loop {
        let before = t;
        for prefix in ["Re:", "RE:", "re:", "Antw:", "[veilig]"] {
            t = t.strip_prefix(prefix).unwrap_or(t).trim_start();
        }
        if t == before {
            return t.trim();
        }
    }
}

/// A file the recipient attached to a reply.
#[derive(Debug, Clone)]
pub struct ReplyFile {
    pub name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// The recipient's secure reply, addressed to the original sender. Processing gives it
/// the secure route by its origin (a portal reply), never by its subject; the
/// `[veilig]` there is for the people reading it.
pub fn reply(
    from: &From<'_>,
    recipient: &str,
    sender: &str,
    subject: &str,
    in_reply_to: Option<&str>,
    text: &str,
    files: Vec<ReplyFile>,
) -> std::io::Result<Vec<u8>> {
    let base = topic(subject);
    written(
        from,
        recipient,
        sender,
        format!("Re: [veilig] {base}"),
        in_reply_to,
        text,
        files,
    )
}

/// What a patient wrote in the secure contact form.
#[derive(Debug, Clone, Copy)]
pub struct Written<'a> {
    pub name: &'a str,
    /// A number to call back on, if given.
    pub phone: &'a str,
    /// The reference the patient was shown (`CF-…`).
    pub reference: &'a str,
    pub text: &'a str,
}

/// A patient's message from the secure contact form to the organisation's mailbox. Like
/// a reply it takes the secure route by its origin; the name the patient typed is never
/// read as a routing tag.
pub fn intake(
    from: &From<'_>,
    author: &str,
    mailbox: &str,
    w: &Written<'_>,
    files: Vec<ReplyFile>,
) -> std::io::Result<Vec<u8>> {
    let who = if w.name.trim().is_empty() {
        author.to_string()
    } else {
        format!("{} ({author})", w.name.trim())
    };
    let phone = if w.phone.trim().is_empty() {
        String::new()
    } else {
        format!("Terugbellen op: {}\n", w.phone.trim())
    };
    let text = format!(
        "Bericht via het beveiligde contactformulier van {who}; het e-mailadres is met een code bevestigd.\n\
         Kenmerk: {}\n{phone}\n{}",
        w.reference, w.text
    );
    written(
        from,
        author,
        mailbox,
        format!("Contactformulier: {who} ({})", w.reference),
        None,
        &text,
        files,
    )
}

/// A secure message a staff member wrote in the web compose page, as their mail client
/// would have sent it. The secure route is asked for beside it, as data on the envelope
/// (not as a subject tag).
pub fn composed(
    sender: (&str, &str),
    to: &[String],
    subject: &str,
    text: &str,
    files: Vec<ReplyFile>,
) -> std::io::Result<Vec<u8>> {
    let (name, address) = sender;
    let from = if name.trim().is_empty() {
        mail_builder::headers::address::Address::new_address(None::<String>, address.to_string())
    } else {
        mail_builder::headers::address::Address::new_address(
            Some(name.trim().to_string()),
            address.to_string(),
        )
    };
    let mut b = MessageBuilder::new()
        .from(from)
        .to(to
            .iter()
            .map(|t| {
                mail_builder::headers::address::Address::new_address(None::<String>, t.clone())
            })
            .collect::<Vec<_>>())
        .subject(subject.trim().to_string())
        .header("X-Veilpost-Composed", Raw::new("web"))
        .text_body(crlf(text));
    for f in files {
        b = b.attachment(f.content_type, f.name, f.bytes);
    }
    b.write_to_vec()
}

/// What someone outside wrote in the portal, from the organisation's notify address on
/// their behalf (DMARC stays aligned), with Reply-To them.
fn written(
    from: &From<'_>,
    author: &str,
    to: &str,
    subject: String,
    in_reply_to: Option<&str>,
    text: &str,
    files: Vec<ReplyFile>,
) -> std::io::Result<Vec<u8>> {
    let mut b = MessageBuilder::new()
        .from((
            format!("{author} via {}", from.organisation),
            from.address.to_string(),
        ))
        .reply_to(author.to_string())
        .to(to.to_string())
        .subject(subject)
        .header("X-Veilpost-Reply-From", Raw::new(author.to_string()))
        .text_body(crlf(text));
    if let Some(id) = in_reply_to {
        b = b.in_reply_to(id.to_string()).references(id.to_string());
    }
    for f in files {
        b = b.attachment(f.content_type, f.name, f.bytes);
    }
    b.write_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FROM: From<'static> = From {
        organisation: "Huisartsenpraktijk De Linde",
        address: "noreply@praktijk.test",
    };

    #[test]
    fn reply_is_marked_secure_and_threads() {
        let raw = reply(
            &FROM,
            "p.devries@example.net",
            "a.jansen@praktijk.test",
            "Re: [veilig] Uitslag",
            Some("abc@praktijk.test"),
            "Dank u.\nGroet",
            vec![ReplyFile {
                name: "foto.jpg".into(),
                content_type: "image/jpeg".into(),
                bytes: vec![1, 2, 3],
            }],
        )
        .expect("builds");
        let m = mail_parser::MessageParser::default()
            .parse(&raw)
            .expect("parses");
        assert_eq!(m.subject(), Some("Re: [veilig] Uitslag"));
        assert_eq!(m.in_reply_to().as_text(), Some("abc@praktijk.test"));
        assert_eq!(m.attachment_count(), 1);
        assert!(m.body_text(0).is_some_and(|t| t.contains("Groet")));
    }

    #[test]
    fn confirmation_names_the_code_and_link() {
        let raw = sender_confirmation(
            &FROM,
            "a.jansen@praktijk.test",
            "Uitslag lab",
            &[Confirmed {
                recipient: "p@example.net".into(),
                status_link: "https://veilpost.test/s/xyz".into(),
                access_code: Some("1234 5678".into()),
                phone: None,
            }],
            "1-12-2026",
        )
        .expect("builds");
        let text = String::from_utf8_lossy(&raw);
        assert!(
            text.contains("1234 5678") && text.contains("/s/xyz"),
            "{text}"
        );
        // Which message it was: its subject, in the mail's subject and first line.
        let m = mail_parser::MessageParser::new()
            .parse(&raw)
            .expect("parse");
        assert!(m.subject().is_some_and(|s| s.contains("'Uitslag lab'")));
        assert!(text.contains("Uw bericht 'Uitslag lab' bevatte"), "{text}");
    }
}
