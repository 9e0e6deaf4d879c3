//! What Veilpost changed in a message, as the operations a milter answers Postfix with.
//! The MX listener passes the changed message on whole; before-queue in Postfix the
//! message stays Postfix's, and Veilpost can only say which header fields go, which come
//! and what the body becomes. Rather than describe each change twice, the edits are read
//! off the two versions: every transformation (our headers, the banner, the subject tag)
//! keeps the fields it does not touch as they were and in order, so a field of the
//! original that is not in the result went, and a field of the result not in the original
//! came (or, with the name of one that went, replaced it in place).

use std::collections::HashMap;

use crate::headers::{fields, name_of};

/// The operations that turn the original into the result.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Edits {
    /// Fields changed in place: the name as the original wrote it, the occurrence among
    /// the original's fields of that name (1 = the first), and the new value; an empty
    /// value removes the field. Within one name the highest occurrence comes first, so
    /// removing one never renumbers the next.
    pub change: Vec<(String, u32, String)>,
    /// New fields above the original ones, in this order.
    pub prepend: Vec<(String, String)>,
    /// New fields below them, in this order.
    pub append: Vec<(String, String)>,
    /// The new body, when it changed.
    pub body: Option<Vec<u8>>,
}

impl Edits {
    /// Nothing changed.
    pub fn is_empty(&self) -> bool {
        self.change.is_empty()
            && self.prepend.is_empty()
            && self.append.is_empty()
            && self.body.is_none()
    }
}

/// A field's name as written and its value: the text after the colon without the first
/// space, folded lines joined by a bare LF (how a milter writes them), no line end.
fn split_field(field: &[u8]) -> (String, String) {
    let text = String::from_utf8_lossy(field);
    let (name, value) = text.split_once(':').unwrap_or((&text, ""));
    let value = value.strip_prefix(' ').unwrap_or(value);
    let value = value.trim_end_matches(['\r', '\n']).replace("\r\n", "\n");
    (name.trim().to_string(), value)
}

/// The body: what follows the blank line after the header.
fn body_of(raw: &[u8]) -> &[u8] {
    let end = fields(raw).last().map_or(0, |f| f.end);
    let rest = &raw[end..];
    rest.strip_prefix(b"\r\n")
        .or_else(|| rest.strip_prefix(b"\n"))
        .unwrap_or(rest)
}

/// The edits that make `after` out of `before` (see the module text for why reading them
/// off works). Linear in the number of fields.
pub fn edits(before: &[u8], after: &[u8]) -> Edits {
    let old: Vec<&[u8]> = fields(before).into_iter().map(|r| &before[r]).collect();
    let new: Vec<&[u8]> = fields(after).into_iter().map(|r| &after[r]).collect();
    // How often each field (byte for byte) is in the result: those are kept.
    let mut in_new: HashMap<&[u8], usize> = HashMap::new();
    for f in &new {
        *in_new.entry(f).or_default() += 1;
    }
    // The original's fields that went, with their occurrence among their name.
    let mut seen: HashMap<String, u32> = HashMap::new();
    let mut gone: Vec<(String, String, u32)> = Vec::new();
    for f in &old {
        let lower = name_of(f).unwrap_or_default();
        let n = seen.entry(lower.clone()).or_default();
        *n += 1;
        match in_new.get_mut(f) {
            Some(k) if *k > 0 => *k -= 1,
            _ => gone.push((lower, split_field(f).0, *n)),
        }
    }
    // The result's fields that came: above the first kept field, or below.
    let mut in_old: HashMap<&[u8], usize> = HashMap::new();
    for f in &old {
        *in_old.entry(f).or_default() += 1;
    }
    let mut out = Edits::default();
    let mut kept_any = false;
    for f in &new {
        if let Some(k) = in_old.get_mut(f)
            && *k > 0
        {
            *k -= 1;
            kept_any = true;
            continue;
        }
        let lower = name_of(f).unwrap_or_default();
        let (name, value) = split_field(f);
        // A field that replaces one of the same name that went takes its place.
        if let Some(i) = gone.iter().position(|(l, ..)| *l == lower) {
            let (_, written, n) = gone.remove(i);
            out.change.push((written, n, value));
        } else if kept_any {
            out.append.push((name, value));
        } else {
            out.prepend.push((name, value));
        }
    }
    out.change.extend(
        gone.into_iter()
            .map(|(_, written, n)| (written, n, String::new())),
    );
    // Highest occurrence first within a name.
    out.change.sort_by(|a, b| {
        a.0.to_ascii_lowercase()
            .cmp(&b.0.to_ascii_lowercase())
            .then(b.1.cmp(&a.1))
    });
    let body = body_of(after);
    if body != body_of(before) {
        out.body = Some(body.to_vec());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAIL: &[u8] = b"Received: from a by b\r\n\
From: Huisarts <huisarts@partner.nl>\r\n\
Authentication-Results: mx.praktijk.nl; spf=pass\r\n\
Subject: Uitslag\r\n\
Authentication-Results: mx.praktijk.nl;\r\n\tdkim=pass\r\n\
Content-Type: text/plain\r\n\
\r\n\
Hallo\r\n";

    #[test]
    fn nothing_changed_is_no_edit() {
        assert!(edits(MAIL, MAIL).is_empty());
    }

    #[test]
    fn our_headers_come_first_and_forged_ones_go_last_first() {
        let after = crate::headers::with_our_headers(
            MAIL,
            "mx.praktijk.nl",
            &[
                "Authentication-Results: mx.praktijk.nl; spf=fail\r\n".into(),
                "X-Veilpost-Verdict: clean\r\n".into(),
            ],
        );
        let e = edits(MAIL, &after);
        // The new A-R replaces the first forged one in place; the second goes.
        assert_eq!(
            e.change,
            vec![
                ("Authentication-Results".into(), 2, String::new()),
                (
                    "Authentication-Results".into(),
                    1,
                    "mx.praktijk.nl; spf=fail".into()
                ),
            ]
        );
        assert_eq!(
            e.prepend,
            vec![("X-Veilpost-Verdict".into(), "clean".into())]
        );
        assert!(e.append.is_empty());
        assert_eq!(e.body, None);
    }

    #[test]
    fn new_fields_without_a_namesake_are_prepended_in_order() {
        let plain = b"From: a@b.nl\r\nSubject: x\r\n\r\nbody\r\n";
        let after = crate::headers::with_our_headers(
            plain,
            "mx.praktijk.nl",
            &[
                "Authentication-Results: mx.praktijk.nl;\r\n\tspf=none\r\n".into(),
                "X-Veilpost-Verdict: tag; sender.first_time\r\n".into(),
            ],
        );
        let e = edits(plain, &after);
        assert_eq!(
            e.prepend,
            vec![
                (
                    "Authentication-Results".into(),
                    "mx.praktijk.nl;\n\tspf=none".into()
                ),
                ("X-Veilpost-Verdict".into(), "tag; sender.first_time".into()),
            ]
        );
        assert!(e.change.is_empty() && e.append.is_empty() && e.body.is_none());
    }

    #[test]
    fn a_tagged_subject_is_changed_in_place() {
        let after = crate::headers::tagged_subject(MAIL, "[EXTERN]");
        let e = edits(MAIL, &after);
        assert_eq!(
            e.change,
            vec![("Subject".into(), 1, "[EXTERN] Uitslag".into())]
        );
        assert!(e.prepend.is_empty() && e.append.is_empty() && e.body.is_none());
    }

    #[test]
    fn the_banner_replaces_the_body_and_moves_the_content_headers() {
        let warning = crate::Warning {
            nl: "Externe afzender".into(),
            en: "External sender".into(),
        };
        let after = crate::banner::with_banner(MAIL, &[&warning]);
        let e = edits(MAIL, &after);
        let body = e.body.expect("a new body");
        assert!(String::from_utf8_lossy(&body).contains("Content-Type: text/plain"));
        // The original Content-Type is now the multipart's.
        assert!(
            e.change.iter().any(|(n, i, v)| n == "Content-Type"
                && *i == 1
                && v.starts_with("multipart/mixed"))
        );
        // Applying the edits to the original gives the result's header fields.
        let mut applied: Vec<(String, String)> = e.prepend.clone();
        let mut count: HashMap<String, u32> = HashMap::new();
        for f in fields(MAIL) {
            let (name, value) = split_field(&MAIL[f]);
            let n = count.entry(name.to_ascii_lowercase()).or_default();
            *n += 1;
            match e
                .change
                .iter()
                .find(|(cn, ci, _)| cn.eq_ignore_ascii_case(&name) && ci == n)
            {
                Some((_, _, v)) if v.is_empty() => {}
                Some((_, _, v)) => applied.push((name, v.clone())),
                None => applied.push((name, value)),
            }
        }
        applied.extend(e.append.clone());
        let expected: Vec<(String, String)> = fields(&after)
            .into_iter()
            .map(|f| split_field(&after[f]))
            .collect();
        let sorted = |mut v: Vec<(String, String)>| {
            v.sort();
            v
        };
        assert_eq!(sorted(applied), sorted(expected));
    }

    #[test]
    fn hostile_input_gives_edits_not_panics() {
        for (a, b) in [
            (&b""[..], &b""[..]),
            (b"\r\n", b"X: y\r\n\r\n"),
            (b"no colon at all\r\n\r\n", b"\n\n\n"),
            (b": empty name\r\n", b"A:\r\n"),
            (
                b"\xff\xfe: \xff\r\n\r\nbody",
                b"\xff\xfe: \xff\r\n\r\nother",
            ),
        ] {
            let e = edits(a, b);
            assert!(e.change.len() + e.prepend.len() + e.append.len() <= 2);
        }
    }
}
