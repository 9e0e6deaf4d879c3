//! Small text helpers: windows cut to character boundaries, hits near a place, and the
//! normalisation of look-alike characters before detection.

use super::*;

pub(super) fn prev_char(text: &str, pos: usize) -> Option<char> {
    text[..pos].chars().next_back()
}

pub(super) fn boundary_after(text: &str, pos: usize) -> bool {
    !text[pos..]
        .chars()
        .next()
        .is_some_and(char::is_alphanumeric)
}

/// Up to `len` bytes of `text` from `start`, cut back to a character boundary.
pub(super) fn window_after(text: &str, start: usize, len: usize) -> &str {
    let mut end = (start + len).min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[start..end]
}

/// Map look-alike characters to the ones detectors expect: exotic spaces to a space, dashes
/// to `-`, full-width digits to ASCII; drop zero-width characters and soft hyphens (used to
/// hide a number from naive scanners).
pub(super) fn normalize<'a>(text: &'a str, out: &'a mut String) -> &'a str {
    // Every character `normalize_char` changes starts with one of these lead bytes, so
    // only those positions are decoded; text is copied in runs between changes.
    out.clear();
    let mut copied = 0;
    for pos in memchr::memchr3_iter(0xC2, 0xE2, 0xEF, text.as_bytes()) {
        let Some(c) = text.get(pos..).and_then(|t| t.chars().next()) else {
            continue;
        };
        let mapped = normalize_char(c);
        if mapped == Some(c) {
            continue;
        }
        if copied == 0 {
            out.reserve(text.len());
        }
        out.push_str(&text[copied..pos]);
        if let Some(m) = mapped {
            out.push(m);
        }
        copied = pos + c.len_utf8();
    }
    if copied == 0 {
        return text;
    }
    out.push_str(&text[copied..]);
    out
}

pub(super) fn normalize_char(c: char) -> Option<char> {
    match c {
        '\u{00A0}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' => Some(' '),
        '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}' => None,
        '\u{2010}'..='\u{2015}' | '\u{2212}' => Some('-'),
        '\u{FF10}'..='\u{FF19}' => char::from_u32(c as u32 - 0xFF10 + u32::from(b'0')),
        _ => Some(c),
    }
}

/// The hits (in text order) that overlap `from..to`.
pub(super) fn hits_near(hits: &[Hit], from: usize, to: usize) -> impl Iterator<Item = &Hit> {
    let first = hits.partition_point(|h| h.end < from);
    hits[first..].iter().take_while(move |h| h.start <= to)
}

/// Up to `len` bytes of `text` before `end`, cut forward to a character boundary.
pub(super) fn window_before(text: &str, end: usize, len: usize) -> &str {
    let mut start = end.saturating_sub(len);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..end]
}

/// Is `word` one of `list` (ASCII case-insensitive; the lists are ASCII)?
pub(super) fn one_of(list: &[&str], word: &str) -> bool {
    list.iter().any(|x| x.eq_ignore_ascii_case(word))
}

/// Are `earlier` and `word`, one after the other, one of the two-word `pairs`?
pub(super) fn pair_of(pairs: &[(&str, &str)], earlier: &str, word: &str) -> bool {
    pairs
        .iter()
        .any(|(a, b)| a.eq_ignore_ascii_case(earlier) && b.eq_ignore_ascii_case(word))
}
