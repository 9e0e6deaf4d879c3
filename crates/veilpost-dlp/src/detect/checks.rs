//! Checksums and masks: the arithmetic that turns "looks like" into "is".

/// The BSN 11-check (elfproef): `9*d1 + 8*d2 + ... + 2*d8 - 1*d9` is divisible by 11.
///
/// `digits` must be exactly nine ASCII digits. All zeros is rejected: it passes the
/// arithmetic but is never issued.
pub fn bsn_elfproef(digits: &[u8]) -> bool {
    if digits.len() != 9 || !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    if digits.iter().all(|&d| d == b'0') {
        return false;
    }
    let mut sum: i32 = 0;
    for (i, &d) in digits.iter().enumerate() {
        let v = i32::from(d - b'0');
        let weight = if i == 8 { -1 } else { 9 - i as i32 };
        sum += weight * v;
    }
    sum % 11 == 0
}

/// IBAN length for the SEPA countries (and the UK, Switzerland, Monaco and so on).
pub fn iban_length(country: [u8; 2]) -> Option<usize> {
    let len = match &country {
        b"NL" => 18,
        b"BE" => 16,
        b"DE" => 22,
        b"LU" => 20,
        b"FR" => 27,
        b"GB" => 22,
        b"IE" => 22,
        b"ES" => 24,
        b"PT" => 25,
        b"IT" => 27,
        b"AT" => 20,
        b"CH" => 21,
        b"LI" => 21,
        b"DK" => 18,
        b"FI" => 18,
        b"SE" => 24,
        b"NO" => 15,
        b"IS" => 26,
        b"PL" => 28,
        b"CZ" => 24,
        b"SK" => 24,
        b"HU" => 28,
        b"SI" => 19,
        b"HR" => 21,
        b"RO" => 24,
        b"BG" => 22,
        b"GR" => 27,
        b"CY" => 28,
        b"MT" => 31,
        b"EE" => 20,
        b"LV" => 21,
        b"LT" => 20,
        b"MC" => 27,
        b"SM" => 27,
        b"AD" => 24,
        b"VA" => 22,
        b"GI" => 23,
        _ => return None,
    };
    Some(len)
}

/// ISO 13616 mod-97 check over an IBAN without spaces (upper or lower case).
pub fn iban_mod97(iban: &[u8]) -> bool {
    if iban.len() < 5 || !iban.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let (head, tail) = iban.split_at(4);
    let mut rem: u32 = 0;
    for &c in tail.iter().chain(head) {
        let c = c.to_ascii_uppercase();
        if c.is_ascii_digit() {
            rem = (rem * 10 + u32::from(c - b'0')) % 97;
        } else {
            let v = u32::from(c - b'A') + 10;
            rem = (rem * 100 + v) % 97;
        }
    }
    rem == 1
}

/// Replace every letter and digit but the last `keep` with `*`, leaving separators alone.
pub fn mask_keep_last(value: &str, keep: usize) -> String {
    let total = value.chars().filter(|c| c.is_alphanumeric()).count();
    let mut seen = 0;
    value
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                seen += 1;
                if seen + keep > total { c } else { '*' }
            } else {
                c
            }
        })
        .collect()
}

/// Keep the first letter of each word and mask the rest: `mevrouw Jansen` -> `mevrouw J*****`
/// when `skip_words` is 1.
pub fn mask_name(name: &str, skip_words: usize) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, word) in name.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if i < skip_words {
            out.push_str(word);
            continue;
        }
        for (j, c) in word.chars().enumerate() {
            out.push(if j == 0 || !c.is_alphanumeric() {
                c
            } else {
                '*'
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elfproef_table() {
        let cases: &[(&str, bool)] = &[
            ("123456782", true),
            ("111222333", true),
            ("999999990", true),
            ("123456789", false),
            ("111222334", false),
            ("000000000", false),
            ("12345678", false),
            ("1234567820", false),
            ("12345678a", false),
        ];
        for (input, want) in cases {
            assert_eq!(bsn_elfproef(input.as_bytes()), *want, "{input}");
        }
    }

    #[test]
    fn iban_table() {
        let cases: &[(&str, bool)] = &[
            ("NL91ABNA0417164300", true),
            ("nl91abna0417164300", true),
            ("NL91ABNA0417164301", false),
            ("BE68539007547034", true),
            ("DE89370400440532013000", true),
            ("FR1420041010050500013M02606", true),
            ("GB29NWBK60161331926819", true),
            ("NL9", false),
            ("NL91 ABNA", false),
        ];
        for (input, want) in cases {
            assert_eq!(iban_mod97(input.as_bytes()), *want, "{input}");
        }
        assert_eq!(iban_length(*b"NL"), Some(18));
        assert_eq!(iban_length(*b"XX"), None);
    }

    #[test]
    fn masks() {
        assert_eq!(mask_keep_last("123456782", 3), "******782");
        assert_eq!(mask_keep_last("1234.56.782", 3), "****.**.782");
        assert_eq!(mask_keep_last("ab", 3), "ab");
        assert_eq!(mask_name("mevrouw Jansen", 1), "mevrouw J*****");
        assert_eq!(mask_name("J.P. de Vries", 0), "J.*. d* V****");
    }
}
