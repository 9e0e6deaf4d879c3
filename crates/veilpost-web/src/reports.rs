//! The administrators' triage of phishing reports (`/admin/reports`): what staff
//! reported, the verdict the original got when it came in and its signals, whether it
//! waits in the quarantine (release there), and the answers: block the sender, block its
//! domain, or mark the report handled. Every answer is audited.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use crate::admin::{Done, flash};
use crate::signin::{CsrfOnly, Staff};
use crate::{ClientIp, ErrorKind, Lang, WebError, WebState, render, see_other, when};

/// One report as the page lists it.
pub struct Row {
    pub id: String,
    pub reported: String,
    pub reporter: String,
    /// How the original came with the report, in words.
    pub shape: &'static str,
    pub sender: String,
    /// What the verdict did with the original when it came in, in words (empty: it did not
    /// come through Veilpost, or the report did not carry it).
    pub action: &'static str,
    pub signals: Vec<&'static str>,
    /// The original waits in the quarantine under this id.
    pub quarantined: Option<String>,
    pub handled: bool,
    /// The sender's domain as it would be blocked.
    pub domain: String,
}

#[derive(Template)]
#[template(path = "admin_reports.html")]
struct ReportsPage<'a> {
    lang: Lang,
    organisation: &'a str,
    staff: &'a Staff,
    rows: Vec<Row>,
    notice: String,
}

fn shape(lang: Lang, shape: &str) -> &'static str {
    let (nl, en) = match shape {
        "attached" => ("als bijlage", "as an attachment"),
        "arf" => ("als misbruikmelding (ARF)", "as an abuse report (ARF)"),
        "inline" => ("doorgestuurd in de tekst", "forwarded in the text"),
        _ => ("zonder het bericht zelf", "without the message itself"),
    };
    lang.t(nl, en)
}

fn action(lang: Lang, verdict: &str) -> &'static str {
    let (nl, en) = match verdict.split(';').next().unwrap_or("").trim() {
        "clean" | "accept" => ("doorgelaten", "let through"),
        "tag" => ("doorgelaten met waarschuwing", "let through with a warning"),
        "quarantine" => ("in quarantaine gezet", "quarantined"),
        "reject" => ("geweigerd", "refused"),
        _ => return "",
    };
    lang.t(nl, en)
}

/// `GET /admin/reports`.
pub async fn list(
    State(s): State<WebState>,
    staff: Staff,
    Query(q): Query<Done>,
) -> Result<Response, WebError> {
    staff.require(staff.is_admin())?;
    let lang = staff.lang;
    let rows = s
        .store
        .reports(500)
        .await?
        .into_iter()
        .map(|r| {
            let verdict = r.verdict.unwrap_or_default();
            let mut signals: Vec<&'static str> = verdict
                .split_once("; ")
                .map(|(_, names)| {
                    names
                        .split(' ')
                        .map(|n| crate::labels::finding(lang, n))
                        .collect()
                })
                .unwrap_or_default();
            signals.dedup();
            let sender = r.sender.unwrap_or_default();
            Row {
                reported: when(r.reported_at, true),
                shape: shape(lang, &r.shape),
                action: action(lang, &verdict),
                signals,
                quarantined: r
                    .linked_message
                    .filter(|_| r.linked_state.as_deref() == Some("held")),
                handled: r.handled_at.is_some(),
                domain: if sender.contains('@') {
                    veilpost_verdict::registrable(&sender)
                } else {
                    String::new()
                },
                sender,
                reporter: r.reporter,
                id: r.id,
            }
        })
        .collect();
    let page = ReportsPage {
        lang,
        organisation: &s.organisation,
        staff: &staff,
        rows,
        notice: flash(lang, &q.done),
    };
    Ok(render(&page, StatusCode::OK))
}

/// `POST /admin/reports/{id}/{block-sender|block-domain|handled}`: blocking also marks
/// the report handled. Audited.
pub async fn act(
    State(s): State<WebState>,
    staff: Staff,
    ip: ClientIp,
    Path((id, what)): Path<(String, String)>,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    staff.check_csrf(&f.csrf)?;
    staff.require(staff.is_admin())?;
    let not_found = || WebError::new(StatusCode::NOT_FOUND, ErrorKind::NotFound, staff.lang);
    let report = s.store.report(&id).await?.ok_or_else(not_found)?;
    let sender = report.sender.clone().unwrap_or_default();
    let blocked = match what.as_str() {
        "block-sender" if sender.contains('@') => Some(sender.to_ascii_lowercase()),
        "block-domain" if sender.contains('@') => Some(veilpost_verdict::registrable(&sender)),
        "handled" => None,
        _ => return Err(not_found()),
    };
    let by = staff.user.email.clone();
    if let Some(value) = &blocked {
        s.store.block_sender(value, &by).await?;
    }
    s.store.handle_report(&id, &by).await?;
    staff
        .audit(
            &s,
            &format!("report.{}", what.replace('-', "_")),
            Some(&format!("report {id}")),
            blocked.clone(),
            &ip,
        )
        .await?;
    let done = if blocked.is_some() {
        "blocked"
    } else {
        "handled"
    };
    Ok(see_other(&format!("/admin/reports?done={done}")))
}
