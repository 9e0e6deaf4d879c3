//! The audit log with filters and CSV export (admin and auditor; every look at it is
//! itself logged).

use super::*;

#[derive(Debug, Deserialize, Default)]
pub struct AuditQuery {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    subject: String,
    /// YYYY-MM-DD, inclusive.
    #[serde(default)]
    from: String,
    /// YYYY-MM-DD, inclusive.
    #[serde(default)]
    to: String,
    #[serde(default)]
    page: u32,
}

impl AuditQuery {
    fn filter(&self) -> AuditFilter {
        let day = |d: &str| {
            veilpost_store::users_parse_date(d.trim())
                .map(|d| d.midnight().assume_utc().unix_timestamp())
        };
        AuditFilter {
            actor: Some(self.actor.clone()),
            action: Some(self.action.clone()),
            subject: Some(self.subject.clone()),
            from: day(&self.from),
            to: day(&self.to).map(|t| t + 86_400),
        }
    }

    fn describe(&self) -> String {
        format!(
            "actor={:?} action={:?} subject={:?} from={:?} to={:?}",
            self.actor, self.action, self.subject, self.from, self.to
        )
    }

    fn query_string(&self) -> String {
        let enc = urlencode;
        format!(
            "actor={}&action={}&subject={}&from={}&to={}",
            enc(&self.actor),
            enc(&self.action),
            enc(&self.subject),
            enc(&self.from),
            enc(&self.to)
        )
    }
}

pub struct AuditRowView {
    pub at: String,
    pub e: AuditEntry,
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
pub(super) struct AuditPage<'a> {
    lang: Lang,
    organisation: &'a str,
    staff: &'a Staff,
    q: AuditQuery,
    rows: Vec<AuditRowView>,
    query: String,
    page: u32,
    more: bool,
}

pub(super) const AUDIT_PAGE: i64 = 100;

/// `GET /admin/audit`: admin and auditor.
pub async fn audit(
    State(s): State<WebState>,
    staff: Staff,
    ip: ClientIp,
    Query(q): Query<AuditQuery>,
) -> Result<Response, WebError> {
    staff.require(staff.can_audit())?;
    let page = q.page.min(100_000);
    let mut rows = s
        .store
        .audit_query(&q.filter(), AUDIT_PAGE + 1, i64::from(page) * AUDIT_PAGE)
        .await?;
    let more = rows.len() as i64 > AUDIT_PAGE;
    rows.truncate(AUDIT_PAGE as usize);
    // NEN 7513: looking at the log is itself logged.
    staff
        .audit(&s, "audit.viewed", None, Some(q.describe()), &ip)
        .await?;
    let view = AuditPage {
        lang: staff.lang,
        organisation: &s.organisation,
        staff: &staff,
        query: q.query_string(),
        page,
        more,
        rows: rows
            .into_iter()
            .map(|e| AuditRowView {
                at: when(e.at, true),
                e,
            })
            .collect(),
        q,
    };
    Ok(render(&view, StatusCode::OK))
}

/// `GET /admin/audit.csv`: the filtered log (at most 1,000,000 entries), UTC times.
pub async fn audit_csv(
    State(s): State<WebState>,
    staff: Staff,
    ip: ClientIp,
    Query(q): Query<AuditQuery>,
) -> Result<Response, WebError> {
    staff.require(staff.can_audit())?;
    let rows = s.store.audit_query(&q.filter(), 1_000_000, 0).await?;
    staff
        .audit(
            &s,
            "audit.exported",
            None,
            Some(format!("{}; {} entries", q.describe(), rows.len())),
            &ip,
        )
        .await?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| WebError::internal(staff.lang, e);
    w.write_record([
        "id", "time_utc", "actor", "action", "subject", "detail", "ip", "outcome",
    ])
    .map_err(fail)?;
    let fmt = time::format_description::well_known::Rfc3339;
    for r in rows {
        let at = time::OffsetDateTime::from_unix_timestamp(r.at)
            .ok()
            .and_then(|t| t.format(&fmt).ok())
            .unwrap_or_default();
        w.write_record([
            r.id.to_string(),
            at,
            veilpost_store::addressbook::defuse(&r.actor),
            veilpost_store::addressbook::defuse(&r.action),
            veilpost_store::addressbook::defuse(r.subject.as_deref().unwrap_or("")),
            veilpost_store::addressbook::defuse(r.detail.as_deref().unwrap_or("")),
            r.ip.unwrap_or_default(),
            r.outcome.unwrap_or_default(),
        ])
        .map_err(fail)?;
    }
    let body = w
        .into_inner()
        .map_err(|e| WebError::internal(staff.lang, e))?;
    Ok(csv_download("auditlog.csv", body))
}
