//! The second step of a password sign-in: the TOTP code, or registering an app (or a
//! passkey) when the account has no factor yet.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use totp_rs::Secret;
use veilpost_store::{TotpHolder, User};

use super::{complete_sign_in, limited, pending, sign_in_failed, staff_audit};
use crate::{
    ClientIp, ErrorKind, Lang, PageLang, WebError, WebState, render, same_secret, see_other,
};

#[derive(Template)]
#[template(path = "login_2fa.html")]
struct SecondFactorPage<'a> {
    lang: Lang,
    organisation: &'a str,
    csrf: &'a str,
    /// Registering: the new key, as text, link and QR code (empty otherwise).
    enrol: crate::totp::Enrolment,
    wrong: bool,
    has_totp: bool,
    has_passkey: bool,
    /// Passkeys work here (the public URL has a domain name, not an IP address).
    passkeys: bool,
}

fn issuer(s: &WebState) -> String {
    if s.organisation.is_empty() {
        "Veilpost".into()
    } else {
        format!("Veilpost {}", s.organisation)
    }
}

fn second_factor_page<'a>(
    s: &'a WebState,
    csrf: &'a str,
    user: &User,
    secret: Option<Secret>,
    wrong: bool,
    lang: Lang,
) -> SecondFactorPage<'a> {
    let enrol = secret
        .map(|secret| crate::totp::Enrolment::new(&secret, &user.email, &issuer(s)))
        .unwrap_or_default();
    SecondFactorPage {
        lang,
        organisation: &s.organisation,
        csrf,
        enrol,
        wrong,
        has_totp: user.has_totp,
        has_passkey: user.has_passkey,
        passkeys: super::passkey::webauthn(s).is_some(),
    }
}

/// The second-factor page, allowed its one script (passkeys).
fn second_factor_response(page: &SecondFactorPage<'_>, status: StatusCode) -> Response {
    let mut r = render(page, status);
    super::passkey::allow_script(&mut r);
    r
}

/// `GET /login/2fa`: the code from the app, or (first sign-in) registering the app.
pub async fn second_factor_form(
    State(s): State<WebState>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let Some((_, session, user)) = pending(&s, &headers).await? else {
        return Ok(see_other("/login?m=ended"));
    };
    let secret = (!user.has_totp && !user.has_passkey).then(Secret::generate);
    let page = second_factor_page(&s, &session.csrf, &user, secret, false, lang);
    Ok(second_factor_response(&page, StatusCode::OK))
}

#[derive(Debug, Deserialize)]
pub struct SecondFactorForm {
    #[serde(default)]
    csrf: String,
    code: String,
    #[serde(default)]
    secret: String,
}

/// `POST /login/2fa`.
pub async fn second_factor(
    State(s): State<WebState>,
    PageLang(lang): PageLang,
    ip: ClientIp,
    headers: HeaderMap,
    Form(f): Form<SecondFactorForm>,
) -> Result<Response, WebError> {
    let Some((token, session, user)) = pending(&s, &headers).await? else {
        return Ok(see_other("/login?m=ended"));
    };
    if !same_secret(&session.csrf, &f.csrf) {
        return Err(WebError::new(StatusCode::FORBIDDEN, ErrorKind::Csrf, lang));
    }
    limited(&s, &ip, &user.email, lang).await?;
    let code: String = f.code.chars().filter(|c| c.is_ascii_digit()).collect();
    let at = s.store.now().max(0) as u64;
    let who = TotpHolder::Staff(&user.email);
    let ok = if user.has_totp {
        crate::totp::verify(&s, who, &issuer(&s), &code, lang).await?
    } else if user.has_passkey {
        false
    } else {
        // Registering: the secret shown on the page comes back with a code it made.
        let secret = Secret::try_from_base32(f.secret.chars().take(64).collect::<String>())
            .map_err(|_| WebError::new(StatusCode::BAD_REQUEST, ErrorKind::BadInput, lang))?;
        let bytes = secret.as_ref().to_vec();
        match crate::totp::make_totp(bytes.clone(), &user.email, &issuer(&s))
            .and_then(|t| t.check(&code, at))
        {
            Some(step) => {
                let sealed = s
                    .master_key
                    .seal(&who.seal_context(), &bytes)
                    .map_err(|e| WebError::internal(lang, e))?;
                let stored = s
                    .store
                    .register_totp(
                        who,
                        &sealed.ciphertext,
                        &sealed.wrapped_key,
                        &sealed.key_id,
                        step as i64,
                    )
                    .await?;
                if stored {
                    s.store
                        .audit_event(staff_audit(&user.email, "staff.totp.registered", &ip, "ok"))
                        .await?;
                }
                stored
            }
            None => {
                sign_in_failed(&s, &ip, &user.email, "second factor", Some("registration")).await?;
                let page = second_factor_page(&s, &session.csrf, &user, Some(secret), true, lang);
                return Ok(second_factor_response(
                    &page,
                    StatusCode::UNPROCESSABLE_ENTITY,
                ));
            }
        }
    };
    if !ok {
        sign_in_failed(&s, &ip, &user.email, "second factor", None).await?;
        let page = second_factor_page(&s, &session.csrf, &user, None, true, lang);
        return Ok(second_factor_response(&page, StatusCode::UNAUTHORIZED));
    }
    let (cookie, home) = complete_sign_in(&s, &token, &user, &ip, "totp").await?;
    let mut r = see_other(home);
    r.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(r)
}
