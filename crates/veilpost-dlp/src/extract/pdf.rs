//! PDF text, page by page, over pdf-extract and lopdf.
//!
//! pdf-extract reports malformed input by panicking, and a hostile PDF can make it loop,
//! allocate without bound or overflow the stack; none of that may take a mail gateway down.
//! So extraction sits behind [`PdfExtractor`]: the library's own [`InProcessPdf`] catches
//! panics (enough for tests and fuzzing), and the `veilpost` binary supplies one that runs
//! [`extract_pdf`] in a child process with CPU, memory and time limits.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// The text of one page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PdfPage {
    /// The page's text, as pdf-extract lays it out.
    pub text: String,
    /// The page draws images (a page with images and no text is a scan).
    pub has_images: bool,
}

/// What extraction made of a PDF.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PdfOutcome {
    /// Every page, in order.
    Pages(Vec<PdfPage>),
    /// Encrypted with a password we do not have.
    Encrypted,
    /// Not a readable PDF (corrupt, truncated, or the extractor failed on it).
    Unreadable(String),
}

/// Turns PDF bytes into text. Implementations decide how to contain a misbehaving parser.
pub trait PdfExtractor: Send + Sync + fmt::Debug {
    /// Extract the text of `pdf`.
    fn extract(&self, pdf: &[u8]) -> PdfOutcome;
}

/// Extraction in this process, with panics caught. A PDF that aborts, overflows the stack
/// or exhausts memory still takes the process with it: use a sandboxing extractor for
/// untrusted mail (the `veilpost` binary has one).
#[derive(Debug, Clone, Copy, Default)]
pub struct InProcessPdf;

impl PdfExtractor for InProcessPdf {
    fn extract(&self, pdf: &[u8]) -> PdfOutcome {
        extract_pdf(pdf)
    }
}

/// Extract every page of `pdf`, catching the extractor's panics.
pub fn extract_pdf(pdf: &[u8]) -> PdfOutcome {
    match catch_unwind(AssertUnwindSafe(|| extract_pages(pdf))) {
        Ok(outcome) => outcome,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "extractor panicked".to_string());
            PdfOutcome::Unreadable(format!("PDF extractor failed: {msg}"))
        }
    }
}

fn extract_pages(pdf: &[u8]) -> PdfOutcome {
    use pdf_extract::{Document, Error, PlainTextOutput};
    let mut doc = match Document::load_mem(pdf) {
        Ok(doc) => doc,
        Err(Error::Decryption(_) | Error::InvalidPassword) => return PdfOutcome::Encrypted,
        Err(e) => return PdfOutcome::Unreadable(format!("not a readable PDF: {e}")),
    };
    if doc.is_encrypted() && doc.decrypt("").is_err() {
        return PdfOutcome::Encrypted;
    }
    let pages = doc.get_pages();
    if pages.is_empty() {
        return PdfOutcome::Unreadable("PDF has no pages".to_string());
    }
    let mut out = Vec::with_capacity(pages.len());
    for (&number, &id) in &pages {
        let mut text = String::new();
        {
            let mut sink = PlainTextOutput::new(&mut text);
            if let Err(e) = pdf_extract::output_doc_page(&doc, &mut sink, number) {
                return PdfOutcome::Unreadable(format!("page {number}: {e}"));
            }
        }
        let has_images = doc
            .get_page_images(id)
            .map(|images| !images.is_empty())
            .unwrap_or(false);
        out.push(PdfPage { text, has_images });
    }
    PdfOutcome::Pages(out)
}
