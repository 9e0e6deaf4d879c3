//! The quarantine: inbound mail the verdict held, waiting sealed with the master key.
//! Staff see what was meant for them (`/quarantine`), administrators everything (also at
//! `/admin/quarantine`). Anyone who sees a message may delete it; staff release what policy
//! lets them (no finding in `inbound.admin_release_only`), administrators anything.
//! Viewing, releasing and deleting are audited. The message is shown as text only: links
//! are not links, attachments are names, nothing is fetched.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use veilpost_store::Held;

use crate::admin::{Done, flash};
use crate::signin::{CsrfOnly, Staff};
use crate::{ClientIp, ErrorKind, Lang, WebError, WebState, render, see_other, when};

fn not_found(lang: Lang) -> WebError {
    WebError::new(StatusCode::NOT_FOUND, ErrorKind::NotFound, lang)
}

/// One quarantined message as the list shows it.
pub struct Row {
    pub id: String,
    pub mail_from: String,
    pub received: String,
    /// The verdict's findings, in words.
    pub why: Vec<&'static str>,
    /// This staff member may release it.
    pub may_release: bool,
}

#[derive(Template)]
#[template(path = "quarantine.html")]
struct ListPage<'a> {
    lang: Lang,
    organisation: &'a str,
    staff: &'a Staff,
    rows: Vec<Row>,
    notice: String,
    /// Where the page and its buttons live (`/quarantine` or `/admin/quarantine`).
    base: &'a str,
    /// Everyone's quarantine (an administrator), or the staff member's own.
    everyone: bool,
}

#[derive(Template)]
#[template(path = "quarantine_view.html")]
struct ViewPage<'a> {
    lang: Lang,
    organisation: &'a str,
    staff: &'a Staff,
    id: &'a str,
    view: crate::render::View,
    why: Vec<&'static str>,
    received: String,
    may_release: bool,
    base: &'a str,
}

/// The finding names a held message carries.
fn findings(h: &Held) -> Vec<String> {
    h.held_reasons
        .as_deref()
        .and_then(|r| serde_json::from_str::<Vec<String>>(r).ok())
        .unwrap_or_default()
}

/// Whether `staff` may release a message with these findings.
fn may_release(s: &WebState, staff: &Staff, findings: &[String]) -> bool {
    staff.is_admin()
        || !findings
            .iter()
            .any(|f| s.settings.quarantine_admin_only.iter().any(|a| a == f))
}

fn words(lang: Lang, findings: &[String]) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = findings
        .iter()
        .map(|f| crate::labels::finding(lang, f))
        .collect();
    out.dedup();
    out
}

/// The quarantined message `id` if `staff` may see it: an administrator any, others
/// those addressed to them.
async fn visible(s: &WebState, staff: &Staff, id: &str) -> Result<Held, WebError> {
    let for_address = (!staff.is_admin()).then_some(staff.user.email.as_str());
    s.store
        .quarantined_one(id, for_address)
        .await?
        .ok_or_else(|| not_found(staff.lang))
}

async fn list(s: &WebState, staff: &Staff, done: &str, base: &str) -> Result<Response, WebError> {
    let held = if staff.is_admin() {
        s.store.held_inbound(500).await?
    } else {
        s.store.quarantined_for(&staff.user.email, 500).await?
    };
    let rows = held
        .into_iter()
        .map(|h| {
            let f = findings(&h);
            Row {
                why: words(staff.lang, &f),
                may_release: may_release(s, staff, &f),
                received: when(h.received_at, true),
                mail_from: h.mail_from,
                id: h.id,
            }
        })
        .collect();
    let page = ListPage {
        lang: staff.lang,
        organisation: &s.organisation,
        staff,
        rows,
        notice: flash(staff.lang, done),
        base,
        everyone: staff.is_admin(),
    };
    Ok(render(&page, StatusCode::OK))
}

/// `GET /quarantine`: the signed-in staff member's quarantine (an administrator's: all).
pub async fn mine(
    State(s): State<WebState>,
    staff: Staff,
    Query(q): Query<Done>,
) -> Result<Response, WebError> {
    list(&s, &staff, &q.done, "/quarantine").await
}

/// `GET /admin/quarantine`: every quarantined message (administrators).
pub async fn all(
    State(s): State<WebState>,
    staff: Staff,
    Query(q): Query<Done>,
) -> Result<Response, WebError> {
    staff.require(staff.is_admin())?;
    list(&s, &staff, &q.done, "/admin/quarantine").await
}

/// `GET /quarantine/{id}`: the message as text, why it was held; audited.
pub async fn view(
    State(s): State<WebState>,
    staff: Staff,
    ip: ClientIp,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let held = visible(&s, &staff, &id).await?;
    let Some((blob, key)) = s.store.quarantined_blob(&id).await? else {
        return Err(not_found(staff.lang));
    };
    let raw = s.store.read_blob(&blob).await?;
    let raw = match key {
        Some(key) => s
            .master_key
            .open(&format!("quarantine:{id}"), &key, &raw)
            .map_err(|e| {
                tracing::error!("quarantined message {id} does not open: {e}");
                WebError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ErrorKind::Internal,
                    staff.lang,
                )
            })?,
        None => raw,
    };
    staff
        .audit(
            &s,
            "quarantine.viewed",
            Some(&format!("message {id}")),
            None,
            &ip,
        )
        .await?;
    let mut view = crate::render::view(&raw);
    // Suspicious mail is read as text: no link is followed by a slip of the mouse.
    view.html = None;
    let f = findings(&held);
    let page = ViewPage {
        lang: staff.lang,
        organisation: &s.organisation,
        staff: &staff,
        id: &id,
        why: words(staff.lang, &f),
        may_release: may_release(&s, &staff, &f),
        received: when(held.received_at, true),
        view,
        base: if staff.is_admin() {
            "/admin/quarantine"
        } else {
            "/quarantine"
        },
    };
    Ok(render(&page, StatusCode::OK))
}

/// `POST /quarantine/{id}/{release|delete}` (and the same under `/admin`, for
/// administrators): released mail goes on to the organisation's mail server as it is;
/// deleted mail goes nowhere. Both audited.
pub async fn action(
    State(s): State<WebState>,
    staff: Staff,
    ip: ClientIp,
    uri: axum::extract::OriginalUri,
    Path((id, action)): Path<(String, String)>,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    staff.check_csrf(&f.csrf)?;
    let base = if uri.path().starts_with("/admin/") {
        staff.require(staff.is_admin())?;
        "/admin/quarantine"
    } else {
        "/quarantine"
    };
    let held = visible(&s, &staff, &id).await?;
    let (done, word) = match action.as_str() {
        "release" if may_release(&s, &staff, &findings(&held)) => {
            (s.store.release_held(&id).await?, "released")
        }
        "release" => {
            return Err(WebError::new(
                StatusCode::FORBIDDEN,
                ErrorKind::Forbidden,
                staff.lang,
            ));
        }
        "delete" => (s.store.cancel_held(&id).await?, "deleted"),
        _ => return Err(not_found(staff.lang)),
    };
    if !done {
        return Err(not_found(staff.lang));
    }
    staff
        .audit(
            &s,
            &format!("quarantine.{word}"),
            Some(&format!("message {id}")),
            None,
            &ip,
        )
        .await?;
    Ok(see_other(&format!("{base}?done={word}")))
}
