//! The `encrypted-attachment` route: when a message is sensitive only because of its
//! attachments, they travel as one AES-256 ZIP and the password goes to the recipient's
//! mobile number by SMS (the guidance: encrypt the document, the password through another
//! channel). Only when the text without the attachments scans clean and a number is known;
//! otherwise the message takes the portal like any sensitive mail.

use anyhow::{Context, Result};
use mail_builder::MessageBuilder;
use mail_parser::{MessageParser, MimeHeaders};

use super::Shared;

/// The name of the ZIP in the delivered message.
pub const ZIP_NAME: &str = "bijlagen-beveiligd.zip";

/// A message taken apart for the route: its own header lines (without the MIME ones), its
/// text and HTML, and its attachments.
#[derive(Debug, Clone)]
pub struct Parts {
    headers: Vec<u8>,
    text: Option<String>,
    html: Option<String>,
    attachments: Vec<(String, Vec<u8>)>,
}

/// Header lines except `MIME-Version` and `Content-*` (folded lines go with their field).
fn plain_headers(raw: &[u8]) -> Vec<u8> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 2)
        .unwrap_or(raw.len());
    let mut out = Vec::new();
    let mut keep = true;
    for line in raw[..end].split_inclusive(|&b| b == b'\n') {
        if !matches!(line.first(), Some(b' ' | b'\t')) {
            let name = line
                .split(|&b| b == b':')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            keep = !(name.starts_with(b"content-") || name == b"mime-version");
        }
        if keep {
            out.extend_from_slice(line);
        }
    }
    out
}

/// Take a message apart; `None` when it has no attachments (nothing to encrypt).
pub fn parts(raw: &[u8]) -> Option<Parts> {
    let m = MessageParser::default().parse(raw)?;
    let mut names: Vec<String> = Vec::new();
    let attachments: Vec<(String, Vec<u8>)> = m
        .attachments()
        .enumerate()
        .map(|(i, p)| {
            let base = veilpost_text::file_name::safe(p.attachment_name(), i);
            let mut name = base.clone();
            let mut k = 2;
            while names.contains(&name) {
                name = format!("{k}-{base}");
                k += 1;
            }
            names.push(name.clone());
            (name, p.contents().to_vec())
        })
        .collect();
    if attachments.is_empty() {
        return None;
    }
    Some(Parts {
        headers: plain_headers(raw),
        text: m.body_text(0).map(|t| t.into_owned()),
        html: m.body_html(0).map(|h| h.into_owned()),
        attachments,
    })
}

impl Parts {
    /// The message with its text and HTML and, if given, one ZIP instead of the
    /// attachments; the original header lines (From, To, Date, Message-ID...) kept.
    pub fn rebuild(&self, zip: Option<Vec<u8>>) -> Result<Vec<u8>> {
        let mut b = MessageBuilder::new();
        if let Some(t) = &self.text {
            b = b.text_body(t.as_str());
        }
        if let Some(h) = &self.html {
            b = b.html_body(h.as_str());
        }
        if let Some(z) = zip {
            b = b.attachment("application/zip", ZIP_NAME, z);
        }
        let built = b.write_to_vec()?;
        // Keep only the MIME fields and the body of what mail-builder wrote.
        let body_at = built
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .context("built message without a body")?;
        let mut mime = Vec::new();
        let mut keep = false;
        for line in built[..body_at + 2].split_inclusive(|&b| b == b'\n') {
            if !matches!(line.first(), Some(b' ' | b'\t')) {
                let name = line
                    .split(|&b| b == b':')
                    .next()
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                keep = name.starts_with(b"content-") || name == b"mime-version";
            }
            if keep {
                mime.extend_from_slice(line);
            }
        }
        let mut out = self.headers.clone();
        out.extend_from_slice(&mime);
        out.extend_from_slice(&built[body_at + 2..]);
        Ok(out)
    }

    /// The attachments' size together.
    pub fn attachment_bytes(&self) -> usize {
        self.attachments.iter().map(|(_, b)| b.len()).sum()
    }

    /// The message without its attachments, a link to them added to the text (internal
    /// links: the colleague opens them in the portal).
    pub fn rebuild_with_link(&self, link: &str) -> Result<Vec<u8>> {
        let names: Vec<&str> = self.attachments.iter().map(|(n, _)| n.as_str()).collect();
        let list = names.join(", ");
        let mut with = self.clone();
        with.text = Some(format!(
            "{}\n\n--\nBijlagen veilig opgeslagen ({list}); openen na inloggen: {link}\n\
             Attachments kept securely ({list}); open them after signing in: {link}\n",
            self.text.as_deref().unwrap_or("").trim_end()
        ));
        with.html = self.html.as_ref().map(|h| {
            let esc = |s: &str| {
                s.replace('&', "&amp;")
                    .replace('<', "&lt;")
                    .replace('"', "&quot;")
            };
            format!(
                "{h}<hr><p>Bijlagen veilig opgeslagen ({}): <a href=\"{}\">openen na inloggen</a> / attachments kept securely.</p>",
                esc(&list),
                esc(link)
            )
        });
        with.rebuild(None)
    }

    /// Does the message without its attachments scan clean (text, HTML and subject)?
    pub async fn text_is_clean(&self, shared: &Shared) -> Result<bool> {
        let body = self.rebuild(None)?;
        let scanner = shared.scanner.clone();
        let report = shared
            .cores
            .run(move || scanner.scan_message(&body))
            .await?;
        Ok(report.verdict == veilpost_dlp::Verdict::Clean)
    }

    /// Encrypt the attachments for one recipient: (the message to deliver, the password).
    pub fn encrypt(&self) -> Result<(Vec<u8>, String)> {
        let password = crate::protect::password(veilpost_store::random_u32);
        let zip = crate::protect::zip_bytes(&self.attachments, &password)?;
        Ok((self.rebuild(Some(zip))?, password))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAW: &[u8] = b"From: Ann <ann@praktijk.test>\r\nTo: x@lab.test\r\nSubject: Uitslagen\r\n\
Message-ID: <z1@praktijk.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed;\r\n boundary=\"b\"\r\n\r\n\
--b\r\nContent-Type: text/plain\r\n\r\nZie bijlage.\r\n--b\r\nContent-Type: text/csv\r\n\
Content-Disposition: attachment; filename=\"lijst.csv\"\r\n\r\nnaam;bsn\r\nJan;111222333\r\n--b--\r\n";

    #[test]
    fn attachments_go_into_one_zip_and_headers_stay() {
        let p = parts(RAW).expect("parts");
        let (out, password) = p.encrypt().expect("encrypt");
        assert!(
            !out.windows(9).any(|w| w == b"111222333"),
            "no plaintext left"
        );
        let m = MessageParser::default().parse(&out).expect("parses");
        assert_eq!(m.message_id(), Some("z1@praktijk.test"));
        assert_eq!(m.subject(), Some("Uitslagen"));
        assert!(m.body_text(0).is_some_and(|t| t.contains("Zie bijlage.")));
        assert_eq!(m.attachment_count(), 1);
        let zip = m.attachment(0).expect("zip");
        assert_eq!(zip.attachment_name(), Some(ZIP_NAME));
        let mut archive =
            zip::ZipArchive::new(std::io::Cursor::new(zip.contents().to_vec())).expect("archive");
        let mut f = archive
            .by_index_decrypt(0, password.as_bytes())
            .expect("decrypt");
        let mut text = String::new();
        std::io::Read::read_to_string(&mut f, &mut text).expect("read");
        assert!(text.contains("111222333"));
        // The rebuilt text alone holds nothing of the attachment.
        let body = p.rebuild(None).expect("body");
        assert!(!String::from_utf8_lossy(&body).contains("111222333"));
        assert!(parts(b"Subject: x\r\n\r\nalleen tekst").is_none());
    }
}
