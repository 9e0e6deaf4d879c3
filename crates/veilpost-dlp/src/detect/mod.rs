//! Detectors: text in, findings out.
//!
//! One pass of an Aho-Corasick automaton finds every keyword (labels, context words, the
//! health vocabulary); one hand-written pass over the bytes finds number groups (BSN, phone,
//! postcode) and IBANs; `@` is found with memchr. Everything else (dates of birth, document
//! numbers, names) is looked for only in small windows next to a keyword, so the cost on
//! ordinary text stays close to the cost of reading it.
//!
//! ```
//! use veilpost_dlp::detect::Engine;
//! use veilpost_dlp::{Confidence, Kind};
//!
//! let engine = Engine::new();
//! let found = engine.findings("Het BSN van mevrouw Jansen is 123456782.", "body");
//! assert!(found.iter().any(|f| f.kind == Kind::Bsn && f.confidence == Confidence::High));
//! ```

pub mod checks;
pub mod custom;
mod keywords;
mod names;
mod vocab;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use regex::Regex;

use crate::report::{Confidence, Finding, Kind, Reason, Report, Verdict};

pub use custom::{Checksum, CustomIdentifier, IdentifierError};
pub use names::{NameMention, NameShape};

/// How far (bytes) a label may stand before a number and still name it.
const LABEL_BEFORE: usize = 100;
/// How far (bytes) a label may stand after a number.
const LABEL_AFTER: usize = 60;
/// How far a negative word (invoice, order) may stand before a number.
const NEGATIVE_BEFORE: usize = 60;
/// How far weak context (patiënt, geboren) may stand from a BSN.
const WEAK_CONTEXT: usize = 250;
/// How many bytes after a closing ("Met vriendelijke groet") count as signature.
const SIGNATURE_SPAN: usize = 400;
/// How far around a date, a relation word or an IBAN names are looked for.
const NAME_WINDOW: usize = 80;
/// How far (bytes) an identity document number may stand from a person with a date of
/// birth and still be theirs without a label.
const DOCUMENT_NEAR_PERSON: usize = 200;
/// A date next to a name (without "geboren") is a date of birth only if at least this many
/// days old: a date of this year beside a name is an appointment, a shift, a deadline.
const DOB_MIN_AGE_DAYS: i64 = 365;
/// Weekdays (and their abbreviations) that make the date after them an appointment.
const WEEKDAYS: &[&str] = &[
    "maandag",
    "dinsdag",
    "woensdag",
    "donderdag",
    "vrijdag",
    "zaterdag",
    "zondag",
    "ma",
    "di",
    "wo",
    "do",
    "vr",
    "za",
    "zo",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "mon",
    "tue",
    "wed",
    "thu",
    "fri",
    "sat",
    "sun",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    BsnLabel,
    BsnNegative,
    DobLabel,
    IdLabel,
    Mrz,
    Title,
    Role,
    Professional,
    Closing,
    GeneralAudience,
    Diagnosis,
    Medication,
    Lab,
    Care,
    /// Youth-protection, debt-help and other social-domain words: special-category
    /// context when tied to a person.
    Social,
    /// Family and legal relations that point at a person ("zoon van", "partner van").
    Relation,
    /// Labels of client and patient numbers: the number identifies a care recipient.
    ClientLabel,
    /// Labels of registration and file numbers: identifying, not sensitive alone.
    RegistrationLabel,
}

impl Class {
    fn is_health(self) -> bool {
        matches!(
            self,
            Class::Diagnosis | Class::Medication | Class::Lab | Class::Care | Class::Social
        )
    }

    /// The evidence word a health term of this class gives a finding.
    fn evidence(self) -> &'static str {
        match self {
            Class::Diagnosis => "diagnosis",
            Class::Medication => "medication",
            Class::Lab => "lab",
            Class::Social => "social",
            _ => "care",
        }
    }
}

#[derive(Debug)]
struct Term {
    class: Class,
    /// Stem: the match need not end at a word boundary.
    prefix: bool,
    text: &'static str,
}

#[derive(Debug, Clone, Copy)]
struct Hit {
    start: usize,
    end: usize,
    class: Class,
    term: u32,
}

/// How strongly a person reference identifies the person the data is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum PersonStrength {
    /// Initials and a surname ("J.P. de Vries").
    Initials,
    /// A first name and a surname ("Noor Jansen", "Daan van Leeuwen").
    Named,
    /// A form of address and a surname ("mevrouw Jansen").
    Titled,
    /// A patient/client with a name, a date of birth, a BSN.
    Strong,
}

impl PersonStrength {
    /// How far (bytes) a health term may stand from this kind of person reference and
    /// still be about them: a patient label carries over a whole letter, bare initials
    /// only over a sentence or two (attendee lists name colleagues, not patients).
    fn reach(self) -> usize {
        match self {
            PersonStrength::Strong => 1500,
            PersonStrength::Titled | PersonStrength::Named => 600,
            PersonStrength::Initials => 250,
        }
    }
}

#[derive(Debug, Clone)]
struct Person {
    /// Byte offset in the segment; `None` for a person carried over from the subject.
    pos: Option<usize>,
    strength: PersonStrength,
    /// Masked for excerpts.
    masked: String,
    /// What identifies them: `name`, `date_of_birth`, `bsn`, `role`, ...
    evidence: &'static [&'static str],
}

/// What the subject of a message lends to its body: the people and health terms it names.
#[derive(Debug, Clone, Default)]
pub struct Carry {
    persons: Vec<Person>,
    health: Vec<(Class, &'static str)>,
}

/// Where a text comes from and when it is scanned.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Segment<'a> {
    /// `subject`, `body`, `attachment/NAME`.
    pub(crate) location: &'a str,
    /// Today (year, month, day), when known.
    pub(crate) today: Option<(u32, u32, u32)>,
}

/// A date found anywhere in a segment (not only next to a label).
#[derive(Debug, Clone, Copy)]
struct DateAt {
    start: usize,
    end: usize,
    date: Date,
}

/// What the number pass saw besides findings: dates, doses and lab values, IBANs.
#[derive(Debug, Default)]
struct Facts {
    dates: Vec<DateAt>,
    /// A dose ("500 mg", "2dd") or a lab value with its unit ("53 mmol/mol").
    measures: Vec<(Class, &'static str, usize)>,
    /// IBANs: start offset and value.
    ibans: Vec<(usize, String)>,
}

/// The compiled detectors. Build once (it compiles an automaton and a few regexes), share
/// freely: scanning takes `&self`.
#[derive(Debug)]
pub struct Engine {
    keywords: keywords::Keywords,
    terms: Vec<Term>,
    re_date: Regex,
    re_passport: Regex,
    re_licence: Regex,
    re_name_after: Regex,
    re_document: Regex,
    re_permit: Regex,
    re_client: Regex,
    names: names::NameLists,
    custom: Vec<custom::CompiledIdentifier>,
}

impl Default for Engine {
    fn default() -> Self {
        Self::new()
    }
}

impl Engine {
    /// Compile the detectors.
    pub fn new() -> Engine {
        let lists: &[(Class, &[&'static str])] = &[
            (Class::BsnLabel, vocab::BSN_LABELS),
            (Class::BsnNegative, vocab::BSN_NEGATIVE),
            (Class::DobLabel, vocab::DOB_LABELS),
            (Class::IdLabel, vocab::ID_LABELS),
            (Class::Mrz, vocab::MRZ),
            (Class::Title, vocab::TITLES),
            (Class::Role, vocab::ROLES),
            (Class::Professional, vocab::PROFESSIONALS),
            (Class::Closing, vocab::CLOSINGS),
            (Class::GeneralAudience, vocab::GENERAL_AUDIENCE),
            (Class::Diagnosis, vocab::DIAGNOSES),
            (Class::Medication, vocab::MEDICATION),
            (Class::Lab, vocab::LAB),
            (Class::Care, vocab::CARE),
            (Class::Social, vocab::SOCIAL),
            (Class::Relation, vocab::RELATIONS),
            (Class::ClientLabel, vocab::CLIENT_LABELS),
            (Class::RegistrationLabel, vocab::REGISTRATION_LABELS),
        ];
        let mut terms = Vec::new();
        let mut seen = HashSet::new();
        for (class, list) in lists {
            for &raw in *list {
                let (text, prefix) = match raw.strip_suffix('*') {
                    Some(stem) => (stem, true),
                    None => (raw, false),
                };
                // The first list that names a word wins (a label beats a context word).
                if seen.insert(text.to_ascii_lowercase()) {
                    terms.push(Term {
                        class: *class,
                        prefix,
                        text,
                    });
                }
            }
        }
        let keywords = keywords::Keywords::new(terms.iter().map(|t| (t.text, t.prefix)));
        let months = "januari|februari|maart|april|mei|juni|juli|augustus|september|oktober|\
                      november|december|january|february|march|june|july|august|october|\
                      jan|feb|mrt|mar|apr|may|jun|jul|aug|sept|sep|okt|oct|nov|dec";
        let re_date = Regex::new(&format!(
            r"(?i)(?:^|[^0-9])(?:(?P<d>\d{{1,2}})[-/.](?P<m>\d{{1,2}})[-/.](?P<y>\d{{4}}|\d{{2}})|(?P<iy>\d{{4}})-(?P<im>\d{{1,2}})-(?P<id>\d{{1,2}})|(?P<nd>\d{{1,2}})(?:e|ste|de)?[\s.\-/]*(?P<nm>{months})\.?[\s.\-/]*(?P<ny>\d{{4}})|(?P<em>{months})\.?\s+(?P<ed>\d{{1,2}}),?\s+(?P<ey>\d{{4}}))(?:[^0-9]|$)"
        ))
        .expect("date regex");
        let re_passport = Regex::new(
            r"(?i)(?:^|[^\p{L}\p{N}])([a-np-z]{2}[a-np-z0-9]{6}[0-9])(?:[^\p{L}\p{N}]|$)",
        )
        .expect("passport regex");
        let re_licence = Regex::new(r"(?:^|[^0-9])([0-9]{10})(?:[^0-9]|$)").expect("licence regex");
        let particles = r"(?:van|de|der|den|ter|ten|te|het|in|op|'t|la|le|du|da|di|von|el|al)";
        let re_name_after = Regex::new(&format!(
            r"^[\s:.,]{{0,4}}(?:(?i:mevrouw|mevr\.?|mw\.?|dhr\.?|de heer|meneer|mijnheer)\s+)?(?P<acad>(?i:dr|drs|prof|mr|ir|ing)\.?\s+)?(?:(?:\p{{Lu}}\.\s?){{1,4}}\s*|\p{{Lu}}\p{{Ll}}+\s+)?(?:{particles}\s+){{0,3}}(?P<sur>\p{{Lu}}[\p{{Ll}}'’]+(?:-\p{{Lu}}[\p{{Ll}}'’]+)?)"
        ))
        .expect("name regex");
        // A current Dutch passport or identity card number without its label: upper case,
        // two letters, six letters or digits, one digit, never the letter O.
        let re_document =
            Regex::new(r"(?:^|[^\p{L}\p{N}])([A-NP-Z]{2}[A-NP-Z0-9]{6}[0-9])(?:[^\p{L}\p{N}]|$)")
                .expect("document regex");
        // Residence documents: a letter and eight digits; the V-number: ten digits.
        let re_permit =
            Regex::new(r"(?:^|[^\p{L}\p{N}])([A-Z][0-9]{8}|[0-9]{10})(?:[^\p{L}\p{N}]|$)")
                .expect("permit regex");
        // A client or file number right after its label: digits, or letters, a dash and
        // digits ("1234567", "C-2026-0042", "PAT 123456").
        let re_client = Regex::new(
            r"^[\s:.#=]{0,6}(?:(?i:nr|nummer|no|id)\.?[\s:.#]{0,3})?(?P<id>[A-Za-z]{0,5}[ \-/]?[0-9][0-9./\-]{2,18}[0-9]|[0-9]{4,})",
        )
        .expect("client regex");
        Engine {
            keywords,
            terms,
            re_date,
            re_passport,
            re_licence,
            re_name_after,
            re_document,
            re_permit,
            re_client,
            names: names::NameLists::new(),
            custom: Vec::new(),
        }
    }

    /// The built-in detectors and the organisation's own identifiers. An invalid
    /// identifier is refused with its position and key named.
    pub fn with_identifiers(identifiers: Vec<CustomIdentifier>) -> Result<Engine, IdentifierError> {
        let mut engine = Engine::new();
        engine.custom = custom::compile(identifiers)?;
        Ok(engine)
    }

    /// Every person name in `text` (first name and surname, initials and surname, a form
    /// of address and a surname, a known first name alone), whoever it names: the
    /// recogniser the detectors use, for comparison with other de-identification tools.
    /// Offsets are into `text` (the detectors first map exotic spaces and dashes; this
    /// does not, so that the offsets stay the caller's).
    pub fn person_mentions(&self, text: &str) -> Vec<NameMention> {
        self.names.find(text, 0, text.len())
    }

    /// Scan one text on its own and return its findings (no verdict). Handy for tests and
    /// for callers that have plain text rather than a message.
    pub fn findings(&self, text: &str, location: &str) -> Vec<Finding> {
        let mut out = Collector::new(usize::MAX);
        let segment = Segment {
            location,
            today: None,
        };
        self.scan_segment(text, &segment, &mut out, None);
        out.findings
    }

    /// Scan one text and draw a verdict from it alone.
    pub fn report(&self, text: &str, location: &str) -> Report {
        self.report_on(text, location, None)
    }

    /// [`Engine::report`] on a given day (year, month, day): a date next to a name counts
    /// as a date of birth only when it lies at least a month before it.
    pub fn report_on(&self, text: &str, location: &str, today: Option<(u32, u32, u32)>) -> Report {
        let mut out = Collector::new(usize::MAX);
        self.scan_segment(text, &Segment { location, today }, &mut out, None);
        out.finish()
    }

    /// Scan one segment (a subject, a body, one attachment's text) into `out`.
    ///
    /// `carry` holds what the message's subject named; the returned value is what this
    /// segment lends to later ones (used for the subject).
    pub(crate) fn scan_segment(
        &self,
        text: &str,
        segment: &Segment<'_>,
        out: &mut Collector,
        carry: Option<&Carry>,
    ) -> Carry {
        let location = segment.location;
        let normalized = normalize(text);
        let text: &str = &normalized;
        let hits = self.keyword_hits(text);
        let mut persons = Vec::new();
        let mut facts = Facts::default();
        self.scan_numbers(text, &hits, location, out, &mut persons, &mut facts);
        scan_emails(text, location, out);
        self.scan_labels(text, &hits, location, out, &mut persons);
        self.scan_custom(text, location, out, &mut persons);
        let signatures = signature_zones(text, &hits);
        self.scan_names(text, &hits, &signatures, &facts, segment, out, &mut persons);
        self.scan_health(
            text,
            &hits,
            &signatures,
            &facts,
            location,
            out,
            persons,
            carry,
        )
    }

    fn keyword_hits(&self, text: &str) -> Vec<Hit> {
        let mut hits: Vec<Hit> = self
            .keywords
            .find(text)
            .into_iter()
            .map(|m| Hit {
                start: m.start,
                end: m.end,
                class: self.terms[m.pattern].class,
                term: m.pattern as u32,
            })
            .collect();
        // A health word that names a service, not a person's condition: "diabeteszorg",
        // "COPD-spreekuur", "POH-GGZ", "Jeugd-GGZ".
        let mut keep = vec![true; hits.len()];
        for (k, h) in hits.iter().enumerate() {
            if !h.class.is_health() {
                continue;
            }
            if service_word(text, h.start, h.end) {
                keep[k] = false;
                continue;
            }
            let title_before = k > 0
                && hits[k - 1].class == Class::Professional
                && h.start >= hits[k - 1].end
                && h.start - hits[k - 1].end <= 2
                && !text[hits[k - 1].end..h.start].contains(char::is_alphanumeric);
            let jeugd = window_before(text, h.start, 6)
                .to_ascii_lowercase()
                .ends_with("jeugd-");
            if title_before || jeugd || health_as_topic(text, h.start) {
                keep[k] = false;
            }
        }
        let mut k = 0;
        hits.retain(|_| {
            k += 1;
            keep[k - 1]
        });
        hits
    }

    fn term(&self, hit: &Hit) -> &'static str {
        self.terms[hit.term as usize].text
    }

    fn scan_numbers(
        &self,
        text: &str,
        hits: &[Hit],
        location: &str,
        out: &mut Collector,
        persons: &mut Vec<Person>,
        facts: &mut Facts,
    ) {
        let b = text.as_bytes();
        let mut i = 0;
        while i < b.len() {
            match next_digit(b, i) {
                Some(k) => i = k,
                None => break,
            }
            let start = i;
            let prev = prev_char(text, start);
            if prev.is_some_and(char::is_alphanumeric) {
                if start >= 2
                    && b[start - 1].is_ascii_alphabetic()
                    && b[start - 2].is_ascii_alphabetic()
                    && !prev_char(text, start - 2).is_some_and(char::is_alphanumeric)
                    && let Some(end) = self.try_iban(text, start - 2, location, out, facts)
                {
                    i = end;
                    continue;
                }
                i = skip_alnum(b, start);
                continue;
            }
            let group = Group::parse(b, start);
            i = group.end;
            self.classify_group(text, &group, prev, hits, location, out, persons, facts);
        }
    }

    /// IBAN starting at `p` (the country code). Returns the end offset when valid.
    fn try_iban(
        &self,
        text: &str,
        p: usize,
        location: &str,
        out: &mut Collector,
        facts: &mut Facts,
    ) -> Option<usize> {
        let b = text.as_bytes();
        let country = [b[p].to_ascii_uppercase(), b[p + 1].to_ascii_uppercase()];
        let len = checks::iban_length(country)?;
        let mut compact = Vec::with_capacity(len);
        let mut j = p;
        while compact.len() < len {
            let c = *b.get(j)?;
            if c.is_ascii_alphanumeric() {
                compact.push(c.to_ascii_uppercase());
                j += 1;
            } else if c == b' ' && b.get(j + 1).is_some_and(u8::is_ascii_alphanumeric) {
                j += 1;
            } else {
                return None;
            }
        }
        if b.get(j).is_some_and(u8::is_ascii_alphanumeric) {
            return None;
        }
        if !compact[2..4].iter().all(u8::is_ascii_digit) || !checks::iban_mod97(&compact) {
            return None;
        }
        let value = String::from_utf8_lossy(&compact).into_owned();
        let excerpt = format!("{}{}", &value[..2], checks::mask_keep_last(&value[2..], 4));
        out.iban_values.insert(value.clone());
        facts.ibans.push((p, value.clone()));
        out.add(
            Kind::Iban,
            location,
            Confidence::High,
            &value,
            excerpt,
            Rule::new("iban.mod97", &[]),
        );
        Some(j)
    }

    #[allow(clippy::too_many_arguments)]
    fn classify_group(
        &self,
        text: &str,
        g: &Group,
        prev: Option<char>,
        hits: &[Hit],
        location: &str,
        out: &mut Collector,
        persons: &mut Vec<Person>,
        facts: &mut Facts,
    ) {
        let b = text.as_bytes();
        let next = b.get(g.end).copied();
        // A dose or a lab value: "500 mg", "2dd", "53 mmol/mol", "145/90 mmHg".
        if let Some((class, term)) = measure_after(b, g.end) {
            facts.measures.push((class, term, g.start));
        }
        // An amount with decimals (123.456.782,00).
        if next == Some(b',') && b.get(g.end + 1).is_some_and(u8::is_ascii_digit) {
            return;
        }
        let mut lens = [0usize; Group::MAX];
        for (k, (s, e)) in g.chunks().enumerate() {
            lens[k] = e - s;
        }
        let lens = &lens[..g.n];
        if let Some(date) = date_in_group(text, g, lens) {
            facts.dates.push(date);
            return;
        }
        if lens == [4] && b[g.start] != b'0' {
            self.postcode(text, g, location, out);
        }
        // Glued to a word.
        if next.is_some_and(|c| c.is_ascii_alphabetic()) {
            return;
        }
        let total: usize = lens.iter().sum();
        let plus = prev == Some('+');
        if plus && (10..=13).contains(&total)
            || total == 10 && b[g.start] == b'0'
            || total == 13 && b[g.start..].starts_with(b"0031")
        {
            phone(text, g.start - usize::from(plus), g.end, location, out);
            return;
        }
        if let Some(strict) = bsn_form(lens, g.uniform_sep()) {
            self.bsn_candidate(
                text, g.start, g.end, strict, prev, hits, location, out, persons,
            );
            return;
        }
        let seps = g.seps();
        if !seps.contains(&b' ') {
            return;
        }
        // A run of space-separated numbers: judge each piece between spaces on its own.
        let mut from = 0;
        for k in 0..g.n {
            let last = k + 1 == g.n;
            if !last && seps[k] != b' ' {
                continue;
            }
            let sub_lens = &lens[from..=k];
            let (s, e) = (g.chunks[from].0, g.chunks[k].1);
            let sub_total: usize = sub_lens.iter().sum();
            if sub_total == 10 && b[s] == b'0' && sub_lens.len() > 1 {
                phone(text, s, e, location, out);
            } else if let Some(strict) = bsn_form(sub_lens, uniform(&seps[from..k])) {
                let before = if from == 0 { prev } else { Some(' ') };
                self.bsn_candidate(text, s, e, strict, before, hits, location, out, persons);
            }
            from = k + 1;
        }
    }

    fn postcode(&self, text: &str, g: &Group, location: &str, out: &mut Collector) {
        let b = text.as_bytes();
        let mut j = g.end;
        if b.get(j) == Some(&b' ') {
            j += 1;
        }
        let (Some(&l1), Some(&l2)) = (b.get(j), b.get(j + 1)) else {
            return;
        };
        if !(l1.is_ascii_uppercase() && l2.is_ascii_uppercase()) {
            return;
        }
        if matches!(&[l1, l2], b"SA" | b"SD" | b"SS") {
            return;
        }
        if !boundary_after(text, j + 2) {
            return;
        }
        let mut value = [0u8; 6];
        value[..4].copy_from_slice(&text.as_bytes()[g.start..g.end]);
        value[4] = l1;
        value[5] = l2;
        let value = std::str::from_utf8(&value).unwrap_or_default();
        out.add_lazy(
            Kind::PostalAddress,
            location,
            Confidence::Medium,
            value,
            || checks::mask_keep_last(&text[g.start..j + 2], 2),
            Rule::new("postcode.shape", &[]),
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn bsn_candidate(
        &self,
        text: &str,
        start: usize,
        end: usize,
        strict: bool,
        prev: Option<char>,
        hits: &[Hit],
        location: &str,
        out: &mut Collector,
        persons: &mut Vec<Person>,
    ) {
        let digits: Vec<u8> = text.as_bytes()[start..end]
            .iter()
            .copied()
            .filter(u8::is_ascii_digit)
            .collect();
        if !checks::bsn_elfproef(&digits) {
            return;
        }
        let next = text[end..].chars().next();
        let embedded =
            prev.is_some_and(|c| "/=#\\_@".contains(c)) || next.is_some_and(|c| "/=_@".contains(c));
        // An amount: `€ 123.456.782`.
        let amount = text[..start].chars().rev().take(3).any(|c| c == '€');
        let (mut confidence, labelled) = bsn_context(hits, start, end);
        if embedded || amount {
            confidence = Confidence::Low;
        }
        if !strict && confidence != Confidence::High {
            return;
        }
        let value = String::from_utf8_lossy(&digits).into_owned();
        if confidence >= Confidence::Medium {
            out.bsn_values.insert(value.clone());
            persons.push(Person {
                pos: Some(start),
                strength: PersonStrength::Strong,
                masked: format!("BSN {}", checks::mask_keep_last(&value, 3)),
                evidence: &["bsn"],
            });
        }
        let excerpt = checks::mask_keep_last(&text[start..end], 3);
        let rule = match confidence {
            Confidence::Low => Rule::new("bsn.contrary-context", &["checksum", "contrary_context"]),
            Confidence::Medium => Rule::new("bsn.checksum", &["checksum"]),
            Confidence::High if labelled => Rule::new("bsn.label", &["checksum", "label"]),
            Confidence::High => Rule::new("bsn.context", &["checksum", "person_context"]),
        };
        out.add(Kind::Bsn, location, confidence, &value, excerpt, rule);
    }

    /// Dates of birth, identity documents, client numbers: values that only count next to
    /// their label.
    fn scan_labels(
        &self,
        text: &str,
        hits: &[Hit],
        location: &str,
        out: &mut Collector,
        persons: &mut Vec<Person>,
    ) {
        for h in hits {
            match h.class {
                Class::DobLabel => {
                    let window = window_after(text, h.end, 60);
                    if let Some(date) = self.find_date(window) {
                        let value = date.iso();
                        out.dob_values.insert(value.clone());
                        persons.push(Person {
                            pos: Some(h.start),
                            strength: PersonStrength::Strong,
                            masked: format!("geb. **-**-{}", date.year),
                            evidence: &["date_of_birth"],
                        });
                        out.add(
                            Kind::DateOfBirth,
                            location,
                            Confidence::High,
                            &value,
                            format!("**-**-{}", date.year),
                            Rule::new("dob.label", &["label", "date"]),
                        );
                    }
                }
                Class::IdLabel => self.document_after_label(text, h, location, out),
                Class::Mrz => {
                    let rest = window_after(text, h.end, 40);
                    if rest
                        .bytes()
                        .take(10)
                        .filter(|c| c.is_ascii_alphabetic() || *c == b'<')
                        .count()
                        >= 5
                    {
                        let value = window_after(text, h.start, 44).to_string();
                        out.add(
                            Kind::IdDocument,
                            location,
                            Confidence::High,
                            &value,
                            format!("{}<***", &text[h.start..h.end]),
                            Rule::new("id.mrz", &["mrz"]),
                        );
                    }
                }
                Class::ClientLabel | Class::RegistrationLabel => {
                    self.client_number(text, h, hits, location, out, persons);
                }
                _ => {}
            }
        }
    }

    /// A passport, identity card, driving licence or residence document number after its
    /// label.
    fn document_after_label(&self, text: &str, h: &Hit, location: &str, out: &mut Collector) {
        // "paspoortnummer van Anna Maria de Jong-van Dam is NXF4BK8L2": room for a name.
        let window = window_after(text, h.end, 90);
        let term = self.term(h).to_ascii_lowercase();
        let licence = term.starts_with("rijbewijs");
        let permit = term.starts_with("verblijf")
            || term.starts_with("vreemdeling")
            || term.starts_with("v-nummer");
        // Current numbers have at least one digit (the last); with a single digit the
        // letters must be written in capitals, as on the document.
        let plausible = |m: &regex::Match<'_>| {
            let digits = m.as_str().bytes().filter(u8::is_ascii_digit).count();
            digits >= 2 || digits == 1 && !m.as_str().bytes().any(|c| c.is_ascii_lowercase())
        };
        let found = self
            .re_passport
            .captures(window)
            .and_then(|c| c.get(1))
            .filter(plausible)
            .or_else(|| {
                licence
                    .then(|| self.re_licence.captures(window).and_then(|c| c.get(1)))
                    .flatten()
            })
            .or_else(|| {
                permit
                    .then(|| self.re_permit.captures(window).and_then(|c| c.get(1)))
                    .flatten()
            });
        if let Some(m) = found {
            let value = m.as_str().to_ascii_uppercase();
            let excerpt = format!("{} {}", self.term(h), checks::mask_keep_last(&value, 1));
            out.add(
                Kind::IdDocument,
                location,
                Confidence::High,
                &value,
                excerpt,
                Rule::new("id.label", &["label", "document_number"]),
            );
        }
    }

    /// "cliëntnummer 1234567", "dossiernummer C-2026-0042": a number that identifies a care
    /// recipient.
    fn client_number(
        &self,
        text: &str,
        h: &Hit,
        hits: &[Hit],
        location: &str,
        out: &mut Collector,
        persons: &mut Vec<Person>,
    ) {
        // "BIG-registratienummer", "KvK-registratienummer", "AGB": a care giver's or a
        // company's number.
        let before = window_before(text, h.start, 25).to_ascii_lowercase();
        if ["big", "kvk", "agb", "kenteken", "btw", "uzi", "klant"]
            .iter()
            .any(|w| before.contains(w))
            || hits_near(hits, h.start.saturating_sub(20), h.start)
                .any(|o| o.class == Class::BsnNegative && o.end <= h.start && h.start - o.end <= 20)
        {
            return;
        }
        let window = window_after(text, h.end, 40);
        let Some(id) = self.re_client.captures(window).and_then(|c| c.name("id")) else {
            return;
        };
        if id.as_str().bytes().filter(u8::is_ascii_digit).count() < 4 {
            return;
        }
        let value: String = id
            .as_str()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_uppercase();
        let (confidence, rule) = if h.class == Class::ClientLabel {
            (Confidence::High, "client_number.label")
        } else {
            (Confidence::Medium, "client_number.registration")
        };
        persons.push(Person {
            pos: Some(h.start),
            strength: PersonStrength::Strong,
            masked: format!("{} {}", self.term(h), checks::mask_keep_last(&value, 2)),
            evidence: &["client_number"],
        });
        out.add(
            Kind::ClientNumber,
            location,
            confidence,
            &value,
            format!("{} {}", self.term(h), checks::mask_keep_last(&value, 2)),
            Rule::new(rule, &["label", "number"]),
        );
    }

    /// The organisation's own identifiers.
    fn scan_custom(
        &self,
        text: &str,
        location: &str,
        out: &mut Collector,
        persons: &mut Vec<Person>,
    ) {
        for id in &self.custom {
            for m in id.matches(text) {
                let value = &text[m.start..m.end];
                let evidence: &'static [&'static str] = match (id.checksum, m.keyword) {
                    (Checksum::None, false) => &["pattern"],
                    (Checksum::None, true) => &["pattern", "keyword"],
                    (_, false) => &["pattern", "checksum"],
                    (_, true) => &["pattern", "checksum", "keyword"],
                };
                // The organisation says what this number is: a 9-digit client number that
                // happens to pass the 11-check is not taken for a BSN without a BSN label.
                let digits: String = value.chars().filter(char::is_ascii_digit).collect();
                if digits.len() == 9 {
                    out.explained_bsn(location, &digits);
                }
                if !id.sensitive_alone {
                    persons.push(Person {
                        pos: Some(m.start),
                        strength: PersonStrength::Strong,
                        masked: format!("{} {}", id.name, checks::mask_keep_last(value, 2)),
                        evidence: &["identifier"],
                    });
                }
                out.add_custom(
                    &m.id.name,
                    location,
                    id.confidence,
                    value,
                    checks::mask_keep_last(value, 2),
                    Rule {
                        id: &id.rule,
                        evidence,
                    },
                    id.sensitive_alone,
                );
            }
        }
    }

    fn find_date(&self, window: &str) -> Option<Date> {
        let c = self.re_date.captures(window)?;
        let num = |name: &str| c.name(name).and_then(|m| m.as_str().parse::<u32>().ok());
        let (day, month, year) = if let (Some(d), Some(m), Some(y)) = (num("d"), num("m"), num("y"))
        {
            (d, m, y)
        } else if let (Some(d), Some(m), Some(y)) = (num("id"), num("im"), num("iy")) {
            (d, m, y)
        } else if let (Some(d), Some(m), Some(y)) = (num("nd"), c.name("nm"), num("ny")) {
            (d, month_number(m.as_str())?, y)
        } else if let (Some(d), Some(m), Some(y)) = (num("ed"), c.name("em"), num("ey")) {
            (d, month_number(m.as_str())?, y)
        } else {
            return None;
        };
        let year = match year {
            0..=29 => 2000 + year,
            30..=99 => 1900 + year,
            y => y,
        };
        if !(1..=31).contains(&day) || !(1..=12).contains(&month) || !(1880..=2100).contains(&year)
        {
            return None;
        }
        Some(Date { day, month, year })
    }

    /// Names of people: with a date beside them (a date of birth, even without
    /// "geboren"), after a relation or role word, and (when health words are about) every
    /// name that is not the sender's, the addressee's or a care giver's. Also identity
    /// document numbers next to a person with a date of birth, and named IBANs.
    #[allow(clippy::too_many_arguments)]
    fn scan_names(
        &self,
        text: &str,
        hits: &[Hit],
        signatures: &[(usize, usize)],
        facts: &Facts,
        segment: &Segment<'_>,
        out: &mut Collector,
        persons: &mut Vec<Person>,
    ) {
        let location = segment.location;
        let health = hits
            .iter()
            .any(|h| h.class.is_health() && !in_zones(signatures, h.start))
            || !facts.measures.is_empty();
        let mut windows: Vec<(usize, usize)> = Vec::new();
        if health {
            windows.push((0, text.len()));
        } else {
            for d in &facts.dates {
                windows.push((d.start.saturating_sub(NAME_WINDOW), d.end + NAME_WINDOW));
            }
            for h in hits
                .iter()
                .filter(|h| matches!(h.class, Class::Relation | Class::Role))
            {
                windows.push((h.start, h.end + NAME_WINDOW));
            }
            for (start, _) in &facts.ibans {
                windows.push((start.saturating_sub(NAME_WINDOW), start + 40));
            }
        }
        if windows.is_empty() {
            return;
        }
        let mentions = self.mentions_in(text, windows);
        let today = segment.today.map(|(y, m, d)| days_from_civil(y, m, d));
        for m in &mentions {
            if self.not_the_subject(text, hits, signatures, m) {
                continue;
            }
            let name = &text[m.start..m.end];
            if let Some(d) = adjacent_date(text, m, &facts.dates, today) {
                let value = d.date.iso();
                out.dob_values.insert(value.clone());
                persons.push(Person {
                    pos: Some(m.start),
                    strength: PersonStrength::Strong,
                    masked: format!(
                        "{} (**-**-{})",
                        checks::mask_name(name, usize::from(m.shape == NameShape::Titled)),
                        d.date.year
                    ),
                    evidence: &["name", "date_of_birth"],
                });
                out.add(
                    Kind::DateOfBirth,
                    location,
                    Confidence::High,
                    &value,
                    format!("**-**-{}", d.date.year),
                    Rule::new("dob.name", &["name", "date"]),
                );
                self.document_near(text, m.start, location, out);
                continue;
            }
            // "zoon Daan", "cliënt Jan de Vries", and after the name: "Jan de Vries
            // (cliënt)", "Noor Jansen, bewoner van".
            let related = hits_near(hits, m.start.saturating_sub(40), m.end + 10).any(|h| {
                matches!(h.class, Class::Relation | Class::Role)
                    && (h.end <= m.start
                        && m.start - h.end <= 16
                        && !text[h.end..m.start].contains('\n')
                        || h.start >= m.end
                            && h.start - m.end <= 3
                            && text[m.end..h.start].chars().all(|c| " ,(".contains(c)))
            });
            let strength = match (related, m.shape) {
                (true, _) => PersonStrength::Strong,
                (false, NameShape::FirstOnly) => continue,
                (false, NameShape::Initials) => PersonStrength::Initials,
                (false, NameShape::Full) => PersonStrength::Named,
                (false, NameShape::Titled) => PersonStrength::Titled,
            };
            persons.push(Person {
                pos: Some(m.start),
                strength,
                masked: checks::mask_name(name, usize::from(m.shape == NameShape::Titled)),
                evidence: if related {
                    &["relation", "name"]
                } else {
                    match m.shape {
                        NameShape::Initials => &["initials"],
                        NameShape::Titled => &["title", "name"],
                        _ => &["name"],
                    }
                },
            });
        }
        // Several people with an IBAN each, written out in text or a table.
        for (start, value) in &facts.ibans {
            let named = mentions.iter().any(|m| {
                m.shape != NameShape::FirstOnly
                    && m.end <= *start
                    && start - m.end <= 40
                    && !text[m.end..*start].contains('\n')
                    && !self.not_the_subject(text, hits, signatures, m)
            });
            if named {
                out.named_ibans.insert(value.clone());
            }
        }
    }

    /// Names in the given windows (merged, cut to character boundaries), in order.
    fn mentions_in(&self, text: &str, mut windows: Vec<(usize, usize)>) -> Vec<NameMention> {
        windows.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::new();
        for (s, e) in windows {
            let e = e.min(text.len());
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        let mut out = Vec::new();
        for (mut s, mut e) in merged {
            while !text.is_char_boundary(s) {
                s -= 1;
            }
            while !text.is_char_boundary(e) {
                e += 1;
            }
            // Start at a word boundary, so half a name is not taken for a whole one.
            while s > 0 && prev_char(text, s).is_some_and(char::is_alphanumeric) {
                s -= prev_char(text, s).map_or(1, char::len_utf8);
            }
            out.extend(self.names.find(text, s, e));
        }
        out
    }

    /// Is this name the sender's (signature, header line), the addressee's (greeting), a
    /// care giver's (a profession beside it), or one in a list of attendees?
    fn not_the_subject(
        &self,
        text: &str,
        hits: &[Hit],
        signatures: &[(usize, usize)],
        m: &NameMention,
    ) -> bool {
        if in_zones(signatures, m.start) {
            return true;
        }
        // A profession right before ("huisarts Bakker", "dr. Jan Smit", "POH: Anna de
        // Wit") or right after ("Anna de Wit, verpleegkundige", "Jan Smit (huisarts)").
        let professional = hits_near(hits, m.start.saturating_sub(40), m.end + 40).any(|h| {
            h.class == Class::Professional
                && (h.end <= m.start
                    && m.start - h.end <= 14
                    && !text[h.end..m.start].contains(char::is_alphabetic)
                    || h.start >= m.end
                        && h.start - m.end <= 25
                        && !text[m.end..h.start].contains(char::is_alphanumeric))
        });
        if professional {
            return true;
        }
        // A mail participant: "Anna de Wit <a.dewit@praktijk.nl>".
        let after = text[m.end..].trim_start_matches([' ', '"']);
        if after.starts_with('<') || after.starts_with("[mailto") {
            return true;
        }
        // The line around the name (bounded: a text without line breaks stays linear).
        let before_line = window_before(text, m.start, 200);
        let line_start = m.start - before_line.len() + before_line.rfind('\n').map_or(0, |p| p + 1);
        let prefix = text[line_start..m.start]
            .trim_start_matches(['>', ' ', '\t', '*', '-'])
            .to_lowercase();
        let after_line = window_after(text, m.end, 200);
        let line_end = m.end + after_line.find('\n').unwrap_or(after_line.len());
        let rest_of_line = text[m.end..line_end].to_lowercase();
        if rest_of_line.contains("schreef") || rest_of_line.contains("wrote:") {
            return true;
        }
        const LINE_LABELS: &[&str] = &[
            "van:",
            "aan:",
            "cc:",
            "bcc:",
            "from:",
            "to:",
            "verzonden:",
            "sent:",
            "aanwezig",
            "afwezig",
            "deelnemers",
            "genodigden",
            "notulist",
            "notulen:",
            "voorzitter",
            "attendees",
            "participants",
            "spreker",
            "sprekers",
            "docent",
            "organisator",
            "afmeldingen",
            "afgemeld",
            "kopie aan",
            "contactpersoon",
            "behandelaar:",
            "auteur",
            "redactie",
            "door:",
            "by:",
        ];
        if LINE_LABELS.iter().any(|l| prefix.starts_with(l)) {
            return true;
        }
        // The addressee: "Beste Jan,", "Hoi Sanne en Pieter,".
        if m.shape != NameShape::Titled {
            const GREETINGS: &[&str] = &[
                "beste",
                "hoi",
                "hallo",
                "dag",
                "geachte",
                "lieve",
                "hi",
                "hey",
                "hee",
                "ha",
                "goedemorgen",
                "goedemiddag",
                "goedenavond",
                "dear",
                "hello",
                "l.s.",
            ];
            let first = prefix
                .split(|c: char| !c.is_alphanumeric() && c != '.')
                .next()
                .unwrap_or("");
            // "Beste Jan," "Hoi Sanne en Pieter," — not "Hoi, Noor Jansen is zwanger".
            let after = text[m.end..].trim_start_matches(' ');
            let ends_greeting = after.is_empty()
                || after.starts_with([',', '!', '\n', '\r', ':'])
                || after.starts_with("en ")
                || after.starts_with("and ");
            if GREETINGS.contains(&first) && prefix.len() <= 40 && ends_greeting {
                return true;
            }
        }
        false
    }

    /// An identity document number without its label, near a person with a date of
    /// birth.
    fn document_near(&self, text: &str, pos: usize, location: &str, out: &mut Collector) {
        let mut s = pos.saturating_sub(DOCUMENT_NEAR_PERSON);
        while !text.is_char_boundary(s) {
            s -= 1;
        }
        let window = window_after(text, s, 2 * DOCUMENT_NEAR_PERSON);
        for c in self.re_document.captures_iter(window) {
            let Some(m) = c.get(1) else { continue };
            let value = m.as_str();
            if value.bytes().filter(u8::is_ascii_digit).count() == 9 {
                continue;
            }
            out.add(
                Kind::IdDocument,
                location,
                Confidence::High,
                value,
                format!("document {}", checks::mask_keep_last(value, 1)),
                Rule::new("id.person", &["name", "date_of_birth", "document_number"]),
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn scan_health(
        &self,
        text: &str,
        hits: &[Hit],
        signatures: &[(usize, usize)],
        facts: &Facts,
        location: &str,
        out: &mut Collector,
        mut persons: Vec<Person>,
        carry: Option<&Carry>,
    ) -> Carry {
        // Care words in a signature name the sender's organisation, not a patient's care.
        let mut terms: Vec<(Class, &'static str, Option<usize>)> = hits
            .iter()
            .filter(|h| h.class.is_health() && !in_zones(signatures, h.start))
            .map(|h| (h.class, self.term(h), Some(h.start)))
            .collect();
        terms.extend(
            facts
                .measures
                .iter()
                .filter(|(_, _, pos)| !in_zones(signatures, *pos))
                .map(|&(c, t, pos)| (c, t, Some(pos))),
        );
        self.role_names(text, hits, signatures, &mut persons);
        // "Gegevens cliënt: Jansen, J. - geboren 12-03-1950": a care recipient identified
        // by name and date of birth; being someone's patient is itself health data.
        for h in hits.iter().filter(|h| h.class == Class::Role) {
            let term = self.term(h);
            let care_recipient = !term.starts_with("naam")
                && !term.starts_with("achternaam")
                && !term.starts_with("name");
            let born_near = persons.iter().any(|p| {
                p.evidence.contains(&"date_of_birth")
                    && p.pos.is_some_and(|pos| pos.abs_diff(h.start) <= 300)
            });
            if care_recipient && born_near && !in_zones(signatures, h.start) {
                terms.push((Class::Care, term, Some(h.start)));
            }
        }
        terms.sort_by_key(|(_, _, pos)| *pos);
        let inherited_health = carry.map_or(&[][..], |c| &c.health[..]);
        if terms.is_empty() && inherited_health.is_empty() {
            return Carry {
                persons,
                health: Vec::new(),
            };
        }
        let mut all_persons = persons.clone();
        if let Some(c) = carry {
            all_persons.extend(c.persons.iter().map(|p| Person {
                pos: None,
                ..p.clone()
            }));
        }
        let general = hits.iter().any(|h| h.class == Class::GeneralAudience);
        let own_terms = terms.len();
        terms.extend(inherited_health.iter().map(|(c, t)| (*c, *t, None)));
        let any_strong_term = terms.iter().any(|(c, _, _)| *c != Class::Care);
        let distinct_care: HashSet<&str> = terms
            .iter()
            .filter(|(c, _, _)| *c == Class::Care)
            .map(|(_, t, _)| *t)
            .collect();

        // Persons in text order, and those carried over from the subject (anywhere).
        let mut placed: Vec<&Person> = all_persons.iter().filter(|p| p.pos.is_some()).collect();
        placed.sort_by_key(|p| p.pos);
        let floating: Vec<&Person> = all_persons.iter().filter(|p| p.pos.is_none()).collect();
        let max_reach = PersonStrength::Strong.reach();
        let mut best: Option<(Confidence, &Person)> = None;
        let mut used_terms: Vec<&'static str> = Vec::new();
        let mut used_classes: Vec<&'static str> = Vec::new();
        for (class, term, pos) in &terms {
            let person = match pos {
                Some(b) => {
                    let from = placed.partition_point(|p| p.pos.unwrap_or(0) + max_reach < *b);
                    placed[from..]
                        .iter()
                        .take_while(|p| p.pos.unwrap_or(0) <= b + max_reach)
                        .filter(|p| p.pos.unwrap_or(0).abs_diff(*b) <= p.strength.reach())
                        .chain(floating.iter())
                        .max_by_key(|p| p.strength)
                        .copied()
                }
                None => all_persons.iter().max_by_key(|p| p.strength),
            };
            let Some(person) = person else {
                continue;
            };
            let mut confidence = if *class != Class::Care
                || person.strength == PersonStrength::Strong
                || distinct_care.len() >= 2
                || any_strong_term
            {
                Confidence::High
            } else {
                Confidence::Medium
            };
            if general && person.strength != PersonStrength::Strong {
                confidence = Confidence::Medium.min(confidence);
            }
            if !used_terms.contains(term) && used_terms.len() < 3 {
                used_terms.push(term);
            }
            if !used_classes.contains(&class.evidence()) {
                used_classes.push(class.evidence());
            }
            if best.is_none_or(|(c, _)| confidence > c) {
                best = Some((confidence, person));
            }
        }
        if let Some((confidence, person)) = best {
            let excerpt = format!("{} ({})", used_terms.join(", "), person.masked);
            let key = format!("{}|{}", used_terms.join(","), person.masked);
            let mut evidence: Vec<&'static str> = person.evidence.to_vec();
            if person.pos.is_none() {
                evidence.push("subject");
            }
            evidence.extend(used_classes);
            out.add(
                Kind::Health,
                location,
                confidence,
                &key,
                excerpt,
                Rule {
                    id: "health.person",
                    evidence: &evidence,
                },
            );
        }
        Carry {
            persons,
            health: terms[..own_terms]
                .iter()
                .map(|(c, t, _)| (*c, *t))
                .collect(),
        }
    }

    /// "patiënt Jansen", "cliënt: De Vries": a surname after a role label.
    fn role_names(
        &self,
        text: &str,
        hits: &[Hit],
        signatures: &[(usize, usize)],
        persons: &mut Vec<Person>,
    ) {
        for h in hits.iter().filter(|h| h.class == Class::Role) {
            if in_zones(signatures, h.start) {
                continue;
            }
            let window = window_after(text, h.end, 80);
            let Some(c) = self.re_name_after.captures(window) else {
                continue;
            };
            if c.name("acad").is_some() {
                continue;
            }
            let Some(sur) = c.name("sur") else { continue };
            let name = format!("{} {}", &text[h.start..h.end], sur.as_str());
            persons.push(Person {
                pos: Some(h.start),
                strength: PersonStrength::Strong,
                masked: checks::mask_name(&name, 1),
                evidence: &["role", "name"],
            });
        }
    }
}

/// A date found next to a birth-date label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Date {
    day: u32,
    month: u32,
    year: u32,
}

impl Date {
    fn iso(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

fn month_number(name: &str) -> Option<u32> {
    let n = name.to_ascii_lowercase();
    let m = match n.get(..3)? {
        "jan" => 1,
        "feb" => 2,
        "maa" | "mrt" | "mar" => 3,
        "apr" => 4,
        "mei" | "may" => 5,
        "jun" => 6,
        "jul" => 7,
        "aug" => 8,
        "sep" => 9,
        "okt" | "oct" => 10,
        "nov" => 11,
        "dec" => 12,
        _ => return None,
    };
    Some(m)
}

/// A run of digits joined by single separators: `1234.56.782`, `06-12345678`, `1 2 3`.
#[derive(Debug)]
struct Group {
    start: usize,
    end: usize,
    chunks: [(usize, usize); Group::MAX],
    seps: [u8; Group::MAX],
    n: usize,
}

impl Group {
    const MAX: usize = 16;

    fn parse(b: &[u8], start: usize) -> Group {
        let mut g = Group {
            start,
            end: start,
            chunks: [(0, 0); Group::MAX],
            seps: [0; Group::MAX],
            n: 0,
        };
        let mut j = start;
        loop {
            let s = j;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            g.chunks[g.n] = (s, j);
            g.n += 1;
            g.end = j;
            let joins = j + 1 < b.len()
                && matches!(b[j], b' ' | b'.' | b'-' | b'/')
                && b[j + 1].is_ascii_digit();
            if !joins || g.n == Group::MAX {
                break;
            }
            g.seps[g.n - 1] = b[j];
            j += 1;
        }
        g
    }

    fn chunks(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.chunks[..self.n].iter().copied()
    }

    fn seps(&self) -> &[u8] {
        &self.seps[..self.n.saturating_sub(1)]
    }

    fn uniform_sep(&self) -> Option<u8> {
        uniform(self.seps())
    }
}

fn uniform(seps: &[u8]) -> Option<u8> {
    let first = *seps.first()?;
    seps.iter().all(|&s| s == first).then_some(first)
}

/// Is this layout of digit chunks a way people write a BSN? `Some(true)`: one of the usual
/// forms; `Some(false)`: nine digits in an odd layout (counts only next to a BSN label).
fn bsn_form(lens: &[usize], sep: Option<u8>) -> Option<bool> {
    if lens.iter().sum::<usize>() != 9 {
        return None;
    }
    match (lens, sep) {
        ([9], _) => Some(true),
        ([3, 3, 3] | [4, 2, 3], Some(b' ' | b'.' | b'-')) => Some(true),
        (_, Some(b' ' | b'.' | b'-')) => Some(false),
        _ => None,
    }
}

/// Confidence that a checksum-valid 9-digit number at `start..end` is a BSN, from its labels,
/// and whether a BSN label said so.
fn bsn_context(hits: &[Hit], start: usize, end: usize) -> (Confidence, bool) {
    let lo = start.saturating_sub(WEAK_CONTEXT);
    let first = hits.partition_point(|h| h.end < lo);
    let near: Vec<&Hit> = hits[first..]
        .iter()
        .take_while(|h| h.start <= end + WEAK_CONTEXT)
        .collect();
    let nearest_before = near
        .iter()
        .filter(|h| {
            matches!(h.class, Class::BsnLabel | Class::BsnNegative)
                && h.end <= start
                && start - h.end <= NEGATIVE_BEFORE
        })
        .max_by_key(|h| h.end);
    match nearest_before.map(|h| h.class) {
        Some(Class::BsnNegative) => return (Confidence::Low, false),
        Some(Class::BsnLabel) => return (Confidence::High, true),
        _ => {}
    }
    let within =
        |h: &Hit, before: usize, after: usize| h.end + before >= start && h.start <= end + after;
    if near
        .iter()
        .any(|h| h.class == Class::BsnLabel && within(h, LABEL_BEFORE, LABEL_AFTER))
    {
        return (Confidence::High, true);
    }
    if near
        .iter()
        .any(|h| h.class == Class::BsnNegative && within(h, NEGATIVE_BEFORE, 30))
    {
        return (Confidence::Low, false);
    }
    if near.iter().any(|h| {
        matches!(h.class, Class::Role | Class::DobLabel | Class::Title)
            && within(h, WEAK_CONTEXT, WEAK_CONTEXT)
    }) {
        return (Confidence::High, false);
    }
    (Confidence::Medium, false)
}

fn phone(text: &str, start: usize, end: usize, location: &str, out: &mut Collector) {
    let raw = &text[start..end];
    let mut digits = [0u8; 24];
    let mut n = 0;
    for c in raw.bytes().filter(u8::is_ascii_digit).take(digits.len()) {
        digits[n] = c;
        n += 1;
    }
    let value = std::str::from_utf8(&digits[..n]).unwrap_or_default();
    out.add_lazy(
        Kind::Phone,
        location,
        Confidence::Medium,
        value,
        || checks::mask_keep_last(raw, 2),
        Rule::new("phone.shape", &[]),
    );
}

fn scan_emails(text: &str, location: &str, out: &mut Collector) {
    let b = text.as_bytes();
    let local_ok = |c: u8| c.is_ascii_alphanumeric() || b"._%+-".contains(&c);
    let domain_ok = |c: u8| c.is_ascii_alphanumeric() || c == b'.' || c == b'-';
    for at in memchr::memchr_iter(b'@', b) {
        let mut s = at;
        while s > 0 && local_ok(b[s - 1]) && at - s < 64 {
            s -= 1;
        }
        let mut e = at + 1;
        while e < b.len() && domain_ok(b[e]) && e - at < 255 {
            e += 1;
        }
        while e > at + 1 && matches!(b[e - 1], b'.' | b'-') {
            e -= 1;
        }
        if s == at || e == at + 1 {
            continue;
        }
        let domain = &text[at + 1..e];
        let Some(dot) = domain.rfind('.') else {
            continue;
        };
        let tld = &domain[dot + 1..];
        if tld.len() < 2 || !tld.bytes().all(|c| c.is_ascii_alphabetic()) || dot == 0 {
            continue;
        }
        let local = &text[s..at];
        let value = format!("{}@{}", local, domain).to_ascii_lowercase();
        out.add_lazy(
            Kind::EmailAddress,
            location,
            Confidence::High,
            &value,
            || {
                let first: String = local.chars().take(1).collect();
                format!("{first}***@{domain}")
            },
            Rule::new("email.shape", &[]),
        );
    }
}

/// Signatures: from a closing ("Met vriendelijke groet") for a few lines, up to where a
/// quoted or forwarded message begins.
fn signature_zones(text: &str, hits: &[Hit]) -> Vec<(usize, usize)> {
    const BOUNDARIES: &[&str] = &[
        "\n>",
        "\nVan:",
        "\nFrom:",
        "\nOp ",
        "\nOn ",
        "-----",
        "_____",
        "\nVerzonden:",
        "\nSent:",
    ];
    let zone_from = |start: usize, after: usize| {
        let zone = window_after(text, after, SIGNATURE_SPAN);
        let cut = BOUNDARIES
            .iter()
            .filter_map(|b| zone.find(b))
            .min()
            .unwrap_or(zone.len());
        (start, after + cut)
    };
    let mut zones: Vec<(usize, usize)> = hits
        .iter()
        .filter(|h| h.class == Class::Closing)
        .map(|h| zone_from(h.start, h.end))
        .collect();
    // The signature delimiter of RFC 3676: a line of "-- ".
    for delimiter in ["\n-- \n", "\n--\n", "\n-- \r\n", "\n--\r\n"] {
        for (at, _) in text.match_indices(delimiter) {
            zones.push(zone_from(at, at + delimiter.len()));
        }
    }
    zones
}

fn in_zones(zones: &[(usize, usize)], pos: usize) -> bool {
    zones.iter().any(|&(s, e)| s <= pos && pos < e)
}

fn prev_char(text: &str, pos: usize) -> Option<char> {
    text[..pos].chars().next_back()
}

fn boundary_after(text: &str, pos: usize) -> bool {
    !text[pos..]
        .chars()
        .next()
        .is_some_and(char::is_alphanumeric)
}

/// The first ASCII digit at or after `from`, eight bytes at a time.
fn next_digit(b: &[u8], mut from: usize) -> Option<usize> {
    const ZERO: u64 = 0x3030_3030_3030_3030;
    const TEN: u64 = 0x0A0A_0A0A_0A0A_0A0A;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    while from + 8 <= b.len() {
        let w = u64::from_le_bytes(b[from..from + 8].try_into().unwrap_or([0; 8]));
        let x = w ^ ZERO;
        // High bit set in the lowest byte where x < 10 (exact for the first such byte).
        let digits = x.wrapping_sub(TEN) & !x & HIGH;
        if digits != 0 {
            return Some(from + (digits.trailing_zeros() / 8) as usize);
        }
        from += 8;
    }
    b[from..]
        .iter()
        .position(u8::is_ascii_digit)
        .map(|k| from + k)
}

fn skip_alnum(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] >= 0x80) {
        i += 1;
    }
    i
}

/// Up to `len` bytes of `text` from `start`, cut back to a character boundary.
fn window_after(text: &str, start: usize, len: usize) -> &str {
    let mut end = (start + len).min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[start..end]
}

/// Map look-alike characters to the ones detectors expect: exotic spaces to a space, dashes
/// to `-`, full-width digits to ASCII; drop zero-width characters and soft hyphens (used to
/// hide a number from naive scanners).
fn normalize(text: &str) -> std::borrow::Cow<'_, str> {
    // Every character `normalize_char` changes starts with one of these lead bytes, so
    // only those positions are decoded; text is copied in runs between changes.
    let mut out: Option<String> = None;
    let mut copied = 0;
    for pos in memchr::memchr3_iter(0xC2, 0xE2, 0xEF, text.as_bytes()) {
        let Some(c) = text.get(pos..).and_then(|t| t.chars().next()) else {
            continue;
        };
        let mapped = normalize_char(c);
        if mapped == Some(c) {
            continue;
        }
        let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
        o.push_str(&text[copied..pos]);
        if let Some(m) = mapped {
            o.push(m);
        }
        copied = pos + c.len_utf8();
    }
    match out {
        None => std::borrow::Cow::Borrowed(text),
        Some(mut o) => {
            o.push_str(&text[copied..]);
            std::borrow::Cow::Owned(o)
        }
    }
}

fn normalize_char(c: char) -> Option<char> {
    match c {
        '\u{00A0}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' => Some(' '),
        '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}' => None,
        '\u{2010}'..='\u{2015}' | '\u{2212}' => Some('-'),
        '\u{FF10}'..='\u{FF19}' => char::from_u32(c as u32 - 0xFF10 + u32::from(b'0')),
        _ => Some(c),
    }
}

/// Is the health word at `start` the topic of a talk, a text or a rule rather than
/// somebody's condition: "een presentatie over hypertensie", "het protocol COPD", "de
/// richtlijn astma"? "over haar COPD" (a possessive) stays a condition.
fn health_as_topic(text: &str, start: usize) -> bool {
    const TOPIC: &[&str] = &[
        "over",
        "omtrent",
        "rondom",
        "rond",
        "about",
        "protocol",
        "richtlijn",
        "richtlijnen",
        "presentatie",
        "lezing",
        "webinar",
        "cursus",
        "scholing",
        "folder",
        "brochure",
        "thema",
        "themaavond",
        "themabijeenkomst",
        "boek",
        "artikel",
        "standaard",
        "zorgstandaard",
        "nhg-standaard",
        "werkinstructie",
        "voorlichting",
        "kennis",
        "expertise",
        "onderzoek naar",
        "congres",
    ];
    const POSSESSIVE: &[&str] = &[
        "haar",
        "zijn",
        "hun",
        "mijn",
        "uw",
        "je",
        "jouw",
        "zijn/haar",
        "her",
        "his",
        "their",
    ];
    let before = window_before(text, start, 48).to_lowercase();
    let words: Vec<&str> = before
        .split(|c: char| !c.is_alphanumeric() && c != '-' && c != '/')
        .filter(|w| !w.is_empty())
        .collect();
    // Up to three words back: "over de behandeling van diabetes" counts, "over haar
    // diabetes" does not.
    for (back, w) in words.iter().rev().take(4).enumerate() {
        if POSSESSIVE.contains(w) {
            return false;
        }
        if back < 4 && TOPIC.contains(w) {
            return true;
        }
    }
    false
}

/// Is the word at `start..end` (extended to the end of the word, or over one hyphen) the
/// name of a service rather than a condition: "diabeteszorg", "astmaspreekuur",
/// "COPD-spreekuren", "diabetesverpleegkundige"?
fn service_word(text: &str, start: usize, end: usize) -> bool {
    const SERVICE: &[&str] = &[
        "zorg",
        "ketenzorg",
        "spreekuur",
        "spreekuren",
        "team",
        "poli",
        "polikliniek",
        "protocol",
        "richtlijn",
        "voorlichting",
        "verpleegkundige",
        "consulent",
        "educatie",
        "programma",
        "week",
        "dag",
        "fonds",
        "vereniging",
        "campagne",
        "project",
        "module",
        "cursus",
        "scholing",
        "zorgpad",
        "zorgprogramma",
        "praktijk",
        "centrum",
        "kliniek",
        "screening",
        "controles",
        "onderzoek",
        "specialist",
        "instelling",
        "aanbieder",
    ];
    let b = text.as_bytes();
    let mut e = end;
    while e < b.len() && (b[e].is_ascii_alphabetic() || b[e] >= 0x80) {
        e += 1;
    }
    let tail = if e > end {
        &text[end..e]
    } else if b.get(end) == Some(&b'-') {
        let mut f = end + 1;
        while f < b.len() && (b[f].is_ascii_alphabetic() || b[f] >= 0x80) {
            f += 1;
        }
        &text[end + 1..f]
    } else {
        return false;
    };
    let _ = start;
    let tail = tail.to_lowercase();
    SERVICE
        .iter()
        .any(|s| tail == *s || tail.ends_with(s) && tail.len() <= s.len() + 2)
}

/// A dose or a lab value's unit right after a number: `500 mg`, `2dd`, `2 dd`, `53 mmol/mol`,
/// `145/90 mmHg`, `3x daags`.
fn measure_after(b: &[u8], end: usize) -> Option<(Class, &'static str)> {
    const UNITS: &[(&[u8], Class, &str)] = &[
        (b"mmol/mol", Class::Lab, "lab value"),
        (b"mmol/l", Class::Lab, "lab value"),
        (b"\xc2\xb5mol/l", Class::Lab, "lab value"),
        (b"umol/l", Class::Lab, "lab value"),
        (b"mmhg", Class::Lab, "lab value"),
        (b"ml/min", Class::Lab, "lab value"),
        (b"mg/dl", Class::Lab, "lab value"),
        (b"mg/l", Class::Lab, "lab value"),
        (b"g/dl", Class::Lab, "lab value"),
        (b"x10^9/l", Class::Lab, "lab value"),
        (b"x 10^9/l", Class::Lab, "lab value"),
        (b"u/l", Class::Lab, "lab value"),
        (b"e/l", Class::Lab, "lab value"),
        (b"mg", Class::Medication, "dose"),
        (b"mcg", Class::Medication, "dose"),
        (b"\xc2\xb5g", Class::Medication, "dose"),
        (b"microgram", Class::Medication, "dose"),
        (b"milligram", Class::Medication, "dose"),
        (b"ie", Class::Medication, "dose"),
        (b"dd", Class::Medication, "dose"),
        (b"x daags", Class::Medication, "dose"),
        (b"x per dag", Class::Medication, "dose"),
        (b"maal daags", Class::Medication, "dose"),
        (b"keer daags", Class::Medication, "dose"),
        (b"keer per dag", Class::Medication, "dose"),
    ];
    let mut j = end;
    if b.get(j) == Some(&b' ') {
        j += 1;
    }
    let first = b.get(j)?.to_ascii_lowercase();
    if !matches!(
        first,
        b'm' | b'u' | b'g' | b'x' | b'e' | b'i' | b'd' | b'k' | 0xC2
    ) {
        return None;
    }
    for (unit, class, term) in UNITS {
        let Some(candidate) = b.get(j..j + unit.len()) else {
            continue;
        };
        if candidate.eq_ignore_ascii_case(unit)
            && !b.get(j + unit.len()).is_some_and(u8::is_ascii_alphabetic)
        {
            return Some((*class, term));
        }
    }
    None
}

/// A date written as digits (`14-02-1961`, `14/2/61`, `14.02.1961`, `1961-02-14`) or with
/// the month in words (`14 februari 1961`), starting at this group.
fn date_in_group(text: &str, g: &Group, lens: &[usize]) -> Option<DateAt> {
    let num = |k: usize| -> u32 {
        let (s, e) = g.chunks[k];
        text[s..e].parse().unwrap_or(0)
    };
    let mut seps = g.seps();
    let mut lens = lens;
    let mut group_end = g.end;
    // A date followed by a space and another number ("02-02-1951 2. Hamza", a list the
    // HTML took the line breaks out of): the first three pieces.
    if g.n > 3 && seps[2] == b' ' {
        lens = &lens[..3];
        seps = &seps[..2];
        group_end = g.chunks[2].1;
    }
    let (day, month, year, end) = match (lens, uniform(seps)) {
        ([1 | 2, 1 | 2, 2 | 4], Some(b'-' | b'/' | b'.')) => (num(0), num(1), num(2), group_end),
        ([4, 1 | 2, 1 | 2], Some(b'-')) => (num(2), num(1), num(0), group_end),
        ([1 | 2], _) => {
            // "14 februari 1961", "3 okt. 1958"
            let rest = window_after(text, g.end, 20);
            let rest = rest.strip_prefix(' ')?;
            let word_len = rest
                .find(|c: char| !c.is_alphabetic())
                .unwrap_or(rest.len());
            if word_len < 3 {
                return None;
            }
            let month = month_number(&rest[..word_len])?;
            let full = rest[..word_len].to_ascii_lowercase();
            let known = [
                "januari",
                "februari",
                "maart",
                "april",
                "mei",
                "juni",
                "juli",
                "augustus",
                "september",
                "oktober",
                "november",
                "december",
                "jan",
                "feb",
                "mrt",
                "apr",
                "jun",
                "jul",
                "aug",
                "sep",
                "sept",
                "okt",
                "nov",
                "dec",
                "january",
                "february",
                "march",
                "may",
                "june",
                "july",
                "august",
                "october",
            ];
            if !known.contains(&full.as_str()) {
                return None;
            }
            let after = rest[word_len..].trim_start_matches('.');
            let after = after.strip_prefix(' ')?;
            if after.len() < 4 || !after.as_bytes()[..4].iter().all(u8::is_ascii_digit) {
                return None;
            }
            if after.as_bytes().get(4).is_some_and(u8::is_ascii_digit) {
                return None;
            }
            let year: u32 = after[..4].parse().ok()?;
            // `after` is a slice of `text`: its offset is where the year starts.
            let end = after.as_ptr() as usize - text.as_ptr() as usize + 4;
            (num(0), month, year, end)
        }
        _ => return None,
    };
    let year = match year {
        0..=29 if lens.last() == Some(&2) => 2000 + year,
        30..=99 if lens.last() == Some(&2) => 1900 + year,
        y => y,
    };
    let valid =
        (1..=31).contains(&day) && (1..=12).contains(&month) && (1880..=2100).contains(&year);
    valid.then_some(DateAt {
        start: g.start,
        end,
        date: Date { day, month, year },
    })
}

/// Days since 1970-01-01 of a calendar date.
fn days_from_civil(y: u32, m: u32, d: u32) -> i64 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date written right beside a name, as a date of birth: `Noor Jansen (14-02-1961)`,
/// `Noor Jansen, 14-02-1961`, `Noor Jansen, geb. 14 februari 1961`, `14-02-1961 Noor
/// Jansen`. Not a date followed by a time (an appointment), nor one in the future or the
/// last month.
fn adjacent_date<'d>(
    text: &str,
    m: &NameMention,
    dates: &'d [DateAt],
    today: Option<i64>,
) -> Option<&'d DateAt> {
    let plausible = |d: &DateAt| {
        let after = window_after(text, d.end, 12).trim_start_matches([' ', ',', ')']);
        let time = after.starts_with("om ")
            || after.as_bytes().get(..5).is_some_and(|t| {
                t[0].is_ascii_digit() && (t[1] == b':' || t[1] == b'.' && t[2].is_ascii_digit())
                    || t[0].is_ascii_digit() && t[1].is_ascii_digit() && matches!(t[2], b':' | b'.')
            });
        let old_enough = today.is_none_or(|t| {
            t - days_from_civil(d.date.year, d.date.month, d.date.day) >= DOB_MIN_AGE_DAYS
        });
        // "maandag 19-05-2026", "di 12/3": a weekday names an appointment or a shift.
        let before = window_before(text, d.start, 12).to_lowercase();
        let weekday = before
            .trim_end_matches([' ', ','])
            .rsplit(|c: char| !c.is_alphabetic())
            .next()
            .is_some_and(|w| WEEKDAYS.contains(&w));
        !time && !weekday && old_enough && d.date.year >= 1900
    };
    // Dates are in text order: only those that start near the name.
    let from = dates.partition_point(|d| d.end + 8 < m.start);
    dates[from..]
        .iter()
        .take_while(|d| d.start <= m.end + 24)
        .find(|d| {
            let after_name = d.start >= m.end && d.start - m.end <= 24 && {
                let gap = text[m.end..d.start].to_lowercase();
                let words = gap.trim_matches(|c: char| " ,(:-*\t|;".contains(c));
                matches!(
                    words,
                    "" | "geb."
                        | "geb"
                        | "geboren"
                        | "geboren op"
                        | "geb. op"
                        | "geboortedatum"
                        | "geboortedatum:"
                        | "dob"
                        | "born"
                ) && !gap.contains('\n')
            };
            let before_name = d.end <= m.start
                && m.start - d.end <= 4
                && text[d.end..m.start]
                    .chars()
                    .all(|c| " ,)-:|;\t".contains(c));
            (after_name || before_name) && plausible(d)
        })
}

/// The hits (in text order) that overlap `from..to`.
fn hits_near(hits: &[Hit], from: usize, to: usize) -> impl Iterator<Item = &Hit> {
    let first = hits.partition_point(|h| h.end < from);
    hits[first..].iter().take_while(move |h| h.start <= to)
}

/// Up to `len` bytes of `text` before `end`, cut forward to a character boundary.
fn window_before(text: &str, end: usize, len: usize) -> &str {
    let mut start = end.saturating_sub(len);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..end]
}

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
    findings: Vec<Finding>,
    /// The dedup key (kind, location, value) of each finding, aligned with `findings`.
    keys: Vec<String>,
    index: HashMap<String, usize>,
    /// Reused buffer for building keys.
    scratch: String,
    dob_values: HashSet<String>,
    iban_values: HashSet<String>,
    bsn_values: HashSet<String>,
    /// IBANs written next to a person's name.
    named_ibans: HashSet<String>,
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
            index: HashMap::new(),
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
        self.scratch.clear();
        self.scratch.push_str(custom.map_or(kind.as_str(), |c| c));
        self.scratch.push('\u{1}');
        self.scratch.push_str(location);
        self.scratch.push('\u{1}');
        self.scratch.push_str(value);
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

    /// A medium-confidence BSN (no label, no person context) that an organisation-defined
    /// identifier explains becomes low: the organisation knows its own numbers.
    pub(crate) fn explained_bsn(&mut self, location: &str, digits: &str) {
        self.scratch.clear();
        self.scratch.push_str(Kind::Bsn.as_str());
        self.scratch.push('\u{1}');
        self.scratch.push_str(location);
        self.scratch.push('\u{1}');
        self.scratch.push_str(digits);
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

#[cfg(test)]
mod tests;
