//! Rate limits per client address and per recipient, shared by the portal and the contact
//! form, and the staff sign-in guard shared by the web and SMTP AUTH (the rules are in
//! `veilpost-portal`). Counted in this node's memory; when several nodes share the
//! database (PostgreSQL) also there, so that N nodes do not give a guesser N budgets.

use std::net::IpAddr;

use axum::http::StatusCode;
use veilpost_portal::{Locked, RateLimit};
use veilpost_store::Store;

use crate::{ClientIp, ErrorKind, Lang, Limits, WebError, WebState};

/// Which of the limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bucket {
    PerIp,
    SendsPerRecipient,
    IntakeSends,
    TriesPerRecipient,
    TlsrptPosts,
}

impl Bucket {
    /// Its name in the shared counts.
    fn name(self) -> &'static str {
        match self {
            Bucket::PerIp => "per-ip",
            Bucket::SendsPerRecipient => "sends-per-recipient",
            Bucket::IntakeSends => "intake-sends",
            Bucket::TriesPerRecipient => "tries-per-recipient",
            Bucket::TlsrptPosts => "tlsrpt-posts",
        }
    }

    fn of(self, l: &mut Limits) -> &mut RateLimit {
        match self {
            Bucket::PerIp => &mut l.per_ip,
            Bucket::SendsPerRecipient => &mut l.sends_per_recipient,
            Bucket::IntakeSends => &mut l.intake_sends,
            Bucket::TriesPerRecipient => &mut l.tries_per_recipient,
            Bucket::TlsrptPosts => &mut l.tlsrpt_posts,
        }
    }
}

/// The bucket in staff sign-in failures are counted.
const STAFF_FAILURES: &str = "staff-failures";

fn too_many(lang: Lang) -> WebError {
    WebError::new(StatusCode::TOO_MANY_REQUESTS, ErrorKind::TooMany, lang)
}

/// The per-address limit on login actions.
pub(crate) async fn limit_ip(s: &WebState, ip: &ClientIp, lang: Lang) -> Result<(), WebError> {
    limited(s, &ip.key(), Bucket::PerIp, lang).await
}

/// The contact form's limit on codes mailed to one address (its own budget, apart from
/// the portal's codes for secure messages).
pub(crate) async fn limit_intake_sends(s: &WebState, to: &str, lang: Lang) -> Result<(), WebError> {
    limited(s, &to.to_lowercase(), Bucket::IntakeSends, lang).await
}

/// Count one request for `key` in `which`; refused when over the limit (here, or over
/// all nodes together).
pub(crate) async fn limited(
    s: &WebState,
    key: &str,
    which: Bucket,
    lang: Lang,
) -> Result<(), WebError> {
    let now = s.store.now();
    let rule = {
        let mut l = s
            .limits
            .lock()
            .map_err(|_| WebError::internal(lang, "rate limit lock poisoned"))?;
        let bucket = which.of(&mut l);
        bucket.hit(key, now).map_err(|_| too_many(lang))?;
        bucket.clone_rule()
    };
    if s.store.shares_limits() {
        let (count, oldest) = s
            .store
            .count_events(which.name(), key, None, now - rule.window())
            .await?;
        rule.allows(usize::try_from(count).unwrap_or(usize::MAX), oldest, now)
            .map_err(|_| too_many(lang))?;
        s.store.add_event(which.name(), key, "").await?;
    }
    Ok(())
}

/// May `ip` try a password for `account` now (web or SMTP AUTH)? Counts nothing.
pub async fn staff_check(
    store: &Store,
    limits: &std::sync::Mutex<Limits>,
    account: &str,
    ip: IpAddr,
) -> Result<(), Locked> {
    let now = store.now();
    let guard = {
        let l = limits.lock().map_err(|_| Locked { retry_after: 60 })?;
        l.staff.check(account, ip, now)?;
        l.staff.clone_rule()
    };
    if !store.shares_limits() {
        return Ok(());
    }
    let subject = veilpost_portal::guard::account_key(account);
    let client = veilpost_portal::client::client_key(ip);
    let counted = |since: i64, key: Option<String>| {
        let subject = subject.clone();
        async move {
            let (n, oldest) = store
                .count_events(STAFF_FAILURES, &subject, key.as_deref(), since)
                .await
                .map_err(|_| Locked { retry_after: 60 })?;
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            Ok::<_, Locked>((n, oldest.map_or(0, |t| t - since)))
        }
    };
    let pair = counted(now - guard.pair_window(), Some(client)).await?;
    let all = counted(now - guard.account_window(), None).await?;
    guard.decide(pair, all)
}

/// A wrong password or second factor for `account` from `ip`.
pub async fn staff_failed(
    store: &Store,
    limits: &std::sync::Mutex<Limits>,
    account: &str,
    ip: IpAddr,
) -> Result<(), veilpost_store::Error> {
    if let Ok(mut l) = limits.lock() {
        l.staff.failed(account, ip, store.now());
    }
    if store.shares_limits() {
        let subject = veilpost_portal::guard::account_key(account);
        let client = veilpost_portal::client::client_key(ip);
        store.add_event(STAFF_FAILURES, &subject, &client).await?;
    }
    Ok(())
}

/// The account's owner passed the second factor: its failures are forgotten.
pub async fn staff_passed(
    store: &Store,
    limits: &std::sync::Mutex<Limits>,
    account: &str,
) -> Result<(), veilpost_store::Error> {
    if let Ok(mut l) = limits.lock() {
        l.staff.passed(account);
    }
    if store.shares_limits() {
        let subject = veilpost_portal::guard::account_key(account);
        store.forget_events(STAFF_FAILURES, &subject).await?;
    }
    Ok(())
}
