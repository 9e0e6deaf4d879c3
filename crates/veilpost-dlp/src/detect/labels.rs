//! Values that count only next to their label (a date of birth, an identity document, a
//! client number), and the organisation's own identifiers.

use super::*;

impl Engine {
    /// Dates of birth, identity documents, client numbers: values that only count next to
    /// their label.
    pub(super) fn scan_labels(
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
                // "cliënt 4411823", "patiënt: 20331": a care recipient's number without
                // the word "nummer".
                Class::Role
                    if !self.term(h).starts_with("naam")
                        && !self.term(h).starts_with("achternaam")
                        && self.term(h) != "name" =>
                {
                    self.client_number(text, h, hits, location, out, persons);
                }
                _ => {}
            }
        }
    }

    /// A passport, identity card, driving licence or residence document number after its
    /// label.
    pub(super) fn document_after_label(
        &self,
        text: &str,
        h: &Hit,
        location: &str,
        out: &mut Collector,
    ) {
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
    pub(super) fn client_number(
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
        // After a role word only a number of five digits or more: "cliënt 12" is a room
        // or a count.
        if h.class == Class::Role
            && (id.as_str().len() < 5 || !id.as_str().bytes().all(|b| b.is_ascii_digit()))
        {
            return;
        }
        let value: String = id
            .as_str()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_uppercase();
        let (confidence, rule) = match h.class {
            Class::ClientLabel => (Confidence::High, "client_number.label"),
            Class::Role => (Confidence::High, "client_number.role"),
            _ => (Confidence::Medium, "client_number.registration"),
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
    pub(super) fn scan_custom(
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

    pub(super) fn find_date(&self, window: &str) -> Option<Date> {
        let c = self.re_date.captures(window)?;
        let num = |name: &str| c.name(name).and_then(|m| m.as_str().parse::<u32>().ok());
        let (day, month, year) = if let (Some(d), Some(m), Some(y)) = (num("d"), num("m"), num("y"))
        {
            (d, m, y)
        } else if let (Some(d), Some(m), Some(y)) = (num("id"), num("im"), num("iy")) {
            (d, m, y)
        } else if let (Some(d), Some(m), Some(y)) = (num("nd"), c.name("nm"), num("ny")) {
            (d, month_number(m.as_str().as_bytes())?, y)
        } else if let (Some(d), Some(m), Some(y)) = (num("ed"), c.name("em"), num("ey")) {
            (d, month_number(m.as_str().as_bytes())?, y)
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
}
