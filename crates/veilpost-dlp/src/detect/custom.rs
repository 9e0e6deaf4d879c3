//! Identifiers an organisation defines itself (`[[dlp.identifiers]]`), as Purview's custom
//! sensitive information types: a named pattern with an optional checksum and keywords,
//! the confidence a match gives, and whether a match alone makes a message sensitive.
//!
//! ```
//! use veilpost_dlp::detect::{Checksum, CustomIdentifier, Engine};
//! use veilpost_dlp::Confidence;
//!
//! let pat = CustomIdentifier {
//!     name: "patientnummer".into(),
//!     pattern: r"PAT-\d{7}".into(),
//!     checksum: Checksum::None,
//!     keywords: vec![],
//!     confidence: Confidence::High,
//!     sensitive_alone: true,
//! };
//! let engine = Engine::with_identifiers(vec![pat]).unwrap();
//! let report = engine.report("Graag terugbellen over PAT-1234567.", "body");
//! assert_eq!(report.findings[0].kind_name(), "patientnummer");
//! ```

use std::fmt;
use std::sync::Arc;

use regex::Regex;

use crate::report::Confidence;

use super::checks;

/// A checksum a custom identifier's digits must pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Checksum {
    /// No checksum.
    #[default]
    None,
    /// The 11-test: the BSN form (weights n..2, the last digit -1) or the bank-account form
    /// (weights n..1), over the digits of the match.
    Elfproef,
    /// ISO 7064 MOD 97-10 over the letters (A = 10 ... Z = 35) and digits of the match, as
    /// IBANs (which are first rotated: a match that starts with two letters and two digits
    /// is read as an IBAN).
    Mod97,
    /// Luhn (ISO/IEC 7812) over the digits of the match.
    Luhn,
}

impl Checksum {
    /// Parse the config word: `none`, `elfproef`, `mod97`, `luhn`.
    pub fn parse(word: &str) -> Option<Checksum> {
        match word.to_ascii_lowercase().as_str() {
            "" | "none" => Some(Checksum::None),
            "elfproef" | "11-proef" | "elf" => Some(Checksum::Elfproef),
            "mod97" | "mod-97" | "mod97-10" => Some(Checksum::Mod97),
            "luhn" => Some(Checksum::Luhn),
            _ => None,
        }
    }

    fn passes(self, value: &str) -> bool {
        let digits: Vec<u8> = value.bytes().filter(u8::is_ascii_digit).collect();
        match self {
            Checksum::None => true,
            Checksum::Elfproef => elfproef(&digits),
            Checksum::Luhn => luhn(&digits),
            Checksum::Mod97 => mod97(value),
        }
    }
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Checksum::None => "none",
            Checksum::Elfproef => "elfproef",
            Checksum::Mod97 => "mod97",
            Checksum::Luhn => "luhn",
        })
    }
}

/// An organisation-defined identifier, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomIdentifier {
    /// The finding's kind in reports and JSON.
    pub name: String,
    /// A regular expression (Rust `regex` syntax) for the value.
    pub pattern: String,
    /// A checksum the value's digits must pass.
    pub checksum: Checksum,
    /// When not empty, one of these words must stand within 50 characters of the value.
    pub keywords: Vec<String>,
    /// The confidence a match gives.
    pub confidence: Confidence,
    /// A match alone makes the message sensitive; otherwise it identifies a person (and
    /// health data next to it is then about that person).
    pub sensitive_alone: bool,
}

/// Why a custom identifier was refused; `field` names the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentifierError {
    /// Which identifier (its position in the list, from 0).
    pub index: usize,
    /// The key at fault: `name`, `pattern`, `keywords`.
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for IdentifierError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "dlp.identifiers[{}].{}: {}",
            self.index, self.field, self.message
        )
    }
}

impl std::error::Error for IdentifierError {}

/// How far (characters) a keyword may stand from the value.
const KEYWORD_REACH: usize = 50;
/// Longest pattern accepted, and the compiled size limit: a pattern is configuration,
/// but it runs over every message.
const MAX_PATTERN: usize = 1000;
const MAX_COMPILED: usize = 1 << 20;

/// A compiled custom identifier.
#[derive(Debug)]
pub(crate) struct CompiledIdentifier {
    pub(crate) name: Arc<str>,
    pub(crate) rule: String,
    pub(crate) regex: Regex,
    pub(crate) checksum: Checksum,
    /// Lower-cased keywords.
    pub(crate) keywords: Vec<String>,
    pub(crate) confidence: Confidence,
    pub(crate) sensitive_alone: bool,
}

/// Names the built-in detectors use: a custom identifier may not take them.
const RESERVED: &[&str] = &[
    "bsn",
    "iban",
    "health",
    "date_of_birth",
    "id_document",
    "phone",
    "email_address",
    "postal_address",
    "uninspectable",
    "client_number",
    "custom",
];

/// Check a list of identifiers as the engine would compile them, without building an
/// engine (configuration validation at start).
pub fn validate(list: &[CustomIdentifier]) -> Result<(), IdentifierError> {
    compile(list.to_vec()).map(|_| ())
}

pub(crate) fn compile(
    list: Vec<CustomIdentifier>,
) -> Result<Vec<CompiledIdentifier>, IdentifierError> {
    let mut out: Vec<CompiledIdentifier> = Vec::with_capacity(list.len());
    for (index, id) in list.into_iter().enumerate() {
        let err = |field, message: String| IdentifierError {
            index,
            field,
            message,
        };
        let name = id.name.trim();
        let name_ok = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !name_ok {
            return Err(err(
                "name",
                format!("{name:?}: 1 to 64 letters, digits, '_', '-' or '.'"),
            ));
        }
        if RESERVED.contains(&name) || out.iter().any(|c| &*c.name == name) {
            return Err(err("name", format!("{name:?} is already in use")));
        }
        if id.pattern.is_empty() || id.pattern.len() > MAX_PATTERN {
            return Err(err(
                "pattern",
                format!("must be 1 to {MAX_PATTERN} characters"),
            ));
        }
        let regex = regex::RegexBuilder::new(&id.pattern)
            .size_limit(MAX_COMPILED)
            .build()
            .map_err(|e| err("pattern", e.to_string()))?;
        if regex.is_match("") {
            return Err(err("pattern", "matches empty text".to_string()));
        }
        let keywords: Vec<String> = id
            .keywords
            .iter()
            .map(|k| k.trim().to_lowercase())
            .filter(|k| !k.is_empty())
            .collect();
        if keywords.len() != id.keywords.len() {
            return Err(err("keywords", "an empty keyword".to_string()));
        }
        out.push(CompiledIdentifier {
            rule: format!("custom.{name}"),
            name: Arc::from(name),
            regex,
            checksum: id.checksum,
            keywords,
            confidence: id.confidence,
            sensitive_alone: id.sensitive_alone,
        });
    }
    Ok(out)
}

/// One match of a custom identifier.
#[derive(Debug)]
pub(crate) struct CustomMatch<'a> {
    pub(crate) id: &'a CompiledIdentifier,
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) keyword: bool,
}

impl CompiledIdentifier {
    /// Every valid match in `text`: the checksum passed, and a keyword within reach when
    /// keywords are set.
    pub(crate) fn matches<'a>(&'a self, text: &str) -> Vec<CustomMatch<'a>> {
        let mut out = Vec::new();
        for m in self.regex.find_iter(text) {
            if m.start() == m.end() || !self.checksum.passes(m.as_str()) {
                continue;
            }
            let keyword = !self.keywords.is_empty() && self.keyword_near(text, m.start(), m.end());
            if !self.keywords.is_empty() && !keyword {
                continue;
            }
            out.push(CustomMatch {
                id: self,
                start: m.start(),
                end: m.end(),
                keyword,
            });
        }
        out
    }

    fn keyword_near(&self, text: &str, start: usize, end: usize) -> bool {
        let before: String = text[..start]
            .chars()
            .rev()
            .take(KEYWORD_REACH + 1)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let after: String = text[end..].chars().take(KEYWORD_REACH + 1).collect();
        let window = format!("{} {}", before.to_lowercase(), after.to_lowercase());
        self.keywords.iter().any(|k| window.contains(k.as_str()))
    }
}

fn elfproef(d: &[u8]) -> bool {
    if d.len() < 2 {
        return false;
    }
    let n = d.len();
    let digit = |i: usize| i64::from(d[i] - b'0');
    let weighted: i64 = (0..n - 1).map(|i| (n - i) as i64 * digit(i)).sum();
    let bsn_form = (weighted - digit(n - 1)).rem_euclid(11) == 0;
    let account_form = (weighted + digit(n - 1)).rem_euclid(11) == 0;
    (bsn_form || account_form) && d.iter().any(|&c| c != b'0')
}

fn luhn(d: &[u8]) -> bool {
    if d.len() < 2 {
        return false;
    }
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &c)| {
            let v = u32::from(c - b'0');
            if i % 2 == 1 {
                let x = v * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                v
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

fn mod97(value: &str) -> bool {
    let compact: Vec<u8> = value
        .bytes()
        .filter(u8::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if compact.len() < 3 {
        return false;
    }
    let iban_like = compact.len() > 4
        && compact[..2].iter().all(u8::is_ascii_alphabetic)
        && compact[2..4].iter().all(u8::is_ascii_digit);
    if iban_like {
        return checks::iban_mod97(&compact);
    }
    let mut rem: u32 = 0;
    for c in compact {
        let v = if c.is_ascii_digit() {
            u32::from(c - b'0')
        } else {
            u32::from(c - b'A') + 10
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums() {
        assert!(Checksum::Elfproef.passes("123456782")); // BSN form
        assert!(Checksum::Elfproef.passes("1234.56.782"));
        assert!(!Checksum::Elfproef.passes("123456788"));
        assert!(Checksum::Elfproef.passes("0417164300")); // account form: sum of i*d ≡ 0
        assert!(Checksum::Luhn.passes("4111 1111 1111 1111"));
        assert!(Checksum::Luhn.passes("79927398713"));
        assert!(!Checksum::Luhn.passes("79927398710"));
        assert!(Checksum::Mod97.passes("NL91ABNA0417164300"));
        assert!(!Checksum::Mod97.passes("NL91ABNA0417164301"));
        // ISO 7064 over plain digits: the check digits 98 - (n * 100 mod 97) appended.
        assert!(Checksum::Mod97.passes("1234567890135"));
        assert!(Checksum::None.passes("anything"));
        for (w, c) in [
            ("none", Checksum::None),
            ("elfproef", Checksum::Elfproef),
            ("mod97", Checksum::Mod97),
            ("luhn", Checksum::Luhn),
        ] {
            assert_eq!(Checksum::parse(w), Some(c));
            assert_eq!(c.to_string(), w);
        }
        assert_eq!(Checksum::parse("crc32"), None);
    }

    fn ident(name: &str, pattern: &str) -> CustomIdentifier {
        CustomIdentifier {
            name: name.into(),
            pattern: pattern.into(),
            checksum: Checksum::None,
            keywords: vec![],
            confidence: Confidence::High,
            sensitive_alone: true,
        }
    }

    #[test]
    fn refused_with_the_key_named() {
        let cases = [
            (vec![ident("a", "(unclosed")], "dlp.identifiers[0].pattern"),
            (vec![ident("", "x")], "dlp.identifiers[0].name"),
            (vec![ident("bsn", "x")], "dlp.identifiers[0].name"),
            (
                vec![ident("a", "x"), ident("a", "y")],
                "dlp.identifiers[1].name",
            ),
            (vec![ident("a", "x*")], "dlp.identifiers[0].pattern"),
            (vec![ident("a", "")], "dlp.identifiers[0].pattern"),
            (
                vec![ident("a", &"(a|b)".repeat(400))],
                "dlp.identifiers[0].pattern",
            ),
            // Short, but too large once compiled.
            (
                vec![ident("a", r"(?:\w{100}){100}")],
                "dlp.identifiers[0].pattern",
            ),
        ];
        for (list, want) in cases {
            let e = compile(list).expect_err(want);
            assert!(e.to_string().starts_with(want), "{e} vs {want}");
        }
    }

    #[test]
    fn keywords_within_fifty_characters() {
        let mut id = ident("ehr", r"\b\d{6}\b");
        id.keywords = vec!["ECD".into()];
        let c = compile(vec![id]).expect("compiles");
        assert_eq!(c[0].matches("ecd-nummer 123456").len(), 1);
        assert_eq!(c[0].matches("123456 staat in het ECD").len(), 1);
        let far = format!("ECD {} 123456", "x".repeat(60));
        assert_eq!(c[0].matches(&far).len(), 0);
        assert_eq!(c[0].matches("order 123456").len(), 0);
    }
}
