//! Passkeys (WebAuthn, webauthn-rs) as the staff's second factor beside TOTP: registered
//! at the first sign-in when the account has no factor yet, then used instead of a code.
//! The ceremony's state stays with the half-way session in the database, and each
//! challenge is answered once. Needs a public URL with a domain name (browsers refuse an
//! IP address as relying party); on such a set-up the page offers only TOTP.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{
    Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder,
};

use super::{complete_sign_in, limited, pending, sign_in_failed, staff_audit};
use crate::{ClientIp, ErrorKind, Lang, PageLang, WebError, WebState, same_secret};

/// The relying party for `s`'s public URL (cached), or None when passkeys cannot work.
pub fn webauthn(s: &WebState) -> Option<Arc<Webauthn>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Option<Arc<Webauthn>>>>> = OnceLock::new();
    let url = s.settings.public_url.clone();
    let mut cache = CACHE.get_or_init(Default::default).lock().ok()?;
    cache
        .entry(url.clone())
        .or_insert_with(|| {
            let origin = Url::parse(&url).ok()?;
            let host = origin.domain()?.to_string();
            let wa = WebauthnBuilder::new(&host, &origin)
                .ok()?
                .rp_name("Veilpost")
                .build()
                .ok()?;
            Some(Arc::new(wa))
        })
        .clone()
}

/// The second-factor page runs `/static/passkey.js` (and nothing inline).
pub fn allow_script(r: &mut Response) {
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
}

/// `GET /static/passkey.js`.
pub async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        include_str!("../../static/passkey.js"),
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
pub struct Begin {
    mode: String,
}

#[derive(Serialize, Deserialize)]
enum Ceremony {
    Register(PasskeyRegistration),
    SignIn(PasskeyAuthentication),
}

fn json_error(status: StatusCode, lang: Lang) -> WebError {
    let kind = match status {
        StatusCode::FORBIDDEN => ErrorKind::Csrf,
        StatusCode::NOT_FOUND => ErrorKind::NotFound,
        StatusCode::UNAUTHORIZED => ErrorKind::SessionEnded,
        _ => ErrorKind::BadInput,
    };
    WebError::new(status, kind, lang)
}

/// The half-way session, its token checked against the `x-csrf-token` header.
async fn ceremony_session(
    s: &WebState,
    headers: &HeaderMap,
    lang: Lang,
) -> Result<(String, veilpost_store::User), WebError> {
    let Some((token, session, user)) = pending(s, headers).await? else {
        return Err(json_error(StatusCode::UNAUTHORIZED, lang));
    };
    let sent = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !same_secret(&session.csrf, sent) {
        return Err(json_error(StatusCode::FORBIDDEN, lang));
    }
    Ok((token, user))
}

/// A stable WebAuthn user handle for an account (not the address itself).
fn user_handle(email: &str) -> Uuid {
    let digest = veilpost_store::sha256_hex(email.to_lowercase().as_bytes());
    let mut raw = [0u8; 16];
    for (i, b) in raw.iter_mut().enumerate() {
        *b = u8::from_str_radix(&digest[2 * i..2 * i + 2], 16).unwrap_or(0);
    }
    Uuid::from_bytes(raw)
}

fn stored_passkeys(rows: &[(i64, String)]) -> Vec<(i64, Passkey)> {
    rows.iter()
        .filter_map(|(id, json)| serde_json::from_str(json).ok().map(|p| (*id, p)))
        .collect()
}

/// `POST /login/passkey/begin`: the options for `navigator.credentials`.
pub async fn begin(
    State(s): State<WebState>,
    PageLang(lang): PageLang,
    ip: ClientIp,
    headers: HeaderMap,
    Json(b): Json<Begin>,
) -> Result<Response, WebError> {
    let (token, user) = ceremony_session(&s, &headers, lang).await?;
    limited(&s, &ip, &user.email, lang).await?;
    let wa = webauthn(&s).ok_or_else(|| json_error(StatusCode::NOT_FOUND, lang))?;
    let internal = |e: webauthn_rs::prelude::WebauthnError| WebError::internal(lang, e);
    let (options, ceremony) = match b.mode.as_str() {
        "register" if !user.has_totp && !user.has_passkey => {
            let name = user.name.clone().unwrap_or_else(|| user.email.clone());
            let (ccr, state) = wa
                .start_passkey_registration(user_handle(&user.email), &user.email, &name, None)
                .map_err(internal)?;
            (serde_json::to_value(ccr), Ceremony::Register(state))
        }
        "signin" if user.has_passkey => {
            let keys: Vec<Passkey> = stored_passkeys(&s.store.passkeys(&user.email).await?)
                .into_iter()
                .map(|(_, p)| p)
                .collect();
            let (rcr, state) = wa.start_passkey_authentication(&keys).map_err(internal)?;
            (serde_json::to_value(rcr), Ceremony::SignIn(state))
        }
        _ => return Err(json_error(StatusCode::CONFLICT, lang)),
    };
    let state = serde_json::to_string(&ceremony).map_err(|e| WebError::internal(lang, e))?;
    s.store.set_ceremony(&token, &state).await?;
    Ok(Json(options.map_err(|e| WebError::internal(lang, e))?).into_response())
}

#[derive(Debug, Deserialize)]
pub struct Finish {
    credential: serde_json::Value,
}

/// `POST /login/passkey/finish`: the browser's answer; signed in on success.
pub async fn finish(
    State(s): State<WebState>,
    PageLang(lang): PageLang,
    ip: ClientIp,
    headers: HeaderMap,
    Json(f): Json<Finish>,
) -> Result<Response, WebError> {
    let (token, user) = ceremony_session(&s, &headers, lang).await?;
    limited(&s, &ip, &user.email, lang).await?;
    let wa = webauthn(&s).ok_or_else(|| json_error(StatusCode::NOT_FOUND, lang))?;
    let ceremony: Option<Ceremony> = s
        .store
        .take_ceremony(&token)
        .await?
        .and_then(|c| serde_json::from_str(&c).ok());
    let refused = || async {
        if let Err(e) = sign_in_failed(&s, &ip, &user.email, "passkey", None).await {
            return e;
        }
        json_error(StatusCode::UNAUTHORIZED, lang)
    };
    match ceremony {
        Some(Ceremony::Register(state)) => {
            let Ok(reg) = serde_json::from_value::<RegisterPublicKeyCredential>(f.credential)
            else {
                return Err(refused().await);
            };
            let Ok(key) = wa.finish_passkey_registration(&reg, &state) else {
                return Err(refused().await);
            };
            let cred_id =
                serde_json::to_string(key.cred_id()).map_err(|e| WebError::internal(lang, e))?;
            let json = serde_json::to_string(&key).map_err(|e| WebError::internal(lang, e))?;
            if !s
                .store
                .add_first_passkey(&user.email, &cred_id, &json)
                .await?
            {
                return Err(json_error(StatusCode::CONFLICT, lang));
            }
            s.store
                .audit_event(staff_audit(
                    &user.email,
                    "staff.passkey.registered",
                    &ip,
                    "ok",
                ))
                .await?;
        }
        Some(Ceremony::SignIn(state)) => {
            let Ok(answer) = serde_json::from_value::<PublicKeyCredential>(f.credential) else {
                return Err(refused().await);
            };
            let Ok(result) = wa.finish_passkey_authentication(&answer, &state) else {
                return Err(refused().await);
            };
            for (id, mut key) in stored_passkeys(&s.store.passkeys(&user.email).await?) {
                if key.update_credential(&result).is_some() {
                    let json =
                        serde_json::to_string(&key).map_err(|e| WebError::internal(lang, e))?;
                    s.store.passkey_used(id, &json).await?;
                }
            }
        }
        None => return Err(refused().await),
    }
    let (cookie, home) = complete_sign_in(&s, &token, &user, &ip, "passkey").await?;
    let mut r = Json(serde_json::json!({ "next": home })).into_response();
    r.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_handles_are_stable_and_distinct() {
        assert_eq!(
            user_handle("Ann@praktijk.test"),
            user_handle("ann@praktijk.test")
        );
        assert_ne!(
            user_handle("ann@praktijk.test"),
            user_handle("bob@praktijk.test")
        );
    }
}
