//! Sender authentication for Veilpost: SPF (RFC 7208), DKIM (RFC 6376, RFC 8463), DMARC
//! (RFC 7489 with RFC 9091), ARC (RFC 8617), the RFC 8601 `Authentication-Results`
//! header, and DKIM signing.
//!
//! SPF, DKIM and ARC are evaluated by Stalwart's [`mail_auth`]; DMARC is evaluated here,
//! because Veilpost follows RFC 7489 as published (organisational domain from the Public
//! Suffix List, `pct=`) rather than the draft tree walk. All DNS goes through the resolver
//! built by [`veilpost_dns`] from one [`DnsConfig`], and parsed records (SPF records, DKIM
//! keys) are cached between messages.
//!
//! Outcomes are values: a DNS time-out is `temperror`, a broken record `permerror`; an
//! `Err` only means the authenticator could not be set up. Every verification is bounded
//! in time: what has not finished by the deadline is a `temperror`.
//!
//! ```no_run
//! # async fn demo(raw: &[u8]) -> Result<(), veilpost_senderauth::Error> {
//! use veilpost_senderauth::{Authenticator, VerifyRequest};
//!
//! let auth = Authenticator::new(&veilpost_dns::DnsConfig::default(), "mx.veilpost.example")?;
//! let v = auth
//!     .verify(&VerifyRequest {
//!         message: raw,
//!         ip: "192.0.2.1".parse().unwrap(),
//!         helo: "mail.example.nl",
//!         mail_from: "jan@example.nl",
//!     })
//!     .await;
//! println!("{}", v.authentication_results);
//! # Ok(()) }
//! ```

mod arc_check;
mod cache;
pub mod dkim;
pub mod dmarc;
mod header;
mod result;
pub mod spf;

use std::net::IpAddr;
use std::time::Duration;

use mail_auth::{AuthenticatedMessage, DkimResult, MessageAuthenticator};
use veilpost_dns::{DnsConfig, TokioResolver};

pub use cache::{Caches, TtlCache};
pub use result::{
    ArcOutcome, AuthResult, DkimOutcome, DmarcOutcome, DmarcPolicy, SpfIdentity, SpfOutcome,
    Verification,
};

use dkim::{KeyError, SigningKey};
use dmarc::{Lookup, Source};

/// Set-up failures (bad DNS configuration).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The resolver could not be built.
    #[error(transparent)]
    Dns(#[from] veilpost_dns::DnsError),
}

/// What arrived, and from where.
#[derive(Debug, Clone, Copy)]
pub struct VerifyRequest<'a> {
    /// The message as received (headers and body).
    pub message: &'a [u8],
    /// The connecting client's address.
    pub ip: IpAddr,
    /// The HELO/EHLO name.
    pub helo: &'a str,
    /// The MAIL FROM address; empty for the null reverse-path (bounces): SPF then checks
    /// the HELO identity.
    pub mail_from: &'a str,
}

/// Verifies inbound mail. Build once and share: it holds the resolver and the caches.
pub struct Authenticator {
    auth: MessageAuthenticator,
    resolver: TokioResolver,
    caches: Caches,
    authserv_id: String,
    deadline: Duration,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("authserv_id", &self.authserv_id)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// An authenticator resolving through `dns`, naming itself `authserv_id` in the
    /// headers it writes.
    pub fn new(dns: &DnsConfig, authserv_id: &str) -> Result<Authenticator, Error> {
        let resolver = veilpost_dns::resolver(dns)?;
        Ok(Authenticator {
            auth: MessageAuthenticator(resolver.clone()),
            resolver,
            caches: Caches::new(4096),
            authserv_id: authserv_id.to_string(),
            // SPF may need up to 10 look-ups in sequence, plus DKIM, ARC and DMARC.
            deadline: dns.worst_case() * 4 + Duration::from_secs(1),
        })
    }

    /// Bound one whole verification (default: four worst-case look-ups).
    pub fn with_deadline(mut self, deadline: Duration) -> Authenticator {
        self.deadline = deadline;
        self
    }

    /// The caches (for statistics and tests).
    pub fn caches(&self) -> &Caches {
        &self.caches
    }

    /// Verify SPF, DKIM, ARC and DMARC for one message and build its
    /// `Authentication-Results` header.
    pub async fn verify(&self, req: &VerifyRequest<'_>) -> Verification {
        let deadline = tokio::time::Instant::now() + self.deadline;
        let parsed = AuthenticatedMessage::parse(req.message);
        let spf = bounded(deadline, self.spf(req), |why| SpfOutcome {
            result: AuthResult::TempError,
            identity: identity(req),
            value: identity_value(req),
            domain: String::new(),
            explanation: Some(why),
        })
        .await;
        let (dkim, arc) = match &parsed {
            Some(msg) => {
                let dkim = bounded(deadline, self.dkim(msg), |why| {
                    vec![DkimOutcome {
                        result: AuthResult::TempError,
                        domain: String::new(),
                        selector: String::new(),
                        algorithm: String::new(),
                        b_prefix: String::new(),
                        detail: Some(why),
                    }]
                })
                .await;
                let arc = bounded(deadline, self.arc(msg), |why| ArcOutcome {
                    result: AuthResult::TempError,
                    instances: msg.as_headers.len(),
                    detail: Some(why),
                })
                .await;
                (dkim, arc)
            }
            None => (
                Vec::new(),
                ArcOutcome {
                    result: AuthResult::None,
                    instances: 0,
                    detail: None,
                },
            ),
        };
        let from = parsed.as_ref().map(|m| m.from.clone()).unwrap_or_default();
        let dmarc = bounded(deadline, self.dmarc(&from, &spf, &dkim), |why| {
            DmarcOutcome {
                result: AuthResult::TempError,
                from_domain: from_domains(&from).into_iter().next().unwrap_or_default(),
                policy_domain: None,
                policy: DmarcPolicy::None,
                disposition: DmarcPolicy::None,
                dkim_aligned: false,
                spf_aligned: false,
                detail: Some(why),
            }
        })
        .await;
        let authentication_results =
            header::authentication_results(&self.authserv_id, req.ip, &spf, &dkim, &dmarc, &arc);
        Verification {
            spf,
            dkim,
            dmarc,
            arc,
            authentication_results,
        }
    }

    /// An ARC set (RFC 8617: `ARC-Seal`, `ARC-Message-Signature`,
    /// `ARC-Authentication-Results`, CRLF-ended, to put in front of `changed`) for a message
    /// Veilpost passes on changed, so that a receiver that trusts Veilpost as a sealer (an
    /// Exchange Online tenant's trusted ARC sealers) takes its authentication results over
    /// what the changes broke. `original` is the message as it came (its ARC chain and
    /// DKIM signatures are read again, their keys from the cache), `v` what verification
    /// found. `None` when the incoming chain failed (RFC 8617 §5.1.2: a failed chain is not
    /// sealed further) or a message does not parse.
    #[allow(clippy::too_many_arguments)]
    pub async fn arc_seal(
        &self,
        original: &[u8],
        changed: &[u8],
        v: &Verification,
        req: &VerifyRequest<'_>,
        key: &SigningKey,
        domain: &str,
        selector: &str,
    ) -> Result<Option<String>, KeyError> {
        let Some(orig) = AuthenticatedMessage::parse(original) else {
            return Ok(None);
        };
        let arc = self.auth.verify_arc(self.caches.with(&orig)).await;
        if !matches!(arc.result(), DkimResult::Pass | DkimResult::None) || !arc.can_be_sealed() {
            return Ok(None);
        }
        let dkim = self.auth.verify_dkim(self.caches.with(&orig)).await;
        let from = orig.from.first().cloned().unwrap_or_default();
        let spf =
            mail_auth::SpfOutput::new(v.spf.domain.clone()).with_result(spf_word(v.spf.result));
        let failed = v.dmarc.result == AuthResult::Fail;
        let dmarc_word = |aligned: bool| match (aligned, failed) {
            (true, _) => mail_auth::DmarcResult::Pass,
            (false, true) => mail_auth::DmarcResult::Fail(mail_auth::Error::NotAligned),
            (false, false) => mail_auth::DmarcResult::None,
        };
        let dmarc = mail_auth::DmarcOutput::new(v.dmarc.from_domain.clone())
            .with_spf_result(dmarc_word(v.dmarc.spf_aligned))
            .with_dkim_result(dmarc_word(v.dmarc.dkim_aligned));
        let results = mail_auth::AuthenticationResults::new(&self.authserv_id)
            .with_dkim_results(&dkim, &from)
            .with_spf_mailfrom_result(&spf, req.ip, req.mail_from, req.helo)
            .with_dmarc_result(&dmarc)
            .with_arc_result(&arc, req.ip);
        let Some(out) = AuthenticatedMessage::parse(changed) else {
            return Ok(None);
        };
        key.arc_seal(&out, &results, &arc, domain, selector)
            .map(Some)
    }

    /// SPF alone: the MAIL FROM identity, or HELO when MAIL FROM is empty.
    pub async fn check_spf(&self, ip: IpAddr, helo: &str, mail_from: &str) -> SpfOutcome {
        let req = VerifyRequest {
            message: b"",
            ip,
            helo,
            mail_from,
        };
        let deadline = tokio::time::Instant::now() + self.deadline;
        bounded(deadline, self.spf(&req), |why| SpfOutcome {
            result: AuthResult::TempError,
            identity: identity(&req),
            value: identity_value(&req),
            domain: String::new(),
            explanation: Some(why),
        })
        .await
    }

    /// DKIM alone: one outcome per signature (empty when the message has none).
    pub async fn check_dkim(&self, message: &[u8]) -> Vec<DkimOutcome> {
        match AuthenticatedMessage::parse(message) {
            Some(msg) => self.dkim(&msg).await,
            None => Vec::new(),
        }
    }

    /// ARC alone: the chain's validation status.
    pub async fn check_arc(&self, message: &[u8]) -> ArcOutcome {
        match AuthenticatedMessage::parse(message) {
            Some(msg) => self.arc(&msg).await,
            None => ArcOutcome {
                result: AuthResult::None,
                instances: 0,
                detail: None,
            },
        }
    }

    async fn spf(&self, req: &VerifyRequest<'_>) -> SpfOutcome {
        let host = self.authserv_id.as_str();
        let ident = identity(req);
        if ident == SpfIdentity::Helo && req.helo.trim().is_empty() {
            return SpfOutcome {
                result: AuthResult::None,
                identity: ident,
                value: String::new(),
                domain: String::new(),
                explanation: Some("no HELO name and no MAIL FROM".into()),
            };
        }
        let (domain, sender) = match ident {
            SpfIdentity::MailFrom => {
                let from = req
                    .mail_from
                    .trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>');
                let domain = from.rsplit_once('@').map_or(from, |(_, d)| d);
                (domain.to_string(), from.to_string())
            }
            SpfIdentity::Helo => (
                req.helo.trim().to_string(),
                format!("postmaster@{}", req.helo.trim()),
            ),
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let dns = spf::HickorySpf(&self.resolver);
        let eval = spf::Evaluator::new(&dns, req.ip, &sender, req.helo.trim(), host, now)
            .check_host(&domain)
            .await;
        SpfOutcome {
            result: eval.result,
            identity: ident,
            value: identity_value(req),
            domain: domain.to_ascii_lowercase(),
            explanation: eval.explanation.or(eval.detail),
        }
    }

    async fn dkim(&self, msg: &AuthenticatedMessage<'_>) -> Vec<DkimOutcome> {
        let outputs = self.auth.verify_dkim(self.caches.with(msg)).await;
        // DKIM-Signature headers too broken for mail-auth to report: permerror each.
        let unreadable = msg.errors.iter().filter(|e| {
            e.name.eq_ignore_ascii_case(b"DKIM-Signature")
                && !matches!(e.header, mail_auth::Error::Dkim(_))
        });
        let unreadable: Vec<DkimOutcome> = unreadable
            .map(|e| DkimOutcome {
                result: AuthResult::PermError,
                domain: String::new(),
                selector: String::new(),
                algorithm: String::new(),
                b_prefix: String::new(),
                detail: Some(format!("malformed DKIM-Signature: {}", e.header)),
            })
            .collect();
        outputs
            .iter()
            .filter(|o| !matches!(o.result(), DkimResult::None) || o.signature().is_some())
            .map(|o| {
                let (result, detail) = dkim_result(o.result());
                let sig = o.signature();
                DkimOutcome {
                    result,
                    domain: sig.map(|s| s.d.to_ascii_lowercase()).unwrap_or_default(),
                    selector: sig.map(|s| s.s.clone()).unwrap_or_default(),
                    algorithm: sig
                        .map(|s| algorithm_name(s.a).to_string())
                        .unwrap_or_default(),
                    b_prefix: sig
                        .map(|s| {
                            use base64::Engine as _;
                            let b = base64::engine::general_purpose::STANDARD.encode(&s.b);
                            b.chars().take(8).collect()
                        })
                        .unwrap_or_default(),
                    detail,
                }
            })
            .chain(unreadable)
            .collect()
    }

    async fn arc(&self, msg: &AuthenticatedMessage<'_>) -> ArcOutcome {
        if let Some(problem) = arc_check::structural_problem(msg.raw_message) {
            return ArcOutcome {
                result: AuthResult::Fail,
                instances: msg.as_headers.len(),
                detail: Some(problem),
            };
        }
        let out = self.auth.verify_arc(self.caches.with(msg)).await;
        let (result, detail) = dkim_result(out.result());
        ArcOutcome {
            // ARC has no neutral/permerror words in RFC 8601: a broken chain fails.
            result: match result {
                AuthResult::Pass | AuthResult::None | AuthResult::TempError => result,
                _ => AuthResult::Fail,
            },
            instances: out.sets().len(),
            detail,
        }
    }

    /// Look up the TXT strings at `name`: empty for NXDOMAIN/NODATA, `Err` for DNS
    /// failures.
    async fn txt(&self, name: &str) -> Result<Vec<String>, TxtError> {
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        match self.resolver.txt_lookup(fqdn.as_str()).await {
            Ok(lookup) => Ok(lookup
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    hickory_proto_rdata::RData::TXT(t) => Some(
                        t.txt_data
                            .iter()
                            .map(|s| String::from_utf8_lossy(s).into_owned())
                            .collect::<String>(),
                    ),
                    _ => None,
                })
                .collect()),
            Err(e) if e.is_nx_domain() || e.is_no_records_found() => Ok(Vec::new()),
            Err(error) => Err(TxtError { name: fqdn, error }),
        }
    }

    async fn dmarc_lookup(&self, domain: &str) -> Lookup {
        match self.txt(&format!("_dmarc.{domain}")).await {
            Ok(txts) => dmarc::select(&txts),
            Err(why) => Lookup::TempError(why.to_string()),
        }
    }

    /// Does `domain` exist at all (RFC 9091: not NXDOMAIN)?
    async fn exists(&self, domain: &str) -> bool {
        let fqdn = format!("{}.", domain.trim_end_matches('.'));
        match self
            .resolver
            .lookup(fqdn.as_str(), hickory_proto_rdata::RecordType::A)
            .await
        {
            Ok(_) => true,
            Err(e) => !e.is_nx_domain(),
        }
    }

    async fn dmarc(&self, from: &[String], spf: &SpfOutcome, dkim: &[DkimOutcome]) -> DmarcOutcome {
        let domains = from_domains(from);
        let Some(first) = domains.first().cloned() else {
            return DmarcOutcome {
                result: AuthResult::PermError,
                from_domain: String::new(),
                policy_domain: None,
                policy: DmarcPolicy::None,
                disposition: DmarcPolicy::None,
                dkim_aligned: false,
                spf_aligned: false,
                detail: Some("no RFC5322.From domain".into()),
            };
        };
        // RFC 7489 §6.6.1: with several From domains, check each and keep the strictest
        // failing policy.
        let mut outcomes = Vec::new();
        for d in &domains {
            outcomes.push(self.dmarc_one(d, spf, dkim).await);
        }
        let rank = |r: AuthResult| match r {
            AuthResult::Fail => 5,
            AuthResult::TempError => 4,
            AuthResult::PermError => 3,
            AuthResult::Pass => 2,
            _ => 1,
        };
        let mut best = outcomes.remove(0);
        for o in outcomes {
            let stricter_fail = o.result == AuthResult::Fail
                && best.result == AuthResult::Fail
                && o.policy > best.policy;
            if rank(o.result) > rank(best.result) || stricter_fail {
                best = o;
            }
        }
        best.from_domain = if best.from_domain.is_empty() {
            first
        } else {
            best.from_domain
        };
        best
    }

    async fn dmarc_one(&self, from: &str, spf: &SpfOutcome, dkim: &[DkimOutcome]) -> DmarcOutcome {
        let mut out = DmarcOutcome {
            result: AuthResult::None,
            from_domain: from.to_string(),
            policy_domain: None,
            policy: DmarcPolicy::None,
            disposition: DmarcPolicy::None,
            dkim_aligned: false,
            spf_aligned: false,
            detail: None,
        };
        // Policy discovery: the From domain, its organisational domain, a public suffix.
        let org = dmarc::organizational_domain(from);
        let mut candidates = vec![(from.to_string(), Source::Exact)];
        if org != from {
            candidates.push((org.clone(), Source::Ancestor));
        }
        if let Some(suffix) = dmarc::public_suffix(from)
            && suffix != org
            && suffix != from
        {
            candidates.push((suffix, Source::Ancestor));
        }
        let last = candidates.len() - 1;
        let mut found = None;
        for (i, (name, source)) in candidates.into_iter().enumerate() {
            match self.dmarc_lookup(&name).await {
                Lookup::Found(record) => {
                    // A public suffix's record counts only when it says it is one.
                    if i == last && i > 0 && name != org && record.psd != Some(true) {
                        break;
                    }
                    found = Some((name, source, record));
                    break;
                }
                Lookup::Absent => continue,
                Lookup::Broken(why) => {
                    out.result = AuthResult::PermError;
                    out.policy_domain = Some(name);
                    out.detail = Some(why);
                    return out;
                }
                Lookup::TempError(why) => {
                    out.result = AuthResult::TempError;
                    out.detail = Some(why);
                    return out;
                }
            }
        }
        let Some((policy_domain, source, record)) = found else {
            out.detail = Some("no DMARC policy published".into());
            return out;
        };
        out.policy_domain = Some(policy_domain);
        // RFC 7489 §6.6.3: without a valid p=, only a record with a usable rua= counts
        // (as p=none); otherwise no DMARC processing applies.
        if record.p.is_none() && !record.has_valid_rua() {
            out.detail = Some("DMARC record without p=".into());
            return out;
        }
        out.dkim_aligned = dmarc::dkim_aligned(dkim, from, record.adkim);
        out.spf_aligned = dmarc::spf_aligned(spf, from, record.aspf);
        if out.dkim_aligned || out.spf_aligned {
            out.result = AuthResult::Pass;
            out.policy = record.p.unwrap_or(DmarcPolicy::None);
            return out;
        }
        let exists = source == Source::Exact || self.exists(from).await;
        out.result = AuthResult::Fail;
        out.policy = dmarc::applicable(&record, source, exists);
        out.disposition = if sampled(record.pct) {
            out.policy
        } else {
            out.policy.relaxed()
        };
        out.detail = Some("no aligned DKIM or SPF pass".into());
        out
    }
}

// hickory types, through the resolver crate veilpost-dns re-exports.
mod hickory_proto_rdata {
    pub(crate) use mail_auth::hickory_resolver::proto::rr::{RData, RecordType};
}

/// Every parser of outside input in this crate, for fuzzing: message headers (with
/// DKIM-Signature and ARC tag lists), SPF and DMARC records, macro strings. Panics are
/// bugs; results are ignored.
#[doc(hidden)]
pub fn fuzz_parsers(data: &[u8]) {
    let _ = AuthenticatedMessage::parse(data).map(|m| m.dkim_headers.len());
    let _ = arc_check::structural_problem(data);
    let text = String::from_utf8_lossy(data);
    let _ = spf::record::parse(&text);
    let _ = dmarc::Record::parse(&text);
    let ctx = spf::macros::MacroContext {
        sender: "a@b.example",
        domain: "b.example",
        ip: IpAddr::from([192, 0, 2, 1]),
        helo: "h.example",
        validated: None,
        receiver: "r.example",
        now: 0,
    };
    let _ = spf::macros::expand(&text, &ctx, true).map(spf::macros::truncate_domain);
}

/// Run `fut` until `deadline`; past it, the fallback built from a reason.
async fn bounded<T>(
    deadline: tokio::time::Instant,
    fut: impl Future<Output = T>,
    fallback: impl FnOnce(String) -> T,
) -> T {
    match tokio::time::timeout_at(deadline, fut).await {
        Ok(v) => v,
        Err(_) => fallback("verification deadline passed (DNS too slow)".to_string()),
    }
}

fn identity(req: &VerifyRequest<'_>) -> SpfIdentity {
    if req.mail_from.trim().is_empty() || req.mail_from.trim() == "<>" {
        SpfIdentity::Helo
    } else {
        SpfIdentity::MailFrom
    }
}

fn identity_value(req: &VerifyRequest<'_>) -> String {
    match identity(req) {
        SpfIdentity::MailFrom => req.mail_from.trim().to_string(),
        SpfIdentity::Helo => req.helo.trim().to_string(),
    }
}

/// The distinct domains of the From addresses, lower-cased.
fn from_domains(from: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for addr in from {
        if let Some((_, d)) = addr.rsplit_once('@') {
            let d = d
                .trim()
                .trim_end_matches('>')
                .trim_end_matches('.')
                .to_ascii_lowercase();
            if !d.is_empty() && !out.contains(&d) {
                out.push(d);
            }
        }
    }
    out
}

fn dkim_result(r: &DkimResult) -> (AuthResult, Option<String>) {
    use mail_auth::dkim::DkimError;
    match r {
        DkimResult::Pass => (AuthResult::Pass, None),
        // A body that no longer matches its signature is a failed signature (RFC 6376
        // §6.1.3), not an unjudgeable one.
        DkimResult::Neutral(e @ mail_auth::Error::Dkim(DkimError::FailedBodyHashMatch)) => {
            (AuthResult::Fail, Some(e.to_string()))
        }
        DkimResult::Neutral(e) => (AuthResult::Neutral, Some(e.to_string())),
        DkimResult::Fail(e) => (AuthResult::Fail, Some(e.to_string())),
        DkimResult::PermError(e) => (AuthResult::PermError, Some(e.to_string())),
        DkimResult::TempError(e) => (AuthResult::TempError, Some(e.to_string())),
        DkimResult::None => (AuthResult::None, None),
    }
}

fn algorithm_name(a: mail_auth::common::crypto::Algorithm) -> &'static str {
    use mail_auth::common::crypto::Algorithm;
    match a {
        Algorithm::RsaSha256 => "rsa-sha256",
        Algorithm::RsaSha1 => "rsa-sha1",
        Algorithm::Ed25519Sha256 => "ed25519-sha256",
    }
}

/// `pct=` sampling: is this message among the `pct` percent the policy applies to?
fn sampled(pct: u8) -> bool {
    if pct >= 100 {
        return true;
    }
    let mut byte = [0u8; 1];
    // Rejection sampling for an unbiased 0..100 draw.
    loop {
        if aws_lc_rs::rand::fill(&mut byte).is_err() {
            return true;
        }
        if byte[0] < 200 {
            return byte[0] % 100 < pct;
        }
    }
}

/// A DNS failure looking up TXT records (a temporary error for the evaluation).
#[derive(Debug)]
struct TxtError {
    name: String,
    error: mail_auth::hickory_resolver::net::NetError,
}

impl std::fmt::Display for TxtError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DNS error for {}: {}", self.name, self.error)
    }
}

/// Our SPF result word as mail-auth writes it.
fn spf_word(r: AuthResult) -> mail_auth::SpfResult {
    match r {
        AuthResult::Pass => mail_auth::SpfResult::Pass,
        AuthResult::Fail => mail_auth::SpfResult::Fail,
        AuthResult::SoftFail => mail_auth::SpfResult::SoftFail,
        AuthResult::Neutral => mail_auth::SpfResult::Neutral,
        AuthResult::TempError => mail_auth::SpfResult::TempError,
        AuthResult::PermError => mail_auth::SpfResult::PermError,
        AuthResult::None => mail_auth::SpfResult::None,
    }
}
