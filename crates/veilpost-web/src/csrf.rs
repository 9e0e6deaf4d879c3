//! CSRF for pages before sign-in: a double-submit cookie and form field.

use super::*;

pub(crate) const CSRF_COOKIE: &str = "vp_csrf";

/// The CSRF token for forms shown before a session exists (double submit: the same random
/// value in a SameSite=Strict cookie and in the form). Returns the token and, when the
/// browser has none yet, the cookie to set.
pub(crate) fn form_csrf(s: &WebState, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    if let Some(existing) = cookie(headers, &cookie_name(&s.settings, CSRF_COOKIE))
        && existing.len() == 64
        && existing.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return (existing.to_string(), None);
    }
    let mut raw = [0u8; 32];
    veilpost_store::random(&mut raw);
    let token = veilpost_store::hex(&raw);
    let set = set_cookie(&s.settings, CSRF_COOKIE, &token, None);
    (token, Some(set))
}

/// Check a pre-session form's CSRF token against the cookie.
pub(crate) fn check_form_csrf(
    s: &WebState,
    headers: &HeaderMap,
    submitted: &str,
    lang: Lang,
) -> Result<(), WebError> {
    let expected = cookie(headers, &cookie_name(&s.settings, CSRF_COOKIE)).unwrap_or("");
    if same_secret(expected, submitted) {
        Ok(())
    } else {
        Err(WebError::new(StatusCode::FORBIDDEN, ErrorKind::Csrf, lang))
    }
}
