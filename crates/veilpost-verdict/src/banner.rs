//! The warning people see: the message is wrapped in a `multipart/mixed` whose first part is
//! the warning (Dutch, then English; plain text and HTML) and whose second part is the
//! message's own body, untouched, with its own content headers. Every mail client shows
//! the first part above the message; nothing of the original is re-encoded.

use base64::Engine;

use crate::Warning;
use crate::headers::{fields, name_of};

/// Content headers that move with the body into the inner part.
const CONTENT: &[&str] = &[
    "content-type",
    "content-transfer-encoding",
    "content-disposition",
    "content-id",
    "content-description",
    "content-language",
];

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Base64 in lines of 76.
fn b64_lines(bytes: &[u8]) -> String {
    let text = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut out = String::with_capacity(text.len() + text.len() / 76 * 2 + 2);
    for chunk in text.as_bytes().chunks(76) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push_str("\r\n");
    }
    out
}

/// A boundary that does not occur in the message.
fn boundary(raw: &[u8]) -> String {
    let mut n = raw.len() as u64 ^ 0x5eed_5eed;
    loop {
        let b = format!("veilpost-warning-{n:016x}");
        if !raw.windows(b.len()).any(|w| w == b.as_bytes()) {
            return b;
        }
        n = n
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
    }
}

/// `raw` with the warnings shown above its body; unchanged when there are none.
pub fn with_banner(raw: &[u8], warnings: &[&Warning]) -> Vec<u8> {
    if warnings.is_empty() {
        return raw.to_vec();
    }
    let fields = fields(raw);
    let head_end = fields.last().map_or(0, |f| f.end);
    // The blank line after the header, then the body.
    let body_start = raw[head_end..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(raw.len(), |p| head_end + p + 1);
    let (mut outer, mut inner) = (Vec::new(), Vec::new());
    for f in &fields {
        let field = &raw[f.clone()];
        match name_of(field).as_deref() {
            Some(n) if CONTENT.contains(&n) => inner.extend_from_slice(field),
            Some("mime-version") => {}
            _ => outer.extend_from_slice(field),
        }
    }
    if inner.is_empty() {
        inner.extend_from_slice(b"Content-Type: text/plain; charset=us-ascii\r\n");
    }
    let b = boundary(raw);
    let text: String = {
        let nl: Vec<String> = warnings.iter().map(|w| format!("! {}", w.nl)).collect();
        let en: Vec<String> = warnings.iter().map(|w| format!("! {}", w.en)).collect();
        format!(
            "Waarschuwing van Veilpost:\r\n{}\r\n\r\nWarning from Veilpost:\r\n{}\r\n",
            nl.join("\r\n"),
            en.join("\r\n")
        )
    };
    let html = format!(
        "<div style=\"border:2px solid #8a5a00;background:#fff8e6;color:#1d2733;padding:10px 14px;\
         margin:0 0 12px;font-family:Arial,sans-serif;font-size:14px\">\
         <strong>Waarschuwing van Veilpost</strong><ul style=\"margin:6px 0\">{}</ul>\
         <div lang=\"en\" style=\"color:#4a5563;font-size:13px\">{}</div></div>",
        warnings
            .iter()
            .map(|w| format!("<li>{}</li>", escape(&w.nl)))
            .collect::<String>(),
        warnings
            .iter()
            .map(|w| escape(&w.en))
            .collect::<Vec<_>>()
            .join(" · ")
    );
    let mut out = Vec::with_capacity(raw.len() + text.len() * 3 + 1024);
    out.extend_from_slice(&outer);
    out.extend_from_slice(
        format!(
            "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"{b}\"\r\n\r\n\
             --{b}\r\nContent-Type: multipart/alternative; boundary=\"{b}-w\"\r\n\r\n\
             --{b}-w\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\
             --{b}-w\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\
             --{b}-w--\r\n\r\n--{b}\r\n",
            b64_lines(text.as_bytes()),
            b64_lines(html.as_bytes()),
        )
        .as_bytes(),
    );
    out.extend_from_slice(&inner);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&raw[body_start.min(raw.len())..]);
    if !out.ends_with(b"\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{b}--\r\n").as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::{MessageParser, MimeHeaders};

    fn warning() -> Warning {
        Warning {
            nl: "Het afzenderdomein zorggroep0ost.nl lijkt op zorggroep-oost.nl, maar is het niet."
                .into(),
            en: "The sender's domain zorggroep0ost.nl looks like zorggroep-oost.nl, but is not."
                .into(),
        }
    }

    #[test]
    fn the_warning_comes_first_and_the_message_stays_whole() {
        let raw =
            b"From: Facturen <f@zorggroep0ost.nl>\r\nTo: ann@praktijk.nl\r\nSubject: Factuur\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"x\"\r\n\r\n\
--x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBetaal vandaag.\r\n\
--x\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Betaal <b>vandaag</b>.</p>\r\n--x--\r\n";
        let w = warning();
        let out = with_banner(raw, &[&w]);
        let m = MessageParser::default().parse(&out).expect("parses");
        assert_eq!(m.subject(), Some("Factuur"));
        assert_eq!(
            m.from().and_then(|a| a.first()).and_then(|a| a.address()),
            Some("f@zorggroep0ost.nl")
        );
        let text = m.body_text(0).expect("text");
        assert!(
            text.contains("Waarschuwing van Veilpost")
                && text.contains("lijkt op zorggroep-oost.nl"),
            "{text}"
        );
        let all_text: String = (0..4)
            .filter_map(|i| m.body_text(i))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(all_text.contains("Betaal vandaag."), "{all_text}");
        let all_html: String = (0..4)
            .filter_map(|i| m.body_html(i))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            all_html.contains("<b>vandaag</b>") && all_html.contains("Waarschuwing van Veilpost"),
            "{all_html}"
        );
        // One MIME-Version, the outer one.
        assert_eq!(
            String::from_utf8_lossy(&out)
                .matches("MIME-Version")
                .count(),
            1
        );
    }

    #[test]
    fn a_plain_message_and_an_attachment_keep_their_parts() {
        let raw = b"From: a@b.nl\r\nSubject: x\r\n\r\nHallo.\r\n";
        let w = warning();
        let out = with_banner(raw, &[&w]);
        let m = MessageParser::default().parse(&out).expect("parses");
        let all: String = (0..4)
            .filter_map(|i| m.body_text(i))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(all.contains("Hallo.") && all.contains("lijkt op"), "{all}");
        let with_file = b"From: a@b.nl\r\nSubject: x\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nZie bijlage.\r\n\
--b1\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=brief.pdf\r\n\
Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--b1--\r\n";
        let m2 = with_banner(with_file, &[&w]);
        let m = MessageParser::default().parse(&m2).expect("parses");
        let names: Vec<&str> = m
            .attachments()
            .filter_map(|a| a.attachment_name())
            .collect();
        assert!(names.contains(&"brief.pdf"), "{names:?}");
        assert_eq!(with_banner(raw, &[]), raw.to_vec());
    }

    #[test]
    fn warnings_are_escaped_in_html() {
        let w = Warning {
            nl: "<script>x</script> & co".into(),
            en: "e".into(),
        };
        let out = with_banner(b"Subject: x\r\n\r\nb\r\n", &[&w]);
        let m = MessageParser::default().parse(&out).expect("parses");
        let html = m.body_html(0).expect("html");
        assert!(
            !html.contains("<script>") && html.contains("&lt;script&gt;"),
            "{html}"
        );
    }
}
