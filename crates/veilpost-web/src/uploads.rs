//! Multipart uploads within limits (size, number of files, allowed types, clamd when
//! configured), for portal replies, the contact form and staff compose.

use axum::extract::Multipart;
use axum::http::StatusCode;

use crate::mails::ReplyFile;
use crate::{ErrorKind, Lang, WebError};

/// Most files in one upload.
const MAX_FILES: usize = 10;

/// A multipart form with text fields and files, read within limits.
#[derive(Debug, Default)]
pub(crate) struct Upload {
    pub fields: std::collections::HashMap<String, String>,
    pub files: Vec<ReplyFile>,
    /// Files left out for their type (their safe names), when the caller keeps the form
    /// (`read_upload_keeping`).
    pub refused: Vec<String>,
}

impl Upload {
    pub fn field(&self, name: &str) -> &str {
        self.fields.get(name).map(String::as_str).unwrap_or("")
    }
}

/// Read `form`: at most `max_size` bytes in all, `MAX_FILES` files (field `files`), and
/// when `allowed` is given only files whose extension is in it (415 otherwise).
pub(crate) async fn read_upload(
    form: Multipart,
    max_size: usize,
    allowed: Option<&[String]>,
    clamd: Option<&str>,
    lang: Lang,
) -> Result<Upload, WebError> {
    let up = read_upload_keeping(form, max_size, allowed, clamd, lang).await?;
    if !up.refused.is_empty() {
        return Err(WebError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorKind::FileType,
            lang,
        ));
    }
    Ok(up)
}

/// As `read_upload`, but a file of a type not allowed is left out and named in
/// `refused` (the rest of the form is read), so the caller can show the form again with
/// what was typed. Nothing is virus-checked when something was refused: the caller sends
/// nothing then.
pub(crate) async fn read_upload_keeping(
    mut form: Multipart,
    max_size: usize,
    allowed: Option<&[String]>,
    clamd: Option<&str>,
    lang: Lang,
) -> Result<Upload, WebError> {
    let bad = || WebError::new(StatusCode::BAD_REQUEST, ErrorKind::BadInput, lang);
    let too_large = || WebError::new(StatusCode::PAYLOAD_TOO_LARGE, ErrorKind::BadInput, lang);
    let mut up = Upload::default();
    let mut total = 0usize;
    while let Some(field) = form.next_field().await.map_err(|_| bad())? {
        let name = field.name().unwrap_or("").to_string();
        if name != "files" {
            let value = field.text().await.map_err(|_| bad())?;
            total += value.len();
            if total > max_size || up.fields.len() > 20 {
                return Err(too_large());
            }
            up.fields.insert(name, value);
            continue;
        }
        let file_name = field.file_name().map(str::to_string);
        let content_type = field
            .content_type()
            .unwrap_or("application/octet-stream")
            .to_string();
        let bytes = field.bytes().await.map_err(|_| bad())?;
        if bytes.is_empty() && file_name.as_deref().unwrap_or("").is_empty() {
            continue;
        }
        total += bytes.len();
        if up.files.len() >= MAX_FILES || total > max_size {
            return Err(too_large());
        }
        let safe = veilpost_text::file_name::safe(file_name.as_deref(), up.files.len());
        if let Some(allowed) = allowed {
            let ext = safe.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
            if !ext.is_some_and(|e| allowed.iter().any(|a| a.eq_ignore_ascii_case(&e))) {
                up.refused.push(safe);
                continue;
            }
        }
        up.files.push(ReplyFile {
            name: safe,
            content_type: if content_type.contains('/') && content_type.len() < 100 {
                content_type
            } else {
                "application/octet-stream".into()
            },
            bytes: bytes.to_vec(),
        });
    }
    if up.refused.is_empty() {
        scan(&up.files, clamd, lang).await?;
    }
    Ok(up)
}

/// Every file through clamd when one is configured: a finding refuses (422), clamd out
/// of reach refuses too (503, fail closed).
pub(crate) async fn scan(
    files: &[ReplyFile],
    clamd: Option<&str>,
    lang: Lang,
) -> Result<(), WebError> {
    if let Some(addr) = clamd {
        for f in files {
            match crate::clamd::scan(addr, &f.bytes, std::time::Duration::from_secs(30)).await {
                Ok(crate::clamd::Verdict::Clean) => {}
                Ok(crate::clamd::Verdict::Found(name)) => {
                    tracing::warn!("upload refused: {name} in an uploaded file");
                    return Err(WebError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        ErrorKind::Malware,
                        lang,
                    ));
                }
                Err(e) => {
                    let err = WebError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        ErrorKind::Unavailable,
                        lang,
                    );
                    tracing::error!("web error {}: virus scan: {e}", err.id);
                    return Err(err);
                }
            }
        }
    }
    Ok(())
}

/// The file types a form takes, in words people know ("PDF, foto's (JPG, PNG),
/// tekstdocumenten (Word, ODT)"), grouped, in the order of `types`.
pub(crate) fn types_in_words(types: &[String], lang: Lang) -> String {
    let kinds: [(&[&str], &str, &str); 5] = [
        (&["pdf"], "PDF", "PDF"),
        (
            &["jpg", "jpeg", "png", "heic", "gif", "webp", "tif", "tiff"],
            "foto's",
            "photos",
        ),
        (
            &["doc", "docx", "odt", "rtf", "txt"],
            "tekstdocumenten",
            "text documents",
        ),
        (
            &["xls", "xlsx", "ods", "csv"],
            "spreadsheets",
            "spreadsheets",
        ),
        (&["zip"], "ZIP-bestanden", "ZIP files"),
    ];
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for t in types {
        let t = t.to_ascii_lowercase();
        let word = kinds
            .iter()
            .find(|(exts, ..)| exts.contains(&t.as_str()))
            .map(|(_, nl, en)| lang.t(nl, en).to_string())
            .unwrap_or_else(|| t.to_ascii_uppercase());
        let shown = match t.as_str() {
            "doc" | "docx" => "Word".to_string(),
            "xls" | "xlsx" => "Excel".to_string(),
            "jpeg" => "JPG".to_string(),
            other => other.to_ascii_uppercase(),
        };
        match groups.iter_mut().find(|(w, _)| *w == word) {
            Some((_, list)) => {
                if !list.contains(&shown) {
                    list.push(shown);
                }
            }
            None => groups.push((word, vec![shown])),
        }
    }
    groups
        .into_iter()
        .map(|(word, list)| {
            if list.len() == 1 && list[0].eq_ignore_ascii_case(&word) {
                word
            } else {
                format!("{word} ({})", list.join(", "))
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_types_read_as_words() {
        let types = crate::default_intake_types();
        assert_eq!(
            types_in_words(&types, Lang::Nl),
            "PDF, foto's (JPG, PNG, HEIC, GIF), tekstdocumenten (TXT, Word, ODT), spreadsheets (Excel, ODS, CSV)"
        );
        assert_eq!(
            types_in_words(&["pdf".into(), "xyz".into()], Lang::En),
            "PDF, XYZ"
        );
    }
}

/// Files as one byte string (to be sealed and kept), and back: per file its name, type
/// and content, each after its length (4 bytes, little-endian).
pub(crate) fn pack(files: &[ReplyFile]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in files {
        for part in [f.name.as_bytes(), f.content_type.as_bytes(), &f.bytes] {
            out.extend_from_slice(&(part.len() as u32).to_le_bytes());
            out.extend_from_slice(part);
        }
    }
    out
}

/// What [`pack`] made; `None` when it is not that.
pub(crate) fn unpack(mut bytes: &[u8]) -> Option<Vec<ReplyFile>> {
    let take = |bytes: &mut &[u8]| -> Option<Vec<u8>> {
        let len = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
        let part = bytes.get(4..4 + len)?.to_vec();
        *bytes = &bytes[4 + len..];
        Some(part)
    };
    let mut files = Vec::new();
    while !bytes.is_empty() && files.len() < MAX_FILES {
        let name = String::from_utf8(take(&mut bytes)?).ok()?;
        let content_type = String::from_utf8(take(&mut bytes)?).ok()?;
        let data = take(&mut bytes)?;
        files.push(ReplyFile {
            name,
            content_type,
            bytes: data,
        });
    }
    bytes.is_empty().then_some(files)
}

#[cfg(test)]
mod pack_tests {
    use super::*;

    #[test]
    fn files_pack_and_unpack() {
        let files = vec![
            ReplyFile {
                name: "brief.pdf".into(),
                content_type: "application/pdf".into(),
                bytes: b"%PDF-1.7".to_vec(),
            },
            ReplyFile {
                name: "leeg.txt".into(),
                content_type: "text/plain".into(),
                bytes: vec![],
            },
        ];
        let packed = pack(&files);
        let back = unpack(&packed).expect("unpack");
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].name, "brief.pdf");
        assert_eq!(back[0].bytes, b"%PDF-1.7");
        assert!(back[1].bytes.is_empty());
        assert!(unpack(&packed[..packed.len() - 1]).is_none());
        assert!(unpack(b"\xff\xff\xff\xff").is_none());
        assert_eq!(unpack(b"").map(|f| f.len()), Some(0));
    }
}
