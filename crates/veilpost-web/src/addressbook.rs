//! The organisation's address book as CSV (email, name, phone): one parser for the admin
//! page's import and `veilpost contact import`, one writer for both exports. Numbers are
//! kept in E.164 (`+31612345678`).

use std::io::{Read, Write};

/// Most lines one import takes.
pub const MAX_LINES: usize = 100_000;

/// A contact's address and number checked: (address, E.164 number) or why not.
pub fn contact_row(email: &str, phone: &str, nl: bool) -> Result<(String, String), String> {
    let email = email.trim();
    // No real address starts like a spreadsheet formula; refusing them keeps exports safe.
    if !veilpost_store::valid_email(email) || email.starts_with(['=', '+', '-', '@']) {
        return Err(if nl {
            format!("geen e-mailadres: {email:?}")
        } else {
            format!("not an e-mail address: {email:?}")
        });
    }
    match crate::sms::normalize_phone(phone) {
        Some(number) => Ok((email.to_string(), number)),
        None => Err(if nl {
            format!("geen mobiel nummer: {phone:?} (gebruik +31612345678 of 0612345678)")
        } else {
            format!("not a mobile number: {phone:?} (use +31612345678 or 0612345678)")
        }),
    }
}

/// What an import found: valid rows (address, name, number) and refused lines.
#[derive(Debug, Default)]
pub struct Parsed {
    pub rows: Vec<(String, Option<String>, String)>,
    pub refused: Vec<String>,
}

/// Read CSV with columns email, name, phone (a header line is optional). Fails only when
/// the input has more than [`MAX_LINES`] lines.
pub fn parse_csv(input: impl Read, nl: bool) -> Result<Parsed, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(input);
    let mut out = Parsed::default();
    for (i, record) in reader.records().enumerate() {
        let line = i + 1;
        if out.rows.len() + out.refused.len() >= MAX_LINES {
            return Err(if nl {
                "meer dan 100.000 regels".into()
            } else {
                "more than 100,000 lines".into()
            });
        }
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                out.refused.push(format!("{line}: {e}"));
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
        match contact_row(email, record.get(2).unwrap_or(""), nl) {
            Ok((email, number)) => out.rows.push((email, name, number)),
            Err(why) => out.refused.push(format!("{line}: {why}")),
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
        let p = parse_csv(csv.as_bytes(), false).expect("parses");
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
        assert!(p.refused[0].starts_with("3: not an e-mail address"));
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
