//! DMARC aggregate and TLS-RPT reports (issue 19): counted once each (by reporter and
//! report id), their rows normalised for the summary and the pages, and what was set
//! aside kept with its reason. Retention: [`Store::purge_auth_reports`].

use sqlx::FromRow;
use veilpost_reports::{Outcome, Report, SourceTotals, Step, Summary, Taken};

use crate::{Result, Store, new_id};

/// What became of a report handed to [`Store::add_auth_reports`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Counted {
    /// Counted now, under this id.
    New(String),
    /// The same report (its [`Report::key`]) was counted before: nothing added.
    Duplicate,
}

/// Something set aside: why, and what it was.
#[derive(Debug, Clone, Default)]
pub struct NewAside<'a> {
    /// `mail`, `import` or `https`.
    pub via: &'a str,
    /// The file name, the sender address or the client address.
    pub origin: &'a str,
    /// `not_our_domain`, `future_dates`, `duplicate`, `unauthenticated`, `unreadable`, …
    pub reason: &'a str,
    pub detail: &'a str,
    pub report: Option<&'a Report>,
    /// The input as it came (none for a duplicate).
    pub raw: Option<&'a [u8]>,
}

/// A set-aside entry as listed (the input itself is not read for a list).
#[derive(Debug, Clone, FromRow)]
pub struct AsideEntry {
    pub id: String,
    pub received_at: i64,
    pub via: String,
    pub origin: String,
    pub reason: String,
    pub detail: String,
    pub kind: String,
    pub reporter: String,
    pub report_id: String,
    pub domain: String,
}

/// One DMARC row as the pages show it.
#[derive(Debug, Clone, FromRow)]
pub struct DmarcRowView {
    pub reporter: String,
    pub begin_at: i64,
    pub end_at: i64,
    pub source_ip: String,
    pub count: i64,
    pub disposition: String,
    pub spf_aligned: bool,
    pub dkim_aligned: bool,
    pub header_from: String,
    pub envelope_from: String,
    pub dkim_domain: String,
    pub dkim_selector: String,
    pub dkim_result: String,
    pub spf_domain: String,
    pub spf_result: String,
}

/// Failed TLS sessions of one kind, added up over the period.
#[derive(Debug, Clone, FromRow)]
pub struct TlsFailureTotal {
    pub mx: String,
    pub result_type: String,
    pub failures: i64,
}

/// A TLS policy's sessions added up over the period.
#[derive(Debug, Clone, FromRow)]
pub struct TlsPolicyTotal {
    pub domain: String,
    pub policy_type: String,
    pub successes: i64,
    pub failures: i64,
}

/// Rows in one INSERT (18 values each at most, well under SQLite's 32,766 parameters).
const ROWS_PER_INSERT: usize = 500;

/// Report headers in one INSERT (12 values each).
const HEADS_PER_INSERT: usize = 1000;

/// What `auth_reports` keeps of a report.
#[derive(Debug)]
struct Head {
    id: String,
    kind: &'static str,
    key: String,
    reporter: String,
    contact: String,
    report_id: String,
    domain: String,
    begin: i64,
    end: i64,
    policy: String,
    via: String,
}

impl Head {
    fn of(report: &Report, via: &str) -> Head {
        let (reporter, contact, report_id, domain, policy) = match report {
            Report::Dmarc(r) => (
                &r.reporter,
                &r.reporter_email,
                &r.report_id,
                r.domain.clone(),
                r.policy.clone(),
            ),
            Report::Tlsrpt(r) => (
                &r.organization,
                &r.contact,
                &r.report_id,
                report.domains().into_iter().next().unwrap_or_default(),
                String::new(),
            ),
        };
        let (begin, end) = report.period();
        Head {
            id: new_id(),
            kind: report.kind(),
            key: report.key(),
            reporter: reporter.clone(),
            contact: contact.clone(),
            report_id: report_id.clone(),
            domain,
            begin,
            end,
            policy,
            via: via.to_string(),
        }
    }
}

impl Store {
    /// Count `reports` (each with how it came: `mail`, `import`, `https`) in one
    /// transaction. A report counted before (same key), or earlier in the same call, is
    /// not counted again. Many reports and rows go to one statement: a round trip to the
    /// database per few hundred, not per report.
    pub async fn add_auth_reports(&self, reports: &[(&Report, &str)]) -> Result<Vec<Counted>> {
        let mut tx = self.pool.write_tx().await?;
        let now = self.now();
        let heads: Vec<Head> = reports
            .iter()
            .map(|(report, via)| Head::of(report, via))
            .collect();
        // The headers: the keys the database took are the reports counted now.
        let mut taken: std::collections::HashSet<String> = std::collections::HashSet::new();
        for chunk in heads.chunks(HEADS_PER_INSERT) {
            let keys: Vec<String> = crate::db::on_tx!(&mut tx, c => {
                let mut q = sqlx::QueryBuilder::new(
                    "INSERT INTO auth_reports (id, kind, report_key, reporter, contact, report_id,
                            domain, begin_at, end_at, policy, received_at, via) ",
                );
                q.push_values(chunk, |mut b, h| {
                    b.push_bind(h.id.clone())
                        .push_bind(h.kind)
                        .push_bind(h.key.clone())
                        .push_bind(h.reporter.clone())
                        .push_bind(h.contact.clone())
                        .push_bind(h.report_id.clone())
                        .push_bind(h.domain.clone())
                        .push_bind(h.begin)
                        .push_bind(h.end)
                        .push_bind(h.policy.clone())
                        .push_bind(now)
                        .push_bind(h.via.clone());
                });
                q.push(" ON CONFLICT(report_key) DO NOTHING RETURNING report_key");
                q.build_query_scalar().fetch_all(&mut *c).await
            })?;
            taken.extend(keys);
        }
        // The first report with a key the database took is the one counted.
        let mut out = Vec::with_capacity(reports.len());
        let mut dmarc_rows = Vec::new();
        let mut tls_rows = Vec::new();
        for ((report, _), head) in reports.iter().zip(&heads) {
            if !taken.remove(&head.key) {
                out.push(Counted::Duplicate);
                continue;
            }
            match report {
                Report::Dmarc(r) => dmarc_rows.extend(r.rows.iter().map(|row| (head, r, row))),
                Report::Tlsrpt(r) => {
                    for p in &r.policies {
                        tls_rows.push((head, p, None));
                        tls_rows.extend(p.failure_details.iter().map(|f| (head, p, Some(f))));
                    }
                }
            }
            out.push(Counted::New(head.id.clone()));
        }
        for chunk in dmarc_rows.chunks(ROWS_PER_INSERT) {
            crate::db::on_tx!(&mut tx, c => {
                let mut q = sqlx::QueryBuilder::new(
                    "INSERT INTO dmarc_rows (report, domain, begin_at, end_at, reporter, source_ip,
                            count, disposition, spf_aligned, dkim_aligned, header_from, envelope_from,
                            dkim_domain, dkim_selector, dkim_result, spf_domain, spf_result, auth) ",
                );
                q.push_values(chunk, |mut b, (head, r, row)| {
                    let dkim = row.main_dkim();
                    let spf = row.main_spf();
                    let auth = serde_json::json!({"dkim": row.dkim, "spf": row.spf});
                    b.push_bind(head.id.clone())
                        .push_bind(r.domain.clone())
                        .push_bind(head.begin)
                        .push_bind(head.end)
                        .push_bind(r.reporter.clone())
                        .push_bind(row.source_ip.map(|ip| ip.to_string()).unwrap_or_default())
                        .push_bind(i64::from(row.count))
                        .push_bind(row.disposition.clone())
                        .push_bind(row.spf_aligned)
                        .push_bind(row.dkim_aligned)
                        .push_bind(row.header_from.clone())
                        .push_bind(row.envelope_from.clone())
                        .push_bind(dkim.map_or(String::new(), |d| d.domain.clone()))
                        .push_bind(dkim.map_or(String::new(), |d| d.selector.clone()))
                        .push_bind(dkim.map_or(String::new(), |d| d.result.clone()))
                        .push_bind(spf.map_or(String::new(), |s| s.domain.clone()))
                        .push_bind(spf.map_or(String::new(), |s| s.result.clone()))
                        .push_bind(auth.to_string());
                });
                q.build().execute(&mut *c).await.map(|_| ())
            })?;
        }
        for chunk in tls_rows.chunks(ROWS_PER_INSERT) {
            crate::db::on_tx!(&mut tx, c => {
                let mut q = sqlx::QueryBuilder::new(
                    "INSERT INTO tls_rows (report, domain, begin_at, end_at, reporter, policy_type, mx,
                            result_type, sending_ip, successes, failures) ",
                );
                // A policy's own row carries its totals; each failure detail a row of its own.
                q.push_values(chunk, |mut b, (head, p, failure)| {
                    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
                    let (mx, result_type, ip, ok, failed) = match failure {
                        None => (
                            String::new(),
                            String::new(),
                            String::new(),
                            p.successes,
                            p.failures,
                        ),
                        Some(f) => (
                            f.mx.clone(),
                            f.result_type.clone(),
                            f.sending_ip.map(|ip| ip.to_string()).unwrap_or_default(),
                            0,
                            f.count,
                        ),
                    };
                    b.push_bind(head.id.clone())
                        .push_bind(p.domain.clone())
                        .push_bind(head.begin)
                        .push_bind(head.end)
                        .push_bind(head.reporter.clone())
                        .push_bind(p.policy_type.clone())
                        .push_bind(mx)
                        .push_bind(result_type)
                        .push_bind(ip)
                        .push_bind(count(ok))
                        .push_bind(count(failed));
                });
                q.build().execute(&mut *c).await.map(|_| ())
            })?;
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Keep something set aside; returns its id.
    pub async fn set_report_aside(&self, a: &NewAside<'_>) -> Result<String> {
        let id = new_id();
        let (kind, reporter, report_id, domain) = match a.report {
            Some(r @ Report::Dmarc(d)) => (
                r.kind(),
                d.reporter.as_str(),
                d.report_id.as_str(),
                r.domains().join(" "),
            ),
            Some(r @ Report::Tlsrpt(t)) => (
                r.kind(),
                t.organization.as_str(),
                t.report_id.as_str(),
                r.domains().join(" "),
            ),
            None => ("", "", "", String::new()),
        };
        crate::db::on!(&self.pool, ex => sqlx::query(
            "INSERT INTO reports_aside (id, received_at, via, origin, reason, detail, kind,
                    reporter, report_id, domain, raw)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&id)
        .bind(self.now())
        .bind(a.via)
        .bind(a.origin)
        .bind(a.reason)
        .bind(a.detail)
        .bind(kind)
        .bind(reporter)
        .bind(report_id)
        .bind(domain)
        .bind(a.raw)
        .execute(ex).await.map(|r| r.rows_affected()))?;
        Ok(id)
    }

    /// What was set aside, newest first (at most `limit`).
    pub async fn reports_aside(&self, limit: i64) -> Result<Vec<AsideEntry>> {
        Ok(crate::db::on!(&self.pool, ex => sqlx::query_as(
            "SELECT id, received_at, via, origin, reason, detail, kind, reporter, report_id,
                    domain
               FROM reports_aside ORDER BY received_at DESC, id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(ex).await)?)
    }

    /// The input of one set-aside entry, as it came.
    pub async fn report_aside_raw(&self, id: &str) -> Result<Option<Vec<u8>>> {
        Ok(
            crate::db::on!(&self.pool, ex => sqlx::query_scalar("SELECT raw FROM reports_aside WHERE id = $1")
                .bind(id)
                .fetch_optional(ex).await)?
                .flatten(),
        )
    }

    /// Per source IP, the messages under `domain`'s policy in reports whose period ends
    /// after `since`, and how many were aligned.
    pub async fn dmarc_sources(&self, domain: &str, since: i64) -> Result<Vec<SourceTotals>> {
        let rows: Vec<(String, i64, i64, i64, i64)> = crate::db::on!(&self.pool, ex => sqlx::query_as(
            "SELECT source_ip, CAST(SUM(count) AS BIGINT),
                    CAST(SUM(CASE WHEN spf_aligned THEN count ELSE 0 END) AS BIGINT),
                    CAST(SUM(CASE WHEN dkim_aligned THEN count ELSE 0 END) AS BIGINT),
                    CAST(SUM(CASE WHEN spf_aligned OR dkim_aligned THEN count ELSE 0 END) AS BIGINT)
               FROM dmarc_rows WHERE domain = $1 AND end_at > $2
              GROUP BY source_ip",
        )
        .bind(domain)
        .bind(since)
        .fetch_all(ex).await)?;
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        Ok(rows
            .into_iter()
            .map(|(ip, count, spf, dkim, pass)| SourceTotals {
                ip,
                count: n(count),
                spf_aligned: n(spf),
                dkim_aligned: n(dkim),
                dmarc_pass: n(pass),
            })
            .collect())
    }

    /// Who sends as `domain` in reports whose period ends after `since`, and whether
    /// `p=reject` is safe: what `veilpost report summary` prints and the pages show.
    pub async fn dmarc_summary(&self, domain: &str, since: i64) -> Result<Summary> {
        let domain = veilpost_reports::normalize_domain(domain);
        let totals = self.dmarc_sources(&domain, since).await?;
        Ok(veilpost_reports::summarise(&domain, totals))
    }

    /// The DMARC rows of `domain` since `since`, most messages first (at most `limit`).
    pub async fn dmarc_rows(
        &self,
        domain: &str,
        since: i64,
        limit: i64,
    ) -> Result<Vec<DmarcRowView>> {
        Ok(crate::db::on!(&self.pool, ex => sqlx::query_as(
            "SELECT reporter, begin_at, end_at, source_ip, count, disposition, spf_aligned,
                    dkim_aligned, header_from, envelope_from, dkim_domain, dkim_selector,
                    dkim_result, spf_domain, spf_result
               FROM dmarc_rows WHERE domain = $1 AND end_at > $2
              ORDER BY count DESC, source_ip LIMIT $3",
        )
        .bind(domain)
        .bind(since)
        .bind(limit)
        .fetch_all(ex).await)?)
    }

    /// The domains that have DMARC or TLS reports, in order.
    pub async fn report_domains(&self) -> Result<Vec<String>> {
        Ok(crate::db::on!(&self.pool, ex => sqlx::query_scalar(
            "SELECT DISTINCT domain FROM dmarc_rows
             UNION SELECT DISTINCT domain FROM tls_rows ORDER BY 1",
        )
        .fetch_all(ex).await)?)
    }

    /// TLS sessions per policy of `domain` since `since`.
    pub async fn tls_policies(&self, domain: &str, since: i64) -> Result<Vec<TlsPolicyTotal>> {
        Ok(crate::db::on!(&self.pool, ex => sqlx::query_as(
            "SELECT domain, policy_type, CAST(SUM(successes) AS BIGINT) AS successes,
                    CAST(SUM(failures) AS BIGINT) AS failures
               FROM tls_rows WHERE domain = $1 AND end_at > $2 AND result_type = ''
              GROUP BY domain, policy_type ORDER BY policy_type",
        )
        .bind(domain)
        .bind(since)
        .fetch_all(ex).await)?)
    }

    /// Failed TLS sessions of `domain` since `since` by receiving MX and result type,
    /// most first.
    pub async fn tls_failures(&self, domain: &str, since: i64) -> Result<Vec<TlsFailureTotal>> {
        Ok(crate::db::on!(&self.pool, ex => sqlx::query_as(
            "SELECT mx, result_type, CAST(SUM(failures) AS BIGINT) AS failures
               FROM tls_rows WHERE domain = $1 AND end_at > $2 AND result_type <> ''
              GROUP BY mx, result_type ORDER BY failures DESC, mx, result_type",
        )
        .bind(domain)
        .bind(since)
        .fetch_all(ex).await)?)
    }

    /// Remove reports whose period ended before `before`, with their rows, and set-aside
    /// entries received before it. Returns how many reports went.
    pub async fn purge_auth_reports(&self, before: i64) -> Result<u64> {
        let mut tx = self.pool.write_tx().await?;
        // Their rows go with them (ON DELETE CASCADE; the store turns foreign keys on).
        let gone = crate::db::on_tx!(&mut tx, c => sqlx::query("DELETE FROM auth_reports WHERE end_at < $1")
            .bind(before)
            .execute(&mut *c).await.map(|r| r.rows_affected()))?;
        crate::db::on_tx!(&mut tx, c => sqlx::query("DELETE FROM reports_aside WHERE received_at < $1")
            .bind(before)
            .execute(&mut *c).await.map(|r| r.rows_affected()))?;
        tx.commit().await?;
        Ok(gone)
    }

    /// Sources without a reverse DNS entry in reports received from `received_since` on
    /// (Unix seconds), at most `limit`. Only the newer reports are read: a caller that
    /// asks again with the time of its last complete answer reads only what came since.
    pub async fn ips_to_name(&self, received_since: i64, limit: i64) -> Result<Vec<String>> {
        Ok(crate::db::on!(&self.pool, ex => sqlx::query_scalar(
            "SELECT DISTINCT r.source_ip FROM dmarc_rows r
               LEFT JOIN ip_names n ON n.ip = r.source_ip
              WHERE r.report IN (SELECT id FROM auth_reports WHERE received_at >= $1)
                AND r.source_ip <> '' AND n.ip IS NULL
              LIMIT $2",
        )
        .bind(received_since)
        .bind(limit)
        .fetch_all(ex).await)?)
    }

    /// Keep the reverse DNS name of `ip` ('' for none).
    pub async fn set_ip_name(&self, ip: &str, name: &str) -> Result<()> {
        crate::db::on!(&self.pool, ex => sqlx::query(
            "INSERT INTO ip_names (ip, name, looked_at) VALUES ($1, $2, $3)
             ON CONFLICT(ip) DO UPDATE SET name = excluded.name, looked_at = excluded.looked_at",
        )
        .bind(ip)
        .bind(name)
        .bind(self.now())
        .execute(ex).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The known reverse DNS names of the report sources (only those with a name).
    pub async fn ip_names(&self) -> Result<std::collections::HashMap<String, String>> {
        let rows: Vec<(String, String)> = crate::db::on!(&self.pool, ex => sqlx::query_as("SELECT ip, name FROM ip_names WHERE name <> ''")
                .fetch_all(ex).await)?;
        Ok(rows.into_iter().collect())
    }

    /// The DMARC policy (`p=`) the newest report about `domain` saw, if any.
    pub async fn reported_policy(&self, domain: &str) -> Result<Option<String>> {
        Ok(crate::db::on!(&self.pool, ex => sqlx::query_scalar(
            "SELECT policy FROM auth_reports WHERE kind = 'dmarc' AND domain = $1
              ORDER BY end_at DESC LIMIT 1",
        )
        .bind(domain)
        .fetch_optional(ex).await)?)
    }

    /// Record what was decided: reports counted in one transaction (duplicates found by the
    /// store), the rest set aside with the input.
    pub async fn record_reports(&self, via: &str, taken: &[Taken<'_>]) -> Result<Vec<Outcome>> {
        let counting: Vec<(&Report, &str)> = taken
            .iter()
            .flat_map(|t| t.steps.iter())
            .filter_map(|s| match s {
                Step::Count(r) => Some((r, via)),
                _ => None,
            })
            .collect();
        let mut counted = self.add_auth_reports(&counting).await?.into_iter();
        let mut out = Vec::new();
        for t in taken {
            for step in &t.steps {
                out.push(match step {
                    Step::Count(r) => match counted.next() {
                        Some(Counted::New(_)) => Outcome::of(&t.origin, "counted", "", Some(r)),
                        _ => Outcome::of(&t.origin, "duplicate", "duplicate", Some(r)),
                    },
                    Step::Aside(r, why) => {
                        self.set_report_aside(&NewAside {
                            via,
                            origin: &t.origin,
                            reason: why.as_str(),
                            detail: "",
                            report: Some(r),
                            raw: Some(t.raw),
                        })
                        .await?;
                        Outcome::of(&t.origin, "aside", why.as_str(), Some(r))
                    }
                    Step::Unreadable(e) => {
                        let detail = e.to_string();
                        self.set_report_aside(&NewAside {
                            via,
                            origin: &t.origin,
                            reason: "unreadable",
                            detail: &detail,
                            report: None,
                            raw: Some(t.raw),
                        })
                        .await?;
                        Outcome {
                            detail,
                            ..Outcome::of(&t.origin, "aside", "unreadable", None)
                        }
                    }
                });
            }
        }
        Ok(out)
    }
}
