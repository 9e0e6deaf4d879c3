//! DKIM keys and signing: generate a key pair, store it as PEM, publish its TXT record,
//! sign messages (relaxed/relaxed) with RSA-SHA256 or Ed25519-SHA256 (RFC 8463).

use std::fmt;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use mail_auth::common::crypto::Sha256;
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::{Canonicalization, DkimSigner};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;

/// Headers signed by default: the ones a forger would change. `From` is listed twice so
/// that a second From header added in transit breaks the signature (over-signing).
pub const SIGNED_HEADERS: &[&str] = &[
    "From",
    "From",
    "Reply-To",
    "Subject",
    "Date",
    "To",
    "Cc",
    "Message-ID",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "Sender",
];

/// A DKIM key algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// RSA, 2048 bits, signing with rsa-sha256.
    Rsa2048,
    /// Ed25519 (RFC 8463), signing with ed25519-sha256.
    Ed25519,
}

impl KeyAlgorithm {
    /// The `k=` tag value.
    pub fn k_tag(self) -> &'static str {
        match self {
            KeyAlgorithm::Rsa2048 => "rsa",
            KeyAlgorithm::Ed25519 => "ed25519",
        }
    }
}

/// Why a key could not be made, read or used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Key generation failed in the crypto library.
    #[error("key generation failed")]
    Generate,
    /// The file is not a PEM private key we understand.
    #[error("not a usable private key: {0}")]
    Parse(String),
    /// Signing failed.
    #[error("signing failed: {0}")]
    Sign(String),
    /// The domain or selector is not a valid DNS label sequence.
    #[error("invalid {0}: {1:?}")]
    Name(&'static str, String),
}

/// A private key able to sign, with its public half.
pub struct SigningKey {
    algorithm: KeyAlgorithm,
    /// PKCS#8 DER of the private key.
    pkcs8: Vec<u8>,
    /// The `p=` value: SubjectPublicKeyInfo for RSA, the raw 32 bytes for Ed25519.
    public: Vec<u8>,
    /// The key, parsed once: parsing an RSA key checks it, which costs about as much as
    /// a signature.
    parsed: Parsed,
}

enum Parsed {
    Rsa(aws_lc_rs::rsa::KeyPair),
    Ed25519(Ed25519KeyPair),
}

impl Parsed {
    fn from_pkcs8(algorithm: KeyAlgorithm, der: &[u8]) -> Result<Parsed, KeyError> {
        match algorithm {
            KeyAlgorithm::Rsa2048 => aws_lc_rs::rsa::KeyPair::from_pkcs8(der)
                .map(Parsed::Rsa)
                .map_err(|e| KeyError::Parse(e.to_string())),
            KeyAlgorithm::Ed25519 => Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
                .map(Parsed::Ed25519)
                .map_err(|e| KeyError::Parse(e.to_string())),
        }
    }
}

/// mail-auth's signer over the parsed key (its own key types parse on construction).
struct Signer<'a>(&'a Parsed);

impl mail_auth::common::crypto::SigningKey for Signer<'_> {
    type Hasher = Sha256;

    fn sign(&self, input: impl mail_auth::common::headers::Writable) -> mail_auth::Result<Vec<u8>> {
        use mail_auth::common::crypto::{HashContext as _, HashImpl as _};
        match self.0 {
            Parsed::Rsa(key) => {
                let mut data = Vec::with_capacity(256);
                input.write(&mut data);
                let mut signature = vec![0; key.public_modulus_len()];
                key.sign(
                    &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                    &aws_lc_rs::rand::SystemRandom::new(),
                    &data,
                    &mut signature,
                )
                .map_err(|e| {
                    mail_auth::Error::Crypto(mail_auth::common::crypto::CryptoError::Library(
                        e.to_string(),
                    ))
                })?;
                Ok(signature)
            }
            Parsed::Ed25519(key) => {
                // Ed25519-SHA256 (RFC 8463) signs the SHA-256 of the data.
                let mut hasher = Sha256::hasher();
                input.write(&mut hasher);
                Ok(key.sign(hasher.complete().as_ref()).as_ref().to_vec())
            }
        }
    }

    fn algorithm(&self) -> mail_auth::common::crypto::Algorithm {
        match self.0 {
            Parsed::Rsa(_) => mail_auth::common::crypto::Algorithm::RsaSha256,
            Parsed::Ed25519(_) => mail_auth::common::crypto::Algorithm::Ed25519Sha256,
        }
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material.
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    fn assemble(
        algorithm: KeyAlgorithm,
        pkcs8: Vec<u8>,
        public: Vec<u8>,
    ) -> Result<SigningKey, KeyError> {
        let parsed = Parsed::from_pkcs8(algorithm, &pkcs8)?;
        Ok(SigningKey {
            algorithm,
            pkcs8,
            public,
            parsed,
        })
    }

    /// Generate a new key pair.
    pub fn generate(algorithm: KeyAlgorithm) -> Result<SigningKey, KeyError> {
        match algorithm {
            KeyAlgorithm::Rsa2048 => {
                let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                    .map_err(|_| KeyError::Generate)?;
                let pkcs8: Pkcs8V1Der<'_> = pair.as_der().map_err(|_| KeyError::Generate)?;
                let spki: PublicKeyX509Der<'_> =
                    pair.public_key().as_der().map_err(|_| KeyError::Generate)?;
                SigningKey::assemble(algorithm, pkcs8.as_ref().to_vec(), spki.as_ref().to_vec())
            }
            KeyAlgorithm::Ed25519 => {
                let pair = Ed25519KeyPair::generate().map_err(|_| KeyError::Generate)?;
                let pkcs8 = pair.to_pkcs8v1().map_err(|_| KeyError::Generate)?;
                SigningKey::assemble(
                    algorithm,
                    pkcs8.as_ref().to_vec(),
                    pair.public_key().as_ref().to_vec(),
                )
            }
        }
    }

    /// Read a PEM private key: PKCS#8 (`PRIVATE KEY`, RSA or Ed25519) or PKCS#1
    /// (`RSA PRIVATE KEY`).
    pub fn from_pem(pem: &str) -> Result<SigningKey, KeyError> {
        let der = PrivateKeyDer::from_pem_slice(pem.as_bytes())
            .map_err(|e| KeyError::Parse(e.to_string()))?;
        match der {
            PrivateKeyDer::Pkcs8(p8) => Self::from_pkcs8(p8.secret_pkcs8_der()),
            PrivateKeyDer::Pkcs1(p1) => {
                let pair = aws_lc_rs::rsa::KeyPair::from_der(p1.secret_pkcs1_der())
                    .map_err(|e| KeyError::Parse(e.to_string()))?;
                Self::from_rsa(pair)
            }
            _ => Err(KeyError::Parse(
                "unsupported key type (SEC1 EC keys are not DKIM keys)".into(),
            )),
        }
    }

    fn from_pkcs8(der: &[u8]) -> Result<SigningKey, KeyError> {
        if let Ok(pair) = aws_lc_rs::rsa::KeyPair::from_pkcs8(der) {
            return Self::from_rsa(pair);
        }
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map_err(|e| KeyError::Parse(format!("neither RSA nor Ed25519: {e}")))?;
        SigningKey::assemble(
            KeyAlgorithm::Ed25519,
            der.to_vec(),
            pair.public_key().as_ref().to_vec(),
        )
    }

    fn from_rsa(pair: aws_lc_rs::rsa::KeyPair) -> Result<SigningKey, KeyError> {
        let bits = pair.public_modulus_len() * 8;
        if bits < 1024 {
            return Err(KeyError::Parse(format!(
                "RSA key of {bits} bits is too small"
            )));
        }
        let pkcs8: Pkcs8V1Der<'_> = pair
            .as_der()
            .map_err(|_| KeyError::Parse("cannot re-encode RSA key".into()))?;
        let spki: PublicKeyX509Der<'_> = pair
            .public_key()
            .as_der()
            .map_err(|_| KeyError::Parse("cannot encode RSA public key".into()))?;
        SigningKey::assemble(
            KeyAlgorithm::Rsa2048,
            pkcs8.as_ref().to_vec(),
            spki.as_ref().to_vec(),
        )
    }

    /// The algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// The private key as PKCS#8 PEM (store it with mode 0600).
    pub fn to_pem(&self) -> String {
        let body = BASE64.encode(&self.pkcs8);
        let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
        for line in body.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str("-----END PRIVATE KEY-----\n");
        pem
    }

    /// The TXT record value to publish at `SELECTOR._domainkey.DOMAIN`.
    pub fn dns_record(&self) -> String {
        format!(
            "v=DKIM1; k={}; p={}",
            self.algorithm.k_tag(),
            BASE64.encode(&self.public)
        )
    }

    /// The record as a zone-file line, long values split into 255-byte strings.
    pub fn zone_line(&self, domain: &str, selector: &str) -> String {
        let value = self.dns_record();
        let strings: Vec<String> = value
            .as_bytes()
            .chunks(255)
            .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
            .collect();
        format!(
            "{selector}._domainkey.{}. IN TXT ( {} )",
            domain.trim_end_matches('.'),
            strings.join(" ")
        )
    }

    /// Sign `message` for `domain` with `selector`; returns the `DKIM-Signature` header
    /// field (name, value, CRLF) to put in front of the message.
    pub fn sign(&self, message: &[u8], domain: &str, selector: &str) -> Result<String, KeyError> {
        check_name("domain", domain)?;
        check_name("selector", selector)?;
        let signature = DkimSigner::from_key(Signer(&self.parsed))
            .domain(domain)
            .selector(selector)
            .headers(SIGNED_HEADERS.iter().copied())
            .header_canonicalization(Canonicalization::Relaxed)
            .body_canonicalization(Canonicalization::Relaxed)
            .sign(message)
            .map_err(|e| KeyError::Sign(e.to_string()))?;
        Ok(signature.to_header())
    }
}

/// What an ARC-Message-Signature covers (those present): the author and recipients, the
/// subject, date and id, and what a message's content depends on.
const ARC_SIGNED_HEADERS: &[&str] = &[
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "MIME-Version",
    "Content-Type",
    "DKIM-Signature",
    "Authentication-Results",
];

impl SigningKey {
    /// The ARC set for `message` (the three header fields, CRLF-ended), sealing the chain
    /// `arc` with `results` as its ARC-Authentication-Results.
    pub(crate) fn arc_seal(
        &self,
        message: &mail_auth::AuthenticatedMessage<'_>,
        results: &mail_auth::AuthenticationResults<'_>,
        arc: &mail_auth::ArcOutput<'_>,
        domain: &str,
        selector: &str,
    ) -> Result<String, KeyError> {
        use mail_auth::common::headers::HeaderWriter as _;
        check_name("domain", domain)?;
        check_name("selector", selector)?;
        let set = mail_auth::arc::ArcSealer::from_key(Signer(&self.parsed))
            .domain(domain)
            .selector(selector)
            .headers(ARC_SIGNED_HEADERS.iter().copied())
            .seal(message, results, arc)
            .map_err(|e| KeyError::Sign(e.to_string()))?;
        Ok(set.to_header())
    }
}

fn check_name(what: &'static str, name: &str) -> Result<(), KeyError> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name.trim_end_matches('.').split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if ok {
        Ok(())
    } else {
        Err(KeyError::Name(what, name.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_store_reload() {
        for alg in [KeyAlgorithm::Ed25519, KeyAlgorithm::Rsa2048] {
            let key = SigningKey::generate(alg).expect("generate");
            let pem = key.to_pem();
            assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
            let again = SigningKey::from_pem(&pem).expect("reload");
            assert_eq!(again.algorithm(), alg);
            assert_eq!(again.dns_record(), key.dns_record());
            assert!(
                format!("{key:?}").contains("algorithm")
                    && !format!("{key:?}").contains(&pem[30..60])
            );
        }
        let ed = SigningKey::generate(KeyAlgorithm::Ed25519).expect("ed");
        // RFC 8463: the raw 32-byte key, 44 base64 characters.
        assert_eq!(ed.dns_record().len(), "v=DKIM1; k=ed25519; p=".len() + 44);
    }

    #[test]
    fn bad_keys_and_names() {
        assert!(SigningKey::from_pem("not a key").is_err());
        let key = SigningKey::generate(KeyAlgorithm::Ed25519).expect("ed");
        assert!(
            key.sign(b"From: a@b.nl\r\n\r\nx", "b.nl", "bad selector")
                .is_err()
        );
        assert!(key.sign(b"From: a@b.nl\r\n\r\nx", "b..nl", "s1").is_err());
        let zone = key.zone_line("praktijk.nl", "vp2026");
        assert!(zone.starts_with("vp2026._domainkey.praktijk.nl. IN TXT ( \"v=DKIM1; k=ed25519"));
    }
}
