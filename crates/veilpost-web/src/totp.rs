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
