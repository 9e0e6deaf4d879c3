//! The organisation's address book as CSV (email, name, phone): one parser for the admin
//! page's import and `veilpost contact import`, one writer for both exports, and the
//! check of a single contact. Numbers are kept in E.164 (`+31612345678`).

use std::io::{Read, Write};

use veilpost_text::Lang;

/// Most lines one import takes.
pub const MAX_LINES: usize = 100_000;

/// Why a contact (or a CSV line) is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowError {
    /// The address is not one (or starts like a spreadsheet formula).
    NotAnAddress(String),
    /// The number is not a telephone number we can send a text to.
    NotAMobileNumber(String),
    /// The CSV line itself could not be read.
    Malformed(String),
}

impl RowError {
    /// The reason for people.
    pub fn text(&self, lang: Lang) -> String {
        match (self, lang) {
            (RowError::NotAnAddress(a), Lang::Nl) => format!("geen e-mailadres: {a:?}"),
            (RowError::NotAnAddress(a), Lang::En) => format!("not an e-mail address: {a:?}"),
            (RowError::NotAMobileNumber(p), Lang::Nl) => {
                format!("geen mobiel nummer: {p:?} (gebruik +31612345678 of 0612345678)")
            }
            (RowError::NotAMobileNumber(p), Lang::En) => {
                format!("not a mobile number: {p:?} (use +31612345678 or 0612345678)")
            }
            (RowError::Malformed(why), Lang::Nl) => format!("onleesbare regel: {why}"),
            (RowError::Malformed(why), Lang::En) => format!("unreadable line: {why}"),
        }
    }
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text(Lang::En))
    }
}

impl std::error::Error for RowError {}

/// An import over [`MAX_LINES`] lines: nothing of it is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyLines;

impl TooManyLines {
    pub fn text(self, lang: Lang) -> &'static str {
        lang.t("meer dan 100.000 regels", "more than 100,000 lines")
    }
}

impl std::fmt::Display for TooManyLines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.text(Lang::En))
    }
}

impl std::error::Error for TooManyLines {}

/// A contact's address and number checked: (address, E.164 number).
pub fn contact_row(email: &str, phone: &str) -> Result<(String, String), RowError> {
    let email = email.trim();
    // No real address starts like a spreadsheet formula; refusing them keeps exports safe.
    if !crate::valid_email(email) || email.starts_with(['=', '+', '-', '@']) {
        return Err(RowError::NotAnAddress(email.to_string()));
    }
    match veilpost_text::phone::normalize(phone) {
        Some(number) => Ok((email.to_string(), number)),
        None => Err(RowError::NotAMobileNumber(phone.to_string())),
    }
}

/// A line an import refused (1-based), and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub line: usize,
    pub why: RowError,
}

impl Refused {
    /// `3: not an e-mail address: "x"`.
    pub fn text(&self, lang: Lang) -> String {
        format!("{}: {}", self.line, self.why.text(lang))
    }
}

/// What an import found: valid rows (address, name, number) and refused lines.
#[derive(Debug, Default)]
pub struct Parsed {
    pub rows: Vec<(String, Option<String>, String)>,
    pub refused: Vec<Refused>,
}

/// Read CSV with columns email, name, phone (a header line is optional). Fails only when
/// the input has more than [`MAX_LINES`] lines.
pub fn parse_csv(input: impl Read) -> Result<Parsed, TooManyLines> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(input);
    let mut out = Parsed::default();
    for (i, record) in reader.records().enumerate() {
        let line = i + 1;
        if out.rows.len() + out.refused.len() >= MAX_LINES {
            return Err(TooManyLines);
        }
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                out.refused.push(Refused {
                    line,
                    why: RowError::Malformed(e.to_string()),
                });
                continue;
            }
        };
        let email = record.get(0).unwrap_or("");
        if line == 1 && email.eq_ignore_ascii_case("email") {
            continue;
        }
        let name = record
            .get(1)
            .filter(|n| !n.is_empty())
            .map(|n| n.chars().take(200).collect());
        match contact_row(email, record.get(2).unwrap_or("")) {
            Ok((email, number)) => out.rows.push((email, name, number)),
            Err(why) => out.refused.push(Refused { line, why }),
        }
    }
    Ok(out)
}

/// Write contacts as CSV with a header line. Cells that a spreadsheet would run as a
/// formula (`=`, `+`, `-`, `@` first) get a leading apostrophe, numbers excepted.
pub fn write_csv(
    out: impl Write,
    contacts: &[(String, Option<String>, Option<String>)],
) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(["email", "name", "phone"])?;
    for (email, name, phone) in contacts {
        w.write_record([
            defuse(email),
            defuse(name.as_deref().unwrap_or("")),
            phone.clone().unwrap_or_default(),
        ])?;
    }
    w.flush()
}

/// A text cell made safe for spreadsheets (CSV injection).
pub fn defuse(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_keeps_good_rows_and_names_bad_lines() {
        let csv = "email,name,phone\n\
                   p.devries@example.nl,Piet de Vries,06-12345678\n\
                   geen-adres,X,0612345678\n\
                   k@example.nl,,+32 470 12 34 56\n\
                   m@example.nl,M,12345\n\
                   =cmd@example.nl,X,0612345678\n\
                   \"kapot,\"x\n";
        let p = parse_csv(csv.as_bytes()).expect("parses");
        assert_eq!(
            p.rows,
            vec![
                (
                    "p.devries@example.nl".to_string(),
                    Some("Piet de Vries".to_string()),
                    "+31612345678".to_string()
                ),
                ("k@example.nl".to_string(), None, "+32470123456".to_string()),
            ]
        );
        assert_eq!(p.refused.len(), 4, "{:?}", p.refused);
        assert_eq!(
            p.refused[0].text(Lang::En),
            "3: not an e-mail address: \"geen-adres\""
        );
        assert_eq!(
            p.refused[0].text(Lang::Nl),
            "3: geen e-mailadres: \"geen-adres\""
        );
        assert_eq!(p.refused[1].why, RowError::NotAMobileNumber("12345".into()));
        assert_eq!(
            p.refused[2].why,
            RowError::NotAnAddress("=cmd@example.nl".into())
        );
    }

    #[test]
    fn too_many_lines_take_nothing() {
        let csv = "a@b.nl,,0612345678\n".repeat(MAX_LINES + 1);
        assert_eq!(parse_csv(csv.as_bytes()).err(), Some(TooManyLines));
        let csv = "a@b.nl,,0612345678\n".repeat(MAX_LINES);
        assert_eq!(
            parse_csv(csv.as_bytes()).expect("at the limit").rows.len(),
            MAX_LINES
        );
    }

    #[test]
    fn export_defuses_formulas() {
        let mut out = Vec::new();
        write_csv(
            &mut out,
            &[(
                "a@b.nl".into(),
                Some("=HYPERLINK(\"x\")".into()),
                Some("+31612345678".into()),
            )],
        )
        .expect("writes");
        let text = String::from_utf8(out).expect("utf8");
        assert!(text.contains("'=HYPERLINK"), "{text}");
        assert!(text.contains(",+31612345678"), "{text}");
    }
}
