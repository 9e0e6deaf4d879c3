//! Every mail Veilpost writes itself, Dutch then English. None holds a message's
//! content: only a reply or a contact-form message carries what its author wrote, and it
//! goes through processing like any other message.
//!
//! - notices: to portal recipients and senders (the notification with the link, the
//!   ZIP confirmation, the double-check hold notice).
//! - portal: what the portal sends (the e-mailed code, read receipt, lock-out notice,
//!   the sender's confirmation) and what people write in it (reply, contact form,
//!   web compose).
//! - DSNs: delivery status notifications (RFC 3464).

use mail_builder::MessageBuilder;
use mail_builder::headers::raw::Raw;

pub mod brand;
mod dsn;
mod notices;
mod portal;

pub use brand::Brand;
pub use dsn::{Dsn, DsnKind, dsn, returnable_headers};
pub use notices::{
    About, Notification, Waiting, hold_notice, notification, quarantine_digest, report_thanks,
    zip_confirmation,
};
pub use portal::{
    Confirmed, ReplyFile, Written, code_mail, composed, handed_over, intake, locked_notice,
    read_receipt, reply, sender_confirmation, topic, totp_registered,
};

/// Who the organisation is, for every mail: its name and the address mail comes from.
#[derive(Debug, Clone, Copy)]
pub struct From<'a> {
    pub organisation: &'a str,
    pub address: &'a str,
}

/// A mail from "`organisation` via Veilpost", marked `Auto-Submitted: auto-generated`.
fn builder<'a>(from: &From<'a>, to: &'a str, subject: String) -> MessageBuilder<'a> {
    MessageBuilder::new()
        .from((
            format!("{} via Veilpost", from.organisation),
            from.address.to_string(),
        ))
        .to(to.to_string())
        .subject(subject)
        .header("Auto-Submitted", Raw::new("auto-generated"))
}

/// A message's subject as a mail to its sender names it: one line, at most 120
/// characters, quoted (`'Uitslag lab'`); `None` when there is none.
fn quoted(subject: &str) -> Option<String> {
    let one_line: String = subject
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .take(120)
        .collect();
    (!one_line.is_empty()).then(|| format!("'{one_line}'"))
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Text with bare newlines as CRLF.
fn crlf(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\n', "\r\n")
}
