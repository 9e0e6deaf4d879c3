//! The inbound verdict, decided in pure code: what a message's authentication showed
//! ([`Authenticity`]), what it looks like ([`Facts`]: sender, Reply-To, links, attachments)
//! and what the organisation knows ([`Knowledge`]: its domains, staff, partners, contacts,
//! senders seen before) go in; named [`Finding`]s with scores, the warnings people see,
//! and one [`Action`] come out. The MX listener and the milter gather the facts (all I/O)
//! and carry the verdict out; the same verdict for both.
//!
//! Finding names are the public vocabulary (the `X-Veilpost-Verdict` header, the audit
//! log, per-finding settings): `dmarc.reject`, `dmarc.quarantine`, `dmarc.fail`,
//! `spoof.own_domain`, `spf.fail`, `auth.none`, `impersonation.staff`,
//! `impersonation.contact`, `display_name.address`, `lookalike.sender`, `lookalike.link`,
//! `reply_to.other_domain`, `link.mismatch`, `link.ip_literal`, `link.userinfo`,
//! `link.punycode`, `attachment.dangerous`, `attachment.encrypted`, `attachment.nested`,
//! `attachment.malware`, `attachment.unscanned`,
//! `sender.first_time`, `sender.external`, `sender.blocked`.

mod auth;
pub mod banner;
pub mod edits;
pub mod gather;
pub mod headers;
pub mod report;
mod signals;

pub use auth::{ArcFacts, Authenticity, DmarcFacts, DmarcPolicy, Word};
pub use gather::{Gathered, gather};
pub use signals::{Attachment, Link, Person};

use serde::Serialize;

/// What happens to the message; later variants are stricter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Delivered as it is.
    Accept,
    /// Delivered with a warning banner (and a subject tag where configured).
    Tag,
    /// Kept encrypted in the vault until staff release it.
    Quarantine,
    /// Refused with a 5xx at the end of DATA.
    Reject,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Accept => "accept",
            Action::Tag => "tag",
            Action::Quarantine => "quarantine",
            Action::Reject => "reject",
        }
    }
}

/// A warning as people read it at the top of the message, in both languages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub nl: String,
    pub en: String,
}

/// One thing the verdict found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The finding's name (see the crate docs).
    pub name: &'static str,
    /// How much it adds to the message's score.
    pub score: u32,
    /// What exactly, for staff and the audit log (never message content beyond the
    /// addresses and hosts involved).
    pub detail: String,
    /// What the recipient is told, if anything.
    pub warning: Option<Warning>,
    /// The least this finding asks for on its own, whatever the score (a DMARC
    /// `p=reject` failure, a forged own domain).
    pub at_least: Action,
}

impl Finding {
    fn new(name: &'static str, score: u32, detail: impl Into<String>) -> Finding {
        Finding {
            name,
            score,
            detail: detail.into(),
            warning: None,
            at_least: Action::Accept,
        }
    }

    fn warn(mut self, nl: impl Into<String>, en: impl Into<String>) -> Finding {
        self.warning = Some(Warning {
            nl: nl.into(),
            en: en.into(),
        });
        self
    }

    fn at_least(mut self, action: Action) -> Finding {
        self.at_least = action;
        self
    }
}

/// What the message looks like: its sender as shown, Reply-To, links and attachments.
#[derive(Debug, Clone, Default)]
pub struct Facts<'a> {
    /// The RFC5322.From address and its display name.
    pub from: &'a str,
    pub from_name: &'a str,
    /// The Reply-To address, if any.
    pub reply_to: Option<&'a str>,
    pub links: &'a [Link],
    pub attachments: &'a [Attachment],
    /// The virus scanner's finding (its signature name), when it found one.
    pub malware: Option<&'a str>,
    /// The virus scanner could not look (and the organisation lets such mail in).
    pub unscanned: bool,
}

/// What the organisation knows.
#[derive(Debug, Clone, Default)]
pub struct Knowledge<'a> {
    /// The organisation's own domains.
    pub own_domains: &'a [String],
    /// Staff by name and address (display-name impersonation).
    pub staff: &'a [Person],
    /// Partner domains (look-alikes).
    pub partners: &'a [String],
    /// Contacts from the address book.
    pub contacts: &'a [Person],
    /// Mail from this sender (address, DKIM domain or SPF domain) came before.
    pub seen_before: bool,
    /// Forwarders whose ARC seal is believed when DMARC fails after forwarding.
    pub trusted_forwarders: &'a [String],
    /// Senders (addresses) and domains the organisation blocked, lower case: their mail
    /// is refused (`sender.blocked`).
    pub blocked: &'a [String],
}

/// Where the score turns into an action, and what DMARC policies ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// From this score on: a warning banner.
    pub tag_at: u32,
    /// From this score on: quarantine.
    pub quarantine_at: u32,
    /// From this score on: reject (`None`: never by score alone).
    pub reject_at: Option<u32>,
    /// What a DMARC failure under `p=reject` gets.
    pub dmarc_reject: Action,
    /// What a DMARC failure under `p=quarantine` gets.
    pub dmarc_quarantine: Action,
    /// What a virus finding gets.
    pub malware: Action,
    /// Findings that are noted but not scored or shown (by name).
    pub silenced: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            tag_at: 3,
            quarantine_at: 8,
            reject_at: None,
            dmarc_reject: Action::Reject,
            dmarc_quarantine: Action::Quarantine,
            malware: Action::Reject,
            // "Externe afzender" on every outside message is the organisation's choice.
            silenced: vec!["sender.external".into()],
        }
    }
}

/// The verdict on one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub findings: Vec<Finding>,
    pub score: u32,
    pub action: Action,
}

impl Verdict {
    /// Nothing that counts against the message (notes such as a first-time sender may
    /// still carry a banner).
    pub fn is_clean(&self) -> bool {
        self.action == Action::Accept && self.findings.iter().all(|f| f.score == 0)
    }

    /// The `X-Veilpost-Verdict` header's value: `clean`, else the action and the names of
    /// the findings that count (`quarantine; dmarc.quarantine lookalike.sender`).
    pub fn header_value(&self) -> String {
        if self.is_clean() {
            return "clean".into();
        }
        let names: Vec<&str> = self
            .findings
            .iter()
            .filter(|f| f.score > 0 || f.at_least > Action::Accept)
            .map(|f| f.name)
            .collect();
        format!("{}; {}", self.action.as_str(), names.join(" "))
    }

    /// The warnings to show at the top of the message, in order, without repeats (notes
    /// included, silenced findings not).
    pub fn warnings(&self) -> Vec<&Warning> {
        let mut out: Vec<&Warning> = Vec::new();
        for w in self.findings.iter().filter_map(|f| f.warning.as_ref()) {
            if !out.contains(&w) {
                out.push(w);
            }
        }
        out
    }
}

/// The organisational (registrable) domain of an address or host, lower case.
pub fn registrable(domain_or_address: &str) -> String {
    let d = domain_or_address
        .rsplit_once('@')
        .map_or(domain_or_address, |(_, d)| d)
        .trim()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    psl::domain_str(&d).map(str::to_string).unwrap_or(d)
}

fn domain_of(address: &str) -> String {
    address
        .rsplit_once('@')
        .map_or("", |(_, d)| d)
        .trim()
        .trim_end_matches(['.', '>'])
        .to_ascii_lowercase()
}

/// Decide: every finding, the score, and the action.
pub fn verdict(
    facts: &Facts<'_>,
    auth: &Authenticity,
    knowledge: &Knowledge<'_>,
    settings: &Settings,
) -> Verdict {
    let mut findings = auth::findings(facts, auth, knowledge, settings);
    let from = facts.from.trim().to_ascii_lowercase();
    let domain = from.rsplit_once('@').map_or("", |(_, d)| d);
    if let Some(b) = knowledge.blocked.iter().find(|b| {
        **b == from || (!domain.is_empty() && (**b == domain || registrable(domain) == **b))
    }) {
        findings.push(
            Finding::new(
                "sender.blocked",
                20,
                format!("blocked by the organisation: {b}"),
            )
            .at_least(Action::Reject),
        );
    }
    findings.extend(signals::findings(facts, auth, knowledge));
    if let Some(name) = facts.malware {
        findings.push(
            Finding::new("attachment.malware", 20, format!("virus scanner: {name}"))
                .warn(
                    "Er is een virus of ander schadelijk programma in dit bericht gevonden.",
                    "A virus or other malicious program was found in this message.",
                )
                .at_least(settings.malware),
        );
    } else if facts.unscanned {
        findings.push(
            Finding::new(
                "attachment.unscanned",
                3,
                "the virus scanner could not look",
            )
            .warn(
                "De bijlagen konden niet op virussen worden gecontroleerd.",
                "The attachments could not be checked for viruses.",
            ),
        );
    }
    findings.retain(|f| !settings.silenced.iter().any(|s| s == f.name));
    let score = findings.iter().map(|f| f.score).sum();
    let by_score = if settings.reject_at.is_some_and(|r| score >= r) {
        Action::Reject
    } else if score >= settings.quarantine_at {
        Action::Quarantine
    } else if score >= settings.tag_at {
        Action::Tag
    } else {
        Action::Accept
    };
    let forced = findings
        .iter()
        .map(|f| f.at_least)
        .max()
        .unwrap_or(Action::Accept);
    Verdict {
        action: by_score.max(forced),
        findings,
        score,
    }
}

#[cfg(test)]
mod tests;
