//! The collector: findings across the segments of one input, without duplicates, and the
//! verdict drawn from them.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::*;

/// Which rule made a finding, and the evidence that combined.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rule<'a> {
    pub(crate) id: &'a str,
    pub(crate) evidence: &'a [&'static str],
}

impl<'a> Rule<'a> {
    pub(crate) fn new(id: &'a str, evidence: &'a [&'static str]) -> Rule<'a> {
        Rule { id, evidence }
    }
}

/// Accumulates findings across the segments of one input, without duplicates, and draws
/// the verdict.
#[derive(Debug)]
pub(crate) struct Collector {
    pub(super) findings: Vec<Finding>,
    /// The dedup key (kind, location, value) of each finding, aligned with `findings`.
    keys: Vec<String>,
    /// Key -> index into `findings`. A fast hash seeded per collector: the keys come from
    /// the message, and a sender cannot aim collisions at a seed it does not know.
    index: HashMap<String, usize, foldhash::fast::RandomState>,
    /// Reused buffer for building keys.
    scratch: String,
    pub(super) dob_values: HashSet<String>,
    pub(super) iban_values: HashSet<String>,
    pub(super) bsn_values: HashSet<String>,
    /// IBANs written next to a person's name.
    pub(super) named_ibans: HashSet<String>,
    /// An organisation-defined identifier marked sensitive on its own was found.
    custom_sensitive: bool,
    max_findings: usize,
    dropped: usize,
}

impl Collector {
    pub(crate) fn new(max_findings: usize) -> Collector {
        Collector {
            findings: Vec::new(),
            keys: Vec::new(),
            index: HashMap::default(),
            scratch: String::new(),
            dob_values: HashSet::new(),
            iban_values: HashSet::new(),
            bsn_values: HashSet::new(),
            named_ibans: HashSet::new(),
            custom_sensitive: false,
            max_findings,
            dropped: 0,
        }
    }

    /// Record a finding; the same value at the same place is kept once, at its highest
    /// confidence.
    pub(crate) fn add(
        &mut self,
        kind: Kind,
        location: &str,
        confidence: Confidence,
        value: &str,
        excerpt: String,
        rule: Rule<'_>,
    ) {
        self.insert(kind, None, location, confidence, value, || excerpt, rule);
    }

    /// [`Collector::add`] that builds the excerpt only for a new or stronger finding
    /// (a signature repeats the same phone number in every reply).
    pub(crate) fn add_lazy(
        &mut self,
        kind: Kind,
        location: &str,
        confidence: Confidence,
        value: &str,
        excerpt: impl FnOnce() -> String,
        rule: Rule<'_>,
    ) {
        self.insert(kind, None, location, confidence, value, excerpt, rule);
    }

    /// An organisation-defined identifier's finding.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn add_custom(
        &mut self,
        name: &Arc<str>,
        location: &str,
        confidence: Confidence,
        value: &str,
        excerpt: String,
        rule: Rule<'_>,
        sensitive_alone: bool,
    ) {
        self.custom_sensitive |= sensitive_alone;
        self.insert(
            Kind::Custom,
            Some(name),
            location,
            confidence,
            value,
            || excerpt,
            rule,
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn insert(
        &mut self,
        kind: Kind,
        custom: Option<&Arc<str>>,
        location: &str,
        confidence: Confidence,
        value: &str,
        excerpt: impl FnOnce() -> String,
        rule: Rule<'_>,
    ) {
        self.set_key(custom.map_or(kind.as_str(), |c| c), location, value);
        if let Some(&i) = self.index.get(self.scratch.as_str()) {
            let f = &mut self.findings[i];
            if confidence > f.confidence {
                f.confidence = confidence;
                f.excerpt = excerpt();
                f.rule = rule.id.to_string();
                f.evidence = rule.evidence.to_vec();
            }
            return;
        }
        let key = self.scratch.clone();
        let finding = Finding {
            kind,
            location: location.to_string(),
            confidence,
            excerpt: excerpt(),
            rule: rule.id.to_string(),
            evidence: rule.evidence.to_vec(),
            custom: custom.cloned(),
        };
        if self.findings.len() >= self.max_findings && kind != Kind::Uninspectable {
            self.dropped += 1;
            // Keep the verdict honest even when the list is cut: replace a weaker finding.
            if let Some(weakest) = self
                .findings
                .iter()
                .position(|f| f.kind != Kind::Uninspectable && f.confidence < confidence)
            {
                let old = std::mem::replace(&mut self.keys[weakest], key.clone());
                self.index.remove(&old);
                self.index.insert(key, weakest);
                self.findings[weakest] = finding;
            }
            return;
        }
        self.index.insert(key.clone(), self.findings.len());
        self.keys.push(key);
        self.findings.push(finding);
    }

    /// The dedup key (kind, location, value), built in the reused buffer.
    fn set_key(&mut self, kind: &str, location: &str, value: &str) {
        self.scratch.clear();
        self.scratch.push_str(kind);
        self.scratch.push('\u{1}');
        self.scratch.push_str(location);
        self.scratch.push('\u{1}');
        self.scratch.push_str(value);
    }

    /// A medium-confidence BSN (no label, no person context) that an organisation-defined
    /// identifier explains becomes low: the organisation knows its own numbers.
    pub(crate) fn explained_bsn(&mut self, location: &str, digits: &str) {
        self.set_key(Kind::Bsn.as_str(), location, digits);
        if let Some(&i) = self.index.get(self.scratch.as_str())
            && self.findings[i].confidence == Confidence::Medium
        {
            let f = &mut self.findings[i];
            f.confidence = Confidence::Low;
            f.rule = "bsn.organisation-identifier".to_string();
            f.evidence = vec!["checksum", "organisation_identifier"];
            self.bsn_values.remove(digits);
        }
    }

    pub(crate) fn uninspectable(&mut self, location: &str, reason: &str) {
        self.add(
            Kind::Uninspectable,
            location,
            Confidence::High,
            reason,
            reason.to_string(),
            Rule::new("uninspectable", &[]),
        );
    }

    /// The verdict: sensitive on any special-category finding of high confidence, a
    /// checksum-valid BSN without contrary context, personal data of several people
    /// together, or anything that could not be inspected.
    pub(crate) fn finish(self) -> Report {
        let has = |kind: Kind, min: Confidence| {
            self.findings
                .iter()
                .any(|f| f.kind == kind && f.confidence >= min)
        };
        let mut reasons = Vec::new();
        if has(Kind::Uninspectable, Confidence::Low) {
            reasons.push(Reason::Uninspectable);
        }
        if has(Kind::Bsn, Confidence::Medium) {
            reasons.push(Reason::Bsn);
        }
        if has(Kind::Health, Confidence::High) {
            reasons.push(Reason::Health);
        }
        if has(Kind::IdDocument, Confidence::High) {
            reasons.push(Reason::IdDocument);
        }
        if has(Kind::ClientNumber, Confidence::High) {
            reasons.push(Reason::ClientNumber);
        }
        if self.custom_sensitive {
            reasons.push(Reason::Identifier);
        }
        let dates_of_birth = self.dob_values.len();
        let ibans = self.iban_values.len();
        if dates_of_birth >= 2
            || ibans >= 10
            || (ibans >= 3 && dates_of_birth + self.bsn_values.len() >= 1)
            || self.named_ibans.len() >= 2
        {
            reasons.push(Reason::SeveralPersons {
                dates_of_birth,
                ibans,
            });
        }
        let verdict = if reasons.is_empty() {
            Verdict::Clean
        } else {
            Verdict::Sensitive
        };
        Report {
            verdict,
            reasons,
            findings: self.findings,
            omitted: self.dropped,
        }
    }
}
