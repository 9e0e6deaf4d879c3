//! A small OpenID Connect provider on loopback, for sign-in tests: discovery, a JWKS with
//! one P-256 key, an authorization page where the tester picks an account (a real form a
//! browser submits), and a token endpoint that checks the client secret, the redirect URI
//! and PKCE (S256) before it issues an ES256-signed ID token with the nonce and the
//! account's `amr`. Codes are used once. Not a product component.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use aws_lc_rs::digest;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

/// One account the provider knows: its address, the `amr` it reports, and the
/// `email_verified` it reports (`None`: the claim is left out).
#[derive(Debug, Clone, Default)]
pub struct OidcUser {
    pub email: String,
    pub amr: Vec<String>,
    pub email_verified: Option<bool>,
}

struct Pending {
    client_id: String,
    redirect_uri: String,
    nonce: String,
    challenge: String,
    user: OidcUser,
}

struct Inner {
    issuer: String,
    client_id: String,
    client_secret: String,
    users: Vec<OidcUser>,
    key: EcdsaKeyPair,
    codes: Mutex<HashMap<String, Pending>>,
}

/// A running provider.
pub struct OidcProvider {
    pub issuer: String,
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn random_text() -> String {
    let mut raw = [0u8; 24];
    let _ = SystemRandom::new().fill(&mut raw);
    b64(&raw)
}

impl OidcProvider {
    /// Start on 127.0.0.1 with one registered client.
    pub async fn start(client_id: &str, client_secret: &str, users: Vec<OidcUser>) -> OidcProvider {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let issuer = format!("http://127.0.0.1:{}", addr.port());
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .expect("key");
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
            .expect("key");
        let inner = Arc::new(Inner {
            issuer: issuer.clone(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            users,
            key,
            codes: Mutex::new(HashMap::new()),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize_page).post(authorize))
            .route("/token", post(token))
            .with_state(inner);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        OidcProvider { issuer, addr, task }
    }
}

async fn discovery(State(p): State<Arc<Inner>>) -> Response {
    axum::Json(serde_json::json!({
        "issuer": p.issuer,
        "authorization_endpoint": format!("{}/authorize", p.issuer),
        "token_endpoint": format!("{}/token", p.issuer),
        "jwks_uri": format!("{}/jwks", p.issuer),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "scopes_supported": ["openid", "email", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["sub", "email", "amr", "nonce"],
    }))
    .into_response()
}

async fn jwks(State(p): State<Arc<Inner>>) -> Response {
    // An uncompressed point: 0x04, then x and y.
    let public = p.key.public_key().as_ref().to_vec();
    axum::Json(serde_json::json!({
        "keys": [{
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": "k1",
            "x": b64(&public[1..33]), "y": b64(&public[33..65]),
        }]
    }))
    .into_response()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The sign-in page: pick an account.
async fn authorize_page(
    State(p): State<Arc<Inner>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let field = |k: &str| escape(q.get(k).map(String::as_str).unwrap_or(""));
    if q.get("client_id").map(String::as_str) != Some(p.client_id.as_str())
        || q.get("response_type").map(String::as_str) != Some("code")
        || q.get("code_challenge_method").map(String::as_str) != Some("S256")
    {
        return (StatusCode::BAD_REQUEST, "bad authorization request").into_response();
    }
    let options: String = p
        .users
        .iter()
        .map(|u| format!("<option value=\"{0}\">{0}</option>", escape(&u.email)))
        .collect();
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><title>Test identity provider</title></head><body><main>\
         <h1>Test identity provider</h1><form method=\"post\" action=\"/authorize\">\
         <input type=\"hidden\" name=\"client_id\" value=\"{}\">\
         <input type=\"hidden\" name=\"redirect_uri\" value=\"{}\">\
         <input type=\"hidden\" name=\"state\" value=\"{}\">\
         <input type=\"hidden\" name=\"nonce\" value=\"{}\">\
         <input type=\"hidden\" name=\"code_challenge\" value=\"{}\">\
         <label for=\"user\">Account</label><select id=\"user\" name=\"user\">{options}</select>\
         <button type=\"submit\" id=\"approve\">Sign in</button></form></main></body></html>",
        field("client_id"),
        field("redirect_uri"),
        field("state"),
        field("nonce"),
        field("code_challenge"),
    ))
    .into_response()
}

async fn authorize(
    State(p): State<Arc<Inner>>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let Some(user) = p.users.iter().find(|u| u.email == get("user")).cloned() else {
        return (StatusCode::BAD_REQUEST, "unknown account").into_response();
    };
    let code = random_text();
    p.codes.lock().expect("lock").insert(
        code.clone(),
        Pending {
            client_id: get("client_id"),
            redirect_uri: get("redirect_uri"),
            nonce: get("nonce"),
            challenge: get("code_challenge"),
            user,
        },
    );
    let state: String = url_encode(&get("state"));
    let sep = if get("redirect_uri").contains('?') {
        '&'
    } else {
        '?'
    };
    Redirect::to(&format!(
        "{}{sep}code={code}&state={state}",
        get("redirect_uri")
    ))
    .into_response()
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn token_error(what: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(serde_json::json!({"error": "invalid_grant", "error_description": what})),
    )
        .into_response()
}

async fn token(
    State(p): State<Arc<Inner>>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    // Client authentication: HTTP Basic or the form.
    let (id, secret) = match headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|v| STANDARD.decode(v).ok())
        .and_then(|v| String::from_utf8(v).ok())
    {
        Some(pair) => {
            let (i, s) = pair.split_once(':').unwrap_or((&pair, ""));
            (percent_decode(i), percent_decode(s))
        }
        None => (get("client_id"), get("client_secret")),
    };
    if id != p.client_id || secret != p.client_secret {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(serde_json::json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    if get("grant_type") != "authorization_code" {
        return token_error("grant_type");
    }
    let Some(pending) = p.codes.lock().expect("lock").remove(&get("code")) else {
        return token_error("unknown or used code");
    };
    if pending.client_id != id || pending.redirect_uri != get("redirect_uri") {
        return token_error("redirect_uri");
    }
    let verifier = get("code_verifier");
    if b64(digest::digest(&digest::SHA256, verifier.as_bytes()).as_ref()) != pending.challenge {
        return token_error("PKCE");
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let header = b64(br#"{"alg":"ES256","typ":"JWT","kid":"k1"}"#);
    let mut claims = serde_json::json!({
        "iss": p.issuer,
        "sub": format!("sub-{}", pending.user.email),
        "aud": p.client_id,
        "iat": now,
        "exp": now + 300,
        "nonce": pending.nonce,
        "email": pending.user.email,
        "amr": pending.user.amr,
    });
    if let Some(verified) = pending.user.email_verified {
        claims["email_verified"] = verified.into();
    }
    let claims = b64(claims.to_string().as_bytes());
    let input = format!("{header}.{claims}");
    let sig = p
        .key
        .sign(&SystemRandom::new(), input.as_bytes())
        .expect("sign");
    axum::Json(serde_json::json!({
        "access_token": random_text(),
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": format!("{input}.{}", b64(sig.as_ref())),
    }))
    .into_response()
}

/// `application/x-www-form-urlencoded` decoding of a Basic credential part (RFC 6749 §2.3.1).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
