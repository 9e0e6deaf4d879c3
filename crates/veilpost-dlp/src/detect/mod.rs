//! Detectors: text in, findings out.
//!
//! One pass over the word starts finds every keyword (labels, context words, the health
//! vocabulary; `keywords`), one SIMD search the compound endings; one hand-written pass
//! over the digits finds number groups (BSN, phone, postcode) and IBANs; `@` is found with
//! memchr. Everything else (dates of birth, document
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

mod care_words;
pub mod checks;
mod collector;
pub mod custom;
mod health;
mod health_words;
mod keywords;
mod labels;
mod masks;
mod name_words;
mod names;
mod numbers;
mod people;
mod text;
mod vocab;

use std::collections::HashSet;

use regex::Regex;

use crate::report::{Confidence, Finding, Kind, Reason, Report, Verdict};

pub(crate) use collector::{Collector, Rule};
pub use custom::{Checksum, CustomIdentifier, IdentifierError};
use health::*;
pub use names::{NameMention, NameShape};
use numbers::*;
use text::*;

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
/// Dutch weekday names: never a name, and a date after one is an appointment.
pub(super) const WEEKDAY_NAMES: &[&str] = &[
    "maandag",
    "dinsdag",
    "woensdag",
    "donderdag",
    "vrijdag",
    "zaterdag",
    "zondag",
];
/// Dutch month names: never a name, and the month of a date written in words.
pub(super) const MONTH_NAMES: &[&str] = &veilpost_text::dates::MONTHS_NL;
/// Month names the date pass reads besides the Dutch ones: abbreviations and English.
const MONTH_WORDS_MORE: &[&str] = &[
    "jan", "feb", "mrt", "apr", "jun", "jul", "aug", "sep", "sept", "okt", "nov", "dec", "january",
    "february", "march", "may", "june", "july", "august", "october",
];
/// Weekday abbreviations and English weekdays that, like `WEEKDAY_NAMES`, make the date
/// after them an appointment.
const WEEKDAYS_MORE: &[&str] = &[
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
    /// Compound words by their ending (one SIMD search for all endings), and the index of
    /// the first ending's term.
    re_endings: aho_corasick::packed::Searcher,
    endings_from: usize,
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
            (Class::Diagnosis, health_words::DIAGNOSES),
            (Class::Medication, health_words::MEDICATION),
            (Class::Lab, health_words::LAB),
            (Class::Care, care_words::CARE),
            (Class::Social, care_words::SOCIAL),
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
        // Terms for compound words found by their ending (after the keywords' own, so
        // that a keyword's index is its term's).
        let endings_from = terms.len();
        for (class, list) in [
            (Class::Diagnosis, health_words::CONDITION_ENDINGS),
            (Class::Care, health_words::TREATMENT_ENDINGS),
        ] {
            for &text in list {
                terms.push(Term {
                    class,
                    prefix: false,
                    text,
                });
            }
        }
        let re_endings = aho_corasick::packed::Searcher::new(
            health_words::CONDITION_ENDINGS
                .iter()
                .chain(health_words::TREATMENT_ENDINGS),
        )
        .expect("endings searcher (SIMD)");
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
            re_endings,
            endings_from,
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
        // The normalised copy lives in a per-thread buffer, as the folded one does.
        thread_local! {
            static NORMALIZED: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
        }
        let mut buffer = NORMALIZED.take();
        let carried = self.scan_normalized(normalize(text, &mut buffer), segment, out, carry);
        if buffer.capacity() <= 16 << 20 {
            NORMALIZED.replace(buffer);
        }
        carried
    }

    fn scan_normalized(
        &self,
        text: &str,
        segment: &Segment<'_>,
        out: &mut Collector,
        carry: Option<&Carry>,
    ) -> Carry {
        let location = segment.location;
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
        // Compound words the lists do not name, by their ending: "blindedarmontsteking".
        let listed = hits.len();
        let bytes = text.as_bytes();
        for found in self.re_endings.find_iter(bytes) {
            let (at, k) = (found.start(), found.pattern().as_usize());
            // At least three ASCII letters (a hyphen may join) before the ending, and the
            // word ends after it (or after a plural "en").
            let mut start = at;
            while start > 0 && (bytes[start - 1].is_ascii_alphabetic() || bytes[start - 1] == b'-')
            {
                start -= 1;
            }
            let mut end = found.end();
            if bytes[end..].starts_with(b"en") {
                end += 2;
            }
            let word_end = bytes
                .get(end)
                .is_none_or(|b| !b.is_ascii_alphanumeric() && *b < 0x80);
            let letters = bytes[start..at]
                .iter()
                .filter(|b| b.is_ascii_alphabetic())
                .count();
            let word_start = start == 0 || bytes[start - 1] < 0x80;
            if letters < 3 || !word_end || !word_start {
                continue;
            }
            let from = hits[..listed].partition_point(|h| h.end <= start);
            if hits[from..listed].iter().any(|h| h.start < end) {
                continue;
            }
            hits.push(Hit {
                start,
                end,
                class: self.terms[self.endings_from + k].class,
                term: (self.endings_from + k) as u32,
            });
        }
        if hits.len() > listed {
            hits.sort_by_key(|h| h.start);
        }
        // A health word that names a service, not a person's condition: "diabeteszorg",
        // "COPD-spreekuur", "POH-GGZ", "Jeugd-GGZ".
        let mut keep = vec![true; hits.len()];
        for (k, h) in hits.iter().enumerate() {
            if !h.class.is_health() {
                continue;
            }
            if service_word(text, h.start, h.end)
                || h.class == Class::Care && institution_name(text, h.start, h.end)
                || matches!(h.class, Class::Care | Class::Social) && workplace(text, h.start)
            {
                keep[k] = false;
                continue;
            }
            let title_before = k > 0
                && hits[k - 1].class == Class::Professional
                && h.start >= hits[k - 1].end
                && h.start - hits[k - 1].end <= 2
                // "verpleegkundige GGZ", "POH-GGZ"; after a colon the content begins
                // ("Bericht van de verloskundige: bevalling ...").
                && text[hits[k - 1].end..h.start].chars().all(|c| c == ' ' || c == '-');
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
}

#[cfg(test)]
mod tests;
