//! Documents made by real office libraries (python-docx, openpyxl, reportlab, odfpy;
//! installed by .ci/run), so extraction is not only fitted to our hand-built fixtures.

use crate::{fixtures, json_lines, veilpost};

#[test]
fn documents_made_by_office_libraries() {
    let dir = std::env::temp_dir().join(format!("veilpost-office-{}", std::process::id()));
    let status = std::process::Command::new("python3")
        .arg(fixtures().join("make_office_documents.py"))
        .arg(&dir)
        .status()
        .expect("python3 runs");
    assert!(
        status.success(),
        "make_office_documents.py failed: pip install python-docx openpyxl reportlab odfpy"
    );
    let out = veilpost()
        .args(["scan", "--format", "json", &dir.display().to_string()])
        .output()
        .expect("veilpost runs");
    let results = json_lines(&out);
    assert!(results.len() >= 14, "{results:?}");
    for r in &results {
        let path = r["path"].as_str().expect("path");
        let name = path.rsplit('/').next().expect("name");
        let expected = name.split('-').next().expect("label");
        assert_eq!(r["verdict"], expected, "{name}: {r}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
