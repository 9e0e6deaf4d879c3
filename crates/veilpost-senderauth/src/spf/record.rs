//! SPF record syntax (RFC 7208 §4.6, §5, §6, §7.1), strict: a record that does not follow
//! the ABNF is a permerror, not guessed at.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// `+`, `-`, `~`, `?`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qualifier {
    /// `+` (the default).
    Pass,
    /// `-`.
    Fail,
    /// `~`.
    SoftFail,
    /// `?`.
    Neutral,
}

/// A mechanism (RFC 7208 §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mechanism {
    /// `all`.
    All,
    /// `include:domain-spec`.
    Include(String),
    /// `a[:domain-spec][/v4][//v6]`.
    A {
        /// Target (default: the current domain).
        domain: Option<String>,
        /// IPv4 prefix length.
        v4: u8,
        /// IPv6 prefix length.
        v6: u8,
    },
    /// `mx[:domain-spec][/v4][//v6]`.
    Mx {
        /// Target (default: the current domain).
        domain: Option<String>,
        /// IPv4 prefix length.
        v4: u8,
        /// IPv6 prefix length.
        v6: u8,
    },
    /// `ptr[:domain-spec]` (deprecated but still evaluated).
    Ptr(Option<String>),
    /// `ip4:address[/len]`.
    Ip4(Ipv4Addr, u8),
    /// `ip6:address[/len]`.
    Ip6(Ipv6Addr, u8),
    /// `exists:domain-spec`.
    Exists(String),
}

impl Mechanism {
    /// Does evaluating it cost a DNS look-up (the ten-look-up limit, §4.6.4)?
    pub fn queries_dns(&self) -> bool {
        matches!(
            self,
            Mechanism::Include(_)
                | Mechanism::A { .. }
                | Mechanism::Mx { .. }
                | Mechanism::Ptr(_)
                | Mechanism::Exists(_)
        )
    }
}

/// A directive: qualifier and mechanism.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// The qualifier.
    pub qualifier: Qualifier,
    /// The mechanism.
    pub mechanism: Mechanism,
}

/// A parsed `v=spf1` record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    /// Directives, in order.
    pub directives: Vec<Directive>,
    /// `redirect=`.
    pub redirect: Option<String>,
    /// `exp=`.
    pub exp: Option<String>,
}

/// A syntax error: the record is unusable (permerror).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError(pub String);

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Is this TXT string an SPF version 1 record (`v=spf1` then a space or the end)?
pub fn is_spf1(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() >= 6 && b[..6].eq_ignore_ascii_case(b"v=spf1") && (b.len() == 6 || b[6] == b' ')
}

fn err<T>(msg: impl Into<String>) -> Result<T, SyntaxError> {
    Err(SyntaxError(msg.into()))
}

/// Parse a record already selected by [`is_spf1`].
pub fn parse(text: &str) -> Result<Record, SyntaxError> {
    if !is_spf1(text) {
        return err("not an SPF record");
    }
    let mut record = Record::default();
    // terms = *( 1*SP ( directive / modifier ) ); trailing spaces are tolerated.
    for term in text[6..].split(' ').filter(|t| !t.is_empty()) {
        if let Some(c) = term.bytes().find(|b| !(0x21..=0x7E).contains(b)) {
            return err(format!("invalid character 0x{c:02x} in {term:?}"));
        }
        // A modifier is `name=`, where the name comes before any ':' or '/'.
        let name_end = term.find(['=', ':', '/']).unwrap_or(term.len());
        if term[name_end..].starts_with('=') {
            let (name, value) = (&term[..name_end], &term[name_end + 1..]);
            if !is_modifier_name(name) {
                return err(format!("invalid modifier name {name:?}"));
            }
            match name.to_ascii_lowercase().as_str() {
                "redirect" => {
                    if record.redirect.is_some() {
                        return err("redirect= given twice");
                    }
                    check_domain_spec(value)?;
                    record.redirect = Some(value.to_string());
                }
                "exp" => {
                    if record.exp.is_some() {
                        return err("exp= given twice");
                    }
                    check_domain_spec(value)?;
                    record.exp = Some(value.to_string());
                }
                _ => check_macro_string(value)?,
            }
            continue;
        }
        record.directives.push(directive(term)?);
    }
    Ok(record)
}

fn is_modifier_name(name: &str) -> bool {
    let mut b = name.bytes();
    b.next().is_some_and(|c| c.is_ascii_alphabetic())
        && b.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

fn directive(term: &str) -> Result<Directive, SyntaxError> {
    let (qualifier, rest) = match term.as_bytes()[0] {
        b'+' => (Qualifier::Pass, &term[1..]),
        b'-' => (Qualifier::Fail, &term[1..]),
        b'~' => (Qualifier::SoftFail, &term[1..]),
        b'?' => (Qualifier::Neutral, &term[1..]),
        _ => (Qualifier::Pass, term),
    };
    let name_end = rest.find([':', '/']).unwrap_or(rest.len());
    let (name, tail) = rest.split_at(name_end);
    let mechanism = match name.to_ascii_lowercase().as_str() {
        "all" => {
            if !tail.is_empty() {
                return err(format!("'all' takes no argument: {term:?}"));
            }
            Mechanism::All
        }
        "include" => Mechanism::Include(required_domain(tail, term)?),
        "exists" => Mechanism::Exists(required_domain(tail, term)?),
        "a" | "mx" => {
            let (domain, v4, v6) = domain_and_cidr(tail, term)?;
            if name.eq_ignore_ascii_case("a") {
                Mechanism::A { domain, v4, v6 }
            } else {
                Mechanism::Mx { domain, v4, v6 }
            }
        }
        "ptr" => {
            let domain = match tail.strip_prefix(':') {
                Some(d) => {
                    check_domain_spec(d)?;
                    Some(d.to_string())
                }
                None if tail.is_empty() => None,
                None => return err(format!("bad ptr argument in {term:?}")),
            };
            Mechanism::Ptr(domain)
        }
        "ip4" => {
            let arg = tail
                .strip_prefix(':')
                .ok_or_else(|| SyntaxError(format!("ip4 needs an address: {term:?}")))?;
            let (addr, len) = match arg.split_once('/') {
                Some((a, l)) => (a, cidr(l, 32, term)?),
                None => (arg, 32),
            };
            let ip = parse_ip4(addr)
                .ok_or_else(|| SyntaxError(format!("bad IPv4 address in {term:?}")))?;
            Mechanism::Ip4(ip, len)
        }
        "ip6" => {
            let arg = tail
                .strip_prefix(':')
                .ok_or_else(|| SyntaxError(format!("ip6 needs an address: {term:?}")))?;
            let (addr, len) = match arg.split_once('/') {
                Some((a, l)) => (a, cidr(l, 128, term)?),
                None => (arg, 128),
            };
            let ip = addr
                .parse::<Ipv6Addr>()
                .map_err(|_| SyntaxError(format!("bad IPv6 address in {term:?}")))?;
            Mechanism::Ip6(ip, len)
        }
        _ => return err(format!("unknown mechanism {term:?}")),
    };
    Ok(Directive {
        qualifier,
        mechanism,
    })
}

/// Dotted-quad only (no `1.2.3`, no leading `+`, no octal-looking extras).
fn parse_ip4(text: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = text.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    let mut octets = [0u8; 4];
    for (o, p) in octets.iter_mut().zip(&parts) {
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *o = p.parse().ok()?;
    }
    Some(Ipv4Addr::from(octets))
}

/// `1*DIGIT` without leading zeros, at most `max`.
fn cidr(text: &str, max: u8, term: &str) -> Result<u8, SyntaxError> {
    let valid = !text.is_empty()
        && text.len() <= 3
        && text.bytes().all(|b| b.is_ascii_digit())
        && !(text.len() > 1 && text.starts_with('0'));
    match text.parse::<u8>() {
        Ok(n) if valid && n <= max => Ok(n),
        _ => err(format!("bad prefix length {text:?} in {term:?}")),
    }
}

fn required_domain(tail: &str, term: &str) -> Result<String, SyntaxError> {
    let d = tail
        .strip_prefix(':')
        .ok_or_else(|| SyntaxError(format!("{term:?} needs a domain")))?;
    check_domain_spec(d)?;
    Ok(d.to_string())
}

/// `[":" domain-spec] [ ip4-cidr-length ] [ "/" ip6-cidr-length ]`.
fn domain_and_cidr(tail: &str, term: &str) -> Result<(Option<String>, u8, u8), SyntaxError> {
    let (domain_part, cidr_part) = match tail.strip_prefix(':') {
        Some(rest) => {
            // The CIDR suffix starts at the first '/' followed only by digits and '/'.
            let split = rest
                .char_indices()
                .filter(|(_, c)| *c == '/')
                .map(|(i, _)| i)
                .find(|&i| rest[i..].bytes().all(|b| b.is_ascii_digit() || b == b'/'))
                .unwrap_or(rest.len());
            (Some(&rest[..split]), &rest[split..])
        }
        None => (None, tail),
    };
    if let Some(d) = domain_part {
        check_domain_spec(d)?;
    }
    let (mut v4, mut v6) = (32, 128);
    if !cidr_part.is_empty() {
        let c = cidr_part
            .strip_prefix('/')
            .ok_or_else(|| SyntaxError(format!("bad argument in {term:?}")))?;
        if let Some(six) = c.strip_prefix('/') {
            v6 = cidr(six, 128, term)?;
        } else if let Some((four, six)) = c.split_once("//") {
            v4 = cidr(four, 32, term)?;
            v6 = cidr(six, 128, term)?;
        } else {
            v4 = cidr(c, 32, term)?;
        }
    }
    Ok((domain_part.map(str::to_string), v4, v6))
}

/// `macro-string` (§7.1): literals `%x21-24 / %x26-7E` and macro expansions.
pub(crate) fn check_macro_string(text: &str) -> Result<(), SyntaxError> {
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => i = check_macro(b, i)?,
            0x21..=0x7E => i += 1,
            c => return err(format!("invalid character 0x{c:02x} in {text:?}")),
        }
    }
    Ok(())
}

/// A `%...` at `i`; returns the index after it.
fn check_macro(b: &[u8], i: usize) -> Result<usize, SyntaxError> {
    match b.get(i + 1) {
        Some(b'%' | b'_' | b'-') => Ok(i + 2),
        Some(b'{') => {
            let end = b[i..]
                .iter()
                .position(|&c| c == b'}')
                .map(|p| i + p)
                .ok_or_else(|| SyntaxError("unterminated macro".into()))?;
            let body = &b[i + 2..end];
            let Some((&letter, rest)) = body.split_first() else {
                return err("empty macro");
            };
            if !b"slodiphcrtvSLODIPHCRTV".contains(&letter) {
                return err(format!("unknown macro letter {:?}", letter as char));
            }
            let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
            if digits > 0 && rest[..digits].iter().all(|&c| c == b'0') {
                return err("a macro's digit transformer must be at least 1");
            }
            let mut rest = &rest[digits..];
            if let Some(r) = rest.strip_prefix(b"r").or_else(|| rest.strip_prefix(b"R")) {
                rest = r;
            }
            if !rest.iter().all(|c| b".-+,/_=".contains(c)) {
                return err("bad macro delimiter");
            }
            Ok(end + 1)
        }
        _ => err("'%' must be followed by '%', '_', '-' or '{'"),
    }
}

/// `domain-spec = macro-string domain-end`, `domain-end = ( "." toplabel [ "." ] ) /
/// macro-expand` (§7.1).
pub(crate) fn check_domain_spec(text: &str) -> Result<(), SyntaxError> {
    if text.is_empty() {
        return err("empty domain");
    }
    check_macro_string(text)?;
    // `c`, `r` and `t` are for explanation text only (§7.3).
    for m in text.match_indices("%{") {
        if let Some(letter) = text[m.0 + 2..].chars().next()
            && matches!(letter.to_ascii_lowercase(), 'c' | 'r' | 't')
        {
            return err(format!(
                "%{{{letter}}} is only allowed in explanation text: {text:?}"
            ));
        }
    }
    // Ends in a macro expansion?
    if text.ends_with('}') || ends_with_plain_macro(text) {
        return Ok(());
    }
    let trimmed = text.strip_suffix('.').unwrap_or(text);
    let Some(dot) = trimmed.rfind('.') else {
        return err(format!("{text:?} is not a multi-label domain"));
    };
    let top = &trimmed[dot + 1..];
    if is_toplabel(top) {
        Ok(())
    } else {
        err(format!("invalid top-level label {top:?} in {text:?}"))
    }
}

fn ends_with_plain_macro(text: &str) -> bool {
    matches!(text.as_bytes(), [.., b'%', b'%' | b'_' | b'-'])
}

/// `toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )`.
fn is_toplabel(label: &str) -> bool {
    let b = label.as_bytes();
    if b.is_empty() || !b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-') {
        return false;
    }
    if !b.contains(&b'-') {
        return b.iter().any(u8::is_ascii_alphabetic);
    }
    b[0].is_ascii_alphanumeric() && b[b.len() - 1].is_ascii_alphanumeric()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_records() {
        let r = parse("v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a mx:mail.example.nl/28//64 include:_spf.example.nl ~all").expect("valid");
        assert_eq!(r.directives.len(), 6);
        assert_eq!(
            r.directives[1].mechanism,
            Mechanism::Ip6("2001:db8::".parse().expect("ip"), 32)
        );
        assert_eq!(
            r.directives[3].mechanism,
            Mechanism::Mx {
                domain: Some("mail.example.nl".into()),
                v4: 28,
                v6: 64
            }
        );
        assert_eq!(r.directives[5].qualifier, Qualifier::SoftFail);
        let r = parse("v=spf1 redirect=_spf.%{d} exp=explain.%{d2} moo.cow-far_out=man:dog/cat")
            .expect("valid");
        assert_eq!(r.redirect.as_deref(), Some("_spf.%{d}"));
        assert!(parse("V=SPF1 -ALL").is_ok());
        assert!(parse("v=spf1 a:a:b.example.com -all").is_ok());
        assert!(parse("v=spf1 a//33 -all").is_ok());
    }

    #[test]
    fn invalid_records() {
        for bad in [
            "v=spf1 ip4:192.0.2.0/33",
            "v=spf1 ip4:192.0.2.0/032",
            "v=spf1 ip4:1.2.3",
            "v=spf1 ip6:::1/129",
            "v=spf1 a/33",
            "v=spf1 a:example.123",
            "v=spf1 a:museum",
            "v=spf1 a:museum.",
            "v=spf1 -all foo=%{x}",
            "v=spf1 redirect=a.nl redirect=b.nl",
            "v=spf1 =all",
            "v=spf1 all:foo",
            "v=spf1 include",
            "v=spf1 a:ctrl.example.com\rptr -all",
            "v=spf1 \u{80}a:example.net -all",
            "v=spf1 exists:%{z}.example.com",
            "v=spf1 exp=%",
            "v=spf1 frobnicate:x.nl",
            "v=spf1 -all exp=%{c}.example.com",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be invalid");
        }
    }

    #[test]
    fn selection() {
        assert!(is_spf1("v=spf1"));
        assert!(is_spf1("v=spf1 -all"));
        assert!(!is_spf1("v=spf10 -all"));
        assert!(!is_spf1("v=spf2.0/pra -all"));
        assert!(!is_spf1("spf1"));
    }
}
