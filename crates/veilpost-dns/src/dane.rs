//! DANE (RFC 6698, RFC 7672): TLSA records from a DNSSEC-validated look-up, and matching
//! them against a certificate chain. Only DANE-TA(2) and DANE-EE(3) are usable for SMTP.

use aws_lc_rs::digest;
use hickory_proto::rr::{RData, RecordType};

use crate::{Proof, TokioResolver, ValidatedError, der, validated};

/// One TLSA record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tlsa {
    pub usage: u8,
    pub selector: u8,
    pub matching: u8,
    pub data: Vec<u8>,
}

impl Tlsa {
    /// Usable for SMTP (RFC 7672 §3.1): DANE-TA or DANE-EE, a known selector and
    /// matching type.
    pub fn usable(&self) -> bool {
        matches!(self.usage, 2 | 3) && self.selector <= 1 && self.matching <= 2
    }

    /// Does this record match one certificate (DER)?
    pub fn matches_cert(&self, cert: &[u8]) -> bool {
        let selected: &[u8] = match self.selector {
            0 => cert,
            1 => match der::certificate_spki(cert) {
                Some(spki) => spki,
                None => return false,
            },
            _ => return false,
        };
        match self.matching {
            0 => selected == self.data.as_slice(),
            1 => digest::digest(&digest::SHA256, selected).as_ref() == self.data.as_slice(),
            2 => digest::digest(&digest::SHA512, selected).as_ref() == self.data.as_slice(),
            _ => false,
        }
    }
}

/// How a chain matched a TLSA record set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// DANE-EE: the server's own certificate or key. No name or date checks apply.
    EndEntity,
    /// DANE-TA: this certificate of the chain (index > 0) is the trust anchor; the chain
    /// up to it must still be validated, with the name.
    TrustAnchor(usize),
}

/// The first usable record that matches `chain` (leaf first).
pub fn find_match<C: AsRef<[u8]>>(records: &[Tlsa], chain: &[C]) -> Option<Match> {
    let usable = || records.iter().filter(|r| r.usable());
    if let Some(leaf) = chain.first()
        && usable().any(|r| r.usage == 3 && r.matches_cert(leaf.as_ref()))
    {
        return Some(Match::EndEntity);
    }
    for (i, cert) in chain.iter().enumerate().skip(1) {
        if usable().any(|r| r.usage == 2 && r.matches_cert(cert.as_ref())) {
            return Some(Match::TrustAnchor(i));
        }
    }
    None
}

/// The TLSA records at `_PORT._tcp.HOST`, looked up through a validating resolver.
pub async fn lookup(
    resolver: &TokioResolver,
    host: &str,
    port: u16,
) -> Result<(Vec<Tlsa>, Proof), ValidatedError> {
    let name = format!("_{port}._tcp.{}", host.trim_end_matches('.'));
    let v = validated(resolver, &name, RecordType::TLSA).await?;
    let records = v
        .records
        .iter()
        .filter_map(|r| match &r.data {
            RData::TLSA(t) => Some(Tlsa {
                usage: u8::from(t.cert_usage),
                selector: u8::from(t.selector),
                matching: u8::from(t.matching),
                data: t.cert_data.to_vec(),
            }),
            _ => None,
        })
        .collect();
    Ok((records, v.proof))
}
