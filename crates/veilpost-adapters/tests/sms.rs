//! SMS providers against a real HTTP server on loopback: the webhook's and CM.com's request
//! bodies, retries on 5xx, no retry on 4xx, and errors that never carry the text.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use veilpost_adapters::sms::SmsError;
use veilpost_adapters::{SmsProvider, SmsSender};

type Seen = Arc<Mutex<Vec<(HeaderMap, serde_json::Value)>>>;

/// A server that answers each request with the next status from `answers` (then 200).
async fn server(answers: Vec<u16>) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let answers = Arc::new(Mutex::new(answers));
    let s = seen.clone();
    let app = Router::new().route(
        "/send",
        post(move |headers: HeaderMap, body: String| {
            let s = s.clone();
            let answers = answers.clone();
            async move {
                s.lock().expect("lock").push((
                    headers,
                    serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
                ));
                let mut a = answers.lock().expect("lock");
                let code = if a.is_empty() { 200 } else { a.remove(0) };
                StatusCode::from_u16(code).expect("status")
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/send"), seen)
}

#[tokio::test]
async fn webhook_sends_json_with_a_bearer_token_and_retries_5xx() {
    let (url, seen) = server(vec![503, 500]).await;
    let sms = SmsSender::new(
        SmsProvider::Webhook {
            url,
            token: Some("geheim".into()),
        },
        Duration::from_secs(2),
        3,
    );
    sms.send("06-12345678", "123456 is uw code", "ref-1")
        .await
        .expect("sent on the third try");
    let seen = seen.lock().expect("lock");
    assert_eq!(seen.len(), 3);
    let (headers, body) = &seen[2];
    assert_eq!(headers["authorization"], "Bearer geheim");
    assert_eq!(body["to"], "+31612345678");
    assert_eq!(body["text"], "123456 is uw code");
    assert_eq!(body["reference"], "ref-1");
}

#[tokio::test]
async fn cm_gets_its_own_format_and_4xx_is_final() {
    let (url, seen) = server(vec![]).await;
    let sms = SmsSender::new(
        SmsProvider::CmCom {
            url: url.clone(),
            product_token: "00000000-0000-0000-0000-000000000000".into(),
            sender: "Praktijk".into(),
        },
        Duration::from_secs(2),
        3,
    );
    sms.send("+31612345678", "654321 is uw code", "ref-2")
        .await
        .expect("sent");
    {
        let seen = seen.lock().expect("lock");
        let m = &seen[0].1["messages"];
        assert_eq!(
            m["authentication"]["producttoken"],
            "00000000-0000-0000-0000-000000000000"
        );
        assert_eq!(m["msg"][0]["to"][0]["number"], "0031612345678");
        assert_eq!(m["msg"][0]["from"], "Praktijk");
        assert_eq!(m["msg"][0]["body"]["content"], "654321 is uw code");
    }

    let (url, seen) = server(vec![401, 401, 401]).await;
    let sms = SmsSender::new(
        SmsProvider::Webhook { url, token: None },
        Duration::from_secs(2),
        3,
    );
    let err = sms
        .send("+31612345678", "777888 is uw code", "ref-3")
        .await
        .expect_err("refused");
    assert!(matches!(err, SmsError::Refused(401)), "{err}");
    assert!(!err.to_string().contains("777888"));
    assert_eq!(
        seen.lock().expect("lock").len(),
        1,
        "a refusal is not retried"
    );

    // Nobody listening: unreachable after the tries, without the text in the error.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/send", closed.local_addr().expect("addr"));
    drop(closed);
    let sms = SmsSender::new(
        SmsProvider::Webhook { url, token: None },
        Duration::from_millis(500),
        2,
    );
    let err = sms
        .send("+31612345678", "999000 is uw code", "ref-4")
        .await
        .expect_err("down");
    assert!(
        matches!(err, SmsError::Unreachable(_)) && !err.to_string().contains("999000"),
        "{err}"
    );
    let bad = sms
        .send("12345", "x", "ref-5")
        .await
        .expect_err("bad number");
    assert!(matches!(bad, SmsError::BadNumber(_)));
}
