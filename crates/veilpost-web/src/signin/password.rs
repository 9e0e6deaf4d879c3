//! The sign-in page, the password step and logout.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;

use super::{CsrfOnly, STAFF_COOKIE, Staff, limited, sign_in_failed};
use crate::{
    ClientIp, Lang, PageLang, WebError, WebState, check_form_csrf, form_csrf, render, see_other,
    set_cookie, with_cookie,
};

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    lang: Lang,
    organisation: &'a str,
    csrf: String,
    email: String,
    error: &'a str,
    notice: &'a str,
    /// The identity provider's name, when staff may sign in there.
    oidc: &'a str,
}

#[derive(Debug, Deserialize)]
pub struct Notice {
    #[serde(default)]
    m: String,
}

fn notice_text(lang: Lang, m: &str) -> &'static str {
    match m {
        "ended" => {
            if lang.is_nl() {
                "Uw sessie is beëindigd. Meld u opnieuw aan."
            } else {
                "Your session has ended. Please sign in again."
            }
        }
        "out" => {
            if lang.is_nl() {
                "U bent afgemeld."
            } else {
                "You have signed out."
            }
        }
        _ => "",
    }
}

/// `GET /login`.
pub async fn login_form(
    State(s): State<WebState>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
    Query(q): Query<Notice>,
) -> Response {
    let (csrf, set) = form_csrf(&s, &headers);
    with_cookie(
        render(
            &LoginPage {
                lang,
                organisation: &s.organisation,
                csrf,
                email: String::new(),
                error: "",
                notice: notice_text(lang, &q.m),
                oidc: oidc_name(&s),
            },
            StatusCode::OK,
        ),
        set,
    )
}

fn oidc_name(s: &WebState) -> &str {
    s.settings
        .oidc
        .as_ref()
        .map(|o| o.name.as_str())
        .unwrap_or("")
}

/// The sign-in page with an error (401).
pub(crate) fn login_error(s: &WebState, lang: Lang, error: &str) -> Response {
    let (csrf, _) = form_csrf(s, &HeaderMap::new());
    render(
        &LoginPage {
            lang,
            organisation: &s.organisation,
            csrf,
            email: String::new(),
            error,
            notice: "",
            oidc: oidc_name(s),
        },
        StatusCode::UNAUTHORIZED,
    )
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    email: String,
    password: String,
}

/// `POST /login`: the password; then the second factor.
pub async fn login(
    State(s): State<WebState>,
    PageLang(lang): PageLang,
    ip: ClientIp,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Result<Response, WebError> {
    check_form_csrf(&s, &headers, &f.csrf, lang)?;
    let email: String = f.email.trim().chars().take(254).collect();
    limited(&s, &ip, &email, lang).await?;
    let today = time::OffsetDateTime::now_utc().date();
    let user = s
        .store
        .authenticate(&email, &f.password, today)
        .await?
        .filter(|u| u.offboarded_at.is_none());
    let Some(user) = user else {
        sign_in_failed(&s, &ip, &email, "password", None).await?;
        let page = LoginPage {
            lang,
            organisation: &s.organisation,
            csrf: f.csrf.clone(),
            email,
            error: lang.t(
                "Dat e-mailadres en wachtwoord horen niet bij een actief account.",
                "That e-mail address and password do not belong to an active account.",
            ),
            notice: "",
            oidc: oidc_name(&s),
        };
        return Ok(render(&page, StatusCode::UNAUTHORIZED));
    };
    let (token, _) = s
        .store
        .create_staff_session(&user.email, veilpost_store::Stage::Password)
        .await?;
    let mut r = see_other("/login/2fa");
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&s.settings, STAFF_COOKIE, &token, None),
    );
    Ok(r)
}

/// `POST /logout`.
pub async fn logout(
    State(s): State<WebState>,
    staff: Staff,
    ip: ClientIp,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    staff.check_csrf(&f.csrf)?;
    s.store
        .end_session(veilpost_store::SessionKind::Staff, &staff.token)
        .await?;
    staff.audit(&s, "staff.logout", None, None, &ip).await?;
    let mut r = see_other("/login?m=out");
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&s.settings, STAFF_COOKIE, "", Some(0)),
    );
    Ok(r)
}
