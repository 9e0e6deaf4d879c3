//! A phishing report as staff send it to the report address: the suspicious mail
//! forwarded as an attachment (`message/rfc822`), as an abuse report (ARF, RFC 5965:
//! `multipart/report` with the original or its headers), or inline (the mail client
//! quotes the original's From, Subject and maybe Message-ID under a "forwarded" line).
//! What is read is what links the report to the original: its Message-ID, sender,
//! subject, and the verdict Veilpost gave it when it came in.

use mail_parser::{MessageParser, MimeHeaders, PartType};

/// How the original came with the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// As an attached message.
    Attached,
    /// In an abuse report (ARF).
    Arf,
    /// Quoted in the text.
    Inline,
    /// No original found: the report is kept as it is.
    Unknown,
}

impl Shape {
    pub fn as_str(self) -> &'static str {
        match self {
            Shape::Attached => "attached",
            Shape::Arf => "arf",
            Shape::Inline => "inline",
            Shape::Unknown => "unknown",
        }
    }
}

/// What a report says about the mail it reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reported {
    pub shape: Shape,
    /// The original's Message-ID, without angle brackets.
    pub message_id: Option<String>,
    /// The original's From address.
    pub from: Option<String>,
    pub subject: Option<String>,
    /// The `X-Veilpost-Verdict` the original carried (it came through Veilpost).
    pub verdict: Option<String>,
}

/// Largest report read.
pub const MAX_REPORT: usize = 10 * 1024 * 1024;

/// One line, at most 300 characters, no control characters: outside input for pages.
fn line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(300)
        .collect::<String>()
        .trim()
        .to_string()
}

fn message_id(s: &str) -> Option<String> {
    let id = s
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    (!id.is_empty() && !id.contains(char::is_whitespace)).then(|| line(id))
}

/// Read an original (a whole message or only its header).
fn original(raw: &[u8], shape: Shape) -> Reported {
    let parsed = MessageParser::default().parse_headers(raw);
    let from = parsed
        .as_ref()
        .and_then(|m| m.from())
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .map(line);
    Reported {
        shape,
        message_id: parsed
            .as_ref()
            .and_then(|m| m.message_id())
            .and_then(message_id),
        from,
        subject: parsed.as_ref().and_then(|m| m.subject()).map(line),
        verdict: crate::headers::first_value(raw, "X-Veilpost-Verdict").map(|v| line(&v)),
    }
}

/// The first value after one of `labels` (`From:`, `Van:`) at the start of a line.
fn labelled(text: &str, labels: &[&str]) -> Option<String> {
    text.lines().find_map(|l| {
        let l = l.trim_start_matches(['>', ' ', '*']);
        labels.iter().find_map(|label| {
            let head = l.get(..label.len())?;
            head.eq_ignore_ascii_case(label)
                .then(|| line(&l[label.len()..]))
                .filter(|v| !v.is_empty())
        })
    })
}

/// The address in `Name <a@b.nl>` or a bare `a@b.nl`.
fn address_in(value: &str) -> Option<String> {
    let inner = match (value.rfind('<'), value.rfind('>')) {
        (Some(a), Some(b)) if a < b => &value[a + 1..b],
        _ => value,
    };
    inner
        .split(|c: char| c.is_whitespace() || c == '[' || c == ']' || c == '"')
        .find(|w| w.contains('@'))
        .map(|w| line(w.trim_matches(|c: char| !c.is_alphanumeric())))
}

/// Markers mail clients put above a forwarded original.
const FORWARD_MARKERS: &[&str] = &[
    "forwarded message",
    "doorgestuurd bericht",
    "original message",
    "oorspronkelijk bericht",
    "oorspronkelijk e-mailbericht",
    "begin forwarded message",
    "begin doorgestuurd bericht",
];

/// The inline-forwarded original in a text: what follows the forward marker.
fn inline(text: &str) -> Option<Reported> {
    let lower = text.to_lowercase();
    let at = FORWARD_MARKERS.iter().filter_map(|m| lower.find(m)).min();
    // Without a marker, a quoted header block still counts ("Van: … Onderwerp: …").
    let quoted = &text[at.unwrap_or(0)..];
    let from = labelled(quoted, &["From:", "Van:", "Afzender:"])?;
    Some(Reported {
        shape: Shape::Inline,
        message_id: labelled(quoted, &["Message-ID:", "Message-Id:"]).and_then(|m| message_id(&m)),
        from: address_in(&from),
        subject: labelled(quoted, &["Subject:", "Onderwerp:"]),
        verdict: labelled(quoted, &["X-Veilpost-Verdict:"]),
    })
}

/// What `raw` (the report as received) says about the mail it reports.
pub fn reported(raw: &[u8]) -> Reported {
    let raw = &raw[..raw.len().min(MAX_REPORT)];
    let unknown = Reported {
        shape: Shape::Unknown,
        message_id: None,
        from: None,
        subject: None,
        verdict: None,
    };
    let Some(m) = MessageParser::default().parse(raw) else {
        return unknown;
    };
    let arf = m.content_type().is_some_and(|c| {
        c.ctype().eq_ignore_ascii_case("multipart")
            && c.subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
    });
    // An attached original (or, in an ARF report, the original or its headers).
    for part in m.parts.iter().skip(1) {
        let shape = if arf { Shape::Arf } else { Shape::Attached };
        match &part.body {
            PartType::Message(inner) => return original(inner.raw_message(), shape),
            _ if part.content_type().is_some_and(|c| {
                c.subtype().is_some_and(|s| {
                    s.eq_ignore_ascii_case("rfc822-headers") || s.eq_ignore_ascii_case("rfc822")
                })
            }) =>
            {
                return original(part.contents(), shape);
            }
            _ => {}
        }
    }
    m.body_text(0).and_then(|t| inline(&t)).unwrap_or(unknown)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGINAL: &str = "From: \"UMC Utrecht\" <facturen@umc-utrecht.example>\r\n\
To: ann@praktijk.nl\r\n\
Subject: Openstaande factuur 2026-114\r\n\
Message-ID: <abc.123@umc-utrecht.example>\r\n\
X-Veilpost-Verdict: tag; lookalike.sender\r\n\
\r\n\
Betaal vandaag.\r\n";

    fn attached(content_type: &str, top: &str) -> Vec<u8> {
        format!(
            "From: ann@praktijk.nl\r\nTo: phishing@praktijk.nl\r\nSubject: Fwd: verdacht\r\n\
MIME-Version: 1.0\r\nContent-Type: {top}; boundary=\"b\"\r\n\r\n--b\r\n\
Content-Type: text/plain\r\n\r\nDeze lijkt me niet te kloppen.\r\n--b\r\n\
Content-Type: {content_type}\r\n\r\n{ORIGINAL}\r\n--b--\r\n"
        )
        .into_bytes()
    }

    #[test]
    fn reports_in_every_shape() {
        let expect = |shape| Reported {
            shape,
            message_id: Some("abc.123@umc-utrecht.example".into()),
            from: Some("facturen@umc-utrecht.example".into()),
            subject: Some("Openstaande factuur 2026-114".into()),
            verdict: Some("tag; lookalike.sender".into()),
        };
        assert_eq!(
            reported(&attached("message/rfc822", "multipart/mixed")),
            expect(Shape::Attached)
        );
        assert_eq!(
            reported(&attached(
                "message/rfc822",
                "multipart/report; report-type=feedback-report"
            )),
            expect(Shape::Arf)
        );
        assert_eq!(
            reported(&attached(
                "text/rfc822-headers",
                "multipart/report; report-type=feedback-report"
            )),
            expect(Shape::Arf)
        );
        // Outlook in Dutch, forwarded inline.
        let inline_nl = "From: ann@praktijk.nl\r\nSubject: FW: Openstaande factuur\r\n\r\n\
Verdacht?\r\n\r\n-----Oorspronkelijk bericht-----\r\n\
Van: UMC Utrecht <facturen@umc-utrecht.example>\r\n\
Verzonden: woensdag 2 december 2026 09:12\r\nAan: Ann <ann@praktijk.nl>\r\n\
Onderwerp: Openstaande factuur 2026-114\r\n\r\nBetaal vandaag.\r\n";
        let r = reported(inline_nl.as_bytes());
        assert_eq!(r.shape, Shape::Inline);
        assert_eq!(r.from.as_deref(), Some("facturen@umc-utrecht.example"));
        assert_eq!(r.subject.as_deref(), Some("Openstaande factuur 2026-114"));
        assert_eq!(r.message_id, None);
        // Thunderbird in English, quoted with the Message-ID.
        let inline_en = "From: ann@praktijk.nl\r\nSubject: Fwd: x\r\n\r\n\
-------- Forwarded Message --------\r\nSubject: \tOpenstaande factuur\r\n\
Date: Wed, 2 Dec 2026 09:12:00 +0100\r\nFrom: \tfacturen@umc-utrecht.example\r\n\
Message-ID: <abc.123@umc-utrecht.example>\r\n\r\nBetaal.\r\n";
        let r = reported(inline_en.as_bytes());
        assert_eq!(r.from.as_deref(), Some("facturen@umc-utrecht.example"));
        assert_eq!(r.message_id.as_deref(), Some("abc.123@umc-utrecht.example"));
        // A report with nothing in it is kept as unknown.
        assert_eq!(
            reported(b"From: ann@praktijk.nl\r\n\r\nKijk even naar die mail van vanochtend.\r\n")
                .shape,
            Shape::Unknown
        );
    }

    #[test]
    fn hostile_reports_give_short_clean_answers() {
        for raw in [
            &b""[..],
            b"\r\n\r\n",
            b"Content-Type: multipart/report; boundary=x\r\n\r\n--x\r\n--x--",
            b"From: a\r\n\r\nVan: \x00\x01<\r\n",
        ] {
            let r = reported(raw);
            assert!(
                r.from
                    .as_deref()
                    .is_none_or(|f| !f.chars().any(char::is_control))
            );
        }
        let long = format!(
            "From: a@b.nl\r\n\r\nForwarded message\r\nFrom: x@{}.nl\r\nSubject: {}\r\n",
            "a".repeat(5000),
            "s\u{7}".repeat(5000)
        );
        let r = reported(long.as_bytes());
        assert!(r.from.is_some_and(|f| f.len() <= 300));
        assert!(
            r.subject
                .is_some_and(|s| s.chars().count() <= 300 && !s.contains('\u{7}'))
        );
    }
}
