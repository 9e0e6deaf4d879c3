//! Staff and admin pages through `app()`: sign-in with a password and a TOTP app, every
//! role boundary (staff, auditor, admin, nobody), compose, offboarding, the address book,
//! the audit log with its CSV, the trace and the queue. A real store in a temp directory.

use std::sync::Arc;

use axum::http::StatusCode;
use veilpost_store::vault::MasterKey;
use veilpost_store::{Envelope, Origin, Processed, RecipientDecision, Store};
use veilpost_web::{PortalSettings, SmsProvider, SmsSender, WebState, app};

mod common;
use common::*;

const PASSWORD: &str = "correct horse battery staple";

struct Site {
    app: axum::Router,
    store: Store,
    dir: std::path::PathBuf,
    mails: Arc<Recorder>,
    key: Arc<MasterKey>,
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Site {
    async fn new(name: &str) -> Site {
        Site::at(name, "http://127.0.0.1:8080").await
    }

    async fn at(name: &str, public_url: &str) -> Site {
        Site::with(name, |settings| settings.public_url = public_url.into()).await
    }

    async fn with(name: &str, settings: impl FnOnce(&mut PortalSettings)) -> Site {
        let dir =
            std::env::temp_dir().join(format!("veilpost-staff-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir).await.expect("store");
        let key = Arc::new(
            MasterKey::from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").expect("key"),
        );
        let mails = Arc::new(Recorder::default());
        *mails.store.lock().expect("lock") = Some(store.clone());
        let state = WebState {
            store: store.clone(),
            organisation: "Huisartsenpraktijk De Linde".into(),
            settings: Arc::new({
                let mut s = PortalSettings {
                    public_url: "http://127.0.0.1:8080".into(),
                    notify_from: "noreply@praktijk.test".into(),
                    policy: vec![("doublecheck.look_alike".into(), "true".into())],
                    ..PortalSettings::default()
                };
                settings(&mut s);
                s
            }),
            master_key: key.clone(),
            sms: SmsSender::new(
                SmsProvider::Outbox {
                    path: dir.join("sms.jsonl"),
                },
                std::time::Duration::from_secs(2),
                1,
            ),
            mailer: mails.clone(),
            limits: Default::default(),
        };
        Site {
            app: app(state),
            store,
            dir,
            mails,
            key,
        }
    }

    fn browser(&self) -> Browser {
        Browser {
            app: self.app.clone(),
            cookies: Default::default(),
            from: std::net::SocketAddr::from(([127, 0, 0, 1], 50_001)),
        }
    }

    async fn user(&self, email: &str, role: &str) {
        self.store
            .add_user(email, PASSWORD, role.parse().expect("a role"), None)
            .await
            .expect("add user");
    }

    /// A new account of `role`, signed in (the TOTP app registered on the way).
    async fn signed_in(&self, email: &str, role: &str) -> (Browser, totp_rs::Totp) {
        self.user(email, role).await;
        let mut b = self.browser();
        let totp = sign_in(&mut b, email, None).await;
        (b, totp)
    }

    /// A secure message from `sender` to piet@example.net, processed into the vault as
    /// `vault_id` (ciphertext made up: the staff pages never open it).
    async fn secure_message(&self, sender: &str, vault_id: &str) {
        self.portal_message(sender, "piet@example.net", vault_id, None)
            .await;
    }

    /// A message from `sender` to `recipient` in the vault as `vault_id`: sealed with the
    /// site's key when `raw` is given (pages that open it), else made-up ciphertext.
    async fn portal_message(
        &self,
        sender: &str,
        recipient: &str,
        vault_id: &str,
        raw: Option<&[u8]>,
    ) {
        let id = self
            .store
            .spool(
                Envelope {
                    origin: Origin::Submission,
                    mail_from: sender.into(),
                    rcpt_to: vec![recipient.into()],
                    auth_user: Some(sender.into()),
                    client_ip: None,
                    intent: None,
                },
                b"Subject: x\r\n\r\nx\r\n".to_vec(),
            )
            .await
            .expect("spool");
        let m = self
            .store
            .claim_received(10, 60)
            .await
            .expect("claim")
            .remove(0);
        let (ciphertext, wrapped_key, subject) = match raw {
            Some(raw) => {
                let sealed = self.key.seal(vault_id, raw).expect("seal");
                let subject = mail_parser::MessageParser::default()
                    .parse(raw)
                    .and_then(|m| m.subject().map(str::to_string))
                    .unwrap_or_default();
                let subject = self.key.seal_subject(vault_id, &subject).expect("seal");
                (sealed.ciphertext, sealed.wrapped_key, Some(subject))
            }
            None => (b"ciphertext".to_vec(), vec![1, 2, 3], None),
        };
        let blob = self.store.blobs().write(ciphertext).await.expect("blob");
        self.store
            .finish_processing(
                &m.id,
                Processed {
                    verdict: "sensitive".into(),
                    findings: serde_json::json!([]),
                    vault: vec![veilpost_store::vault::VaultEntry {
                        id: vault_id.into(),
                        message_id: id.clone(),
                        recipient: recipient.into(),
                        sender: sender.into(),
                        token_hash: format!("h-{vault_id}"),
                        blob,
                        wrapped_key,
                        key_id: "k".into(),
                        expires_at: veilpost_store::now() + 86_400,
                        phone: None,
                        access_code: None,
                        email_code: false,
                        status_token_hash: None,
                        read_receipt: false,
                        upload: false,
                        subject,
                    }],
                    ..Processed::default()
                },
            )
            .await
            .expect("finish");
    }

    async fn actions(&self) -> Vec<(String, String, Option<String>)> {
        sqlx::query_as("SELECT actor, action, subject FROM audit ORDER BY id")
            .fetch_all(self.store.sqlite_pool().expect("an SQLite store"))
            .await
            .expect("audit")
    }
}

fn totp_from(secret: &str, account: &str) -> totp_rs::Totp {
    totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::try_from_base32(secret).expect("base32"))
        .with_account_name(account)
        .build()
        .expect("totp")
}

/// Password, then the app: registering it on the first sign-in (returns it), or a code
/// from `app` for the step after the last one used.
async fn sign_in(
    b: &mut Browser,
    email: &str,
    app: Option<(&totp_rs::Totp, u64)>,
) -> totp_rs::Totp {
    let form = b.get("/login").await;
    assert_eq!(form.status, StatusCode::OK);
    accessible(&form.text());
    let r = b
        .post(
            "/login",
            &[
                ("csrf", &form.csrf()),
                ("email", email),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.location(), "/login/2fa", "{}", r.text());
    let second = b.get("/login/2fa").await;
    assert_eq!(second.status, StatusCode::OK);
    accessible(&second.text());
    let text = second.text();
    let now = veilpost_store::now() as u64;
    let (totp, code, secret) = match app {
        Some((t, step)) => (
            t.clone(),
            t.generate(now + step * 30).to_string(),
            String::new(),
        ),
        None => {
            let at = text.find("id=\"secret\">").expect("a secret to register") + 12;
            let secret: String = text[at..]
                .chars()
                .take_while(|c| *c != '<')
                .filter(char::is_ascii_alphanumeric)
                .collect();
            let t = totp_from(&secret, email);
            let code = t.generate(now).to_string();
            (t, code, secret)
        }
    };
    let r = b
        .post(
            "/login/2fa",
            &[
                ("csrf", &second.csrf()),
                ("code", &code),
                ("secret", &secret),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert!(r.location() == "/staff" || r.location() == "/admin/audit");
    totp
}

/// A multipart body: text fields, then files under `files`.
fn form_data(fields: &[(&str, &str)], files: &[(&str, &str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "vpBOUNDARYvp";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    for (field, name, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\nContent-Type: application/pdf\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// The session's CSRF token, from any page with the menu.
async fn csrf(b: &mut Browser, page: &str) -> String {
    b.get(page).await.csrf()
}

#[tokio::test]
async fn sign_in_needs_password_and_app_and_sessions_end() {
    let site = Site::new("signin").await;
    site.user("ann@praktijk.test", "staff").await;
    let mut b = site.browser();

    // Nothing without signing in.
    assert_eq!(b.get("/staff").await.location(), "/login");
    assert_eq!(b.get("/admin/audit").await.location(), "/login");
    // Wrong password: refused, logged, no hint which part was wrong.
    let form = b.get("/login").await;
    let r = b
        .post(
            "/login",
            &[
                ("csrf", &form.csrf()),
                ("email", "ann@praktijk.test"),
                ("password", "fout wachtwoord!!"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(
        r.text().contains("horen niet bij een actief account"),
        "{}",
        r.text()
    );
    // The password alone gives no access to pages.
    let r = b
        .post(
            "/login",
            &[
                ("csrf", &form.csrf()),
                ("email", "ann@praktijk.test"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.location(), "/login/2fa");
    assert_eq!(b.get("/staff").await.location(), "/login?m=ended");
    // A wrong code on registration: the same secret is shown again.
    let second = b.get("/login/2fa").await;
    let text = second.text();
    let at = text.find("id=\"secret\">").expect("secret") + 12;
    let secret: String = text[at..]
        .chars()
        .take_while(|c| *c != '<')
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let r = b
        .post(
            "/login/2fa",
            &[
                ("csrf", &second.csrf()),
                ("code", "000000"),
                ("secret", &secret),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().contains(&secret));
    let app = totp_from(&secret, "ann@praktijk.test");
    let r = b
        .post(
            "/login/2fa",
            &[
                ("csrf", &second.csrf()),
                (
                    "code",
                    &app.generate(veilpost_store::now() as u64).to_string(),
                ),
                ("secret", &secret),
            ],
        )
        .await;
    assert_eq!(r.location(), "/staff", "{}", r.text());
    let home = b.get("/staff").await;
    assert_eq!(home.status, StatusCode::OK);
    accessible(&home.text());
    assert!(home.text().contains("ann@praktijk.test (medewerker)"));

    // Sign out: the session is gone.
    let r = b.post("/logout", &[("csrf", &home.csrf())]).await;
    assert_eq!(r.location(), "/login?m=out");
    assert_eq!(b.get("/staff").await.location(), "/login");

    // Next time the app's code is asked (no new registration), and a used step is refused.
    let mut again = site.browser();
    sign_in(&mut again, "ann@praktijk.test", Some((&app, 1))).await;
    let mut replay = site.browser();
    let form = replay.get("/login").await;
    replay
        .post(
            "/login",
            &[
                ("csrf", &form.csrf()),
                ("email", "ann@praktijk.test"),
                ("password", PASSWORD),
            ],
        )
        .await;
    let second = replay.get("/login/2fa").await;
    assert!(
        !second.text().contains("id=\"secret\""),
        "no second registration"
    );
    let used = app.generate(veilpost_store::now() as u64 + 30).to_string();
    let r = replay
        .post("/login/2fa", &[("csrf", &second.csrf()), ("code", &used)])
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "a used code is refused");

    // An end date that passes ends the session at the next request.
    let update = veilpost_store::UserUpdate {
        name: None,
        role: veilpost_store::Role::Staff,
        valid_until: veilpost_store::users_parse_date("2020-01-01"),
        scopes: vec![],
    };
    site.store
        .update_user("ann@praktijk.test", &update)
        .await
        .expect("update");
    assert_eq!(again.get("/staff").await.location(), "/login?m=ended");

    let actions = site.actions().await;
    for want in [
        "staff.login.failed",
        "staff.totp.registered",
        "staff.login",
        "staff.logout",
    ] {
        assert!(actions.iter().any(|a| a.1 == want), "{want} in {actions:?}");
    }
}

#[tokio::test]
async fn every_role_sees_only_its_own_pages() {
    let site = Site::new("roles").await;
    let (mut staff, _) = site.signed_in("ann@praktijk.test", "staff").await;
    let (mut auditor, _) = site.signed_in("audit@praktijk.test", "auditor").await;
    let (mut admin, _) = site.signed_in("beheer@praktijk.test", "admin").await;

    let admin_pages = [
        "/admin/users",
        "/admin/user?email=ann%40praktijk.test",
        "/admin/contacts",
        "/admin/contacts.csv",
        "/admin/trace",
        "/admin/queue",
        "/admin/posture",
        "/admin/policy",
    ];
    // Staff: no admin page, no audit log.
    for page in admin_pages
        .iter()
        .chain(&["/admin/audit", "/admin/audit.csv"])
    {
        let r = staff.get(page).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "staff on {page}");
    }
    let t = csrf(&mut staff, "/staff").await;
    let r = staff
        .post(
            "/admin/users",
            &[
                ("csrf", &t),
                ("email", "x@praktijk.test"),
                ("role", "admin"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "staff cannot add accounts");
    let r = staff
        .post(
            "/admin/user/offboard",
            &[("csrf", &t), ("email", "beheer@praktijk.test")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        site.store
            .user("beheer@praktijk.test")
            .await
            .expect("u")
            .expect("s")
            .offboarded_at
            .is_none()
    );

    // Auditor: the audit log and its CSV, nothing else; cannot send.
    for page in admin_pages.iter().chain(&["/staff/compose"]) {
        let r = auditor.get(page).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "auditor on {page}");
    }
    assert_eq!(auditor.get("/staff").await.location(), "/admin/audit");
    let log = auditor.get("/admin/audit").await;
    assert_eq!(log.status, StatusCode::OK);
    accessible(&log.text());
    let t = log.csrf();
    let (ct, body) = form_data(
        &[
            ("csrf", &t),
            ("from", "audit@praktijk.test"),
            ("to", "p@example.net"),
            ("subject", "x"),
            ("verify", "access_code"),
        ],
        &[],
    );
    let r = auditor.post_multipart("/staff/compose", (ct, body)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "an auditor cannot send");
    let csv = auditor.get("/admin/audit.csv?action=staff.").await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(csv.headers["content-type"], "text/csv; charset=utf-8");
    assert!(
        csv.text()
            .starts_with("id,time_utc,actor,action,subject,detail,ip,outcome")
    );
    assert!(csv.text().contains("staff.login"));

    // Admin: every page.
    for page in admin_pages
        .iter()
        .chain(&["/admin/audit", "/staff", "/staff/compose"])
    {
        let r = admin.get(page).await;
        assert_eq!(r.status, StatusCode::OK, "admin on {page}: {}", r.text());
        if !page.ends_with(".csv") {
            accessible(&r.text());
        }
    }
    // The domain check is not wired in this set-up: the page says so instead of failing.
    assert!(
        admin
            .get("/admin/posture")
            .await
            .text()
            .contains("kon nu niet")
    );
    let policy = admin.get("/admin/policy").await;
    assert!(
        policy
            .text()
            .contains("id=\"look_alike\" name=\"look_alike\" value=\"1\" checked"),
        "{}",
        policy.text()
    );
    assert!(
        !policy.text().contains("doublecheck.look_alike"),
        "the form is not repeated from the file"
    );
    // The admin switches on the free-mail rule and forwarding; staff cannot.
    let t = policy.csrf();
    let st = csrf(&mut staff, "/staff").await;
    let form = |csrf: &str| {
        vec![
            ("csrf", csrf.to_string()),
            ("look_alike", "1".to_string()),
            ("free_mail", "1".to_string()),
            ("many_visible", "5".to_string()),
            ("answer", "forward".to_string()),
        ]
    };
    let staff_form = form(&st);
    let refs: Vec<(&str, &str)> = staff_form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(
        staff.post("/admin/policy", &refs).await.status,
        StatusCode::FORBIDDEN
    );
    let admin_form = form(&t);
    let refs: Vec<(&str, &str)> = admin_form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = admin.post("/admin/policy", &refs).await;
    assert_eq!(r.location(), "/admin/policy?done=saved");
    let saved: veilpost_policy::doublecheck::Rules = serde_json::from_str(
        &site
            .store
            .setting("doublecheck")
            .await
            .expect("q")
            .expect("saved"),
    )
    .expect("json");
    assert!(saved.free_mail && saved.look_alike && !saved.new_recipient && saved.many_visible == 5);
    assert_eq!(
        site.store
            .setting("offboarding.answer")
            .await
            .expect("q")
            .as_deref(),
        Some("\"forward\"")
    );
    let page = admin.get("/admin/policy").await.text();
    assert!(
        page.contains("Laatst gewijzigd door beheer@praktijk.test"),
        "{page}"
    );
    assert!(
        page.contains("<option value=\"forward\" selected>"),
        "{page}"
    );

    // Looking at the log is itself logged, with who looked.
    let actions = site.actions().await;
    assert!(
        actions
            .iter()
            .any(|a| a.0 == "audit@praktijk.test" && a.1 == "audit.viewed")
    );
    assert!(
        actions
            .iter()
            .any(|a| a.0 == "audit@praktijk.test" && a.1 == "audit.exported")
    );
}

#[tokio::test]
async fn compose_spools_a_secure_message_as_the_signed_in_user_only() {
    let site = Site::new("compose").await;
    let (mut ann, _) = site.signed_in("ann@praktijk.test", "staff").await;
    let update = veilpost_store::UserUpdate {
        name: Some("Ann Jansen".into()),
        role: veilpost_store::Role::Staff,
        valid_until: None,
        scopes: vec!["balie@praktijk.test".into()],
    };
    site.store
        .update_user("ann@praktijk.test", &update)
        .await
        .expect("scopes");
    let page = ann.get("/staff/compose").await;
    assert_eq!(page.status, StatusCode::OK);
    let t = page.csrf();
    assert!(
        page.text()
            .contains("<option value=\"balie@praktijk.test\"")
    );

    // Someone else's address: refused, nothing spooled.
    let fields = |from: &'static str, phone: &'static str| {
        vec![
            ("csrf", t.clone()),
            ("from", from.to_string()),
            ("to", "p.devries@example.net".to_string()),
            ("subject", "Uitslag".to_string()),
            (
                "body",
                "Beste meneer De Vries,\nzie de bijlage.".to_string(),
            ),
            ("verify", "sms".to_string()),
            ("phone", phone.to_string()),
        ]
    };
    let send = |f: Vec<(&'static str, String)>| {
        let pairs: Vec<(&str, String)> = f;
        let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        form_data(&refs, &[("files", "uitslag.pdf", b"%PDF-1.4 test")])
    };
    let r = ann
        .post_multipart(
            "/staff/compose",
            send(fields("ceo@praktijk.test", "0612345678")),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().contains("niet namens dat adres"), "{}", r.text());
    // A bad number: refused with a clear message.
    let r = ann
        .post_multipart("/staff/compose", send(fields("ann@praktijk.test", "12345")))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().contains("geen mobiel nummer"), "{}", r.text());
    // SMS with no number and none in the address book: refused.
    let r = ann
        .post_multipart("/staff/compose", send(fields("ann@praktijk.test", "")))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    // A shared mailbox in the scopes, with a number: spooled with the intent as data (no
    // tag in the subject), audited.
    // A reference over one line is refused (issue 17, point 1).
    let mut long = fields("balie@praktijk.test", "06-12345678");
    long.push(("reference", "regel 1\nregel 2".to_string()));
    let r = ann.post_multipart("/staff/compose", send(long)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().contains("kenmerk"), "{}", r.text());
    let mut with_reference = fields("balie@praktijk.test", "06-12345678");
    with_reference.push(("reference", "Uw uitslag van 2 december".to_string()));
    let r = ann
        .post_multipart("/staff/compose", send(with_reference))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let id = r.location().trim_start_matches("/staff?sent=").to_string();
    let claimed = site.store.claim_received(10, 60).await.expect("claim");
    assert_eq!(claimed.len(), 1);
    let m = &claimed[0];
    assert_eq!(m.id, id);
    assert_eq!(m.mail_from, "balie@praktijk.test");
    assert_eq!(m.auth_user.as_deref(), Some("ann@praktijk.test"));
    let raw = site.store.read_blob(&m.blob).await.expect("blob");
    let parsed = mail_parser::MessageParser::default()
        .parse(&raw)
        .expect("mail");
    assert_eq!(parsed.subject(), Some("Uitslag"));
    let intent: veilpost_policy::Intent =
        serde_json::from_str(m.intent.as_deref().expect("an intent")).expect("intent json");
    assert_eq!(
        intent,
        veilpost_policy::Intent {
            secure: true,
            sms: Some("+31612345678".into()),
            reference: Some("Uw uitslag van 2 december".into()),
            ..Default::default()
        }
    );
    assert_eq!(
        parsed.from().and_then(|f| f.first()).and_then(|a| a.name()),
        Some("Ann Jansen")
    );
    assert_eq!(parsed.attachment_count(), 1);
    let home = ann.get(&format!("/staff?sent={id}")).await;
    assert!(home.text().contains(&id));
    assert!(
        site.actions()
            .await
            .iter()
            .any(|a| a.1 == "compose.submitted" && a.0 == "ann@praktijk.test")
    );
}

#[tokio::test]
async fn admin_adds_changes_and_offboards_a_colleague() {
    let site = Site::new("offboard").await;
    let (mut admin, _) = site.signed_in("beheer@praktijk.test", "admin").await;
    let (mut bob, _) = site.signed_in("bob@praktijk.test", "staff").await;
    let users = admin.get("/admin/users").await;
    let t = users.csrf();
    // Add a temporary colleague with an end date and a shared mailbox.
    let r = admin
        .post(
            "/admin/users",
            &[
                ("csrf", &t),
                ("email", "invaller@praktijk.test"),
                ("name", "Invaller"),
                ("role", "staff"),
                ("until", "2099-12-31"),
                ("scopes", "balie@praktijk.test"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.location(), "/admin/users?done=added", "{}", r.text());
    let u = site
        .store
        .user("invaller@praktijk.test")
        .await
        .expect("u")
        .expect("some");
    assert_eq!(u.valid_until.as_deref(), Some("2099-12-31"));
    assert_eq!(u.scopes, vec!["balie@praktijk.test".to_string()]);
    // Bad input is refused with a reason, nothing stored.
    let r = admin
        .post(
            "/admin/users",
            &[
                ("csrf", &t),
                ("email", "kort@praktijk.test"),
                ("role", "staff"),
                ("password", "kort"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        site.store
            .user("kort@praktijk.test")
            .await
            .expect("u")
            .is_none()
    );
    // An admin cannot lock themself out.
    let r = admin
        .post(
            "/admin/user/offboard",
            &[("csrf", &t), ("email", "beheer@praktijk.test")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Bob has a secure message out, its status link with him.
    site.secure_message("bob@praktijk.test", "vault-bob").await;
    sqlx::query("UPDATE vault SET status_token_hash = 'oude-link' WHERE id = 'vault-bob'")
        .execute(site.store.sqlite_pool().expect("an SQLite store"))
        .await
        .expect("status link");

    // Offboard Bob with the temporary colleague as successor: Bob's session ends at once.
    let page = admin.get("/admin/user?email=bob%40praktijk.test").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text()
            .contains("<option value=\"invaller@praktijk.test\">")
    );
    let r = admin
        .post(
            "/admin/user/offboard",
            &[
                ("csrf", &t),
                ("email", "bob@praktijk.test"),
                ("successor", "invaller@praktijk.test"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(bob.get("/staff").await.location(), "/login?m=ended");
    // Issue 16, point 9: Bob's status link is dead; the successor is mailed one of their
    // own, which works, and sees the message on their staff page.
    let (hash,): (Option<String>,) =
        sqlx::query_as("SELECT status_token_hash FROM vault WHERE id = 'vault-bob'")
            .fetch_one(site.store.sqlite_pool().expect("an SQLite store"))
            .await
            .expect("vault");
    assert!(hash.is_some_and(|h| h != "oude-link"));
    let sent = site.mails.sent.lock().expect("lock").clone();
    let (_, mail) = sent
        .iter()
        .find(|(to, _)| to == "invaller@praktijk.test")
        .expect("a mail to the successor");
    let body = mail_parser::MessageParser::default()
        .parse(mail.as_bytes())
        .and_then(|m| m.body_text(0).map(|t| t.into_owned()))
        .expect("a text body");
    let at = body
        .find("http://127.0.0.1:8080/s/")
        .expect("a status link")
        + 24;
    let token: String = body[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    let status = site.browser().get(&format!("/s/{token}")).await;
    assert_eq!(status.status, StatusCode::OK, "{mail}");
    assert!(status.text().contains("piet@example.net"));
    let bob_user = site
        .store
        .user("bob@praktijk.test")
        .await
        .expect("u")
        .expect("s");
    assert!(bob_user.disabled && bob_user.offboarded_at.is_some());
    assert_eq!(
        site.store
            .leaver("bob@praktijk.test")
            .await
            .expect("leaver"),
        Some(Some("invaller@praktijk.test".to_string()))
    );
    // Bob cannot sign in again.
    let mut again = site.browser();
    let form = again.get("/login").await;
    let r = again
        .post(
            "/login",
            &[
                ("csrf", &form.csrf()),
                ("email", "bob@praktijk.test"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let actions = site.actions().await;
    assert!(
        actions.iter().any(|a| a.0 == "beheer@praktijk.test"
            && a.1 == "user.offboard"
            && a.2.as_deref() == Some("bob@praktijk.test")),
        "{actions:?}"
    );
    assert!(
        actions
            .iter()
            .any(|a| a.0 == "beheer@praktijk.test" && a.1 == "user.rights")
    );
}

#[tokio::test]
async fn address_book_import_export_and_partner_domains() {
    let site = Site::new("contacts").await;
    let (mut admin, _) = site.signed_in("beheer@praktijk.test", "admin").await;
    let t = csrf(&mut admin, "/admin/contacts").await;
    let csv =
        "email,name,phone\np.devries@example.net,Piet de Vries,06 12345678\nkapot,X,0612345678\n";
    let boundary = "vpB";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{t}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"c.csv\"\r\nContent-Type: text/csv\r\n\r\n{csv}\r\n--{boundary}--\r\n"
    );
    let r = admin
        .post_multipart(
            "/admin/contacts/import",
            (
                format!("multipart/form-data; boundary={boundary}"),
                body.into_bytes(),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text()
            .contains("1 contacten opgeslagen, 1 regels geweigerd"),
        "{}",
        r.text()
    );
    assert!(r.text().contains("3: geen e-mailadres"), "{}", r.text());
    assert_eq!(
        site.store
            .contact_phone("p.devries@example.net")
            .await
            .expect("phone")
            .as_deref(),
        Some("+31612345678")
    );
    // One by one; a bad number is refused.
    let r = admin
        .post(
            "/admin/contacts",
            &[("csrf", &t), ("email", "k@example.nl"), ("phone", "06")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = admin
        .post(
            "/admin/contacts",
            &[
                ("csrf", &t),
                ("email", "k@example.nl"),
                ("name", "=cmd()"),
                ("phone", "+32 470 12 34 56"),
            ],
        )
        .await;
    assert_eq!(r.location(), "/admin/contacts?done=contact");
    let export = admin.get("/admin/contacts.csv").await;
    assert_eq!(export.status, StatusCode::OK);
    let text = export.text();
    assert!(text.starts_with("email,name,phone\n"), "{text}");
    assert!(
        text.contains("p.devries@example.net,Piet de Vries,+31612345678"),
        "{text}"
    );
    assert!(
        text.contains("k@example.nl,'=cmd(),+32470123456"),
        "formula defused: {text}"
    );
    let r = admin
        .post(
            "/admin/contacts/delete",
            &[("csrf", &t), ("email", "k@example.nl")],
        )
        .await;
    assert_eq!(r.location(), "/admin/contacts?done=deleted");
    assert!(
        site.store
            .contact_phone("k@example.nl")
            .await
            .expect("q")
            .is_none()
    );
    // Partner domains.
    let r = admin
        .post(
            "/admin/partners",
            &[
                ("csrf", &t),
                ("domain", "Ziekenhuis-Oost.NL."),
                ("tls", "required"),
            ],
        )
        .await;
    assert_eq!(r.location(), "/admin/contacts?done=partner");
    assert!(
        site.store
            .is_partner_domain("ziekenhuis-oost.nl")
            .await
            .expect("q")
    );
    let r = admin
        .post(
            "/admin/partners",
            &[("csrf", &t), ("domain", "not a domain")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Every form needs the session's token.
    let r = admin
        .post(
            "/admin/partners",
            &[("csrf", &"0".repeat(64)), ("domain", "x.nl")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn trace_queue_revoke_and_held_messages_stay_with_their_owner() {
    let site = Site::new("trace").await;
    let (mut admin, _) = site.signed_in("beheer@praktijk.test", "admin").await;
    let (mut eve, _) = site.signed_in("eve@praktijk.test", "staff").await;
    // A message of Ann's with one recipient waiting in the queue.
    let id = site
        .store
        .spool(
            Envelope {
                origin: Origin::Submission,
                mail_from: "ann@praktijk.test".into(),
                rcpt_to: vec!["p@example.net".into()],
                auth_user: Some("ann@praktijk.test".into()),
                client_ip: Some("127.0.0.1".into()),
                intent: None,
            },
            b"Subject: x\r\n\r\nx\r\n".to_vec(),
        )
        .await
        .expect("spool");
    let m = site
        .store
        .claim_received(10, 60)
        .await
        .expect("claim")
        .remove(0);
    site.store
        .finish_processing(
            &m.id,
            Processed {
                verdict: "clean".into(),
                findings: serde_json::json!([]),
                decisions: vec![RecipientDecision {
                    recipient_id: m.recipients[0].0,
                    route: veilpost_store::Route::Tls,
                    reasons: vec!["example.net proves MTA-STS".into()],
                    state: veilpost_store::RecipientState::Queued,
                    blob: None,
                }],
                ..Processed::default()
            },
        )
        .await
        .expect("finish");
    let trace = admin.get(&format!("/admin/trace?id={id}")).await;
    assert_eq!(trace.status, StatusCode::OK);
    assert!(
        trace.text().contains("example.net proves MTA-STS"),
        "{}",
        trace.text()
    );
    assert!(
        admin
            .get("/admin/trace?sender=ann%40praktijk.test")
            .await
            .text()
            .contains(&id)
    );
    assert_eq!(
        admin.get("/admin/trace?id=nope").await.status,
        StatusCode::NOT_FOUND
    );
    let queue = admin.get("/admin/queue").await;
    assert!(queue.text().contains("p@example.net"));
    let rid = m.recipients[0].0;
    let t = queue.csrf();
    let r = admin
        .post(&format!("/admin/queue/{rid}/retry"), &[("csrf", &t)])
        .await;
    assert_eq!(r.location(), "/admin/queue?done=retry");
    let r = admin
        .post(&format!("/admin/queue/{rid}/cancel"), &[("csrf", &t)])
        .await;
    assert_eq!(r.location(), "/admin/queue?done=cancelled");
    let r = admin
        .post(&format!("/admin/queue/{rid}/cancel"), &[("csrf", &t)])
        .await;
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "only queued recipients can be cancelled"
    );
    // Eve sees none of Ann's messages and cannot act on them.
    let t = csrf(&mut eve, "/staff").await;
    assert!(!eve.get("/staff").await.text().contains("p@example.net"));
    site.store
        .hold_message(&id, "hash", "[]")
        .await
        .expect("hold");
    let r = eve
        .post(&format!("/staff/held/{id}/send"), &[("csrf", &t)])
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = eve
        .post("/staff/sent/some-vault-id/revoke", &[("csrf", &t)])
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        eve.get(&format!("/admin/trace?id={id}")).await.status,
        StatusCode::FORBIDDEN
    );
}

/// POST JSON with the CSRF header, as passkey.js does.
async fn post_json(b: &mut Browser, path: &str, csrf: &str, body: serde_json::Value) -> Page {
    b.send(
        axum::http::Request::post(path)
            .header("content-type", "application/json")
            .header("x-csrf-token", csrf)
            .body(axum::body::Body::from(body.to_string()))
            .expect("request"),
    )
    .await
}

#[tokio::test]
async fn passkey_ceremonies_need_the_half_way_session_and_answer_once() {
    let site = Site::at("passkey", "http://localhost:8080").await;
    site.user("ann@praktijk.test", "staff").await;
    let mut b = site.browser();
    // No session: refused.
    let r = post_json(
        &mut b,
        "/login/passkey/begin",
        "x",
        serde_json::json!({"mode": "register"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let form = b.get("/login").await;
    b.post(
        "/login",
        &[
            ("csrf", &form.csrf()),
            ("email", "ann@praktijk.test"),
            ("password", PASSWORD),
        ],
    )
    .await;
    let page = b.get("/login/2fa").await;
    let csp = page.headers["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_string();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert!(page.text().contains("id=\"passkey-register\""));
    let csrf = page.csrf();
    // The wrong token: refused.
    let r = post_json(
        &mut b,
        "/login/passkey/begin",
        &"0".repeat(64),
        serde_json::json!({"mode": "register"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // No passkey yet: signing in with one is not on offer.
    let r = post_json(
        &mut b,
        "/login/passkey/begin",
        &csrf,
        serde_json::json!({"mode": "signin"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = post_json(
        &mut b,
        "/login/passkey/begin",
        &csrf,
        serde_json::json!({"mode": "register"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let options: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(options["publicKey"]["rp"]["id"], "localhost");
    assert!(
        options["publicKey"]["challenge"]
            .as_str()
            .is_some_and(|c| c.len() >= 22)
    );
    // A forged answer fails and uses the challenge up; so does a replay of anything.
    let forged = serde_json::json!({"mode": "register", "credential": {"id": "AAAA", "rawId": "AAAA", "type": "public-key", "extensions": {}, "response": {"attestationObject": "AAAA", "clientDataJSON": "AAAA"}}});
    let r = post_json(&mut b, "/login/passkey/finish", &csrf, forged.clone()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = post_json(&mut b, "/login/passkey/finish", &csrf, forged).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        b.get("/staff").await.location(),
        "/login?m=ended",
        "still not signed in"
    );
    assert!(
        site.actions()
            .await
            .iter()
            .any(|a| a.1 == "staff.login.failed")
    );
    // The script is served from the site itself.
    let js = b.get("/static/passkey.js").await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(js.text().contains("navigator.credentials.create"));
}

/// The query of a URL as pairs (percent-decoded).
fn query_pairs(url: &str) -> Vec<(String, String)> {
    let q = url.split_once('?').map(|x| x.1).unwrap_or("");
    q.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            let v = v.replace('+', " ");
            let mut out = Vec::new();
            let b = v.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'%'
                    && i + 2 < b.len()
                    && let Ok(x) = u8::from_str_radix(&v[i + 1..i + 3], 16)
                {
                    out.push(x);
                    i += 3;
                    continue;
                }
                out.push(b[i]);
                i += 1;
            }
            (k.to_string(), String::from_utf8_lossy(&out).into_owned())
        })
        .collect()
}

/// Through the provider's page as `who`: the callback path Veilpost is sent back to.
async fn provider_approves(start: &Page, who: &str) -> String {
    let auth = start.location();
    assert!(auth.contains("/authorize?"), "{auth}");
    let mut form: Vec<(String, String)> = query_pairs(&auth)
        .into_iter()
        .filter(|(k, _)| {
            [
                "client_id",
                "redirect_uri",
                "state",
                "nonce",
                "code_challenge",
            ]
            .contains(&k.as_str())
        })
        .collect();
    form.push(("user".into(), who.into()));
    let base = auth.split_once("/authorize").expect("base").0.to_string();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let body = form
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let r = client
        .post(format!("{base}/authorize"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("provider");
    let back = r.headers()["location"]
        .to_str()
        .expect("location")
        .to_string();
    let at = back.find("/login/oidc/callback").expect("our callback");
    back[at..].to_string()
}

#[tokio::test]
async fn oidc_sign_in_maps_to_veilpost_accounts_and_needs_a_second_factor_there() {
    use veilpost_testkit::oidc::{OidcProvider, OidcUser};
    let strong = vec!["pwd".to_string(), "mfa".to_string()];
    let idp = OidcProvider::start(
        "veilpost",
        "s3cret",
        vec![
            OidcUser {
                email: "ann@praktijk.test".into(),
                amr: strong.clone(),
                ..Default::default()
            },
            OidcUser {
                email: "bob@praktijk.test".into(),
                amr: vec!["pwd".into()],
                ..Default::default()
            },
            OidcUser {
                email: "eve@elders.test".into(),
                amr: strong.clone(),
                ..Default::default()
            },
            OidcUser {
                email: "cor@praktijk.test".into(),
                amr: strong,
                email_verified: Some(false),
            },
        ],
    )
    .await;
    let dir = std::env::temp_dir().join(format!("veilpost-staff-oidc-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = Store::open(&dir).await.expect("store");
    for (who, role) in [
        ("ann@praktijk.test", "staff"),
        ("bob@praktijk.test", "staff"),
        ("cor@praktijk.test", "staff"),
    ] {
        store
            .add_user(who, PASSWORD, role.parse().expect("a role"), None)
            .await
            .expect("user");
    }
    let mails = Arc::new(Recorder::default());
    let state = WebState {
        store: store.clone(),
        organisation: "Huisartsenpraktijk De Linde".into(),
        settings: Arc::new(PortalSettings {
            oidc: Some(veilpost_web::oidc::OidcSettings {
                issuer: idp.issuer.clone(),
                client_id: "veilpost".into(),
                client_secret: "s3cret".into(),
                name: "Testprovider".into(),
                scopes: vec!["email".into()],
                email_claim: "email".into(),
                require_mfa: true,
            }),
            ..PortalSettings::default()
        }),
        master_key: Arc::new(
            MasterKey::from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").expect("key"),
        ),
        sms: SmsSender::new(
            SmsProvider::Outbox {
                path: dir.join("sms.jsonl"),
            },
            std::time::Duration::from_secs(2),
            1,
        ),
        mailer: mails,
        limits: Default::default(),
    };
    let app = app(state);
    let browser = || Browser {
        app: app.clone(),
        cookies: Default::default(),
        from: std::net::SocketAddr::from(([127, 0, 0, 1], 50_002)),
    };

    // The button is on the sign-in page.
    let mut b = browser();
    assert!(
        b.get("/login")
            .await
            .text()
            .contains("Aanmelden met Testprovider")
    );
    // Ann, with a second factor at the provider: signed in as her Veilpost account.
    let start = b.get("/login/oidc").await;
    assert_eq!(start.status, StatusCode::SEE_OTHER);
    let back = provider_approves(&start, "ann@praktijk.test").await;
    let r = b.get(&back).await;
    assert_eq!(r.location(), "/staff", "{}", r.text());
    assert!(
        b.get("/staff")
            .await
            .text()
            .contains("ann@praktijk.test (medewerker)")
    );
    // The same answer again: the flow is closed.
    let state = query_pairs(&back)
        .into_iter()
        .find(|(k, _)| k == "state")
        .expect("state")
        .1;
    let mut replay = browser();
    replay.cookies.insert("vp_oidc".into(), state);
    assert_eq!(replay.get(&back).await.status, StatusCode::UNAUTHORIZED);

    // An answer in another browser (no flow cookie): refused.
    let mut b2 = browser();
    let start = b2.get("/login/oidc").await;
    let back = provider_approves(&start, "ann@praktijk.test").await;
    let mut other = browser();
    assert_eq!(other.get(&back).await.status, StatusCode::FORBIDDEN);

    // Bob signed in with a password only at the provider: refused.
    let mut b3 = browser();
    let start = b3.get("/login/oidc").await;
    let back = provider_approves(&start, "bob@praktijk.test").await;
    let r = b3.get(&back).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.text().contains("niet gelukt"), "{}", r.text());
    assert_eq!(b3.get("/staff").await.location(), "/login");
    // Eve has no Veilpost account: refused.
    let mut b4 = browser();
    let start = b4.get("/login/oidc").await;
    let back = provider_approves(&start, "eve@elders.test").await;
    assert_eq!(b4.get(&back).await.status, StatusCode::UNAUTHORIZED);
    // Issue 16, point 14: the provider says Cor's address is not verified: refused,
    // though a Veilpost account has that address.
    let mut b5 = browser();
    let start = b5.get("/login/oidc").await;
    let back = provider_approves(&start, "cor@praktijk.test").await;
    assert_eq!(b5.get(&back).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(b5.get("/staff").await.location(), "/login");

    let rows: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT action, subject, detail FROM audit WHERE action LIKE 'staff.login%' ORDER BY id",
    )
    .fetch_all(store.sqlite_pool().expect("an SQLite store"))
    .await
    .expect("audit");
    assert!(
        rows.contains(&(
            "staff.login".into(),
            Some("ann@praktijk.test".into()),
            Some("oidc".into())
        )),
        "{rows:?}"
    );
    assert!(
        rows.iter()
            .any(|r| r.1.as_deref() == Some("bob@praktijk.test")
                && r.2.as_deref() == Some("no second factor at the provider (amr)")),
        "{rows:?}"
    );
    assert!(
        rows.iter()
            .any(|r| r.1.as_deref() == Some("cor@praktijk.test")
                && r.2.as_deref() == Some("address not verified at the provider")),
        "{rows:?}"
    );
    assert!(
        rows.iter()
            .any(|r| r.1.as_deref() == Some("eve@elders.test")
                && r.2.as_deref() == Some("no active Veilpost account")),
        "{rows:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_sender_sees_the_status_of_her_secure_messages_and_revokes_one() {
    let site = Site::new("revoke").await;
    let (mut ann, _) = site.signed_in("ann@praktijk.test", "staff").await;
    let (mut eve, _) = site.signed_in("eve@praktijk.test", "staff").await;
    site.secure_message("ann@praktijk.test", "vault-1").await;
    site.store
        .portal_milestone("vault-1", veilpost_store::Milestone::Opened)
        .await
        .expect("opened");
    let home = ann.get("/staff").await;
    assert!(home.text().contains("piet@example.net"), "{}", home.text());
    assert!(home.text().contains(">geopend<"), "{}", home.text());
    // Issue 17, points 2 and 3: a recipient locked out shows as blocked, and the sender
    // unlocks from here (someone else cannot).
    let mut locked = veilpost_portal::login::Login::new(Default::default(), None, false);
    locked.state = veilpost_portal::login::State::Locked { at: 1 };
    sqlx::query("UPDATE vault SET login = ? WHERE id = 'vault-1'")
        .bind(locked.to_json())
        .execute(site.store.sqlite_pool().expect("an SQLite store"))
        .await
        .expect("lock");
    let home = ann.get("/staff").await;
    assert!(home.text().contains("geblokkeerd"), "{}", home.text());
    assert!(home.text().contains("/staff/sent/vault-1/unlock"));
    let t = csrf(&mut eve, "/staff").await;
    assert_eq!(
        eve.post("/staff/sent/vault-1/unlock", &[("csrf", &t)])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let r = ann
        .post("/staff/sent/vault-1/unlock", &[("csrf", &home.csrf())])
        .await;
    assert_eq!(r.location(), "/staff?done=unlocked");
    let e = site
        .store
        .portal_by_id("vault-1")
        .await
        .expect("q")
        .expect("entry");
    assert!(e.login.is_none(), "the login starts afresh");
    let home = ann.get(&r.location()).await;
    assert!(home.text().contains("Gedeblokkeerd"), "{}", home.text());
    assert!(!home.text().contains("/staff/sent/vault-1/unlock"));
    // Someone else cannot revoke it, and does not see it.
    let t = csrf(&mut eve, "/staff").await;
    assert!(!eve.get("/staff").await.text().contains("piet@example.net"));
    let r = eve
        .post("/staff/sent/vault-1/revoke", &[("csrf", &t)])
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Ann can: the content is shredded at once.
    let asked = ann
        .post("/staff/sent/vault-1/revoke", &[("csrf", &home.csrf())])
        .await;
    assert!(asked.text().contains("De inhoud wordt vernietigd"));
    assert!(
        site.store
            .portal_by_id("vault-1")
            .await
            .expect("q")
            .is_some_and(|e| e.revoked_at.is_none()),
        "asking destroys nothing"
    );
    let r = ann
        .post(
            "/staff/sent/vault-1/revoke",
            &[("csrf", &home.csrf()), ("confirm", "1")],
        )
        .await;
    assert_eq!(r.location(), "/staff?done=revoked");
    let e = site
        .store
        .portal_by_id("vault-1")
        .await
        .expect("q")
        .expect("entry");
    assert!(e.revoked_at.is_some() && e.shredded_at.is_some() && e.wrapped_key.is_empty());
    assert!(ann.get("/staff").await.text().contains(">ingetrokken<"));
    assert!(
        site.actions()
            .await
            .iter()
            .any(|a| a.0 == "ann@praktijk.test" && a.1 == "message.revoked")
    );
}

/// The hold page shows the stored state: opened again after a cancel, it says cancelled
/// (it used to say "wordt verstuurd" unless the link carried `?done=cancelled`).
#[tokio::test]
async fn the_hold_page_shows_what_became_of_the_message() {
    let site = Site::new("hold-state").await;
    let spool = |subject: &'static str| {
        let store = site.store.clone();
        async move {
            store
                .spool(
                    Envelope {
                        origin: Origin::Submission,
                        mail_from: "ann@praktijk.test".into(),
                        rcpt_to: vec!["p@example.net".into()],
                        auth_user: Some("ann@praktijk.test".into()),
                        client_ip: None,
                        intent: None,
                    },
                    format!("Subject: {subject}\r\n\r\nx\r\n").into_bytes(),
                )
                .await
                .expect("spool")
        }
    };
    let (cancelled, sent) = (spool("a").await, spool("b").await);
    for (id, token) in [(&cancelled, "c".repeat(64)), (&sent, "s".repeat(64))] {
        site.store
            .hold_message(id, &veilpost_store::vault::token_hash(&token), "[]")
            .await
            .expect("hold");
    }
    let mut b = site.browser();
    let page = b.get(&format!("/h/{}", "c".repeat(64))).await;
    assert!(page.text().contains("Toch versturen"), "{}", page.text());
    assert!(site.store.cancel_held(&cancelled).await.expect("cancel"));
    assert!(site.store.release_held(&sent).await.expect("release"));
    let page = b.get(&format!("/h/{}", "c".repeat(64))).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text().contains("geannuleerd") && !page.text().contains("wordt verstuurd"),
        "{}",
        page.text()
    );
    let page = b.get(&format!("/h/{}", "s".repeat(64))).await;
    assert!(page.text().contains("wordt verstuurd"), "{}", page.text());
}

/// Issue 16, point 12: wrong passwords lock one account from one address only, successes
/// do not count, and a valid second factor lifts the lock.
#[tokio::test]
async fn a_colleague_cannot_lock_someone_out() {
    let site = Site::new("lockout").await;
    let (_, app) = site.signed_in("ann@praktijk.test", "staff").await;
    let office = std::net::SocketAddr::from(([10, 0, 0, 7], 50_002));
    let home = std::net::SocketAddr::from(([192, 0, 2, 44], 50_003));
    let try_password = |from: std::net::SocketAddr, password: &'static str| {
        let mut b = site.browser();
        b.from = from;
        async move {
            let form = b.get("/login").await;
            b.post(
                "/login",
                &[
                    ("csrf", &form.csrf()),
                    ("email", "ann@praktijk.test"),
                    ("password", password),
                ],
            )
            .await
            .status
        }
    };
    // Successes do not count: twenty sign-ins from the office in a row.
    for _ in 0..20 {
        assert_eq!(try_password(office, PASSWORD).await, StatusCode::SEE_OTHER);
    }
    // A colleague at the office guesses ten times: the office is locked for Ann…
    for _ in 0..10 {
        assert_eq!(
            try_password(office, "geraden wachtwoord").await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        try_password(office, PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // …but Ann at home signs in, with her app…
    let mut b = site.browser();
    b.from = home;
    sign_in(&mut b, "ann@praktijk.test", Some((&app, 1))).await;
    // …and that valid second factor lifts the lock at the office too.
    assert_eq!(try_password(office, PASSWORD).await, StatusCode::SEE_OTHER);
    let failed = site
        .actions()
        .await
        .into_iter()
        .filter(|(_, action, _)| action == "staff.login.failed")
        .count();
    assert_eq!(failed, 10);
}

/// Issue 16, point 6: the client address comes from `X-Forwarded-For` only through a
/// trusted proxy, and then the proxy's own hop (not what the client wrote); `/outbox`
/// answers a loopback connection only when no proxy forwarded it.
#[tokio::test]
async fn forwarded_addresses_are_believed_from_trusted_proxies_only() {
    let site = Site::with("forwarded", |s| {
        s.trusted_proxies = vec![("127.0.0.1".parse().expect("ip"), 32)];
        s.outbox = Some(std::env::temp_dir());
    })
    .await;
    let attempt = |from: [u8; 4], xff: &'static str| {
        let mut b = site.browser();
        b.from = std::net::SocketAddr::from((from, 50_010));
        async move {
            let form = b.get("/login").await;
            let body = format!(
                "csrf={}&email=wie%40praktijk.test&password=fout",
                form.csrf()
            );
            let req = axum::http::Request::post("/login")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("x-forwarded-for", xff)
                .body(axum::body::Body::from(body))
                .expect("request");
            b.send(req).await.status
        }
    };
    // From the outside, straight to Veilpost: the header is the client's own word.
    assert_eq!(
        attempt([203, 0, 113, 5], "1.2.3.4").await,
        StatusCode::UNAUTHORIZED
    );
    // Through the proxy, with a forged entry on the left: the proxy's hop counts.
    assert_eq!(
        attempt([127, 0, 0, 1], "1.2.3.4, 198.51.100.7").await,
        StatusCode::UNAUTHORIZED
    );
    let ips: Vec<(Option<String>,)> =
        sqlx::query_as("SELECT ip FROM audit WHERE action = 'staff.login.failed' ORDER BY id")
            .fetch_all(site.store.sqlite_pool().expect("an SQLite store"))
            .await
            .expect("audit");
    assert_eq!(
        ips,
        vec![
            (Some("203.0.113.5".into()),),
            (Some("198.51.100.7".into()),)
        ]
    );

    // The development outbox: this machine only, and not through a proxy.
    let mut b = site.browser();
    assert_eq!(b.get("/outbox").await.status, StatusCode::OK);
    let req = axum::http::Request::get("/outbox")
        .header("x-forwarded-for", "198.51.100.7")
        .body(axum::body::Body::empty())
        .expect("request");
    assert_eq!(b.send(req).await.status, StatusCode::NOT_FOUND);
    b.from = std::net::SocketAddr::from(([192, 0, 2, 1], 50_011));
    assert_eq!(b.get("/outbox").await.status, StatusCode::NOT_FOUND);
}

/// Issue 17, point 10: the first run ends with a clear way to sign in, and a used link
/// says what to do instead of only that it failed.
#[tokio::test]
async fn the_first_admin_is_shown_the_way_to_sign_in() {
    let site = Site::new("first-run").await;
    let token = site.store.first_admin_link().await.expect("link");
    let mut b = site.browser();
    let form = b.get(&format!("/setup/{token}")).await;
    assert_eq!(form.status, StatusCode::OK);
    accessible(&form.text());
    let done = b
        .post(
            &format!("/setup/{token}"),
            &[
                ("csrf", &form.csrf()),
                ("email", "beheer@praktijk.test"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text());
    accessible(&done.text());
    assert!(
        done.text().contains("href=\"/login\">Nu aanmelden</a>"),
        "{}",
        done.text()
    );
    let again = b.get(&format!("/setup/{token}")).await;
    assert!(again.text().contains("href=\"/login\""), "{}", again.text());
    accessible(&again.text());
}

/// Issue 17, point 3: "Mijn berichten" names each message's subject and its timeline, and
/// lists the secure replies to the staff member, readable there (signed in with two
/// factors already) with their attachments; nobody else reads them, and a shredded one
/// loses its subject too.
#[tokio::test]
async fn my_messages_show_subjects_timelines_and_the_replies() {
    let site = Site::new("replies").await;
    let (mut ann, _) = site.signed_in("ann@praktijk.test", "staff").await;
    let (mut eve, _) = site.signed_in("eve@praktijk.test", "staff").await;
    site.portal_message(
        "ann@praktijk.test",
        "piet@example.net",
        "out-1",
        Some(b"From: ann@praktijk.test\r\nTo: piet@example.net\r\nSubject: Uitslag lab\r\n\r\nDe uitslag.\r\n"),
    )
    .await;
    let reply = b"From: piet@example.net\r\nTo: ann@praktijk.test\r\nSubject: Re: [veilig] Uitslag lab\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\
Dank u, ik kom dinsdag.\r\n--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=foto.txt\r\n\r\n\
meetwaarden thuis\r\n--b--\r\n";
    site.portal_message(
        "piet@example.net",
        "ann@praktijk.test",
        "reply-1",
        Some(reply),
    )
    .await;
    site.store
        .portal_milestone("out-1", veilpost_store::Milestone::Replied)
        .await
        .expect("replied");

    let home = ann.get("/staff").await.text();
    assert!(home.contains("<td>Uitslag lab</td>"), "{home}");
    assert!(
        home.contains("Tijdlijn") && home.contains("Beantwoord"),
        "{home}"
    );
    assert!(home.contains("href=\"#replies\""), "{home}");
    assert!(
        home.contains("Re: [veilig] Uitslag lab") && home.contains("(nieuw)"),
        "{home}"
    );
    assert!(home.contains("href=\"/staff/received/reply-1\""), "{home}");

    let page = ann.get("/staff/received/reply-1").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text().contains("Dank u, ik kom dinsdag."),
        "{}",
        page.text()
    );
    assert!(page.text().contains("/staff/received/reply-1/attachment/0"));
    let file = ann.get("/staff/received/reply-1/attachment/0").await;
    assert_eq!(file.text(), "meetwaarden thuis");
    assert!(
        !ann.get("/staff").await.text().contains("(nieuw)"),
        "read now"
    );
    let audit = site.actions().await;
    for action in ["message.viewed", "attachment.downloaded"] {
        assert!(
            audit
                .iter()
                .any(|(actor, a, _)| actor == "ann@praktijk.test" && a == action),
            "{action}: {audit:?}"
        );
    }

    // Not Eve's: as if it did not exist.
    assert_eq!(
        eve.get("/staff/received/reply-1").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        eve.get("/staff/received/reply-1/attachment/0").await.status,
        StatusCode::NOT_FOUND
    );
    // Shredded: gone, the subject with it.
    assert!(site.store.shred("reply-1", "expired").await.expect("shred"));
    assert_eq!(
        ann.get("/staff/received/reply-1").await.status,
        StatusCode::GONE
    );
    let home = ann.get("/staff").await.text();
    assert!(!home.contains("Re: [veilig] Uitslag lab"), "{home}");
}

/// Issue 18, point 5: the quarantine. Staff see what was meant for them, administrators
/// everything; staff release what policy lets them, administrators anything; anyone who
/// sees a message may delete it; a sealed message is read as text; view, release and
/// delete are audited; a message the double-check holds is not touched here.
#[tokio::test]
async fn staff_and_admins_handle_the_quarantine() {
    let site = Site::with("quarantine", |s| {
        s.quarantine_admin_only = vec!["dmarc.reject".into(), "attachment.malware".into()];
    })
    .await;
    let (mut admin, _) = site.signed_in("beheer@praktijk.test", "admin").await;
    let (mut ann, _) = site.signed_in("ann@praktijk.test", "staff").await;
    let (mut bob, _) = site.signed_in("bob@praktijk.test", "staff").await;
    let mut ids = Vec::new();
    for (origin, from, to, why) in [
        (
            Origin::Inbound,
            "uitslagen@lab.test",
            "ann@praktijk.test",
            "[\"lookalike.sender\"]",
        ),
        (
            Origin::Inbound,
            "facturen@nep.test",
            "ann@praktijk.test",
            "[\"dmarc.reject\"]",
        ),
        (
            Origin::Submission,
            "ann@praktijk.test",
            "x@elders.test",
            "[\"lookalike\"]",
        ),
        (
            Origin::Inbound,
            "info@bank.test",
            "bob@praktijk.test",
            "[\"link.mismatch\"]",
        ),
    ] {
        let id = site
            .store
            .spool(
                Envelope {
                    origin,
                    mail_from: from.into(),
                    rcpt_to: vec![to.into()],
                    auth_user: None,
                    client_ip: None,
                    intent: None,
                },
                b"Subject: Uw uitslag\r\n\r\nKlik op https://lab.test.evil/x\r\n".to_vec(),
            )
            .await
            .expect("spool");
        site.store.claim_received(10, 60).await.expect("claim");
        if origin == Origin::Inbound {
            // As the processor does it: sealed, then held.
            let raw = b"Subject: Uw uitslag\r\n\r\nKlik op https://lab.test.evil/x\r\n";
            let sealed = site
                .key
                .seal(&format!("quarantine:{id}"), raw)
                .expect("seal");
            let blob = site
                .store
                .blobs()
                .write(sealed.ciphertext)
                .await
                .expect("blob");
            site.store
                .quarantine(&id, &blob, &sealed.wrapped_key, why)
                .await
                .expect("quarantine");
        } else {
            site.store
                .hold_message(&id, &format!("h-{id}"), why)
                .await
                .expect("hold");
        }
        ids.push(id);
    }
    // The administrator sees every quarantined message, not the double-check's hold.
    let page = admin.get("/admin/quarantine").await;
    assert_eq!(page.status, StatusCode::OK);
    let text = page.text();
    assert!(
        text.contains("uitslagen@lab.test")
            && text.contains("facturen@nep.test")
            && text.contains("info@bank.test")
            && text.contains("het afzenderdomein lijkt op een bekend domein")
            && !text.contains(&format!("/{}/", ids[2])),
        "{text}"
    );
    // Ann sees hers only, and may release the look-alike but not the DMARC reject.
    let page = ann.get("/quarantine").await;
    let text = page.text();
    assert!(
        text.contains("uitslagen@lab.test")
            && text.contains("facturen@nep.test")
            && !text.contains("info@bank.test")
            && text.contains(&format!("/quarantine/{}/release", ids[0]))
            && !text.contains(&format!("/quarantine/{}/release", ids[1])),
        "{text}"
    );
    assert_eq!(
        ann.get("/admin/quarantine").await.status,
        StatusCode::FORBIDDEN
    );
    // Reading it: decrypted, as text (the link is no link), audited.
    let view = ann.get(&format!("/quarantine/{}", ids[0])).await;
    assert_eq!(view.status, StatusCode::OK);
    let text = view.text();
    assert!(
        text.contains("Uw uitslag")
            && text.contains("Klik op https://lab.test.evil/x")
            && !text.contains("href=\"https://lab.test.evil"),
        "{text}"
    );
    // Not hers: not found, as if it did not exist.
    assert_eq!(
        ann.get(&format!("/quarantine/{}", ids[3])).await.status,
        StatusCode::NOT_FOUND
    );
    let t = page.csrf();
    let r = ann
        .post(&format!("/quarantine/{}/release", ids[1]), &[("csrf", &t)])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = ann
        .post(&format!("/quarantine/{}/release", ids[3]), &[("csrf", &t)])
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Released: back to processing, marked as confirmed.
    let r = ann
        .post(&format!("/quarantine/{}/release", ids[0]), &[("csrf", &t)])
        .await;
    assert_eq!(r.location(), "/quarantine?done=released");
    let state: (String, bool) =
        sqlx::query_as("SELECT state, confirmed FROM messages WHERE id = ?")
            .bind(&ids[0])
            .fetch_one(site.store.sqlite_pool().expect("an SQLite store"))
            .await
            .expect("row");
    assert_eq!(state, ("received".to_string(), true));
    // The administrator releases what staff may not; Bob deletes his.
    let t = admin.get("/admin/quarantine").await.csrf();
    let r = admin
        .post(
            &format!("/admin/quarantine/{}/release", ids[1]),
            &[("csrf", &t)],
        )
        .await;
    assert_eq!(r.location(), "/admin/quarantine?done=released");
    let tb = bob.get("/quarantine").await.csrf();
    let r = bob
        .post(&format!("/quarantine/{}/delete", ids[3]), &[("csrf", &tb)])
        .await;
    assert_eq!(r.location(), "/quarantine?done=deleted");
    // The double-check's hold is the sender's, not the quarantine's.
    let r = admin
        .post(
            &format!("/admin/quarantine/{}/release", ids[2]),
            &[("csrf", &t)],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let actions: Vec<String> = site.actions().await.into_iter().map(|a| a.1).collect();
    for a in [
        "quarantine.viewed",
        "quarantine.released",
        "quarantine.deleted",
    ] {
        assert!(actions.contains(&a.to_string()), "{a}: {actions:?}");
    }
    assert!(
        admin
            .get("/admin/quarantine")
            .await
            .text()
            .contains("Er staat niets in quarantaine")
    );
}

/// Issue 18, point 6: the administrators' triage of phishing reports: what was reported,
/// how, the verdict on arrival and its signals in words, a way to the quarantined
/// original; block sender, block domain, handled, each audited; staff cannot.
#[tokio::test]
async fn admins_triage_phishing_reports() {
    let site = Site::new("reports").await;
    let (mut admin, _) = site.signed_in("beheer@praktijk.test", "admin").await;
    let (mut ann, _) = site.signed_in("ann@praktijk.test", "staff").await;
    for (id, sender, verdict) in [
        ("r1", "facturen@mail.partnar.test", "tag; lookalike.sender"),
        ("r2", "info@bank-veilig.test", "clean"),
        ("r3", "nep@umc.test", "quarantine; dmarc.quarantine"),
    ] {
        site.store
            .add_report(
                id,
                &veilpost_store::NewReport {
                    reporter: "ann@praktijk.test".into(),
                    shape: "inline".into(),
                    original_id: None,
                    sender: Some(sender.into()),
                    verdict: Some(verdict.into()),
                    linked_message: None,
                    blob: "x".into(),
                    sealed_key: vec![0],
                },
            )
            .await
            .expect("report");
    }
    assert_eq!(
        ann.get("/admin/reports").await.status,
        StatusCode::FORBIDDEN
    );
    let page = admin.get("/admin/reports").await;
    assert_eq!(page.status, StatusCode::OK);
    let text = page.text();
    assert!(
        text.contains("facturen@mail.partnar.test")
            && text.contains("doorgelaten met waarschuwing")
            && text.contains("het afzenderdomein lijkt op een bekend domein")
            && text.contains("doorgestuurd in de tekst")
            && text.contains("Domein blokkeren partnar.test"),
        "{text}"
    );
    let t = page.csrf();
    for (id, what, blocked) in [
        ("r1", "block-domain", Some("partnar.test")),
        ("r2", "block-sender", Some("info@bank-veilig.test")),
        ("r3", "handled", None),
    ] {
        let r = admin
            .post(&format!("/admin/reports/{id}/{what}"), &[("csrf", &t)])
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{id}");
        if let Some(b) = blocked {
            assert!(
                site.store
                    .blocked_senders()
                    .await
                    .expect("blocks")
                    .contains(&b.to_string())
            );
        }
    }
    assert_eq!(
        &*site.store.blocked_senders().await.expect("blocks"),
        ["info@bank-veilig.test", "partnar.test"]
    );
    // Handled ones offer nothing more.
    let text = admin.get("/admin/reports").await.text();
    assert_eq!(text.matches("afgehandeld").count(), 3, "{text}");
    let r = admin
        .post("/admin/reports/nope/handled", &[("csrf", &t)])
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let actions: Vec<String> = site.actions().await.into_iter().map(|a| a.1).collect();
    for a in [
        "report.block_domain",
        "report.block_sender",
        "report.handled",
    ] {
        assert!(actions.contains(&a.to_string()), "{a}: {actions:?}");
    }
}
