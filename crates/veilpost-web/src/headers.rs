//! Security headers on every response (CSP, frame-ancestors, no-referrer, nosniff,
//! no-store, COOP, HSTS behind https).

use super::*;

/// Headers every response carries: no framing, no referrer (links hold tokens), no
/// caching, no sniffing, a strict content policy; HSTS behind https; the language cookie
/// when `?lang=` chose one.
/// A 4xx the web framework answered itself (an extractor's rejection: plain text).
fn is_framework_refusal(response: &Response) -> bool {
    response.status().is_client_error()
        && response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("text/plain"))
}

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
    let (mut parts, body) = req.into_parts();
    let Ok(crate::PageLang(lang)) = <crate::PageLang as axum::extract::FromRequestParts<
        WebState,
    >>::from_request_parts(&mut parts, &s)
    .await;
    let mut response = next.run(Request::from_parts(parts, body)).await;
    if let Some(err) = response.extensions_mut().remove::<crate::error::WebError>() {
        response = err.page(&s.organisation, &path);
    } else if is_framework_refusal(&response) {
        // A form the framework could not read (a field missing, not a form at all):
        // the same page as every other refusal, not a line of plain text.
        let err =
            crate::error::WebError::new(response.status(), crate::error::ErrorKind::BadInput, lang);
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
