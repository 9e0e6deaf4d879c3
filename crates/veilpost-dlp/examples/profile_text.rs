//! Run the detectors over 4 MB of Dutch prose once, for instruction-count profiling:
//!
//!     cargo build --release --example profile_text -p veilpost-dlp
//!     valgrind --tool=callgrind target/release/examples/profile_text 1   (then 2: the
//!     difference is one pass over the text)

#[path = "../benches/text.rs"]
mod text;

fn main() {
    // Iterations: compare the counts for 1 and 2 to subtract start-up.
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1);
    let engine = veilpost_dlp::detect::Engine::new();
    // `care` as the second argument: care mail naming patients in every sentence or two.
    let text = match std::env::args().nth(2).as_deref() {
        Some("care") => text::care_text(4 * 1024 * 1024),
        _ => text::dutch_text(4 * 1024 * 1024),
    };
    for _ in 0..n {
        let report = engine.report(&text, "body");
        println!("{} findings", report.findings.len());
    }
}
