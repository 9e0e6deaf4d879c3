//! Throughput of the DLP engine.
//!
//! - `plain_text`: detectors over 4 MB of Dutch prose with the usual sprinkling of numbers,
//!   dates, names and addresses (MB/s, one core).
//! - `care_text`: 4 MB of care mail naming patients, dates of birth, diagnoses, doses in
//!   every sentence or two: the person recogniser then reads all of it (MB/s, one core).
//! - `typical_message`: a whole MIME message as staff send them all day: text and HTML
//!   alternatives, a reply with quoted text, a signature (messages/s, one core).
//! - `corpus_mix`: the 171 labelled corpus messages in turn, about half with attachments
//!   (PDF, DOCX, XLSX, ODF, ZIP, ...), PDF extracted in process (messages/s, one core).
//!
//! Run: `cargo bench -p veilpost-dlp --bench scan`

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use veilpost_dlp::Scanner;
use veilpost_dlp::detect::Engine;

mod text;
use text::{care_text, dutch_text};

fn typical_message() -> Vec<u8> {
    let text = dutch_text(2500);
    let html: String = text
        .split('\n')
        .map(|p| format!("<p style=\"font-family:Calibri\">{p}</p>"))
        .collect();
    format!(
        "From: Sanne Jansen <s.jansen@praktijkdelinde.nl>\r\n\
         To: Team <team@praktijkdelinde.nl>\r\n\
         Subject: Re: planning voorjaar\r\n\
         Date: Mon, 2 Mar 2026 09:00:00 +0100\r\n\
         Message-ID: <bench@praktijkdelinde.nl>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n\
         --alt\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
         {text}\r\n\r\nMet vriendelijke groet,\r\nSanne Jansen\r\nHuisartsenpraktijk De Linde\r\n\
         T 030-1234567\r\n\r\nOp 1 maart schreef Jan:\r\n> Kun je de planning sturen?\r\n\r\n\
         --alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
         <html><body>{html}<p>Met vriendelijke groet,<br>Sanne Jansen</p></body></html>\r\n\
         --alt--\r\n"
    )
    .into_bytes()
}

fn corpus() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| std::fs::read(p).expect("corpus file"))
        .collect()
}

fn benches(c: &mut Criterion) {
    let engine = Engine::new();
    let text = dutch_text(4 * 1024 * 1024);
    let mut group = c.benchmark_group("plain_text");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.sample_size(20);
    group.bench_function("detect_4MB", |b| {
        b.iter(|| black_box(engine.report(black_box(&text), "body")))
    });
    group.finish();

    let care = care_text(4 * 1024 * 1024);
    let mut group = c.benchmark_group("care_text");
    group.throughput(Throughput::Bytes(care.len() as u64));
    group.sample_size(10);
    group.bench_function("detect_4MB", |b| {
        b.iter(|| black_box(engine.report(black_box(&care), "body")))
    });
    group.finish();

    let scanner = Scanner::new();
    let message = typical_message();
    let mut group = c.benchmark_group("typical_message");
    group.throughput(Throughput::Elements(1));
    group.bench_function("scan_message", |b| {
        b.iter(|| black_box(scanner.scan_message(black_box(&message))))
    });
    group.finish();

    let mix = corpus();
    let mut group = c.benchmark_group("corpus_mix");
    group.throughput(Throughput::Elements(mix.len() as u64));
    group.sample_size(10);
    group.bench_function("scan_171_messages", |b| {
        b.iter(|| {
            for m in &mix {
                black_box(scanner.scan_message(black_box(m)));
            }
        })
    });
    group.finish();
}

criterion_group!(scan, benches);
criterion_main!(scan);
