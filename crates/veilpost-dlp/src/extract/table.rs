//! Tables (CSV, spreadsheets, HTML and document tables) become text a detector can read.
//!
//! A value in row 50 of a client list is far from the header that says what it is
//! ("Geboortedatum", "BSN"). So when the first row looks like a header, every later row is
//! written as `Header: value; Header: value`, putting each value next to its label.

/// The longest header cell we still treat as a label.
const MAX_HEADER_CELL: usize = 40;
/// Cells longer than this are prose (a layout table in a newsletter), not data.
const MAX_DATA_CELL: usize = 200;

/// Builds rows cell by cell (for streaming sources) and renders them.
#[derive(Debug, Default)]
pub(crate) struct TableBuilder {
    rows: Vec<Vec<String>>,
    row: Vec<String>,
    cell: String,
    in_cell: bool,
}

impl TableBuilder {
    pub(crate) fn start_row(&mut self) {
        self.end_row();
    }

    pub(crate) fn start_cell(&mut self) {
        self.end_cell();
        self.in_cell = true;
    }

    /// Text goes into the open cell (opening one if the markup forgot to).
    pub(crate) fn text(&mut self) -> &mut String {
        self.in_cell = true;
        &mut self.cell
    }

    pub(crate) fn end_cell(&mut self) {
        if self.in_cell {
            let cell = std::mem::take(&mut self.cell);
            self.row.push(cell.trim().to_string());
            self.in_cell = false;
        }
    }

    pub(crate) fn end_row(&mut self) {
        self.end_cell();
        if !self.row.is_empty() {
            self.rows.push(std::mem::take(&mut self.row));
        }
    }

    /// Put a whole row at once.
    pub(crate) fn push_row(&mut self, row: Vec<String>) {
        self.end_row();
        self.rows.push(row);
    }

    pub(crate) fn finish(mut self) -> String {
        self.end_row();
        render(&self.rows)
    }
}

fn is_header_cell(cell: &str) -> bool {
    cell.chars().count() <= MAX_HEADER_CELL && cell.bytes().filter(u8::is_ascii_digit).count() <= 2
}

/// Render rows as text, pairing each value with its column header when there is one.
pub(crate) fn render(rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    let Some(first) = rows.iter().position(|r| r.iter().any(|c| !c.is_empty())) else {
        return out;
    };
    let header = &rows[first];
    let has_header = rows.len() > first + 1
        && header.iter().all(|c| c.is_empty() || is_header_cell(c))
        && header.iter().any(|c| c.chars().any(char::is_alphabetic));
    for (i, row) in rows.iter().enumerate() {
        let paired = has_header && i > first;
        let mut wrote = false;
        for (j, cell) in row.iter().enumerate() {
            if cell.is_empty() {
                continue;
            }
            if wrote {
                out.push_str(if paired { "; " } else { "\t" });
            }
            let label = header.get(j).filter(|h| !h.is_empty());
            match label {
                Some(h) if paired && cell.chars().count() <= MAX_DATA_CELL => {
                    out.push_str(h);
                    out.push_str(": ");
                    out.push_str(cell);
                }
                _ => out.push_str(cell),
            }
            wrote = true;
        }
        out.push('\n');
    }
    out
}

/// A table pasted into plain text (cells apart by tabs, as a spreadsheet's rows arrive in a
/// plain-text mail) read like any other table: each run of two or more lines with the same
/// number of tab-separated cells becomes `Header: value; Header: value` rows. Other text,
/// and text without tabs, is returned as it is.
pub(crate) fn pasted_tables(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains('\t') {
        return std::borrow::Cow::Borrowed(text);
    }
    let cells = |line: &str| {
        let line = line.trim_end_matches('\r');
        if line.contains('\t') {
            line.split('\t').count()
        } else {
            0
        }
    };
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    let mut i = 0;
    while i < lines.len() {
        let n = cells(lines[i]);
        let mut j = i + 1;
        while n >= 2 && j < lines.len() && cells(lines[j]) == n {
            j += 1;
        }
        if j - i >= 2 {
            let rows: Vec<Vec<String>> = lines[i..j]
                .iter()
                .map(|l| {
                    l.trim_end_matches(['\r', '\n'])
                        .split('\t')
                        .map(|c| c.trim().to_string())
                        .collect()
                })
                .collect();
            out.push_str(&render(&rows));
        } else {
            out.push_str(lines[i]);
            j = i + 1;
        }
        i = j;
    }
    std::borrow::Cow::Owned(out)
}

/// Parse CSV (delimiter guessed from the first line: `;`, `,`, tab or `|`) into text.
pub(crate) fn csv_to_text(text: &str) -> String {
    let first_line = text.lines().next().unwrap_or("");
    let delimiter = [b';', b',', b'\t', b'|']
        .into_iter()
        .max_by_key(|d| first_line.bytes().filter(|b| b == d).count())
        .unwrap_or(b',');
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let mut table = TableBuilder::default();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => table.push_row(record.iter().map(|c| c.trim().to_string()).collect()),
            Ok(false) => break,
            // A broken line: keep its text rather than lose it.
            Err(_) => {
                let pos = reader.position().byte() as usize;
                let rest = text.get(pos.min(text.len())..).unwrap_or("");
                let mut out = table.finish();
                out.push_str(rest);
                return out;
            }
        }
    }
    table.finish()
}

/// Render an Excel serial date (days since 1899-12-30) as `dd-mm-yyyy`.
pub(crate) fn excel_date(serial: f64) -> Option<String> {
    if !(1.0..=2_958_465.0).contains(&serial) {
        return None;
    }
    // Civil-from-days (Howard Hinnant), from 1970-01-01 = serial 25569.
    let days = serial.floor() as i64 - 25_569;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    Some(format!("{d:02}-{m:02}-{y:04}"))
}

/// A number from a spreadsheet cell, written without a spurious `.0`.
pub(crate) fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_pairs_values() {
        let rows = vec![
            vec![
                "Naam".to_string(),
                "Geboortedatum".to_string(),
                "BSN".to_string(),
            ],
            vec![
                "Jansen".to_string(),
                "12-03-1956".to_string(),
                "123456782".to_string(),
            ],
        ];
        assert_eq!(
            render(&rows),
            "Naam\tGeboortedatum\tBSN\nNaam: Jansen; Geboortedatum: 12-03-1956; BSN: 123456782\n"
        );
    }

    #[test]
    fn tables_pasted_into_text() {
        // Text without tabs comes back as it is, without a copy.
        assert!(matches!(
            pasted_tables("geen tabel hier\n"),
            std::borrow::Cow::Borrowed(_)
        ));
        let text = "Zie hieronder.\r\nNaam\tGeboren\r\nJan Bos\t12-03-1956\r\n\
                    Pim Kok\t01-02-1960\r\nGroet\ta\tb\nEinde\n";
        assert_eq!(
            pasted_tables(text),
            "Zie hieronder.\r\nNaam\tGeboren\nNaam: Jan Bos; Geboren: 12-03-1956\n\
             Naam: Pim Kok; Geboren: 01-02-1960\nGroet\ta\tb\nEinde\n"
        );
        // One line with a tab is no table.
        assert_eq!(pasted_tables("a\tb\nc\n"), "a\tb\nc\n");
    }

    #[test]
    fn no_header_when_first_row_is_data() {
        let rows = vec![
            vec!["123456782".to_string(), "x".to_string()],
            vec!["111222333".to_string(), "y".to_string()],
        ];
        assert_eq!(render(&rows), "123456782\tx\n111222333\ty\n");
    }

    #[test]
    fn csv_delimiters() {
        assert_eq!(csv_to_text("a;b\n1;2\n"), "a\tb\na: 1; b: 2\n");
        assert_eq!(csv_to_text("a,b\n1,2\n"), "a\tb\na: 1; b: 2\n");
        assert_eq!(csv_to_text("\"x;y\";b\n1;2"), "x;y\tb\nx;y: 1; b: 2\n");
    }

    #[test]
    fn excel_dates() {
        assert_eq!(excel_date(20_526.0).as_deref(), Some("12-03-1956"));
        assert_eq!(excel_date(45_943.5).as_deref(), Some("13-10-2025"));
        assert_eq!(excel_date(-1.0), None);
        assert_eq!(number(123456782.0), "123456782");
    }
}
