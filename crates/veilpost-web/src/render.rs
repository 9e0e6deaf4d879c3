//! A vault message made fit to show: headers, the body (HTML through ammonia's allow-list
//! with remote content removed, or the text), the attachments, and a standalone HTML copy
//! for the recipient to keep (NTA 7516: an own copy in an open format).

use mail_parser::{MessageParser, MimeHeaders};
use veilpost_text::file_name::safe as safe_name;

/// One attachment as listed on the page.
#[derive(Debug, Clone)]
pub struct AttachmentInfo {
    pub index: usize,
    pub name: String,
    pub size: usize,
}

impl AttachmentInfo {
    /// "12 kB", "1,2 MB".
    pub fn size_text(&self) -> String {
        human_size(self.size)
    }
}

/// A message ready for a page.
#[derive(Debug, Clone, Default)]
pub struct View {
    pub from: String,
    pub to: String,
    pub date: String,
    pub subject: String,
    pub message_id: Option<String>,
    /// Sanitised HTML, if the message has an HTML body.
    pub html: Option<String>,
    /// The text body (shown when there is no HTML).
    pub text: String,
    pub attachments: Vec<AttachmentInfo>,
    /// Remote images or other outside content were removed.
    pub blocked_remote: bool,
}

/// "12 kB", "1.2 MB".
pub fn human_size(n: usize) -> String {
    if n < 1024 {
        format!("{n} B")
    } else if n < 1024 * 1024 {
        format!("{} kB", n.div_ceil(1024))
    } else {
        format!("{:.1} MB", n as f64 / (1024.0 * 1024.0))
    }
}

fn addresses(a: Option<&mail_parser::Address<'_>>) -> String {
    let Some(a) = a else {
        return String::new();
    };
    a.iter()
        .map(|x| match (x.name(), x.address()) {
            (Some(n), Some(e)) => format!("{n} <{e}>"),
            (None, Some(e)) => e.to_string(),
            (Some(n), None) => n.to_string(),
            (None, None) => String::new(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parse `raw` for the page.
pub fn view(raw: &[u8]) -> View {
    let Some(m) = MessageParser::default().parse(raw) else {
        return View {
            text: String::from_utf8_lossy(raw).into_owned(),
            ..View::default()
        };
    };
    let html = m.body_html(0).map(|h| h.into_owned());
    let (html, blocked_remote) = match html {
        Some(h) => {
            let (clean, blocked) = sanitize(&h);
            (Some(clean), blocked)
        }
        None => (None, false),
    };
    View {
        from: addresses(m.from()),
        to: addresses(m.to()),
        date: m
            .date()
            .map(|d| crate::when(d.to_timestamp(), true))
            .unwrap_or_default(),
        subject: m.subject().unwrap_or("").to_string(),
        message_id: m.message_id().map(str::to_string),
        html,
        text: m.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
        attachments: m
            .attachments()
            .enumerate()
            .map(|(index, p)| AttachmentInfo {
                index,
                name: safe_name(p.attachment_name(), index),
                size: p.contents().len(),
            })
            .collect(),
        blocked_remote,
    }
}

/// The `index`th attachment: its safe name and bytes.
pub fn attachment(raw: &[u8], index: usize) -> Option<(String, Vec<u8>)> {
    let m = MessageParser::default().parse(raw)?;
    let p = m.attachments().nth(index)?;
    Some((safe_name(p.attachment_name(), index), p.contents().to_vec()))
}

/// Mail HTML through an allow-list: no scripts, styles, forms, frames, SVG or MathML; links
/// only http(s)/mailto and opened without referrer; images only when embedded (`cid:`
/// parts are not served, so in effect no images): anything remote is dropped, so opening
/// the message tells nobody outside that it was read. Returns the HTML and whether
/// something remote was removed.
pub fn sanitize(html: &str) -> (String, bool) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let blocked = std::sync::Arc::new(AtomicBool::new(false));
    let flag = blocked.clone();
    let clean = ammonia::Builder::default()
        .url_schemes(["http", "https", "mailto"].into_iter().collect())
        .link_rel(Some("noopener noreferrer nofollow"))
        .rm_tags(["img", "picture", "source", "video", "audio", "track"])
        .attribute_filter(move |_element, attribute, value| {
            if matches!(attribute, "src" | "srcset" | "background" | "poster") {
                flag.store(true, Ordering::Relaxed);
                return None;
            }
            Some(value.into())
        })
        .clean(html)
        .to_string();
    // `rm_tags` removes images without a trace; note them if the source had any.
    let lower = html.to_ascii_lowercase();
    let had_remote = lower.contains("<img") || lower.contains("url(") || lower.contains("src=");
    (clean, blocked.load(Ordering::Relaxed) || had_remote)
}

/// A standalone HTML copy of the message for the recipient to keep.
pub fn standalone_html(v: &View, organisation: &str) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let body = match &v.html {
        Some(h) => h.clone(),
        None => format!("<div style=\"white-space:pre-wrap\">{}</div>", esc(&v.text)),
    };
    let attachments = if v.attachments.is_empty() {
        String::new()
    } else {
        let items: String = v
            .attachments
            .iter()
            .map(|a| format!("<li>{} ({})</li>", esc(&a.name), a.size_text()))
            .collect();
        format!("<h2>Bijlagen / Attachments</h2><ul>{items}</ul>")
    };
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{subject}</title>\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
         </head><body style=\"font-family:sans-serif;max-width:50rem;margin:2rem auto\">\
         <p style=\"color:#555\">Beveiligd bericht via {org} / Secure message via {org}</p>\
         <table><tr><th align=left>Van / From</th><td>{from}</td></tr>\
         <tr><th align=left>Aan / To</th><td>{to}</td></tr>\
         <tr><th align=left>Datum / Date</th><td>{date}</td></tr>\
         <tr><th align=left>Onderwerp / Subject</th><td>{subject}</td></tr></table><hr>\
         {body}{attachments}</body></html>\n",
        subject = esc(&v.subject),
        org = esc(organisation),
        from = esc(&v.from),
        to = esc(&v.to),
        date = esc(&v.date),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachment_names_lose_bidi_controls() {
        // `uitslag<RLO>fdp.exe` would read as `uitslagexe.pdf` on the page and when saved.
        let raw = b"From: a@praktijk.test\r\nTo: p@example.net\r\nSubject: x\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
--b\r\nContent-Type: text/plain\r\n\r\nZie bijlage.\r\n\
--b\r\nContent-Type: application/octet-stream\r\n\
Content-Disposition: attachment; filename*=utf-8''uitslag%E2%80%AEfdp.exe\r\n\
Content-Transfer-Encoding: base64\r\n\r\nTVo=\r\n--b--\r\n";
        let v = view(raw);
        assert_eq!(v.attachments.len(), 1);
        assert_eq!(v.attachments[0].name, "uitslagfdp.exe");
        let (name, bytes) = attachment(raw, 0).expect("the attachment");
        assert_eq!(name, "uitslagfdp.exe");
        assert_eq!(bytes, b"MZ");
        assert!(!standalone_html(&v, "Praktijk").contains('\u{202E}'));
    }

    #[test]
    fn remote_content_goes() {
        let (clean, blocked) = sanitize(
            "<p style=\"background:url(https://t.example/x)\">Hoi<img src=\"https://t.example/pixel.gif\"></p>\
             <a href=\"https://x.example\">x</a><a href=\"javascript:alert(1)\">j</a>",
        );
        assert!(blocked);
        assert!(!clean.contains("t.example"), "{clean}");
        assert!(!clean.contains("javascript"), "{clean}");
        assert!(
            clean.contains("rel=\"noopener noreferrer nofollow\""),
            "{clean}"
        );
    }
}
