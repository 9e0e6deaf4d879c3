//! `POST /tlsrpt`: TLS reports over HTTPS (RFC 8460 §3, `rua=https://…`), as
//! `application/tlsrpt+gzip` or `application/tlsrpt+json`. Read within the reports'
//! limits, counted once, or kept aside with the reason (never lost). HTTPS carries no
//! signature to check: the transport vouches, as the RFC has it. At most 60 posts an
//! hour per client address (a reporter posts one a day per domain).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use veilpost_reports::{Limits, Taken, Vouched};

use crate::{ClientIp, Lang, WebState};

/// The largest body taken (compressed or not); real reports are kilobytes.
pub const MAX_BODY: usize = 4 * 1024 * 1024;

pub async fn post(
    State(s): State<WebState>,
    client: ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if crate::limits::limited(
        &s,
        &client.key(),
        crate::limits::Bucket::TlsrptPosts,
        Lang::En,
    )
    .await
    .is_err()
    {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            "too many reports, try again later\n",
        )
            .into_response();
    }
    let ip = &client.0;
    let kind = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    if kind != "application/tlsrpt+gzip" && kind != "application/tlsrpt+json" {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "application/tlsrpt+gzip or application/tlsrpt+json\n",
        )
            .into_response();
    }
    let limits = Limits {
        max_input: MAX_BODY,
        ..Limits::default()
    };
    // Unpacking and parsing take CPU: off the async workers.
    let (input, served, now) = (body.clone(), s.settings.domains.clone(), s.store.now());
    let Ok(mut steps) = tokio::task::spawn_blocking(move || {
        veilpost_reports::triage(&input, &limits, &served, now, Vouched::TRUSTED)
    })
    .await
    else {
        return (StatusCode::SERVICE_UNAVAILABLE, "try again later\n").into_response();
    };
    // Only TLS reports come this way: a DMARC report posted here is no report of ours.
    steps.retain(|step| !matches!(step, veilpost_reports::Step::Count(r) | veilpost_reports::Step::Aside(r, _) if r.kind() != "tlsrpt"));
    if steps.is_empty() {
        steps.push(veilpost_reports::Step::Unreadable(
            veilpost_reports::Error::NoReport,
        ));
    }
    let origin = format!("https:{ip}");
    let taken = [Taken {
        origin: origin.clone(),
        raw: &body,
        steps,
    }];
    match s.store.record_reports("https", &taken).await {
        Ok(outcomes) => {
            for o in &outcomes {
                tracing::info!(
                    "TLS report {} {} from {origin}: {} {}",
                    o.reporter,
                    o.report_id,
                    o.status,
                    o.reason
                );
            }
            if outcomes.iter().any(|o| o.reason == "unreadable") {
                (
                    StatusCode::BAD_REQUEST,
                    "not a TLS report (kept for inspection)\n",
                )
                    .into_response()
            } else {
                (StatusCode::CREATED, "thank you\n").into_response()
            }
        }
        Err(e) => {
            tracing::error!("TLS report from {origin}: {e}");
            (StatusCode::SERVICE_UNAVAILABLE, "try again later\n").into_response()
        }
    }
}
