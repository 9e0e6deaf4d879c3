//! Just enough DER to read an RSA key's size and a certificate's public key (for DKIM key
//! strength and DANE matching).

/// One TLV: (tag, content, rest).
fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = b.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7F);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &x| (acc << 8) | usize::from(x));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;

fn integer_bits(int: &[u8]) -> usize {
    let int = match int.iter().position(|&b| b != 0) {
        Some(i) => &int[i..],
        None => return 0,
    };
    int.len() * 8 - int[0].leading_zeros() as usize
}

/// The modulus size of an RSA public key, SubjectPublicKeyInfo or PKCS#1 RSAPublicKey.
pub fn rsa_modulus_bits(der: &[u8]) -> Option<usize> {
    let (tag, seq, _) = tlv(der)?;
    if tag != SEQUENCE {
        return None;
    }
    let (first_tag, first, rest) = tlv(seq)?;
    match first_tag {
        // PKCS#1: SEQUENCE { modulus INTEGER, exponent INTEGER }
        INTEGER => Some(integer_bits(first)),
        // SPKI: SEQUENCE { AlgorithmIdentifier, BIT STRING { RSAPublicKey } }
        SEQUENCE => {
            let (bit_tag, bits, _) = tlv(rest)?;
            if bit_tag != BIT_STRING || bits.first() != Some(&0) {
                return None;
            }
            rsa_modulus_bits(&bits[1..])
        }
        _ => None,
    }
}

/// The SubjectPublicKeyInfo (whole TLV) of an X.509 certificate.
pub fn certificate_spki(cert: &[u8]) -> Option<&[u8]> {
    let (tag, certificate, _) = tlv(cert)?;
    if tag != SEQUENCE {
        return None;
    }
    let (tag, tbs, _) = tlv(certificate)?;
    if tag != SEQUENCE {
        return None;
    }
    let mut rest = tbs;
    // [0] version is optional.
    if rest.first() == Some(&0xA0) {
        rest = tlv(rest)?.2;
    }
    // serial, signature, issuer, validity, subject
    for _ in 0..5 {
        rest = tlv(rest)?.2;
    }
    let before = rest;
    let (tag, _, after) = tlv(rest)?;
    if tag != SEQUENCE {
        return None;
    }
    Some(&before[..before.len() - after.len()])
}
