//! Staff sign-in with the organisation's identity provider (OpenID Connect: Entra ID,
//! Keycloak): the authorization code flow with PKCE, state and nonce, through the
//! `openidconnect` crate. The provider proves the password and the second factor (its
//! `amr` claim must name one unless `require_mfa` is off); Veilpost still decides who may
//! do what: the address must belong to an active Veilpost account, whose role, scopes and
//! end date apply as with a password sign-in.
//!
//! The provider sends the browser back cross-site, so the SameSite=Strict cookies are not
//! there: the flow's state is kept in the database under the `state` value, and a
//! SameSite=Lax cookie with the same value ties the answer to the browser that started.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    TokenResponse,
};
use serde::{Deserialize, Serialize};

use super::complete_sign_in;
use crate::{
    ClientIp, ErrorKind, Lang, PageLang, WebError, WebState, cookie, cookie_name, see_other,
};

/// The identity provider (`[oidc]`).
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// The issuer URL (`https://login.microsoftonline.com/<tenant>/v2.0`, a Keycloak realm).
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// What the sign-in button says ("Entra ID").
    pub name: String,
    /// Scopes besides `openid`.
    pub scopes: Vec<String>,
    /// The claim holding the account's address: `email` or `preferred_username` (Entra).
    pub email_claim: String,
    /// Refuse sign-ins whose `amr` claim names no second factor.
    pub require_mfa: bool,
}

const OIDC_COOKIE: &str = "vp_oidc";
/// Seconds the provider may take.
const FLOW_WINDOW: i64 = 600;
/// `amr` values (RFC 8176) that mean more than a password.
const MFA: [&str; 9] = [
    "mfa", "otp", "hwk", "swk", "fido", "sms", "face", "fpt", "sc",
];

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error(transparent)]
    Reqwest(#[from] reqwest::Error),
    #[error(transparent)]
    Http(#[from] axum::http::Error),
}

/// The HTTP client for the provider: no redirects (SSRF), short timeouts.
async fn send(req: openidconnect::HttpRequest) -> Result<openidconnect::HttpResponse, HttpError> {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    let client = CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default()
    });
    let (parts, body) = req.into_parts();
    let resp = client
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await?;
    let mut out = axum::http::Response::builder().status(resp.status());
    for (k, v) in resp.headers() {
        out = out.header(k, v);
    }
    let body = resp.bytes().await?;
    if body.len() > 1024 * 1024 {
        return Ok(axum::http::Response::builder()
            .status(StatusCode::BAD_GATEWAY)
            .body(Vec::new())?);
    }
    Ok(out.body(body.to_vec())?)
}

/// The provider's metadata and keys, fetched at most every ten minutes.
async fn metadata(issuer: &str) -> Result<CoreProviderMetadata, crate::BoxError> {
    static CACHE: OnceLock<Mutex<HashMap<String, (Instant, CoreProviderMetadata)>>> =
        OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Ok(c) = cache.lock()
        && let Some((at, m)) = c.get(issuer)
        && at.elapsed() < Duration::from_secs(600)
    {
        return Ok(m.clone());
    }
    let m =
        CoreProviderMetadata::discover_async(IssuerUrl::new(issuer.to_string())?, &send).await?;
    if let Ok(mut c) = cache.lock() {
        c.insert(issuer.to_string(), (Instant::now(), m.clone()));
    }
    Ok(m)
}

async fn client(o: &OidcSettings, public_url: &str) -> Result<Client, crate::BoxError> {
    let m = metadata(&o.issuer).await?;
    Ok(CoreClient::from_provider_metadata(
        m,
        ClientId::new(o.client_id.clone()),
        Some(ClientSecret::new(o.client_secret.clone())),
    )
    .set_redirect_uri(RedirectUrl::new(format!(
        "{}/login/oidc/callback",
        public_url.trim_end_matches('/')
    ))?))
}

#[derive(Serialize, Deserialize)]
struct Flow {
    nonce: String,
    verifier: String,
}

fn unavailable(lang: Lang, e: impl std::fmt::Display) -> WebError {
    tracing::warn!("oidc: {e}");
    WebError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Unavailable,
        lang,
    )
}

/// `GET /login/oidc`: off to the identity provider.
pub async fn start(
    State(s): State<WebState>,
    PageLang(lang): PageLang,
) -> Result<Response, WebError> {
    let Some(o) = s.settings.oidc.as_ref() else {
        return Err(WebError::new(
            StatusCode::NOT_FOUND,
            ErrorKind::NotFound,
            lang,
        ));
    };
    let client = client(o, &s.settings.public_url)
        .await
        .map_err(|e| unavailable(lang, e))?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .set_pkce_challenge(challenge);
    for scope in &o.scopes {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    let (url, state, nonce) = request.url();
    let flow = serde_json::to_string(&Flow {
        nonce: nonce.secret().clone(),
        verifier: verifier.secret().clone(),
    })
    .map_err(|e| WebError::internal(lang, e))?;
    s.store.start_oidc_flow(state.secret(), &flow).await?;
    let mut r = see_other(url.as_str());
    r.headers_mut().append(
        header::SET_COOKIE,
        crate::set_cookie_same_site(
            &s.settings,
            OIDC_COOKIE,
            state.secret(),
            Some(FLOW_WINDOW),
            "Lax",
        ),
    );
    Ok(r)
}

#[derive(Debug, Deserialize)]
pub struct Callback {
    #[serde(default)]
    code: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    error: String,
}

/// `GET /login/oidc/callback`: the provider's answer.
pub async fn callback(
    State(s): State<WebState>,
    PageLang(lang): PageLang,
    ip: ClientIp,
    headers: HeaderMap,
    Query(q): Query<Callback>,
) -> Result<Response, WebError> {
    let Some(o) = s.settings.oidc.as_ref() else {
        return Err(WebError::new(
            StatusCode::NOT_FOUND,
            ErrorKind::NotFound,
            lang,
        ));
    };
    // The browser that started the flow, and a flow that is still open.
    let started = cookie(&headers, &cookie_name(&s.settings, OIDC_COOKIE)).unwrap_or("");
    if q.state.len() > 200 || !crate::same_secret(started, &q.state) {
        return Err(WebError::new(StatusCode::FORBIDDEN, ErrorKind::Csrf, lang));
    }
    let flow = s.store.take_oidc_flow(&q.state, FLOW_WINDOW).await?;
    let refuse = |who: String, why: &'static str| {
        let s = s.clone();
        let ip = ip.clone();
        async move {
            super::sign_in_failed(&s, &ip, &who, "oidc", Some(why)).await?;
            Ok::<Response, WebError>(super::login_error(
                &s,
                lang,
                lang.t(
                    "Aanmelden via de identiteitsprovider is niet gelukt. Gebruik uw Veilpost-wachtwoord of vraag de beheerder om hulp.",
                    "Signing in through the identity provider did not work. Use your Veilpost password or ask the administrator for help.",
                ),
            ))
        }
    };
    let Some(flow) = flow.and_then(|f| serde_json::from_str::<Flow>(&f).ok()) else {
        return refuse("-".into(), "no open sign-in for this state").await;
    };
    if !q.error.is_empty() || q.code.is_empty() || q.code.len() > 4096 {
        return refuse("-".into(), "the provider refused").await;
    }
    let client = client(o, &s.settings.public_url)
        .await
        .map_err(|e| unavailable(lang, e))?;
    let exchange = match client
        .exchange_code(AuthorizationCode::new(q.code.clone()))
        .map_err(|e| unavailable(lang, e))?
        .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier))
        .request_async(&send)
        .await
    {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!("oidc: code exchange: {e}");
            return refuse("-".into(), "code exchange failed").await;
        }
    };
    let Some(id_token) = exchange.id_token() else {
        return refuse("-".into(), "no ID token").await;
    };
    let verifier = client.id_token_verifier().set_allowed_algs([
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        CoreJwsSigningAlgorithm::RsaSsaPssSha256,
        CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    ]);
    let claims = match id_token.claims(&verifier, &Nonce::new(flow.nonce)) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("oidc: ID token refused: {e}");
            return refuse("-".into(), "ID token not valid").await;
        }
    };
    let email = match o.email_claim.as_str() {
        "preferred_username" => claims.preferred_username().map(|u| u.as_str().to_string()),
        _ => claims.email().map(|e| e.as_str().to_string()),
    };
    let Some(email) = email.filter(|e| veilpost_store::valid_email(e)) else {
        return refuse("-".into(), "no address in the ID token").await;
    };
    // A provider that says the address is not verified has not shown that this person
    // owns it: the Veilpost account with that address is not theirs.
    if o.email_claim != "preferred_username" && claims.email_verified() == Some(false) {
        return refuse(email, "address not verified at the provider").await;
    }
    if o.require_mfa {
        let strong = claims.auth_method_refs().is_some_and(|amr| {
            amr.iter()
                .any(|m| MFA.contains(&m.as_str().to_ascii_lowercase().as_str()))
        });
        if !strong {
            return refuse(email, "no second factor at the provider (amr)").await;
        }
    }
    let today = time::OffsetDateTime::now_utc().date();
    let user = s
        .store
        .user(&email)
        .await?
        .filter(|u| u.active_on(today) && u.offboarded_at.is_none());
    let Some(user) = user else {
        return refuse(email, "no active Veilpost account").await;
    };
    let (cookie, home) = complete_sign_in(&s, &q.state, &user, &ip, "oidc").await?;
    let mut r = see_other(home);
    r.headers_mut().append(header::SET_COOKIE, cookie);
    r.headers_mut().append(
        header::SET_COOKIE,
        crate::set_cookie(&s.settings, OIDC_COOKIE, "", Some(0)),
    );
    Ok(r.into_response())
}
