//! An attachment's file name, made safe to show, download or put in a ZIP.

/// The name without paths, control characters, bidirectional controls (which make
/// `uitslag\u{202E}fdp.exe` look like `uitslagexe.pdf`) or characters Windows refuses, at
/// most 150 characters, no leading dots; `bijlage-N` (1-based) when nothing is left.
pub fn safe(name: Option<&str>, index: usize) -> String {
    let cleaned: String = name
        .unwrap_or("")
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| {
            !c.is_control()
                && !is_bidi_control(*c)
                && !matches!(c, '"' | '<' | '>' | ':' | '*' | '?' | '|')
        })
        .take(150)
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').to_string();
    if cleaned.is_empty() {
        format!("bijlage-{}", index + 1)
    } else {
        cleaned
    }
}

/// Unicode's explicit directional formatting characters: embeddings and overrides
/// (U+202A–202E), isolates (U+2066–2069) and the marks (U+200E, U+200F, U+061C).
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

#[cfg(test)]
mod tests {
    use super::safe;

    #[test]
    fn names_table() {
        let long = "a".repeat(400);
        for (name, want) in [
            (Some("uitslag.pdf"), "uitslag.pdf".to_string()),
            (Some("../../etc/passwd"), "passwd".to_string()),
            (Some("C:\\Users\\x\\brief.docx"), "brief.docx".to_string()),
            (Some("a\u{0}b\r\n.pdf"), "ab.pdf".to_string()),
            (Some("\"<x>:*?|.txt"), "x.txt".to_string()),
            (Some("...hidden"), "hidden".to_string()),
            (Some(".htaccess"), "htaccess".to_string()),
            (Some("   "), "bijlage-3".to_string()),
            (None, "bijlage-3".to_string()),
            (Some(long.as_str()), "a".repeat(150)),
            // Bidi controls would show `uitslag\u{202E}fdp.exe` as `uitslagexe.pdf`.
            (Some("uitslag\u{202E}fdp.exe"), "uitslagfdp.exe".to_string()),
            (
                Some("\u{2066}a\u{2067}b\u{2068}c\u{2069}\u{202A}\u{202B}\u{202C}\u{202D}.pdf"),
                "abc.pdf".to_string(),
            ),
            (
                Some("\u{200E}\u{200F}\u{061C}brief.pdf"),
                "brief.pdf".to_string(),
            ),
        ] {
            assert_eq!(safe(name, 2), want, "{name:?}");
        }
    }
}
