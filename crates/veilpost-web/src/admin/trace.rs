//! The message trace (envelope, verdict, findings' kinds, routes and reasons; never
//! content) and the delivery queue (retry, cancel).

use super::*;

#[derive(Debug, Deserialize, Default)]
pub struct TraceQuery {
    #[serde(default)]
    id: String,
    #[serde(default)]
    sender: String,
}

pub struct TraceView {
    pub info: veilpost_store::MessageInfo,
    pub received: String,
    pub recipients: Vec<veilpost_store::RecipientTrace>,
    pub portal: Vec<(String, &'static str)>,
    pub findings: Vec<String>,
    pub held: Vec<String>,
    pub events: Vec<AuditRowView>,
}

#[derive(Template)]
#[template(path = "admin_trace.html")]
pub(super) struct TracePage<'a> {
    lang: Lang,
    organisation: &'a str,
    staff: &'a Staff,
    q: TraceQuery,
    trace: Option<TraceView>,
    list: Vec<(String, String, String, String)>,
    searched: bool,
}

/// `GET /admin/trace?id=…` or `?sender=…`: where a message is, which route and why. The
/// envelope, verdict, findings' kinds and per-recipient decisions; never the content.
pub async fn trace(
    State(s): State<WebState>,
    staff: Staff,
    ip: ClientIp,
    Query(q): Query<TraceQuery>,
) -> Result<Response, WebError> {
    staff.require(staff.is_admin())?;
    let lang = staff.lang;
    let mut trace = None;
    let mut list = Vec::new();
    let id = q.id.trim();
    if !id.is_empty()
        && let Some(info) = s.store.message_info(id).await?
    {
        let recipients = s.store.trace(&info.id).await?;
        let portal = s
            .store
            .portal_by_message(&info.id)
            .await?
            .into_iter()
            .map(|e| {
                let word = crate::staff::status_word(&e, s.store.now(), lang);
                (e.recipient, word)
            })
            .collect();
        let findings = info
            .findings
            .as_deref()
            .and_then(|f| serde_json::from_str::<Vec<serde_json::Value>>(f).ok())
            .unwrap_or_default()
            .iter()
            .map(|f| {
                format!(
                    "{} ({}, {})",
                    f["kind"].as_str().unwrap_or("?"),
                    f["location"].as_str().unwrap_or("?"),
                    f["confidence"].as_str().unwrap_or("?")
                )
            })
            .collect();
        let held = info
            .held_reasons
            .as_deref()
            .and_then(|r| serde_json::from_str::<Vec<veilpost_policy::doublecheck::Hold>>(r).ok())
            .unwrap_or_default()
            .iter()
            .map(|h| h.describe(lang))
            .collect();
        let events = s
            .store
            .audit_query(
                &AuditFilter {
                    subject: Some(info.id.clone()),
                    ..AuditFilter::default()
                },
                200,
                0,
            )
            .await?
            .into_iter()
            .map(|e| AuditRowView {
                at: when(e.at, true),
                e,
            })
            .collect();
        staff
            .audit(
                &s,
                "message.traced",
                Some(&format!("message {}", info.id)),
                None,
                &ip,
            )
            .await?;
        trace = Some(TraceView {
            received: when(info.received_at, true),
            info,
            recipients,
            portal,
            findings,
            held,
            events,
        });
    } else if !q.sender.trim().is_empty() {
        list = s
            .store
            .messages_from(&q.sender, 100)
            .await?
            .into_iter()
            .map(|m| {
                (
                    m.id,
                    when(m.received_at, true),
                    m.state.to_string(),
                    m.verdict.unwrap_or_default(),
                )
            })
            .collect();
    }
    let searched = !id.is_empty() || !q.sender.trim().is_empty();
    let status = if searched && trace.is_none() && list.is_empty() {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::OK
    };
    let page = TracePage {
        lang,
        organisation: &s.organisation,
        staff: &staff,
        q,
        trace,
        list,
        searched,
    };
    Ok(render(&page, status))
}

pub struct QueueView {
    pub row: QueueRow,
    pub received: String,
    pub next: String,
}

#[derive(Template)]
#[template(path = "admin_queue.html")]
pub(super) struct QueuePage<'a> {
    lang: Lang,
    organisation: &'a str,
    staff: &'a Staff,
    rows: Vec<QueueView>,
    notice: String,
}

/// `GET /admin/queue`: recipients waiting or failed.
pub async fn queue(
    State(s): State<WebState>,
    staff: Staff,
    Query(q): Query<Done>,
) -> Result<Response, WebError> {
    staff.require(staff.is_admin())?;
    let rows = s
        .store
        .queue_list(500)
        .await?
        .into_iter()
        .map(|row| QueueView {
            received: when(row.received_at, true),
            next: if row.state == veilpost_store::RecipientState::Queued {
                when(row.next_attempt_at.max(s.store.now()), true)
            } else {
                String::new()
            },
            row,
        })
        .collect();
    let page = QueuePage {
        lang: staff.lang,
        organisation: &s.organisation,
        staff: &staff,
        rows,
        notice: flash(staff.lang, &q.done),
    };
    Ok(render(&page, StatusCode::OK))
}

/// `POST /admin/queue/{id}/{retry|cancel}`.
pub async fn queue_action(
    State(s): State<WebState>,
    staff: Staff,
    ip: ClientIp,
    Path((id, action)): Path<(i64, String)>,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    staff.check_csrf(&f.csrf)?;
    staff.require(staff.is_admin())?;
    let (done, word) = match action.as_str() {
        "retry" => (s.store.queue_retry(id).await?, "retry"),
        "cancel" => (s.store.queue_cancel(id).await?, "cancelled"),
        _ => return Err(not_found(staff.lang)),
    };
    if !done {
        return Err(not_found(staff.lang));
    }
    staff
        .audit(
            &s,
            &format!("queue.{action}"),
            Some(&format!("recipient {id}")),
            None,
            &ip,
        )
        .await?;
    Ok(see_other(&format!("/admin/queue?done={word}")))
}
