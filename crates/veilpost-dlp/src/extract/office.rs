//! Text from Office Open XML (DOCX, PPTX), OpenDocument (ODT, ODS, ODP) and XLSX.
//!
//! The XML parts are read with quick-xml as a stream of events, so nesting costs no stack;
//! spreadsheets are read cell by cell with calamine's streaming reader, so a sheet that
//! claims a huge dimension allocates nothing for it.

use std::io::Cursor;

use calamine::{DataRef, Reader as _, Xlsx};
use quick_xml::Reader;
use quick_xml::events::Event;

use super::table::{self, TableBuilder};

/// Tables nested deeper than this are flattened.
const MAX_TABLE_DEPTH: usize = 32;
/// Columns beyond this are appended rather than placed (a cell in column XFD).
const MAX_COLUMNS: usize = 512;

/// Which XML vocabulary a part uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// WordprocessingML / DrawingML: text only inside `t` (and `delText`) elements.
    Ooxml,
    /// OpenDocument: all character data inside `office:body`.
    Odf,
}

struct Sink {
    out: String,
    tables: Vec<TableBuilder>,
    ignored_tables: usize,
}

impl Sink {
    fn dest(&mut self) -> &mut String {
        match self.tables.last_mut() {
            Some(t) => t.text(),
            None => &mut self.out,
        }
    }

    fn push(&mut self, s: &str) {
        self.dest().push_str(s);
    }

    fn start_table(&mut self) {
        if self.tables.len() < MAX_TABLE_DEPTH {
            self.tables.push(TableBuilder::default());
        } else {
            self.ignored_tables += 1;
        }
    }

    fn end_table(&mut self) {
        if self.ignored_tables > 0 {
            self.ignored_tables -= 1;
        } else if let Some(t) = self.tables.pop() {
            let text = t.finish();
            self.push("\n");
            self.push(&text);
        }
    }

    fn with_table(&mut self, f: impl FnOnce(&mut TableBuilder)) {
        if self.ignored_tables == 0
            && let Some(t) = self.tables.last_mut()
        {
            f(t);
        }
    }
}

/// The text of one XML part. Malformed XML yields the text read up to the fault, plus an
/// error naming it, so the caller can both scan what was read and fail closed.
pub(crate) fn xml_text(xml: &[u8], flavor: Flavor) -> (String, Option<String>) {
    let xml = String::from_utf8_lossy(xml);
    let mut reader = Reader::from_str(&xml);
    let mut sink = Sink {
        out: String::new(),
        tables: Vec::new(),
        ignored_tables: 0,
    };
    // OOXML: inside a text run. ODF: inside office:body.
    let mut capture = 0usize;
    let mut error = None;
    loop {
        let event = match reader.read_event() {
            Ok(e) => e,
            Err(e) => {
                error = Some(format!(
                    "malformed XML at byte {}: {e}",
                    reader.error_position()
                ));
                break;
            }
        };
        match event {
            Event::Start(e) => {
                let name = e.local_name();
                match (flavor, name.as_ref()) {
                    (Flavor::Ooxml, "t" | "delText") => capture += 1,
                    (Flavor::Odf, "body") => capture += 1,
                    (Flavor::Ooxml, "tbl") | (Flavor::Odf, "table") => sink.start_table(),
                    (Flavor::Ooxml, "tr") | (Flavor::Odf, "table-row") => {
                        sink.with_table(TableBuilder::start_row);
                    }
                    (Flavor::Ooxml, "tc") | (Flavor::Odf, "table-cell" | "covered-table-cell") => {
                        sink.with_table(TableBuilder::start_cell);
                    }
                    _ => {}
                }
            }
            Event::End(e) => {
                let name = e.local_name();
                match (flavor, name.as_ref()) {
                    (Flavor::Ooxml, "t" | "delText") | (Flavor::Odf, "body") => {
                        capture = capture.saturating_sub(1);
                    }
                    (Flavor::Ooxml, "p") | (Flavor::Odf, "p" | "h") => sink.push("\n"),
                    (Flavor::Ooxml, "tbl") | (Flavor::Odf, "table") => sink.end_table(),
                    (Flavor::Ooxml, "tr") | (Flavor::Odf, "table-row") => {
                        sink.with_table(TableBuilder::end_row);
                    }
                    (Flavor::Ooxml, "tc") | (Flavor::Odf, "table-cell" | "covered-table-cell") => {
                        sink.with_table(TableBuilder::end_cell);
                    }
                    _ => {}
                }
            }
            Event::Empty(e) => match (flavor, e.local_name().as_ref()) {
                (_, "tab") => sink.push("\t"),
                (Flavor::Ooxml, "br" | "cr") | (Flavor::Odf, "line-break") => sink.push("\n"),
                (Flavor::Odf, "s") if capture > 0 => sink.push(" "),
                (Flavor::Ooxml, "p") | (Flavor::Odf, "p" | "h") => sink.push("\n"),
                _ => {}
            },
            Event::Text(t) if capture > 0 => sink.push(&t.xml10_content()),
            Event::CData(t) if capture > 0 => sink.push(&t.xml10_content()),
            Event::GeneralRef(r) if capture > 0 => {
                let c = match r.resolve_char_ref() {
                    Ok(Some(c)) => Some(c),
                    _ => match &*r {
                        "amp" => Some('&'),
                        "lt" => Some('<'),
                        "gt" => Some('>'),
                        "quot" => Some('"'),
                        "apos" => Some('\''),
                        _ => None,
                    },
                };
                if let Some(c) = c {
                    sink.dest().push(c);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    while !sink.tables.is_empty() {
        sink.ignored_tables = 0;
        sink.end_table();
    }
    (sink.out, error)
}

/// Why a workbook could not be read whole (its content is then uninspectable).
#[derive(Debug)]
pub(crate) enum XlsxError {
    Workbook(calamine::XlsxError),
    Sheet {
        name: String,
        error: calamine::XlsxError,
    },
    TooManyCells(usize),
}

impl std::fmt::Display for XlsxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            XlsxError::Workbook(e) => write!(f, "unreadable workbook: {e}"),
            XlsxError::Sheet { name, error } => write!(f, "unreadable sheet {name:?}: {error}"),
            XlsxError::TooManyCells(max) => write!(f, "more than {max} cells"),
        }
    }
}

/// The text of every sheet of an XLSX workbook, headers paired with values.
pub(crate) fn xlsx_text(bytes: &[u8], max_cells: usize) -> Result<String, XlsxError> {
    let mut workbook: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(XlsxError::Workbook)?;
    let mut out = String::new();
    let mut cells = 0usize;
    for name in workbook.sheet_names() {
        let sheet_error = |error| XlsxError::Sheet {
            name: name.clone(),
            error,
        };
        let mut reader = workbook
            .worksheet_cells_reader(&name)
            .map_err(sheet_error)?;
        out.push_str(&name);
        out.push('\n');
        let mut table = TableBuilder::default();
        let mut row: Vec<String> = Vec::new();
        let mut row_index = None;
        while let Some(cell) = reader.next_cell().map_err(sheet_error)? {
            cells += 1;
            if cells > max_cells {
                return Err(XlsxError::TooManyCells(max_cells));
            }
            let (r, c) = cell.get_position();
            if row_index != Some(r) {
                if !row.is_empty() {
                    table.push_row(std::mem::take(&mut row));
                }
                row_index = Some(r);
            }
            let text = cell_text(cell.get_value());
            if text.is_empty() {
                continue;
            }
            let c = c as usize;
            if c < MAX_COLUMNS && c >= row.len() {
                row.resize(c, String::new());
            }
            row.push(text);
        }
        if !row.is_empty() {
            table.push_row(row);
        }
        out.push_str(&table.finish());
    }
    Ok(out)
}

fn cell_text(value: &DataRef<'_>) -> String {
    match value {
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => table::number(*f),
        DataRef::String(s) => s.clone(),
        DataRef::SharedString(s) => (*s).to_string(),
        DataRef::Bool(b) => b.to_string(),
        DataRef::DateTime(dt) if dt.is_datetime() => {
            table::excel_date(dt.as_f64()).unwrap_or_else(|| table::number(dt.as_f64()))
        }
        DataRef::DateTime(dt) => table::number(dt.as_f64()),
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
        DataRef::Error(_) | DataRef::Empty => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ooxml_runs_tabs_tables() {
        let xml = br#"<w:document xmlns:w="x"><w:body>
            <w:p><w:r><w:t>BSN:</w:t></w:r><w:r><w:tab/><w:t xml:space="preserve"> 123&amp;456782</w:t></w:r></w:p>
            <w:p><w:r><w:instrText>HYPERLINK</w:instrText><w:delText>weg</w:delText></w:r></w:p>
            <w:tbl><w:tr><w:tc><w:p><w:r><w:t>Naam</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>BSN</w:t></w:r></w:p></w:tc></w:tr>
            <w:tr><w:tc><w:p><w:r><w:t>Jansen</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>111222333</w:t></w:r></w:p></w:tc></w:tr></w:tbl>
            </w:body></w:document>"#;
        let (text, err) = xml_text(xml, Flavor::Ooxml);
        assert!(err.is_none());
        assert!(text.contains("BSN:\t 123&456782\n"), "{text:?}");
        assert!(text.contains("weg"), "{text:?}");
        assert!(!text.contains("HYPERLINK"), "{text:?}");
        assert!(text.contains("Naam: Jansen; BSN: 111222333"), "{text:?}");
    }

    #[test]
    fn odf_body_only() {
        let xml = br#"<office:document-content xmlns:office="o" xmlns:text="t">
            <office:automatic-styles><style:style>ignored</style:style></office:automatic-styles>
            <office:body><office:text><text:p>Geboren<text:s/>12-03-1956</text:p><text:h>Kop</text:h></office:text></office:body>
            </office:document-content>"#;
        let (text, err) = xml_text(xml, Flavor::Odf);
        assert!(err.is_none());
        assert_eq!(text, "Geboren 12-03-1956\nKop\n");
    }

    #[test]
    fn malformed_xml_keeps_what_was_read() {
        let (text, err) = xml_text(b"<a><w:t>voor</w:t></b><w:t>na</w:t>", Flavor::Ooxml);
        assert!(text.contains("voor"));
        assert!(err.is_some());
    }
}
