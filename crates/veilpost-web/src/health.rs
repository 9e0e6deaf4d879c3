//! Health for load balancers and orchestrators: `/healthz/live` answers while the process
//! serves requests; `/healthz/ready` asks the gateway whether it can take work now
//! (database, blob store, disk space, DKIM keys, certificate) and answers 200 or 503 with
//! each check. Nothing in either answer is secret: no paths with names, no keys.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::WebState;

/// One readiness check: its name, whether it passes, and what was seen.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HealthCheck {
    pub id: String,
    pub ok: bool,
    pub detail: String,
}

/// `GET /healthz/live`.
pub async fn live() -> Response {
    (
        [(header::CACHE_CONTROL, "no-store")],
        Json(serde_json::json!({"status": "live"})),
    )
        .into_response()
}

/// `GET /healthz/ready`: 200 when every check passes, else 503; the checks as JSON.
pub async fn ready(State(state): State<WebState>) -> Response {
    let checks = state.mailer.health().await;
    let ready = checks.iter().all(|c| c.ok);
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        Json(serde_json::json!({
            "status": if ready { "ready" } else { "not ready" },
            "checks": checks,
        })),
    )
        .into_response()
}
