//! Message-view latency at 100 concurrent sessions: `cargo bench -p veilpost-web --bench
//! view`. A real store (SQLite, blob files, the vault key) holds 100 portal messages (3 kB
//! of HTML and a 200 kB PDF each), each with a verified session (the login itself, and so
//! any password or code hashing, is not measured). The portal serves on loopback and wrk
//! (Debian package `wrk`) drives it with 100 connections, each request a random one of the
//! sessions viewing its message: decrypt, parse, sanitise, render, audit (durably).
//!
//! Two runs: sessions that view a page every `VIEW_THINK_MS` (default 250 ms: each of the
//! 100 sessions clicking four times a second, 400 views/s offered), where p99 must stay
//! under 20 ms; then without pauses, for the saturation throughput (closed loop, so its
//! latency is only 100 / throughput). `VIEW_SECONDS` sets each run (default 20).

use std::fmt::Write as _;
use std::process::Command;
use std::sync::Arc;

use veilpost_store::vault::{MasterKey, VaultEntry, new_token, short_id, token_hash};
use veilpost_store::{Envelope, Origin, Processed, Store};
use veilpost_web::{
    BoxError, BoxFuture, Mailer, PortalSettings, SmsProvider, SmsSender, WebState, app,
};

const SESSIONS: usize = 100;

#[derive(Debug)]
struct NoMail;

impl Mailer for NoMail {
    fn send(&self, _: String, _: Vec<u8>) -> BoxFuture<'_, Result<(), BoxError>> {
        Box::pin(async { Ok(()) })
    }
    fn submit(&self, _: Envelope, _: Vec<u8>) -> BoxFuture<'_, Result<String, BoxError>> {
        Box::pin(async { Err("no replies in this benchmark".into()) })
    }
}

fn message(n: usize) -> Vec<u8> {
    let mut html = String::from("<p>Beste meneer/mevrouw,</p>");
    while html.len() < 3000 {
        let _ = write!(
            html,
            "<p>Uitslag {n}: HbA1c 48 mmol/mol, <b>glucose</b> 6,1 mmol/l. <a href=\"https://thuisarts.nl\">Thuisarts</a></p>"
        );
    }
    let pdf = base64_lines(&vec![b'%'; 200 * 1024]);
    format!(
        "From: Ann Jansen <ann@praktijk.test>\r\nTo: patient{n}@example.net\r\n\
         Subject: Uitslag {n}\r\nMessage-ID: <bench-{n}@praktijk.test>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n\
         Content-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n--b\r\n\
         Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"uitslag.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{pdf}\r\n--b--\r\n"
    )
    .into_bytes()
}

fn base64_lines(bytes: &[u8]) -> String {
    use base64::Engine;
    let text = base64::engine::general_purpose::STANDARD.encode(bytes);
    text.as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("\r\n")
}

/// A portal message as the gateway leaves it, and a verified session: (path, cookie).
async fn seed(store: &Store, key: &MasterKey, n: usize) -> (String, String) {
    let raw = message(n);
    let id = store
        .spool(
            Envelope {
                origin: Origin::Submission,
                mail_from: "ann@praktijk.test".into(),
                rcpt_to: vec![format!("patient{n}@example.net")],
                auth_user: None,
                client_ip: None,
                intent: None,
            },
            raw.clone(),
        )
        .await
        .expect("spool");
    store.claim_received(1, 600).await.expect("claim");
    let vault_id = short_id();
    let sealed = key.seal(&vault_id, &raw).expect("seal");
    let blob = store.blobs().write(sealed.ciphertext).await.expect("blob");
    let link = new_token();
    store
        .finish_processing(
            &id,
            Processed {
                verdict: "sensitive".into(),
                findings: serde_json::json!([]),
                vault: vec![VaultEntry {
                    id: vault_id.clone(),
                    message_id: id.clone(),
                    recipient: format!("patient{n}@example.net"),
                    sender: "ann@praktijk.test".into(),
                    token_hash: token_hash(&link),
                    blob,
                    wrapped_key: sealed.wrapped_key,
                    key_id: sealed.key_id,
                    expires_at: veilpost_store::now() + 86_400,
                    ..VaultEntry::default()
                }],
                ..Processed::default()
            },
        )
        .await
        .expect("finish");
    let (cookie, _) = store
        .create_session(&vault_id, "sms")
        .await
        .expect("session");
    (format!("/p/{link}/message"), format!("vp_session={cookie}"))
}

/// wrk's latency line for `pct` ("50%", "99%"), in milliseconds.
fn percentile(out: &str, pct: &str) -> Option<f64> {
    let line = out.lines().find(|l| l.trim_start().starts_with(pct))?;
    let value = line.split_whitespace().nth(1)?;
    let (num, unit) = value.split_at(value.find(|c: char| c.is_ascii_alphabetic())?);
    let num: f64 = num.parse().ok()?;
    Some(match unit {
        "us" => num / 1000.0,
        "ms" => num,
        "s" => num * 1000.0,
        _ => return None,
    })
}

fn wrk(url: &str, script: &std::path::Path, seconds: u64, think_ms: u64) -> String {
    let out = Command::new("wrk")
        .env("THINK_MS", think_ms.to_string())
        .args([
            "-t2",
            &format!("-c{SESSIONS}"),
            &format!("-d{seconds}s"),
            "--latency",
            "-s",
        ])
        .arg(script)
        .arg(url)
        .output()
        .unwrap_or_else(|e| panic!("wrk ({e}): install it with `apt-get install wrk`"));
    assert!(
        out.status.success(),
        "wrk: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn main() {
    // `cargo test --benches` runs this with `--bench` absent: do nothing then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let seconds: u64 = std::env::var("VIEW_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let dir = std::env::temp_dir().join(format!("veilpost-bench-view-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir).await.expect("store");
        let key = Arc::new(
            MasterKey::from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").expect("key"),
        );
        let mut sessions = Vec::new();
        for n in 0..SESSIONS {
            sessions.push(seed(&store, &key, n).await);
        }
        let state = WebState {
            store: store.clone(),
            organisation: "Huisartsenpraktijk De Linde".into(),
            settings: Arc::new(PortalSettings::default()),
            master_key: key,
            sms: SmsSender::new(
                SmsProvider::Outbox {
                    path: dir.join("sms.jsonl"),
                },
                std::time::Duration::from_secs(1),
                1,
            ),
            mailer: Arc::new(NoMail),
            limits: Default::default(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            axum::serve(
                listener,
                app(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .await
        });
        let mut lua = String::from("local reqs = {}\n");
        for (path, cookie) in &sessions {
            let _ = writeln!(
                lua,
                "table.insert(reqs, wrk.format(\"GET\", \"{path}\", {{[\"Cookie\"] = \"{cookie}\"}}))"
            );
        }
        lua.push_str("request = function() return reqs[math.random(#reqs)] end\n");
        lua.push_str("local think = tonumber(os.getenv(\"THINK_MS\") or \"0\")\n");
        lua.push_str("delay = function() if think > 0 then return math.random(think / 2, think * 3 / 2) end return 0 end\n");
        lua.push_str(
            "response = function(status, headers, body) if status ~= 200 then wrk.thread:stop() end end\n",
        );
        let script = dir.join("view.lua");
        std::fs::write(&script, lua).expect("script");
        let url = format!("http://{addr}");
        let think: u64 = std::env::var("VIEW_THINK_MS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(250);
        let run = |secs: u64, think: u64| {
            let (u, s) = (url.clone(), script.clone());
            tokio::task::spawn_blocking(move || wrk(&u, &s, secs, think))
        };
        run(3, 0).await.expect("warm-up");
        let mut summary = Vec::new();
        let mut paced_p99 = f64::MAX;
        for (label, pause) in [("paced", think), ("saturated", 0)] {
            let out = run(seconds, pause).await.expect("wrk");
            println!("{out}");
            assert!(!out.contains("Non-2xx"), "some views failed:\n{out}");
            let p50 = percentile(&out, "50%").expect("p50");
            let p99 = percentile(&out, "99%").expect("p99");
            let rps = out
                .lines()
                .find(|l| l.starts_with("Requests/sec"))
                .and_then(|l| l.split_whitespace().nth(1))
                .unwrap_or("?")
                .to_string();
            if label == "paced" {
                paced_p99 = p99;
            }
            summary.push(format!(
                "message view, {SESSIONS} sessions, {label} (think {pause} ms), {seconds} s: \
                 p50 {p50:.2} ms, p99 {p99:.2} ms, {rps} views/s"
            ));
        }
        for line in &summary {
            println!("{line}");
        }
        let _ = std::fs::remove_dir_all(&dir);
        assert!(paced_p99 < 20.0, "p99 {paced_p99:.2} ms is over the 20 ms target");
    });
}
