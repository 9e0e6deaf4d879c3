//! Veilpost's web side, server-rendered with no JavaScript: the recipient portal (a
//! notification link, then an explicit "open" and a second factor, then the message, its
//! attachments, a copy to keep and a secure reply), the sender's status page behind a
//! signed link, the development outbox, and the first administrator's set-up.
//!
//! Dutch by default, English with `?lang=en` (remembered in a cookie). Every response gets
//! the security headers; every form carries a CSRF token; one error type with an id that
//! a user can quote and an operator can find in the log.

mod admin;
mod confirm;
mod contact;
mod cookies;
mod csrf;
mod error;
mod headers;
pub mod health;
pub mod labels;
mod limits;
mod login_loop;
pub mod metrics;
mod pages;
mod quarantine;
pub mod render;
mod reports;
mod setup;
mod signin;
mod staff;
mod status;
mod tlsrpt;
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

pub use cookies::{cookie, same_secret};
pub(crate) use cookies::{cookie_name, set_cookie, set_cookie_same_site, with_cookie};
pub(crate) use csrf::{check_form_csrf, form_csrf};
pub(crate) use error::render;
pub use error::{ErrorKind, WebError};
use headers::security_headers;
pub use limits::{staff_check, staff_failed, staff_passed};
pub use setup::SetupForm;
use setup::{setup_form, setup_submit};
pub use signin::oidc;
pub use veilpost_adapters::{SmsProvider, SmsSender};
pub(crate) use veilpost_adapters::{clamd, sms};
pub(crate) use veilpost_text::dates::when;
pub(crate) use veilpost_text::mails;

/// A boxed future, for the [`Mailer`] trait (object safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An error from the other side of [`Mailer`] (the gateway) or from an outside service
/// (the identity provider), with its chain of causes.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// How the web side hands mail to the gateway: generated mail (read receipts, codes,
/// lock notices) is queued for delivery, and replies go through processing like any
/// submitted message (scan, policy, route).
pub trait Mailer: Send + Sync + std::fmt::Debug {
    /// Queue a mail Veilpost wrote for delivery to `to` (signed where it can be).
    fn send(&self, to: String, raw: Vec<u8>) -> BoxFuture<'_, Result<(), BoxError>>;
    /// Spool a message for processing; returns its id once it is durable.
    fn submit(&self, envelope: Envelope, raw: Vec<u8>) -> BoxFuture<'_, Result<String, BoxError>>;
    /// The organisation's own domains checked as `veilpost check-domain` does, with the
    /// records to publish (for the admin page). Default: not available.
    fn posture(&self, lang: Lang) -> BoxFuture<'_, Result<Vec<PostureView>, BoxError>> {
        let _ = lang;
        Box::pin(async { Err("no domain check in this set-up".into()) })
    }
    /// Whether the gateway can take work now, check by check (`/healthz/ready`).
    /// Default: nothing to check.
    fn health(&self) -> BoxFuture<'_, Vec<health::HealthCheck>> {
        Box::pin(async { Vec::new() })
    }

    /// The answer to an ACME HTTP-01 challenge `token` being proved now (the key
    /// authorisation), if any. Default: none.
    fn acme_challenge(&self, _token: &str) -> Option<String> {
        None
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
    /// Reverse proxies whose `X-Forwarded-For` hop is believed (empty: none is).
    pub trusted_proxies: Vec<veilpost_portal::client::Net>,
    /// The organisation's colour and logo on every page (`/brand.css`, `/brand/logo`).
    pub brand: veilpost_text::mails::Brand,
    /// Where the secure contact form's messages go; `None`: no contact form.
    pub intake_mailbox: Option<String>,
    /// File extensions the contact form takes.
    pub intake_types: Vec<String>,
    /// Working days within which the organisation usually answers the contact form.
    pub intake_response_days: u32,
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
    /// Inbound findings that leave a quarantined message for an administrator to release.
    pub quarantine_admin_only: Vec<String>,
    /// The organisation's domains: TLS reports posted to `/tlsrpt` about others are kept
    /// aside (none named: any domain, a trial).
    pub domains: Vec<String>,
    /// Where DMARC aggregate reports come (`reports.dmarc_address`), for the records the
    /// reports pages advise.
    pub dmarc_address: String,
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
            trusted_proxies: Vec::new(),
            brand: Default::default(),
            intake_mailbox: None,
            intake_types: default_intake_types(),
            intake_response_days: 2,
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
            quarantine_admin_only: Vec::new(),
            domains: Vec::new(),
            dmarc_address: "dmarc-rua@localhost".into(),
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

/// Rate limits and the staff sign-in guard, counted in memory (and, when several nodes share
/// a PostgreSQL database, there too: `limits.rs`); the portal login state lives in the database.
#[derive(Debug)]
pub struct Limits {
    /// Login actions per client address.
    pub per_ip: RateLimit,
    /// Codes sent per recipient of a secure message.
    pub sends_per_recipient: RateLimit,
    /// Codes the contact form sends per e-mail address: a budget of its own, so that
    /// anonymous contact-form posts cannot use up a patient's codes for their messages.
    pub intake_sends: RateLimit,
    /// Codes tried per recipient.
    pub tries_per_recipient: RateLimit,
    /// Staff sign-in failures per account and client address (web and SMTP AUTH).
    pub staff: veilpost_portal::LoginGuard,
    /// TLS reports posted per client address (a reporter posts one a day per domain).
    pub tlsrpt_posts: RateLimit,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            // Generous: a hospital's staff may share one address; guessing is stopped per
            // recipient and by the lock-out.
            per_ip: RateLimit::new(300, 600, 100_000),
            sends_per_recipient: RateLimit::new(10, 3600, 100_000),
            intake_sends: RateLimit::new(5, 3600, 100_000),
            tries_per_recipient: RateLimit::new(20, 600, 100_000),
            staff: veilpost_portal::LoginGuard::default(),
            tlsrpt_posts: RateLimit::new(60, 3600, 100_000),
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

pub use veilpost_text::Lang;

/// The language a page is asked in: `?lang=`, then the remembered choice (cookie), then
/// the browser's `Accept-Language`; Dutch unless English is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLang(pub Lang);

const LANG_COOKIE: &str = "vp_lang";

impl<S: Send + Sync> FromRequestParts<S> for PageLang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        for pair in query.split('&') {
            match pair {
                "lang=en" => return Ok(PageLang(Lang::En)),
                "lang=nl" => return Ok(PageLang(Lang::Nl)),
                _ => {}
            }
        }
        let remembered = cookie(&parts.headers, LANG_COOKIE)
            .or_else(|| cookie(&parts.headers, &format!("__Host-{LANG_COOKIE}")));
        match remembered {
            Some("en") => return Ok(PageLang(Lang::En)),
            Some("nl") => return Ok(PageLang(Lang::Nl)),
            _ => {}
        }
        let accept = parts
            .headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        Ok(PageLang(
            if accept.trim_start().to_ascii_lowercase().starts_with("en") {
                Lang::En
            } else {
                Lang::Nl
            },
        ))
    }
}

/// The client's address: the connection's, or, when the connection comes from a trusted
/// reverse proxy (`web.trusted_proxies`), the right-most `X-Forwarded-For` hop no trusted
/// proxy vouches for ([`veilpost_portal::client::client_address`]).
#[derive(Debug, Clone)]
pub struct ClientIp(pub String);

fn peer_ip(parts: &Parts) -> Option<std::net::IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// Headers by which a proxy says whom it forwards for.
const FORWARDING_HEADERS: [&str; 3] = ["x-forwarded-for", "forwarded", "x-real-ip"];

impl FromRequestParts<WebState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, s: &WebState) -> Result<Self, Self::Rejection> {
        let Some(peer) = peer_ip(parts) else {
            return Ok(ClientIp("unknown".into()));
        };
        let hops: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let ip = veilpost_portal::client::client_address(peer, &hops, &s.settings.trusted_proxies);
        Ok(ClientIp(ip.to_string()))
    }
}

impl ClientIp {
    /// The address as counted by the sign-in guard (unknown: the unspecified address).
    pub fn addr(&self) -> std::net::IpAddr {
        self.0
            .parse()
            .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
    }

    /// The key per-address limits count under (IPv6 by /64).
    pub fn key(&self) -> String {
        veilpost_portal::client::client_key(self.addr())
    }
}

/// A request made on this machine itself: a loopback connection that no proxy forwarded
/// (behind a local reverse proxy every request arrives from loopback, so the socket alone
/// does not say the person is here).
#[derive(Debug, Clone, Copy)]
pub struct OnThisMachine(pub bool);

impl<S: Send + Sync> FromRequestParts<S> for OnThisMachine {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let forwarded = FORWARDING_HEADERS
            .iter()
            .any(|h| parts.headers.contains_key(*h));
        Ok(OnThisMachine(
            !forwarded && peer_ip(parts).is_some_and(|ip| ip.is_loopback()),
        ))
    }
}

#[derive(Template)]
#[template(path = "index.html")]
struct Index<'a> {
    lang: Lang,
    organisation: &'a str,
}

async fn index(State(s): State<WebState>, PageLang(lang): PageLang) -> Response {
    render(
        &Index {
            lang,
            organisation: &s.organisation,
        },
        StatusCode::OK,
    )
}

/// `GET /brand.css`: the organisation's colour and logo over the pages' own style.
async fn brand_css(State(s): State<WebState>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        s.settings.brand.stylesheet(),
    )
        .into_response()
}

/// `GET /brand/logo`: the organisation's logo (404 without one).
async fn brand_logo(State(s): State<WebState>, PageLang(lang): PageLang) -> Response {
    match &s.settings.brand.logo {
        Some((bytes, kind)) => (
            [
                (header::CONTENT_TYPE, *kind),
                (header::CACHE_CONTROL, "public, max-age=3600"),
            ],
            bytes.clone(),
        )
            .into_response(),
        None => WebError::new(StatusCode::NOT_FOUND, ErrorKind::NotFound, lang).into_response(),
    }
}

async fn not_found(PageLang(lang): PageLang) -> WebError {
    WebError::new(StatusCode::NOT_FOUND, ErrorKind::NotFound, lang)
}

/// The router (also what handler tests drive).
pub fn app(state: WebState) -> Router {
    let body_limit = state.settings.max_reply_size + 64 * 1024;
    Router::new()
        .route("/", get(index))
        .route("/healthz", get(|| async { "ok" }))
        .route("/healthz/live", get(health::live))
        .route("/healthz/ready", get(health::ready))
        .route("/.well-known/acme-challenge/{token}", get(acme_challenge))
        .route(
            "/tlsrpt",
            post(tlsrpt::post).layer(axum::extract::DefaultBodyLimit::max(tlsrpt::MAX_BODY)),
        )
        .route("/brand.css", get(brand_css))
        .route("/brand/logo", get(brand_logo))
        .route("/p/{token}", get(pages::landing))
        .route("/p/{token}/open", post(pages::open))
        .route("/p/{token}/verify", get(pages::verify))
        .route("/p/{token}/factor", post(pages::factor))
        .route("/p/{token}/code", post(pages::code))
        .route("/p/{token}/resend", post(pages::resend))
        .route("/p/{token}/back", post(pages::back))
        .route(
            "/p/{token}/message",
            get(pages::message).layer(axum::middleware::from_fn(metrics::timed_view)),
        )
        .route("/p/{token}/attachment/{n}", get(pages::attachment))
        .route("/p/{token}/save.eml", get(pages::save_eml))
        .route("/p/{token}/save.html", get(pages::save_html))
        .route("/p/{token}/reply", post(pages::reply))
        .route(
            "/p/{token}/reply/{reply}/attachment/{n}",
            get(pages::reply_attachment),
        )
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
        .route("/login", get(signin::login_form).post(signin::login))
        .route(
            "/login/2fa",
            get(signin::second_factor_form).post(signin::second_factor),
        )
        .route("/login/oidc", get(signin::oidc::start))
        .route("/login/oidc/callback", get(signin::oidc::callback))
        .route("/login/passkey/begin", post(signin::passkey::begin))
        .route("/login/passkey/finish", post(signin::passkey::finish))
        .route("/static/passkey.js", get(signin::passkey::script))
        .route("/logout", post(signin::logout))
        .route("/staff", get(staff::home))
        .route(
            "/staff/compose",
            get(staff::compose_form).post(staff::compose),
        )
        .route("/staff/received/{id}", get(staff::read_received))
        .route(
            "/staff/received/{id}/attachment/{n}",
            get(staff::received_attachment),
        )
        .route("/staff/sent/{id}/revoke", post(staff::revoke))
        .route("/staff/sent/{id}/unlock", post(staff::unlock))
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
        .route("/quarantine", get(quarantine::mine))
        .route("/quarantine/{id}", get(quarantine::view))
        .route("/quarantine/{id}/{action}", post(quarantine::action))
        .route("/admin/quarantine", get(quarantine::all))
        .route("/admin/quarantine/{id}/{action}", post(quarantine::action))
        .route("/admin/reports", get(reports::list))
        .route("/admin/reports/{id}/{action}", post(reports::act))
        .route("/admin/policy", get(admin::policy).post(admin::save_policy))
        .route("/admin/dmarc", get(admin::overview))
        .route("/admin/dmarc/{domain}", get(admin::domain))
        .route("/admin/dmarc/{domain}/sources.csv", get(admin::sources_csv))
        .route(
            "/admin/dmarc/{domain}/sources.json",
            get(admin::sources_json),
        )
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

/// `GET /.well-known/acme-challenge/{token}`: the key authorisation while a certificate
/// is being ordered (RFC 8555 §8.3), else 404.
async fn acme_challenge(
    State(s): State<WebState>,
    axum::extract::Path(token): axum::extract::Path<String>,
) -> Response {
    match s.mailer.acme_challenge(&token) {
        Some(answer) => {
            ([(header::CONTENT_TYPE, "application/octet-stream")], answer).into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A redirect after a POST (303, so the browser GETs the next page).
pub(crate) fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

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
