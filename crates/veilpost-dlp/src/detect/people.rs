//! People: names beside a date (a date of birth), after a relation or role word, and, where
//! health words are about, every name that is not the sender's, the addressee's or a care
//! giver's. The names themselves come from `names.rs`.

use super::*;

impl Engine {
    /// Names of people: with a date beside them (a date of birth, even without
    /// "geboren"), after a relation or role word, and (when health words are about) every
    /// name that is not the sender's, the addressee's or a care giver's. Also identity
    /// document numbers next to a person with a date of birth, and named IBANs.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn scan_names(
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
        // A health word on a quoted header line ("Onderwerp: ...") is like one in the
        // subject: it makes the names on its own line candidates, not every name in the
        // text.
        let mut windows: Vec<(usize, usize)> = Vec::new();
        let mut health = !facts.measures.is_empty();
        if !health {
            let mut words = hits
                .iter()
                .filter(|h| h.class.is_health() && !in_zones(signatures, h.start))
                .peekable();
            if words.peek().is_some() {
                let headers = header_lines(text);
                for h in words {
                    match line_at(&headers, h.start) {
                        Some(k) => windows.push(headers[k]),
                        None => health = true,
                    }
                }
            }
        }
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
            // "Lotte (17)", "Sven, 5 jaar": a name with an age is somebody in particular.
            let aged = age_after(&text[m.end..]);
            let strength = match (related || aged, m.shape) {
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
                } else if aged {
                    &["name", "age"]
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
    pub(super) fn mentions_in(
        &self,
        text: &str,
        mut windows: Vec<(usize, usize)>,
    ) -> Vec<NameMention> {
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
    pub(super) fn not_the_subject(
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
        // Dutch writes the jurist's "mr." in lower case; "Mr. Peter Evans" is English for
        // "meneer".
        let english_mister = |h: &Hit| &text[h.start..h.end] == "Mr" && m.shape == NameShape::Full;
        let professional = hits_near(hits, m.start.saturating_sub(40), m.end + 40).any(|h| {
            h.class == Class::Professional
                && !english_mister(h)
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
        if staff_row(&rest_of_line) {
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
    pub(super) fn document_near(
        &self,
        text: &str,
        pos: usize,
        location: &str,
        out: &mut Collector,
    ) {
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
}

/// The date written right beside a name, as a date of birth: `Noor Jansen (14-02-1961)`,
/// `Noor Jansen, 14-02-1961`, `Noor Jansen, geb. 14 februari 1961`, `14-02-1961 Noor
/// Jansen`. Not a date followed by a time (an appointment), nor one in the future or the
/// last month.
pub(super) fn adjacent_date<'d>(
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
            .is_some_and(|w| WEEKDAY_NAMES.contains(&w) || WEEKDAYS_MORE.contains(&w));
        !time && !weekday && old_enough && d.date.year >= 1900
    };
    // Dates are in text order: only those that start near the name.
    let from = dates.partition_point(|d| d.end + 8 < m.start);
    let near = || dates[from..].iter().take_while(|d| d.start <= m.end + 24);
    // The date after the name first: in "Jan de Graaf 12-06-1944, Truus Bakker
    // 03-09-1950" Truus's date is the one after her name, not Jan's before it.
    let after_name = |d: &DateAt| {
        d.start >= m.end && d.start - m.end <= 24 && {
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
        }
    };
    let before_name = |d: &DateAt| {
        d.end <= m.start
            && m.start - d.end <= 4
            && text[d.end..m.start]
                .chars()
                .all(|c| " ,)-:|;\t".contains(c))
    };
    near()
        .find(|d| after_name(d) && plausible(d))
        .or_else(|| near().find(|d| before_name(d) && plausible(d)))
}

/// Does `rest` (the text right after a name) give an age: "(17)", "(5 jaar)", ", 12 jr"?
fn age_after(rest: &str) -> bool {
    let rest = rest.trim_start_matches([' ', '\t']);
    let (inner, bracketed) = match rest.strip_prefix('(') {
        Some(r) => (r.trim_start(), true),
        None => match rest.strip_prefix(',') {
            Some(r) => (r.trim_start(), false),
            None => return false,
        },
    };
    let digits = inner.bytes().take_while(u8::is_ascii_digit).count();
    let Ok(age) = inner[..digits].parse::<u32>() else {
        return false;
    };
    if digits > 3 || age > 120 {
        return false;
    }
    let after = inner[digits..].trim_start();
    let unit = ["jaar", "jr.", "jr", "j.", "j"]
        .iter()
        .find(|u| {
            after
                .get(..u.len())
                .is_some_and(|w| w.eq_ignore_ascii_case(u))
        })
        .map_or(0, |u| u.len());
    let after = after[unit..].trim_start();
    if bracketed {
        after.starts_with(')')
    } else {
        unit > 0 && !after.starts_with(|c: char| c.is_alphanumeric())
    }
}

/// Is this (lower-cased) rest of a line a row of a staff list read with its header,
/// "Naam: Jan Bos; Toestel: 123; Functie: Gezinsvoogd": a colleague and their job?
pub(super) fn staff_row(rest_of_line: &str) -> bool {
    const JOB_COLUMNS: &[&str] = &[
        "; functie:",
        "; rol:",
        "; beroep:",
        "; discipline:",
        "; function:",
        "; role:",
        "; job title:",
    ];
    JOB_COLUMNS.iter().any(|c| rest_of_line.contains(c))
}

#[cfg(test)]
mod tests {
    use super::age_after;

    #[test]
    fn ages_after_a_name() {
        for (rest, want) in [
            (" (17)", true),
            ("(5 jaar) heeft", true),
            (" ( 12 jr )", true),
            (", 14 jr: hij", true),
            (", 3 jaar.", true),
            (" (2026)", false),
            (" (121)", false),
            (", 14 dagen", false),
            (", 14", false),
            (" (kamer 12)", false),
            (" 17", false),
            ("", false),
        ] {
            assert_eq!(age_after(rest), want, "{rest:?}");
        }
    }
}
