//! The one load-step-save loop around the login state machine
//! (`veilpost_portal::login`), shared by the portal and the secure contact form: load the
//! record and its login, step the login with an event, save it only when nobody changed it
//! meanwhile (the record carries a version), and try again when someone did. The caller
//! carries out the step's effects once the save holds, so a lost race sends nothing.

use std::future::Future;

use axum::http::StatusCode;
use veilpost_portal::login::{Event, Login, Step};

use crate::{ErrorKind, Lang, WebError};

/// Attempts before giving up with 409 (other requests keep changing the login).
const ATTEMPTS: usize = 5;

/// Where a login is kept: a portal message's entry, a contact form's intake.
pub(crate) trait LoginSlot: Sync {
    /// The record the login belongs to (it carries the version the save checks).
    type Record: Send;

    /// The record and its login; `None` when the record has no login.
    fn load(&self) -> impl Future<Output = Result<Option<(Self::Record, Login)>, WebError>> + Send;

    /// Store `login` for `record` unless the record changed since it was loaded.
    fn save(
        &self,
        record: &Self::Record,
        login: &Login,
    ) -> impl Future<Output = Result<bool, WebError>> + Send;
}

/// What the loop did.
pub(crate) enum Advanced<T> {
    /// The record has no login.
    Missing,
    /// No event applies to the login as it is: nothing was saved.
    Unchanged(T, Login),
    /// Stepped and saved; the caller carries out `step.effects`.
    Stepped(T, Login, Step),
}

/// Load, step at `now`, save; tried again when the save finds the record changed.
pub(crate) async fn advance<S: LoginSlot>(
    slot: &S,
    lang: Lang,
    now: i64,
    event: impl Fn(&Login) -> Option<Event>,
) -> Result<Advanced<S::Record>, WebError> {
    for _ in 0..ATTEMPTS {
        let Some((record, mut login)) = slot.load().await? else {
            return Ok(Advanced::Missing);
        };
        let Some(event) = event(&login) else {
            return Ok(Advanced::Unchanged(record, login));
        };
        let step = login.step(event, now);
        if slot.save(&record, &login).await? {
            return Ok(Advanced::Stepped(record, login, step));
        }
    }
    Err(WebError::new(
        StatusCode::CONFLICT,
        ErrorKind::TooMany,
        lang,
    ))
}
