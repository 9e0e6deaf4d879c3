//! DKIM: probe the given and the common selectors; judge each key found.

use base64::Engine as _;
use veilpost_senderauth::spf::Answer;

use crate::dns::Dns;
use crate::text::{Lang, say};
use crate::{Check, Status};
use veilpost_dns::der;

/// Selectors providers use by default (DNS cannot list selectors).
pub(crate) const COMMON_SELECTORS: &[&str] = &[
    "default",
    "selector1",
    "selector2",
    "google",
    "k1",
    "mail",
    "dkim",
    "s1",
    "s2",
];

/// What a key record says about its strength.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyVerdict {
    Rsa(usize),
    Ed25519,
    Revoked,
    Broken(String),
}

pub(crate) fn judge(record: &str) -> KeyVerdict {
    let mut k = "rsa".to_string();
    let mut p: Option<String> = None;
    for tag in record.split(';') {
        let Some((name, value)) = tag.split_once('=') else {
            continue;
        };
        let value: String = value.chars().filter(|c| !c.is_whitespace()).collect();
        match name.trim() {
            "v" if value != "DKIM1" => return KeyVerdict::Broken(format!("v={value}")),
            "k" => k = value.to_ascii_lowercase(),
            "p" => p = Some(value),
            _ => {}
        }
    }
    let Some(p) = p else {
        return KeyVerdict::Broken("no p= tag".into());
    };
    if p.is_empty() {
        return KeyVerdict::Revoked;
    }
    let Ok(key) = base64::engine::general_purpose::STANDARD.decode(&p) else {
        return KeyVerdict::Broken("p= is not base64".into());
    };
    match k.as_str() {
        "ed25519" if key.len() == 32 => KeyVerdict::Ed25519,
        "ed25519" => KeyVerdict::Broken(format!("an Ed25519 key of {} bytes", key.len())),
        "rsa" => match der::rsa_modulus_bits(&key) {
            Some(bits) => KeyVerdict::Rsa(bits),
            None => KeyVerdict::Broken("p= is not an RSA public key".into()),
        },
        other => KeyVerdict::Broken(format!("unknown key type k={other}")),
    }
}

pub(crate) async fn check(dns: &Dns, domain: &str, extra: &[String], lang: Lang) -> Vec<Check> {
    let mut selectors: Vec<String> = extra.iter().map(|s| s.to_ascii_lowercase()).collect();
    for s in COMMON_SELECTORS {
        if !selectors.iter().any(|x| x == s) {
            selectors.push((*s).to_string());
        }
    }
    let mut set = tokio::task::JoinSet::new();
    for (i, sel) in selectors.iter().enumerate() {
        let name = format!("{sel}._domainkey.{domain}");
        // Each task owns a handle to the (shared) resolver.
        let r = dns.plain.clone();
        set.spawn(async move {
            let ans = veilpost_senderauth::spf::SpfResolver::txt(
                &veilpost_senderauth::spf::HickorySpf(&r),
                &name,
            )
            .await;
            (i, ans)
        });
    }
    let mut answers: Vec<(usize, Answer<Vec<String>>)> = set.join_all().await;
    answers.sort_by_key(|(i, _)| *i);
    let mut out = Vec::new();
    let mut found_any = false;
    for (i, ans) in answers {
        let sel = &selectors[i];
        let id = format!("dkim-{sel}");
        let Answer::Records(txts) = ans else {
            if i < extra.len() {
                out.push(Check::new(
                    id,
                    Status::Fail,
                    say!(
                        lang,
                        "Geen DKIM-sleutel op {}._domainkey.{}.",
                        "No DKIM key at {}._domainkey.{}.",
                        sel,
                        domain
                    ),
                ));
            }
            continue;
        };
        let Some(record) = txts.iter().find(|t| t.contains("p=")) else {
            continue;
        };
        found_any = true;
        out.push(match judge(record) {
            KeyVerdict::Rsa(bits) if bits >= 2048 => Check::new(id, Status::Pass, say!(lang, "RSA-sleutel van {} bits.", "RSA key of {} bits.", bits)),
            KeyVerdict::Rsa(bits) if bits >= 1024 => Check::new(id, Status::Warn, say!(lang, "RSA-sleutel van {} bits: te zwak, gebruik 2048 bits.", "RSA key of {} bits: too weak, use 2048 bits.", bits))
                .advice(say!(lang, "Maak een nieuwe sleutel met `veilpost dkim keygen --domain {} --selector NIEUW` en publiceer het record.", "Make a new key with `veilpost dkim keygen --domain {} --selector NEW` and publish its record.", domain)),
            KeyVerdict::Rsa(bits) => Check::new(id, Status::Fail, say!(lang, "RSA-sleutel van {} bits: ontvangers negeren die.", "RSA key of {} bits: receivers ignore it.", bits))
                .advice(say!(lang, "Maak een nieuwe sleutel met `veilpost dkim keygen --domain {} --selector NIEUW`.", "Make a new key with `veilpost dkim keygen --domain {} --selector NEW`.", domain)),
            KeyVerdict::Ed25519 => Check::new(id, Status::Pass, say!(lang, "Ed25519-sleutel (RFC 8463); zet er een RSA-sleutel naast voor oudere ontvangers.", "Ed25519 key (RFC 8463); publish an RSA key next to it for older receivers.")),
            KeyVerdict::Revoked => Check::new(id, Status::Fail, say!(lang, "Sleutel ingetrokken (lege p=): handtekeningen met deze selector falen.", "Key revoked (empty p=): signatures with this selector fail."))
                .advice(say!(lang, "Verwijder het record als de selector niet meer gebruikt wordt.", "Remove the record if the selector is no longer used.")),
            KeyVerdict::Broken(why) => Check::new(id, Status::Fail, say!(lang, "Ongeldig DKIM-record: {}.", "Invalid DKIM record: {}.", why))
                .advice(say!(lang, "Publiceer het record opnieuw zoals `veilpost dkim keygen` het geeft.", "Republish the record as `veilpost dkim keygen` prints it.")),
        });
    }
    if !found_any {
        out.push(
            Check::new(
                "dkim-selectors",
                Status::Warn,
                say!(lang, "Geen DKIM-sleutel gevonden bij de geprobeerde selectors ({}). DNS kan selectors niet opsommen: geef de uwe mee met --dkim-selector.", "No DKIM key found at the selectors tried ({}). DNS cannot list selectors: pass yours with --dkim-selector.", selectors.join(", ")),
            )
            .advice(say!(lang, "Onderteken uitgaande mail met DKIM: `veilpost dkim keygen --domain {} --selector vp1` geeft de sleutel en het record.", "Sign outgoing mail with DKIM: `veilpost dkim keygen --domain {} --selector vp1` gives the key and the record.", domain)),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_verdicts() {
        let key = veilpost_senderauth::dkim::SigningKey::generate(
            veilpost_senderauth::dkim::KeyAlgorithm::Rsa2048,
        )
        .expect("key");
        assert_eq!(judge(&key.dns_record()), KeyVerdict::Rsa(2048));
        let ed = veilpost_senderauth::dkim::SigningKey::generate(
            veilpost_senderauth::dkim::KeyAlgorithm::Ed25519,
        )
        .expect("key");
        assert_eq!(judge(&ed.dns_record()), KeyVerdict::Ed25519);
        assert_eq!(judge("v=DKIM1; k=rsa; p="), KeyVerdict::Revoked);
        assert!(matches!(judge("v=DKIM1; p=!!!"), KeyVerdict::Broken(_)));
        assert!(matches!(judge("v=DKIM2; p=AAAA"), KeyVerdict::Broken(_)));
        // dkimpy's 1024-bit test key, without and with the SubjectPublicKeyInfo wrapper.
        let spki_1024 = "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB";
        assert_eq!(
            judge(&format!("v=DKIM1; k=rsa; p={spki_1024}")),
            KeyVerdict::Rsa(1024)
        );
    }
}
