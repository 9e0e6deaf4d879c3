//! Health data about a person: health words (diagnosis, medication, lab, care, social
//! domain) near a person reference, minus signatures, topics ("een presentatie over
//! hypertensie") and services ("diabeteszorg").

use std::collections::HashSet;

use super::*;

impl Engine {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn scan_health(
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
            // Or named with a date of birth in the subject: "Betreft: J. de Vries, geb.
            // 12-03-1950" above "de patiënt is verhuisd".
            let born_near = persons.iter().any(|p| {
                p.evidence.contains(&"date_of_birth")
                    && p.pos.is_some_and(|pos| pos.abs_diff(h.start) <= 300)
            }) || carry.is_some_and(|c| {
                c.persons
                    .iter()
                    .any(|p| p.evidence.contains(&"date_of_birth"))
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
        // The header lines of a quoted or forwarded message ("Onderwerp: ...") stand
        // apart: a word on one pairs only with a name on the same line.
        let headers = header_lines(text);
        let header_of = |pos: usize| line_at(&headers, pos);
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
                        .filter(|p| header_of(p.pos.unwrap_or(0)) == header_of(*b))
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
    pub(super) fn role_names(
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
            // Not a table's header row ("Naam<tab>Toestel<tab>Functie"), not a staff
            // list's row.
            let line = window_after(text, h.end, 200);
            let line = &line[..line.find('\n').unwrap_or(line.len())];
            let gap = line.get(..sur.start()).unwrap_or(line);
            if gap.contains('\t') || people::staff_row(&line.to_lowercase()) {
                continue;
            }
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

/// Signatures: from a closing ("Met vriendelijke groet") for a few lines, up to where a
/// quoted or forwarded message begins.
pub(super) fn signature_zones(text: &str, hits: &[Hit]) -> Vec<(usize, usize)> {
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
        // A table after the signature (an HTML mail's list below the greeting) is not
        // part of it: its rows are read as "Header: value; Header: value" or cells
        // apart by tabs.
        let table_row = zone.match_indices('\n').map(|(at, _)| at).find(|&at| {
            let line = zone[at + 1..].split('\n').next().unwrap_or("");
            line.contains('\t') || line.contains("; ") && line.matches(": ").count() >= 2
        });
        let cut = BOUNDARIES
            .iter()
            .filter_map(|b| zone.find(b))
            .chain(table_row)
            .min()
            .unwrap_or(zone.len());
        (start, after + cut)
    };
    let mut zones: Vec<(usize, usize)> = hits
        .iter()
        .filter(|h| h.class == Class::Closing)
        .map(|h| zone_from(h.start, h.end))
        .collect();
    // The signature delimiter of RFC 3676: a line of "-- " (one SIMD search for "\n--",
    // then the line's end: this runs over every text scanned).
    for at in memchr::memmem::find_iter(text.as_bytes(), b"\n--") {
        let rest = &text.as_bytes()[at + 3..];
        let end = ["\n", " \n", "\r\n", " \r\n"]
            .iter()
            .find(|e| rest.starts_with(e.as_bytes()))
            .map(|e| at + 3 + e.len());
        if let Some(end) = end {
            zones.push(zone_from(at, end));
        }
    }
    // Sorted and merged, for `in_zones` to search (a text of thousands of closings stays
    // linear).
    zones.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(zones.len());
    for (s, e) in zones {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    merged
}

/// The header lines of quoted and forwarded messages inside a text ("Van:", "Aan:",
/// "Onderwerp:", "Verzonden:", their English forms), after any "> " quoting.
pub(super) fn header_lines(text: &str) -> Vec<(usize, usize)> {
    const FIELDS: &[&str] = &[
        "van:",
        "aan:",
        "cc:",
        "onderwerp:",
        "verzonden:",
        "datum:",
        "from:",
        "to:",
        "sent:",
        "date:",
        "subject:",
    ];
    let mut lines = Vec::new();
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        let end = start + line.len();
        let bare = line.trim_start_matches(['>', ' ', '\t']);
        let field = FIELDS.iter().any(|f| {
            bare.get(..f.len())
                .is_some_and(|w| w.eq_ignore_ascii_case(f))
        });
        if field {
            lines.push((start, end));
        }
        start = end;
    }
    lines
}

/// Which of `lines` (in text order, not overlapping) holds `pos`: a binary search, as a
/// text may have many (hostile input: every line a header).
pub(super) fn line_at(lines: &[(usize, usize)], pos: usize) -> Option<usize> {
    let i = lines.partition_point(|&(start, _)| start <= pos);
    (i > 0 && pos < lines[i - 1].1).then(|| i - 1)
}

/// Is `pos` inside one of `zones` (sorted and disjoint, as `signature_zones` makes them)?
pub(super) fn in_zones(zones: &[(usize, usize)], pos: usize) -> bool {
    line_at(zones, pos).is_some()
}

/// Is the health word at `start` the topic of a talk, a text or a rule rather than
/// somebody's condition: "een presentatie over hypertensie", "het protocol COPD", "de
/// richtlijn astma"? "over haar COPD" (a possessive) stays a condition.
pub(super) fn health_as_topic(text: &str, start: usize) -> bool {
    const TOPIC: &[&str] = &[
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
        "congres",
    ];
    const TOPIC_PAIRS: &[(&str, &str)] = &[("onderzoek", "naar")];
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
    // "over", "rond", "about" make a topic only after a word of talking or writing:
    // "informatie over diabetes", "vragen over astma"; "zorgen over zelfbeschadiging"
    // and "gesprek met Noor Jansen over COPD" are about somebody.
    const PREPOSITIONS: &[&str] = &["over", "omtrent", "rondom", "rond", "about"];
    const TALK: &[&str] = &[
        "informatie",
        "info",
        "vragen",
        "spreekt",
        "spreken",
        "vertelt",
        "vertellen",
        "meer",
        "alles",
        "avond",
        "informatieavond",
        "bijeenkomst",
        "nieuwsbrief",
        "nieuws",
        "uitleg",
        "filmpje",
        "video",
        "podcast",
        "talk",
        "information",
        "leaflet",
    ];
    // The words before, nearest first: four to look at, and four before a preposition.
    let words: Vec<&str> = window_before(text, start, 96)
        .rsplit(|c: char| !c.is_alphanumeric() && c != '-' && c != '/')
        .filter(|w| !w.is_empty())
        .take(8)
        .collect();
    // Up to four words back: "over de behandeling van diabetes" counts, "over haar
    // diabetes" does not.
    for (back, &w) in words.iter().enumerate().take(4) {
        if one_of(POSSESSIVE, w) {
            return false;
        }
        if one_of(PREPOSITIONS, w) {
            // The talk may have a speaker between: "de presentatie van Kofi Smits over".
            return words[back + 1..]
                .iter()
                .take(4)
                .any(|w| one_of(TOPIC, w) || one_of(TALK, w));
        }
        // Two-word topics ("onderzoek naar"): the word before and this one.
        let pair = words
            .get(back + 1)
            .is_some_and(|before| pair_of(TOPIC_PAIRS, before, w));
        if one_of(TOPIC, w) || pair {
            return true;
        }
    }
    false
}

/// Is the care or social-domain word at `start` where somebody works rather than what
/// they receive: "begint als nieuwe collega bij de schuldhulpverlening", "onze stagiair
/// bij de verslavingszorg"? A word of staffing among the four words before it, in the
/// same sentence ("een medewerker van de schuldhulpverlening belde over cliënt Jansen,
/// die in de schuldsanering zit" keeps the second); a diagnosis is never excused this way
/// ("in dienst sinds mei heeft hij een burn-out").
pub(super) fn workplace(text: &str, start: usize) -> bool {
    const STAFF: &[&str] = &[
        "collega",
        "collega's",
        "stagiair",
        "stagiaire",
        "medewerker",
        "medewerkers",
        "werkzaam",
        "vacature",
        "sollicitatie",
    ];
    const STAFF_PAIRS: &[(&str, &str)] = &[("in", "dienst"), ("ons", "team"), ("werkt", "als")];
    let before = window_before(text, start, 80);
    let sentence = before
        .rfind(['.', '!', '?', ';', '\n'])
        .map_or(before, |k| &before[k + 1..]);
    // Nearest first.
    let words: Vec<&str> = sentence
        .rsplit(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .take(5)
        .collect();
    words.iter().take(4).enumerate().any(|(k, w)| {
        one_of(STAFF, w)
            || words
                .get(k + 1)
                .is_some_and(|earlier| pair_of(STAFF_PAIRS, earlier, w))
    })
}

/// Is the care word at `start..end` the first word of an institution's name: "GGZ
/// Kompas", "Thuiszorg Samen", "Verpleeghuis De Hoge Hof"? Written with a capital and
/// followed by a capitalised word, it names an organisation (in a list of attendees, an
/// address), not somebody's care.
pub(super) fn institution_name(text: &str, start: usize, end: usize) -> bool {
    const INSTITUTIONS: &[&str] = &[
        "ggz",
        "thuiszorg",
        "verpleeghuis",
        "verzorgingshuis",
        "jeugdzorg",
        "jeugdhulp",
        "kraamzorg",
        "huisartsenpost",
        "polikliniek",
        "fysiotherapie",
        "ergotherapie",
        "logopedie",
        "revalidatie",
        "wijkverpleging",
        "dagbesteding",
    ];
    let word = &text[start..end];
    if !word.starts_with(|c: char| c.is_uppercase()) || !one_of(INSTITUTIONS, word) {
        return false;
    }
    let next = text[end..].strip_prefix(' ').unwrap_or("");
    let next_word: &str = next
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .next()
        .unwrap_or("");
    next_word.len() > 1 && next_word.starts_with(|c: char| c.is_uppercase())
}

/// Is the word at `start..end` (extended to the end of the word, or over one hyphen) the
/// name of a service rather than a condition: "diabeteszorg", "astmaspreekuur",
/// "COPD-spreekuren", "diabetesverpleegkundige"?
pub(super) fn service_word(text: &str, start: usize, end: usize) -> bool {
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
        "loket",
        "afdeling",
    ];
    let b = text.as_bytes();
    let mut e = end;
    while e < b.len() && (b[e].is_ascii_alphabetic() || b[e] >= 0x80) {
        e += 1;
    }
    // English writes the service as a second word: "breast cancer awareness", "HIV
    // prevention", "eating disorder charity".
    const ENGLISH_SERVICE: &[&str] = &[
        "awareness",
        "campaign",
        "prevention",
        "charity",
        "research",
        "clinic",
        "services",
        "service",
        "team",
        "nurse",
        "specialist",
        "policy",
        "pathway",
    ];
    if b.get(e) == Some(&b' ') {
        let next = text[e + 1..]
            .split(|c: char| !c.is_alphanumeric())
            .next()
            .unwrap_or("");
        if one_of(ENGLISH_SERVICE, next) {
            return true;
        }
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
