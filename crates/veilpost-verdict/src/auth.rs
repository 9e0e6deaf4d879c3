//! Authenticity: what SPF, DKIM, DMARC and ARC showed, as facts (the MX listener and the
//! milter fill them from `veilpost-senderauth`), and the findings they lead to. DMARC's
//! `p=reject` and `p=quarantine` each have their own action; a failure that a trusted
//! forwarder's ARC seal explains is only noted (RFC 8617 §7.2.1, local policy).

use serde::Serialize;

use crate::{Action, Facts, Finding, Knowledge, Settings, domain_of, registrable};

/// An RFC 8601 result word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Word {
    Pass,
    Fail,
    SoftFail,
    Neutral,
    #[default]
    None,
    TempError,
    PermError,
}

/// What the From domain's owner asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DmarcPolicy {
    #[default]
    None,
    Quarantine,
    Reject,
}

/// DMARC's outcome for the message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DmarcFacts {
    pub result: Word,
    /// The policy in the record (`p`, `sp` or `np`).
    pub policy: DmarcPolicy,
    /// What applies after `pct=` sampling (equal to `policy` or one step less strict).
    pub disposition: DmarcPolicy,
}

/// ARC's outcome: the chain, and who sealed last.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ArcFacts {
    pub result: Word,
    /// The `d=` of the newest ARC-Seal, when the chain validated.
    pub sealer: Option<String>,
}

/// Everything authentication showed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Authenticity {
    /// SPF's result and the domain it checked (MAIL FROM's, or HELO's).
    pub spf: (Word, String),
    /// One (result, d=) per DKIM signature.
    pub dkim: Vec<(Word, String)>,
    pub dmarc: DmarcFacts,
    pub arc: ArcFacts,
}

impl Authenticity {
    /// A DKIM signature of `domain`'s organisation passed.
    fn dkim_pass_for(&self, domain: &str) -> bool {
        let org = registrable(domain);
        self.dkim
            .iter()
            .any(|(w, d)| *w == Word::Pass && registrable(d) == org)
    }

    /// A trusted forwarder's valid ARC seal vouches for the message.
    fn trusted_arc(&self, trusted: &[String]) -> Option<&str> {
        let sealer = self.arc.sealer.as_deref()?;
        (self.arc.result == Word::Pass
            && trusted
                .iter()
                .any(|t| registrable(t) == registrable(sealer)))
        .then_some(sealer)
    }
}

pub(crate) fn findings(
    facts: &Facts<'_>,
    auth: &Authenticity,
    knowledge: &Knowledge<'_>,
    settings: &Settings,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let from_domain = domain_of(facts.from);
    let own = knowledge
        .own_domains
        .iter()
        .any(|d| registrable(d) == registrable(&from_domain));
    let dmarc_failed = auth.dmarc.result == Word::Fail;
    let vouched = auth.trusted_arc(knowledge.trusted_forwarders);

    // The organisation's own name from outside, unproven: never only a note.
    if own
        && auth.dmarc.result != Word::Pass
        && !auth.dkim_pass_for(&from_domain)
        && vouched.is_none()
    {
        out.push(
            Finding::new(
                "spoof.own_domain",
                10,
                format!("From {from_domain} (own domain) without a DMARC pass"),
            )
            .warn(
                format!("Dit bericht zegt van {from_domain} te komen, maar dat is niet bewezen."),
                format!("This message claims to come from {from_domain}, but that is not proven."),
            )
            .at_least(Action::Quarantine),
        );
        return out;
    }
    if dmarc_failed {
        if let Some(sealer) = vouched {
            out.push(Finding::new(
                "dmarc.fail",
                1,
                format!("DMARC fails for {from_domain}; forwarded by {sealer} (trusted ARC seal)"),
            ));
        } else {
            let forged = (
                format!(
                    "De afzender {from_domain} is niet echt: de controle van het domein faalt."
                ),
                format!("The sender {from_domain} is not genuine: the domain's check fails."),
            );
            match auth.dmarc.disposition {
                DmarcPolicy::Reject => out.push(
                    Finding::new(
                        "dmarc.reject",
                        8,
                        format!("DMARC fails for {from_domain} (p=reject)"),
                    )
                    .warn(forged.0, forged.1)
                    .at_least(settings.dmarc_reject),
                ),
                DmarcPolicy::Quarantine => out.push(
                    Finding::new(
                        "dmarc.quarantine",
                        6,
                        format!("DMARC fails for {from_domain} (p=quarantine)"),
                    )
                    .warn(forged.0, forged.1)
                    .at_least(settings.dmarc_quarantine),
                ),
                DmarcPolicy::None => out.push(Finding::new(
                    "dmarc.fail",
                    3,
                    format!("DMARC fails for {from_domain} (p=none)"),
                )),
            }
        }
    } else if auth.dmarc.result != Word::Pass {
        // No DMARC verdict to lean on: SPF and DKIM speak for themselves.
        if matches!(auth.spf.0, Word::Fail) {
            out.push(Finding::new(
                "spf.fail",
                2,
                format!("SPF fails for {}", auth.spf.1),
            ));
        }
        let any_pass = auth.spf.0 == Word::Pass || auth.dkim.iter().any(|(w, _)| *w == Word::Pass);
        if !any_pass {
            out.push(Finding::new(
                "auth.none",
                1,
                format!("nothing proves where mail from {from_domain} comes from"),
            ));
        }
    }
    out
}
