//! Telephone numbers as people write them, kept in E.164 (`+31612345678`) and shown
//! masked where a page or a log only needs to recognise one.

/// A number in E.164 form (`+31612345678`), from what people type: spaces, dashes,
/// dots and brackets are dropped, `00` becomes `+`, and a Dutch `06…` becomes `+316…`.
pub fn normalize(input: &str) -> Option<String> {
    let kept: String = input
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')' | '\u{a0}'))
        .collect();
    let digits = if let Some(rest) = kept.strip_prefix('+') {
        rest.to_string()
    } else if let Some(rest) = kept.strip_prefix("00") {
        rest.to_string()
    } else if let Some(rest) = kept.strip_prefix('0') {
        format!("31{rest}")
    } else {
        return None;
    };
    let ok = (8..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    ok.then(|| format!("+{digits}"))
}

/// `+316******78`: enough to recognise, not enough to use.
pub fn mask(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() < 7 {
        return "***".into();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 6))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        for (input, want) in [
            ("06-1234 5678", Some("+31612345678")),
            ("+31 6 12345678", Some("+31612345678")),
            ("0032 470 12 34 56", Some("+32470123456")),
            ("(06) 12.34.56.78", Some("+31612345678")),
            ("06\u{a0}12345678", Some("+31612345678")),
            ("", None),
            ("12345", None),
            ("+31abc", None),
            ("+0123456789", None),
            ("+1234567890123456", None),
            ("06", None),
        ] {
            assert_eq!(normalize(input).as_deref(), want, "{input:?}");
        }
        assert_eq!(mask("+31612345678"), "+316******78");
        assert_eq!(mask("+3"), "***");
    }
}
