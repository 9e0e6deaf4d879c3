//! Extraction: bytes of a message or a file in, text segments with their location out.
//!
//! The `Walker` recognises content by its bytes (never by the name or declared type
//! alone), descends into MIME parts, archives and documents, and hands each piece of text
//! to a sink together with where it came from (`subject`, `body`,
//! `attachment/NAME[/INNER...]`). Whatever it cannot open (an encrypted archive or PDF, a
//! corrupt file, a scanned page, a limit reached) it reports as uninspectable, so the
//! verdict fails closed.
//!
//! Every limit is counted over the whole input: bytes produced by decoding and
//! decompression, parts and archive entries, container depth, and wall time.

pub mod html;
mod office;
pub mod pdf;
mod table;

use std::io::{Cursor, Read};
use std::time::{Duration, Instant};

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};

use self::office::Flavor;
use self::pdf::{PdfExtractor, PdfOutcome};

/// Bounds on the work one input may cause. The defaults suit a mail gateway.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Bytes produced by decoding and decompression, over the whole input (100 MB).
    pub max_bytes: u64,
    /// Containers inside containers: an attached message, a ZIP, a document (8).
    pub max_depth: usize,
    /// MIME parts plus archive entries (1,000).
    pub max_parts: usize,
    /// Multipart levels inside one message (50): real mail uses fewer than ten.
    pub max_mime_nesting: usize,
    /// Spreadsheet cells over the whole input (2,000,000).
    pub max_cells: usize,
    /// Wall time for one input (30 s); PDF extractors enforce their own limit per file.
    pub max_time: Duration,
    /// Findings listed per input (1,000); the verdict still counts the rest.
    pub max_findings: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 100 * 1000 * 1000,
            max_depth: 8,
            max_parts: 1000,
            max_mime_nesting: 50,
            max_cells: 2_000_000,
            max_time: Duration::from_secs(30),
            max_findings: 1000,
        }
    }
}

/// The time source, a parameter so limits can be tested without waiting.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now.
    fn now(&self) -> Instant;

    /// Today's date (year, month, day) in UTC, if the clock knows it: a date next to a name
    /// is a date of birth only when it lies in the past. The default reads the system's
    /// calendar.
    fn today(&self) -> Option<(u32, u32, u32)> {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_secs();
        Some(civil_from_days((secs / 86_400) as i64))
    }
}

/// The proleptic Gregorian date of a day number counted from 1970-01-01.
pub fn civil_from_days(days: i64) -> (u32, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year.max(0) as u32, month as u32, day as u32)
}

/// The system's monotonic clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// What the walker gives its sink.
pub(crate) trait Sink {
    /// A piece of text at `location`, with its role in the message.
    fn text(&mut self, location: &str, text: &str, role: TextRole);
    /// Something at `location` could not be inspected.
    fn uninspectable(&mut self, location: &str, reason: &str);
}

/// Where a text stands in its message, for detectors that join subject and body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextRole {
    /// A message subject: starts a new message.
    Subject,
    /// A message body part: may use what its subject named.
    Body,
    /// Any other text (an attachment).
    Other,
}

/// What a piece of content is, by its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Empty,
    Message,
    Pdf,
    Zip,
    Gzip,
    Ole,
    Html,
    Csv,
    Text,
    Media,
    Unknown,
}

/// Walks one input. Create one per input.
pub(crate) struct Walker<'a, S: Sink> {
    pub(crate) limits: &'a Limits,
    pub(crate) pdf: &'a dyn PdfExtractor,
    pub(crate) clock: &'a dyn Clock,
    pub(crate) sink: &'a mut S,
    deadline: Instant,
    bytes: u64,
    parts: usize,
    /// A limit was hit that stops all further work (time, parts).
    stopped: bool,
}

impl<'a, S: Sink> Walker<'a, S> {
    pub(crate) fn new(
        limits: &'a Limits,
        pdf: &'a dyn PdfExtractor,
        clock: &'a dyn Clock,
        sink: &'a mut S,
    ) -> Self {
        let deadline = clock.now() + limits.max_time;
        Walker {
            limits,
            pdf,
            clock,
            sink,
            deadline,
            bytes: 0,
            parts: 0,
            stopped: false,
        }
    }

    /// Walk a whole message (an `.eml`).
    pub(crate) fn message(&mut self, raw: &[u8]) {
        if !self.charge("body", raw.len() as u64) {
            return;
        }
        match parse_message(raw) {
            Ok(Some(msg)) => self.parsed_message(&msg, None, 0),
            Ok(None) => self.document(raw, "body", None, None, 0),
            Err(why) => self.sink.uninspectable("body", &why.to_string()),
        }
    }

    /// Walk a file of any kind found at `location`.
    pub(crate) fn file(&mut self, raw: &[u8], location: &str, name: Option<&str>) {
        if !self.charge(location, raw.len() as u64) {
            return;
        }
        // A file that says it is a document but is empty is a broken document.
        if raw.iter().all(u8::is_ascii_whitespace) && expects_binary(name, None) {
            self.sink
                .uninspectable(location, "empty file where a document was expected");
            return;
        }
        self.document(raw, location, name, None, 0);
    }

    /// Count produced bytes against the budget; false (and an uninspectable finding) when
    /// the budget is spent.
    fn charge(&mut self, location: &str, n: u64) -> bool {
        self.bytes = self.bytes.saturating_add(n);
        if self.bytes > self.limits.max_bytes {
            self.sink.uninspectable(
                location,
                &format!(
                    "size limit: more than {} bytes after decoding",
                    self.limits.max_bytes
                ),
            );
            return false;
        }
        true
    }

    /// Count one part or entry, and check the clock; false when work must stop.
    fn step(&mut self, location: &str) -> bool {
        if self.stopped {
            return false;
        }
        self.parts += 1;
        if self.parts > self.limits.max_parts {
            self.sink.uninspectable(
                location,
                &format!("part limit: more than {} parts", self.limits.max_parts),
            );
            self.stopped = true;
            return false;
        }
        if self.clock.now() > self.deadline {
            self.sink.uninspectable(
                location,
                &format!("time limit: more than {:?}", self.limits.max_time),
            );
            self.stopped = true;
            return false;
        }
        true
    }

    fn parsed_message(&mut self, msg: &Message<'_>, prefix: Option<&str>, depth: usize) {
        let subject_location = prefix.unwrap_or("subject");
        let body_location = prefix.unwrap_or("body");
        let attachments = prefix.unwrap_or("attachment");
        self.sink.text(
            subject_location,
            msg.subject().unwrap_or(""),
            TextRole::Subject,
        );
        // Depth-first over the MIME tree with an explicit stack: no recursion on nesting.
        // Each part is visited once: a malformed message can make a multipart list one of
        // its ancestors as a child, and following that would explode.
        let mut leaves = Vec::new();
        let mut visited = vec![false; msg.parts.len()];
        let mut stack = vec![(0u32, 0usize)];
        let mut too_deep = false;
        while let Some((id, level)) = stack.pop() {
            let Some(part) = msg.parts.get(id as usize) else {
                continue;
            };
            if std::mem::replace(&mut visited[id as usize], true) {
                continue;
            }
            match &part.body {
                PartType::Multipart(children) => {
                    if level >= self.limits.max_mime_nesting {
                        too_deep = true;
                        continue;
                    }
                    stack.extend(children.iter().rev().map(|&c| (c, level + 1)));
                }
                _ => leaves.push(id),
            }
        }
        if too_deep {
            self.sink.uninspectable(
                body_location,
                &format!(
                    "MIME nesting deeper than {} levels",
                    self.limits.max_mime_nesting
                ),
            );
        }
        for id in leaves {
            let part = &msg.parts[id as usize];
            let in_body = msg.text_body.contains(&id) || msg.html_body.contains(&id);
            let name = part_name(part, id);
            let location = format!("{attachments}/{name}");
            if !self.step(if in_body { body_location } else { &location }) {
                return;
            }
            let content_type = part
                .content_type()
                .map(|ct| match &ct.c_subtype {
                    Some(sub) => format!("{}/{}", ct.c_type, sub),
                    None => ct.c_type.to_string(),
                })
                .map(|s| s.to_ascii_lowercase());
            match &part.body {
                PartType::Text(text) if in_body => {
                    let text = table::pasted_tables(text);
                    self.sink.text(body_location, &text, TextRole::Body);
                }
                PartType::Html(html) if in_body => {
                    let text = html::to_text(html);
                    self.sink.text(body_location, &text, TextRole::Body);
                }
                PartType::Text(text) | PartType::Html(text) => {
                    self.document(
                        text.as_bytes(),
                        &location,
                        Some(&name),
                        content_type.as_deref(),
                        depth + 1,
                    );
                }
                PartType::Binary(bytes) | PartType::InlineBinary(bytes) => {
                    if part.is_encoding_problem && is_message_type(content_type.as_deref()) {
                        // mail-parser gives up on deeply encoded message/rfc822 parts.
                        self.nested_message(bytes, &location, depth + 1);
                    } else {
                        self.document(
                            bytes,
                            &location,
                            Some(&name),
                            content_type.as_deref(),
                            depth + 1,
                        );
                    }
                }
                PartType::Message(inner) => {
                    if self.enter(&location, depth + 1) {
                        self.parsed_message(inner, Some(&location), depth + 1);
                    }
                }
                PartType::Multipart(_) => {}
            }
        }
    }

    fn nested_message(&mut self, raw: &[u8], location: &str, depth: usize) {
        if !self.enter(location, depth) {
            return;
        }
        match parse_message(raw) {
            Ok(Some(msg)) => self.parsed_message(&msg, Some(location), depth),
            Ok(None) => self.text_document(raw, location, Format::Text),
            Err(why) => self.sink.uninspectable(location, &why.to_string()),
        }
    }

    /// May we open a container at `depth`?
    fn enter(&mut self, location: &str, depth: usize) -> bool {
        if depth > self.limits.max_depth {
            self.sink.uninspectable(
                location,
                &format!(
                    "nesting limit: deeper than {} levels",
                    self.limits.max_depth
                ),
            );
            return false;
        }
        true
    }

    /// Any content, recognised by its bytes.
    fn document(
        &mut self,
        raw: &[u8],
        location: &str,
        name: Option<&str>,
        content_type: Option<&str>,
        depth: usize,
    ) {
        let format = sniff(raw, name, content_type);
        match format {
            // An empty part holds nothing to leak (garbled multiparts produce them).
            Format::Empty => {}
            Format::Media => {}
            Format::Text | Format::Csv | Format::Html => {
                self.text_document(raw, location, format);
            }
            Format::Message => self.nested_message(raw, location, depth),
            Format::Pdf => self.pdf(raw, location),
            Format::Zip => {
                if self.enter(location, depth) {
                    self.zip(raw, location, depth);
                }
            }
            Format::Gzip => {
                if self.enter(location, depth) {
                    self.gzip(raw, location, name, depth);
                }
            }
            Format::Ole => {
                let reason = if contains_utf16(raw, "EncryptionInfo") {
                    "encrypted Office document"
                } else {
                    "legacy Office or Outlook format (.doc, .xls, .msg) is not supported"
                };
                self.sink.uninspectable(location, reason);
            }
            Format::Unknown => {
                self.sink
                    .uninspectable(location, "unrecognised or corrupt binary content");
            }
        }
    }

    fn text_document(&mut self, raw: &[u8], location: &str, format: Format) {
        let text = decode_text(raw);
        let text = match format {
            Format::Html => html::to_text(&text),
            Format::Csv => table::csv_to_text(&text),
            _ => table::pasted_tables(&text).into_owned(),
        };
        self.sink.text(location, &text, TextRole::Other);
    }

    fn pdf(&mut self, raw: &[u8], location: &str) {
        match self.pdf.extract(raw) {
            PdfOutcome::Encrypted => self.sink.uninspectable(location, "encrypted PDF"),
            PdfOutcome::Unreadable(why) => self.sink.uninspectable(location, &why),
            PdfOutcome::Pages(pages) => {
                let mut text = String::new();
                let mut scanned = Vec::new();
                for (i, page) in pages.iter().enumerate() {
                    let blank = page.text.trim().is_empty();
                    if blank && page.has_images {
                        scanned.push((i + 1).to_string());
                    }
                    text.push_str(&page.text);
                    text.push('\n');
                }
                if !scanned.is_empty() {
                    self.sink.uninspectable(
                        location,
                        &format!(
                            "PDF page(s) {} contain only images (a scan?); no text to inspect",
                            scanned.join(", ")
                        ),
                    );
                } else if text.trim().is_empty() {
                    self.sink
                        .uninspectable(location, "PDF contains no extractable text");
                }
                if self.charge(location, text.len() as u64) {
                    self.sink.text(location, &text, TextRole::Other);
                }
            }
        }
    }

    fn gzip(&mut self, raw: &[u8], location: &str, name: Option<&str>, depth: usize) {
        let remaining = self.limits.max_bytes.saturating_sub(self.bytes);
        let mut out = Vec::new();
        let decoder = flate2::read::GzDecoder::new(raw);
        match decoder.take(remaining + 1).read_to_end(&mut out) {
            Ok(_) => {}
            Err(e) => {
                self.sink
                    .uninspectable(location, &format!("corrupt gzip data: {e}"));
                return;
            }
        }
        if !self.charge(location, out.len() as u64) {
            return;
        }
        let inner = name
            .and_then(|n| n.strip_suffix(".gz").or_else(|| n.strip_suffix(".GZ")))
            .unwrap_or("content");
        self.document(
            &out,
            &format!("{location}/{inner}"),
            Some(inner),
            None,
            depth + 1,
        );
    }

    /// ZIP and the formats built on it (DOCX, XLSX, PPTX, ODF).
    fn zip(&mut self, raw: &[u8], location: &str, depth: usize) {
        let mut archive = match zip::ZipArchive::new(Cursor::new(raw)) {
            Ok(a) => a,
            Err(e) => {
                self.sink
                    .uninspectable(location, &format!("corrupt ZIP archive: {e}"));
                return;
            }
        };
        let names: Vec<String> = match archive
            .file_names()
            .map(|n| n.map(|n| n.into_owned()))
            .collect::<Result<_, _>>()
        {
            Ok(names) => names,
            Err(e) => {
                self.sink
                    .uninspectable(location, &format!("corrupt ZIP archive: {e}"));
                return;
            }
        };
        let has = |n: &str| names.iter().any(|x| x == n);
        // Declared sizes are enforced by the zip reader, so they bound what we will read.
        let declared: u64 = (0..archive.len())
            .filter_map(|i| archive.by_index_raw(i).ok().map(|f| f.size()))
            .fold(0u64, u64::saturating_add);
        let remaining = self.limits.max_bytes.saturating_sub(self.bytes);
        if has("xl/workbook.xml") {
            if declared > remaining {
                self.sink.uninspectable(
                    location,
                    &format!("size limit: workbook expands to {declared} bytes"),
                );
                return;
            }
            self.charge(location, declared);
            let max_cells = self.limits.max_cells;
            match office::xlsx_text(raw, max_cells) {
                Ok(text) => self.sink.text(location, &text, TextRole::Other),
                Err(why) => self.sink.uninspectable(location, &why.to_string()),
            }
            self.embedded(&mut archive, &names, "xl/embeddings/", location, depth);
            return;
        }
        let office_parts: Vec<&String> = if has("word/document.xml") {
            names
                .iter()
                .filter(|n| {
                    n.starts_with("word/")
                        && n.ends_with(".xml")
                        && !n[5..].contains('/')
                        && !matches!(
                            &n[5..],
                            "styles.xml"
                                | "settings.xml"
                                | "fontTable.xml"
                                | "webSettings.xml"
                                | "numbering.xml"
                                | "stylesWithEffects.xml"
                        )
                })
                .collect()
        } else if has("ppt/presentation.xml") {
            names
                .iter()
                .filter(|n| {
                    (n.starts_with("ppt/slides/slide") || n.starts_with("ppt/notesSlides/"))
                        && n.ends_with(".xml")
                })
                .collect()
        } else {
            Vec::new()
        };
        if !office_parts.is_empty() {
            let mut text = String::new();
            for part in office_parts {
                if let Some(xml) = self.read_entry(&mut archive, part, location)
                    && let Some(t) = self.xml_part(&xml, Flavor::Ooxml, location)
                {
                    text.push_str(&t);
                    text.push('\n');
                }
            }
            self.sink.text(location, &text, TextRole::Other);
            let embedded = if has("word/document.xml") {
                "word/embeddings/"
            } else {
                "ppt/embeddings/"
            };
            self.embedded(&mut archive, &names, embedded, location, depth);
            return;
        }
        if has("mimetype") && has("content.xml") {
            if let Some(xml) = self.read_entry(&mut archive, "content.xml", location)
                && let Some(t) = self.xml_part(&xml, Flavor::Odf, location)
            {
                self.sink.text(location, &t, TextRole::Other);
            }
            return;
        }
        for name in &names {
            if name.ends_with('/') {
                continue;
            }
            let inner = format!("{location}/{name}");
            if !self.step(&inner) {
                return;
            }
            if let Some(bytes) = self.read_entry(&mut archive, name, &inner) {
                let base = name.rsplit('/').next().unwrap_or(name);
                self.document(&bytes, &inner, Some(base), None, depth + 1);
            }
        }
    }

    fn xml_part(&mut self, xml: &[u8], flavor: Flavor, location: &str) -> Option<String> {
        let (text, error) = office::xml_text(xml, flavor);
        if let Some(e) = error {
            self.sink
                .uninspectable(location, &format!("corrupt document: {e}"));
        }
        Some(text)
    }

    /// Documents embedded in an Office file (an Excel sheet inside a Word letter).
    fn embedded(
        &mut self,
        archive: &mut zip::ZipArchive<Cursor<&[u8]>>,
        names: &[String],
        folder: &str,
        location: &str,
        depth: usize,
    ) {
        for name in names.iter().filter(|n| n.starts_with(folder)) {
            let base = name.rsplit('/').next().unwrap_or(name);
            let inner = format!("{location}/{base}");
            if !self.step(&inner) || !self.enter(&inner, depth + 1) {
                return;
            }
            if let Some(bytes) = self.read_entry(archive, name, &inner) {
                self.document(&bytes, &inner, Some(base), None, depth + 1);
            }
        }
    }

    /// Read one archive entry within the byte budget; `None` (and a finding) on failure.
    fn read_entry(
        &mut self,
        archive: &mut zip::ZipArchive<Cursor<&[u8]>>,
        name: &str,
        location: &str,
    ) -> Option<Vec<u8>> {
        let remaining = self.limits.max_bytes.saturating_sub(self.bytes);
        let mut file = match archive.by_name(name) {
            Ok(f) => f,
            Err(zip::result::ZipError::InvalidPassword) => {
                self.sink.uninspectable(location, "encrypted ZIP entry");
                return None;
            }
            Err(zip::result::ZipError::UnsupportedArchive(why)) => {
                let reason = if why.contains("assword") || why.contains("ncrypt") {
                    "encrypted ZIP entry".to_string()
                } else {
                    format!("unsupported ZIP entry: {why}")
                };
                self.sink.uninspectable(location, &reason);
                return None;
            }
            Err(e) => {
                self.sink
                    .uninspectable(location, &format!("corrupt ZIP entry: {e}"));
                return None;
            }
        };
        if file.encrypted() {
            self.sink.uninspectable(location, "encrypted ZIP entry");
            return None;
        }
        if file.size() > remaining {
            self.sink.uninspectable(
                location,
                &format!(
                    "size limit: entry expands to {} bytes (a ZIP bomb?)",
                    file.size()
                ),
            );
            self.bytes = self.limits.max_bytes;
            return None;
        }
        let mut out = Vec::with_capacity(file.size() as usize);
        if let Err(e) = (&mut file).take(remaining + 1).read_to_end(&mut out) {
            self.sink
                .uninspectable(location, &format!("corrupt ZIP entry: {e}"));
            return None;
        }
        drop(file);
        if !self.charge(location, out.len() as u64) {
            return None;
        }
        Some(out)
    }
}

/// Parse a message, containing a parser panic: mail-parser promises not to panic, but its
/// debug assertions fire on some malformed multiparts (tests/fixtures/hostile).
fn parse_message(raw: &[u8]) -> Result<Option<Message<'_>>, MalformedMime> {
    std::panic::catch_unwind(|| MessageParser::default().parse(raw)).map_err(|_| MalformedMime)
}

/// The MIME structure was too broken for the parser.
#[derive(Debug, Clone, Copy)]
struct MalformedMime;

impl std::fmt::Display for MalformedMime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("malformed MIME structure (the parser gave up)")
    }
}

/// A display name for a MIME part: its file name, or `part-N`.
fn part_name(part: &mail_parser::MessagePart<'_>, id: u32) -> String {
    match part.attachment_name() {
        Some(n) if !n.trim().is_empty() => n.replace('/', "_"),
        _ => match &part.body {
            PartType::Message(m) => m
                .subject()
                .map(|s| format!("{}.eml", s.replace('/', "_")))
                .unwrap_or_else(|| format!("part-{id}.eml")),
            _ => format!("part-{id}"),
        },
    }
}

fn is_message_type(content_type: Option<&str>) -> bool {
    matches!(content_type, Some("message/rfc822" | "message/global"))
}

/// Names and types that promise a binary document: an empty one is a broken one.
fn expects_binary(name: Option<&str>, content_type: Option<&str>) -> bool {
    // `content_type` is kept for callers that know one.
    let ext = name
        .and_then(|n| n.rsplit_once('.'))
        .map(|(_, e)| e.to_ascii_lowercase());
    matches!(
        ext.as_deref(),
        Some(
            "pdf"
                | "docx"
                | "xlsx"
                | "pptx"
                | "odt"
                | "ods"
                | "odp"
                | "zip"
                | "gz"
                | "doc"
                | "xls"
                | "msg"
        )
    ) || content_type.is_some_and(|t| t.starts_with("application/") && !t.contains("json"))
}

fn sniff(raw: &[u8], name: Option<&str>, content_type: Option<&str>) -> Format {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Format::Empty;
    }
    let head = &raw[..raw.len().min(1024)];
    if memchr::memmem::find(head, b"%PDF-").is_some() {
        return Format::Pdf;
    }
    if raw.starts_with(b"PK\x03\x04")
        || raw.starts_with(b"PK\x05\x06")
        || raw.starts_with(b"PK\x07\x08")
    {
        return Format::Zip;
    }
    if raw.starts_with(&[0x1F, 0x8B]) {
        return Format::Gzip;
    }
    if raw.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        return Format::Ole;
    }
    if is_media(raw) {
        return Format::Media;
    }
    let ext = name
        .and_then(|n| n.rsplit_once('.'))
        .map(|(_, e)| e.to_ascii_lowercase());
    if !is_texty(raw) {
        return Format::Unknown;
    }
    if is_message_type(content_type) || ext.as_deref() == Some("eml") || looks_like_message(raw) {
        return Format::Message;
    }
    if matches!(ext.as_deref(), Some("htm" | "html" | "xhtml"))
        || content_type == Some("text/html")
        || looks_like_html(head)
    {
        return Format::Html;
    }
    if matches!(ext.as_deref(), Some("csv" | "tsv")) || content_type == Some("text/csv") {
        return Format::Csv;
    }
    Format::Text
}

fn is_media(raw: &[u8]) -> bool {
    const MAGIC: &[&[u8]] = &[
        b"\x89PNG\r\n\x1a\n",
        b"\xFF\xD8\xFF",
        b"GIF87a",
        b"GIF89a",
        b"II*\0",
        b"MM\0*",
        b"ID3",
        b"OggS",
        b"fLaC",
        b"\x00\x00\x01\x00",
    ];
    MAGIC.iter().any(|m| raw.starts_with(m))
        || (raw.len() > 12 && &raw[4..8] == b"ftyp")
        || (raw.starts_with(b"RIFF")
            && raw.len() > 12
            && matches!(&raw[8..12], b"WEBP" | b"WAVE" | b"AVI "))
        // BMP: "BM", the file size, then four reserved zero bytes.
        || (raw.starts_with(b"BM") && raw.len() > 14 && raw[6..10] == [0, 0, 0, 0])
}

/// Mostly printable text (UTF-8, UTF-16 with BOM, or a single-byte charset)?
fn is_texty(raw: &[u8]) -> bool {
    if raw.starts_with(&[0xFF, 0xFE]) || raw.starts_with(&[0xFE, 0xFF]) {
        return true;
    }
    let sample = &raw[..raw.len().min(8192)];
    let control = sample
        .iter()
        .filter(|&&b| (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0C | 0x1B)) || b == 0x7F)
        .count();
    control * 200 <= sample.len()
}

fn looks_like_message(raw: &[u8]) -> bool {
    const HEADERS: &[&str] = &[
        "from",
        "to",
        "cc",
        "subject",
        "date",
        "received",
        "return-path",
        "message-id",
        "mime-version",
        "delivered-to",
        "reply-to",
        "content-type",
        "dkim-signature",
        "authentication-results",
        "x-mailer",
        "sender",
        "in-reply-to",
        "references",
    ];
    let head = &raw[..raw.len().min(8192)];
    let text = String::from_utf8_lossy(head);
    let mut known = 0;
    for line in text.lines().take(40) {
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            continue;
        }
        let Some((name, _)) = line.split_once(':') else {
            return false;
        };
        if name.is_empty() || name.contains(' ') {
            return false;
        }
        let name = name.to_ascii_lowercase();
        if HEADERS.contains(&name.as_str()) || name.starts_with("x-") || name.starts_with("arc-") {
            known += 1;
        }
    }
    known >= 2
}

fn looks_like_html(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head).to_ascii_lowercase();
    let t = text.trim_start_matches('\u{feff}').trim_start();
    t.starts_with("<!doctype html")
        || t.starts_with("<html")
        || t.starts_with("<head")
        || t.starts_with("<body")
        || text.contains("<html")
}

/// Decode text by its BOM, as UTF-8, or else as Windows-1252 (a superset of Latin-1).
fn decode_text(raw: &[u8]) -> std::borrow::Cow<'_, str> {
    if let Some((encoding, _)) = encoding_rs::Encoding::for_bom(raw) {
        let (text, _) = encoding.decode_with_bom_removal(raw);
        return text;
    }
    match std::str::from_utf8(raw) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => encoding_rs::WINDOWS_1252.decode_without_bom_handling(raw).0,
    }
}

fn contains_utf16(raw: &[u8], needle: &str) -> bool {
    let wide: Vec<u8> = needle.bytes().flat_map(|b| [b, 0]).collect();
    memchr::memmem::find(raw, &wide).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing_by_content() {
        let cases: &[(&[u8], Option<&str>, Format)] = &[
            (b"", Some("x.txt"), Format::Empty),
            (b"%PDF-1.7\n...", Some("x.txt"), Format::Pdf),
            (b"PK\x03\x04rest", None, Format::Zip),
            (b"\x1f\x8b\x08", None, Format::Gzip),
            (b"\x89PNG\r\n\x1a\nxxxx", Some("a.pdf"), Format::Media),
            (
                b"From: a@b.nl\r\nSubject: x\r\n\r\nbody",
                None,
                Format::Message,
            ),
            (b"<!DOCTYPE html><p>x", None, Format::Html),
            (b"a;b\n1;2", Some("lijst.csv"), Format::Csv),
            (b"gewone tekst: BSN 123456782", None, Format::Text),
            (b"caf\xe9 Windows-1252", None, Format::Text),
            (
                b"\x00\x01\x02\x03\x04\x05\x06\x07\x08",
                Some("a.pdf"),
                Format::Unknown,
            ),
        ];
        for (raw, name, want) in cases {
            assert_eq!(sniff(raw, *name, None), *want, "{raw:?}");
        }
    }

    #[test]
    fn decoding() {
        assert_eq!(decode_text(b"caf\xe9"), "café");
        assert_eq!(decode_text("café".as_bytes()), "café");
        assert_eq!(decode_text(b"\xff\xfeh\0i\0"), "hi");
    }
}
