//! Veilpost's data-loss prevention engine: bytes in, findings and a verdict out.
//!
//! Every other part of Veilpost asks one question of a message: does it hold sensitive
//! personal data (a BSN, health data about a patient, an identity document)? This crate
//! answers it without touching sockets, files or global state.
//!
//! It works in two stages:
//!
//! - [`extract`] recognises content by its bytes and walks into it: MIME messages (all
//!   transfer encodings and charsets, attached messages), HTML, PDF, DOCX, XLSX, PPTX,
//!   ODT/ODS, CSV and text, ZIP and gzip, nested. Each piece of text comes out with its
//!   location: `subject`, `body` or `attachment/NAME[/INNER...]`. Whatever cannot be
//!   opened (encrypted, corrupt, scanned, over a limit) becomes an `uninspectable` finding,
//!   and the verdict is then never clean: the engine fails closed.
//! - [`detect`] finds the personal data in that text: BSNs (11-check and context), IBANs
//!   (mod-97), dates of birth, identity document numbers, health data about an
//!   identifiable person, and the low-sensitivity phone numbers, e-mail addresses and
//!   postcodes every signature carries.
//!
//! PDF parsing is the one step that can misbehave badly on hostile input, so it goes
//! through the [`PdfExtractor`] trait: the binary plugs in a sandboxed child process.
//!
//! ```
//! use veilpost_dlp::{Scanner, Verdict};
//!
//! let scanner = Scanner::new();
//! let mail = b"From: a@praktijk.nl\r\nSubject: Verwijzing\r\n\r\nBSN: 123456782\r\n";
//! let report = scanner.scan_message(mail);
//! assert_eq!(report.verdict, Verdict::Sensitive);
//! assert_eq!(report.findings[0].location, "body");
//! ```

pub mod detect;
pub mod extract;
mod report;

use std::sync::Arc;

pub use detect::{Checksum, CustomIdentifier, IdentifierError};
pub use extract::pdf::{InProcessPdf, PdfExtractor, PdfOutcome, PdfPage};
pub use extract::{Clock, Limits, SystemClock};
pub use report::{Confidence, Finding, Kind, Reason, Report, Verdict};

use detect::{Carry, Collector, Engine, Segment};
use extract::{TextRole, Walker};

/// A configured scanner: compiled detectors, limits, a PDF extractor and a clock.
/// Build one and share it; scanning takes `&self`.
#[derive(Debug, Clone)]
pub struct Scanner {
    engine: Arc<Engine>,
    limits: Limits,
    pdf: Arc<dyn PdfExtractor>,
    clock: Arc<dyn Clock>,
}

impl Default for Scanner {
    fn default() -> Self {
        Self::new()
    }
}

impl Scanner {
    /// A scanner with default limits, in-process PDF extraction and the system clock.
    pub fn new() -> Scanner {
        Scanner {
            engine: Arc::new(Engine::new()),
            limits: Limits::default(),
            pdf: Arc::new(InProcessPdf),
            clock: Arc::new(SystemClock),
        }
    }

    /// Add the organisation's own identifiers (`[[dlp.identifiers]]`). An invalid one is
    /// refused with its position and key named.
    pub fn with_identifiers(
        mut self,
        identifiers: Vec<CustomIdentifier>,
    ) -> Result<Scanner, IdentifierError> {
        self.engine = Arc::new(Engine::with_identifiers(identifiers)?);
        Ok(self)
    }

    /// Use other limits.
    pub fn with_limits(mut self, limits: Limits) -> Scanner {
        self.limits = limits;
        self
    }

    /// Use another PDF extractor (a sandboxed one for untrusted input).
    pub fn with_pdf_extractor(mut self, pdf: Arc<dyn PdfExtractor>) -> Scanner {
        self.pdf = pdf;
        self
    }

    /// Use another clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Scanner {
        self.clock = clock;
        self
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Scan a whole message (RFC 5322 / MIME, as in an `.eml` file).
    pub fn scan_message(&self, raw: &[u8]) -> Report {
        self.run(|walker| walker.message(raw))
    }

    /// Scan a file of any kind, recognised by its content. `name` is its file name: it
    /// names the location (`attachment/NAME`) and helps tell CSV from text.
    pub fn scan_file(&self, raw: &[u8], name: &str) -> Report {
        let location = format!("attachment/{}", name.replace('/', "_"));
        self.run(|walker| walker.file(raw, &location, Some(name)))
    }

    fn run(&self, walk: impl FnOnce(&mut Walker<'_, Detecting<'_>>)) -> Report {
        let mut sink = Detecting {
            engine: &self.engine,
            out: Collector::new(self.limits.max_findings),
            carry: None,
            today: self.clock.today(),
        };
        let mut walker = Walker::new(&self.limits, &*self.pdf, &*self.clock, &mut sink);
        walk(&mut walker);
        sink.out.finish()
    }
}

/// The bridge from extraction to detection.
struct Detecting<'a> {
    engine: &'a Engine,
    out: Collector,
    /// What the current message's subject named, for its body.
    carry: Option<Carry>,
    /// Today (a date next to a name is a date of birth only in the past).
    today: Option<(u32, u32, u32)>,
}

impl extract::Sink for Detecting<'_> {
    fn text(&mut self, location: &str, text: &str, role: TextRole) {
        let segment = Segment {
            location,
            today: self.today,
        };
        match role {
            TextRole::Subject => {
                let carry = self
                    .engine
                    .scan_segment(text, &segment, &mut self.out, None);
                self.carry = Some(carry);
            }
            TextRole::Body => {
                self.engine
                    .scan_segment(text, &segment, &mut self.out, self.carry.as_ref());
            }
            // An attachment is read with what the subject named, as the body is:
            // "Betreft: J. de Vries, geb. 12-03-1950" above a letter about "de patiënt".
            TextRole::Other => {
                self.engine
                    .scan_segment(text, &segment, &mut self.out, self.carry.as_ref());
            }
        }
    }

    fn uninspectable(&mut self, location: &str, reason: &str) {
        self.out.uninspectable(location, reason);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    use super::*;

    /// A clock that jumps a minute every time it is read.
    #[derive(Debug)]
    struct Jumping(Mutex<Instant>);

    impl Clock for Jumping {
        fn now(&self) -> Instant {
            let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
            *t += Duration::from_secs(60);
            *t
        }
    }

    #[test]
    fn time_limit_fails_closed() {
        let scanner = Scanner::new().with_clock(Arc::new(Jumping(Mutex::new(Instant::now()))));
        let report = scanner.scan_message(b"From: a@b.nl\r\nSubject: x\r\n\r\nhallo\r\n");
        assert_eq!(report.verdict, Verdict::Sensitive);
        assert!(
            report.findings[0].excerpt.contains("time limit"),
            "{report:?}"
        );
    }

    #[test]
    fn byte_limit_fails_closed() {
        let limits = Limits {
            max_bytes: 10,
            ..Limits::default()
        };
        let report = Scanner::new()
            .with_limits(limits)
            .scan_file(b"gewone tekst zonder nummers", "a.txt");
        assert_eq!(report.verdict, Verdict::Sensitive);
        assert!(
            report.findings[0].excerpt.contains("size limit"),
            "{report:?}"
        );
    }
}
