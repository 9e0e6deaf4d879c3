//! `veilpost scan`: scan files for sensitive personal data.
//!
//! Inputs are scanned in parallel and reported in the order given. `.eml` files are read as
//! MIME messages; anything else is recognised by its content. Exit status: 0 all clean,
//! 1 something sensitive (or uninspectable), 2 an input could not be read.

use std::collections::BTreeMap;
use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;

use clap::ValueEnum;
use serde::Serialize;
use veilpost_dlp::{Finding, Report, Scanner, Verdict};

use crate::lang::{Lang, Words};

/// How results are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Format {
    /// A line per input and a line per finding, for people.
    #[default]
    Text,
    /// One JSON object per input, one per line.
    Json,
}

/// Show a progress bar from this many inputs on (and only on a terminal).
const PROGRESS_FROM: usize = 20;

/// One input's outcome.
#[derive(Debug)]
enum Outcome {
    Scanned(Report),
    Failed(String),
}

#[derive(Serialize)]
struct JsonFinding<'a> {
    kind: &'a str,
    location: &'a str,
    confidence: &'static str,
    excerpt: &'a str,
    /// The rule that made the finding (`bsn.label`, `health.person`, `custom.NAME`).
    rule: &'a str,
    /// The evidence that combined (`name`, `date_of_birth`, `diagnosis`, ...).
    evidence: &'a [&'static str],
}

#[derive(Serialize)]
struct JsonResult<'a> {
    path: &'a str,
    verdict: &'static str,
    findings: Vec<JsonFinding<'a>>,
    reason: String,
    error: Option<&'a str>,
}

/// Run the scan; returns the exit code.
pub fn run(scanner: &Scanner, paths: &[PathBuf], format: Format, lang: Lang, jobs: usize) -> u8 {
    let inputs = expand(paths);
    let progress = (inputs.len() >= PROGRESS_FROM && io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(inputs.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let color = format == Format::Text && io::stdout().is_terminal();
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<(usize, Outcome)>();
    let mut stdout = io::stdout().lock();
    let (mut sensitive, mut errors) = (0usize, 0usize);
    thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, inputs.len().max(1)) {
            let tx = tx.clone();
            let (next, inputs) = (&next, &inputs);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(input) = inputs.get(i) else { break };
                    if tx.send((i, scan_one(scanner, input))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        // Print in input order as results arrive.
        let mut pending = BTreeMap::new();
        let mut printed = 0;
        for (i, outcome) in rx {
            pending.insert(i, outcome);
            while let Some(outcome) = pending.remove(&printed) {
                let path = inputs[printed].display();
                match &outcome {
                    Outcome::Scanned(r) if r.verdict == Verdict::Sensitive => sensitive += 1,
                    Outcome::Scanned(_) => {}
                    Outcome::Failed(_) => errors += 1,
                }
                let line = match format {
                    Format::Json => json_line(&path, &outcome),
                    Format::Text => text_lines(&path, &outcome, lang, color),
                };
                let write = match &progress {
                    Some(bar) => bar.suspend(|| stdout.write_all(line.as_bytes())),
                    None => stdout.write_all(line.as_bytes()),
                };
                if write.is_err() {
                    // Output closed (a pager quit): nothing more to say.
                    std::process::exit(2);
                }
                if let Some(bar) = &progress {
                    bar.inc(1);
                }
                printed += 1;
            }
        }
    });
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    if format == Format::Text && inputs.len() > 1 {
        let _ = writeln!(stdout, "{}", lang.summary(inputs.len(), sensitive, errors));
    }
    let _ = stdout.flush();
    if errors > 0 {
        2
    } else if sensitive > 0 {
        1
    } else {
        0
    }
}

/// Files named on the command line, with directories walked (sorted, symlinks to
/// directories not followed).
fn expand(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in paths {
        walk(p, &mut out, true);
    }
    out
}

fn walk(path: &Path, out: &mut Vec<PathBuf>, top: bool) {
    let is_dir = if top {
        path.is_dir()
    } else {
        path.symlink_metadata().map(|m| m.is_dir()).unwrap_or(false)
    };
    if !is_dir {
        out.push(path.to_path_buf());
        return;
    }
    let mut entries: Vec<PathBuf> = match std::fs::read_dir(path) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(_) => {
            // Reported as an error when "read".
            out.push(path.to_path_buf());
            return;
        }
    };
    entries.sort();
    for e in entries {
        walk(&e, out, false);
    }
}

fn scan_one(scanner: &Scanner, path: &Path) -> Outcome {
    let limit = scanner.limits().max_bytes;
    let raw = if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        match io::stdin().lock().take(limit + 1).read_to_end(&mut buf) {
            Ok(_) => buf,
            Err(e) => return Outcome::Failed(e.to_string()),
        }
    } else {
        match read_limited(path, limit) {
            Ok(buf) => buf,
            Err(e) => return Outcome::Failed(e.to_string()),
        }
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "stdin".to_string());
    let is_message = path.as_os_str() == "-"
        || path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("eml"));
    let report = if is_message {
        scanner.scan_message(&raw)
    } else {
        scanner.scan_file(&raw, &name)
    };
    Outcome::Scanned(report)
}

/// Read at most `limit + 1` bytes: a larger file is cut, and the scanner's byte budget
/// then reports it as over the limit instead of us reading gigabytes.
fn read_limited(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    if file.metadata()?.is_dir() {
        return Err(io::Error::other("is a directory"));
    }
    let mut buf = Vec::new();
    file.take(limit + 1).read_to_end(&mut buf)?;
    Ok(buf)
}

fn json_line(path: &dyn std::fmt::Display, outcome: &Outcome) -> String {
    let path = path.to_string();
    let result = match outcome {
        Outcome::Scanned(report) => JsonResult {
            path: &path,
            verdict: report.verdict.as_str(),
            findings: report.findings.iter().map(json_finding).collect(),
            reason: report.reason(),
            error: None,
        },
        Outcome::Failed(e) => JsonResult {
            path: &path,
            verdict: "error",
            findings: Vec::new(),
            reason: String::new(),
            error: Some(e),
        },
    };
    let mut line = serde_json::to_string(&result).unwrap_or_else(|e| {
        format!(r#"{{"path":null,"verdict":"error","findings":[],"error":"{e}"}}"#)
    });
    line.push('\n');
    line
}

fn json_finding(f: &Finding) -> JsonFinding<'_> {
    JsonFinding {
        kind: f.kind_name(),
        location: &f.location,
        confidence: f.confidence.as_str(),
        excerpt: &f.excerpt,
        rule: &f.rule,
        evidence: &f.evidence,
    }
}

fn text_lines(path: &dyn std::fmt::Display, outcome: &Outcome, lang: Lang, color: bool) -> String {
    let paint = |code: &str, s: &str| {
        if color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    };
    let mut out = String::new();
    match outcome {
        Outcome::Failed(e) => {
            out.push_str(&format!(
                "{} {path}: {e}\n",
                paint("33", &format!("! {}", lang.error()))
            ));
        }
        Outcome::Scanned(report) => {
            let verdict = lang.verdict(report.verdict);
            let mark = match report.verdict {
                Verdict::Sensitive => paint("31;1", &format!("✗ {verdict}")),
                Verdict::Clean => paint("32", &format!("✓ {verdict}")),
            };
            let reasons: Vec<String> = report.reasons.iter().map(|r| lang.reason(r)).collect();
            if reasons.is_empty() {
                out.push_str(&format!("{mark} {path}\n"));
            } else {
                out.push_str(&format!("{mark} {path}: {}\n", reasons.join("; ")));
            }
            for f in &report.findings {
                out.push_str(&format!(
                    "    {:<15} {:<7} {:<30} {}  [{}]\n",
                    f.kind_name(),
                    f.confidence.as_str(),
                    f.location,
                    f.excerpt,
                    f.rule
                ));
            }
            if report.omitted > 0 {
                out.push_str(&format!("    … +{}\n", report.omitted));
            }
        }
    }
    out
}
