//! Users: the list, adding a colleague, one account (end date, role, scopes, a new
//! password), offboarding, and unlinking the second factor.

use super::*;

/// One account as the users page lists it.
pub struct UserRow {
    pub user: User,
    pub state: &'static str,
}

pub(super) fn user_state(u: &User, lang: Lang) -> &'static str {
    let today = time::OffsetDateTime::now_utc().date();
    if u.offboarded_at.is_some() {
        lang.t("uit dienst", "offboarded")
    } else if u.disabled {
        lang.t("uitgeschakeld", "disabled")
    } else if !u.active_on(today) {
        lang.t("verlopen", "expired")
    } else {
        lang.t("actief", "active")
    }
}

#[derive(Template)]
#[template(path = "admin_users.html")]
pub(super) struct UsersPage<'a> {
    lang: Lang,
    organisation: &'a str,
    staff: &'a Staff,
    users: Vec<UserRow>,
    notice: String,
    error: String,
    form: AddUserForm,
}

#[derive(Debug, Deserialize, Default, Clone)]
pub struct AddUserForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    scopes: String,
    #[serde(default)]
    password: String,
}

pub(super) async fn users_page<'a>(
    s: &'a WebState,
    staff: &'a Staff,
    notice: String,
    error: String,
    form: AddUserForm,
) -> Result<UsersPage<'a>, WebError> {
    let users = s
        .store
        .list_users()
        .await?
        .into_iter()
        .map(|u| UserRow {
            state: user_state(&u, staff.lang),
            user: u,
        })
        .collect();
    Ok(UsersPage {
        lang: staff.lang,
        organisation: &s.organisation,
        staff,
        users,
        notice,
        error,
        form,
    })
}

/// `GET /admin/users`.
pub async fn users(
    State(s): State<WebState>,
    staff: Staff,
    Query(q): Query<Done>,
) -> Result<Response, WebError> {
    staff.require(staff.is_admin())?;
    let notice = flash(staff.lang, &q.done);
    let page = users_page(&s, &staff, notice, String::new(), AddUserForm::default()).await?;
    Ok(render(&page, StatusCode::OK))
}

pub(super) fn parse_scopes(text: &str) -> Vec<String> {
    text.split([',', ';', ' ', '\n', '\r'])
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_string)
        .collect()
}

pub(super) fn user_error(e: &UserError, lang: Lang) -> String {
    match e {
        UserError::BadEmail(a) => format!(
            "{} {a}",
            lang.t("Geen geldig e-mailadres:", "Not a valid e-mail address:")
        ),
        UserError::ShortPassword => lang
            .t(
                "Het wachtwoord moet minstens 12 tekens hebben.",
                "The password needs at least 12 characters.",
            )
            .into(),
        UserError::Exists(a) => format!(
            "{} {a}",
            lang.t("Er is al een account voor", "There is an account for")
        ),
        UserError::BadRole(r) => format!("{} {r}", lang.t("Geen rol:", "Not a role:")),
        UserError::LinkClosed => lang
            .t(
                "Deze set-uplink werkt niet meer.",
                "This set-up link no longer works.",
            )
            .into(),
        UserError::Store(_) => lang
            .t(
                "Er ging iets mis; probeer het opnieuw.",
                "Something went wrong; try again.",
            )
            .into(),
    }
}

/// An end date that is not a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct NotADate;

impl NotADate {
    pub(super) fn text(self, lang: Lang) -> String {
        lang.t(
            "De einddatum is geen datum (JJJJ-MM-DD).",
            "The end date is not a date (YYYY-MM-DD).",
        )
        .to_string()
    }
}

/// The end date from the form: empty is none.
pub(super) fn parse_until(text: &str) -> Result<Option<time::Date>, NotADate> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    veilpost_store::users_parse_date(text)
        .map(Some)
        .ok_or(NotADate)
}

/// `POST /admin/users`: add an account (the user links a TOTP app at the first sign-in).
pub async fn add_user(
    State(s): State<WebState>,
    staff: Staff,
    ip: ClientIp,
    Form(f): Form<AddUserForm>,
) -> Result<Response, WebError> {
    staff.check_csrf(&f.csrf)?;
    staff.require(staff.is_admin())?;
    let lang = staff.lang;
    let refuse = |error: String, f: AddUserForm| async {
        let mut form = f;
        form.password.clear();
        let page = users_page(&s, &staff, String::new(), error, form).await?;
        Ok::<Response, WebError>(render(&page, StatusCode::UNPROCESSABLE_ENTITY))
    };
    let until = match parse_until(&f.until) {
        Ok(u) => u,
        Err(e) => return refuse(e.text(lang), f.clone()).await,
    };
    let role: Role = match f.role.parse() {
        Ok(r) => r,
        Err(e) => return refuse(user_error(&e, lang), f.clone()).await,
    };
    let update = UserUpdate {
        name: Some(f.name.clone()),
        role,
        valid_until: until,
        scopes: parse_scopes(&f.scopes),
    };
    if let Some(bad) = update
        .scopes
        .iter()
        .find(|a| !veilpost_store::valid_email(a))
    {
        return refuse(
            user_error(&UserError::BadEmail(bad.clone()), lang),
            f.clone(),
        )
        .await;
    }
    match s
        .store
        .add_user_as(&staff.user.email, &f.email, &f.password, role, until)
        .await
    {
        Ok(()) => {}
        Err(e) => return refuse(user_error(&e, lang), f.clone()).await,
    }
    if let Err(e) = s.store.update_user(f.email.trim(), &update).await {
        return refuse(user_error(&e, lang), f.clone()).await;
    }
    staff
        .audit(
            &s,
            "user.rights",
            Some(f.email.trim()),
            Some(format!(
                "role {}; until {}; scopes {}",
                update.role,
                f.until.trim(),
                update.scopes.join(", ")
            )),
            &ip,
        )
        .await?;
    Ok(see_other("/admin/users?done=added"))
}

#[derive(Template)]
#[template(path = "admin_user.html")]
pub(super) struct UserPage<'a> {
    lang: Lang,
    organisation: &'a str,
    staff: &'a Staff,
    user: User,
    state: &'static str,
    others: Vec<String>,
    notice: String,
    error: String,
}

pub(super) async fn user_page<'a>(
    s: &'a WebState,
    staff: &'a Staff,
    email: &str,
    notice: String,
    error: String,
) -> Result<UserPage<'a>, WebError> {
    let Some(user) = s.store.user(email).await? else {
        return Err(not_found(staff.lang));
    };
    let today = time::OffsetDateTime::now_utc().date();
    let others = s
        .store
        .list_users()
        .await?
        .into_iter()
        .filter(|u| {
            !u.email.eq_ignore_ascii_case(&user.email)
                && u.active_on(today)
                && u.offboarded_at.is_none()
                && u.role != "auditor"
        })
        .map(|u| u.email)
        .collect();
    Ok(UserPage {
        lang: staff.lang,
        organisation: &s.organisation,
        staff,
        state: user_state(&user, staff.lang),
        user,
        others,
        notice,
        error,
    })
}

/// `GET /admin/user?email=…`.
pub async fn user(
    State(s): State<WebState>,
    staff: Staff,
    Query(q): Query<Done>,
) -> Result<Response, WebError> {
    staff.require(staff.is_admin())?;
    let notice = flash(staff.lang, &q.done);
    let page = user_page(&s, &staff, &q.email, notice, String::new()).await?;
    Ok(render(&page, StatusCode::OK))
}

#[derive(Debug, Deserialize)]
pub struct EditUserForm {
    #[serde(default)]
    csrf: String,
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    scopes: String,
    #[serde(default)]
    password: String,
}

/// A query-string value, percent-encoded (letters, digits and `-._@` stay).
pub(super) fn urlencode(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._@".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

pub(super) fn user_link(email: &str, done: &str) -> String {
    format!("/admin/user?email={}&done={done}", urlencode(email))
}

/// `POST /admin/user`: name, role, end date, scopes, and optionally a new password.
pub async fn edit_user(
    State(s): State<WebState>,
    staff: Staff,
    ip: ClientIp,
    Form(f): Form<EditUserForm>,
) -> Result<Response, WebError> {
    staff.check_csrf(&f.csrf)?;
    staff.require(staff.is_admin())?;
    let lang = staff.lang;
    let refuse = |error: String| async {
        let page = user_page(&s, &staff, &f.email, String::new(), error).await?;
        Ok::<Response, WebError>(render(&page, StatusCode::UNPROCESSABLE_ENTITY))
    };
    let Some(before) = s.store.user(&f.email).await? else {
        return Err(not_found(lang));
    };
    if before.email.eq_ignore_ascii_case(&staff.user.email) && f.role != "admin" {
        return refuse(
            lang.t(
                "U kunt uw eigen beheerdersrol niet afnemen; laat een andere beheerder dat doen.",
                "You cannot take away your own admin role; ask another admin.",
            )
            .into(),
        )
        .await;
    }
    let until = match parse_until(&f.until) {
        Ok(u) => u,
        Err(e) => return refuse(e.text(lang)).await,
    };
    let role: Role = match f.role.parse() {
        Ok(r) => r,
        Err(e) => return refuse(user_error(&e, lang)).await,
    };
    let update = UserUpdate {
        name: Some(f.name.clone()),
        role,
        valid_until: until,
        scopes: parse_scopes(&f.scopes),
    };
    if let Err(e) = s.store.update_user(&before.email, &update).await {
        return refuse(user_error(&e, lang)).await;
    }
    if !f.password.is_empty() {
        if let Err(e) = s.store.set_password(&before.email, &f.password).await {
            return refuse(user_error(&e, lang)).await;
        }
        s.store.end_staff_sessions(&before.email).await?;
        staff
            .audit(&s, "user.password", Some(&before.email), None, &ip)
            .await?;
    }
    staff
        .audit(
            &s,
            "user.rights",
            Some(&before.email),
            Some(format!(
                "role {} -> {}; until {} -> {}; scopes [{}] -> [{}]",
                before.role,
                update.role,
                before.valid_until.as_deref().unwrap_or("-"),
                until.map(|d| d.to_string()).unwrap_or_else(|| "-".into()),
                before.scopes.join(", "),
                update
                    .scopes
                    .iter()
                    .map(|a| a.to_ascii_lowercase())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            &ip,
        )
        .await?;
    Ok(see_other(&user_link(&before.email, "saved")))
}

#[derive(Debug, Deserialize)]
pub struct OffboardForm {
    #[serde(default)]
    csrf: String,
    email: String,
    #[serde(default)]
    successor: String,
}

/// `POST /admin/user/offboard`: the leaver in one step (audited by the store, as the
/// command line's offboarding is).
pub async fn offboard(
    State(s): State<WebState>,
    staff: Staff,
    Form(f): Form<OffboardForm>,
) -> Result<Response, WebError> {
    staff.check_csrf(&f.csrf)?;
    staff.require(staff.is_admin())?;
    let lang = staff.lang;
    if f.email.trim().eq_ignore_ascii_case(&staff.user.email) {
        let page = user_page(
            &s,
            &staff,
            &f.email,
            String::new(),
            lang.t(
                "U kunt uzelf niet afsluiten; laat een andere beheerder dat doen.",
                "You cannot offboard yourself; ask another admin.",
            )
            .into(),
        )
        .await?;
        return Ok(render(&page, StatusCode::UNPROCESSABLE_ENTITY));
    }
    let successor = Some(f.successor.trim()).filter(|x| !x.is_empty());
    match s
        .store
        .offboard_user(&staff.user.email, &f.email, successor)
        .await
    {
        Ok(done) => {
            if let Some(successor) = successor
                && !done.links.is_empty()
            {
                tell_successor(&s, successor, f.email.trim(), &done.links).await;
            }
            Ok(see_other(&user_link(f.email.trim(), "offboarded")))
        }
        Err(veilpost_store::OffboardError::NoAccount(_)) => Err(not_found(lang)),
        Err(veilpost_store::OffboardError::BadSuccessor(x)) => {
            let page = user_page(
                &s,
                &staff,
                &f.email,
                String::new(),
                format!(
                    "{} {x}",
                    lang.t(
                        "De opvolger heeft geen actief account:",
                        "The successor has no active account:"
                    )
                ),
            )
            .await?;
            Ok(render(&page, StatusCode::UNPROCESSABLE_ENTITY))
        }
        Err(veilpost_store::OffboardError::Store(e)) => Err(WebError::internal(lang, e)),
    }
}

#[derive(Debug, Deserialize)]
pub struct EmailForm {
    #[serde(default)]
    pub(crate) csrf: String,
    pub(crate) email: String,
}

/// `POST /admin/user/reset-2fa`: a lost phone; the next sign-in links a new app.
pub async fn reset_second_factor(
    State(s): State<WebState>,
    staff: Staff,
    ip: ClientIp,
    Form(f): Form<EmailForm>,
) -> Result<Response, WebError> {
    staff.check_csrf(&f.csrf)?;
    staff.require(staff.is_admin())?;
    if !s.store.reset_staff_totp(&f.email).await? {
        return Err(not_found(staff.lang));
    }
    staff
        .audit(&s, "user.totp.reset", Some(f.email.trim()), None, &ip)
        .await?;
    Ok(see_other(&user_link(f.email.trim(), "reset")))
}

/// Mail the successor their new status links for the conversations handed over. The
/// conversations are theirs either way (the staff page lists them); a mail that cannot
/// be queued is logged.
async fn tell_successor(s: &WebState, successor: &str, leaver: &str, links: &[(String, String)]) {
    let from = veilpost_text::mails::From {
        organisation: &s.organisation,
        address: &s.settings.notify_from,
    };
    let links: Vec<(String, String)> = links
        .iter()
        .map(|(recipient, token)| {
            (
                recipient.clone(),
                format!("{}/s/{token}", s.settings.public_url),
            )
        })
        .collect();
    match veilpost_text::mails::handed_over(&from, successor, leaver, &links) {
        Ok(raw) => {
            if let Err(e) = s.mailer.send(successor.to_string(), raw).await {
                tracing::warn!("offboarding: the successor's links could not be queued: {e}");
            }
        }
        Err(e) => tracing::warn!("offboarding: the successor's mail: {e}"),
    }
}
