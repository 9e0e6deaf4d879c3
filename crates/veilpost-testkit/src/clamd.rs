//! A real ClamAV daemon (Debian's clamav-daemon, installed by .ci/run) with a one-line
//! signature database of our own: the MD5 of the "malicious" test file (no signature
//! download).

/// The daemon, killed on drop.
pub struct Clamd {
    child: std::process::Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
}

impl Drop for Clamd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The file our signature knows.
pub const BAD_FILE: &[u8] = b"Veilpost test: pretend this is malware, 7f3c1a";

/// Start clamd with its files in `dir`; waits until it listens.
pub fn start(dir: &std::path::Path) -> Clamd {
    let db = dir.join("clamdb");
    std::fs::create_dir_all(&db).expect("db dir");
    let md5 = {
        let out = std::process::Command::new("md5sum")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin.take().expect("stdin").write_all(BAD_FILE)?;
                c.wait_with_output()
            })
            .expect("md5sum");
        String::from_utf8_lossy(&out.stdout)[..32].to_string()
    };
    std::fs::write(
        db.join("veilpost.hdb"),
        format!("{md5}:{}:Veilpost.Test.Malware\n", BAD_FILE.len()),
    )
    .expect("signature");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let conf = dir.join("clamd.conf");
    std::fs::write(
        &conf,
        format!(
            "DatabaseDirectory {}\nTCPSocket {port}\nTCPAddr 127.0.0.1\nForeground yes\nLogFile {}\n",
            db.display(),
            dir.join("clamd.log").display()
        ),
    )
    .expect("conf");
    let child = std::process::Command::new("clamd")
        .arg("-c")
        .arg(&conf)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("clamd (Debian package clamav-daemon; .ci/run installs it)");
    let start = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "clamd did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Clamd {
        child,
        addr: format!("127.0.0.1:{port}"),
    }
}
