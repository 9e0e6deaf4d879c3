//! An attachment's file name, made safe to show, download or put in a ZIP.

/// The name without paths, control characters or characters Windows refuses, at most
/// 150 characters, no leading dots; `bijlage-N` (1-based) when nothing is left.
pub fn safe(name: Option<&str>, index: usize) -> String {
    let cleaned: String = name
        .unwrap_or("")
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '<' | '>' | ':' | '*' | '?' | '|'))
        .take(150)
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').to_string();
    if cleaned.is_empty() {
        format!("bijlage-{}", index + 1)
    } else {
        cleaned
    }
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
        ] {
            assert_eq!(safe(name, 2), want, "{name:?}");
        }
    }
}
