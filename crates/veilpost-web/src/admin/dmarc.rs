//! DMARC and TLS reports (issue 19; admin and auditor): per domain, every source that
//! sent as it (reverse DNS, volume, pass rate, DKIM d= and selector, SPF domain) grouped
//! as fully, partly and not aligned, a failures-only filter, the split per reporter, the
//! pass rate per day as a chart drawn on the server, TLS failures by MX and result type,
//! and whether `p=reject` is safe, with the sources it would cost; CSV and JSON export.

use std::collections::HashMap;

use veilpost_reports::{Alignment, DomainView, RowFacts, SourceDetail};
use veilpost_store::{AsideEntry, TlsFailureTotal, TlsPolicyTotal};

use super::users::urlencode;
use super::*;

/// The most rows one page reads (a large domain's year of reports stays well under).
const ROWS_READ: i64 = 500_000;

#[derive(Debug, Deserialize, Default)]
pub struct ReportQuery {
    /// YYYY-MM-DD: reports whose period ends after the start of that day (UTC).
    #[serde(default)]
    since: String,
    /// `1`: only sources that lose mail under DMARC.
    #[serde(default)]
    failures: String,
    /// Only this reporter's rows.
    #[serde(default)]
    reporter: String,
}

impl ReportQuery {
    fn since(&self) -> i64 {
        veilpost_store::users_parse_date(self.since.trim())
            .map_or(i64::MIN, |d| d.midnight().assume_utc().unix_timestamp())
    }

    /// Whether the source is shown: all, or with "failures only" those that lose mail.
    fn shows(&self, src: &SourceDetail) -> bool {
        self.failures != "1" || src.dmarc_pass < src.count
    }

    fn query_string(&self) -> String {
        format!(
            "since={}&failures={}&reporter={}",
            urlencode(&self.since),
            urlencode(&self.failures),
            urlencode(&self.reporter)
        )
    }
}

/// A source as the page shows it.
pub struct SourceRow {
    pub s: SourceDetail,
    /// Reverse DNS, empty when unknown.
    pub name: String,
}

#[derive(Template)]
#[template(path = "admin_dmarc.html")]
struct Overview<'a> {
    lang: Lang,
    organisation: &'a str,
    staff: &'a Staff,
    domains: Vec<DomainLine>,
    aside: Vec<AsideLine>,
}

struct DomainLine {
    domain: String,
    messages: u64,
    ready: bool,
    blocking: usize,
}

struct AsideLine {
    at: String,
    e: AsideEntry,
}

/// `GET /admin/dmarc`: the domains with reports, and what was set aside.
pub async fn overview(State(s): State<WebState>, staff: Staff) -> Result<Response, WebError> {
    staff.require(staff.can_audit())?;
    let mut names = s.settings.domains.clone();
    for d in s.store.report_domains().await? {
        if !names
            .iter()
            .any(|n| veilpost_reports::normalize_domain(n) == d)
        {
            names.push(d);
        }
    }
    let mut domains = Vec::new();
    for d in names {
        let summary = s.store.dmarc_summary(&d, i64::MIN).await?;
        domains.push(DomainLine {
            messages: summary.messages,
            ready: summary.ready_for_reject,
            blocking: summary.blocking_sources.len(),
            domain: summary.domain,
        });
    }
    let aside = s
        .store
        .reports_aside(50)
        .await?
        .into_iter()
        .map(|e| AsideLine {
            at: when(e.received_at, true),
            e,
        })
        .collect();
    let page = Overview {
        lang: staff.lang,
        organisation: &s.organisation,
        staff: &staff,
        domains,
        aside,
    };
    Ok(render(&page, StatusCode::OK))
}

#[derive(Template)]
#[template(path = "admin_dmarc_domain.html")]
struct DomainPage<'a> {
    lang: Lang,
    organisation: &'a str,
    staff: &'a Staff,
    domain: String,
    q: ReportQuery,
    query: String,
    view: DomainView,
    full: Vec<SourceRow>,
    partial: Vec<SourceRow>,
    none: Vec<SourceRow>,
    reporters_seen: Vec<String>,
    chart: String,
    policy: String,
    advised: String,
    tls_policies: Vec<TlsPolicyTotal>,
    tls_failures: Vec<TlsFailureTotal>,
}

/// The rows of `domain` under the query, as the pure view wants them.
async fn rows(s: &WebState, domain: &str, q: &ReportQuery) -> Result<Vec<RowFacts>, WebError> {
    Ok(s.store
        .dmarc_rows(domain, q.since(), ROWS_READ)
        .await?
        .into_iter()
        .filter(|r| q.reporter.is_empty() || r.reporter == q.reporter)
        .map(|r| RowFacts {
            reporter: r.reporter,
            begin: r.begin_at,
            ip: r.source_ip,
            count: u64::try_from(r.count).unwrap_or(0),
            spf_aligned: r.spf_aligned,
            dkim_aligned: r.dkim_aligned,
            dkim_domain: r.dkim_domain,
            dkim_selector: r.dkim_selector,
            spf_domain: r.spf_domain,
        })
        .collect())
}

/// The domain of the path, lower-case; a name with other characters than a domain's
/// (it goes into a file name and a header) is not found.
fn clean_domain(domain: &str, lang: Lang) -> Result<String, WebError> {
    let d = veilpost_reports::normalize_domain(domain);
    if d.is_empty()
        || !d
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
    {
        return Err(not_found(lang));
    }
    Ok(d)
}

/// `GET /admin/dmarc/{domain}`.
pub async fn domain(
    State(s): State<WebState>,
    staff: Staff,
    Path(domain): Path<String>,
    Query(q): Query<ReportQuery>,
) -> Result<Response, WebError> {
    staff.require(staff.can_audit())?;
    let domain = clean_domain(&domain, staff.lang)?;
    let lang = staff.lang;
    let all = rows(&s, &domain, &q).await?;
    let mut reporters_seen: Vec<String> = all.iter().map(|r| r.reporter.clone()).collect();
    reporters_seen.sort();
    reporters_seen.dedup();
    let view = veilpost_reports::domain_view(&domain, &all);
    let names: HashMap<String, String> = s.store.ip_names().await?;
    let (mut full, mut partial, mut none) = (Vec::new(), Vec::new(), Vec::new());
    for src in &view.sources {
        if !q.shows(src) {
            continue;
        }
        let row = SourceRow {
            name: names.get(&src.ip).cloned().unwrap_or_default(),
            s: src.clone(),
        };
        match src.alignment {
            Alignment::Full => full.push(row),
            Alignment::Partial => partial.push(row),
            Alignment::None => none.push(row),
        }
    }
    let chart = veilpost_reports::trend_svg(
        &view.trend,
        lang.t(
            "Aandeel berichten dat slaagt voor DMARC, per dag",
            "Share of messages passing DMARC, per day",
        ),
    );
    let policy = s.store.reported_policy(&domain).await?.unwrap_or_default();
    let advised = if view.summary.ready_for_reject && policy != "reject" {
        format!(
            "_dmarc.{domain}. TXT \"v=DMARC1; p=reject; rua=mailto:{}\"",
            s.settings.dmarc_address
        )
    } else {
        String::new()
    };
    let since = q.since();
    let page = DomainPage {
        lang,
        organisation: &s.organisation,
        staff: &staff,
        query: q.query_string(),
        tls_policies: s.store.tls_policies(&domain, since).await?,
        tls_failures: s.store.tls_failures(&domain, since).await?,
        domain,
        q,
        view,
        full,
        partial,
        none,
        reporters_seen,
        chart,
        policy,
        advised,
    };
    Ok(render(&page, StatusCode::OK))
}

/// The domain of the path and its view under the query, for the exports (admin and
/// auditor only).
async fn export_view(
    s: &WebState,
    staff: &Staff,
    domain: &str,
    q: &ReportQuery,
) -> Result<(String, DomainView, HashMap<String, String>), WebError> {
    staff.require(staff.can_audit())?;
    let domain = clean_domain(domain, staff.lang)?;
    let mut view = veilpost_reports::domain_view(&domain, &rows(s, &domain, q).await?);
    view.sources.retain(|src| q.shows(src));
    Ok((domain, view, s.store.ip_names().await?))
}

/// `GET /admin/dmarc/{domain}/sources.csv`: the sources under the same query.
pub async fn sources_csv(
    State(s): State<WebState>,
    staff: Staff,
    Path(domain): Path<String>,
    Query(q): Query<ReportQuery>,
) -> Result<Response, WebError> {
    let (domain, view, names) = export_view(&s, &staff, &domain, &q).await?;
    let write = || -> Result<Vec<u8>, csv::Error> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record([
            "ip",
            "reverse_dns",
            "messages",
            "dmarc_pass",
            "spf_aligned",
            "dkim_aligned",
            "alignment",
            "dkim",
            "spf_domain",
            "blocks_reject",
        ])?;
        for src in &view.sources {
            w.write_record([
                src.ip.as_str(),
                names.get(&src.ip).map_or("", String::as_str),
                &src.count.to_string(),
                &src.dmarc_pass.to_string(),
                &src.spf_aligned.to_string(),
                &src.dkim_aligned.to_string(),
                src.alignment.as_str(),
                &src.dkim,
                &src.spf_domain,
                if src.blocking { "yes" } else { "no" },
            ])?;
        }
        w.into_inner().map_err(|e| e.into_error().into())
    };
    let body = write().map_err(|e| WebError::internal(staff.lang, format!("sources CSV: {e}")))?;
    Ok(super::contacts::csv_download(
        &format!("dmarc-{domain}.csv"),
        body,
    ))
}

/// `GET /admin/dmarc/{domain}/sources.json`: the summary (as `veilpost report summary
/// --format json`), the sources with detail, the reporters and the days.
pub async fn sources_json(
    State(s): State<WebState>,
    staff: Staff,
    Path(domain): Path<String>,
    Query(q): Query<ReportQuery>,
) -> Result<Response, WebError> {
    let (domain, view, names) = export_view(&s, &staff, &domain, &q).await?;
    let sources: Vec<serde_json::Value> = view
        .sources
        .iter()
        .map(|src| {
            let mut v = serde_json::to_value(src).unwrap_or_default();
            v["reverse_dns"] = names.get(&src.ip).cloned().unwrap_or_default().into();
            v
        })
        .collect();
    let body = serde_json::json!({
        "summary": view.summary,
        "sources": sources,
        "reporters": view.reporters,
        "days": view.trend,
    });
    let mut r = (StatusCode::OK, body.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"dmarc-{domain}.json\"")) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}
