//! Security headers on every response (CSP, frame-ancestors, no-referrer, nosniff,
//! no-store, COOP, HSTS behind https).

use super::*;

/// Headers every response carries: no framing, no referrer (links hold tokens), no
/// caching, no sniffing, a strict content policy; HSTS behind https; the language cookie
/// when `?lang=` chose one.
pub(crate) async fn security_headers(
    State(s): State<WebState>,
    req: Request,
    next: Next,
) -> Response {
    let chosen = req.uri().query().and_then(|q| {
        q.split('&').find_map(|p| match p {
            "lang=en" => Some("en"),
            "lang=nl" => Some("nl"),
            _ => None,
        })
    });
    let path = req.uri().path().to_string();
    let mut response = next.run(req).await;
    if let Some(err) = response.extensions_mut().remove::<crate::error::WebError>() {
        response = err.page(&s.organisation, &path);
    }
    let h = response.headers_mut();
    // The one page that runs Veilpost's own script (passkeys) sets its own policy.
    h.entry(header::CONTENT_SECURITY_POLICY).or_insert(
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
    );
    if s.settings.https() {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    if let Some(l) = chosen {
        h.append(
            header::SET_COOKIE,
            set_cookie(&s.settings, LANG_COOKIE, l, Some(365 * 86_400)),
        );
    }
    response
}
