//! `veilpost serve` with no configuration at all, as the README's first command runs it:
//! data under ./veilpost-data, submission on 127.0.0.1:2587 with a self-signed certificate,
//! web on 127.0.0.1:8080, outbound mail captured in the outbox, a first-admin link printed.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::{PASSWORD, http_get, message, test_dir, veilpost};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_runs_on_embedded_defaults() {
    for port in [2587, 8080] {
        assert!(
            std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
            "port {port} is taken: this test runs the documented defaults"
        );
    }
    let dir = test_dir("defaults");
    let mut add = veilpost()
        .current_dir(&dir)
        .args(["user", "add", "ann@praktijk.test", "--password-stdin"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("user add");
    use std::io::Write;
    writeln!(add.stdin.take().expect("stdin"), "{PASSWORD}").expect("password");
    assert!(add.wait().expect("wait").success());

    let mut child = veilpost()
        .current_dir(&dir)
        .env_remove("VEILPOST_CONFIG")
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    let stdout = child.stdout.take().expect("stdout");
    // Read what it prints until the first-admin link.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let start = Instant::now();
    let mut printed = Vec::new();
    let link = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no first-admin link in {printed:?}"));
        printed.push(line.clone());
        if let Some(i) = line.find("http://127.0.0.1:8080/setup/") {
            break line[i..].trim().to_string();
        }
        assert!(start.elapsed() < Duration::from_secs(30));
    };
    let all = printed.join("\n");
    assert!(all.contains("127.0.0.1:2587"), "{all}");
    assert!(all.contains("outbox"), "{all}");
    // The page a new user follows the whole flow on.
    assert!(all.contains("http://127.0.0.1:8080/outbox"), "{all}");
    let (status, page) = http_get(8080, "/outbox").await;
    assert_eq!(status, 200, "{page}");

    let path = &link["http://127.0.0.1:8080".len()..];
    let (status, page) = http_get(8080, path).await;
    assert_eq!(status, 200, "{page}");

    let r = crate::submit(&serde_json::json!({
        "port": 2587, "user": "ann@praktijk.test", "password": PASSWORD,
        "messages": [message("ann@praktijk.test", &["bob@partner.test"], "Overleg", "Tot morgen.")],
    }));
    assert_eq!(r[0]["ok"], true, "{r:?}");
    // Nothing leaves the machine: the message lands in the outbox.
    let outbox = dir.join("veilpost-data").join("outbox");
    let start = Instant::now();
    let eml = loop {
        let found = std::fs::read_dir(&outbox)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            // Written under a dot-name, then renamed: only finished files count.
            .find(|p| {
                p.extension().is_some_and(|x| x == "eml")
                    && !p
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            });
        if let Some(p) = found {
            break p;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "nothing in {}",
            outbox.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = std::fs::read_to_string(&eml).expect("eml");
    assert!(text.contains("Tot morgen."), "{text}");
    assert!(
        dir.join("veilpost-data").join("tls").exists(),
        "self-signed certificate made"
    );
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
