//! A backup file from a disk nobody vouches for: opening it must never panic, and only
//! what this key sealed under this name opens. The audit checkpoint file's lines, read
//! as `audit verify --checkpoints` reads them, never panic either.
//!
//!     cargo fuzz run -O -s none backup_open -- -max_total_time=120
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use veilpost_store::backup::{BackupKey, Kdf};

fn key() -> &'static BackupKey {
    static KEY: OnceLock<BackupKey> = OnceLock::new();
    KEY.get_or_init(|| {
        Kdf {
            memory_kib: 64,
            iterations: 1,
            ..Kdf::new()
        }
        .derive("fuzzing passphrase")
        .expect("derive")
    })
}

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    if key().open("blobs/x.eml", data, &mut out).is_ok() {
        panic!("forged input opened");
    }
    let (good, _) = veilpost_store::checkpoint::parse_lines(&String::from_utf8_lossy(data));
    for c in good {
        assert!(!c.signed_by(&[0u8; 32]));
    }
});
