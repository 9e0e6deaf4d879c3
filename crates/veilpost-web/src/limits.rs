//! Rate limits per client address and per recipient, shared by the portal and the contact
//! form (the rules are in `veilpost-portal`; the buckets live in the web state).

use axum::http::StatusCode;

use crate::{ClientIp, ErrorKind, Lang, WebError, WebState};

/// Which bucket of the web state's limits.
pub(crate) type Bucket = fn(&mut crate::Limits) -> &mut veilpost_portal::RateLimit;

/// The per-address limit on login actions.
pub(crate) fn limit_ip(s: &WebState, ip: &ClientIp, lang: Lang) -> Result<(), WebError> {
    limited(s, &ip.key(), |l| &mut l.per_ip, lang)
}

/// The contact form's limit on codes mailed to one address (its own budget, apart from
/// the portal's codes for secure messages).
pub(crate) fn limit_intake_sends(s: &WebState, to: &str, lang: Lang) -> Result<(), WebError> {
    limited(s, &to.to_lowercase(), |l| &mut l.intake_sends, lang)
}

pub(crate) fn limited(s: &WebState, key: &str, which: Bucket, lang: Lang) -> Result<(), WebError> {
    let mut l = s
        .limits
        .lock()
        .map_err(|_| WebError::internal(lang, "rate limit lock poisoned"))?;
    which(&mut l)
        .hit(key, s.store.now())
        .map_err(|_| WebError::new(StatusCode::TOO_MANY_REQUESTS, ErrorKind::TooMany, lang))
}
