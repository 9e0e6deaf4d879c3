//! Cookies: reading, naming (`__Host-` and Secure behind https), setting with SameSite,
//! and comparing secrets in constant time.

use super::*;

/// A cookie's value from the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Cookie names: `__Host-` prefixed behind https (bound to this host, Secure, path /).
pub(crate) fn cookie_name(s: &PortalSettings, base: &str) -> String {
    if s.https() {
        format!("__Host-{base}")
    } else {
        base.to_string()
    }
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, Secure behind https; `max_age` None
/// for a browser-session cookie, Some(0) to delete.
pub(crate) fn set_cookie(
    s: &PortalSettings,
    base: &str,
    value: &str,
    max_age: Option<i64>,
) -> HeaderValue {
    set_cookie_same_site(s, base, value, max_age, "Strict")
}

/// [`set_cookie`] with another SameSite value (`Lax` for a cookie that must come back on a
/// top-level navigation from another site: the identity provider's answer).
pub(crate) fn set_cookie_same_site(
    s: &PortalSettings,
    base: &str,
    value: &str,
    max_age: Option<i64>,
    same_site: &str,
) -> HeaderValue {
    let mut c = format!(
        "{}={value}; Path=/; HttpOnly; SameSite={same_site}",
        cookie_name(s, base)
    );
    if s.https() {
        c.push_str("; Secure");
    }
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

/// Compare two secrets in constant time.
pub fn same_secret(a: &str, b: &str) -> bool {
    !a.is_empty()
        && aws_lc_rs::constant_time::verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
}

/// A response with the pre-session CSRF cookie set, when [`form_csrf`] made a new one.
pub(crate) fn with_cookie(mut r: Response, set: Option<HeaderValue>) -> Response {
    if let Some(c) = set {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}
