//! Hostile inputs: each must finish in bounded time and memory, without a panic, and be
//! reported as not clean whenever it could not be inspected.

use std::io::Write;
use std::time::Duration;

use serde_json::Value;

use crate::{fixtures, json_lines, run_bounded};

const BOUND: Duration = Duration::from_secs(60);

/// Scan one file under the limits and return its JSON result.
fn scan(path: &std::path::Path) -> Value {
    let p = path.display().to_string();
    let out = run_bounded(&["scan", "--format", "json", &p], BOUND);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "panic on {p}: {stderr}");
    assert!(
        matches!(out.status.code(), Some(0..=2)),
        "{p}: killed or crashed ({:?}); stderr: {stderr}",
        out.status
    );
    let mut lines = json_lines(&out);
    assert_eq!(lines.len(), 1, "{p}");
    lines.remove(0)
}

fn assert_uninspectable(r: &Value, why: &str) {
    assert_eq!(r["verdict"], "sensitive", "{r}");
    let kinds: Vec<&str> = r["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"uninspectable"), "{r}");
    let text = r.to_string();
    assert!(text.contains(why), "expected {why:?} in {r}");
}

fn temp_file(name: &str, bytes: &[u8]) -> (tempdir::Dir, std::path::PathBuf) {
    let dir = tempdir::Dir::new();
    let path = dir.0.join(name);
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(bytes))
        .expect("write temp file");
    (dir, path)
}

/// A directory removed on drop (std only).
mod tempdir {
    pub struct Dir(pub std::path::PathBuf);

    impl Dir {
        pub fn new() -> Dir {
            use std::sync::atomic::{AtomicUsize, Ordering};
            static N: AtomicUsize = AtomicUsize::new(0);
            let path = std::env::temp_dir().join(format!(
                "veilpost-test-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&path).expect("temp dir");
            Dir(path)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[test]
fn zip_bomb_of_one_gib() {
    let r = scan(&fixtures().join("hostile/zip-bomb.zip"));
    assert_uninspectable(&r, "size limit");
}

#[test]
fn zip_bomb_that_lies_about_its_size() {
    let r = scan(&fixtures().join("hostile/zip-bomb-lying.zip"));
    assert_uninspectable(&r, "larger than its declared");
}

fn zip_with(name: &str, data: &[u8]) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    let mut w = zip::ZipWriter::new(&mut buf);
    w.start_file(name, zip::write::SimpleFileOptions::default())
        .expect("zip entry");
    w.write_all(data).expect("zip data");
    w.finish().expect("zip finish");
    buf.into_inner()
}

#[test]
fn thirty_nested_zips() {
    let mut data = zip_with("bsn.txt", b"BSN 123456782");
    for i in 0..30 {
        data = zip_with(&format!("laag{i}.zip"), &data);
    }
    let (_dir, path) = temp_file("nested.zip", &data);
    let r = scan(&path);
    assert_uninspectable(&r, "nesting limit");
}

#[test]
fn random_bytes_named_as_documents() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let noise: Vec<u8> = (0..64 * 1024)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect();
    for name in ["random.pdf", "random.docx", "random.xlsx"] {
        let (_dir, path) = temp_file(name, &noise);
        let r = scan(&path);
        assert_uninspectable(&r, "unrecognised");
    }
}

#[test]
fn truncated_pdf() {
    let pdf = minimal_pdf("BSN 123456782");
    let (_dir, path) = temp_file("kapot.pdf", &pdf[..pdf.len() / 2]);
    let r = scan(&path);
    assert_eq!(r["verdict"], "sensitive", "{r}");
    // Either the readable part shows the BSN, or the file is reported uninspectable.
    let kinds = r["findings"].to_string();
    assert!(
        kinds.contains("uninspectable") || kinds.contains("bsn"),
        "{r}"
    );
}

#[test]
fn image_only_pdf_is_uninspectable() {
    let (_dir, path) = temp_file("scan.pdf", &image_pdf());
    let r = scan(&path);
    assert_uninspectable(&r, "only images");
}

#[test]
fn five_thousand_part_multipart() {
    let mut m = String::from(
        "From: a@b.nl\r\nSubject: veel\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n",
    );
    for i in 0..5000 {
        m.push_str(&format!(
            "--b\r\nContent-Type: text/plain\r\n\r\ndeel {i}\r\n"
        ));
    }
    m.push_str("--b--\r\n");
    let (_dir, path) = temp_file("many.eml", m.as_bytes());
    let r = scan(&path);
    assert_uninspectable(&r, "part limit");
}

#[test]
fn two_megabyte_header_line() {
    let mut m = String::from("From: a@b.nl\r\nX-Long: ");
    m.push_str(&"a".repeat(2 * 1024 * 1024));
    m.push_str("\r\nSubject: lang\r\n\r\nBSN 123456782\r\n");
    let (_dir, path) = temp_file("header.eml", m.as_bytes());
    let r = scan(&path);
    // Inspected completely: the BSN in the body is found.
    assert_eq!(r["verdict"], "sensitive", "{r}");
    assert!(r["findings"].to_string().contains("\"bsn\""), "{r}");
}

#[test]
fn two_thousand_deep_multipart() {
    let mut m = String::from("From: a@b.nl\r\nSubject: diep\r\nMIME-Version: 1.0\r\n");
    for i in 0..2000 {
        m.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n"
        ));
    }
    m.push_str("Content-Type: text/plain\r\n\r\nBSN 123456782\r\n");
    for i in (0..2000).rev() {
        m.push_str(&format!("--b{i}--\r\n"));
    }
    let (_dir, path) = temp_file("deep.eml", m.as_bytes());
    let r = scan(&path);
    assert_uninspectable(&r, "MIME nesting");
}

/// Found by `cargo fuzz run scan`: mail-parser's debug assertion fires on this multipart
/// (in debug builds, so the panic message may show on stderr); the scan must carry on.
#[test]
fn malformed_multipart_found_by_fuzzing() {
    let path = fixtures().join("hostile/mail-parser-debug-assert.eml");
    let out = run_bounded(
        &["scan", "--format", "json", &path.display().to_string()],
        BOUND,
    );
    assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
    let r = &json_lines(&out)[0];
    assert!(
        matches!(r["verdict"].as_str(), Some("clean" | "sensitive")),
        "{r}"
    );
}

/// Found by `cargo fuzz run scan`: 7.5 KB whose MIME tree lists a part as its own
/// descendant; walking it naively took 24 GB.
#[test]
fn self_referencing_mime_tree_found_by_fuzzing() {
    let r = scan(&fixtures().join("hostile/mime-cycle.eml"));
    assert!(
        matches!(r["verdict"].as_str(), Some("clean" | "sensitive")),
        "{r}"
    );
}

#[test]
fn empty_files() {
    let (_dir, path) = temp_file("leeg.eml", b"");
    let r = scan(&path);
    assert_eq!(r["verdict"], "clean", "an empty message holds nothing: {r}");
    // A file that claims to be a PDF but is empty is a broken document.
    let (_dir, path) = temp_file("leeg.pdf", b"");
    let r = scan(&path);
    assert_uninspectable(&r, "empty file");
    let (_dir, path) = temp_file("leeg.txt", b"");
    assert_eq!(scan(&path)["verdict"], "clean");
}

/// A one-page PDF showing `text` with the standard Helvetica font.
pub fn minimal_pdf(text: &str) -> Vec<u8> {
    let content = format!("BT /F1 12 Tf 72 720 Td ({text}) Tj ET");
    build_pdf(&[
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>".to_string(),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
        format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()),
    ])
}

/// A one-page PDF that only draws an image: what a scanner produces.
fn image_pdf() -> Vec<u8> {
    let pixels = "0".repeat(16 * 16);
    let content = "q 100 0 0 100 72 600 cm /Im1 Do Q";
    build_pdf(&[
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /XObject << /Im1 4 0 R >> >> /Contents 5 0 R >>".to_string(),
        format!("<< /Type /XObject /Subtype /Image /Width 16 /Height 16 /ColorSpace /DeviceGray /BitsPerComponent 8 /Length {} >>\nstream\n{pixels}\nendstream", pixels.len()),
        format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()),
    ])
}

fn build_pdf(objects: &[String]) -> Vec<u8> {
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for off in offsets {
        out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// Names, dates of birth and diagnoses in every sentence of a 4 MB text without one line
/// break: the person passes must stay linear (they were quadratic once: 15 s for 4 MB).
/// The bound is a hang detector, not a benchmark.
#[test]
fn four_megabytes_of_patients_on_one_line() {
    let sentence = "Gesprek met Noor Jansen (14-02-1961), zoon van mevrouw El Amrani, \
                    cliëntnummer 1234567, over haar COPD en metformine 500 mg 2dd; ";
    let text = sentence.repeat(4 * 1024 * 1024 / sentence.len());
    let (_dir, path) = temp_file("patients.txt", text.as_bytes());
    let r = scan(&path);
    assert_eq!(r["verdict"], "sensitive", "{}", &r.to_string()[..300]);
    let kinds = r["findings"].to_string();
    for kind in ["health", "date_of_birth", "client_number"] {
        assert!(kinds.contains(kind), "{kind}");
    }
}

/// Capitalised words, initials and tussenvoegsels without end: the name recogniser takes
/// what looks like names and stops.
#[test]
fn a_megabyte_of_name_like_words() {
    let piece = "J.P. de Van Der Jansen-De-Vries, Anna Maria in 't Op De Uit Den ";
    let text = format!("{} COPD", piece.repeat(1024 * 1024 / piece.len()));
    let (_dir, path) = temp_file("names.txt", text.as_bytes());
    let r = scan(&path);
    assert!(
        matches!(r["verdict"].as_str(), Some("sensitive" | "clean")),
        "{}",
        &r.to_string()[..300]
    );
}
