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
mod keywords;
mod vocab;

use std::collections::{HashMap, HashSet};

use regex::Regex;

use crate::report::{Confidence, Finding, Kind, Reason, Report, Verdict};

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
}

impl Class {
    fn is_health(self) -> bool {
        matches!(
            self,
            Class::Diagnosis | Class::Medication | Class::Lab | Class::Care
        )
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
            PersonStrength::Titled => 600,
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
}

/// What the subject of a message lends to its body: the people and health terms it names.
#[derive(Debug, Clone, Default)]
pub struct Carry {
    persons: Vec<Person>,
    health: Vec<(Class, &'static str)>,
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
    re_initials: Regex,
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
        let re_initials = Regex::new(&format!(
            r"(?:^|[^\p{{L}}\p{{N}}.])(?P<ini>(?:\p{{Lu}}\.\s?){{1,4}})(?:{particles}\s+){{0,3}}(?P<sur>\p{{Lu}}\p{{Ll}}{{2,}}(?:-\p{{Lu}}\p{{Ll}}+)?)"
        ))
        .expect("initials regex");
        Engine {
            keywords,
            terms,
            re_date,
            re_passport,
            re_licence,
            re_name_after,
            re_initials,
        }
    }

    /// Scan one text on its own and return its findings (no verdict). Handy for tests and
    /// for callers that have plain text rather than a message.
    pub fn findings(&self, text: &str, location: &str) -> Vec<Finding> {
        let mut out = Collector::new(usize::MAX);
        self.scan_segment(text, location, &mut out, None);
        out.findings
    }

    /// Scan one text and draw a verdict from it alone.
    pub fn report(&self, text: &str, location: &str) -> Report {
        let mut out = Collector::new(usize::MAX);
        self.scan_segment(text, location, &mut out, None);
        out.finish()
    }

    /// Scan one segment (a subject, a body, one attachment's text) into `out`.
    ///
    /// `carry` holds what the message's subject named; the returned value is what this
    /// segment lends to later ones (used for the subject).
    pub(crate) fn scan_segment(
        &self,
        text: &str,
        location: &str,
        out: &mut Collector,
        carry: Option<&Carry>,
    ) -> Carry {
        let normalized = normalize(text);
        let text: &str = &normalized;
        let hits = self.keyword_hits(text);
        let mut persons = Vec::new();
        self.scan_numbers(text, &hits, location, out, &mut persons);
        scan_emails(text, location, out);
        self.scan_labels(text, &hits, location, out, &mut persons);
        let signatures = signature_zones(text, &hits);
        self.scan_health(text, &hits, &signatures, location, out, persons, carry)
    }

    fn keyword_hits(&self, text: &str) -> Vec<Hit> {
        self.keywords
            .find(text)
            .into_iter()
            .map(|m| Hit {
                start: m.start,
                end: m.end,
                class: self.terms[m.pattern].class,
                term: m.pattern as u32,
            })
            .collect()
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
                    && let Some(end) = self.try_iban(text, start - 2, location, out)
                {
                    i = end;
                    continue;
                }
                i = skip_alnum(b, start);
                continue;
            }
            let group = Group::parse(b, start);
            i = group.end;
            self.classify_group(text, &group, prev, hits, location, out, persons);
        }
    }

    /// IBAN starting at `p` (the country code). Returns the end offset when valid.
    fn try_iban(&self, text: &str, p: usize, location: &str, out: &mut Collector) -> Option<usize> {
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
        out.add(Kind::Iban, location, Confidence::High, &value, excerpt);
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
    ) {
        let b = text.as_bytes();
        let next = b.get(g.end).copied();
        // An amount with decimals (123.456.782,00).
        if next == Some(b',') && b.get(g.end + 1).is_some_and(u8::is_ascii_digit) {
            return;
        }
        let mut lens = [0usize; Group::MAX];
        for (k, (s, e)) in g.chunks().enumerate() {
            lens[k] = e - s;
        }
        let lens = &lens[..g.n];
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
        let mut confidence = bsn_context(hits, start, end);
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
            });
        }
        let excerpt = checks::mask_keep_last(&text[start..end], 3);
        out.add(Kind::Bsn, location, confidence, &value, excerpt);
    }

    /// Dates of birth, identity documents: values that only count next to their label.
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
                        });
                        out.add(
                            Kind::DateOfBirth,
                            location,
                            Confidence::High,
                            &value,
                            format!("**-**-{}", date.year),
                        );
                    }
                }
                Class::IdLabel => {
                    let window = window_after(text, h.end, 50);
                    let licence = self.term(h).to_ascii_lowercase().starts_with("rijbewijs");
                    let found = self
                        .re_passport
                        .captures(window)
                        .and_then(|c| c.get(1))
                        .filter(|m| m.as_str().bytes().filter(u8::is_ascii_digit).count() >= 2)
                        .or_else(|| {
                            licence
                                .then(|| self.re_licence.captures(window).and_then(|c| c.get(1)))
                                .flatten()
                        });
                    if let Some(m) = found {
                        let value = m.as_str().to_ascii_uppercase();
                        let excerpt =
                            format!("{} {}", self.term(h), checks::mask_keep_last(&value, 1));
                        out.add(
                            Kind::IdDocument,
                            location,
                            Confidence::High,
                            &value,
                            excerpt,
                        );
                    }
                }
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
                        );
                    }
                }
                _ => {}
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

    #[allow(clippy::too_many_arguments)]
    fn scan_health(
        &self,
        text: &str,
        hits: &[Hit],
        signatures: &[(usize, usize)],
        location: &str,
        out: &mut Collector,
        mut persons: Vec<Person>,
        carry: Option<&Carry>,
    ) -> Carry {
        // Care words in a signature name the sender's organisation, not a patient's care.
        let health: Vec<&Hit> = hits
            .iter()
            .filter(|h| h.class.is_health() && !in_zones(signatures, h.start))
            .collect();
        let inherited_health = carry.map_or(&[][..], |c| &c.health[..]);
        if health.is_empty() && inherited_health.is_empty() {
            return Carry {
                persons: self.names(text, hits, signatures, persons),
                health: Vec::new(),
            };
        }
        persons = self.names(text, hits, signatures, persons);
        let mut all_persons = persons.clone();
        if let Some(c) = carry {
            all_persons.extend(c.persons.iter().map(|p| Person {
                pos: None,
                ..p.clone()
            }));
        }
        let general = hits.iter().any(|h| h.class == Class::GeneralAudience);
        let mut terms: Vec<(Class, &'static str, Option<usize>)> = health
            .iter()
            .map(|h| (h.class, self.term(h), Some(h.start)))
            .collect();
        terms.extend(inherited_health.iter().map(|(c, t)| (*c, *t, None)));
        let any_strong_term = terms.iter().any(|(c, _, _)| *c != Class::Care);
        let distinct_care: HashSet<&str> = terms
            .iter()
            .filter(|(c, _, _)| *c == Class::Care)
            .map(|(_, t, _)| *t)
            .collect();

        let mut best: Option<(Confidence, &Person)> = None;
        let mut used_terms: Vec<&'static str> = Vec::new();
        for (class, term, pos) in &terms {
            let near = all_persons.iter().filter(|p| match (p.pos, pos) {
                (Some(a), Some(b)) => a.abs_diff(*b) <= p.strength.reach(),
                _ => true,
            });
            let Some(person) = near.max_by_key(|p| p.strength) else {
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
            if best.is_none_or(|(c, _)| confidence > c) {
                best = Some((confidence, person));
            }
        }
        if let Some((confidence, person)) = best {
            let excerpt = format!("{} ({})", used_terms.join(", "), person.masked);
            let key = format!("{}|{}", used_terms.join(","), person.masked);
            out.add(Kind::Health, location, confidence, &key, excerpt);
        }
        Carry {
            persons,
            health: terms
                .iter()
                .filter(|(_, _, p)| p.is_some())
                .map(|(c, t, _)| (*c, *t))
                .collect(),
        }
    }

    /// Names of people the text is about, with signatures and care givers left out.
    fn names(
        &self,
        text: &str,
        hits: &[Hit],
        signatures: &[(usize, usize)],
        mut persons: Vec<Person>,
    ) -> Vec<Person> {
        let signature = |pos: usize| in_zones(signatures, pos);
        // "mevrouw Jansen, diëtist": a profession right after the name is a care giver's.
        let profession_after = |end: usize| {
            hits.iter()
                .any(|h| h.class == Class::Professional && h.start >= end && h.start - end <= 20)
        };
        for h in hits {
            let strength = match h.class {
                Class::Title => PersonStrength::Titled,
                Class::Role => PersonStrength::Strong,
                _ => continue,
            };
            let window = window_after(text, h.end, 80);
            let Some(c) = self.re_name_after.captures(window) else {
                continue;
            };
            if c.name("acad").is_some() || signature(h.start) {
                continue;
            }
            let Some(sur) = c.name("sur") else { continue };
            if strength == PersonStrength::Titled && profession_after(h.end + sur.end()) {
                continue;
            }
            let name = format!("{} {}", &text[h.start..h.end], sur.as_str());
            persons.push(Person {
                pos: Some(h.start),
                strength,
                masked: checks::mask_name(&name, 1),
            });
        }
        let cheap_exit = !hits
            .iter()
            .any(|h| h.class.is_health() && !signature(h.start));
        if cheap_exit {
            return persons;
        }
        for c in self.re_initials.captures_iter(text) {
            let (Some(ini), Some(sur)) = (c.name("ini"), c.name("sur")) else {
                continue;
            };
            let initials: String = ini
                .as_str()
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            if matches!(
                initials.as_str(),
                "N.B."
                    | "P.S."
                    | "A.S."
                    | "B.V."
                    | "N.V."
                    | "C.Q."
                    | "E.E.A."
                    | "I.V.M."
                    | "T.A.V."
                    | "M.B.T."
            ) {
                continue;
            }
            let start = ini.start();
            let by_professional = hits
                .iter()
                .any(|h| h.class == Class::Professional && h.end <= start && start - h.end <= 12);
            if by_professional || signature(start) || profession_after(sur.end()) {
                continue;
            }
            let name = &text[start..sur.end()];
            persons.push(Person {
                pos: Some(start),
                strength: PersonStrength::Initials,
                masked: checks::mask_name(name, 0),
            });
        }
        persons
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

/// Confidence that a checksum-valid 9-digit number at `start..end` is a BSN, from its labels.
fn bsn_context(hits: &[Hit], start: usize, end: usize) -> Confidence {
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
        Some(Class::BsnNegative) => return Confidence::Low,
        Some(Class::BsnLabel) => return Confidence::High,
        _ => {}
    }
    let within =
        |h: &Hit, before: usize, after: usize| h.end + before >= start && h.start <= end + after;
    if near
        .iter()
        .any(|h| h.class == Class::BsnLabel && within(h, LABEL_BEFORE, LABEL_AFTER))
    {
        return Confidence::High;
    }
    if near
        .iter()
        .any(|h| h.class == Class::BsnNegative && within(h, NEGATIVE_BEFORE, 30))
    {
        return Confidence::Low;
    }
    if near.iter().any(|h| {
        matches!(h.class, Class::Role | Class::DobLabel | Class::Title)
            && within(h, WEAK_CONTEXT, WEAK_CONTEXT)
    }) {
        return Confidence::High;
    }
    Confidence::Medium
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
    out.add_lazy(Kind::Phone, location, Confidence::Medium, value, || {
        checks::mask_keep_last(raw, 2)
    });
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
    hits.iter()
        .filter(|h| h.class == Class::Closing)
        .map(|h| {
            let zone = window_after(text, h.end, SIGNATURE_SPAN);
            let cut = BOUNDARIES
                .iter()
                .filter_map(|b| zone.find(b))
                .min()
                .unwrap_or(zone.len());
            (h.start, h.end + cut)
        })
        .collect()
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
    ) {
        self.add_lazy(kind, location, confidence, value, || excerpt);
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
    ) {
        self.scratch.clear();
        self.scratch.push_str(kind.as_str());
        self.scratch.push('\u{1}');
        self.scratch.push_str(location);
        self.scratch.push('\u{1}');
        self.scratch.push_str(value);
        if let Some(&i) = self.index.get(self.scratch.as_str()) {
            let f = &mut self.findings[i];
            if confidence > f.confidence {
                f.confidence = confidence;
                f.excerpt = excerpt();
            }
            return;
        }
        let key = self.scratch.clone();
        let finding = Finding {
            kind,
            location: location.to_string(),
            confidence,
            excerpt: excerpt(),
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

    pub(crate) fn uninspectable(&mut self, location: &str, reason: &str) {
        self.add(
            Kind::Uninspectable,
            location,
            Confidence::High,
            reason,
            reason.to_string(),
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
        let dates_of_birth = self.dob_values.len();
        let ibans = self.iban_values.len();
        if dates_of_birth >= 2
            || ibans >= 10
            || (ibans >= 3 && dates_of_birth + self.bsn_values.len() >= 1)
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
