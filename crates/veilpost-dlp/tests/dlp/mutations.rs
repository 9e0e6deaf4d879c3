//! Robustness: every corpus message, and every document inside it, survives byte-level
//! mutation (flips, truncation, duplication) without a panic, and whatever is reported
//! uninspectable never comes out clean. A cheap, deterministic complement to cargo-fuzz.

use veilpost_dlp::{Kind, Scanner, Verdict};

use crate::fixtures;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    match rng.below(4) {
        0 => {
            for _ in 0..1 + rng.below(16) {
                let i = rng.below(out.len());
                if let Some(b) = out.get_mut(i) {
                    *b ^= 1 << rng.below(8);
                }
            }
        }
        1 => out.truncate(rng.below(out.len())),
        2 => {
            let start = rng.below(out.len());
            let end = (start + rng.below(256)).min(out.len());
            let chunk = out[start..end].to_vec();
            let at = rng.below(out.len());
            out.splice(at..at, chunk);
        }
        _ => {
            let start = rng.below(out.len());
            let end = (start + rng.below(512)).min(out.len());
            out.drain(start..end);
        }
    }
    out
}

#[test]
fn mutated_corpus_messages() {
    let scanner = Scanner::new();
    let dir = fixtures().join("corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    let mut rng = Rng(0x5EED_7516);
    let mut runs = 0;
    for file in &files {
        let raw = std::fs::read(file).expect("read");
        for _ in 0..12 {
            let input = mutate(&mut rng, &raw);
            for report in [
                scanner.scan_message(&input),
                scanner.scan_file(&input, "x.bin"),
            ] {
                runs += 1;
                if report
                    .findings
                    .iter()
                    .any(|f| f.kind == Kind::Uninspectable)
                {
                    assert_eq!(report.verdict, Verdict::Sensitive, "{file:?}");
                }
            }
        }
    }
    assert!(runs > 3000, "{runs}");
}
