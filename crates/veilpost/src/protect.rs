//! `veilpost protect`: files into one AES-256 ZIP (WinZip AE-2, what 7-Zip and WinZip read
//! and write) under a generated password, for the guidance's "encrypt the document and send
//! the password through another channel". The password can go by SMS straight away.

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use zip::write::SimpleFileOptions;
use zip::{AesMode, CompressionMethod, ZipWriter};

use crate::lang::Lang;
use crate::senderauth::Format;

/// Letters and digits that cannot be mixed up when read aloud or typed from a phone: no
/// 0/o, 1/l/i, and lower case only. 31 symbols, about 4.95 bits each.
const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// Groups of five, dash-separated: 20 symbols, about 99 bits (WinZip-AES stretches
/// passwords with only 1,000 PBKDF2 rounds, so the password itself must be strong).
pub fn password(mut next_u32: impl FnMut() -> u32) -> String {
    let n = ALPHABET.len() as u32;
    let limit = u32::MAX - (u32::MAX % n);
    let mut out = String::new();
    for i in 0..20 {
        if i > 0 && i % 5 == 0 {
            out.push('-');
        }
        let r = loop {
            let r = next_u32();
            if r < limit {
                break r;
            }
        };
        out.push(ALPHABET[(r % n) as usize] as char);
    }
    out
}

/// Most bytes one ZIP takes in (all files together).
pub const MAX_INPUT: u64 = 1 << 30;

/// Name each file by its own name; a repeated name gets ` (2)`, ` (3)`... before the
/// extension.
fn entry_names(paths: &[PathBuf]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for p in paths {
        let base = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "bestand".into());
        let mut name = base.clone();
        let mut k = 2;
        while names.iter().any(|n| n.eq_ignore_ascii_case(&name)) {
            name = match base.rsplit_once('.') {
                Some((stem, ext)) if !stem.is_empty() => format!("{stem} ({k}).{ext}"),
                _ => format!("{base} ({k})"),
            };
            k += 1;
        }
        names.push(name);
    }
    names
}

/// The ZIP of `files` (name, bytes), every entry deflated and AES-256 encrypted.
pub fn zip_bytes(files: &[(String, Vec<u8>)], password: &str) -> Result<Vec<u8>> {
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .with_aes_encryption(AesMode::Aes256, password);
    for (name, bytes) in files {
        zip.start_file(name.as_str(), options)
            .with_context(|| format!("adding {name}"))?;
        zip.write_all(bytes)?;
    }
    Ok(zip.finish()?.into_inner())
}

/// Where the ZIP goes when `--out` is not given: `<first file>-beveiligd.zip` here.
fn default_out(first: &Path) -> PathBuf {
    let stem = first
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "bestanden".into());
    PathBuf::from(format!("{stem}-beveiligd.zip"))
}

/// Run `veilpost protect`; the exit code.
pub fn run(
    files: &[PathBuf],
    out: Option<&Path>,
    sms: Option<&str>,
    config: Option<&Path>,
    format: Format,
    lang: Lang,
) -> Result<u8> {
    let nl = matches!(lang, Lang::Nl);
    let phone = match sms {
        Some(n) => Some(veilpost_text::phone::normalize(n).with_context(|| {
            if nl {
                format!("--sms {n}: geen mobiel nummer (gebruik +31612345678 of 0612345678)")
            } else {
                format!("--sms {n}: not a mobile number (use +31612345678 or 0612345678)")
            }
        })?),
        None => None,
    };
    let mut total = 0u64;
    let mut contents = Vec::new();
    for (path, name) in files.iter().zip(entry_names(files)) {
        let meta = std::fs::metadata(path).with_context(|| format!("{}", path.display()))?;
        if !meta.is_file() {
            bail!(
                "{}: {}",
                path.display(),
                if nl { "geen bestand" } else { "not a file" }
            );
        }
        total += meta.len();
        if total > MAX_INPUT {
            bail!(
                "{}",
                if nl {
                    "samen meer dan 1 GiB: te groot om als bijlage te sturen"
                } else {
                    "more than 1 GiB together: too large to send as an attachment"
                }
            );
        }
        contents.push((
            name,
            std::fs::read(path).with_context(|| format!("{}", path.display()))?,
        ));
    }
    let out = out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| default_out(&files[0]));
    let password = password(veilpost_store::random_u32);
    let bytes = zip_bytes(&contents, &password)?;
    // Never replace a file that is there already.
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&out)
        .with_context(|| {
            if nl {
                format!("{} bestaat al of kan niet worden gemaakt", out.display())
            } else {
                format!("{} exists or cannot be made", out.display())
            }
        })?;
    f.write_all(&bytes)?;
    f.sync_all()?;

    let mut sms_error = None;
    if let Some(phone) = &phone {
        let config = crate::config::load(config)?;
        let sender = config.sms_sender();
        let name = out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = format!(
            "Wachtwoord voor {name} van {org}: {password} / Password for {name}",
            org = config.organisation.name
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        if let Err(e) = rt.block_on(sender.send(phone, &text, "protect")) {
            sms_error = Some(e.to_string());
        }
    }
    let mut stdout = std::io::stdout().lock();
    match format {
        Format::Json => {
            let mut v =
                serde_json::json!({ "zip": out.display().to_string(), "password": password });
            if let Some(p) = &phone {
                v["sms"] = serde_json::json!({
                    "to": veilpost_text::phone::mask(p),
                    "sent": sms_error.is_none(),
                });
            }
            writeln!(stdout, "{v}")?;
        }
        Format::Text => {
            if nl {
                writeln!(stdout, "Versleuteld (AES-256): {}", out.display())?;
                writeln!(stdout, "Wachtwoord: {password}")?;
            } else {
                writeln!(stdout, "Encrypted (AES-256): {}", out.display())?;
                writeln!(stdout, "Password: {password}")?;
            }
            if let (Some(p), None) = (&phone, &sms_error) {
                let masked = veilpost_text::phone::mask(p);
                if nl {
                    writeln!(stdout, "Het wachtwoord is per sms naar {masked} gestuurd.")?;
                } else {
                    writeln!(stdout, "The password was sent by SMS to {masked}.")?;
                }
            }
        }
    }
    if let Some(e) = sms_error {
        eprintln!(
            "{}: {e}",
            if nl {
                "het wachtwoord is NIET per sms verstuurd"
            } else {
                "the password was NOT sent by SMS"
            }
        );
        return Ok(2);
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_long_unambiguous_and_random() {
        let mut seed = 1u32;
        let p = password(|| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            seed
        });
        assert_eq!(p.len(), 23);
        assert_eq!(p.matches('-').count(), 3);
        assert!(p.chars().all(|c| c == '-' || ALPHABET.contains(&(c as u8))));
        assert!(!p.contains(['0', '1', 'l', 'o', 'i']));
        assert_ne!(
            password(veilpost_store::random_u32),
            password(veilpost_store::random_u32)
        );
    }

    #[test]
    fn repeated_names_are_told_apart() {
        let names = entry_names(&[
            PathBuf::from("a/uitslag.pdf"),
            PathBuf::from("b/uitslag.pdf"),
            PathBuf::from("c/UITSLAG.pdf"),
            PathBuf::from("README"),
            PathBuf::from("x/README"),
        ]);
        assert_eq!(
            names,
            [
                "uitslag.pdf",
                "uitslag (2).pdf",
                "UITSLAG (3).pdf",
                "README",
                "README (2)"
            ]
        );
    }

    #[test]
    fn the_zip_opens_with_the_password_only() {
        let bytes = zip_bytes(
            &[("a.txt".into(), b"BSN 111222333".to_vec())],
            "geheim-wachtwoord",
        )
        .expect("zip");
        assert!(!bytes.windows(9).any(|w| w == b"111222333"));
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).expect("archive");
        assert!(archive.by_index_decrypt(0, b"verkeerd").is_err());
        let mut f = archive
            .by_index_decrypt(0, b"geheim-wachtwoord")
            .expect("decrypt");
        let mut text = String::new();
        std::io::Read::read_to_string(&mut f, &mut text).expect("read");
        assert_eq!(text, "BSN 111222333");
    }
}
