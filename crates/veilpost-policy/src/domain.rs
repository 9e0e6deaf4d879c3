//! One spelling of a domain before any decision is made about it (own domains, the block
//! list, leavers, partners, routes): `Praktijk.NL.`, `praktijk.nl` and a Unicode name and
//! its `xn--` form are the same domain, and must meet the same rules.

/// The domain in its canonical form: trimmed, without the trailing dot of a fully
/// qualified name, in the ASCII (`xn--`) form IDNA gives, lower case. A name IDNA refuses
/// is kept, lower-cased, so that it still matches nothing it should not.
pub fn normalize_domain(domain: &str) -> String {
    let d = domain.trim().trim_end_matches('.');
    if d.starts_with('[') {
        // An address literal (`[192.0.2.1]`): no name to map.
        return d.to_ascii_lowercase();
    }
    match idna::domain_to_ascii(d) {
        Ok(ascii) if !ascii.is_empty() => ascii,
        _ => d.to_lowercase(),
    }
}

/// An address with its domain canonical ([`normalize_domain`]); the local part is kept as
/// written (it belongs to the receiving server).
pub fn normalize_address(address: &str) -> String {
    let address = address.trim();
    match address.rsplit_once('@') {
        Some((local, domain)) => format!("{local}@{}", normalize_domain(domain)),
        None => address.to_string(),
    }
}

/// The canonical domain of an address (empty without one).
pub fn domain_of(address: &str) -> String {
    address
        .trim()
        .rsplit_once('@')
        .map(|(_, d)| normalize_domain(d))
        .unwrap_or_default()
}

/// Is `domain` the same as `other` or below it (`a.praktijk.nl` under `praktijk.nl`)?
pub fn within(domain: &str, other: &str) -> bool {
    let (d, o) = (normalize_domain(domain), normalize_domain(other));
    !o.is_empty() && (d == o || d.ends_with(&format!(".{o}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_spelling_per_domain() {
        for (given, want) in [
            ("praktijk.nl", "praktijk.nl"),
            ("Praktijk.NL", "praktijk.nl"),
            ("praktijk.nl.", "praktijk.nl"),
            (" PRAKTIJK.nl. ", "praktijk.nl"),
            ("münchen.de", "xn--mnchen-3ya.de"),
            ("MÜNCHEN.DE.", "xn--mnchen-3ya.de"),
            ("xn--mnchen-3ya.de", "xn--mnchen-3ya.de"),
            ("[192.0.2.1]", "[192.0.2.1]"),
            ("", ""),
        ] {
            assert_eq!(normalize_domain(given), want, "{given:?}");
        }
        assert_eq!(
            normalize_address("Oud.Collega@Praktijk.NL."),
            "Oud.Collega@praktijk.nl"
        );
        assert_eq!(domain_of("a@Bücher.Example."), "xn--bcher-kva.example");
        assert_eq!(domain_of("geen-adres"), "");
        assert!(within("mail.Evil.test.", "evil.test"));
        assert!(within("evil.test", "EVIL.TEST."));
        assert!(!within("notevil.test", "evil.test"));
        assert!(!within("evil.test", ""));
    }
}
