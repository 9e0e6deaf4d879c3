//! `veilpost contact add|import|export`: numbers checked and normalised to E.164, refused
//! rows named by line while the rest is saved, and what is exported imports again.

use crate::veilpost;

#[test]
fn import_checks_every_row_and_export_round_trips() {
    let d = std::env::temp_dir().join(format!("veilpost-contacts-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    let config = d.join("veilpost.toml");
    std::fs::write(
        &config,
        format!("data_dir = \"{}\"\n", d.join("data").display()),
    )
    .expect("config");
    let csv = d.join("contacten.csv");
    std::fs::write(
        &csv,
        "email,name,phone\n\
         piet@example.net,Piet de Vries,06-1234 5678\n\
         \"kees@example.net\",\"Jansen, Kees\",+32 470 12 34 56\n\
         geen-adres,Niemand,0612345678\n\
         els@example.net,Els,12345\n",
    )
    .expect("csv");
    let out = veilpost()
        .args(["contact", "import"])
        .arg(&csv)
        .arg("--config")
        .arg(&config)
        .output()
        .expect("veilpost");
    assert_eq!(out.status.code(), Some(1), "some rows were refused");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("regel 4") && stderr.contains("regel 5"),
        "{stderr}"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("2 contacten opgeslagen, 2 regels geweigerd")
    );

    let export = veilpost()
        .args(["contact", "export", "--config"])
        .arg(&config)
        .output()
        .expect("veilpost");
    assert!(export.status.success());
    let text = String::from_utf8_lossy(&export.stdout).into_owned();
    assert_eq!(
        text,
        "email,name,phone\nkees@example.net,\"Jansen, Kees\",+32470123456\npiet@example.net,Piet de Vries,+31612345678\n"
    );
    // What was exported imports again without a refusal.
    let again = d.join("terug.csv");
    std::fs::write(&again, &text).expect("csv");
    let out = veilpost()
        .args(["contact", "import"])
        .arg(&again)
        .arg("--config")
        .arg(&config)
        .output()
        .expect("veilpost");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bad = veilpost()
        .args([
            "contact",
            "add",
            "x@example.net",
            "--phone",
            "abc",
            "--config",
        ])
        .arg(&config)
        .output()
        .expect("veilpost");
    assert_eq!(bad.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&d);
}
