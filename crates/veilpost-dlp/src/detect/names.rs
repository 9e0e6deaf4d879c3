//! Person names as Dutch de-identification tools find them: a first name and a surname,
//! initials and a surname, a form of address and a surname, with tussenvoegsels (van, de,
//! van der, ter, in 't, ...), double and hyphenated surnames, and first names alone.
//!
//! The recogniser only finds name-shaped text; whether a name is the person the data is
//! about (and not the sender, the addressee or a care giver) is decided by the detector
//! around it. It is a hand-written pass over capitalised words with hash-set look-ups, so
//! it costs little next to reading the text, and it only runs where a detector asks
//! (near a date, a health term, a relation word).
//!
//! The name lists (`data/first_names.txt`, `data/surnames.txt`) were compiled for
//! Veilpost from public frequency facts; surnames outside the list are recognised by
//! their shape (after a tussenvoegsel, after a known first name, or by a Dutch or Frisian
//! ending).

use std::collections::HashSet;

use super::name_words::{NEVER_SURNAMES, PARTICLES, PLACE_ENDINGS, STOP, SURNAME_ENDINGS, TITLES};
use super::{MONTH_NAMES, WEEKDAY_NAMES};

/// What a name is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NameShape {
    /// A known first name alone ("Daan"): a person only with a date or a relation beside it.
    FirstOnly,
    /// Initials and a surname ("J.P. de Vries").
    Initials,
    /// A first name and a surname ("Noor Jansen", "Daan van Leeuwen", "Anna Bakker-Smit").
    Full,
    /// A form of address and a surname, with or without first name or initials
    /// ("mevrouw Jansen", "dhr. P. de Boer").
    Titled,
}

/// One name found in a text: byte offsets and its shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameMention {
    /// Start of the name (of its form of address, when it has one).
    pub start: usize,
    /// End of the name.
    pub end: usize,
    /// What the name is made of.
    pub shape: NameShape,
}

/// A set asked once for nearly every capitalised word of a text: a fast hash (the sets
/// are built from the lists, never from outside input).
type Set<T> = HashSet<T, foldhash::fast::RandomState>;

/// The compiled name lists.
#[derive(Debug)]
pub(crate) struct NameLists {
    first: Set<String>,
    surnames: Set<String>,
    particles: Set<&'static str>,
    titles: Set<&'static str>,
    stop: Set<&'static str>,
}

/// `f` of `word` lower-cased, without an allocation for a short ASCII word (nearly every
/// word this is asked of).
fn lowered<R>(word: &str, f: impl FnOnce(&str) -> R) -> R {
    let mut buf = [0u8; 24];
    match buf.get_mut(..word.len()) {
        Some(b) if word.is_ascii() => {
            b.copy_from_slice(word.as_bytes());
            b.make_ascii_lowercase();
            f(std::str::from_utf8(b).unwrap_or_default())
        }
        _ => f(&word.to_lowercase()),
    }
}

fn parse_list(text: &str) -> Set<String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .flat_map(str::split_whitespace)
        .map(str::to_lowercase)
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokKind {
    /// A word of letters (with inner apostrophes and hyphens).
    Word,
    /// One or more initials: `J.`, `J.P.`, `J. P. M.`.
    Initials,
}

#[derive(Debug, Clone, Copy)]
struct Tok {
    start: usize,
    end: usize,
    kind: TokKind,
    /// Joined to the previous token by a single space (or nothing but spaces).
    joined: bool,
    /// Joined to the previous token by a comma and spaces ("Jansen, Noor").
    comma: bool,
}

impl Default for NameLists {
    fn default() -> Self {
        Self::new()
    }
}

impl NameLists {
    pub(crate) fn new() -> NameLists {
        NameLists {
            first: parse_list(include_str!("data/first_names.txt")),
            surnames: parse_list(include_str!("data/surnames.txt")),
            particles: PARTICLES.iter().copied().collect(),
            titles: TITLES.iter().copied().collect(),
            stop: STOP
                .iter()
                .chain(WEEKDAY_NAMES)
                .chain(MONTH_NAMES)
                .copied()
                .collect(),
        }
    }

    /// Is this word a known first name?
    pub(crate) fn is_first_name(&self, word: &str) -> bool {
        lowered(word, |lower| {
            self.first.contains(lower) && !self.stop.contains(lower)
        })
    }

    /// Every name in `text[from..to]`, in order, without overlaps.
    pub(crate) fn find(&self, text: &str, from: usize, to: usize) -> Vec<NameMention> {
        let toks = tokenize(text, from, to);
        let mut out = Vec::new();
        let mut i = 0;
        while i < toks.len() {
            match self.name_at(text, &toks, i) {
                Some((mention, next)) => {
                    out.push(mention);
                    i = next;
                }
                None => i += 1,
            }
        }
        out
    }

    fn word<'t>(&self, text: &'t str, t: &Tok) -> &'t str {
        &text[t.start..t.end]
    }

    fn is_particle(&self, text: &str, t: &Tok) -> bool {
        let w = self.word(text, t);
        t.kind == TokKind::Word
            && w.len() <= 5
            && PARTICLES.iter().any(|p| w.eq_ignore_ascii_case(p))
    }

    /// A capitalised word that can be part of a name (not a function word or an
    /// organisation's noun).
    fn is_name_word(&self, text: &str, t: &Tok) -> bool {
        self.name_word(text, t, true)
    }

    /// [`NameLists::is_name_word`]; after a tussenvoegsel (`strict` false) ordinary words
    /// are surnames too ("de Groot", "van Kleef", "de Goede").
    fn name_word(&self, text: &str, t: &Tok, strict: bool) -> bool {
        if t.kind != TokKind::Word {
            return false;
        }
        let w = self.word(text, t);
        let mut chars = w.chars();
        let (Some(c0), Some(c1)) = (chars.next(), chars.next()) else {
            return false;
        };
        // Capitalised, then lower case: "Jansen", "O'Neill", "McDonald", "El-Amrani"; or
        // in capitals when the lists know the word ("JANSEN, PETRA" in a lab's header).
        let capitalised = c0.is_uppercase() && (c1.is_lowercase() || c1 == '\'' || c1 == '’');
        let in_capitals = c0.is_uppercase() && c1.is_uppercase();
        if !capitalised && !in_capitals {
            return false;
        }
        lowered(w, |lower| {
            if !capitalised
                && !(w.chars().all(|c| c.is_uppercase() || c == '-')
                    && (self.first.contains(lower) || self.surnames.contains(lower)))
            {
                return false;
            }
            let stopped = if strict {
                self.stop.contains(lower)
            } else {
                [NEVER_SURNAMES, WEEKDAY_NAMES, MONTH_NAMES]
                    .iter()
                    .any(|list| list.contains(&lower))
            };
            if stopped || self.titles.contains(lower) {
                return false;
            }
            !PLACE_ENDINGS
                .iter()
                .any(|e| lower.len() > e.len() && lower.ends_with(e) || lower == *e)
        })
    }

    fn looks_like_surname(&self, text: &str, t: &Tok) -> bool {
        lowered(self.word(text, t), |lower| {
            let last = lower.rsplit('-').next().unwrap_or(lower);
            self.surnames.contains(last)
                || SURNAME_ENDINGS
                    .iter()
                    .any(|e| last.len() >= e.len() + 2 && last.ends_with(e))
        })
    }

    /// The surname starting at token `i`: particles, then a capitalised word, then perhaps
    /// a second surname joined by a hyphen or particles ("Jansen-de Vries", "Bakker van
    /// der Meer"). Returns the index after it and whether particles led it.
    fn surname_at(&self, text: &str, toks: &[Tok], i: usize) -> Option<(usize, bool)> {
        let mut j = i;
        let mut particles = 0;
        while j < toks.len() && toks[j].joined && particles < 3 && self.is_particle(text, &toks[j])
        {
            // "in", "op", "uit" are tussenvoegsels only before another ("in 't Veld", "op
            // de Beek", "uit den Bogaard"); "Mevr. de Graaf uit Drachten" is not one name.
            let w = self.word(text, &toks[j]);
            let leads_only = ["in", "op", "uit"]
                .iter()
                .any(|p| w.eq_ignore_ascii_case(p));
            if leads_only
                && !toks
                    .get(j + 1)
                    .is_some_and(|n| n.joined && self.is_particle(text, n))
            {
                break;
            }
            j += 1;
            particles += 1;
        }
        let t = toks.get(j)?;
        if !t.joined || !self.name_word(text, t, particles == 0) {
            return None;
        }
        j += 1;
        // "Jansen-de Vries": the word ended in "-de"; tokenize keeps "Jansen-de" as one
        // word, so a hyphenated particle shows as a word ending in one.
        let w = self.word(text, t).to_lowercase();
        let hyphen_particle = w
            .rsplit_once('-')
            .is_some_and(|(_, tail)| self.particles.contains(tail));
        if hyphen_particle {
            let mut k = j;
            while k < toks.len() && toks[k].joined && self.is_particle(text, &toks[k]) {
                k += 1;
            }
            if k < toks.len() && toks[k].joined && self.is_name_word(text, &toks[k]) {
                j = k + 1;
            }
        }
        // A second surname after particles: "Bakker van der Meer".
        let mut k = j;
        let mut second = 0;
        while k < toks.len() && toks[k].joined && second < 3 && self.is_particle(text, &toks[k]) {
            k += 1;
            second += 1;
        }
        if second > 0 && k < toks.len() && toks[k].joined && self.is_name_word(text, &toks[k]) {
            j = k + 1;
        }
        Some((j, particles > 0))
    }

    /// A name starting at token `i`, and the index of the token after it.
    fn name_at(&self, text: &str, toks: &[Tok], i: usize) -> Option<(NameMention, usize)> {
        let t = toks[i];
        // Most words are lower case and start no name: only a form of address or a
        // tussenvoegsel may ("mevrouw Jansen", "van Leeuwen, Daan").
        if t.kind == TokKind::Word {
            let w = self.word(text, &t);
            if !w.chars().next().is_some_and(char::is_uppercase) {
                if let Some(end) = self.lowercase_name(text, toks, i) {
                    return Some(end);
                }
                let bare = w.trim_end_matches('.');
                let may_start = bare.len() <= 9
                    && (TITLES.iter().any(|x| bare.eq_ignore_ascii_case(x))
                        || self.is_particle(text, &t));
                if !may_start {
                    return None;
                }
            }
        }
        let start = t.start;
        let mention = |end: usize, shape| NameMention { start, end, shape };
        if t.kind == TokKind::Initials {
            let (next, _) = self.surname_at(text, toks, i + 1)?;
            let initials: String = self
                .word(text, &t)
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            if is_abbreviation(&initials) {
                return None;
            }
            return Some((mention(toks[next - 1].end, NameShape::Initials), next));
        }
        let lower = self.word(text, &t).trim_end_matches('.').to_lowercase();
        // A form of address: "mevrouw", "dhr.", "de heer", then an optional first name or
        // initials, then the surname.
        if self.titles.contains(lower.as_str()) {
            let mut j = i + 1;
            if let Some(n) = toks.get(j)
                && n.joined
                && (n.kind == TokKind::Initials
                    || n.kind == TokKind::Word && self.is_first_name(self.word(text, n)))
                && self.surname_at(text, toks, j + 1).is_some()
            {
                j += 1;
            }
            let (next, _) = self.surname_at(text, toks, j)?;
            return Some((mention(toks[next - 1].end, NameShape::Titled), next));
        }
        if let Some(found) = self.surname_first(text, toks, i) {
            return Some(found);
        }
        if !self.is_name_word(text, &t) {
            return None;
        }
        // "Wouter-Jan", "Anne-Marie": a double first name of two known ones.
        let known_first = self.first.contains(&lower)
            || lower.contains('-') && lower.split('-').all(|part| self.first.contains(part));
        // More given names: "Anna Maria", "Jan Willem".
        let mut j = i + 1;
        if known_first {
            while j < toks.len()
                && j < i + 3
                && toks[j].joined
                && toks[j].kind == TokKind::Word
                && self.is_first_name(self.word(text, &toks[j]))
                && self.surname_at(text, toks, j + 1).is_some()
            {
                j += 1;
            }
        }
        match self.surname_at(text, toks, j) {
            Some((next, led_by_particle)) => {
                let accepted = known_first
                    || (led_by_particle || self.looks_like_surname(text, &toks[next - 1]))
                        && lower.chars().count() >= 3
                    || next == i + 2
                        && lower.chars().count() >= 3
                        && after_preposition(text, t.start)
                        && !toks
                            .get(next)
                            .is_some_and(|n| n.joined && starts_upper(self.word(text, n)));
                if accepted {
                    return Some((mention(toks[next - 1].end, NameShape::Full), next));
                }
                None
            }
            // A first name alone, unless a capitalised word follows ("Antonius
            // Ziekenhuis" names a hospital, not a person).
            None if known_first
                && !toks
                    .get(i + 1)
                    .is_some_and(|n| n.joined && starts_upper(self.word(text, n))) =>
            {
                Some((mention(t.end, NameShape::FirstOnly), i + 1))
            }
            None => None,
        }
    }
}

impl NameLists {
    /// A name typed without capitals, as in quick chat between colleagues ("de uitslag
    /// van sanne jacobs"): a known first name, perhaps tussenvoegsels, then a word from
    /// the surname list, neither of them a word that is never a name.
    fn lowercase_name(&self, text: &str, toks: &[Tok], i: usize) -> Option<(NameMention, usize)> {
        let first = self.word(text, &toks[i]);
        let lower_word = |t: &Tok| {
            t.kind == TokKind::Word
                && t.joined
                && self
                    .word(text, t)
                    .chars()
                    .next()
                    .is_some_and(char::is_lowercase)
        };
        if first.chars().count() < 3
            || !self.first.contains(first)
            || self.stop.contains(first)
            || self.particles.contains(first)
        {
            return None;
        }
        let mut j = i + 1;
        while j < toks.len()
            && j < i + 4
            && lower_word(&toks[j])
            && self.is_particle(text, &toks[j])
        {
            j += 1;
        }
        let t = toks.get(j)?;
        let surname = self.word(text, t);
        let known = lower_word(t)
            && surname.chars().count() >= 3
            && surname.split('-').all(|part| {
                self.surnames.contains(part)
                    && !self.stop.contains(part)
                    && !NEVER_SURNAMES.contains(&part)
            });
        known.then(|| {
            let mention = NameMention {
                start: toks[i].start,
                end: t.end,
                shape: NameShape::Full,
            };
            (mention, j + 1)
        })
    }
}

/// Does a preposition that introduces a person stand right before `start` ("gesprek met
/// Kwabena Mensah", "een verwijzing voor ..."), so that two capitalised words there are a
/// name even when neither is on the lists?
fn after_preposition(text: &str, start: usize) -> bool {
    const BEFORE_A_PERSON: &[&str] = &["met", "voor", "bij", "over", "with", "for"];
    let before = text[..start].trim_end_matches(' ');
    if before.len() == text[..start].len() {
        return false;
    }
    let word = before
        .rsplit(|c: char| !c.is_alphabetic())
        .next()
        .unwrap_or("");
    BEFORE_A_PERSON.iter().any(|p| word.eq_ignore_ascii_case(p))
}

fn starts_upper(word: &str) -> bool {
    word.chars().next().is_some_and(char::is_uppercase)
}

impl NameLists {
    /// "Jansen, Noor", "Vries, J.P. de", "van Leeuwen, Daan", "Jansen-Smit, A.": a surname,
    /// a comma, then a known first name or initials (and the tussenvoegsel last).
    fn surname_first(&self, text: &str, toks: &[Tok], i: usize) -> Option<(NameMention, usize)> {
        let (after_surname, _) = if self.is_particle(text, &toks[i]) {
            self.surname_at_first(text, toks, i)?
        } else {
            if !self.is_name_word(text, &toks[i]) {
                return None;
            }
            (i + 1, false)
        };
        let given = toks.get(after_surname)?;
        if !given.comma {
            return None;
        }
        let given_ok = match given.kind {
            TokKind::Initials => true,
            TokKind::Word => self.is_first_name(self.word(text, given)),
        };
        // The surname must look like one, or the given name must be a known one.
        let surname_ok = given.kind == TokKind::Word
            || self.looks_like_surname(text, &toks[after_surname - 1])
            || toks[i].kind == TokKind::Word && self.is_particle(text, &toks[i]);
        if !given_ok || !surname_ok {
            return None;
        }
        let mut end = after_surname + 1;
        // A second given name, then a trailing tussenvoegsel: "Vries, Anna Maria de".
        if toks.get(end).is_some_and(|t| {
            t.joined && t.kind == TokKind::Word && self.is_first_name(self.word(text, t))
        }) {
            end += 1;
        }
        while end < toks.len()
            && end < after_surname + 5
            && toks[end].joined
            && self.is_particle(text, &toks[end])
            && self
                .word(text, &toks[end])
                .chars()
                .next()
                .is_some_and(char::is_lowercase)
        {
            end += 1;
        }
        Some((
            NameMention {
                start: toks[i].start,
                end: toks[end - 1].end,
                shape: if given.kind == TokKind::Initials {
                    NameShape::Initials
                } else {
                    NameShape::Full
                },
            },
            end,
        ))
    }

    /// A surname led by tussenvoegsels at token `i` ("van Leeuwen", "'t Hof").
    fn surname_at_first(&self, text: &str, toks: &[Tok], i: usize) -> Option<(usize, bool)> {
        let mut j = i;
        while j < toks.len() && j < i + 3 && self.is_particle(text, &toks[j]) {
            if j > i && !toks[j].joined {
                return None;
            }
            j += 1;
        }
        let t = toks.get(j)?;
        (t.joined && self.name_word(text, t, false)).then_some((j + 1, true))
    }
}

/// Dotted abbreviations that look like initials.
fn is_abbreviation(initials: &str) -> bool {
    matches!(
        initials,
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
            | "O.A."
            | "Z.S.M."
            | "D.W.Z."
            | "I.P.V."
            | "T.Z.T."
            | "V.W.B."
            | "M.I.V."
            | "A.U.B."
            | "S.V.P."
            | "E.D."
            | "I.O."
            | "U.I."
            | "W.G."
            | "I.C."
            | "A.I."
    )
}

/// Words and initials in `text[from..to]`, each marked with whether only spaces stand
/// between it and the previous one.
fn tokenize(text: &str, from: usize, to: usize) -> Vec<Tok> {
    let b = text.as_bytes();
    let mut toks = Vec::new();
    let mut i = from;
    // Whether the gap since the previous token was only spaces (a name does not run
    // across a line break or punctuation).
    let mut clean_gap = false;
    // The gap since the previous token was one comma and spaces.
    let mut commas = 0usize;
    let mut comma_gap = false;
    while i < to {
        let Some(c) = text[i..].chars().next() else {
            break;
        };
        let is_letter = c.is_alphabetic();
        if !is_letter && c != '\'' && c != '’' {
            if c == ',' {
                commas += 1;
            }
            comma_gap = (clean_gap || comma_gap) && (c == ' ' || c == ',') && commas == 1;
            clean_gap = clean_gap && c == ' ';
            i += c.len_utf8();
            continue;
        }
        // Initials: an upper-case letter and a dot, repeated ("J.P.", "J. P.").
        if c.is_uppercase() && b.get(i + c.len_utf8()) == Some(&b'.') {
            let mut j = i;
            let mut n = 0;
            while let Some(l) = text[j..].chars().next() {
                if !(l.is_uppercase() && b.get(j + l.len_utf8()) == Some(&b'.')) {
                    break;
                }
                // A letter right after the dot belongs to a word ("J.Jansen" is rare;
                // "A.Bakker" more so): stop the initials there.
                j += l.len_utf8() + 1;
                n += 1;
                if b.get(j) == Some(&b' ')
                    && text[j + 1..].chars().next().is_some_and(char::is_uppercase)
                    && b.get(j + 2) == Some(&b'.')
                {
                    j += 1;
                }
                if n == 5 {
                    break;
                }
            }
            let ends_word = text[j..].chars().next().is_some_and(char::is_alphabetic);
            if !ends_word {
                toks.push(Tok {
                    start: i,
                    end: j,
                    kind: TokKind::Initials,
                    joined: clean_gap,
                    comma: comma_gap,
                });
                clean_gap = true;
                comma_gap = false;
                commas = 0;
                i = j;
                continue;
            }
        }
        let start = i;
        let mut j = i;
        while j < to {
            let Some(l) = text[j..].chars().next() else {
                break;
            };
            let inner = (l == '\'' || l == '’' || l == '-')
                && text[j + l.len_utf8()..]
                    .chars()
                    .next()
                    .is_some_and(char::is_alphabetic);
            if l.is_alphabetic() || inner || (l == '\'' || l == '’') && j == start {
                j += l.len_utf8();
            } else {
                break;
            }
        }
        if j == start {
            i += c.len_utf8();
            clean_gap = false;
            comma_gap = false;
            continue;
        }
        // "dhr." and "mw.": the dot of an abbreviated title keeps the gap clean.
        let mut end = j;
        let word = &text[start..j];
        if b.get(j) == Some(&b'.')
            && matches!(
                word.to_lowercase().as_str(),
                "dhr" | "mw" | "mevr" | "mej" | "mr" | "mrs" | "ms" | "st" | "vd"
            )
        {
            end = j + 1;
        }
        toks.push(Tok {
            start,
            end,
            kind: TokKind::Word,
            joined: clean_gap,
            comma: comma_gap,
        });
        clean_gap = true;
        comma_gap = false;
        commas = 0;
        i = end;
    }
    toks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<(String, NameShape)> {
        let lists = NameLists::new();
        lists
            .find(text, 0, text.len())
            .into_iter()
            .map(|m| (text[m.start..m.end].to_string(), m.shape))
            .collect()
    }

    use NameShape::*;

    #[test]
    fn name_shapes() {
        let cases: &[(&str, &[(&str, NameShape)])] = &[
            ("Gesprek met Noor Jansen over", &[("Noor Jansen", Full)]),
            ("bij Daan van Leeuwen is", &[("Daan van Leeuwen", Full)]),
            (
                "J.P. de Vries-Bakker kwam",
                &[("J.P. de Vries-Bakker", Initials)],
            ),
            ("J. P. de Boer", &[("J. P. de Boer", Initials)]),
            ("mevrouw El Amrani belde", &[("mevrouw El Amrani", Titled)]),
            ("dhr. P. van der Meer", &[("dhr. P. van der Meer", Titled)]),
            (
                "Anna Maria Jansen-de Vries",
                &[("Anna Maria Jansen-de Vries", Full)],
            ),
            (
                "Sanne Bakker van der Meer",
                &[("Sanne Bakker van der Meer", Full)],
            ),
            ("Lotte in 't Veld", &[("Lotte in 't Veld", Full)]),
            ("Xiomara Oosterhuis", &[("Xiomara Oosterhuis", Full)]),
            ("Tjerkje Hoekstra", &[("Tjerkje Hoekstra", Full)]),
            ("Ayşe Yılmaz", &[("Ayşe Yılmaz", Full)]),
            ("zoon Daan heeft", &[("Daan", FirstOnly)]),
            ("Gemeente Oosterwijk", &[]),
            ("Sint Antonius Ziekenhuis", &[]),
            ("Ministerie van Volksgezondheid", &[]),
            ("N.B. Graag", &[]),
            ("Beste Jan,", &[("Jan", FirstOnly)]),
            ("Noor\nJansen", &[("Noor", FirstOnly)]),
            ("Gesprek met Jansen, Noor over", &[("Jansen, Noor", Full)]),
            ("Vries, J.P. de (patiënt)", &[("Vries, J.P. de", Initials)]),
            ("voor van Leeuwen, Daan is", &[("van Leeuwen, Daan", Full)]),
            ("Utrecht, Amsterdam en Zwolle", &[]),
        ];
        for (text, want) in cases {
            let want: Vec<(String, NameShape)> =
                want.iter().map(|(s, k)| (s.to_string(), *k)).collect();
            assert_eq!(names(text), want, "{text:?}");
        }
    }
}
