//! Veilpost's web side (server-rendered, Dutch by default, `?lang=en` for English): the
//! portal's landing page for a notification link — which shows who sent something and
//! until when, never the content, and does not use the link up (link scanners fetch every
//! link) — and the first administrator's set-up page.

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use veilpost_store::Store;

/// What the pages need.
#[derive(Debug, Clone)]
pub struct WebState {
    pub store: Store,
    pub organisation: String,
}

#[derive(Debug, Deserialize)]
pub struct LangQuery {
    lang: Option<String>,
}

fn language(q: &LangQuery, headers: &HeaderMap) -> &'static str {
    match q.lang.as_deref() {
        Some("en") => return "en",
        Some("nl") => return "nl",
        _ => {}
    }
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if accept.trim_start().to_ascii_lowercase().starts_with("en") {
        "en"
    } else {
        "nl"
    }
}

/// Headers every page carries: no framing, no referrer (links hold tokens), no caching,
/// a strict content policy.
fn secure(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
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
    response
}

fn render(t: &impl Template, status: StatusCode) -> Response {
    match t.render() {
        Ok(html) => secure((status, Html(html)).into_response()),
        Err(e) => {
            tracing::error!("template: {e}");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "index.html")]
struct Index<'a> {
    lang: &'a str,
    organisation: &'a str,
}

#[derive(Template)]
#[template(path = "portal.html")]
struct Portal<'a> {
    lang: &'a str,
    organisation: &'a str,
    found: bool,
    expired: bool,
    sender: String,
    expires: String,
}

#[derive(Template)]
#[template(path = "setup.html")]
struct Setup<'a> {
    lang: &'a str,
    organisation: &'a str,
    valid: bool,
    done: bool,
    email: String,
    error: String,
}

fn date(unix: i64, lang: &str) -> String {
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp(unix) else {
        return String::new();
    };
    format!(
        "{:04}-{:02}-{:02}{}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        if lang == "nl" { "" } else { " (UTC)" }
    )
}

async fn index(
    State(s): State<WebState>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    render(
        &Index {
            lang: language(&q, &headers),
            organisation: &s.organisation,
        },
        StatusCode::OK,
    )
}

/// The landing page of a notification link. Read-only: fetching it changes nothing.
async fn portal(
    State(s): State<WebState>,
    Path(token): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = language(&q, &headers);
    let info = s.store.vault_by_token(&token).await.ok().flatten();
    let now = veilpost_store::now();
    let page = Portal {
        lang,
        organisation: &s.organisation,
        found: info.is_some(),
        expired: info.as_ref().is_some_and(|i| i.expires_at <= now),
        sender: info.as_ref().map(|i| i.sender.clone()).unwrap_or_default(),
        expires: info
            .as_ref()
            .map(|i| date(i.expires_at, lang))
            .unwrap_or_default(),
    };
    let status = if page.found {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    render(&page, status)
}

const SETUP: &str = "first-admin";

async fn setup_form(
    State(s): State<WebState>,
    Path(token): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let valid = s
        .store
        .setup_token_valid(SETUP, &token)
        .await
        .unwrap_or(false);
    render(
        &Setup {
            lang: language(&q, &headers),
            organisation: &s.organisation,
            valid,
            done: false,
            email: String::new(),
            error: String::new(),
        },
        if valid {
            StatusCode::OK
        } else {
            StatusCode::NOT_FOUND
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct SetupForm {
    email: String,
    password: String,
}

async fn setup_submit(
    State(s): State<WebState>,
    Path(token): Path<String>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
    Form(form): Form<SetupForm>,
) -> Response {
    let lang = language(&q, &headers);
    let mut page = Setup {
        lang,
        organisation: &s.organisation,
        valid: s
            .store
            .setup_token_valid(SETUP, &token)
            .await
            .unwrap_or(false),
        done: false,
        email: form.email.clone(),
        error: String::new(),
    };
    if !page.valid {
        return render(&page, StatusCode::NOT_FOUND);
    }
    match s
        .store
        .add_user(&form.email, &form.password, "admin", None)
        .await
    {
        Ok(()) => {
            let _ = s.store.use_setup_token(SETUP, &token).await;
            let _ = s
                .store
                .audit("web", "admin.created", Some(form.email.trim()), None)
                .await;
            page.done = true;
            render(&page, StatusCode::OK)
        }
        Err(e) => {
            page.error = if lang == "nl" {
                match e {
                    veilpost_store::UserError::BadEmail(_) => "Dat is geen e-mailadres.".into(),
                    veilpost_store::UserError::ShortPassword => {
                        "Het wachtwoord moet minstens 12 tekens hebben.".into()
                    }
                    veilpost_store::UserError::Exists(_) => "Dat account bestaat al.".into(),
                    veilpost_store::UserError::Store(_) => {
                        "Er ging iets mis; probeer het opnieuw.".into()
                    }
                }
            } else {
                e.to_string()
            };
            render(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

/// The router.
pub fn router(state: WebState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/healthz", get(|| async { "ok" }))
        .route("/p/{token}", get(portal))
        .route("/setup/{token}", get(setup_form).post(setup_submit))
        .with_state(state)
}

/// Serve until the listener fails.
pub async fn serve(listener: tokio::net::TcpListener, state: WebState) -> std::io::Result<()> {
    axum::serve(listener, router(state)).await
}
