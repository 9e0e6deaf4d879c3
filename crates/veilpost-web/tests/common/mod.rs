//! What the web tests share: a mailer that records and spools, a browser that keeps
//! cookies and drives `app()` in-process, and the structural accessibility check.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Mutex;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt;
use veilpost_store::{Envelope, Store};
use veilpost_web::{BoxError, BoxFuture, Mailer};

/// Queues what the portal sends; replies go into the real spool.
#[derive(Debug, Default)]
pub struct Recorder {
    pub store: Mutex<Option<Store>>,
    pub sent: Mutex<Vec<(String, String)>>,
}

impl Mailer for Recorder {
    fn send(&self, to: String, raw: Vec<u8>) -> BoxFuture<'_, Result<(), BoxError>> {
        Box::pin(async move {
            self.sent
                .lock()
                .expect("lock")
                .push((to, String::from_utf8_lossy(&raw).into_owned()));
            Ok(())
        })
    }

    fn submit(&self, envelope: Envelope, raw: Vec<u8>) -> BoxFuture<'_, Result<String, BoxError>> {
        Box::pin(async move {
            let store = self.store.lock().expect("lock").clone().expect("store");
            Ok(store.spool(envelope, raw).await?)
        })
    }
}

/// A browser: keeps cookies, follows nothing by itself.
#[derive(Clone)]
pub struct Browser {
    pub app: Router,
    pub cookies: HashMap<String, String>,
    /// The client's address, as the server's listener would report it.
    pub from: std::net::SocketAddr,
}

pub struct Page {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Page {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn location(&self) -> String {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    }

    /// The value of the first hidden `csrf` field.
    pub fn csrf(&self) -> String {
        let t = self.text();
        let at = t.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
        t[at..at + 64].to_string()
    }
}

impl Browser {
    pub async fn send(&mut self, req: Request<Body>) -> Page {
        let mut req = req;
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(self.from));
        if !self.cookies.is_empty() {
            let c = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            req.headers_mut()
                .insert(header::COOKIE, c.parse().expect("cookie header"));
        }
        let resp = self.app.clone().oneshot(req).await.expect("response");
        for c in resp.headers().get_all(header::SET_COOKIE) {
            let c = c.to_str().expect("ascii");
            let (kv, _) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = kv.split_once('=').expect("name=value");
            if c.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), v.to_string());
            }
        }
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("body")
            .to_vec();
        Page {
            status,
            headers,
            body,
        }
    }

    /// POST a multipart body made by [`multipart`].
    pub async fn post_multipart(&mut self, path: &str, (ct, body): (String, Vec<u8>)) -> Page {
        self.send(
            Request::post(path)
                .header(header::CONTENT_TYPE, ct)
                .body(Body::from(body))
                .expect("request"),
        )
        .await
    }

    pub async fn get(&mut self, path: &str) -> Page {
        self.send(Request::get(path).body(Body::empty()).expect("request"))
            .await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let body = form
            .iter()
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.send(
            Request::post(path)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .expect("request"),
        )
        .await
    }
}

/// The structural part of WCAG 2.1 AA a test can check: a page language, one heading to
/// start from, and a label for every visible form field (by `for` = the field's `id`, or
/// the field inside its label).
pub fn accessible(html: &str) {
    assert!(html.contains("<html lang=\"nl\">") || html.contains("<html lang=\"en\">"));
    assert!(html.contains("<h1>"), "a heading");
    assert!(html.contains("name=\"viewport\""), "works on a phone");
    for (at, _) in html
        .match_indices("<input")
        .chain(html.match_indices("<textarea"))
    {
        let tag = &html[at..at + html[at..].find('>').expect("tag end")];
        if tag.contains("type=\"hidden\"") {
            continue;
        }
        let id_at = tag
            .find(" id=\"")
            .unwrap_or_else(|| panic!("a field without id: {tag}"))
            + 5;
        let id = &tag[id_at..id_at + tag[id_at..].find('"').expect("quote")];
        assert!(
            html.contains(&format!("<label for=\"{id}\""))
                || html.contains(&format!("for=\"{id}\">")),
            "no label for {id}"
        );
    }
}

pub fn urlencode(s: &str) -> String {
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
