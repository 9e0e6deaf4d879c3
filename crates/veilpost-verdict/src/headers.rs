//! The headers Veilpost puts on inbound mail: its own `Authentication-Results` (RFC 8601)
//! and `X-Veilpost-Verdict`, after removing any such header that arrived already and
//! claims to be ours (RFC 8601 §5: an A-R field with our authserv-id from outside is a
//! forgery; so is any `X-Veilpost-Verdict`). Other A-R fields stay. Folded fields are taken
//! as a whole; the body is untouched.

/// The header fields of `raw` as byte ranges (each field with its continuation lines and
/// line end); the blank line and the body follow the last one.
pub(crate) fn fields(raw: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut out: Vec<std::ops::Range<usize>> = Vec::new();
    let mut at = 0;
    while at < raw.len() {
        let end = raw[at..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(raw.len(), |p| at + p + 1);
        let line = &raw[at..end];
        if line == b"\r\n" || line == b"\n" {
            return out;
        }
        match (line.first(), out.last_mut()) {
            (Some(b' ' | b'\t'), Some(last)) => last.end = end,
            _ => out.push(at..end),
        }
        at = end;
    }
    out
}

/// The field's name, lower case, if the field has one.
pub(crate) fn name_of(field: &[u8]) -> Option<String> {
    let colon = field.iter().position(|&b| b == b':')?;
    Some(
        String::from_utf8_lossy(&field[..colon])
            .trim()
            .to_ascii_lowercase(),
    )
}

/// An A-R field's authserv-id: the first token of its value, before `;`, comments and
/// the optional version dropped.
fn authserv_id(field: &[u8]) -> String {
    let text = String::from_utf8_lossy(field);
    let value = text.split_once(':').map_or("", |(_, v)| v);
    let mut out = String::new();
    let mut depth = 0usize;
    for c in value.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ';' if depth == 0 => break,
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace()
        .next()
        .unwrap_or("")
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

/// `raw` with forged A-R fields (ours by authserv-id) and any `X-Veilpost-Verdict` taken
/// out, and `ours` (complete header fields, each ending in CRLF) put first.
pub fn with_our_headers(raw: &[u8], authserv_id_ours: &str, ours: &[String]) -> Vec<u8> {
    let ours_id = authserv_id_ours.trim_end_matches('.').to_ascii_lowercase();
    let fields = fields(raw);
    let head_end = fields.last().map_or(0, |f| f.end);
    let mut out = Vec::with_capacity(raw.len() + 512);
    for h in ours {
        out.extend_from_slice(h.as_bytes());
    }
    for f in fields {
        let field = &raw[f.clone()];
        let forged = match name_of(field).as_deref() {
            Some("authentication-results") => authserv_id(field) == ours_id,
            Some("x-veilpost-verdict") => true,
            _ => false,
        };
        if !forged {
            out.extend_from_slice(field);
        }
    }
    // The blank line and the body, as they were.
    out.extend_from_slice(&raw[head_end..]);
    out
}

/// The value of the first header field called `name` (case-insensitive), unfolded and
/// trimmed. Veilpost's own fields come first (see [`with_our_headers`]).
pub fn first_value(raw: &[u8], name: &str) -> Option<String> {
    let wanted = name.to_ascii_lowercase();
    fields(raw).into_iter().find_map(|f| {
        let field = &raw[f];
        (name_of(field)? == wanted).then(|| {
            let text = String::from_utf8_lossy(field);
            let value = text.split_once(':').map_or("", |(_, v)| v);
            value.split_whitespace().collect::<Vec<_>>().join(" ")
        })
    })
}

/// The `d=` of the newest `ARC-Seal` (highest `i=`), if any: who forwarded last.
pub fn arc_sealer(raw: &[u8]) -> Option<String> {
    let mut best: Option<(u32, String)> = None;
    for f in fields(raw).into_iter().take(500) {
        let field = &raw[f];
        if name_of(field).as_deref() != Some("arc-seal") {
            continue;
        }
        let text = String::from_utf8_lossy(field);
        let value = text.split_once(':').map_or("", |(_, v)| v);
        let (mut i, mut d) = (None, None);
        for tag in value.split(';') {
            let tag: String = tag.chars().filter(|c| !c.is_whitespace()).collect();
            if let Some(v) = tag.strip_prefix("i=") {
                i = v.parse::<u32>().ok();
            } else if let Some(v) = tag.strip_prefix("d=") {
                d = Some(v.to_ascii_lowercase());
            }
        }
        if let (Some(i), Some(d)) = (i, d)
            && best.as_ref().is_none_or(|(bi, _)| i > *bi)
        {
            best = Some((i, d));
        }
    }
    best.map(|(_, d)| d)
}

/// `raw` with `tag` in front of its subject (`[EXTERN] Factuur`), once: a subject that
/// already starts with it is left alone; a message without one gets `Subject: {tag}`.
/// The tag is the organisation's (plain ASCII, checked at start-up).
pub fn tagged_subject(raw: &[u8], tag: &str) -> Vec<u8> {
    let fields = fields(raw);
    let subject = fields
        .iter()
        .find(|f| name_of(&raw[(*f).clone()]).as_deref() == Some("subject"));
    let mut out = Vec::with_capacity(raw.len() + tag.len() + 12);
    match subject {
        Some(f) => {
            let field = &raw[f.clone()];
            let colon = field.iter().position(|&b| b == b':').unwrap_or(0) + 1;
            let value_at = colon
                + field[colon..]
                    .iter()
                    .take_while(|&&b| b == b' ' || b == b'\t')
                    .count();
            if field[value_at..].starts_with(tag.as_bytes()) {
                return raw.to_vec();
            }
            out.extend_from_slice(&raw[..f.start + colon]);
            out.push(b' ');
            out.extend_from_slice(tag.as_bytes());
            out.push(b' ');
            out.extend_from_slice(&raw[f.start + value_at..]);
        }
        None => {
            out.extend_from_slice(format!("Subject: {tag}\r\n").as_bytes());
            out.extend_from_slice(raw);
        }
    }
    out
}

/// The `X-Veilpost-Verdict` field for a verdict.
pub fn verdict_field(verdict: &crate::Verdict) -> String {
    format!("X-Veilpost-Verdict: {}\r\n", verdict.header_value())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forged_results_go_and_ours_come_first() {
        let raw = b"Received: from x\r\n\
Authentication-Results: mx.praktijk.nl; spf=pass smtp.mailfrom=evil.example\r\n\
Authentication-Results: (comment) MX.Praktijk.NL. 1;\r\n\tdkim=pass header.d=umcutrecht.nl\r\n\
Authentication-Results: mx.google.com; dmarc=fail\r\n\
X-Veilpost-Verdict: clean\r\n\
Subject: Factuur\r\n\r\nAuthentication-Results: mx.praktijk.nl; in the body stays\r\n";
        let ours = vec![
            "Authentication-Results: mx.praktijk.nl; dmarc=fail header.from=umcutrecht.nl\r\n"
                .to_string(),
            "X-Veilpost-Verdict: reject; dmarc.reject\r\n".to_string(),
        ];
        let out = String::from_utf8(with_our_headers(raw, "mx.praktijk.nl", &ours)).expect("utf-8");
        assert!(out.starts_with(&ours.concat()), "{out}");
        assert_eq!(out.matches("spf=pass").count(), 0, "{out}");
        assert!(
            !out.contains("dkim=pass header.d=umcutrecht.nl"),
            "a folded forgery goes whole: {out}"
        );
        assert!(
            out.contains("Authentication-Results: mx.google.com; dmarc=fail"),
            "others stay: {out}"
        );
        assert_eq!(out.matches("X-Veilpost-Verdict").count(), 1, "{out}");
        assert!(out.ends_with("Subject: Factuur\r\n\r\nAuthentication-Results: mx.praktijk.nl; in the body stays\r\n"), "{out}");
    }

    #[test]
    fn bare_line_ends_and_no_body() {
        let raw = b"Authentication-Results: mx.praktijk.nl; spf=pass\nSubject: x\n";
        let out = with_our_headers(raw, "mx.praktijk.nl", &["X-A: 1\r\n".into()]);
        assert_eq!(out, b"X-A: 1\r\nSubject: x\n");
        assert_eq!(with_our_headers(b"", "a", &[]), b"");
        let garbage = b"\x00\xff:\r\n \r\n\r\n";
        let _ = with_our_headers(garbage, "a", &[]);
    }

    #[test]
    fn the_subject_tag_goes_in_front_once() {
        let raw = b"From: a@b.nl\r\nSubject:  Factuur\r\n 2026\r\n\r\nSubject: body";
        let once = tagged_subject(raw, "[EXTERN]");
        assert_eq!(
            once,
            b"From: a@b.nl\r\nSubject: [EXTERN] Factuur\r\n 2026\r\n\r\nSubject: body"
        );
        assert_eq!(tagged_subject(&once, "[EXTERN]"), once);
        assert_eq!(
            tagged_subject(b"From: a@b.nl\r\n\r\nx", "[EXTERN]"),
            b"Subject: [EXTERN]\r\nFrom: a@b.nl\r\n\r\nx"
        );
    }

    #[test]
    fn the_first_field_is_ours() {
        let raw = b"Received: x\r\nX-Veilpost-Verdict: tag;\r\n lookalike.sender\r\nx-veilpost-verdict: clean\r\n\r\nX-Veilpost-Verdict: body";
        assert_eq!(
            first_value(raw, "X-Veilpost-Verdict").as_deref(),
            Some("tag; lookalike.sender")
        );
        assert_eq!(
            first_value(b"Subject: x\r\n\r\n", "X-Veilpost-Verdict"),
            None
        );
    }

    #[test]
    fn the_newest_arc_sealer() {
        let raw = b"ARC-Seal: i=1; a=rsa-sha256; d=first.example; s=x; cv=none; b=abc\r\n\
ARC-Seal: i=2; a=rsa-sha256;\r\n\td=Lists.Nictiz.NL; s=y; cv=pass; b=def\r\nSubject: x\r\n\r\nbody";
        assert_eq!(arc_sealer(raw).as_deref(), Some("lists.nictiz.nl"));
        assert_eq!(arc_sealer(b"Subject: x\r\n\r\n"), None);
    }

    #[test]
    fn authserv_ids() {
        for (field, want) in [
            (&b"Authentication-Results: mx.a.nl; spf=pass"[..], "mx.a.nl"),
            (b"Authentication-Results: (x) MX.A.NL 1 ; none", "mx.a.nl"),
            (b"Authentication-Results:mx.a.nl;", "mx.a.nl"),
            (b"Authentication-Results: ", ""),
        ] {
            assert_eq!(authserv_id(field), want);
        }
    }
}
