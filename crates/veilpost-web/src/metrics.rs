//! The Prometheus scrape endpoint, on a listener of its own (`metrics.listen`): `GET
//! /metrics` answers the exposition the gateway renders, behind HTTP basic authentication
//! when a password is set. Nothing else is served there.

use std::sync::Arc;

use crate::BoxFuture;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;

use crate::cookies::same_secret;

/// What renders the exposition (counters, gauges and histograms as text format 0.0.4).
pub trait Exposition: Send + Sync + std::fmt::Debug {
    fn render(&self) -> BoxFuture<'_, String>;
}

/// Who may scrape: anybody, or one user name and password.
#[derive(Debug, Clone, Default)]
pub struct ScrapeAuth {
    pub username: String,
    pub password: String,
}

impl ScrapeAuth {
    /// True when `headers` carry the configured credentials (or none are configured).
    fn admits(&self, headers: &HeaderMap) -> bool {
        if self.password.is_empty() {
            return true;
        }
        let Some(given) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|b| {
                base64::engine::general_purpose::STANDARD
                    .decode(b.trim())
                    .ok()
            })
            .and_then(|b| String::from_utf8(b).ok())
        else {
            return false;
        };
        let Some((user, password)) = given.split_once(':') else {
            return false;
        };
        // Both compared in full, so the time says nothing about which one was wrong.
        let user_ok = same_secret(user, &self.username);
        let password_ok = same_secret(password, &self.password);
        user_ok & password_ok
    }
}

#[derive(Debug, Clone)]
struct MetricsState {
    exposition: Arc<dyn Exposition>,
    auth: Arc<ScrapeAuth>,
}

/// The router of the metrics listener.
pub fn app(exposition: Arc<dyn Exposition>, auth: ScrapeAuth) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(MetricsState {
            exposition,
            auth: Arc::new(auth),
        })
}

/// Serve `/metrics` on `listener` until the process ends.
pub async fn serve(
    listener: tokio::net::TcpListener,
    exposition: Arc<dyn Exposition>,
    auth: ScrapeAuth,
) -> std::io::Result<()> {
    axum::serve(listener, app(exposition, auth)).await
}

/// Around the portal's message page: how long a recipient waits for it
/// (`veilpost_portal_view_seconds`).
pub(crate) async fn timed_view(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    metrics::histogram!("veilpost_portal_view_seconds").record(started.elapsed().as_secs_f64());
    response
}

/// A portal login's outcome, from the login machine's audit effect: `login.succeeded`
/// and `login.failed` count in `veilpost_portal_logins_total`, `login.locked` in
/// `veilpost_portal_lockouts_total`.
pub(crate) fn portal_login(action: &str) {
    match action {
        "login.succeeded" => {
            metrics::counter!("veilpost_portal_logins_total", "result" => "ok").increment(1)
        }
        "login.failed" => {
            metrics::counter!("veilpost_portal_logins_total", "result" => "failed").increment(1)
        }
        "login.locked" => metrics::counter!("veilpost_portal_lockouts_total").increment(1),
        _ => {}
    }
}

async fn scrape(State(state): State<MetricsState>, headers: HeaderMap) -> Response {
    if !state.auth.admits(&headers) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic realm=\"veilpost metrics\"")],
            "authentication required\n",
        )
            .into_response();
    }
    (
        [
            (
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        state.exposition.render().await,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn basic(user_password: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        let value = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(user_password)
        );
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&value).expect("header"),
        );
        h
    }

    #[test]
    fn basic_auth_admits_only_the_configured_pair() {
        let open = ScrapeAuth::default();
        assert!(open.admits(&HeaderMap::new()));
        let auth = ScrapeAuth {
            username: "prometheus".into(),
            password: "s3cret:with:colons".into(),
        };
        let cases = [
            (HeaderMap::new(), false),
            (basic("prometheus:s3cret:with:colons"), true),
            (basic("prometheus:s3cret"), false),
            (basic("other:s3cret:with:colons"), false),
            (basic("prometheus"), false),
            (basic(""), false),
        ];
        for (headers, expected) in cases {
            assert_eq!(auth.admits(&headers), expected, "{headers:?}");
        }
        let mut bearer = HeaderMap::new();
        bearer.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer x"));
        assert!(!auth.admits(&bearer));
        let mut garbage = HeaderMap::new();
        garbage.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic !!!notbase64"),
        );
        assert!(!auth.admits(&garbage));
    }
}
