//! `veilpost`: the secure mail gateway's command line.
//!
//! Exit codes: 0 success or clean, 1 a finding (sensitive), 2 an error.

mod lang;
mod sandbox;
mod scan;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use veilpost_dlp::Scanner;

use crate::lang::Lang;
use crate::sandbox::{SandboxLimits, SandboxedPdf};

#[derive(Debug, Parser)]
#[command(
    name = "veilpost",
    version,
    about = "Secure mail gateway for Dutch healthcare"
)]
struct Cli {
    /// Language of messages meant for people (JSON output is not translated).
    #[arg(
        long,
        global = true,
        value_enum,
        env = "VEILPOST_LANG",
        default_value = "nl"
    )]
    lang: Lang,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Scan files for sensitive personal data (BSN, health data, identity documents).
    ///
    /// .eml files are read as mail messages; anything else is recognised by its content
    /// (PDF, DOCX, XLSX, PPTX, ODT/ODS, CSV, HTML, text, ZIP, gzip). Directories are
    /// scanned recursively; `-` reads a message from standard input.
    /// Exit status: 0 clean, 1 sensitive or not inspectable, 2 an input could not be read.
    Scan {
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: scan::Format,
        /// Files scanned at the same time (default: one per CPU core).
        #[arg(long, short)]
        jobs: Option<usize>,
        /// Seconds one PDF may take before it is reported uninspectable.
        #[arg(long, default_value_t = 15)]
        pdf_timeout: u64,
        /// Files, directories, or `-` for standard input.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Internal: extract PDF text for the sandbox (reads requests on stdin).
    #[command(hide = true)]
    PdfWorker {
        #[arg(long)]
        memory_bytes: u64,
        #[arg(long)]
        cpu_seconds: u64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Scan {
            format,
            jobs,
            pdf_timeout,
            paths,
        } => {
            let exe = match std::env::current_exe() {
                Ok(exe) => exe,
                Err(e) => {
                    eprintln!("veilpost: cannot find own executable for the PDF sandbox: {e}");
                    return ExitCode::from(2);
                }
            };
            let limits = SandboxLimits {
                timeout: std::time::Duration::from_secs(pdf_timeout.max(1)),
                ..SandboxLimits::default()
            };
            let scanner =
                Scanner::new().with_pdf_extractor(Arc::new(SandboxedPdf::new(exe, limits)));
            let jobs = jobs.unwrap_or_else(|| {
                std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
            });
            ExitCode::from(scan::run(&scanner, &paths, format, cli.lang, jobs))
        }
        Command::PdfWorker {
            memory_bytes,
            cpu_seconds,
        } => match sandbox::run_worker(memory_bytes, cpu_seconds) {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::from(2),
        },
    }
}
