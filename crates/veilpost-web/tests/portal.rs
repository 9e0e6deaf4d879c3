//! The portal through `app()`: a real store (SQLite and blobs in a temporary directory), a
//! real vault key, the SMS outbox file, and a mailer that queues into the store. Requests
//! go through the whole router, middleware included; cookies are carried like a browser.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

mod common;
use common::*;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use veilpost_store::vault::{MasterKey, VaultEntry, new_token, token_hash};
use veilpost_store::{Envelope, Origin, Processed, Store};
use veilpost_web::{PortalSettings, SmsProvider, SmsSender, WebState, app};

struct Portal {
    app: Router,
    store: Store,
    key: Arc<MasterKey>,
    mails: Arc<Recorder>,
    dir: PathBuf,
    sms: PathBuf,
}

const MESSAGE: &str = "From: Ann Jansen <ann@praktijk.test>\r\n\
To: piet@example.net\r\n\
Subject: Uitslag bloedonderzoek\r\n\
Message-ID: <uitslag-1@praktijk.test>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
\r\n\
--b1\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<p>Beste Piet, uw BSN 111222333 en de uitslag: <b>HbA1c 48</b>.</p>\
<img src=\"https://tracker.example/pixel.gif\"><script>alert(1)</script>\r\n\
--b1\r\n\
Content-Type: application/pdf\r\n\
Content-Disposition: attachment; filename=\"uitslag.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
JVBERi0xLjQKJcOkw7zDtsOfCg==\r\n\
--b1--\r\n";

struct Links {
    link: String,
    status: String,
    vault_id: String,
}

impl Portal {
    async fn new(name: &str, public_url: &str) -> Portal {
        Portal::with_clamd(name, public_url, None).await
    }

    async fn with_clamd(name: &str, public_url: &str, clamd: Option<String>) -> Portal {
        Portal::with(name, public_url, clamd, Default::default()).await
    }

    async fn with_brand(name: &str, brand: veilpost_text::mails::Brand) -> Portal {
        Portal::with(name, "http://127.0.0.1:8080", None, brand).await
    }

    async fn with(
        name: &str,
        public_url: &str,
        clamd: Option<String>,
        brand: veilpost_text::mails::Brand,
    ) -> Portal {
        let dir = std::env::temp_dir().join(format!("veilpost-web-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir).await.expect("store");
        let key = Arc::new(
            MasterKey::from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").expect("key"),
        );
        let mails = Arc::new(Recorder::default());
        *mails.store.lock().expect("lock") = Some(store.clone());
        let sms = dir.join("sms-outbox.jsonl");
        let settings = PortalSettings {
            public_url: public_url.into(),
            notify_from: "noreply@praktijk.test".into(),
            outbox: Some(dir.join("outbox")),
            sms_outbox: Some(sms.clone()),
            intake_mailbox: Some("balie@praktijk.test".into()),
            clamd,
            brand,
            ..PortalSettings::default()
        };
        let state = WebState {
            store: store.clone(),
            organisation: "Huisartsenpraktijk De Linde".into(),
            settings: Arc::new(settings),
            master_key: key.clone(),
            sms: SmsSender::new(
                SmsProvider::Outbox { path: sms.clone() },
                std::time::Duration::from_secs(2),
                1,
            ),
            mailer: mails.clone(),
            limits: Default::default(),
        };
        Portal {
            app: app(state),
            store,
            key,
            mails,
            dir,
            sms,
        }
    }

    /// A message in the vault for piet@example.net, as the gateway leaves it.
    async fn message(
        &self,
        html: &str,
        phone: Option<&str>,
        access: Option<&str>,
        expires_in: i64,
    ) -> Links {
        let raw = MESSAGE.replace(
            "<p>Beste Piet, uw BSN 111222333 en de uitslag: <b>HbA1c 48</b>.</p>",
            html,
        );
        let id = self
            .store
            .spool(
                Envelope {
                    origin: Origin::Submission,
                    mail_from: "ann@praktijk.test".into(),
                    rcpt_to: vec!["piet@example.net".into()],
                    auth_user: Some("ann@praktijk.test".into()),
                    client_ip: None,
                    intent: None,
                },
                raw.clone().into_bytes(),
            )
            .await
            .expect("spool");
        let claimed = self.store.claim_received(10, 60).await.expect("claim");
        let m = claimed.into_iter().find(|m| m.id == id).expect("claimed");
        let vault_id = veilpost_store::vault::short_id();
        let sealed = self.key.seal(&vault_id, raw.as_bytes()).expect("seal");
        let blob = self
            .store
            .blobs()
            .write(sealed.ciphertext)
            .await
            .expect("blob");
        let link = new_token();
        let status = new_token();
        let mut salt = [0u8; 16];
        veilpost_store::random(&mut salt);
        self.store
            .finish_processing(
                &m.id,
                Processed {
                    verdict: "sensitive".into(),
                    findings: serde_json::json!([]),
                    vault: vec![VaultEntry {
                        id: vault_id.clone(),
                        message_id: m.id.clone(),
                        recipient: "piet@example.net".into(),
                        sender: "ann@praktijk.test".into(),
                        token_hash: token_hash(&link),
                        blob,
                        wrapped_key: sealed.wrapped_key,
                        key_id: sealed.key_id,
                        expires_at: veilpost_store::now() + expires_in,
                        phone: phone.map(str::to_string),
                        access_code: access
                            .map(|c| veilpost_portal::login::StoredCode::new(c, salt).to_json()),
                        email_code: false,
                        status_token_hash: Some(token_hash(&status)),
                        read_receipt: true,
                        upload: false,
                        subject: None,
                    }],
                    ..Processed::default()
                },
            )
            .await
            .expect("finish");
        Links {
            link,
            status,
            vault_id,
        }
    }

    fn browser(&self) -> Browser {
        Browser {
            app: self.app.clone(),
            cookies: HashMap::new(),
            from: std::net::SocketAddr::from(([127, 0, 0, 1], 50_000)),
        }
    }

    fn sms_codes(&self) -> Vec<String> {
        std::fs::read_to_string(&self.sms)
            .unwrap_or_default()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("json line");
                v["text"]
                    .as_str()
                    .expect("text")
                    .split_whitespace()
                    .next()
                    .expect("code")
                    .to_string()
            })
            .collect()
    }

    fn sent(&self) -> Vec<(String, String)> {
        self.mails.sent.lock().expect("lock").clone()
    }

    async fn audit_actions(&self) -> Vec<(String, Option<String>, Option<String>)> {
        sqlx::query_as("SELECT action, ip, outcome FROM audit ORDER BY id")
            .fetch_all(self.store.sqlite_pool().expect("an SQLite store"))
            .await
            .expect("audit")
    }
}

impl Drop for Portal {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Browser {
    /// Landing, open, choose a factor: returns the verify page.
    async fn start(&mut self, link: &str, factor: &str) -> Page {
        let landing = self.get(&format!("/p/{link}")).await;
        assert_eq!(landing.status, StatusCode::OK, "{}", landing.text());
        let csrf = landing.csrf();
        let open = self
            .post(&format!("/p/{link}/open"), &[("csrf", &csrf)])
            .await;
        assert_eq!(open.status, StatusCode::SEE_OTHER, "{}", open.text());
        assert_eq!(open.location(), format!("/p/{link}/verify"));
        let choose = self.get(&format!("/p/{link}/verify")).await;
        assert_eq!(choose.status, StatusCode::OK);
        accessible(&choose.text());
        let chosen = self
            .post(
                &format!("/p/{link}/factor"),
                &[("csrf", &csrf), ("factor", factor)],
            )
            .await;
        assert_eq!(chosen.status, StatusCode::SEE_OTHER);
        self.get(&format!("/p/{link}/verify")).await
    }

    async fn submit_code(&mut self, link: &str, code: &str) -> Page {
        let csrf = self.cookies.get("vp_csrf").cloned().unwrap_or_default();
        self.post(
            &format!("/p/{link}/code"),
            &[("csrf", &csrf), ("code", code)],
        )
        .await
    }
}

fn multipart(csrf: &str, text: &str, file: Option<(&str, &[u8])>) -> (String, Vec<u8>) {
    multipart_with(csrf, &[("text", text)], file.as_slice())
}

/// A multipart form with the CSRF token, these text fields and these files.
fn multipart_with(
    csrf: &str,
    fields: &[(&str, &str)],
    files: &[(&str, &[u8])],
) -> (String, Vec<u8>) {
    let boundary = "XyZboundary42";
    let mut body = Vec::new();
    let mut field = |name: &str, extra: &str, value: &[u8]| {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"{extra}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(value);
        body.extend_from_slice(b"\r\n");
    };
    field("csrf", "", csrf.as_bytes());
    for (name, value) in fields {
        field(name, "", value.as_bytes());
    }
    for (name, bytes) in files {
        field(
            "files",
            &format!("; filename=\"{name}\"\r\nContent-Type: image/png"),
            bytes,
        );
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn sms_login_read_download_save_reply() {
    let p = Portal::new("flow", "http://127.0.0.1:8080").await;
    let m = p
        .message(
            "<p>Beste Piet, uw BSN 111222333 en de uitslag: <b>HbA1c 48</b>.</p>",
            Some("+31612345678"),
            Some("1234 5678"),
            30 * 86_400,
        )
        .await;
    let mut b = p.browser();

    // A link scanner fetches the link five times: nothing changes, nothing shows.
    for _ in 0..5 {
        let page = b.get(&format!("/p/{}", m.link)).await;
        assert_eq!(page.status, StatusCode::OK);
        let text = page.text();
        assert!(
            text.contains("ann@praktijk.test") && !text.contains("111222333"),
            "{text}"
        );
        assert!(text.contains("method=\"post\""), "opening takes a POST");
    }
    let e = p
        .store
        .portal_by_id(&m.vault_id)
        .await
        .expect("db")
        .expect("entry");
    assert!(
        e.login.is_none() && e.opened_at.is_none(),
        "GETs changed nothing"
    );

    let landing = b.get(&format!("/p/{}", m.link)).await;
    accessible(&landing.text());
    let verify = b.start(&m.link, "sms").await;
    accessible(&verify.text());
    assert!(verify.text().contains("+316******78"), "{}", verify.text());
    let codes = p.sms_codes();
    assert_eq!(codes.len(), 1, "one SMS in the outbox");
    assert_eq!(codes[0].len(), 6);
    // The message page needs the session: not there yet.
    assert_eq!(
        b.get(&format!("/p/{}/message", m.link)).await.status,
        StatusCode::UNAUTHORIZED
    );

    let ok = b.submit_code(&m.link, &codes[0]).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.text());
    assert_eq!(ok.location(), format!("/p/{}/message", m.link));
    let set = ok
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().expect("ascii").to_string())
        .find(|c| c.starts_with("vp_session="))
        .expect("a session cookie");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );

    let msg = b.get(&format!("/p/{}/message", m.link)).await;
    accessible(&msg.text());
    accessible(&b.get(&format!("/p/{}/totp", m.link)).await.text());
    assert_eq!(msg.status, StatusCode::OK);
    let text = msg.text();
    assert!(
        text.contains("HbA1c 48") && text.contains("Uitslag bloedonderzoek"),
        "{text}"
    );
    assert!(
        !text.contains("tracker.example") && !text.contains("alert(1)"),
        "{text}"
    );
    assert!(text.contains("uitslag.pdf"));
    // Read receipt to the sender, once.
    b.get(&format!("/p/{}/message", m.link)).await;
    let receipts: Vec<_> = p
        .sent()
        .into_iter()
        .filter(|(to, raw)| to == "ann@praktijk.test" && raw.contains("Gelezen"))
        .collect();
    assert_eq!(receipts.len(), 1, "{:?}", p.sent());

    let pdf = b.get(&format!("/p/{}/attachment/0", m.link)).await;
    assert_eq!(pdf.status, StatusCode::OK);
    assert!(pdf.body.starts_with(b"%PDF-1.4"));
    let disposition = pdf.headers[header::CONTENT_DISPOSITION]
        .to_str()
        .expect("ascii");
    assert!(disposition.starts_with("attachment;") && disposition.contains("uitslag.pdf"));
    assert_eq!(
        pdf.headers[header::CONTENT_TYPE],
        "application/octet-stream"
    );
    assert_eq!(
        b.get(&format!("/p/{}/attachment/7", m.link)).await.status,
        StatusCode::NOT_FOUND
    );

    let eml = b.get(&format!("/p/{}/save.eml", m.link)).await;
    assert!(eml.text().contains("Message-ID: <uitslag-1@praktijk.test>"));
    let html = b.get(&format!("/p/{}/save.html", m.link)).await;
    assert!(html.text().contains("HbA1c 48") && !html.text().contains("<script"));

    // A secure reply with an attachment goes into the spool, to the sender, marked secure.
    let csrf = msg.csrf();
    let reply = b
        .post_multipart(
            &format!("/p/{}/reply", m.link),
            multipart(
                &csrf,
                "Dank u, ik bel morgen.",
                Some(("foto.png", b"\x89PNG data")),
            ),
        )
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
    let spooled = p.store.claim_received(10, 60).await.expect("claim");
    let r = spooled
        .iter()
        .find(|r| r.origin == "reply")
        .expect("reply spooled");
    assert_eq!(r.recipients[0].1, "ann@praktijk.test");
    assert_eq!(r.mail_from, "piet@example.net");
    let raw = p.store.read_blob(&r.blob).await.expect("blob");
    let parsed = mail_parser::MessageParser::default()
        .parse(&raw)
        .expect("mail");
    assert_eq!(
        parsed.subject(),
        Some("Re: [veilig] Uitslag bloedonderzoek")
    );
    assert_eq!(parsed.attachment_count(), 1);
    assert_eq!(
        parsed.in_reply_to().as_text(),
        Some("uitslag-1@praktijk.test")
    );
    // Issue 17, point 4: the message page shows the conversation: the original and the
    // reply, whose file downloads again from there.
    let msg = b.get(&reply.location()).await;
    let text = msg.text();
    assert!(
        text.contains("Uw antwoorden") && text.contains("Dank u, ik bel morgen."),
        "{text}"
    );
    let href = text
        .split('"')
        .find(|part| part.contains("/reply/") && part.ends_with("/attachment/0"))
        .expect("a reply attachment link")
        .to_string();
    let file = b.get(&href).await;
    assert_eq!(file.status, StatusCode::OK);
    assert_eq!(file.body, b"\x89PNG data");
    // Someone else's reply id is not found through this link.
    let other = href.replace("/reply/", "/reply/x");
    assert_eq!(b.get(&other).await.status, StatusCode::NOT_FOUND);

    // The sender's status page.
    let mut sender = p.browser();
    let status = sender.get(&format!("/s/{}", m.status)).await;
    accessible(&status.text());
    assert_eq!(status.status, StatusCode::OK);
    assert!(
        status.text().contains("<span hidden>replied</span>"),
        "{}",
        status.text()
    );

    // Everything is in the audit log with address and outcome.
    let actions = p.audit_actions().await;
    for want in [
        "code.requested",
        "code.sms",
        "login.succeeded",
        "message.viewed",
        "attachment.downloaded",
        "message.saved",
        "reply.sent",
    ] {
        assert!(
            actions
                .iter()
                .any(|(a, ip, outcome)| a == want && ip.is_some() && outcome.is_some()),
            "{want} missing in {actions:?}"
        );
    }
    assert!(
        p.store
            .verify_audit()
            .await
            .expect("verify")
            .broken
            .is_none()
    );

    // Signing out ends the session.
    let out = b
        .post(&format!("/p/{}/logout", m.link), &[("csrf", &csrf)])
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(
        b.get(&format!("/p/{}/message", m.link)).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn wrong_codes_lock_tell_the_sender_and_survive_new_cookies() {
    let p = Portal::new("lock", "http://127.0.0.1:8080").await;
    p.store
        .add_user(
            "ann@praktijk.test",
            "lang genoeg wachtwoord",
            veilpost_store::Role::Staff,
            None,
        )
        .await
        .expect("ann");
    let m = p.message("<p>x</p>", None, Some("1234 5678"), 86_400).await;
    let mut b = p.browser();
    let verify = b.start(&m.link, "access_code").await;
    assert!(verify.text().contains("Toegangscode"), "{}", verify.text());
    // Nothing typed: asked again, tied to the field, and no try used up (issue 17, point 2).
    let empty = b.submit_code(&m.link, "  ").await;
    assert_eq!(empty.location(), format!("/p/{}/verify?m=empty", m.link));
    let asked = b.get(&empty.location()).await.text();
    assert!(
        asked.contains("Vul de code in") && asked.contains("aria-describedby=\"notice\""),
        "{asked}"
    );
    // A form the framework cannot read gets the same page as any refusal, not plain text.
    let csrf = b.cookies.get("vp_csrf").cloned().unwrap_or_default();
    let unreadable = b
        .post(&format!("/p/{}/factor", m.link), &[("csrf", &csrf)])
        .await;
    assert!(unreadable.status.is_client_error());
    assert!(
        unreadable.text().contains("Huisartsenpraktijk De Linde")
            && unreadable
                .text()
                .contains(&format!("href=\"/p/{}\"", m.link)),
        "{}",
        unreadable.text()
    );
    for left in (1..5).rev() {
        let r = b.submit_code(&m.link, "0000 0000").await;
        assert_eq!(
            r.location(),
            format!("/p/{}/verify?m=wrong&n={left}", m.link)
        );
    }
    let r = b.submit_code(&m.link, "0000 0000").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let locked = b.get(&format!("/p/{}/verify", m.link)).await;
    assert_eq!(locked.status, StatusCode::FORBIDDEN);
    // The lock-out page names who can unlock it and the organisation (issue 17, point 2).
    let text = locked.text();
    assert!(
        text.contains(
            "<strong>ann@praktijk.test</strong> van <strong>Huisartsenpraktijk De Linde</strong>"
        ),
        "{text}"
    );
    // Even the right code does nothing now.
    b.submit_code(&m.link, "1234 5678").await;
    assert_eq!(
        b.get(&format!("/p/{}/message", m.link)).await.status,
        StatusCode::UNAUTHORIZED
    );
    let notices: Vec<_> = p
        .sent()
        .into_iter()
        .filter(|(to, raw)| to == "ann@praktijk.test" && raw.contains("geblokkeerd"))
        .collect();
    assert_eq!(notices.len(), 1, "the sender is told once");
    // Ann has an account: the mail says where she unlocks (issue 17, point 2).
    assert!(
        notices[0].1.contains("http://127.0.0.1:8080/staff"),
        "{}",
        notices[0].1
    );

    // A fresh browser (no cookies) gets no new tries.
    let mut other = p.browser();
    let landing = other.get(&format!("/p/{}", m.link)).await;
    other
        .post(&format!("/p/{}/open", m.link), &[("csrf", &landing.csrf())])
        .await;
    assert_eq!(
        other.get(&format!("/p/{}/verify", m.link)).await.status,
        StatusCode::FORBIDDEN
    );

    // The sender unlocks after a phone call; the right code then works.
    let mut sender = p.browser();
    let status = sender.get(&format!("/s/{}", m.status)).await;
    assert!(status.text().contains("/unlock"));
    let r = sender
        .post(
            &format!("/s/{}/unlock", m.status),
            &[("csrf", &status.csrf())],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    b.start(&m.link, "access_code").await;
    let ok = b.submit_code(&m.link, "12345678").await;
    assert_eq!(ok.location(), format!("/p/{}/message", m.link));
    let actions = p.audit_actions().await;
    assert!(actions.iter().any(|(a, _, _)| a == "login.locked"));
    assert!(actions.iter().any(|(a, _, _)| a == "login.unlocked"));
    assert!(
        actions
            .iter()
            .filter(|(a, _, o)| a == "login.failed" && o.as_deref() == Some("refused"))
            .count()
            >= 5
    );
}

#[tokio::test]
async fn csrf_is_required_on_every_form() {
    let p = Portal::new("csrf", "http://127.0.0.1:8080").await;
    let m = p
        .message("<p>x</p>", Some("+31612345678"), Some("1234 5678"), 86_400)
        .await;
    let mut b = p.browser();
    // No token at all, a made-up token, and a token without the cookie.
    assert_eq!(
        b.post(&format!("/p/{}/open", m.link), &[]).await.status,
        StatusCode::FORBIDDEN
    );
    let landing = b.get(&format!("/p/{}", m.link)).await;
    let forged = "a".repeat(64);
    assert_eq!(
        b.post(&format!("/p/{}/open", m.link), &[("csrf", &forged)])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let mut stranger = p.browser();
    assert_eq!(
        stranger
            .post(&format!("/p/{}/open", m.link), &[("csrf", &landing.csrf())])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        b.post(&format!("/s/{}/revoke", m.status), &[("csrf", &forged)])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let e = p
        .store
        .portal_by_id(&m.vault_id)
        .await
        .expect("db")
        .expect("entry");
    assert!(e.revoked_at.is_none() && e.login.is_none());

    // After login: the reply form needs the session's token, not the pre-login one.
    b.start(&m.link, "access_code").await;
    b.submit_code(&m.link, "1234 5678").await;
    let r = b
        .post_multipart(
            &format!("/p/{}/reply", m.link),
            multipart(&landing.csrf(), "hallo", None),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // An ordinary condition: said in place, in the organisation's name, with a way
    // back and no error code to quote.
    let page = r.text();
    assert!(
        !page.contains("Foutcode")
            && page.contains("Huisartsenpraktijk De Linde")
            && page.contains(&format!("href=\"/p/{}\"", m.link)),
        "{page}"
    );
}

#[tokio::test]
async fn xss_payloads_in_mail_html_render_inert() {
    let payloads = [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "<svg onload=alert(1)><animate onbegin=alert(1) attributeName=x></svg>",
        "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
        "<a href=\"javascript:alert(1)\">klik</a>",
        "<a href=\"jav&#x09;ascript:alert(1)\">klik</a>",
        "<iframe src=\"https://evil.example\"></iframe>",
        "<form action=\"https://evil.example\"><input name=p></form>",
        "<div style=\"background:url(https://evil.example/t.gif)\">x</div>",
        "<meta http-equiv=\"refresh\" content=\"0;url=https://evil.example\">",
        "<object data=\"https://evil.example/x.swf\"></object>",
        "<base href=\"https://evil.example/\">",
        "<link rel=stylesheet href=\"https://evil.example/x.css\">",
        "<p onclick=\"alert(1)\">klik</p>",
        "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\">",
        "<table background=\"https://evil.example/bg.png\"><tr><td>x</td></tr></table>",
    ];
    let html = format!("<p>Veilige tekst</p>{}", payloads.join("\n"));
    let p = Portal::new("xss", "http://127.0.0.1:8080").await;
    let m = p.message(&html, None, Some("1234 5678"), 86_400).await;
    let mut b = p.browser();
    b.start(&m.link, "access_code").await;
    b.submit_code(&m.link, "1234 5678").await;
    let page = b.get(&format!("/p/{}/message", m.link)).await;
    assert_eq!(page.status, StatusCode::OK);
    let text = page.text();
    assert!(text.contains("Veilige tekst"));
    // The page's own stylesheet (the organisation's colour) is the one link allowed.
    let lower =
        text.to_ascii_lowercase()
            .replacen("<link rel=\"stylesheet\" href=\"/brand.css\">", "", 1);
    for bad in [
        "<script",
        "onerror",
        "onload",
        "onbegin",
        "onclick",
        "javascript:",
        "<svg",
        "<math",
        "<iframe",
        "<form action=\"https",
        "evil.example",
        "<meta http-equiv",
        "<object",
        "<base",
        "<link",
    ] {
        assert!(!lower.contains(bad), "{bad} survived:\n{text}");
    }
    let csp = page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .expect("ascii");
    assert!(
        csp.contains("default-src 'none'") && !csp.contains("script-src"),
        "{csp}"
    );
}

#[tokio::test]
async fn expired_and_revoked_messages_are_gone() {
    let p = Portal::new("gone", "http://127.0.0.1:8080").await;
    let old = p.message("<p>oud</p>", None, Some("1234 5678"), -10).await;
    // A reply kept with it goes with it.
    let reply_blob = p
        .store
        .blobs()
        .write(b"sealed".to_vec())
        .await
        .expect("blob");
    p.store
        .add_portal_reply("r-1", &old.vault_id, &reply_blob, b"key")
        .await
        .expect("reply");
    let mut b = p.browser();
    let page = b.get(&format!("/p/{}", old.link)).await;
    assert_eq!(page.status, StatusCode::GONE);
    assert!(page.text().contains("verlopen"), "{}", page.text());
    // The housekeeping shreds it: the key and the ciphertext go.
    let expired = p
        .store
        .portal_expired(veilpost_store::now(), 10)
        .await
        .expect("expired");
    assert_eq!(expired.len(), 1);
    let blob = expired[0].blob.clone();
    assert!(
        p.store
            .shred(&old.vault_id, "expired")
            .await
            .expect("shred")
    );
    assert!(
        p.store
            .portal_replies(&old.vault_id)
            .await
            .expect("replies")
            .is_empty()
    );
    assert!(
        p.store.read_blob(&reply_blob).await.is_err(),
        "the reply's ciphertext is gone"
    );
    let e = p
        .store
        .portal_by_id(&old.vault_id)
        .await
        .expect("db")
        .expect("entry");
    assert!(e.wrapped_key.is_empty() && e.shredded_at.is_some());
    assert!(
        p.store.read_blob(&blob).await.is_err(),
        "the ciphertext is gone"
    );

    // Revoked while the recipient is reading: the next request finds nothing.
    let m = p
        .message("<p>nieuw</p>", None, Some("1234 5678"), 86_400)
        .await;
    b.start(&m.link, "access_code").await;
    b.submit_code(&m.link, "1234 5678").await;
    assert_eq!(
        b.get(&format!("/p/{}/message", m.link)).await.status,
        StatusCode::OK
    );
    let mut sender = p.browser();
    let status = sender.get(&format!("/s/{}", m.status)).await;
    // Issue 17, point 3: the first press asks, and destroys nothing yet.
    let asked = sender
        .post(
            &format!("/s/{}/revoke", m.status),
            &[("csrf", &status.csrf())],
        )
        .await;
    assert_eq!(asked.status, StatusCode::OK);
    assert!(
        asked.text().contains("De inhoud wordt vernietigd"),
        "{}",
        asked.text()
    );
    accessible(&asked.text());
    assert_eq!(
        b.get(&format!("/p/{}/message", m.link)).await.status,
        StatusCode::OK
    );
    let r = sender
        .post(
            &format!("/s/{}/revoke", m.status),
            &[("csrf", &asked.csrf()), ("confirm", "1")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        b.get(&format!("/p/{}/message", m.link)).await.status,
        StatusCode::GONE
    );
    let landing = b.get(&format!("/p/{}", m.link)).await;
    assert!(landing.text().contains("ingetrokken"), "{}", landing.text());
    let status = sender.get(&format!("/s/{}", m.status)).await;
    assert!(status.text().contains("<span hidden>revoked</span>"));
    let e = p
        .store
        .portal_by_id(&m.vault_id)
        .await
        .expect("db")
        .expect("entry");
    assert!(e.wrapped_key.is_empty());
    assert!(
        p.audit_actions()
            .await
            .iter()
            .any(|(a, _, _)| a == "message.revoked")
    );
}

#[tokio::test]
async fn headers_cookies_and_idle_timeout() {
    let p = Portal::new("headers", "https://veilig.praktijk.test").await;
    let m = p.message("<p>x</p>", None, Some("1234 5678"), 86_400).await;
    let mut b = p.browser();
    for path in ["/", "/nope", &format!("/p/{}", m.link), "/p/unknown"] {
        let r = b.get(path).await;
        let h = &r.headers;
        let csp = h[header::CONTENT_SECURITY_POLICY].to_str().expect("ascii");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(h[header::REFERRER_POLICY], "no-referrer", "{path}");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{path}");
        assert!(
            h.contains_key(header::STRICT_TRANSPORT_SECURITY),
            "{path}: HSTS behind https"
        );
    }
    let mut b = p.browser();
    let landing = b.get(&format!("/p/{}", m.link)).await;
    let set = landing.headers[header::SET_COOKIE]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(
        set.starts_with("__Host-vp_csrf=") && set.contains("Secure") && set.contains("HttpOnly"),
        "{set}"
    );
    // English on request, remembered.
    let en = b.get(&format!("/p/{}?lang=en", m.link)).await;
    assert!(en.text().contains("Open the message"));
    assert!(
        b.get(&format!("/p/{}", m.link))
            .await
            .text()
            .contains("Open the message")
    );

    let csrf = landing.csrf();
    b.post(&format!("/p/{}/open", m.link), &[("csrf", &csrf)])
        .await;
    b.post(
        &format!("/p/{}/factor", m.link),
        &[("csrf", &csrf), ("factor", "access_code")],
    )
    .await;
    let ok = b
        .post(
            &format!("/p/{}/code", m.link),
            &[("csrf", &csrf), ("code", "1234 5678")],
        )
        .await;
    assert_eq!(ok.location(), format!("/p/{}/message", m.link));
    let session = ok.headers[header::SET_COOKIE].to_str().expect("ascii");
    assert!(
        session.starts_with("__Host-vp_session=") && session.contains("Secure"),
        "{session}"
    );
    assert_eq!(
        b.get(&format!("/p/{}/message", m.link)).await.status,
        StatusCode::OK
    );
    // Sixteen minutes without activity end the session.
    sqlx::query("UPDATE sessions SET last_seen = last_seen - 16 * 60 WHERE kind = 'portal'")
        .execute(p.store.sqlite_pool().expect("an SQLite store"))
        .await
        .expect("age the session");
    let r = b.get(&format!("/p/{}/message", m.link)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_registered_totp_app_is_a_factor_next_time() {
    let p = Portal::new("totp", "http://127.0.0.1:8080").await;
    let m = p
        .message("<p>x</p>", Some("+31612345678"), Some("1234 5678"), 86_400)
        .await;
    // Issue 16, point 3: the sender knows the access code, so a session opened with it
    // cannot link an app to the recipient's address (page and form alike).
    let mut by_code = p.browser();
    by_code.start(&m.link, "access_code").await;
    by_code.submit_code(&m.link, "1234 5678").await;
    let refused = by_code.get(&format!("/p/{}/totp", m.link)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());
    let csrf = by_code.cookies.get("vp_csrf").cloned().unwrap_or_default();
    let forced = by_code
        .post(
            &format!("/p/{}/totp", m.link),
            &[
                ("csrf", &csrf),
                ("secret", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"),
                ("code", "123456"),
            ],
        )
        .await;
    assert_eq!(forced.status, StatusCode::FORBIDDEN);
    // With a code by SMS (the recipient's own phone) it can.
    let mut b = p.browser();
    b.start(&m.link, "sms").await;
    let sms = p.sms_codes();
    b.submit_code(&m.link, sms.last().expect("an SMS code"))
        .await;
    let form = b.get(&format!("/p/{}/totp", m.link)).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.text());
    let text = form.text();
    // Issue 17, point 6: a QR code drawn by the server, the key in groups of four.
    assert!(text.contains("<figure class=\"qr\" role=\"img\"") && text.contains("<svg"));
    assert!(text.contains("class=\"key\" id=\"secret\">"));
    let at = text.find("id=\"secret\">").expect("secret") + 12;
    let secret: String = text[at..]
        .chars()
        .take_while(|c| *c != '<')
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let totp = totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::try_from_base32(&secret).expect("base32"))
        .with_account_name("piet@example.net")
        .build()
        .expect("totp");
    let now = veilpost_store::now() as u64;
    let code = totp.generate(now).to_string();
    let r = b
        .post(
            &format!("/p/{}/totp", m.link),
            &[("csrf", &form.csrf()), ("secret", &secret), ("code", &code)],
        )
        .await;
    assert_eq!(
        r.location(),
        format!("/p/{}/message?totp=1", m.link),
        "{}",
        r.text()
    );
    // The recipient is told by mail.
    assert!(
        p.sent()
            .iter()
            .any(|(to, mail)| to == "piet@example.net" && mail.contains("authenticator")),
        "{:?}",
        p.sent()
    );

    // Another visit: TOTP is offered; the code that registered the app is used up, and
    // a code works once (no replay).
    let mut later = p.browser();
    let verify = later.start(&m.link, "totp").await;
    assert!(verify.text().contains("authenticator"), "{}", verify.text());
    let used = later.submit_code(&m.link, &code).await;
    assert!(used.location().contains("m=wrong"), "{}", used.location());
    let next = totp.generate(now + 30).to_string();
    let ok = later.submit_code(&m.link, &next).await;
    assert_eq!(ok.location(), format!("/p/{}/message", m.link));
    let mut replay = p.browser();
    replay.start(&m.link, "totp").await;
    let again = replay.submit_code(&m.link, &next).await;
    assert!(again.location().contains("m=wrong"), "{}", again.location());
}

#[tokio::test]
async fn too_many_requests_from_one_address_are_refused() {
    let p = Portal::new("ratelimit", "http://127.0.0.1:8080").await;
    let m = p.message("<p>x</p>", None, Some("1234 5678"), 86_400).await;
    let mut b = p.browser();
    let landing = b.get(&format!("/p/{}", m.link)).await;
    let csrf = landing.csrf();
    let mut refused = false;
    for _ in 0..310 {
        let r = b
            .post(&format!("/p/{}/open", m.link), &[("csrf", &csrf)])
            .await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            refused = true;
            break;
        }
    }
    assert!(refused, "300 login actions per 10 minutes per address");
}

#[tokio::test]
async fn the_outbox_page_lists_texts_and_mail() {
    let p = Portal::new("outbox", "http://127.0.0.1:8080").await;
    let m = p
        .message("<p>x</p>", Some("06-12345678"), None, 86_400)
        .await;
    let mut b = p.browser();
    b.start(&m.link, "sms").await;
    let dir = p.dir.join("outbox");
    std::fs::create_dir_all(&dir).expect("outbox dir");
    std::fs::write(
        dir.join("m1-1.eml"),
        "From: noreply@praktijk.test\r\nTo: piet@example.net\r\nSubject: Beveiligd bericht\r\n\r\nOpen: http://127.0.0.1:8080/p/abc\r\n",
    )
    .expect("write");
    let page = b.get("/outbox").await;
    assert_eq!(page.status, StatusCode::OK);
    let text = page.text();
    assert!(
        text.contains("+31612345678") && text.contains("Beveiligd bericht"),
        "{text}"
    );
    let mail = b.get("/outbox/mail/m1-1.eml").await;
    assert!(
        mail.text()
            .contains("<a href=\"http://127.0.0.1:8080/p/abc\">")
    );
    assert_eq!(
        b.get("/outbox/mail/..%2Fveilpost.db").await.status,
        StatusCode::NOT_FOUND
    );
    // Only for this machine: a client elsewhere gets nothing.
    let mut remote = p.browser();
    remote.from = std::net::SocketAddr::from(([192, 0, 2, 7], 50_000));
    assert_eq!(remote.get("/outbox").await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        remote.get("/outbox/mail/m1-1.eml").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_contact_form_verifies_the_address_and_spools_a_secure_message() {
    let p = Portal::new("contact", "http://127.0.0.1:8080").await;
    let mut b = p.browser();
    let start = b.get("/contact").await;
    assert_eq!(start.status, StatusCode::OK);
    accessible(&start.text());
    // Issue 17, point 5: not for urgent matters, said first.
    assert!(
        start.text().contains("Niet voor spoed."),
        "{}",
        start.text()
    );
    assert!(start.text().contains("112"));
    let csrf = start.csrf();
    let bad = b
        .post("/contact", &[("csrf", &csrf), ("email", "geen adres")])
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let begun = b
        .post(
            "/contact",
            &[("csrf", &csrf), ("email", "patient@example.net")],
        )
        .await;
    assert_eq!(begun.status, StatusCode::SEE_OTHER, "{}", begun.text());
    let form = begun.location();
    let code_mail = p
        .sent()
        .into_iter()
        .find(|(to, _)| to == "patient@example.net")
        .expect("a code mail")
        .1;
    let parsed = mail_parser::MessageParser::default()
        .parse(code_mail.as_bytes())
        .expect("mail");
    let code: String = parsed
        .subject()
        .expect("subject")
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    assert_eq!(code.len(), 6);
    let page = b.get(&form).await;
    accessible(&page.text());
    // The writing form needs the verified session.
    let early = b
        .post_multipart(&format!("{form}/send"), multipart(&csrf, "hallo", None))
        .await;
    assert_eq!(early.status, StatusCode::UNAUTHORIZED);
    let wrong = b
        .post(
            &format!("{form}/code"),
            &[("csrf", &csrf), ("code", "000000")],
        )
        .await;
    assert!(wrong.location().contains("m=wrong"));
    let ok = b
        .post(&format!("{form}/code"), &[("csrf", &csrf), ("code", &code)])
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    let write = b.get(&form).await;
    // The file picker offers only the types the server takes.
    assert!(
        write.text().contains("accept=\".pdf,.jpg,.jpeg,.png,"),
        "{}",
        write.text()
    );
    assert!(
        write.text().contains("enctype=\"multipart/form-data\""),
        "{}",
        write.text()
    );
    accessible(&write.text());
    let session_csrf = write.csrf();

    // A program file is refused; the photo beside it is kept for the next try.
    let refused = b
        .post_multipart(
            &format!("{form}/send"),
            multipart_with(
                &session_csrf,
                &[("text", "Mijn uitslag")],
                &[("setup.exe", b"MZ"), ("uitslag.png", b"\x89PNG uitslag")],
            ),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Issue 17, points 2 and 5: said in place, by the file field, with what was typed kept.
    let page = refused.text();
    accessible(&page);
    assert!(
        page.contains(">Mijn uitslag</textarea>")
            && page.contains("setup.exe")
            && page.contains("aria-describedby=\"files-hint files-error\"")
            && !page.contains("Foutcode"),
        "{page}"
    );
    assert!(
        page.contains("id=\"kept-files\"") && page.contains("uitslag.png"),
        "{page}"
    );
    // A phone number that is none: the same; the kept photo stays kept.
    let bad_phone = b
        .post_multipart(
            &format!("{form}/send"),
            multipart_with(
                &session_csrf,
                &[
                    ("text", "Bel mij"),
                    ("name", "P. de Vries"),
                    ("phone", "bel mij"),
                    ("keep_files", "1"),
                ],
                &[],
            ),
        )
        .await;
    assert_eq!(bad_phone.status, StatusCode::UNPROCESSABLE_ENTITY);
    let page = bad_phone.text();
    assert!(
        page.contains("value=\"P. de Vries\"")
            && page.contains("value=\"bel mij\"")
            && page.contains("aria-describedby=\"phone-error\"")
            && page.contains("uitslag.png"),
        "{page}"
    );
    let sent = b
        .post_multipart(
            &format!("{form}/send"),
            multipart_with(
                &session_csrf,
                &[
                    ("text", "Mijn BSN is 111222333."),
                    ("phone", "06 12345678"),
                    ("keep_files", "1"),
                ],
                &[("foto.png", b"\x89PNG")],
            ),
        )
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.text());
    let done = b.get(&form).await.text();
    assert!(
        done.contains("beveiligd verstuurd") && done.contains("Wat gebeurt er nu?"),
        "{done}"
    );
    let reference = done
        .split("id=\"reference\">")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .expect("a reference")
        .to_string();
    assert!(
        reference.starts_with("CF-") && reference.len() == 12,
        "{reference}"
    );
    let spooled = p.store.claim_received(10, 60).await.expect("claim");
    let m = spooled
        .iter()
        .find(|m| m.origin == "intake")
        .expect("spooled");
    assert_eq!(m.recipients[0].1, "balie@praktijk.test");
    assert_eq!(m.mail_from, "patient@example.net");
    let raw = p.store.read_blob(&m.blob).await.expect("blob");
    let parsed = mail_parser::MessageParser::default()
        .parse(&raw)
        .expect("mail");
    assert!(
        parsed
            .subject()
            .is_some_and(|s| s.starts_with("Contactformulier") && s.contains(&reference))
    );
    // The photo kept from the refused try went too, without being chosen again.
    assert_eq!(parsed.attachment_count(), 2);
    let names: Vec<&str> = parsed
        .attachments()
        .filter_map(|a| mail_parser::MimeHeaders::attachment_name(a))
        .collect();
    assert_eq!(names, ["uitslag.png", "foto.png"]);
    // The organisation finds the patient's reference and number in what it gets.
    let body = parsed.body_text(0).expect("text");
    assert!(
        body.contains(&reference) && body.contains("Terugbellen op: 06 12345678"),
        "{body}"
    );
    // Used up: a second message needs a new form.
    let again = b
        .post_multipart(
            &format!("{form}/send"),
            multipart(&session_csrf, "nog een", None),
        )
        .await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    let actions = p.audit_actions().await;
    for want in [
        "intake.code",
        "intake.login.succeeded",
        "intake.login.failed",
        "intake.sent",
    ] {
        assert!(
            actions.iter().any(|(a, _, _)| a == want),
            "{want}: {actions:?}"
        );
    }
    // A day later the form (and the patient's address in it) is forgotten.
    let now = veilpost_store::now();
    assert_eq!(p.store.forget_intakes(now - 60).await.expect("forget"), 0);
    assert_eq!(p.store.forget_intakes(now + 1).await.expect("forget"), 1);
    assert_eq!(b.get(&form).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn upload_requests_ask_for_documents_and_take_allowed_files_only() {
    let p = Portal::new("upload", "http://127.0.0.1:8080").await;
    let m = p
        .message(
            "<p>Wilt u uw medicatielijst sturen?</p>",
            None,
            Some("1234 5678"),
            86_400,
        )
        .await;
    sqlx::query("UPDATE vault SET upload = 1 WHERE id = ?")
        .bind(&m.vault_id)
        .execute(p.store.sqlite_pool().expect("an SQLite store"))
        .await
        .expect("mark as upload request");
    let mut b = p.browser();
    b.start(&m.link, "access_code").await;
    b.submit_code(&m.link, "1234 5678").await;
    let page = b.get(&format!("/p/{}/message", m.link)).await;
    assert!(
        page.text().contains("vraagt u documenten te uploaden"),
        "{}",
        page.text()
    );
    let csrf = page.csrf();
    for (name, status) in [
        ("script.js", StatusCode::UNSUPPORTED_MEDIA_TYPE),
        ("lijst.pdf", StatusCode::SEE_OTHER),
    ] {
        let r = b
            .post_multipart(
                &format!("/p/{}/reply", m.link),
                multipart(&csrf, "Mijn lijst", Some((name, b"%PDF-1.4"))),
            )
            .await;
        assert_eq!(r.status, status, "{name}");
    }
    let spooled = p.store.claim_received(10, 60).await.expect("claim");
    assert_eq!(spooled.iter().filter(|r| r.origin == "reply").count(), 1);
}

#[tokio::test]
async fn uploads_go_through_clamav_and_fail_closed_without_it() {
    let dir = std::env::temp_dir().join(format!("veilpost-web-clamd-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let clamd = veilpost_testkit::clamd::start(&dir);
    let p = Portal::with_clamd("clamav", "http://127.0.0.1:8080", Some(clamd.addr.clone())).await;
    let m = p
        .message(
            "<p>Graag uw formulier terug.</p>",
            None,
            Some("1234 5678"),
            86_400,
        )
        .await;
    let mut b = p.browser();
    b.start(&m.link, "access_code").await;
    b.submit_code(&m.link, "1234 5678").await;
    let csrf = b.get(&format!("/p/{}/message", m.link)).await.csrf();
    let upload = |bytes: &'static [u8]| {
        let (ct, body) = multipart(&csrf, "Hierbij", Some(("formulier.pdf", bytes)));
        Request::post(format!("/p/{}/reply", m.link))
            .header(header::CONTENT_TYPE, ct)
            .body(Body::from(body))
            .expect("request")
    };
    let bad = b.send(upload(veilpost_testkit::clamd::BAD_FILE)).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text().contains("virus"), "{}", bad.text());
    let good = b.send(upload(b"%PDF-1.4 formulier")).await;
    assert_eq!(good.status, StatusCode::SEE_OTHER, "{}", good.text());
    // No scanner, no upload.
    drop(clamd);
    let down = b.send(upload(b"%PDF-1.4 formulier")).await;
    assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE);
    let spooled = p.store.claim_received(10, 60).await.expect("claim");
    assert_eq!(
        spooled.iter().filter(|r| r.origin == "reply").count(),
        1,
        "only the clean one"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 16, point 7: anonymous contact-form posts naming a patient's address use the
/// contact form's own budget, never the codes the patient needs for a secure message.
#[tokio::test]
async fn contact_form_posts_cannot_use_up_a_patients_codes() {
    let p = Portal::new("budgets", "http://127.0.0.1:8080").await;
    let m = p
        .message("<p>x</p>", Some("+31612345678"), None, 86_400)
        .await;
    for i in 0..12u8 {
        let mut anyone = p.browser();
        anyone.from = std::net::SocketAddr::from(([198, 51, 100, i], 50_000));
        let start = anyone.get("/contact").await;
        let r = anyone
            .post(
                "/contact",
                &[("csrf", &start.csrf()), ("email", "Piet@example.net")],
            )
            .await;
        assert!(
            r.status == StatusCode::SEE_OTHER || r.status == StatusCode::TOO_MANY_REQUESTS,
            "{}",
            r.status
        );
    }
    let mut b = p.browser();
    let verify = b.start(&m.link, "sms").await;
    assert_eq!(verify.status, StatusCode::OK, "{}", verify.text());
    assert_eq!(p.sms_codes().len(), 1, "the patient's code went out");
}

/// Issue 16, point 1: under load every view has its audit entry (240 parallel views, 240
/// entries), ten revokes amid ordinary reading all succeed and the open sessions stop
/// showing content at once, and when an audit entry cannot be written the action fails:
/// no content, no download, no login.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_entries_under_load_and_no_entry_no_action() {
    let p = Portal::new("audit-load", "http://127.0.0.1:8080").await;
    let m = p
        .message("<p>Uitslag 48</p>", None, Some("1234 5678"), 86_400)
        .await;
    let mut b = p.browser();
    b.start(&m.link, "access_code").await;
    b.submit_code(&m.link, "1234 5678").await;
    let before = p.audit_actions().await.len();
    let mut views = tokio::task::JoinSet::new();
    for _ in 0..240 {
        let mut reader = b.clone();
        let path = format!("/p/{}/message", m.link);
        views.spawn(async move { reader.get(&path).await.status });
    }
    while let Some(status) = views.join_next().await {
        assert_eq!(status.expect("task"), StatusCode::OK);
    }
    let viewed = p.audit_actions().await[before..]
        .iter()
        .filter(|(a, _, _)| a == "message.viewed")
        .count();
    assert_eq!(viewed, 240);

    // Ten messages, each open in a reader's browser; revoked while they keep reading.
    let mut open = Vec::new();
    for i in 0..10 {
        let m = p
            .message(
                &format!("<p>bericht {i}</p>"),
                None,
                Some("1234 5678"),
                86_400,
            )
            .await;
        let mut reader = p.browser();
        reader.start(&m.link, "access_code").await;
        reader.submit_code(&m.link, "1234 5678").await;
        open.push((m, reader));
    }
    let mut work = tokio::task::JoinSet::new();
    for (m, reader) in &open {
        for _ in 0..5 {
            let mut r = reader.clone();
            let path = format!("/p/{}/message", m.link);
            work.spawn(async move {
                let s = r.get(&path).await.status;
                assert!(s == StatusCode::OK || s == StatusCode::GONE, "{s}");
                true
            });
        }
        let mut sender = p.browser();
        let status = m.status.clone();
        work.spawn(async move {
            let page = sender.get(&format!("/s/{status}")).await;
            let r = sender
                .post(
                    &format!("/s/{status}/revoke"),
                    &[("csrf", &page.csrf()), ("confirm", "1")],
                )
                .await;
            assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
            false
        });
    }
    while let Some(done) = work.join_next().await {
        done.expect("task");
    }
    for (m, reader) in &mut open {
        assert_eq!(
            reader.get(&format!("/p/{}/message", m.link)).await.status,
            StatusCode::GONE
        );
    }

    // The audit log refuses writes: nothing is shown, handed over or signed in.
    let m = p
        .message("<p>Geheim 77</p>", None, Some("1234 5678"), 86_400)
        .await;
    let mut reader = p.browser();
    reader.start(&m.link, "access_code").await;
    reader.submit_code(&m.link, "1234 5678").await;
    sqlx::query(
        "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'no'); END",
    )
    .execute(p.store.sqlite_pool().expect("an SQLite store"))
    .await
    .expect("trigger");
    let page = reader.get(&format!("/p/{}/message", m.link)).await;
    assert_eq!(page.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!page.text().contains("Geheim 77"));
    let eml = reader.get(&format!("/p/{}/save.eml", m.link)).await;
    assert_eq!(eml.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!eml.text().contains("Geheim 77"));
    let mut late = p.browser();
    late.start(&m.link, "access_code").await;
    let r = late.submit_code(&m.link, "1234 5678").await;
    assert_ne!(r.location(), format!("/p/{}/message", m.link));
    assert!(
        !late.cookies.keys().any(|k| k.contains("vp_session")),
        "{:?}",
        late.cookies
    );
}

/// Issue 16, point 9: offboarding voids the leaver's status links (they could still
/// watch and revoke from outside); the successor takes the conversations over and gets
/// status links of their own.
#[tokio::test]
async fn a_leavers_status_links_die_and_the_successor_gets_new_ones() {
    let p = Portal::new("leaver-links", "http://127.0.0.1:8080").await;
    let m = p.message("<p>x</p>", None, Some("1234 5678"), 86_400).await;
    let mut sender = p.browser();
    assert_eq!(
        sender.get(&format!("/s/{}", m.status)).await.status,
        StatusCode::OK
    );
    for who in ["ann@praktijk.test", "bob@praktijk.test"] {
        p.store
            .add_user(
                who,
                "lang genoeg wachtwoord",
                veilpost_store::Role::Staff,
                None,
            )
            .await
            .expect("user");
    }
    let done = p
        .store
        .offboard_user(
            "admin@praktijk.test",
            "ann@praktijk.test",
            Some("bob@praktijk.test"),
        )
        .await
        .expect("offboard");
    assert_eq!(done.handed_over, 1);
    assert_eq!(
        sender.get(&format!("/s/{}", m.status)).await.status,
        StatusCode::NOT_FOUND
    );
    assert!(
        !sender
            .post(&format!("/s/{}/revoke", m.status), &[("csrf", "x")])
            .await
            .status
            .is_success()
    );
    let [(recipient, token)] = &done.links[..] else {
        panic!("one new link: {:?}", done.links);
    };
    assert_eq!(recipient, "piet@example.net");
    let page = sender.get(&format!("/s/{token}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("piet@example.net"));
    // Without a successor the links simply die.
    let m2 = p.message("<p>y</p>", None, Some("1234 5678"), 86_400).await;
    p.store
        .add_user(
            "cor@praktijk.test",
            "lang genoeg wachtwoord",
            veilpost_store::Role::Staff,
            None,
        )
        .await
        .expect("user");
    sqlx::query("UPDATE vault SET sender = 'cor@praktijk.test' WHERE id = ?")
        .bind(&m2.vault_id)
        .execute(p.store.sqlite_pool().expect("an SQLite store"))
        .await
        .expect("sender");
    let done = p
        .store
        .offboard_user("admin@praktijk.test", "cor@praktijk.test", None)
        .await
        .expect("offboard");
    assert!(done.links.is_empty());
    assert_eq!(
        sender.get(&format!("/s/{}", m2.status)).await.status,
        StatusCode::NOT_FOUND
    );
}

/// Issue 17, point 1: every page carries the organisation's colour and logo, served by
/// Veilpost itself under its content policy.
#[tokio::test]
async fn pages_carry_the_organisations_brand() {
    let p = Portal::with_brand(
        "brand",
        veilpost_text::mails::Brand {
            colour: "#0b6e4f".into(),
            logo: Some((b"\x89PNG\r\n\x1a\nlogo".to_vec(), "image/png")),
            ..Default::default()
        },
    )
    .await;
    let mut b = p.browser();
    let page = b.get("/contact").await;
    assert!(
        page.text()
            .contains("<link rel=\"stylesheet\" href=\"/brand.css\">")
    );
    let csp = page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .expect("ascii");
    assert!(
        csp.contains("style-src 'self'") && csp.contains("img-src 'self'"),
        "{csp}"
    );
    let css = b.get("/brand.css").await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(css.text().contains("#0b6e4f") && css.text().contains("url(/brand/logo)"));
    let logo = b.get("/brand/logo").await;
    assert_eq!(logo.headers[header::CONTENT_TYPE], "image/png");
    assert_eq!(logo.body, b"\x89PNG\r\n\x1a\nlogo");
    let plain = Portal::new("no-brand", "http://127.0.0.1:8080").await;
    assert_eq!(
        plain.browser().get("/brand/logo").await.status,
        StatusCode::NOT_FOUND
    );
}
