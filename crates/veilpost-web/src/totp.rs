//! The one TOTP builder for recipients (portal) and staff.

use totp_rs::{Algorithm, Builder, Totp};

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
