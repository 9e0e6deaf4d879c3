//! A real Postfix (Debian's package, installed by .ci/run) as a private instance on
//! loopback: its own configuration, queue and log under a test directory, its SMTP server
//! on a port of the test's choosing. It stands for the organisation's mail server: mail
//! for the organisation's domain goes on to `deliver_to` (a sink standing for the
//! mailboxes), everything else to `relayhost` (Veilpost's submission port), and
//! `milter` (Veilpost's milter listener) is asked before a message is taken.
//!
//! Postfix's master runs as root and drops to the `postfix` user, so this needs root
//! (as CI has); it is stopped on drop.

use std::path::{Path, PathBuf};
use std::process::Command;

/// How the instance is wired.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The organisation's domain (mail for it is delivered to `deliver_to`).
    pub domain: String,
    /// `127.0.0.1:PORT` standing for the mailboxes.
    pub deliver_to: String,
    /// `127.0.0.1:PORT` every other domain's mail goes to (Veilpost as relayhost).
    pub relayhost: Option<String>,
    /// `127.0.0.1:PORT` of a milter asked about every message the SMTP server takes.
    pub milter: Option<String>,
    /// What Postfix does when the milter cannot be reached: `tempfail` (Postfix's
    /// default), `accept`, `reject`.
    pub milter_default_action: String,
}

/// The running instance.
#[derive(Debug)]
pub struct Postfix {
    dir: PathBuf,
    /// Its SMTP server for mail from outside (the MX: the milter is asked),
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// Its submission server for staff (no milter: their mail goes to `relayhost`).
    pub submission: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port()
}

/// `127.0.0.1:25` as Postfix writes a next hop without an MX look-up: `[127.0.0.1]:25`.
fn bracketed(addr: &str) -> String {
    match addr.rsplit_once(':') {
        Some((host, port)) => format!("[{host}]:{port}"),
        None => format!("[{addr}]"),
    }
}

fn postfix(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("postfix")
        .arg("-c")
        .arg(dir.join("etc"))
        .args(args)
        .output()
        .expect("postfix (Debian package postfix; .ci/run installs it)")
}

impl Postfix {
    /// Write the configuration under `dir` and start; waits until the SMTP server listens.
    pub fn start(dir: &Path, o: &Options) -> Postfix {
        let etc = dir.join("etc");
        for d in ["etc", "spool", "data"] {
            std::fs::create_dir_all(dir.join(d)).expect("postfix dir");
        }
        // The data directory is the postfix user's (its lock and caches live there).
        let chown = Command::new("chown")
            .arg("postfix")
            .arg(dir.join("data"))
            .status()
            .expect("chown");
        assert!(chown.success(), "chown postfix: running as root?");
        let port = free_port();
        let submission = free_port();
        let d = dir.display();
        let mut main = format!(
            "compatibility_level = 3.6\n\
             queue_directory = {d}/spool\n\
             data_directory = {d}/data\n\
             mail_owner = postfix\n\
             myhostname = mail.{domain}\n\
             mydomain = {domain}\n\
             mydestination =\n\
             inet_interfaces = 127.0.0.1\n\
             inet_protocols = ipv4\n\
             mynetworks = 127.0.0.0/8\n\
             relay_domains = {domain}\n\
             transport_maps = inline:{{ {domain}=smtp:{deliver} }}\n\
             maillog_file_prefixes = {d}\n\
             maillog_file = {d}/maillog\n\
             smtpd_peername_lookup = no\n\
             disable_dns_lookups = yes\n\
             smtp_host_lookup = native\n\
             alias_maps =\n\
             alias_database =\n\
             biff = no\n\
             smtp_tls_security_level = none\n\
             milter_protocol = 6\n\
             milter_default_action = {action}\n\
             queue_run_delay = 2s\n\
             minimal_backoff_time = 2s\n\
             maximal_backoff_time = 4s\n",
            domain = o.domain,
            deliver = bracketed(&o.deliver_to),
            action = if o.milter_default_action.is_empty() {
                "tempfail"
            } else {
                &o.milter_default_action
            },
        );
        if let Some(relay) = &o.relayhost {
            main.push_str(&format!("relayhost = {}\n", bracketed(relay)));
        }
        if let Some(milter) = &o.milter {
            main.push_str(&format!("smtpd_milters = inet:{milter}\n"));
        }
        std::fs::write(etc.join("main.cf"), main).expect("main.cf");
        // Debian's services, the SMTP server on our port, nothing chrooted (no copies of
        // /etc needed in the queue directory).
        let master = std::fs::read_to_string("/etc/postfix/master.cf").expect("master.cf");
        let master: String = master
            .lines()
            .map(|l| {
                let fields: Vec<&str> = l.split_whitespace().collect();
                if l.starts_with('#') || l.starts_with(char::is_whitespace) || fields.len() < 8 {
                    return format!("{l}\n");
                }
                if fields[0] == "smtp" && fields[1] == "inet" {
                    return format!(
                        "127.0.0.1:{port} inet n - n - - smtpd\n\
                         127.0.0.1:{submission} inet n - n - - smtpd -o smtpd_milters=\n"
                    );
                }
                let mut f = fields.clone();
                f[4] = "n";
                format!("{}\n", f.join(" "))
            })
            .collect();
        std::fs::write(etc.join("master.cf"), master).expect("master.cf");
        let check = postfix(dir, &["check"]);
        let start = postfix(dir, &["start"]);
        let me = Postfix {
            dir: dir.to_path_buf(),
            addr: format!("127.0.0.1:{port}"),
            submission: format!("127.0.0.1:{submission}"),
        };
        let began = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                began.elapsed() < std::time::Duration::from_secs(30),
                "postfix did not start: {}{}{}\n{}",
                String::from_utf8_lossy(&check.stderr),
                String::from_utf8_lossy(&start.stderr),
                String::from_utf8_lossy(&start.stdout),
                me.log()
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        me
    }

    /// Postfix's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("maillog")).unwrap_or_default()
    }

    /// Messages waiting in Postfix's queue (`postqueue -p`'s count).
    pub fn queued(&self) -> usize {
        let out = Command::new("postqueue")
            .arg("-c")
            .arg(self.dir.join("etc"))
            .arg("-j")
            .output()
            .expect("postqueue");
        String::from_utf8_lossy(&out.stdout).lines().count()
    }

    /// Try the deferred mail now.
    pub fn flush(&self) {
        let _ = Command::new("postqueue")
            .arg("-c")
            .arg(self.dir.join("etc"))
            .arg("-f")
            .output();
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let _ = postfix(&self.dir, &["stop"]);
    }
}
