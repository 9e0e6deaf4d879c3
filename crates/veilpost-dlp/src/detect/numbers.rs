//! The number pass: one hand-written walk over the digits finds BSNs (11-check and context),
//! IBANs (mod-97), phone numbers, postcodes, dates (written as digits or with the month in
//! words) and the unit after a number (a dose, a lab value); `@` is found for e-mail
//! addresses.

use super::*;

impl Engine {
    pub(super) fn scan_numbers(
        &self,
        text: &str,
        hits: &[Hit],
        location: &str,
        out: &mut Collector,
        persons: &mut Vec<Person>,
        facts: &mut Facts,
    ) {
        let b = text.as_bytes();
        let mut digits = masks::Digits::new(b);
        let mut i = 0;
        while i < b.len() {
            match digits.next_from(i) {
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
    pub(super) fn try_iban(
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
    pub(super) fn classify_group(
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
            let (s, e) = (g.chunk(from).0, g.chunk(k).1);
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

    pub(super) fn postcode(&self, text: &str, g: &Group, location: &str, out: &mut Collector) {
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
    pub(super) fn bsn_candidate(
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
}

/// A date found next to a birth-date label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Date {
    pub(super) day: u32,
    pub(super) month: u32,
    pub(super) year: u32,
}

impl Date {
    pub(super) fn iso(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

pub(super) fn month_number(name: &[u8]) -> Option<u32> {
    let head = name.get(..3)?;
    let n = [
        head[0].to_ascii_lowercase(),
        head[1].to_ascii_lowercase(),
        head[2].to_ascii_lowercase(),
    ];
    let m = match &n {
        b"jan" => 1,
        b"feb" => 2,
        b"maa" | b"mrt" | b"mar" => 3,
        b"apr" => 4,
        b"mei" | b"may" => 5,
        b"jun" => 6,
        b"jul" => 7,
        b"aug" => 8,
        b"sep" => 9,
        b"okt" | b"oct" => 10,
        b"nov" => 11,
        b"dec" => 12,
        _ => return None,
    };
    Some(m)
}

/// A run of digits joined by single separators: `1234.56.782`, `06-12345678`, `1 2 3`.
#[derive(Debug)]
pub(super) struct Group {
    start: usize,
    end: usize,
    /// Where each run of digits ends, from `start`; the next begins one separator later.
    ends: [u32; Group::MAX],
    seps: [u8; Group::MAX],
    n: usize,
}

impl Group {
    const MAX: usize = 16;
    /// Digits read into one group at most (a longer run is cut there, and the rest read as
    /// the next group): offsets then fit in 32 bits.
    const MAX_LEN: usize = 1 << 20;

    pub(super) fn parse(b: &[u8], start: usize) -> Group {
        let mut g = Group {
            start,
            end: start,
            ends: [0; Group::MAX],
            seps: [0; Group::MAX],
            n: 0,
        };
        let mut j = start;
        let limit = b.len().min(start + Group::MAX_LEN);
        loop {
            while j < limit && b[j].is_ascii_digit() {
                j += 1;
            }
            // At most MAX_LEN: fits.
            g.ends[g.n] = (j - start) as u32;
            g.n += 1;
            g.end = j;
            let joins = j + 1 < limit
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

    pub(super) fn chunks(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        (0..self.n).map(|k| self.chunk(k))
    }

    /// The `k`th run of digits.
    pub(super) fn chunk(&self, k: usize) -> (usize, usize) {
        let from = match k {
            0 => self.start,
            _ => self.start + self.ends[k - 1] as usize + 1,
        };
        (from, self.start + self.ends[k] as usize)
    }

    pub(super) fn seps(&self) -> &[u8] {
        &self.seps[..self.n.saturating_sub(1)]
    }

    pub(super) fn uniform_sep(&self) -> Option<u8> {
        uniform(self.seps())
    }
}

pub(super) fn uniform(seps: &[u8]) -> Option<u8> {
    let first = *seps.first()?;
    seps.iter().all(|&s| s == first).then_some(first)
}

/// Is this layout of digit chunks a way people write a BSN? `Some(true)`: one of the usual
/// forms; `Some(false)`: nine digits in an odd layout (counts only next to a BSN label).
pub(super) fn bsn_form(lens: &[usize], sep: Option<u8>) -> Option<bool> {
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
pub(super) fn bsn_context(hits: &[Hit], start: usize, end: usize) -> (Confidence, bool) {
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

pub(super) fn phone(text: &str, start: usize, end: usize, location: &str, out: &mut Collector) {
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

pub(super) fn scan_emails(text: &str, location: &str, out: &mut Collector) {
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

pub(super) fn skip_alnum(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] >= 0x80) {
        i += 1;
    }
    i
}

/// A dose or a lab value's unit right after a number: `500 mg`, `2dd`, `2 dd`, `53 mmol/mol`,
/// `145/90 mmHg`, `3x daags`.
pub(super) fn measure_after(b: &[u8], end: usize) -> Option<(Class, &'static str)> {
    type Units = &'static [(&'static [u8], Class, &'static str)];
    const LAB: (Class, &str) = (Class::Lab, "lab value");
    const DOSE: (Class, &str) = (Class::Medication, "dose");
    // By first letter; within a letter the longer units first.
    const M: Units = &[
        (b"mmol/mol", LAB.0, LAB.1),
        (b"mmol/l", LAB.0, LAB.1),
        (b"mmhg", LAB.0, LAB.1),
        (b"ml/min", LAB.0, LAB.1),
        (b"mg/dl", LAB.0, LAB.1),
        (b"mg/l", LAB.0, LAB.1),
        (b"mg", DOSE.0, DOSE.1),
        (b"mcg", DOSE.0, DOSE.1),
        (b"microgram", DOSE.0, DOSE.1),
        (b"milligram", DOSE.0, DOSE.1),
        (b"maal daags", DOSE.0, DOSE.1),
    ];
    const MICRO: Units = &[
        (b"\xc2\xb5mol/l", LAB.0, LAB.1),
        (b"\xc2\xb5g", DOSE.0, DOSE.1),
    ];
    const U: Units = &[(b"umol/l", LAB.0, LAB.1), (b"u/l", LAB.0, LAB.1)];
    const G: Units = &[(b"g/dl", LAB.0, LAB.1)];
    const X: Units = &[
        (b"x10^9/l", LAB.0, LAB.1),
        (b"x 10^9/l", LAB.0, LAB.1),
        (b"x daags", DOSE.0, DOSE.1),
        (b"x per dag", DOSE.0, DOSE.1),
    ];
    const E: Units = &[(b"e/l", LAB.0, LAB.1)];
    const I: Units = &[(b"ie", DOSE.0, DOSE.1)];
    const D: Units = &[(b"dd", DOSE.0, DOSE.1)];
    const K: Units = &[
        (b"keer daags", DOSE.0, DOSE.1),
        (b"keer per dag", DOSE.0, DOSE.1),
    ];
    let mut j = end;
    if b.get(j) == Some(&b' ') {
        j += 1;
    }
    let units = match b.get(j)?.to_ascii_lowercase() {
        b'm' => M,
        b'u' => U,
        b'g' => G,
        b'x' => X,
        b'e' => E,
        b'i' => I,
        b'd' => D,
        b'k' => K,
        0xC2 => MICRO,
        _ => return None,
    };
    let second = b.get(j + 1).map(u8::to_ascii_lowercase);
    for (unit, class, term) in units {
        if second != Some(unit[1]) {
            continue;
        }
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
pub(super) fn date_in_group(text: &str, g: &Group, lens: &[usize]) -> Option<DateAt> {
    let num = |k: usize| -> u32 {
        let (s, e) = g.chunk(k);
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
        group_end = g.chunk(2).1;
    }
    let (day, month, year, end) = match (lens, uniform(seps)) {
        ([1 | 2, 1 | 2, 2 | 4], Some(b'-' | b'/' | b'.')) => (num(0), num(1), num(2), group_end),
        ([4, 1 | 2, 1 | 2], Some(b'-')) => (num(2), num(1), num(0), group_end),
        ([1 | 2], _) => {
            // "14 februari 1961", "3 okt. 1958", read within 20 bytes of the day (month
            // names are ASCII).
            let b = text.as_bytes();
            let limit = b.len().min(g.end + 20);
            let mut j = g.end;
            if b.get(j) != Some(&b' ') {
                return None;
            }
            j += 1;
            let word_start = j;
            while j < limit && b[j].is_ascii_alphabetic() {
                j += 1;
            }
            let word = &b[word_start..j];
            if word.len() < 3 {
                return None;
            }
            let month = month_number(word)?;
            // ASCII letters only, so always text.
            let word = std::str::from_utf8(word).ok()?;
            if !one_of(MONTH_NAMES, word) && !one_of(MONTH_WORDS_MORE, word) {
                return None;
            }
            while j < limit && b[j] == b'.' {
                j += 1;
            }
            if j >= limit || b[j] != b' ' {
                return None;
            }
            j += 1;
            let year = b.get(j..j + 4).filter(|_| j + 4 <= limit)?;
            if !year.iter().all(u8::is_ascii_digit) || b.get(j + 4).is_some_and(u8::is_ascii_digit)
            {
                return None;
            }
            let year = year.iter().fold(0, |y, d| y * 10 + u32::from(d - b'0'));
            (num(0), month, year, j + 4)
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
pub(super) fn days_from_civil(y: u32, m: u32, d: u32) -> i64 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_after_a_number() {
        let unit = |text: &str| measure_after(text.as_bytes(), 0).map(|(class, _)| class);
        let lab = [
            " mmol/mol",
            " mmol/L",
            "µmol/l",
            " umol/l",
            " mmHg",
            " ml/min",
            " mg/dl",
            " MG/L",
            " g/dl",
            " x10^9/l",
            " x 10^9/l",
            " U/l",
            " E/l",
        ];
        let dose = [
            " mg",
            "mg,",
            " mcg",
            " µg",
            " microgram",
            " milligram",
            " IE",
            "dd",
            " dd.",
            " x daags",
            " x per dag",
            " maal daags",
            " keer daags",
            " keer per dag",
        ];
        let cases = lab.iter().map(|t| (t, Class::Lab));
        for (text, class) in cases.chain(dose.iter().map(|t| (t, Class::Medication))) {
            assert_eq!(unit(text), Some(class), "{text:?}");
        }
        for text in [
            " maart", " uur", " mgx", " dda", " april", "", " ", "  mg", " kg", " e",
        ] {
            assert_eq!(unit(text), None, "{text:?}");
        }
    }

    #[test]
    fn months_by_their_first_letters() {
        assert_eq!(month_number("Februari".as_bytes()), Some(2));
        assert_eq!(month_number("MRT".as_bytes()), Some(3));
        assert_eq!(month_number("okt.".as_bytes()), Some(10));
        assert_eq!(month_number("ma".as_bytes()), None);
        assert_eq!(month_number("mé".as_bytes()), None);
        assert_eq!(month_number("uur".as_bytes()), None);
    }

    #[test]
    fn dates_with_the_month_in_words() {
        let date = |text: &str| {
            let b = text.as_bytes();
            let g = Group::parse(b, 0);
            let lens: Vec<usize> = g.chunks().map(|(s, e)| e - s).collect();
            date_in_group(text, &g, &lens).map(|d| (d.date.day, d.date.month, d.date.year, d.end))
        };
        assert_eq!(date("14 februari 1961, x"), Some((14, 2, 1961, 16)));
        assert_eq!(date("3 okt. 1958"), Some((3, 10, 1958, 11)));
        assert_eq!(date("3 Sept 1958"), Some((3, 9, 1958, 11)));
        assert_eq!(date("1 MAY 2001"), Some((1, 5, 2001, 10)));
        for text in [
            "14 maartje 1961",
            "14 maart 19611",
            "14 maart 196",
            "14 ma 1961",
            "14 uur 1961",
            "14maart 1961",
            "14 maartï 1961",
            "14 september........ 1961",
            "14 maart",
        ] {
            assert_eq!(date(text), None, "{text:?}");
        }
    }

    #[test]
    fn groups_split_at_separators() {
        let b = b"tel 06-1234 5678, 14.02.1961";
        let g = Group::parse(b, 4);
        assert_eq!(g.chunks().collect::<Vec<_>>(), [(4, 6), (7, 11), (12, 16)]);
        assert_eq!(g.seps(), b"- ");
        let g = Group::parse(b, 18);
        assert_eq!(
            g.chunks().collect::<Vec<_>>(),
            [(18, 20), (21, 23), (24, 28)]
        );
        assert_eq!(g.uniform_sep(), Some(b'.'));
    }
}
