//! The one TOTP path for recipients (portal) and staff: the builder and the check that
//! burns the step it used.

use totp_rs::{Algorithm, Builder, Totp};
use veilpost_store::TotpHolder;

use crate::{Lang, WebError, WebState};

/// A TOTP (SHA-1, 6 digits, 30 s, one step of drift) for `account`, shown in the app
/// under `issuer`.
pub(crate) fn make_totp(secret: Vec<u8>, account: &str, issuer: &str) -> Option<Totp> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret)
        .with_account_name(account.replace(':', "_"))
        .with_issuer(Some(issuer.replace(':', " ")))
        .build()
        .ok()
}

/// What a page shows to link an app: the key (for the form), the key in groups of four
/// (to type), the otpauth link (to tap on the phone) and the same link as a QR code (to
/// scan), an SVG drawn here, with no script or outside reference.
#[derive(Debug, Clone, Default)]
pub(crate) struct Enrolment {
    pub secret: String,
    pub grouped: String,
    pub uri: String,
    pub qr: String,
}

impl Enrolment {
    pub(crate) fn new(secret: &totp_rs::Secret, account: &str, issuer: &str) -> Enrolment {
        let raw = secret.to_base32();
        let uri = make_totp(secret.as_ref().to_vec(), account, issuer)
            .and_then(|t| t.to_url().ok())
            .unwrap_or_default();
        let qr = qrcode::QrCode::with_error_correction_level(uri.as_bytes(), qrcode::EcLevel::M)
            .map(|code| {
                code.render::<qrcode::render::svg::Color<'_>>()
                    .min_dimensions(200, 200)
                    .quiet_zone(true)
                    .build()
            })
            .unwrap_or_default();
        // Only the <svg> element itself goes into the page.
        let qr = qr
            .find("<svg")
            .map(|at| qr[at..].to_string())
            .unwrap_or_default();
        Enrolment {
            grouped: group_in_fours(&raw),
            secret: raw,
            uri,
            qr,
        }
    }
}

/// `JBSWY3DPEHPK` as `JBSW Y3DP EHPK`.
fn group_in_fours(key: &str) -> String {
    key.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Check `code` against `who`'s registered app (the current step and one either side for
/// clock drift); the step used is burnt, so a code seen over someone's shoulder cannot be
/// used again. False without an app; an error when the sealed secret cannot be opened.
pub(crate) async fn verify(
    s: &WebState,
    who: TotpHolder<'_>,
    issuer: &str,
    code: &str,
    lang: Lang,
) -> Result<bool, WebError> {
    let Some(rec) = s.store.totp(who).await? else {
        return Ok(false);
    };
    let secret = s
        .master_key
        .open(&who.seal_context(), &rec.wrapped, &rec.secret)
        .map_err(|e| WebError::internal(lang, e))?;
    let code: String = code.chars().filter(|c| c.is_ascii_digit()).collect();
    match make_totp(secret, who.address(), issuer).and_then(|t| t.check(&code, now(s))) {
        Some(step) => Ok(s.store.use_totp_step(who, step as i64).await?),
        None => Ok(false),
    }
}

/// The TOTP clock: the store's, in whole seconds.
fn now(s: &WebState) -> u64 {
    s.store.now().max(0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enrolment_shows_the_key_grouped_and_as_a_qr_code() {
        let secret = totp_rs::Secret::generate();
        let e = Enrolment::new(&secret, "piet@example.net", "Veilpost");
        assert_eq!(e.grouped.replace(' ', ""), e.secret);
        assert!(e.grouped.split(' ').all(|g| g.len() <= 4 && !g.is_empty()));
        assert!(e.uri.starts_with("otpauth://totp/"), "{}", e.uri);
        assert!(
            e.qr.starts_with("<svg") && e.qr.trim_end().ends_with("</svg>"),
            "{}",
            e.qr
        );
        let lower = e.qr.to_ascii_lowercase();
        for bad in ["<script", "href", " on", "<?xml", "url("] {
            assert!(!lower.contains(bad), "{bad} in {}", e.qr);
        }
    }
}
