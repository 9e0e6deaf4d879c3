//! The message's side of the facts, read from the raw message within limits: the From
//! address and name, Reply-To, links (HTML anchors with their text, and bare URLs in the
//! text), attachments (name, first bytes, and for ZIP files whether they are encrypted or
//! hold other archives). Outside input: every count and size is bounded, and a message that
//! does not parse still gives what could be read.

use std::cell::RefCell;

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::{
    BufferQueue, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};
use mail_parser::{MessageParser, MimeHeaders};

use crate::{Attachment, Link};

/// Most links read from one message.
pub const MAX_LINKS: usize = 200;
/// Most attachments looked at.
pub const MAX_ATTACHMENTS: usize = 50;
/// HTML longer than this is read up to here.
pub const MAX_HTML: usize = 2 * 1024 * 1024;
/// Bytes kept of each attachment's start.
pub const HEAD: usize = 512;
/// Most entries read from one ZIP's directory.
const MAX_ZIP_ENTRIES: usize = 1000;
/// A link's text longer than this is cut.
const MAX_LINK_TEXT: usize = 300;

/// What the message shows, owned (see `Facts` for the borrowed view).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gathered {
    pub from: String,
    pub from_name: String,
    pub reply_to: Option<String>,
    pub message_id: Option<String>,
    pub links: Vec<Link>,
    pub attachments: Vec<Attachment>,
}

impl Gathered {
    /// The borrowed facts the verdict takes.
    pub fn facts(&self) -> crate::Facts<'_> {
        crate::Facts {
            from: &self.from,
            from_name: &self.from_name,
            reply_to: self.reply_to.as_deref(),
            links: &self.links,
            attachments: &self.attachments,
            malware: None,
            unscanned: false,
        }
    }
}

/// Read the facts from a raw message.
pub fn gather(raw: &[u8]) -> Gathered {
    let Some(m) = MessageParser::default().parse(raw) else {
        return Gathered::default();
    };
    let mut g = Gathered::default();
    if let Some(a) = m.from().and_then(|a| a.first()) {
        g.from = a.address().unwrap_or_default().trim().to_string();
        g.from_name = a.name().unwrap_or_default().trim().to_string();
    }
    g.reply_to = m
        .reply_to()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty());
    g.message_id = m.message_id().map(str::to_string);
    for i in 0.. {
        let Some(html) = m.body_html(i) else { break };
        let html = cut(&html, MAX_HTML);
        anchors(html, &mut g.links);
        if g.links.len() >= MAX_LINKS {
            break;
        }
    }
    for i in 0.. {
        let Some(text) = m.body_text(i) else { break };
        bare_urls(&text, &mut g.links);
        if g.links.len() >= MAX_LINKS {
            break;
        }
    }
    g.links.truncate(MAX_LINKS);
    g.links.dedup();
    for part in m.attachments().take(MAX_ATTACHMENTS) {
        let bytes = part.contents();
        let name = part.attachment_name().unwrap_or("").to_string();
        let (encrypted, nested_archive, inner) = zip_facts(bytes);
        g.attachments.push(Attachment {
            name,
            head: bytes[..bytes.len().min(HEAD)].to_vec(),
            encrypted,
            nested_archive,
            inner,
        });
    }
    g
}

/// `s` up to `max` bytes, on a character boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[derive(Debug, Default)]
struct Anchors {
    links: Vec<Link>,
    /// The open anchor's href and the text so far.
    open: Option<(String, String)>,
}

#[derive(Debug)]
struct Sink(RefCell<Anchors>);

impl TokenSink for Sink {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        let mut s = self.0.borrow_mut();
        if s.links.len() >= MAX_LINKS {
            return TokenSinkResult::Continue;
        }
        match token {
            Token::TagToken(tag) if &*tag.name == "a" => {
                if let Some((href, text)) = s.open.take() {
                    s.links.push(Link {
                        text: text.trim().to_string(),
                        href,
                    });
                }
                if tag.kind == TagKind::StartTag
                    && let Some(href) = tag.attrs.iter().find(|a| &*a.name.local == "href")
                {
                    s.open = Some((href.value.trim().to_string(), String::new()));
                }
            }
            Token::CharacterTokens(t) => {
                if let Some((_, text)) = s.open.as_mut()
                    && text.len() < MAX_LINK_TEXT
                {
                    text.push_str(cut(&t, MAX_LINK_TEXT - text.len()));
                }
            }
            _ => {}
        }
        TokenSinkResult::Continue
    }
}

/// Anchors with an href, and their text.
fn anchors(html: &str, out: &mut Vec<Link>) {
    let sink = Sink(RefCell::new(Anchors::default()));
    let tokenizer = Tokenizer::new(sink, TokenizerOpts::default());
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(html));
    let _ = tokenizer.feed(&input);
    tokenizer.end();
    let mut state = tokenizer.sink.0.take();
    if let Some((href, text)) = state.open.take() {
        state.links.push(Link {
            text: text.trim().to_string(),
            href,
        });
    }
    let room = MAX_LINKS.saturating_sub(out.len());
    out.extend(state.links.into_iter().take(room));
}

/// `http(s)://` words in plain text, each its own text.
fn bare_urls(text: &str, out: &mut Vec<Link>) {
    for word in text.split_whitespace() {
        if out.len() >= MAX_LINKS {
            return;
        }
        let word = word.trim_matches(|c: char| "<>()[]\"'.,;".contains(c));
        let lower = word.get(..8).unwrap_or(word).to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            let url = cut(word, 2048).to_string();
            out.push(Link {
                text: url.clone(),
                href: url,
            });
        }
    }
}

/// For a ZIP file: (an entry is encrypted, an entry is itself an archive, the entries'
/// names), from the local file headers (bounded; anything unreadable stops the walk).
fn zip_facts(bytes: &[u8]) -> (bool, bool, Vec<String>) {
    const ARCHIVES: &[&str] = &[
        ".zip", ".rar", ".7z", ".gz", ".tgz", ".tar", ".iso", ".img", ".cab", ".arj", ".lzh",
        ".xz", ".bz2", ".vhd",
    ];
    let (mut encrypted, mut nested) = (false, false);
    let mut names = Vec::new();
    let mut at = 0usize;
    let u16_at = |i: usize| {
        bytes
            .get(i..i + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u32_at = |i: usize| {
        bytes
            .get(i..i + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    for _ in 0..MAX_ZIP_ENTRIES {
        if bytes.get(at..at + 4) != Some(b"PK\x03\x04") {
            break;
        }
        let (Some(flags), Some(size), Some(name_len), Some(extra_len)) = (
            u16_at(at + 6),
            u32_at(at + 18),
            u16_at(at + 26),
            u16_at(at + 28),
        ) else {
            break;
        };
        encrypted |= flags & 1 == 1;
        let name_start = at + 30;
        let name = bytes
            .get(name_start..name_start + usize::from(name_len))
            .map(|n| String::from_utf8_lossy(n).to_ascii_lowercase())
            .unwrap_or_default();
        nested |= ARCHIVES.iter().any(|ext| name.ends_with(ext));
        names.push(name.chars().take(255).collect());
        // With a data descriptor (flag 3) the size is not here: stop rather than guess.
        if flags & 8 != 0 {
            break;
        }
        let Some(next) = name_start
            .checked_add(usize::from(name_len) + usize::from(extra_len))
            .and_then(|n| n.checked_add(size as usize))
        else {
            break;
        };
        at = next;
    }
    (encrypted, nested, names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zip_entry(name: &str, flags: u16, data: &[u8]) -> Vec<u8> {
        let mut v = b"PK\x03\x04".to_vec();
        v.extend_from_slice(&20u16.to_le_bytes());
        v.extend_from_slice(&flags.to_le_bytes());
        v.extend_from_slice(&[0; 10]); // method, time, date, crc
        v.extend_from_slice(&(data.len() as u32).to_le_bytes());
        v.extend_from_slice(&(data.len() as u32).to_le_bytes());
        v.extend_from_slice(&(name.len() as u16).to_le_bytes());
        v.extend_from_slice(&0u16.to_le_bytes());
        v.extend_from_slice(name.as_bytes());
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn a_phishing_mail_gives_its_facts() {
        let raw = b"From: \"Ann Jansen\" <ann.jansen.praktijk@gmail.com>\r\n\
Reply-To: betalingen@example.net\r\nMessage-ID: <x1@gmail.com>\r\nSubject: Factuur\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
--b\r\nContent-Type: text/html\r\n\r\n<p>Betaal via <a href=\"https://rabo-veilig.example/x\">www.rabobank.nl</a>\
 of <A HREF=http://192.0.2.7/>hier</A>.</p>\r\n\
--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"factuur.pdf.exe\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAAEAAAA\r\n--b--\r\n";
        let g = gather(raw);
        assert_eq!(g.from, "ann.jansen.praktijk@gmail.com");
        assert_eq!(g.from_name, "Ann Jansen");
        assert_eq!(g.reply_to.as_deref(), Some("betalingen@example.net"));
        assert_eq!(g.message_id.as_deref(), Some("x1@gmail.com"));
        assert_eq!(
            g.links,
            vec![
                Link {
                    text: "www.rabobank.nl".into(),
                    href: "https://rabo-veilig.example/x".into()
                },
                Link {
                    text: "hier".into(),
                    href: "http://192.0.2.7/".into()
                },
            ]
        );
        assert_eq!(g.attachments.len(), 1);
        assert_eq!(g.attachments[0].name, "factuur.pdf.exe");
        assert!(g.attachments[0].head.starts_with(b"MZ"));
    }

    #[test]
    fn bare_urls_in_text() {
        let raw =
            b"From: a@b.nl\r\nSubject: x\r\n\r\nZie (https://example.org/a), en http://x.nl.\r\n";
        let g = gather(raw);
        let hrefs: Vec<&str> = g.links.iter().map(|l| l.href.as_str()).collect();
        assert_eq!(hrefs, ["https://example.org/a", "http://x.nl"]);
    }

    #[test]
    fn zip_entries_encrypted_and_nested() {
        let plain = zip_entry("brief.pdf", 0, b"%PDF");
        assert_eq!(zip_facts(&plain), (false, false, vec!["brief.pdf".into()]));
        let locked = zip_entry("brief.pdf", 1, b"xxxx");
        assert!(zip_facts(&locked).0);
        let mut two = zip_entry("readme.txt", 0, b"hi");
        two.extend(zip_entry("inner.ZIP", 0, b"PK.."));
        assert_eq!(
            zip_facts(&two),
            (false, true, vec!["readme.txt".into(), "inner.zip".into()])
        );
        // Lies about sizes and truncation stop the walk, nothing more.
        let mut liar = zip_entry("a.txt", 0, b"x");
        liar[18..22].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(!zip_facts(&liar).1);
        assert_eq!(zip_facts(b"PK\x03\x04\x00"), (false, false, vec![]));
    }

    /// Hostile input: bounded counts, no panic, garbage gives nothing.
    #[test]
    fn hostile_messages_are_bounded() {
        let mut html = String::from("From: a@b.nl\r\nContent-Type: text/html\r\n\r\n");
        for i in 0..5000 {
            html.push_str(&format!(
                "<a href=\"https://h{i}.example/\">{}</a>",
                "x".repeat(500)
            ));
        }
        let g = gather(html.as_bytes());
        assert_eq!(g.links.len(), MAX_LINKS);
        assert!(g.links.iter().all(|l| l.text.len() <= MAX_LINK_TEXT));
        let nested = format!(
            "From: a@b.nl\r\nContent-Type: text/html\r\n\r\n{}",
            "<a href=x>".repeat(100_000)
        );
        assert!(gather(nested.as_bytes()).links.len() <= MAX_LINKS);
        assert_eq!(gather(b"\xff\xfe\x00garbage"), Gathered::default());
        assert_eq!(gather(b""), Gathered::default());
    }
}
