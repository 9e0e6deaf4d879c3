//! `veilpost serve` end to end with real peers on loopback: Python's smtplib and swaks
//! submit, a Rust SMTP sink receives (with and without STARTTLS), the in-process DNS
//! server answers, an HTTPS server serves MTA-STS policies, and the gateway runs as its own
//! process (so the crash test can kill it with SIGKILL).

mod acme;
mod admin_web;
mod axe;
mod backup;
mod browser;
mod checkpoints;
mod crash;
mod defaults;
mod dlp;
mod dmarc_web;
mod doctor;
mod flows;
mod health;
mod hold;
mod inbound;
mod logs;
mod metrics;
mod milter;
mod moving_up;
mod mta_sts;
mod nodes;
mod reload;
mod reports;
mod staff_web;
mod zip_route;

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const PASSWORD: &str = "een lang genoeg wachtwoord";

pub fn veilpost() -> Command {
    Command::new(env!("CARGO_BIN_EXE_veilpost"))
}

/// A port that was free a moment ago.
/// `veilpost dkim keygen` for `domain` under `selector` into `out`, as an operator runs it
/// before the first start; panics with its error when it fails.
pub fn dkim_keygen(domain: &str, selector: &str, out: &Path) {
    let made = veilpost()
        .args([
            "dkim",
            "keygen",
            "--domain",
            domain,
            "--selector",
            selector,
            "--out",
        ])
        .arg(out)
        .output()
        .expect("run dkim keygen");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// An empty DNS server on loopback for this test process (every name: no such domain),
/// running on its own thread for as long as the process lives.
pub fn empty_dns() -> std::net::SocketAddr {
    static ADDR: std::sync::OnceLock<std::net::SocketAddr> = std::sync::OnceLock::new();
    *ADDR.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let server = veilpost_dns::testserver::TestDnsServer::start(
                    veilpost_dns::testserver::Zone::new(),
                )
                .await
                .expect("empty DNS server");
                tx.send(server.addr()).expect("send");
                std::future::pending::<()>().await;
            });
        });
        rx.recv().expect("DNS server address")
    })
}

/// The mails in the outbox, parsed: (file, to, subject, text).
pub fn outbox(dir: &Path) -> Vec<(PathBuf, String, String, String)> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .filter_map(|p| {
            let raw = std::fs::read(&p).ok()?;
            let m = mail_parser::MessageParser::default().parse(&raw)?;
            let to = m.to()?.first()?.address()?.to_string();
            let subject = m.subject().unwrap_or("").to_string();
            let text = m.body_text(0).map(|t| t.into_owned()).unwrap_or_default();
            Some((p, to, subject, text))
        })
        .collect()
}

/// A fresh directory for one test.
pub fn test_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("veilpost-gw-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    d
}

/// A running `veilpost serve`.
#[derive(Debug)]
pub struct Gateway {
    child: Option<Child>,
    pub dir: PathBuf,
    pub config: PathBuf,
    pub smtp_port: u16,
    pub web_port: u16,
}

impl Gateway {
    /// Write the configuration: the given TOML after the basics (data dir, ports,
    /// organisation `praktijk.test`).
    pub fn configure(dir: &Path, extra: &str) -> Gateway {
        Gateway::configure_smtp(dir, "", extra)
    }

    /// The same, with more keys for the `[smtp]` section. Without a `[dns]` section the
    /// gateway asks an empty DNS server on loopback, so no test ever queries the outside.
    pub fn configure_smtp(dir: &Path, smtp: &str, extra: &str) -> Gateway {
        let quiet;
        let extra = if extra.contains("[dns]") {
            extra
        } else {
            quiet = format!("{extra}\n[dns]\nnameservers = [\"{}\"]\n", empty_dns());
            &quiet
        };
        let smtp_port = free_port();
        let web_port = free_port();
        let config = dir.join("veilpost.toml");
        let text = format!(
            "data_dir = \"{data}\"\n\
             [smtp]\nsubmission_listen = \"127.0.0.1:{smtp_port}\"\nhostname = \"gw.praktijk.test\"\n{smtp}\n\
             [web]\nlisten = \"127.0.0.1:{web_port}\"\npublic_url = \"http://127.0.0.1:{web_port}\"\n\
             [organisation]\nname = \"Huisartsenpraktijk De Linde\"\ndomains = [\"praktijk.test\"]\n\
             {extra}\n",
            data = dir.join("data").display(),
        );
        std::fs::write(&config, text).expect("config");
        Gateway {
            child: None,
            dir: dir.to_path_buf(),
            config,
            smtp_port,
            web_port,
        }
    }

    /// Add a staff account.
    pub fn add_user(&self, email: &str, password: &str, until: Option<&str>) {
        match until {
            Some(u) => self.add_user_with(email, password, &["--until", u]),
            None => self.add_user_with(email, password, &[]),
        }
    }

    /// `veilpost user add EMAIL --password-stdin ARGS` (`--role admin`, `--scope …`).
    pub fn add_user_with(&self, email: &str, password: &str, args: &[&str]) {
        let mut cmd = veilpost();
        cmd.args(["user", "add", email, "--password-stdin", "--config"])
            .arg(&self.config)
            .args(args);
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("user add");
        writeln!(child.stdin.take().expect("stdin"), "{password}").expect("password");
        let out = child.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `veilpost ARGS --config FILE`.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        veilpost()
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .output()
            .expect("veilpost")
    }

    /// Start `veilpost serve` and wait until it says it is running. Ports come from
    /// `free_port`, so a parallel test can take one in between: when this server cannot
    /// listen, it gets fresh ports and starts again (its SMTP port answering is not
    /// enough: it may be another test's server).
    pub fn start(&mut self) {
        for _ in 0..5 {
            if self.try_start() {
                return;
            }
            let (smtp, web) = (free_port(), free_port());
            let text = std::fs::read_to_string(&self.config).expect("config");
            let text = text
                .replace(&format!(":{}\"", self.smtp_port), &format!(":{smtp}\""))
                .replace(&format!(":{}\"", self.web_port), &format!(":{web}\""))
                .replace(&format!(":{}/", self.web_port), &format!(":{web}/"));
            std::fs::write(&self.config, text).expect("config");
            (self.smtp_port, self.web_port) = (smtp, web);
        }
        panic!("serve could not find free ports: {}", self.log());
    }

    /// One start; false when the ports were taken.
    fn try_start(&mut self) -> bool {
        let log_path = self.dir.join("serve.log");
        let before = std::fs::metadata(&log_path).map(|m| m.len()).unwrap_or(0);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .expect("log");
        let child = veilpost()
            .args(["serve", "--config"])
            .arg(&self.config)
            .env("VEILPOST_LOG", "info")
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("serve");
        self.child = Some(child);
        let start = Instant::now();
        loop {
            let fresh = std::fs::read(&log_path)
                .map(|b| String::from_utf8_lossy(&b[before as usize..]).into_owned())
                .unwrap_or_default();
            if fresh.contains("is running:") {
                return true;
            }
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                self.child = None;
                if fresh.contains("Address already in use") {
                    return false;
                }
                panic!("serve exited with {status}: {}", self.log());
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "serve did not start: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The most memory the running server has held (VmHWM), in KiB.
    pub fn peak_memory_kib(&self) -> u64 {
        let pid = self.child.as_ref().expect("running").id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM")
    }

    /// ann@praktijk.test (added with [`PASSWORD`]) sends one message; it must be taken.
    pub fn send_from_ann(&self, to: &str, subject: &str, body: &str) {
        let r = self.submit(serde_json::json!({
            "user": "ann@praktijk.test",
            "password": PASSWORD,
            "messages": [message("ann@praktijk.test", &[to], subject, body)],
        }));
        assert!(r.iter().all(|x| x["ok"] == true), "{r:?}");
    }

    /// Wait (up to 10 s) until the log says `text`.
    pub fn wait_for_log(&self, text: &str) {
        let start = Instant::now();
        while !self.log().contains(text) {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "no {text:?} in the log: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The running server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// What the server logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("serve.log")).unwrap_or_default()
    }

    /// Submit with Python's smtplib; one JSON object per message.
    pub fn submit(&self, job: serde_json::Value) -> Vec<serde_json::Value> {
        let mut job = job;
        job["port"] = self.smtp_port.into();
        submit(&job)
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A load for submit.py: `n` plain messages from ann (to seven partner addresses in turn)
/// with Message-IDs `<PREFIX-i@client.test>`, to `port` over `connections` connections.
pub fn load_job(port: u16, prefix: &str, n: usize, connections: usize) -> serde_json::Value {
    let messages: Vec<_> = (0..n)
        .map(|i| {
            let mut m = message(
                "ann@praktijk.test",
                &[&format!("r{}@partner.test", i % 7)],
                &format!("Bericht {prefix} {i}"),
                &format!(
                    "Dit is bericht nummer {i}.\n{}",
                    "Gewone tekst. ".repeat(40)
                ),
            );
            m["message_id"] = format!("<{prefix}-{i}@client.test>").into();
            m
        })
        .collect();
    serde_json::json!({
        "port": port,
        "user": "ann@praktijk.test",
        "password": PASSWORD,
        "connections": connections,
        "messages": messages,
    })
}

/// Of the `accepted` Message-IDs, those the sink has not received, and how many it
/// received more than once.
pub fn missing_and_duplicates(
    sink: &veilpost_testkit::Sink,
    accepted: &[String],
) -> (Vec<String>, usize, usize) {
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for g in sink.messages() {
        *seen.entry(g.message_id().unwrap_or_default()).or_default() += 1;
    }
    let missing = accepted
        .iter()
        .filter(|id| !seen.contains_key(*id))
        .cloned()
        .collect();
    let duplicates = seen.values().map(|n| n - 1).sum();
    (missing, duplicates, seen.len())
}

/// Run tests/gateway/submit.py.
pub fn submit(job: &serde_json::Value) -> Vec<serde_json::Value> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/gateway/submit.py");
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(job.to_string().as_bytes())
        .expect("job");
    let out = child.wait_with_output().expect("submit.py");
    assert!(
        out.status.success(),
        "submit.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

/// Run one SQL query on the gateway's database with Python's sqlite3 (an independent
/// reader); the rows as JSON.
pub fn sql(db: &Path, query: &str) -> serde_json::Value {
    let script = "import json, sqlite3, sys\n\
                  c = sqlite3.connect(sys.argv[1])\n\
                  print(json.dumps(c.execute(sys.argv[2]).fetchall()))";
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(db)
        .arg(query)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

/// One message for submit.py.
pub fn message(from: &str, to: &[&str], subject: &str, body: &str) -> serde_json::Value {
    serde_json::json!({"from": from, "to": to, "subject": subject, "body": body})
}

/// A plain HTTP GET on loopback: (status, body).
pub async fn http_get(port: u16, path: &str) -> (u16, String) {
    http_request(
        port,
        &format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"),
        b"",
    )
    .await
}

/// A plain HTTP GET with more header lines (each ending in CRLF): (status, body).
pub async fn http_get_with(port: u16, path: &str, headers: &str) -> (u16, String) {
    http_request(
        port,
        &format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n{headers}\r\n"),
        b"",
    )
    .await
}

/// A plain HTTP POST of `body` as `content_type` on loopback: (status, body).
pub async fn http_post(port: u16, path: &str, content_type: &str, body: &[u8]) -> (u16, String) {
    http_request(
        port,
        &format!(
            "POST {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        ),
        body,
    )
    .await
}

/// Send `head` and `body`, read the answer to the end: (status, its body).
async fn http_request(port: u16, head: &str, body: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    s.write_all(head.as_bytes()).await.expect("write");
    s.write_all(body).await.expect("write");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.expect("read");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|x| x.1.to_string())
        .unwrap_or_default();
    (status, body)
}
