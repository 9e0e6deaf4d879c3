//! From what arrived to the reports in it: a mail's attachments, gzip and zip opened
//! within the limits, XML and JSON told apart by their first character.

use std::io::{Cursor, Read};

use mail_parser::{MessageParser, MimeHeaders, PartType};

use crate::{Error, Limits, Report};

/// What the bytes are, by their content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Gzip,
    Zip,
    Xml,
    Json,
    Mail,
}

fn shape(b: &[u8]) -> Option<Shape> {
    if b.starts_with(&[0x1f, 0x8b]) {
        return Some(Shape::Gzip);
    }
    if b.starts_with(b"PK\x03\x04") || b.starts_with(b"PK\x05\x06") {
        return Some(Shape::Zip);
    }
    let text = b.strip_prefix(b"\xef\xbb\xbf").unwrap_or(b);
    let first = text.iter().position(|c| !c.is_ascii_whitespace())?;
    match text[first] {
        b'<' => Some(Shape::Xml),
        b'{' => Some(Shape::Json),
        // A header line: `Name:` with a field name's characters.
        _ if looks_like_mail(&text[first..]) => Some(Shape::Mail),
        _ => None,
    }
}

fn looks_like_mail(b: &[u8]) -> bool {
    let line = &b[..b.len().min(1000)];
    let Some(colon) = line.iter().position(|&c| c == b':') else {
        return false;
    };
    colon > 0
        && line[..colon]
            .iter()
            .all(|&c| c.is_ascii_graphic() && c != b':')
}

/// Every report in `b` (already within `max_input`).
pub(crate) fn reports(b: &[u8], limits: &Limits) -> Result<Vec<Report>, Error> {
    let mut out = Vec::new();
    let mut first_error = None;
    open(b, limits, 0, &mut out, &mut first_error)?;
    if out.is_empty() {
        return Err(first_error.unwrap_or(Error::NoReport));
    }
    Ok(out)
}

/// Open `b` at container depth `depth`. Errors that concern the whole input (a limit)
/// end the reading; a part that is not a report is noted and the others are read on.
fn open(
    b: &[u8],
    limits: &Limits,
    depth: usize,
    out: &mut Vec<Report>,
    first_error: &mut Option<Error>,
) -> Result<(), Error> {
    if depth > limits.max_depth {
        return Err(Error::TooDeep {
            limit: limits.max_depth,
        });
    }
    let parsed = match shape(b) {
        Some(Shape::Gzip) => return open(&gunzip(b, limits)?, limits, depth + 1, out, first_error),
        Some(Shape::Zip) => {
            for file in unzip(b, limits)? {
                open(&file, limits, depth + 1, out, first_error)?;
            }
            return Ok(());
        }
        Some(Shape::Mail) => return mail(b, limits, depth, out, first_error),
        Some(Shape::Xml) => crate::dmarc::parse(b).map(Report::Dmarc),
        Some(Shape::Json) => crate::tls::parse(b).map(Report::Tlsrpt),
        None => Err(Error::NoReport),
    };
    match parsed {
        Ok(report) => {
            if out.len() >= limits.max_reports {
                return Err(Error::TooManyFiles {
                    limit: limits.max_reports,
                });
            }
            out.push(report);
        }
        // Declarations are hostile, not a mistake: the whole input goes.
        Err(Error::Declarations) => return Err(Error::Declarations),
        Err(e) => {
            first_error.get_or_insert(e);
        }
    }
    Ok(())
}

/// A report mail: every attachment or body part that is not prose.
fn mail(
    b: &[u8],
    limits: &Limits,
    depth: usize,
    out: &mut Vec<Report>,
    first_error: &mut Option<Error>,
) -> Result<(), Error> {
    let Some(message) = MessageParser::new().parse(b) else {
        return Err(Error::Unpack("not a mail message".into()));
    };
    for part in &message.parts {
        let prose = part.content_type().is_some_and(|ct| {
            ct.ctype().eq_ignore_ascii_case("text")
                && ct.subtype().is_some_and(|s| {
                    s.eq_ignore_ascii_case("plain") || s.eq_ignore_ascii_case("html")
                })
        }) && part.attachment_name().is_none();
        let body: &[u8] = match &part.body {
            PartType::Text(t) if !prose => t.as_bytes(),
            PartType::Binary(d) | PartType::InlineBinary(d) => d,
            PartType::Message(m) => m.raw_message(),
            _ => continue,
        };
        if matches!(&part.body, PartType::Message(_)) {
            mail(body, limits, depth + 1, out, first_error)?;
        } else if shape(body).is_some_and(|s| s != Shape::Mail) {
            open(body, limits, depth + 1, out, first_error)?;
        }
    }
    Ok(())
}

/// Read at most `limit` bytes; more is an error.
fn capped(r: impl Read, limit: usize) -> Result<Vec<u8>, Error> {
    let mut buf = Vec::new();
    r.take(limit as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Error::Unpack(format!("gzip: {e}")))?;
    if buf.len() > limit {
        return Err(Error::TooLarge { limit });
    }
    Ok(buf)
}

fn gunzip(b: &[u8], limits: &Limits) -> Result<Vec<u8>, Error> {
    capped(flate2::read::MultiGzDecoder::new(b), limits.max_report)
}

/// The files of a zip archive, each within the report limit. The entry count is read
/// from the end record before the archive is opened (a directory of millions of entries
/// is refused before it is read).
fn unzip(b: &[u8], limits: &Limits) -> Result<Vec<Vec<u8>>, Error> {
    match zip_entries(b) {
        Some(n) if n <= limits.max_zip_entries => {}
        Some(_) => {
            return Err(Error::TooManyFiles {
                limit: limits.max_zip_entries,
            });
        }
        None => return Err(Error::Unpack("zip: no end of central directory".into())),
    }
    let mut archive =
        zip::ZipArchive::new(Cursor::new(b)).map_err(|e| Error::Unpack(format!("zip: {e}")))?;
    if archive.len() > limits.max_zip_entries {
        return Err(Error::TooManyFiles {
            limit: limits.max_zip_entries,
        });
    }
    let mut files = Vec::new();
    let mut total = 0usize;
    for i in 0..archive.len() {
        let file = archive
            .by_index(i)
            .map_err(|e| Error::Unpack(format!("zip: {e}")))?;
        if file.is_dir() {
            continue;
        }
        if file.size() > limits.max_report as u64 {
            return Err(Error::TooLarge {
                limit: limits.max_report,
            });
        }
        let data = capped(file, limits.max_report)?;
        total += data.len();
        if total > limits.max_report {
            return Err(Error::TooLarge {
                limit: limits.max_report,
            });
        }
        files.push(data);
    }
    Ok(files)
}

/// The total entry count of the end-of-central-directory record (the last one in the
/// archive), or `None` when there is none. A Zip64 count (0xffff) counts as too many.
fn zip_entries(b: &[u8]) -> Option<usize> {
    const EOCD: &[u8] = b"PK\x05\x06";
    let from = b.len().saturating_sub(22 + 65_535);
    let at = memchr::memmem::rfind(&b[from..], EOCD)? + from;
    let n = b.get(at + 10..at + 12)?;
    Some(usize::from(u16::from_le_bytes([n[0], n[1]])))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).expect("test input");
        e.finish().expect("test input")
    }

    fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data) in files {
            w.start_file(
                *name,
                zip::write::SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Deflated),
            )
            .expect("test input");
            w.write_all(data).expect("test input");
        }
        w.finish().expect("test input").into_inner()
    }

    const XML: &str = "<feedback><report_metadata><org_name>r</org_name><report_id>1</report_id>\
        <date_range><begin>1</begin><end>2</end></date_range></report_metadata>\
        <policy_published><domain>praktijk.nl</domain><p>none</p></policy_published>\
        <record><row><source_ip>192.0.2.1</source_ip><count>2</count><policy_evaluated>\
        <disposition>none</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated></row>\
        <identifiers><header_from>praktijk.nl</header_from></identifiers></record></feedback>";

    const JSON: &str = r#"{"organization-name":"o","date-range":{"start-datetime":"2026-11-30T00:00:00Z","end-datetime":"2026-11-30T23:59:59Z"},"report-id":"t1","policies":[{"policy":{"policy-type":"sts","policy-domain":"praktijk.nl"},"summary":{"total-successful-session-count":1,"total-failure-session-count":0}}]}"#;

    #[test]
    fn every_container_shape_table() {
        let limits = Limits::default();
        let gz = gzip(XML.as_bytes());
        let zipped = zip_of(&[("google.com!praktijk.nl!1!2.xml", XML.as_bytes())]);
        let zipped_gz = zip_of(&[("a.xml.gz", &gz)]);
        let bom = [b"\xef\xbb\xbf".as_slice(), b"\n  ", XML.as_bytes()].concat();
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            ("xml", XML.as_bytes().to_vec(), "dmarc"),
            ("xml with a byte-order mark", bom, "dmarc"),
            ("xml.gz", gz.clone(), "dmarc"),
            ("zip", zipped, "dmarc"),
            ("gz inside zip", zipped_gz, "dmarc"),
            ("json", JSON.as_bytes().to_vec(), "tlsrpt"),
            ("json.gz", gzip(JSON.as_bytes()), "tlsrpt"),
        ];
        for (name, input, kind) in cases {
            let got = reports(&input, &limits).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(got.len(), 1, "{name}");
            assert_eq!(got[0].kind(), kind, "{name}");
        }
    }

    #[test]
    fn bombs_and_oversize_are_refused_within_limits() {
        let limits = Limits {
            max_report: 1 << 20,
            ..Limits::default()
        };
        // 8 MiB of spaces in a gzip of a few KiB.
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![b' '; 1 << 20];
        for _ in 0..8 {
            e.write_all(&zeros).expect("test input");
        }
        let bomb = e.finish().expect("test input");
        assert!(bomb.len() < 200_000);
        assert_eq!(
            reports(&bomb, &limits),
            Err(Error::TooLarge { limit: 1 << 20 })
        );
        // The same inside a zip.
        let big = vec![b' '; 8 << 20];
        let zbomb = zip_of(&[("r.xml", &big)]);
        assert_eq!(
            reports(&zbomb, &limits),
            Err(Error::TooLarge { limit: 1 << 20 })
        );
        // Many files.
        let many: Vec<(String, Vec<u8>)> = (0..40)
            .map(|i| (format!("{i}.xml"), XML.as_bytes().to_vec()))
            .collect();
        let refs: Vec<(&str, &[u8])> = many
            .iter()
            .map(|(n, d)| (n.as_str(), d.as_slice()))
            .collect();
        assert_eq!(
            reports(&zip_of(&refs), &limits),
            Err(Error::TooManyFiles { limit: 16 })
        );
        // Nested gzip beyond the depth.
        let mut nested = XML.as_bytes().to_vec();
        for _ in 0..6 {
            nested = gzip(&nested);
        }
        assert_eq!(reports(&nested, &limits), Err(Error::TooDeep { limit: 3 }));
        // Input over the limit.
        assert_eq!(
            crate::read(&vec![b'<'; 17 << 20], &Limits::default()),
            Err(Error::TooLarge { limit: 16 << 20 })
        );
    }

    #[test]
    fn broken_containers_are_errors_not_panics() {
        let limits = Limits::default();
        let gz = gzip(XML.as_bytes());
        let zipped = zip_of(&[("r.xml", XML.as_bytes())]);
        for cut in [1, 5, 10, 20, gz.len() - 4] {
            assert!(reports(&gz[..cut], &limits).is_err());
        }
        for cut in [4, 30, zipped.len() / 2, zipped.len() - 5] {
            assert!(reports(&zipped[..cut], &limits).is_err());
        }
        assert_eq!(reports(b"hello", &limits), Err(Error::NoReport));
        assert_eq!(reports(b"   ", &limits), Err(Error::NoReport));
    }

    #[test]
    fn a_report_mail_gives_its_attachment() {
        use mail_builder::MessageBuilder;
        let gz = gzip(XML.as_bytes());
        let raw = MessageBuilder::new()
            .from("noreply-dmarc-support@google.com")
            .to("dmarc-rua@praktijk.nl")
            .subject("Report domain: praktijk.nl Submitter: google.com Report-ID: 1")
            .text_body("This is an aggregate report from google.com.")
            .attachment("application/gzip", "google.com!praktijk.nl!1!2.xml.gz", gz)
            .write_to_vec()
            .expect("test input");
        let got = reports(&raw, &Limits::default()).expect("test input");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].kind(), "dmarc");
        // A mail without a report says so.
        let plain = MessageBuilder::new()
            .from("a@b.example")
            .to("dmarc-rua@praktijk.nl")
            .subject("hello")
            .text_body("<not a report> just text")
            .write_to_vec()
            .expect("test input");
        assert_eq!(reports(&plain, &Limits::default()), Err(Error::NoReport));
    }
}
