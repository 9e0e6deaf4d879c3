//! Outcomes as values: the RFC 8601 result words and what each method found.

use std::fmt;

/// An RFC 8601 result word, shared by the methods (each uses a subset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthResult {
    /// Authenticated.
    Pass,
    /// Explicitly not authorised / signature invalid / policy failed.
    Fail,
    /// SPF `~all`: probably not authorised.
    SoftFail,
    /// No assertion (SPF `?all`, a DKIM signature that cannot be judged).
    Neutral,
    /// Nothing to evaluate (no record, no signature).
    None,
    /// A transient error (DNS time-out, SERVFAIL): try again later.
    TempError,
    /// A permanent error (broken record, malformed signature).
    PermError,
}

impl AuthResult {
    /// The RFC 8601 word.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthResult::Pass => "pass",
            AuthResult::Fail => "fail",
            AuthResult::SoftFail => "softfail",
            AuthResult::Neutral => "neutral",
            AuthResult::None => "none",
            AuthResult::TempError => "temperror",
            AuthResult::PermError => "permerror",
        }
    }
}

impl fmt::Display for AuthResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which SPF identity was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpfIdentity {
    /// RFC5321.MailFrom.
    MailFrom,
    /// The HELO/EHLO name (the MAIL FROM was empty or absent).
    Helo,
}

impl SpfIdentity {
    /// The RFC 8601 property: `smtp.mailfrom` or `smtp.helo`.
    pub fn property(self) -> &'static str {
        match self {
            SpfIdentity::MailFrom => "smtp.mailfrom",
            SpfIdentity::Helo => "smtp.helo",
        }
    }
}

/// SPF (RFC 7208).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpfOutcome {
    /// The result word.
    pub result: AuthResult,
    /// The identity checked.
    pub identity: SpfIdentity,
    /// The checked identity's value (an address, or the HELO name).
    pub value: String,
    /// The domain whose record was evaluated.
    pub domain: String,
    /// The domain's explanation for a fail (`exp=`), if any.
    pub explanation: Option<String>,
}

/// One DKIM signature (RFC 6376, RFC 8463).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DkimOutcome {
    /// The result word.
    pub result: AuthResult,
    /// The signing domain (`d=`); empty when the signature could not be parsed.
    pub domain: String,
    /// The selector (`s=`).
    pub selector: String,
    /// The algorithm (`rsa-sha256`, `ed25519-sha256`, `rsa-sha1`).
    pub algorithm: String,
    /// The first 8 characters of `b=`, to tell signatures of one domain apart.
    pub b_prefix: String,
    /// Why, when not a pass.
    pub detail: Option<String>,
}

/// What the domain owner asks receivers to do with failing mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DmarcPolicy {
    /// Monitor only.
    None,
    /// Treat as suspicious (spam folder, quarantine).
    Quarantine,
    /// Reject.
    Reject,
}

impl DmarcPolicy {
    /// The record's word.
    pub fn as_str(self) -> &'static str {
        match self {
            DmarcPolicy::None => "none",
            DmarcPolicy::Quarantine => "quarantine",
            DmarcPolicy::Reject => "reject",
        }
    }

    /// One step less strict (what `pct=` sampling falls back to).
    pub fn relaxed(self) -> DmarcPolicy {
        match self {
            DmarcPolicy::Reject => DmarcPolicy::Quarantine,
            _ => DmarcPolicy::None,
        }
    }
}

/// DMARC (RFC 7489, with RFC 9091 `np=` and public-suffix policies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmarcOutcome {
    /// The result word: pass, fail, none (no policy), temperror, permerror.
    pub result: AuthResult,
    /// The RFC5322.From domain (the first, if several).
    pub from_domain: String,
    /// Where the policy record was found (the From domain, its organisational domain, or
    /// a public suffix).
    pub policy_domain: Option<String>,
    /// The policy requested for this message (`p`, `sp` or `np`).
    pub policy: DmarcPolicy,
    /// What to do after `pct=` sampling: equal to `policy`, or one step less strict.
    pub disposition: DmarcPolicy,
    /// An aligned DKIM pass was found.
    pub dkim_aligned: bool,
    /// An aligned SPF pass was found.
    pub spf_aligned: bool,
    /// Why, when not a pass.
    pub detail: Option<String>,
}

/// ARC (RFC 8617).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArcOutcome {
    /// pass, fail or none (no ARC sets).
    pub result: AuthResult,
    /// ARC sets found.
    pub instances: usize,
    /// Why, when a fail.
    pub detail: Option<String>,
}

/// Everything verification found, and the header that records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// SPF.
    pub spf: SpfOutcome,
    /// One entry per DKIM-Signature header.
    pub dkim: Vec<DkimOutcome>,
    /// DMARC.
    pub dmarc: DmarcOutcome,
    /// ARC.
    pub arc: ArcOutcome,
    /// The RFC 8601 `Authentication-Results` header field (name, value, CRLF).
    pub authentication_results: String,
}
