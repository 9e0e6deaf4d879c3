//! Veilpost's web side, server-rendered with no JavaScript: the recipient portal (a
//! notification link, then an explicit "open" and a second factor, then the message, its
//! attachments, a copy to keep and a secure reply), the sender's status page behind a
//! signed link, the development outbox, and the first administrator's set-up.
//!
//! Dutch by default, English with `?lang=en` (remembered in a cookie). Every response gets
//! the security headers; every form carries a CSRF token; one error type with an id that
//! a user can quote and an operator can find in the log.

pub mod addressbook;
mod admin;
mod contact;
mod limits;
pub mod mails;
pub mod oidc;
mod pages;
mod passkey;
pub mod render;
mod staff;
mod status;
mod totp;
mod uploads;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use askama::Template;
use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use veilpost_portal::RateLimit;
use veilpost_portal::login::Rules;
use veilpost_store::vault::MasterKey;
use veilpost_store::{Envelope, Store};

pub use veilpost_adapters::{SmsProvider, SmsSender};
pub(crate) use veilpost_adapters::{clamd, sms};

/// A boxed future, for the [`Mailer`] trait (object safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How the web side hands mail to the gateway: generated mail (read receipts, codes,
/// lock notices) is queued for delivery, and replies go through processing like any
/// submitted message (scan, policy, route).
pub trait Mailer: Send + Sync + std::fmt::Debug {
    /// Queue a mail Veilpost wrote for delivery to `to` (signed where it can be).
    fn send(&self, to: String, raw: Vec<u8>) -> BoxFuture<'_, anyhow::Result<()>>;
    /// Spool a message for processing; returns its id once it is durable.
    fn submit(&self, envelope: Envelope, raw: Vec<u8>) -> BoxFuture<'_, anyhow::Result<String>>;
    /// The organisation's own domains checked as `veilpost check-domain` does, with the
    /// records to publish (for the admin page). Default: not available.
    fn posture(&self, dutch: bool) -> BoxFuture<'_, anyhow::Result<Vec<PostureView>>> {
        let _ = dutch;
        Box::pin(async { anyhow::bail!("no domain check in this set-up") })
    }
}

/// One domain's posture for the admin page.
#[derive(Debug, Clone, Default)]
pub struct PostureView {
    pub domain: String,
    pub checks: Vec<PostureCheck>,
    /// DNS records to publish (zone-file lines).
    pub records: Vec<String>,
}

/// One check: `status` is `pass`, `warn`, `fail` or `info`.
#[derive(Debug, Clone, Default)]
pub struct PostureCheck {
    pub id: String,
    pub status: String,
    pub detail: String,
    pub advice: String,
}

/// The portal's settings (from `[portal]`, `[web]` and `[organisation]`).
#[derive(Debug, Clone)]
pub struct PortalSettings {
    /// Links in mails point here (`https://…` turns on Secure cookies and HSTS).
    pub public_url: String,
    /// The address Veilpost's own mails come from.
    pub notify_from: String,
    /// Code lengths, lifetimes and tries.
    pub rules: Rules,
    /// Seconds without activity before a session ends (15 minutes).
    pub idle_timeout: i64,
    /// Seconds a session may last at all.
    pub session_max: i64,
    /// Largest reply (text and attachments together), bytes.
    pub max_reply_size: usize,
    /// Show `/outbox` (delivery.mode = "outbox": development on one machine).
    pub outbox: Option<PathBuf>,
    /// The SMS outbox file, shown on the same page.
    pub sms_outbox: Option<PathBuf>,
    /// Take the client address from `X-Forwarded-For` (behind a reverse proxy only).
    pub trust_forwarded_for: bool,
    /// Where the secure contact form's messages go; `None`: no contact form.
    pub intake_mailbox: Option<String>,
    /// File extensions the contact form takes.
    pub intake_types: Vec<String>,
    /// clamd (`host:port`) that checks every uploaded file; `None`: no virus scan.
    pub clamd: Option<String>,
    /// The policy in force, as (setting, value) for the admin page.
    pub policy: Vec<(String, String)>,
    /// Staff sign-in with the organisation's identity provider; `None`: passwords only.
    pub oidc: Option<oidc::OidcSettings>,
    /// The configured double-check rules (an admin may change them on the web).
    pub doublecheck: veilpost_policy::doublecheck::Rules,
    /// The configured answer to a leaver's mail: `reject` or `forward`.
    pub leaver_answer: String,
}

impl Default for PortalSettings {
    fn default() -> Self {
        PortalSettings {
            public_url: "http://127.0.0.1:8080".into(),
            notify_from: "noreply@localhost".into(),
            rules: Rules::default(),
            idle_timeout: 15 * 60,
            session_max: 8 * 3600,
            max_reply_size: 25 * 1024 * 1024,
            outbox: None,
            sms_outbox: None,
            trust_forwarded_for: false,
            intake_mailbox: None,
            intake_types: default_intake_types(),
            clamd: None,
            policy: Vec::new(),
            oidc: None,
            doublecheck: veilpost_policy::doublecheck::Rules {
                new_recipient: false,
                look_alike: true,
                many_visible: 0,
                free_mail: false,
            },
            leaver_answer: "reject".into(),
        }
    }
}

/// What patients typically need to send: documents and photos.
pub fn default_intake_types() -> Vec<String> {
    [
        "pdf", "jpg", "jpeg", "png", "heic", "gif", "txt", "doc", "docx", "odt", "xls", "xlsx",
        "ods", "csv",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

impl PortalSettings {
    fn https(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

/// Rate limits kept in memory (the per-login limits live in the database).
#[derive(Debug)]
pub struct Limits {
    /// Login actions per client address.
    pub per_ip: RateLimit,
    /// Codes sent per recipient.
    pub sends_per_recipient: RateLimit,
    /// Codes tried per recipient.
    pub tries_per_recipient: RateLimit,
    /// Staff sign-in attempts (password and second factor) per account.
    pub staff_logins: RateLimit,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            // Generous: a hospital's staff may share one address; guessing is stopped per
            // recipient and by the lock-out.
            per_ip: RateLimit::new(300, 600, 100_000),
            sends_per_recipient: RateLimit::new(10, 3600, 100_000),
            tries_per_recipient: RateLimit::new(20, 600, 100_000),
            staff_logins: RateLimit::new(10, 900, 100_000),
        }
    }
}

/// What the pages need.
#[derive(Debug, Clone)]
pub struct WebState {
    pub store: Store,
    pub organisation: String,
    pub settings: Arc<PortalSettings>,
    pub master_key: Arc<MasterKey>,
    pub sms: SmsSender,
    pub mailer: Arc<dyn Mailer>,
    pub limits: Arc<Mutex<Limits>>,
}

/// The language of a page: `nl` (default) or `en`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lang(pub &'static str);

impl Lang {
    /// Pick the Dutch or the English text.
    pub fn t<'a>(&self, nl: &'a str, en: &'a str) -> &'a str {
        if self.0 == "en" { en } else { nl }
    }

    pub fn is_nl(&self) -> bool {
        self.0 != "en"
    }
}

impl PartialEq<&str> for Lang {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl std::fmt::Display for Lang {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

const LANG_COOKIE: &str = "vp_lang";

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        for pair in query.split('&') {
            match pair {
                "lang=en" => return Ok(Lang("en")),
                "lang=nl" => return Ok(Lang("nl")),
                _ => {}
            }
        }
        let remembered = cookie(&parts.headers, LANG_COOKIE)
            .or_else(|| cookie(&parts.headers, &format!("__Host-{LANG_COOKIE}")));
        match remembered {
            Some("en") => return Ok(Lang("en")),
            Some("nl") => return Ok(Lang("nl")),
            _ => {}
        }
        let accept = parts
            .headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        Ok(
            if accept.trim_start().to_ascii_lowercase().starts_with("en") {
                Lang("en")
            } else {
                Lang("nl")
            },
        )
    }
}

/// The client's address: the connection's, or the first `X-Forwarded-For` hop when
/// configured (behind a reverse proxy).
#[derive(Debug, Clone)]
pub struct ClientIp(pub String);

impl FromRequestParts<WebState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, s: &WebState) -> Result<Self, Self::Rejection> {
        if s.settings.trust_forwarded_for
            && let Some(first) = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
            && let Ok(ip) = first.trim().parse::<std::net::IpAddr>()
        {
            return Ok(ClientIp(ip.to_string()));
        }
        Ok(ClientIp(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string())
                .unwrap_or_else(|| "unknown".into()),
        ))
    }
}

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
fn cookie_name(s: &PortalSettings, base: &str) -> String {
    if s.https() {
        format!("__Host-{base}")
    } else {
        base.to_string()
    }
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, Secure behind https; `max_age` None
/// for a browser-session cookie, Some(0) to delete.
fn set_cookie(s: &PortalSettings, base: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
    set_cookie_same_site(s, base, value, max_age, "Strict")
}

/// [`set_cookie`] with another SameSite value (`Lax` for a cookie that must come back on a
/// top-level navigation from another site: the identity provider's answer).
fn set_cookie_same_site(
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

/// One error type for every page: the status, what the user is told, and an id to quote.
#[derive(Debug)]
pub struct WebError {
    pub status: StatusCode,
    pub kind: ErrorKind,
    pub id: String,
    pub lang: Lang,
}

/// What went wrong, in the user's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    /// The form's CSRF token did not match (an old page, or another site's form).
    Csrf,
    /// Too many tries.
    TooMany,
    /// The session ended (idle timeout or logged out).
    SessionEnded,
    /// Input refused (too large, not a form).
    BadInput,
    /// A file type the form does not take.
    FileType,
    /// The virus scanner found something in a file.
    Malware,
    /// A service the request needs is down (the virus scanner).
    Unavailable,
    /// The signed-in account's role does not allow this.
    Forbidden,
    /// Our fault.
    Internal,
}

impl WebError {
    pub fn new(status: StatusCode, kind: ErrorKind, lang: Lang) -> WebError {
        let mut raw = [0u8; 6];
        veilpost_store::random(&mut raw);
        WebError {
            status,
            kind,
            id: veilpost_store::hex(&raw),
            lang,
        }
    }

    /// An internal error: logged with its id, never shown.
    pub fn internal(lang: Lang, what: impl std::fmt::Display) -> WebError {
        let e = WebError::new(StatusCode::INTERNAL_SERVER_ERROR, ErrorKind::Internal, lang);
        tracing::error!("web error {}: {what}", e.id);
        e
    }

    fn text(&self) -> (&'static str, &'static str) {
        match self.kind {
            ErrorKind::NotFound => (
                "Deze pagina bestaat niet (meer). Controleer of u de hele link hebt gebruikt.",
                "This page does not exist (any more). Check that you used the whole link.",
            ),
            ErrorKind::Csrf => (
                "Het formulier was verlopen of kwam niet van deze site. Ga terug, laad de pagina opnieuw en probeer het nog eens.",
                "The form had expired or did not come from this site. Go back, reload the page and try again.",
            ),
            ErrorKind::TooMany => (
                "Te veel pogingen. Wacht even en probeer het daarna opnieuw.",
                "Too many attempts. Wait a while, then try again.",
            ),
            ErrorKind::SessionEnded => (
                "Uw sessie is beëindigd (na 15 minuten zonder activiteit, of na afmelden). Open de link uit de e-mail opnieuw.",
                "Your session has ended (after 15 minutes without activity, or after signing out). Open the link in the e-mail again.",
            ),
            ErrorKind::BadInput => (
                "Dit verzoek kon niet worden verwerkt (te groot of onvolledig).",
                "This request could not be handled (too large or incomplete).",
            ),
            ErrorKind::FileType => (
                "Dit soort bestand kan hier niet worden verstuurd. Stuur bijvoorbeeld een PDF of een foto (JPG, PNG).",
                "This kind of file cannot be sent here. Send a PDF or a photo (JPG, PNG), for example.",
            ),
            ErrorKind::Malware => (
                "In een van de bestanden is een virus of ander schadelijk programma gevonden. Er is niets verstuurd.",
                "A virus or other malicious program was found in one of the files. Nothing was sent.",
            ),
            ErrorKind::Unavailable => (
                "De bestanden kunnen nu niet op virussen worden gecontroleerd, dus er is niets verstuurd. Probeer het later opnieuw.",
                "The files cannot be checked for viruses right now, so nothing was sent. Try again later.",
            ),
            ErrorKind::Forbidden => (
                "U hebt met uw rol geen toegang tot deze pagina of handeling.",
                "Your role does not give you access to this page or action.",
            ),
            ErrorKind::Internal => (
                "Er ging bij ons iets mis. Probeer het later opnieuw.",
                "Something went wrong on our side. Try again later.",
            ),
        }
    }
}

impl From<veilpost_store::Error> for WebError {
    fn from(e: veilpost_store::Error) -> Self {
        WebError::internal(Lang("nl"), e)
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    lang: Lang,
    organisation: &'a str,
    message: &'a str,
    id: &'a str,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (nl, en) = self.text();
        let page = ErrorPage {
            lang: self.lang,
            organisation: "",
            message: self.lang.t(nl, en),
            id: &self.id,
        };
        render(&page, self.status)
    }
}

/// Render a template (the headers come from the middleware).
pub(crate) fn render(t: &impl Template, status: StatusCode) -> Response {
    match t.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!("template: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// Headers every response carries: no framing, no referrer (links hold tokens), no
/// caching, no sniffing, a strict content policy; HSTS behind https; the language cookie
/// when `?lang=` chose one.
async fn security_headers(State(s): State<WebState>, req: Request, next: Next) -> Response {
    let chosen = req.uri().query().and_then(|q| {
        q.split('&').find_map(|p| match p {
            "lang=en" => Some("en"),
            "lang=nl" => Some("nl"),
            _ => None,
        })
    });
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    // The one page that runs Veilpost's own script (passkeys) sets its own policy.
    h.entry(header::CONTENT_SECURITY_POLICY).or_insert(
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
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

#[derive(Template)]
#[template(path = "index.html")]
struct Index<'a> {
    lang: Lang,
    organisation: &'a str,
}

async fn index(State(s): State<WebState>, lang: Lang) -> Response {
    render(
        &Index {
            lang,
            organisation: &s.organisation,
        },
        StatusCode::OK,
    )
}

#[derive(Template)]
#[template(path = "setup.html")]
struct Setup<'a> {
    lang: Lang,
    organisation: &'a str,
    valid: bool,
    done: bool,
    email: String,
    error: String,
    csrf: String,
}

const SETUP: &str = "first-admin";

async fn setup_form(
    State(s): State<WebState>,
    axum::extract::Path(token): axum::extract::Path<String>,
    lang: Lang,
    headers: HeaderMap,
) -> Response {
    let valid = s
        .store
        .setup_token_valid(SETUP, &token)
        .await
        .unwrap_or(false);
    let (csrf, set) = form_csrf(&s, &headers);
    with_cookie(
        render(
            &Setup {
                lang,
                organisation: &s.organisation,
                valid,
                done: false,
                email: String::new(),
                error: String::new(),
                csrf,
            },
            if valid {
                StatusCode::OK
            } else {
                StatusCode::NOT_FOUND
            },
        ),
        set,
    )
}

#[derive(Debug, serde::Deserialize)]
pub struct SetupForm {
    email: String,
    password: String,
    #[serde(default)]
    csrf: String,
}

async fn setup_submit(
    State(s): State<WebState>,
    axum::extract::Path(token): axum::extract::Path<String>,
    lang: Lang,
    headers: HeaderMap,
    axum::extract::Form(form): axum::extract::Form<SetupForm>,
) -> Result<Response, WebError> {
    check_form_csrf(&s, &headers, &form.csrf, lang)?;
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
        csrf: form.csrf.clone(),
    };
    if !page.valid {
        return Ok(render(&page, StatusCode::NOT_FOUND));
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
            Ok(render(&page, StatusCode::OK))
        }
        Err(e) => {
            page.error = if lang.is_nl() {
                match e {
                    veilpost_store::UserError::BadEmail(_) => "Dat is geen e-mailadres.".into(),
                    veilpost_store::UserError::ShortPassword => {
                        "Het wachtwoord moet minstens 12 tekens hebben.".into()
                    }
                    veilpost_store::UserError::Exists(_) => "Dat account bestaat al.".into(),
                    veilpost_store::UserError::Store(_) | veilpost_store::UserError::BadRole(_) => {
                        "Er ging iets mis; probeer het opnieuw.".into()
                    }
                }
            } else {
                e.to_string()
            };
            Ok(render(&page, StatusCode::UNPROCESSABLE_ENTITY))
        }
    }
}

const CSRF_COOKIE: &str = "vp_csrf";

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

async fn not_found(lang: Lang) -> WebError {
    WebError::new(StatusCode::NOT_FOUND, ErrorKind::NotFound, lang)
}

/// The router (also what handler tests drive).
pub fn app(state: WebState) -> Router {
    let body_limit = state.settings.max_reply_size + 64 * 1024;
    Router::new()
        .route("/", get(index))
        .route("/healthz", get(|| async { "ok" }))
        .route("/p/{token}", get(pages::landing))
        .route("/p/{token}/open", post(pages::open))
        .route("/p/{token}/verify", get(pages::verify))
        .route("/p/{token}/factor", post(pages::factor))
        .route("/p/{token}/code", post(pages::code))
        .route("/p/{token}/resend", post(pages::resend))
        .route("/p/{token}/back", post(pages::back))
        .route("/p/{token}/message", get(pages::message))
        .route("/p/{token}/attachment/{n}", get(pages::attachment))
        .route("/p/{token}/save.eml", get(pages::save_eml))
        .route("/p/{token}/save.html", get(pages::save_html))
        .route("/p/{token}/reply", post(pages::reply))
        .route(
            "/p/{token}/totp",
            get(pages::totp_form).post(pages::totp_register),
        )
        .route("/p/{token}/logout", post(pages::logout))
        .route("/contact", get(contact::start).post(contact::begin))
        .route("/contact/{id}", get(contact::form))
        .route("/contact/{id}/code", post(contact::code))
        .route("/contact/{id}/send", post(contact::send))
        .route("/h/{token}", get(status::hold_page))
        .route("/h/{token}/send", post(status::hold_send))
        .route("/h/{token}/cancel", post(status::hold_cancel))
        .route("/s/{token}", get(status::page))
        .route("/s/{token}/revoke", post(status::revoke))
        .route("/s/{token}/unlock", post(status::unlock))
        .route("/outbox", get(status::outbox))
        .route("/outbox/mail/{name}", get(status::outbox_mail))
        .route("/setup/{token}", get(setup_form).post(setup_submit))
        .route("/login", get(staff::login_form).post(staff::login))
        .route(
            "/login/2fa",
            get(staff::second_factor_form).post(staff::second_factor),
        )
        .route("/login/oidc", get(oidc::start))
        .route("/login/oidc/callback", get(oidc::callback))
        .route("/login/passkey/begin", post(passkey::begin))
        .route("/login/passkey/finish", post(passkey::finish))
        .route("/static/passkey.js", get(passkey::script))
        .route("/logout", post(staff::logout))
        .route("/staff", get(staff::home))
        .route(
            "/staff/compose",
            get(staff::compose_form).post(staff::compose),
        )
        .route("/staff/sent/{id}/revoke", post(staff::revoke))
        .route("/staff/held/{id}/{decision}", post(staff::held_decide))
        .route("/admin/users", get(admin::users).post(admin::add_user))
        .route("/admin/user", get(admin::user).post(admin::edit_user))
        .route("/admin/user/offboard", post(admin::offboard))
        .route("/admin/user/reset-2fa", post(admin::reset_second_factor))
        .route(
            "/admin/contacts",
            get(admin::contacts).post(admin::add_contact),
        )
        .route("/admin/contacts/delete", post(admin::delete_contact))
        .route("/admin/contacts/import", post(admin::import_contacts))
        .route("/admin/contacts.csv", get(admin::export_contacts))
        .route("/admin/partners", post(admin::add_partner))
        .route("/admin/partners/delete", post(admin::delete_partner))
        .route("/admin/audit", get(admin::audit))
        .route("/admin/audit.csv", get(admin::audit_csv))
        .route("/admin/trace", get(admin::trace))
        .route("/admin/queue", get(admin::queue))
        .route("/admin/queue/{id}/{action}", post(admin::queue_action))
        .route("/admin/posture", get(admin::posture))
        .route("/admin/policy", get(admin::policy).post(admin::save_policy))
        .fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            security_headers,
        ))
        .with_state(state)
}

/// Serve until the listener fails.
pub async fn serve(listener: tokio::net::TcpListener, state: WebState) -> std::io::Result<()> {
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}

/// A response with the pre-session CSRF cookie set, when [`form_csrf`] made a new one.
pub(crate) fn with_cookie(mut r: Response, set: Option<HeaderValue>) -> Response {
    if let Some(c) = set {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}

/// A redirect after a POST (303, so the browser GETs the next page).
pub(crate) fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// Format a Unix time as a date (and time) for pages, in Dutch time.
pub fn when(unix: i64, with_time: bool) -> String {
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp(unix) else {
        return String::new();
    };
    // Central European time: UTC+1, +2 from the last Sunday of March to that of October.
    let t = t.to_offset(dutch_offset(t));
    if with_time {
        format!(
            "{}-{:02}-{:04} {:02}:{:02}",
            t.day(),
            u8::from(t.month()),
            t.year(),
            t.hour(),
            t.minute()
        )
    } else {
        format!("{}-{:02}-{:04}", t.day(), u8::from(t.month()), t.year())
    }
}

fn dutch_offset(t: time::OffsetDateTime) -> time::UtcOffset {
    let last_sunday = |month: time::Month| {
        let mut d = time::Date::from_calendar_date(t.year(), month, 31).unwrap_or(time::Date::MIN);
        while d.weekday() != time::Weekday::Sunday {
            d = d.previous_day().unwrap_or(d);
        }
        d.with_hms(1, 0, 0)
            .map(|dt| dt.assume_utc())
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
    };
    let summer = t >= last_sunday(time::Month::March) && t < last_sunday(time::Month::October);
    time::UtcOffset::from_hms(if summer { 2 } else { 1 }, 0, 0).unwrap_or(time::UtcOffset::UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dutch_time() {
        // 2026-07-01 12:00 UTC is 14:00 in summer; 2026-01-01 12:00 UTC is 13:00.
        assert_eq!(when(1_782_907_200, true), "1-07-2026 14:00");
        assert_eq!(when(1_767_268_800, true), "1-01-2026 13:00");
    }

    #[test]
    fn cookies_parse() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; vp_lang=en; b=2"),
        );
        assert_eq!(cookie(&h, "vp_lang"), Some("en"));
        assert_eq!(cookie(&h, "c"), None);
        assert!(same_secret("abc", "abc") && !same_secret("abc", "abd") && !same_secret("", ""));
    }
}
