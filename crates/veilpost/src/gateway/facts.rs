//! What a recipient's domain proves about authenticated TLS: DANE on its MX hosts, an
//! MTA-STS policy (cached in the database, RFC 8461 §5), an NTA 7516 announcement, or a
//! configured partner agreement. Used by the policy (is there a secure route?) and by
//! delivery (what must the TLS connection prove?).

use hickory_proto::rr::RecordType;
use veilpost_dns::dane::{self, Tlsa};
use veilpost_dns::{Proof, ValidatedError};
use veilpost_policy::SecureTransport;
use veilpost_posture::StsPolicy;
use veilpost_store::CachedStsPolicy;

use super::Shared;

/// Re-check a cached policy's TXT id at most this often.
const STS_RECHECK: i64 = 3600;

/// MX hosts of a domain, lowest preference first; `Null` for a null MX (RFC 7505).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MxHosts {
    Hosts(Vec<String>),
    /// No MX: the domain itself (implicit MX, RFC 5321 §5.1).
    Implicit,
    Null,
}

/// Why the MX set could not be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MxError {
    /// The domain does not exist (NXDOMAIN) or is not a domain name: a permanent failure.
    NoDomain(String),
    /// The look-up failed (timeout, SERVFAIL): try again later.
    Lookup(String),
}

/// The MX set, through the plain resolver.
pub async fn mx_hosts(shared: &Shared, domain: &str) -> Result<MxHosts, MxError> {
    use veilpost_dns::MxAnswer;
    match veilpost_dns::mx(&shared.resolver, domain).await {
        a if a.is_null() => Ok(MxHosts::Null),
        MxAnswer::Records(mx) => Ok(MxHosts::Hosts(mx.into_iter().map(|(_, h)| h).collect())),
        MxAnswer::NoRecords => Ok(MxHosts::Implicit),
        MxAnswer::NoDomain => Err(MxError::NoDomain(format!("{domain} does not exist"))),
        MxAnswer::TempError(e) => Err(MxError::Lookup(format!(
            "MX look-up for {domain} failed: {e}"
        ))),
    }
}

/// Is the domain's MX RRset DNSSEC-secure?
pub async fn mx_secure(shared: &Shared, domain: &str) -> bool {
    matches!(
        veilpost_dns::validated(&shared.validating, domain, RecordType::MX).await,
        Ok(v) if v.proof == Proof::Secure
    )
}

/// DANE for one MX host, once its MX RRset is secure: `Ok(Some)` usable TLSA records,
/// `Ok(None)` none (securely denied or not signed), `Err` when the look-up is bogus or
/// fails (delivery must wait: RFC 7672 §2.2).
pub async fn dane_records(
    shared: &Shared,
    host: &str,
    port: u16,
) -> Result<Option<Vec<Tlsa>>, TlsaError> {
    match dane::lookup(&shared.validating, host, port).await {
        Ok((records, Proof::Secure)) => {
            let usable: Vec<Tlsa> = records.into_iter().filter(Tlsa::usable).collect();
            Ok((!usable.is_empty()).then_some(usable))
        }
        Ok((_, Proof::Insecure)) | Err(ValidatedError::NoRecords) => Ok(None),
        Ok((_, proof)) => Err(TlsaError::Unproven {
            host: host.to_string(),
            proof,
        }),
        Err(error) => Err(TlsaError::Lookup {
            host: host.to_string(),
            error,
        }),
    }
}

/// Why a host's TLSA records cannot be used, so delivery to it must wait.
#[derive(Debug)]
pub enum TlsaError {
    /// The answer did not validate (bogus or indeterminate).
    Unproven {
        host: String,
        proof: Proof,
    },
    Lookup {
        host: String,
        error: ValidatedError,
    },
}

impl std::fmt::Display for TlsaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TlsaError::Unproven { host, proof } => {
                write!(f, "TLSA records of {host} are {proof:?}")
            }
            TlsaError::Lookup { host, error } => write!(f, "TLSA look-up for {host}: {error}"),
        }
    }
}

impl std::error::Error for TlsaError {}

fn to_cached(id: String, p: &StsPolicy, fetched_at: i64) -> CachedStsPolicy {
    CachedStsPolicy {
        id,
        mode: p.mode.clone(),
        mx: p.mx.clone(),
        max_age: p.max_age.min(31_557_600) as i64,
        fetched_at,
    }
}

/// The domain's MTA-STS policy: cached, re-checked hourly, kept until `max_age` when a
/// refresh fails (so an attacker who blocks the fetch does not switch it off).
pub async fn mta_sts(shared: &Shared, domain: &str) -> Option<CachedStsPolicy> {
    let domain = domain.to_ascii_lowercase();
    let cached = shared.store.mta_sts_get(&domain).await.ok().flatten();
    let t = shared.store.now();
    if let Some(c) = &cached
        && c.fetched_at + STS_RECHECK.min(c.max_age) > t
    {
        return Some(c.clone());
    }
    let still_valid = |c: &CachedStsPolicy| c.fetched_at + c.max_age > t;
    match shared.posture.mta_sts_policy(&domain).await {
        Ok(Some((id, policy))) => {
            let fresh = to_cached(id, &policy, t);
            let _ = shared.store.mta_sts_put(&domain, &fresh).await;
            Some(fresh)
        }
        Ok(None) => match cached {
            Some(c) if still_valid(&c) => Some(c),
            Some(_) => {
                let _ = shared.store.mta_sts_delete(&domain).await;
                None
            }
            None => None,
        },
        Err(e) => {
            tracing::info!("MTA-STS policy of {domain}: {e}");
            cached.filter(still_valid)
        }
    }
}

/// Ways `domain` proves authenticated TLS, strongest first.
pub async fn secure_transports(shared: &Shared, domain: &str) -> Vec<SecureTransport> {
    let mut out = Vec::new();
    let domain = domain.to_ascii_lowercase();
    let (mx, sts, nta) = tokio::join!(
        mx_hosts(shared, &domain),
        mta_sts(shared, &domain),
        shared.posture.nta7516(&domain),
    );
    if let Ok(MxHosts::Hosts(hosts)) = &mx
        && mx_secure(shared, &domain).await
    {
        let mut all = !hosts.is_empty();
        for h in hosts {
            if !matches!(dane_records(shared, h, 25).await, Ok(Some(_))) {
                all = false;
                break;
            }
        }
        if all {
            out.push(SecureTransport::Dane);
        }
    }
    if sts.is_some_and(|p| p.mode == "enforce") {
        out.push(SecureTransport::MtaSts);
    }
    if let Ok(Some(n)) = nta
        && let Some(host) = n.hosts().into_iter().next()
    {
        out.push(SecureTransport::Nta7516 { mx: host });
    }
    // Not proven when the address book cannot be read.
    if is_partner(shared, &domain).await.unwrap_or(false) {
        out.push(SecureTransport::Partner);
    }
    out
}

/// Is `domain` a partner (mandatory authenticated TLS), by configuration or address book?
pub async fn is_partner(shared: &Shared, domain: &str) -> veilpost_store::Result<bool> {
    if shared
        .live()
        .policy
        .partner_domains
        .iter()
        .any(|p| p.eq_ignore_ascii_case(domain))
    {
        return Ok(true);
    }
    shared.store.is_partner_domain(domain).await
}

/// Is mail to `domain` forbidden by policy? The matching entry.
pub fn blocked(shared: &Shared, domain: &str) -> Option<String> {
    shared
        .live()
        .policy
        .block_domains
        .iter()
        .find(|b| veilpost_policy::domain::within(domain, b))
        .cloned()
}
