//! A small ACME server (RFC 8555) for tests, since no Pebble installs here: HTTPS with a
//! certificate of its own CA, a directory, nonces (each used once), accounts by JWK
//! (ES256, every request's JWS verified, the URL and nonce checked), orders, HTTP-01
//! authorisations validated by fetching `http://NAME/.well-known/acme-challenge/TOKEN` from
//! the address the test gives for NAME, finalisation from a CSR, and the certificate chain.
//! It issues 90-day certificates from a second CA (the issuer) and counts orders.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rcgen::{CertificateSigningRequestParams, Issuer};

use crate::Ca;

struct Order {
    account: usize,
    names: Vec<String>,
    authz: Vec<usize>,
    status: &'static str,
    cert: Option<String>,
}

struct Authz {
    name: String,
    token: String,
    status: &'static str,
    order: usize,
}

#[derive(Default)]
struct Books {
    nonces: HashSet<String>,
    /// Accounts: their JWK thumbprint and public point.
    accounts: Vec<(String, Vec<u8>)>,
    orders: Vec<Order>,
    authz: Vec<Authz>,
}

struct Inner {
    base: String,
    issuer: Ca,
    books: Mutex<Books>,
    /// Where NAME's HTTP-01 challenge is fetched from.
    targets: Mutex<HashMap<String, SocketAddr>>,
    issued: Mutex<Vec<String>>,
}

/// The running server.
pub struct AcmeServer {
    /// The directory URL.
    pub directory: String,
    /// The CA of the server's own HTTPS certificate (what the client must trust).
    pub tls_ca_pem: String,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for AcmeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl AcmeServer {
    /// Start on 127.0.0.1.
    pub async fn start() -> AcmeServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let base = format!("https://127.0.0.1:{}", addr.port());
        let tls_ca = Ca::new();
        let leaf = tls_ca.leaf(&["127.0.0.1", "localhost"], false);
        let inner = Arc::new(Inner {
            base: base.clone(),
            issuer: Ca::new(),
            books: Mutex::default(),
            targets: Mutex::default(),
            issued: Mutex::default(),
        });
        let app = Router::new()
            .route("/directory", get(directory))
            .route("/new-nonce", get(new_nonce).head(new_nonce))
            .route("/new-account", post(new_account))
            .route("/new-order", post(new_order))
            .route("/order/{id}", post(order))
            .route("/authz/{id}", post(authz))
            .route("/chall/{id}", post(challenge))
            .route("/finalize/{id}", post(finalize))
            .route("/cert/{id}", post(certificate))
            .with_state(inner.clone());
        let acceptor = tokio_rustls::TlsAcceptor::from(leaf.config.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let (acceptor, app) = (acceptor.clone(), app.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = hyper_util::service::TowerToHyperService::new(app);
                    let _ = hyper_util::server::conn::auto::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
                });
            }
        });
        AcmeServer {
            directory: format!("{base}/directory"),
            tls_ca_pem: tls_ca.pem.clone(),
            inner,
            task,
        }
    }

    /// Validate `name`'s HTTP-01 challenges at `addr`.
    pub fn target(&self, name: &str, addr: SocketAddr) {
        lock(&self.inner.targets).insert(name.to_ascii_lowercase(), addr);
    }

    /// Orders made so far.
    pub fn orders(&self) -> usize {
        lock(&self.inner.books).orders.len()
    }

    /// The leaf certificates issued, PEM, oldest first.
    pub fn issued(&self) -> Vec<String> {
        lock(&self.inner.issued).clone()
    }

    /// The issuing CA's certificate, PEM.
    pub fn issuer_pem(&self) -> String {
        self.inner.issuer.pem.clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn random() -> String {
    use aws_lc_rs::rand::SecureRandom;
    let mut raw = [0u8; 16];
    let _ = aws_lc_rs::rand::SystemRandom::new().fill(&mut raw);
    b64(&raw)
}

fn nonce(inner: &Inner) -> String {
    let n = random();
    lock(&inner.books).nonces.insert(n.clone());
    n
}

fn reply(
    inner: &Inner,
    status: StatusCode,
    location: Option<String>,
    body: serde_json::Value,
) -> Response {
    let mut r = (status, axum::Json(body)).into_response();
    let h = r.headers_mut();
    h.insert("replay-nonce", nonce(inner).parse().expect("nonce header"));
    if let Some(l) = location {
        h.insert(header::LOCATION, l.parse().expect("location header"));
    }
    r
}

fn problem(inner: &Inner, status: StatusCode, kind: &str, detail: &str) -> Response {
    let mut r = (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        serde_json::json!({"type": format!("urn:ietf:params:acme:error:{kind}"), "detail": detail})
            .to_string(),
    )
        .into_response();
    r.headers_mut()
        .insert("replay-nonce", nonce(inner).parse().expect("nonce header"));
    r
}

/// A verified request: its account (none for new-account), payload and the JWK parts.
struct Signed {
    account: Option<usize>,
    payload: serde_json::Value,
    jwk: Option<(String, Vec<u8>)>,
}

fn field<'a>(v: &'a serde_json::Value, name: &str) -> Result<&'a str, String> {
    v[name].as_str().ok_or_else(|| format!("no {name}"))
}

fn decode(text: &str) -> Result<Vec<u8>, String> {
    URL_SAFE_NO_PAD.decode(text).map_err(|e| e.to_string())
}

/// Check the JWS: the signature (ES256), the nonce (issued, used once) and the URL.
fn verify(inner: &Inner, path: &str, body: &[u8]) -> Result<Signed, (String, &'static str)> {
    let bad = |e: String| (e, "malformed");
    let jws: serde_json::Value = serde_json::from_slice(body).map_err(|e| bad(e.to_string()))?;
    let protected_b64 = field(&jws, "protected").map_err(bad)?;
    let payload_b64 = field(&jws, "payload").map_err(bad)?;
    let signature = decode(field(&jws, "signature").map_err(bad)?).map_err(bad)?;
    let protected: serde_json::Value = serde_json::from_slice(&decode(protected_b64).map_err(bad)?)
        .map_err(|e| bad(e.to_string()))?;
    if protected["alg"] != "ES256" {
        return Err(("only ES256".into(), "badSignatureAlgorithm"));
    }
    let nonce = field(&protected, "nonce").map_err(bad)?;
    if !lock(&inner.books).nonces.remove(nonce) {
        return Err(("unknown or used nonce".into(), "badNonce"));
    }
    if field(&protected, "url").map_err(bad)? != format!("{}{path}", inner.base) {
        return Err(("the url does not match".into(), "unauthorized"));
    }
    let (account, jwk, point) = if let Some(jwk) = protected.get("jwk") {
        let x = decode(field(jwk, "x").map_err(bad)?).map_err(bad)?;
        let y = decode(field(jwk, "y").map_err(bad)?).map_err(bad)?;
        let mut point = vec![4u8];
        point.extend_from_slice(&x);
        point.extend_from_slice(&y);
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            field(jwk, "x").map_err(bad)?,
            field(jwk, "y").map_err(bad)?
        );
        let thumb = b64(&crate::sha256(canonical.as_bytes()));
        (None, Some((thumb, point.clone())), point)
    } else {
        let kid = field(&protected, "kid").map_err(bad)?;
        let id: usize = kid
            .rsplit('/')
            .next()
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| ("bad kid".to_string(), "accountDoesNotExist"))?;
        let point = lock(&inner.books)
            .accounts
            .get(id)
            .map(|a| a.1.clone())
            .ok_or_else(|| ("no such account".to_string(), "accountDoesNotExist"))?;
        (Some(id), None, point)
    };
    let input = format!("{protected_b64}.{payload_b64}");
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point)
        .verify(input.as_bytes(), &signature)
        .map_err(|_| ("bad signature".to_string(), "unauthorized"))?;
    let payload = if payload_b64.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&decode(payload_b64).map_err(bad)?)
            .map_err(|e| bad(e.to_string()))?
    };
    Ok(Signed {
        account,
        payload,
        jwk,
    })
}

macro_rules! signed {
    ($inner:expr, $path:expr, $body:expr) => {
        match verify(&$inner, &$path, &$body) {
            Ok(s) => s,
            Err((detail, kind)) => return problem(&$inner, StatusCode::BAD_REQUEST, kind, &detail),
        }
    };
}

async fn directory(State(inner): State<Arc<Inner>>) -> Response {
    let b = &inner.base;
    axum::Json(serde_json::json!({
        "newNonce": format!("{b}/new-nonce"),
        "newAccount": format!("{b}/new-account"),
        "newOrder": format!("{b}/new-order"),
    }))
    .into_response()
}

/// RFC 8555 §7.2: 200 to HEAD, 204 to GET.
async fn new_nonce(State(inner): State<Arc<Inner>>, method: axum::http::Method) -> Response {
    let status = if method == axum::http::Method::HEAD {
        StatusCode::OK
    } else {
        StatusCode::NO_CONTENT
    };
    let mut r = status.into_response();
    r.headers_mut()
        .insert("replay-nonce", nonce(&inner).parse().expect("nonce header"));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, "no-store".parse().expect("header"));
    r
}

async fn new_account(State(inner): State<Arc<Inner>>, body: Bytes) -> Response {
    let s = signed!(inner, "/new-account", body);
    let Some(jwk) = s.jwk else {
        return problem(
            &inner,
            StatusCode::BAD_REQUEST,
            "malformed",
            "new-account needs a jwk",
        );
    };
    let id = {
        let mut books = lock(&inner.books);
        match books.accounts.iter().position(|a| a.0 == jwk.0) {
            Some(id) => id,
            None => {
                books.accounts.push(jwk);
                books.accounts.len() - 1
            }
        }
    };
    reply(
        &inner,
        StatusCode::CREATED,
        Some(format!("{}/acct/{id}", inner.base)),
        serde_json::json!({"status": "valid"}),
    )
}

fn order_json(inner: &Inner, books: &Books, id: usize) -> serde_json::Value {
    let o = &books.orders[id];
    let mut v = serde_json::json!({
        "status": o.status,
        "identifiers": o.names.iter().map(|n| serde_json::json!({"type": "dns", "value": n})).collect::<Vec<_>>(),
        "authorizations": o.authz.iter().map(|a| format!("{}/authz/{a}", inner.base)).collect::<Vec<_>>(),
        "finalize": format!("{}/finalize/{id}", inner.base),
    });
    if o.cert.is_some() {
        v["certificate"] = format!("{}/cert/{id}", inner.base).into();
    }
    v
}

async fn new_order(State(inner): State<Arc<Inner>>, body: Bytes) -> Response {
    let s = signed!(inner, "/new-order", body);
    let Some(account) = s.account else {
        return problem(
            &inner,
            StatusCode::BAD_REQUEST,
            "malformed",
            "orders need a kid",
        );
    };
    let names: Vec<String> = s.payload["identifiers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["value"].as_str().map(str::to_ascii_lowercase))
        .collect();
    if names.is_empty() {
        return problem(
            &inner,
            StatusCode::BAD_REQUEST,
            "malformed",
            "no identifiers",
        );
    }
    let (id, json) = {
        let mut books = lock(&inner.books);
        let id = books.orders.len();
        let mut authz = Vec::new();
        for name in &names {
            let token = random();
            books.authz.push(Authz {
                name: name.clone(),
                token,
                status: "pending",
                order: id,
            });
            authz.push(books.authz.len() - 1);
        }
        books.orders.push(Order {
            account,
            names,
            authz,
            status: "pending",
            cert: None,
        });
        (id, order_json(&inner, &books, id))
    };
    reply(
        &inner,
        StatusCode::CREATED,
        Some(format!("{}/order/{id}", inner.base)),
        json,
    )
}

async fn order(State(inner): State<Arc<Inner>>, Path(id): Path<usize>, body: Bytes) -> Response {
    let _ = signed!(inner, format!("/order/{id}"), body);
    let json = {
        let books = lock(&inner.books);
        if id >= books.orders.len() {
            drop(books);
            return problem(&inner, StatusCode::NOT_FOUND, "malformed", "no such order");
        }
        order_json(&inner, &books, id)
    };
    reply(&inner, StatusCode::OK, None, json)
}

fn authz_json(inner: &Inner, a: &Authz, id: usize) -> serde_json::Value {
    serde_json::json!({
        "status": a.status,
        "identifier": {"type": "dns", "value": a.name},
        "challenges": [{
            "type": "http-01",
            "url": format!("{}/chall/{id}", inner.base),
            "token": a.token,
            "status": if a.status == "valid" { "valid" } else { "pending" },
        }],
    })
}

async fn authz(State(inner): State<Arc<Inner>>, Path(id): Path<usize>, body: Bytes) -> Response {
    let _ = signed!(inner, format!("/authz/{id}"), body);
    let json = match lock(&inner.books).authz.get(id) {
        Some(a) => authz_json(&inner, a, id),
        None => serde_json::Value::Null,
    };
    reply(&inner, StatusCode::OK, None, json)
}

/// GET the challenge file over plain HTTP, as a validation server does.
async fn fetch(addr: SocketAddr, host: &str, token: &str) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
    s.write_all(
        format!("GET /.well-known/acme-challenge/{token} HTTP/1.0\r\nHost: {host}\r\n\r\n")
            .as_bytes(),
    )
    .await
    .ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.ok()?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    if !text.starts_with("HTTP/1.1 200") && !text.starts_with("HTTP/1.0 200") {
        return None;
    }
    text.split_once("\r\n\r\n").map(|x| x.1.trim().to_string())
}

async fn challenge(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<usize>,
    body: Bytes,
) -> Response {
    let s = signed!(inner, format!("/chall/{id}"), body);
    let (name, token, thumb) = {
        let books = lock(&inner.books);
        let Some(a) = books.authz.get(id) else {
            drop(books);
            return problem(
                &inner,
                StatusCode::NOT_FOUND,
                "malformed",
                "no such challenge",
            );
        };
        let thumb = s
            .account
            .and_then(|acc| books.accounts.get(acc).map(|x| x.0.clone()))
            .unwrap_or_default();
        (a.name.clone(), a.token.clone(), thumb)
    };
    let target = lock(&inner.targets).get(&name).copied();
    let answer = match target {
        Some(addr) => fetch(addr, &name, &token).await,
        None => None,
    };
    let ok = answer.as_deref() == Some(format!("{token}.{thumb}").as_str());
    let json = {
        let mut books = lock(&inner.books);
        let order = books.authz[id].order;
        books.authz[id].status = if ok { "valid" } else { "invalid" };
        let statuses: Vec<&str> = books.orders[order]
            .authz
            .iter()
            .map(|a| books.authz[*a].status)
            .collect();
        books.orders[order].status = if statuses.contains(&"invalid") {
            "invalid"
        } else if statuses.iter().all(|s| *s == "valid") {
            "ready"
        } else {
            "pending"
        };
        let mut c = authz_json(&inner, &books.authz[id], id)["challenges"][0].clone();
        c["status"] = (if ok { "valid" } else { "invalid" }).into();
        c
    };
    reply(&inner, StatusCode::OK, None, json)
}

async fn finalize(State(inner): State<Arc<Inner>>, Path(id): Path<usize>, body: Bytes) -> Response {
    let s = signed!(inner, format!("/finalize/{id}"), body);
    let Some(csr) = s.payload["csr"].as_str().and_then(|c| decode(c).ok()) else {
        return problem(&inner, StatusCode::BAD_REQUEST, "badCSR", "no csr");
    };
    let Ok(mut params) = CertificateSigningRequestParams::from_der(&csr.into()) else {
        return problem(&inner, StatusCode::BAD_REQUEST, "badCSR", "unreadable csr");
    };
    let names: Vec<String> = params
        .params
        .subject_alt_names
        .iter()
        .filter_map(|s| match s {
            rcgen::SanType::DnsName(n) => Some(n.to_string().to_ascii_lowercase()),
            _ => None,
        })
        .collect();
    {
        let books = lock(&inner.books);
        let Some(o) = books.orders.get(id) else {
            drop(books);
            return problem(&inner, StatusCode::NOT_FOUND, "malformed", "no such order");
        };
        let mut want = o.names.clone();
        let mut got = names.clone();
        want.sort();
        got.sort();
        if o.status != "ready" || want != got || s.account != Some(o.account) {
            drop(books);
            return problem(
                &inner,
                StatusCode::FORBIDDEN,
                "orderNotReady",
                "not ready, or other names",
            );
        }
    }
    // Ninety days from now, as Let's Encrypt issues.
    let now = time::OffsetDateTime::now_utc();
    params.params.not_before = now - time::Duration::hours(1);
    params.params.not_after = now + time::Duration::days(90);
    let issuer = Issuer::from_params(&inner.issuer.params, &inner.issuer.key);
    let Ok(cert) = params.signed_by(&issuer) else {
        return problem(&inner, StatusCode::BAD_REQUEST, "badCSR", "cannot sign");
    };
    let chain = format!("{}{}", cert.pem(), inner.issuer.pem);
    lock(&inner.issued).push(cert.pem());
    let json = {
        let mut books = lock(&inner.books);
        books.orders[id].status = "valid";
        books.orders[id].cert = Some(chain);
        order_json(&inner, &books, id)
    };
    reply(
        &inner,
        StatusCode::OK,
        Some(format!("{}/order/{id}", inner.base)),
        json,
    )
}

async fn certificate(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<usize>,
    body: Bytes,
) -> Response {
    let _ = signed!(inner, format!("/cert/{id}"), body);
    let chain = lock(&inner.books)
        .orders
        .get(id)
        .and_then(|o| o.cert.clone());
    match chain {
        Some(pem) => {
            let mut r = (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/pem-certificate-chain")],
                pem,
            )
                .into_response();
            r.headers_mut()
                .insert("replay-nonce", nonce(&inner).parse().expect("nonce header"));
            r
        }
        None => problem(&inner, StatusCode::NOT_FOUND, "malformed", "no certificate"),
    }
}
