//! Structural checks RFC 8617 asks of ARC header fields, applied before the chain is
//! verified: a tag list that is not RFC 6376 §3.2 syntax, a duplicated or missing tag, an
//! algorithm other than rsa-sha256 (RFC 8617 §4.1), an AMS that signs ARC-Seal fields
//! (§4.1.2), or a set missing one of its three fields (§4.2.1) makes the chain fail.

/// The first structural problem of the message's ARC fields, if any.
pub(crate) fn structural_problem(message: &[u8]) -> Option<String> {
    let fields = header_fields(message);
    let mut instances: Vec<(u32, u8)> = Vec::new();
    for (name, value) in &fields {
        let (kind, required): (u8, &[&str]) = match name.as_str() {
            "arc-seal" => (0, &["i", "a", "b", "d", "s", "cv"]),
            "arc-message-signature" => (1, &["i", "a", "b", "bh", "d", "s", "h"]),
            "arc-authentication-results" => {
                let i = aar_instance(value);
                match i {
                    Some(i) => instances.push((i, 2)),
                    None => return Some("ARC-Authentication-Results without a valid i=".into()),
                }
                continue;
            }
            _ => continue,
        };
        let tags = match tag_list(value) {
            Ok(t) => t,
            Err(why) => return Some(format!("{name}: {why}")),
        };
        for tag in required {
            if !tags.iter().any(|(k, _)| k == tag) {
                return Some(format!("{name} lacks the {tag}= tag"));
            }
        }
        let get = |k: &str| tags.iter().find(|(t, _)| t == k).map(|(_, v)| v.as_str());
        if !matches!(get("a"), Some("rsa-sha256" | "ed25519-sha256")) {
            return Some(format!(
                "{name}: unsupported algorithm {:?}",
                get("a").unwrap_or("")
            ));
        }
        if kind == 0 && get("h").is_some() {
            return Some("ARC-Seal must not have an h= tag".into());
        }
        if kind == 1
            && get("h").is_some_and(|h| {
                h.split(':')
                    .any(|f| f.trim().eq_ignore_ascii_case("arc-seal"))
            })
        {
            return Some("ARC-Message-Signature signs an ARC-Seal field".into());
        }
        match get("i").and_then(|i| i.parse::<u32>().ok()) {
            Some(i @ 1..=50) => instances.push((i, kind)),
            _ => return Some(format!("{name}: i= must be 1 to 50")),
        }
    }
    if instances.is_empty() {
        return None;
    }
    let max = instances.iter().map(|(i, _)| *i).max().unwrap_or(0);
    for i in 1..=max {
        for kind in 0..3u8 {
            let count = instances.iter().filter(|&&x| x == (i, kind)).count();
            if count != 1 {
                let field = [
                    "ARC-Seal",
                    "ARC-Message-Signature",
                    "ARC-Authentication-Results",
                ][kind as usize];
                return Some(format!("ARC set {i} has {count} {field} fields"));
            }
        }
    }
    None
}

/// Header fields, unfolded, names lower-cased.
fn header_fields(message: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(message);
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some(last) = fields.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            fields.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    fields
}

fn aar_instance(value: &str) -> Option<u32> {
    let first = value.split(';').next()?.trim();
    let (k, v) = first.split_once('=')?;
    (k.trim() == "i").then(|| v.trim().parse().ok()).flatten()
}

/// What is wrong with a tag-list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum TagListError {
    #[error("empty tag (stray ';')")]
    Empty,
    #[error("tag without '=': {0:?}")]
    NoEquals(String),
    #[error("invalid tag name {0:?}")]
    BadName(String),
    #[error("invalid characters in {0}=")]
    BadValue(String),
    #[error("duplicate tag {0}=")]
    Duplicate(String),
}

/// RFC 6376 §3.2 tag-list: `tag-name = ALPHA *(ALPHA / DIGIT / "_")`, values of
/// `%x21-3A / %x3C-7E` with folding whitespace, no empty specs, no duplicates.
fn tag_list(value: &str) -> Result<Vec<(String, String)>, TagListError> {
    let mut tags: Vec<(String, String)> = Vec::new();
    let specs: Vec<&str> = value.split(';').collect();
    for (n, spec) in specs.iter().enumerate() {
        if spec.trim().is_empty() {
            // Only a final empty spec (a trailing ';') is allowed.
            if n + 1 == specs.len() {
                continue;
            }
            return Err(TagListError::Empty);
        }
        let (name, val) = spec
            .split_once('=')
            .ok_or_else(|| TagListError::NoEquals(spec.trim().to_string()))?;
        let name = name.trim();
        let mut chars = name.chars();
        let ok_name = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok_name {
            return Err(TagListError::BadName(name.to_string()));
        }
        let val = val.trim();
        if !val
            .bytes()
            .all(|b| matches!(b, 0x21..=0x3A | 0x3C..=0x7E | b' ' | b'\t'))
        {
            return Err(TagListError::BadValue(name.to_string()));
        }
        if tags.iter().any(|(k, _)| k == name) {
            return Err(TagListError::Duplicate(name.to_string()));
        }
        tags.push((name.to_string(), val.to_string()));
    }
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_lists() {
        assert!(tag_list("a=rsa-sha256; b=abc; d=example.org;").is_ok());
        assert_eq!(tag_list("a=rsa-sha256;; b=abc"), Err(TagListError::Empty));
        assert_eq!(
            tag_list("a=1; a=2"),
            Err(TagListError::Duplicate("a".into()))
        );
        assert_eq!(tag_list("1a=1"), Err(TagListError::BadName("1a".into())));
        assert_eq!(tag_list("a"), Err(TagListError::NoEquals("a".into())));
    }

    #[test]
    fn incomplete_sets() {
        let msg = b"ARC-Seal: i=1; a=rsa-sha256; cv=none; d=example.org; s=dummy; b=abc\r\nFrom: a@b\r\n\r\nx";
        assert!(structural_problem(msg).is_some_and(|p| p.contains("ARC-Message-Signature")));
        assert_eq!(structural_problem(b"From: a@b\r\n\r\nx"), None);
    }
}
