//! Readiness (`/healthz/ready`, `veilpost healthcheck`): the facts are gathered at the
//! edge — the database answers, blobs can be stored, free space where the spool is, a
//! DKIM key for every organisation domain, when the STARTTLS certificate expires — and
//! graded in pure code.

use std::path::Path;

use veilpost_web::health::HealthCheck;

use super::Shared;

/// Below this much free space (or 2 % of the disk) the spool takes no more mail.
pub const MIN_FREE_BYTES: u64 = 512 * 1024 * 1024;

/// What readiness is judged on.
#[derive(Debug, Clone)]
pub struct Facts {
    pub database: Result<(), String>,
    pub blobs: Result<(), String>,
    /// Free and total bytes where the data directory is.
    pub disk: Result<(u64, u64), String>,
    /// Organisation domains without a DKIM key.
    pub dkim_missing: Vec<String>,
    /// When the STARTTLS certificate expires (Unix time).
    pub certificate_expires: Result<i64, String>,
    pub now: i64,
}

fn check(id: &str, ok: bool, detail: impl Into<String>) -> HealthCheck {
    HealthCheck {
        id: id.into(),
        ok,
        detail: detail.into(),
    }
}

/// Grade the facts: one check each, in a fixed order.
pub fn grade(f: &Facts) -> Vec<HealthCheck> {
    let reached = |id: &str, r: &Result<(), String>| match r {
        Ok(()) => check(id, true, "ok"),
        Err(e) => check(id, false, e.clone()),
    };
    let disk = match f.disk {
        Ok((free, total)) => {
            let low = free < MIN_FREE_BYTES || free.saturating_mul(50) < total;
            check(
                "disk",
                !low,
                format!("{} MiB free of {} MiB", free >> 20, total >> 20),
            )
        }
        Err(ref e) => check("disk", false, e.clone()),
    };
    let dkim = if f.dkim_missing.is_empty() {
        check("dkim", true, "a key for every organisation domain")
    } else {
        check(
            "dkim",
            false,
            format!("no key for {}", f.dkim_missing.join(", ")),
        )
    };
    let certificate = match f.certificate_expires {
        Ok(at) if at <= f.now => {
            check("certificate", false, "the STARTTLS certificate has expired")
        }
        Ok(at) => check(
            "certificate",
            true,
            format!("expires in {} days", (at - f.now) / 86_400),
        ),
        Err(ref e) => check("certificate", false, e.clone()),
    };
    vec![
        reached("database", &f.database),
        reached("blobs", &f.blobs),
        disk,
        dkim,
        certificate,
    ]
}

/// What a failed check says to anyone who asks (the endpoint is on the public web
/// listener): no paths, no addresses; the cause goes to the log.
fn said<E: std::fmt::Display>(what: &'static str) -> impl FnOnce(E) -> String {
    move |e| {
        tracing::warn!("readiness: {what}: {e}");
        what.to_string()
    }
}

/// How long an answer is reused: probes at any rate cost at most one round of checks a
/// second (the endpoint is public).
const FRESH: std::time::Duration = std::time::Duration::from_secs(1);

/// The last answer and when it was made.
pub type Answer = tokio::sync::Mutex<Option<(std::time::Instant, Vec<HealthCheck>)>>;

/// The checks, made at most once a second; probes meanwhile wait for the answer in hand.
pub async fn checks(shared: &Shared) -> Vec<HealthCheck> {
    let mut last = shared.readiness.lock().await;
    if let Some((at, checks)) = last.as_ref()
        && at.elapsed() < FRESH
    {
        return checks.clone();
    }
    let checks = gather(shared).await;
    *last = Some((std::time::Instant::now(), checks.clone()));
    checks
}

/// Gather the facts and grade them.
async fn gather(shared: &Shared) -> Vec<HealthCheck> {
    let store = &shared.store;
    let facts = Facts {
        database: store
            .check_database()
            .await
            .map_err(said("the database does not answer")),
        blobs: store
            .blobs()
            .check()
            .await
            .map_err(said("blobs cannot be stored")),
        disk: free_space(&shared.config.data_dir).map_err(said("free space unknown")),
        dkim_missing: shared
            .config
            .organisation
            .domains
            .iter()
            .filter(|d| shared.dkim.key(d).is_none())
            .cloned()
            .collect(),
        certificate_expires: super::certs::facts(&super::certs::paths(&shared.config).0)
            .map(|f| f.not_after)
            .map_err(said("the STARTTLS certificate cannot be read")),
        now: store.now(),
    };
    grade(&facts)
}

fn free_space(dir: &Path) -> Result<(u64, u64), String> {
    let s = rustix::fs::statvfs(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok((
        s.f_bavail.saturating_mul(s.f_frsize),
        s.f_blocks.saturating_mul(s.f_frsize),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn healthy() -> Facts {
        Facts {
            database: Ok(()),
            blobs: Ok(()),
            disk: Ok((10 << 30, 100 << 30)),
            dkim_missing: Vec::new(),
            certificate_expires: Ok(1_000_000 + 90 * 86_400),
            now: 1_000_000,
        }
    }

    fn failing(f: &Facts) -> Vec<String> {
        grade(f)
            .into_iter()
            .filter(|c| !c.ok)
            .map(|c| c.id)
            .collect()
    }

    /// A case: its name, what differs from a healthy node, the checks that fail.
    type Case = (
        &'static str,
        Box<dyn Fn(&mut Facts)>,
        &'static [&'static str],
    );

    #[test]
    fn readiness_table() {
        let cases: Vec<Case> = vec![
            ("all well", Box::new(|_| {}), &[]),
            (
                "database down",
                Box::new(|f| f.database = Err("refused".into())),
                &["database"],
            ),
            (
                "bucket refused",
                Box::new(|f| f.blobs = Err("403".into())),
                &["blobs"],
            ),
            (
                "under 512 MiB free",
                Box::new(|f| f.disk = Ok((100 << 20, 100 << 30))),
                &["disk"],
            ),
            (
                "under 2 % free",
                Box::new(|f| f.disk = Ok((1 << 30, 100 << 30))),
                &["disk"],
            ),
            (
                "2.5 % free of a small disk",
                Box::new(|f| f.disk = Ok((1 << 30, 40 << 30))),
                &[],
            ),
            (
                "no statvfs",
                Box::new(|f| f.disk = Err("gone".into())),
                &["disk"],
            ),
            (
                "a domain without key",
                Box::new(|f| f.dkim_missing = vec!["praktijk.nl".into()]),
                &["dkim"],
            ),
            (
                "expired certificate",
                Box::new(|f| f.certificate_expires = Ok(f.now)),
                &["certificate"],
            ),
            (
                "unreadable certificate",
                Box::new(|f| f.certificate_expires = Err("x".into())),
                &["certificate"],
            ),
            (
                "two at once",
                Box::new(|f| {
                    f.database = Err("x".into());
                    f.certificate_expires = Ok(0);
                }),
                &["database", "certificate"],
            ),
        ];
        for (name, change, want) in cases {
            let mut f = healthy();
            change(&mut f);
            assert_eq!(failing(&f), want.to_vec(), "{name}");
        }
        let ids: Vec<String> = grade(&healthy()).into_iter().map(|c| c.id).collect();
        assert_eq!(ids, ["database", "blobs", "disk", "dkim", "certificate"]);
        let cert = &grade(&healthy())[4];
        assert_eq!(cert.detail, "expires in 90 days");
    }
}
