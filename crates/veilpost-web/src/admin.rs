//! The admin pages: users (add, end date, role, scopes, offboard, a new second factor),
//! the address book (contacts with E.164 numbers, CSV import and export, partner domains
//! with a TLS policy), the policy in force, a message trace, the delivery queue (retry,
//! cancel), the domain's posture with the records to publish, and the audit log with
//! filters and CSV export (admin and auditor; every look at it is itself logged).

use askama::Template;
use axum::Form;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use veilpost_policy::doublecheck::Rules;
use veilpost_store::{AuditEntry, AuditFilter, QueueRow, User, UserError, UserUpdate};

use crate::staff::{CsrfOnly, Staff};
use crate::{ClientIp, ErrorKind, Lang, WebError, WebState, render, see_other, when};

fn not_found(lang: Lang) -> WebError {
    WebError::new(StatusCode::NOT_FOUND, ErrorKind::NotFound, lang)
}

fn flash(lang: Lang, done: &str) -> String {
    let (nl, en) = match done {
        "added" => ("Het account is aangemaakt.", "The account was added."),
        "saved" => ("De wijzigingen zijn opgeslagen.", "The changes were saved."),
        "offboarded" => (
            "Het account is afgesloten: aanmelden en SMTP zijn geweigerd, sessies beëindigd, vastgehouden berichten geannuleerd.",
            "The account was offboarded: sign-in and SMTP refused, sessions ended, held messages cancelled.",
        ),
        "reset" => (
            "De authenticator-app is ontkoppeld; bij de volgende aanmelding koppelt de gebruiker een nieuwe.",
            "The authenticator app was unlinked; the user links a new one at the next sign-in.",
        ),
        "contact" => ("Het contact is opgeslagen.", "The contact was saved."),
        "deleted" => ("Verwijderd.", "Deleted."),
        "partner" => (
            "Het partnerdomein is opgeslagen.",
            "The partner domain was saved.",
        ),
        "retry" => (
            "Het bericht wordt opnieuw bezorgd.",
            "The message will be delivered again.",
        ),
        "cancelled" => ("De bezorging is gestopt.", "Delivery was stopped."),
        _ => return String::new(),
    };
    lang.t(nl, en).to_string()
}

#[derive(Debug, Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    done: String,
    #[serde(default)]
    email: String,
}

// ---- users ----

/// One account as the users page lists it.
pub struct UserRow {
    pub user: User,
    pub state: &'static str,
}

fn user_state(u: &User, lang: Lang) -> &'static str {
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
struct UsersPage<'a> {
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

async fn users_page<'a>(
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

fn parse_scopes(text: &str) -> Vec<String> {
    text.split([',', ';', ' ', '\n', '\r'])
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_string)
        .collect()
}

fn user_error(e: &UserError, lang: Lang) -> String {
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
        UserError::Store(_) => lang
            .t(
                "Er ging iets mis; probeer het opnieuw.",
                "Something went wrong; try again.",
            )
            .into(),
    }
}

fn parse_until(text: &str, lang: Lang) -> Result<Option<time::Date>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    veilpost_store::users_parse_date(text)
        .map(Some)
        .ok_or_else(|| {
            lang.t(
                "De einddatum is geen datum (JJJJ-MM-DD).",
                "The end date is not a date (YYYY-MM-DD).",
            )
            .to_string()
        })
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
    let until = match parse_until(&f.until, lang) {
        Ok(u) => u,
        Err(e) => return refuse(e, f.clone()).await,
    };
    let update = UserUpdate {
        name: Some(f.name.clone()),
        role: f.role.clone(),
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
        .add_user_as(&staff.user.email, &f.email, &f.password, &f.role, until)
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
struct UserPage<'a> {
    lang: Lang,
    organisation: &'a str,
    staff: &'a Staff,
    user: User,
    state: &'static str,
    others: Vec<String>,
    notice: String,
    error: String,
}

async fn user_page<'a>(
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
fn urlencode(v: &str) -> String {
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

fn user_link(email: &str, done: &str) -> String {
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
    let until = match parse_until(&f.until, lang) {
        Ok(u) => u,
        Err(e) => return refuse(e).await,
    };
    let update = UserUpdate {
        name: Some(f.name.clone()),
        role: f.role.clone(),
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
        Ok(_) => Ok(see_other(&user_link(f.email.trim(), "offboarded"))),
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
    csrf: String,
    email: String,
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

// ---- address book ----

pub struct ContactRow {
    pub email: String,
    pub name: String,
    pub phone: String,
}

#[derive(Template)]
#[template(path = "admin_contacts.html")]
struct ContactsPage<'a> {
    lang: Lang,
    organisation: &'a str,
    staff: &'a Staff,
    contacts: Vec<ContactRow>,
    partners: Vec<(String, String, String)>,
    notice: String,
    error: String,
    refused: Vec<String>,
}

async fn contacts_page<'a>(
    s: &'a WebState,
    staff: &'a Staff,
    notice: String,
    error: String,
    refused: Vec<String>,
) -> Result<ContactsPage<'a>, WebError> {
    let contacts = s
        .store
        .list_contacts()
        .await?
        .into_iter()
        .map(|(email, name, phone)| ContactRow {
            email,
            name: name.unwrap_or_default(),
            phone: phone.unwrap_or_default(),
        })
        .collect();
    let partners = s
        .store
        .partner_domains()
        .await?
        .into_iter()
        .map(|(d, t, n)| (d, t, n.unwrap_or_default()))
        .collect();
    Ok(ContactsPage {
        lang: staff.lang,
        organisation: &s.organisation,
        staff,
        contacts,
        partners,
        notice,
        error,
        refused,
    })
}

/// `GET /admin/contacts`.
pub async fn contacts(
    State(s): State<WebState>,
    staff: Staff,
    Query(q): Query<Done>,
) -> Result<Response, WebError> {
    staff.require(staff.is_admin())?;
    let page = contacts_page(
        &s,
        &staff,
        flash(staff.lang, &q.done),
        String::new(),
        vec![],
    )
    .await?;
    Ok(render(&page, StatusCode::OK))
}

#[derive(Debug, Deserialize)]
pub struct ContactForm {
    #[serde(default)]
    csrf: String,
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    phone: String,
}

/// `POST /admin/contacts`: add or change one contact (the number in E.164).
pub async fn add_contact(
    State(s): State<WebState>,
    staff: Staff,
    ip: ClientIp,
    Form(f): Form<ContactForm>,
) -> Result<Response, WebError> {
    staff.check_csrf(&f.csrf)?;
    staff.require(staff.is_admin())?;
    let (email, number) =
        match crate::addressbook::contact_row(&f.email, &f.phone, staff.lang.is_nl()) {
            Ok(r) => r,
            Err(why) => {
                let page = contacts_page(&s, &staff, String::new(), why, vec![]).await?;
                return Ok(render(&page, StatusCode::UNPROCESSABLE_ENTITY));
            }
        };
    let name: String = f.name.trim().chars().take(200).collect();
    s.store
        .put_contact(
            &email,
            Some(&name).filter(|n| !n.is_empty()).map(|n| n.as_str()),
            Some(&number),
        )
        .await?;
    staff
        .audit(&s, "contact.saved", Some(&email), None, &ip)
        .await?;
    Ok(see_other("/admin/contacts?done=contact"))
}

/// `POST /admin/contacts/delete`.
pub async fn delete_contact(
    State(s): State<WebState>,
    staff: Staff,
    ip: ClientIp,
    Form(f): Form<EmailForm>,
) -> Result<Response, WebError> {
    staff.check_csrf(&f.csrf)?;
    staff.require(staff.is_admin())?;
    if s.store.delete_contact(&f.email).await? {
        staff
            .audit(&s, "contact.deleted", Some(f.email.trim()), None, &ip)
            .await?;
    }
    Ok(see_other("/admin/contacts?done=deleted"))
}

/// `POST /admin/contacts/import`: CSV (email, name, phone); good rows saved, bad lines
/// listed.
pub async fn import_contacts(
    State(s): State<WebState>,
    staff: Staff,
    ip: ClientIp,
    mut form: Multipart,
) -> Result<Response, WebError> {
    staff.require(staff.is_admin())?;
    let lang = staff.lang;
    let bad = || WebError::new(StatusCode::BAD_REQUEST, ErrorKind::BadInput, lang);
    let mut csrf = String::new();
    let mut data = Vec::new();
    while let Some(field) = form.next_field().await.map_err(|_| bad())? {
        match field.name().unwrap_or("") {
            "csrf" => csrf = field.text().await.map_err(|_| bad())?,
            "file" => data = field.bytes().await.map_err(|_| bad())?.to_vec(),
            _ => {}
        }
    }
    staff.check_csrf(&csrf)?;
    let parsed = match crate::addressbook::parse_csv(data.as_slice(), lang.is_nl()) {
        Ok(p) => p,
        Err(why) => {
            let page = contacts_page(&s, &staff, String::new(), why, vec![]).await?;
            return Ok(render(&page, StatusCode::UNPROCESSABLE_ENTITY));
        }
    };
    for (email, name, number) in &parsed.rows {
        s.store
            .put_contact(email, name.as_deref(), Some(number))
            .await?;
    }
    staff
        .audit(
            &s,
            "contact.imported",
            None,
            Some(format!(
                "{} saved, {} refused",
                parsed.rows.len(),
                parsed.refused.len()
            )),
            &ip,
        )
        .await?;
    let notice = if lang.is_nl() {
        format!(
            "{} contacten opgeslagen, {} regels geweigerd.",
            parsed.rows.len(),
            parsed.refused.len()
        )
    } else {
        format!(
            "{} contacts saved, {} lines refused.",
            parsed.rows.len(),
            parsed.refused.len()
        )
    };
    let status = if parsed.refused.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = contacts_page(&s, &staff, notice, String::new(), parsed.refused).await?;
    Ok(render(&page, status))
}

fn csv_download(name: &str, body: Vec<u8>) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

/// `GET /admin/contacts.csv`.
pub async fn export_contacts(
    State(s): State<WebState>,
    staff: Staff,
    ip: ClientIp,
) -> Result<Response, WebError> {
    staff.require(staff.is_admin())?;
    let contacts = s.store.list_contacts().await?;
    let mut out = Vec::new();
    crate::addressbook::write_csv(&mut out, &contacts)
        .map_err(|e| WebError::internal(staff.lang, e))?;
    staff
        .audit(
            &s,
            "contact.exported",
            None,
            Some(format!("{} contacts", contacts.len())),
            &ip,
        )
        .await?;
    Ok(csv_download("contacten.csv", out))
}

#[derive(Debug, Deserialize)]
pub struct PartnerForm {
    #[serde(default)]
    csrf: String,
    domain: String,
    #[serde(default)]
    tls: String,
    #[serde(default)]
    note: String,
}

fn plausible_domain(d: &str) -> bool {
    d.len() <= 253
        && d.contains('.')
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// `POST /admin/partners`: a partner domain whose mail needs authenticated TLS (or DANE).
pub async fn add_partner(
    State(s): State<WebState>,
    staff: Staff,
    ip: ClientIp,
    Form(f): Form<PartnerForm>,
) -> Result<Response, WebError> {
    staff.check_csrf(&f.csrf)?;
    staff.require(staff.is_admin())?;
    let domain = f.domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let tls = if f.tls == "dane" { "dane" } else { "required" };
    if !plausible_domain(&domain) {
        let page = contacts_page(
            &s,
            &staff,
            String::new(),
            staff
                .lang
                .t("Dat is geen domeinnaam.", "That is not a domain name.")
                .into(),
            vec![],
        )
        .await?;
        return Ok(render(&page, StatusCode::UNPROCESSABLE_ENTITY));
    }
    let note: String = f.note.trim().chars().take(200).collect();
    s.store
        .put_partner_domain(
            &domain,
            tls,
            Some(&note).filter(|n| !n.is_empty()).map(|n| n.as_str()),
        )
        .await?;
    staff
        .audit(
            &s,
            "partner.saved",
            Some(&domain),
            Some(format!("tls {tls}")),
            &ip,
        )
        .await?;
    Ok(see_other("/admin/contacts?done=partner"))
}

#[derive(Debug, Deserialize)]
pub struct DomainForm {
    #[serde(default)]
    csrf: String,
    domain: String,
}

/// `POST /admin/partners/delete`.
pub async fn delete_partner(
    State(s): State<WebState>,
    staff: Staff,
    ip: ClientIp,
    Form(f): Form<DomainForm>,
) -> Result<Response, WebError> {
    staff.check_csrf(&f.csrf)?;
    staff.require(staff.is_admin())?;
    if s.store.delete_partner_domain(&f.domain).await? {
        staff
            .audit(&s, "partner.deleted", Some(f.domain.trim()), None, &ip)
            .await?;
    }
    Ok(see_other("/admin/contacts?done=deleted"))
}

// ---- audit log ----

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
struct AuditPage<'a> {
    lang: Lang,
    organisation: &'a str,
    staff: &'a Staff,
    q: AuditQuery,
    rows: Vec<AuditRowView>,
    query: String,
    page: u32,
    more: bool,
}

const AUDIT_PAGE: i64 = 100;

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
            crate::addressbook::defuse(&r.actor),
            crate::addressbook::defuse(&r.action),
            crate::addressbook::defuse(r.subject.as_deref().unwrap_or("")),
            crate::addressbook::defuse(r.detail.as_deref().unwrap_or("")),
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

// ---- trace, queue, posture, policy ----

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
struct TracePage<'a> {
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
                let word = crate::staff::status_word(&e, lang);
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
            .map(|h| h.describe(lang.is_nl()))
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
                    m.state,
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
struct QueuePage<'a> {
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
            next: if row.state == "queued" {
                when(row.next_attempt_at.max(veilpost_store::now()), true)
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

#[derive(Template)]
#[template(path = "admin_posture.html")]
struct PosturePage<'a> {
    lang: Lang,
    organisation: &'a str,
    staff: &'a Staff,
    domains: Vec<crate::PostureView>,
    error: String,
}

/// `GET /admin/posture`: `check-domain` for each own domain, with the records to publish.
pub async fn posture(State(s): State<WebState>, staff: Staff) -> Result<Response, WebError> {
    staff.require(staff.is_admin())?;
    let (domains, error) = match s.mailer.posture(staff.lang.is_nl()).await {
        Ok(d) => (d, String::new()),
        Err(e) => {
            tracing::warn!("posture: {e:#}");
            (
                Vec::new(),
                staff
                    .lang
                    .t(
                        "De domeincontrole kon nu niet worden uitgevoerd (DNS niet bereikbaar?).",
                        "The domain check could not run now (DNS unreachable?).",
                    )
                    .into(),
            )
        }
    };
    let page = PosturePage {
        lang: staff.lang,
        organisation: &s.organisation,
        staff: &staff,
        domains,
        error,
    };
    Ok(render(&page, StatusCode::OK))
}

#[derive(Template)]
#[template(path = "admin_policy.html")]
struct PolicyPage<'a> {
    lang: Lang,
    organisation: &'a str,
    staff: &'a Staff,
    policy: Vec<&'a (String, String)>,
    rules: Rules,
    answer: String,
    changed_by: String,
    notice: String,
}

/// The double-check rules in force: the web's setting, else the configuration's.
async fn rules_in_force(s: &WebState) -> Result<(Rules, String), WebError> {
    let rules = s
        .store
        .setting("doublecheck")
        .await?
        .and_then(|j| serde_json::from_str(&j).ok())
        .unwrap_or_else(|| s.settings.doublecheck.clone());
    let answer = s
        .store
        .setting("offboarding.answer")
        .await?
        .and_then(|j| serde_json::from_str::<String>(&j).ok())
        .unwrap_or_else(|| s.settings.leaver_answer.clone());
    Ok((rules, answer))
}

/// `GET /admin/policy`: the settings in force; the double-check rules and the answer to
/// leavers' mail can be changed here.
pub async fn policy(
    State(s): State<WebState>,
    staff: Staff,
    Query(q): Query<Done>,
) -> Result<Response, WebError> {
    staff.require(staff.is_admin())?;
    let (rules, answer) = rules_in_force(&s).await?;
    let changed_by = last_change(&s).await?;
    let page = PolicyPage {
        lang: staff.lang,
        organisation: &s.organisation,
        staff: &staff,
        // What the form above edits is not repeated from the file.
        policy: s
            .settings
            .policy
            .iter()
            .filter(|(k, _)| !k.starts_with("doublecheck.") && k != "offboarding.answer")
            .collect(),
        rules,
        answer,
        changed_by: changed_by.unwrap_or_default(),
        notice: flash(staff.lang, &q.done),
    };
    Ok(render(&page, StatusCode::OK))
}

/// Who last changed the double-check on the web (from the audit log).
async fn last_change(s: &WebState) -> Result<Option<String>, WebError> {
    let rows = s
        .store
        .audit_query(
            &AuditFilter {
                action: Some("policy.changed".into()),
                ..AuditFilter::default()
            },
            1,
            0,
        )
        .await?;
    Ok(rows
        .into_iter()
        .next()
        .map(|r| format!("{} ({})", r.actor, when(r.at, true))))
}

#[derive(Debug, Deserialize)]
pub struct PolicyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    look_alike: Option<String>,
    #[serde(default)]
    new_recipient: Option<String>,
    #[serde(default)]
    free_mail: Option<String>,
    #[serde(default)]
    many_visible: String,
    #[serde(default)]
    answer: String,
}

/// `POST /admin/policy`.
pub async fn save_policy(
    State(s): State<WebState>,
    staff: Staff,
    ip: ClientIp,
    Form(f): Form<PolicyForm>,
) -> Result<Response, WebError> {
    staff.check_csrf(&f.csrf)?;
    staff.require(staff.is_admin())?;
    let bad = || WebError::new(StatusCode::BAD_REQUEST, ErrorKind::BadInput, staff.lang);
    let many_visible = match f.many_visible.trim() {
        "" => 0,
        n => n
            .parse::<usize>()
            .ok()
            .filter(|n| *n <= 1000)
            .ok_or_else(bad)?,
    };
    if !matches!(f.answer.as_str(), "reject" | "forward") {
        return Err(bad());
    }
    let (before, before_answer) = rules_in_force(&s).await?;
    let rules = Rules {
        look_alike: f.look_alike.is_some(),
        new_recipient: f.new_recipient.is_some(),
        free_mail: f.free_mail.is_some(),
        many_visible,
    };
    let json = serde_json::to_string(&rules).map_err(|e| WebError::internal(staff.lang, e))?;
    s.store
        .put_setting("doublecheck", &json, &staff.user.email)
        .await?;
    s.store
        .put_setting(
            "offboarding.answer",
            &serde_json::to_string(&f.answer).map_err(|e| WebError::internal(staff.lang, e))?,
            &staff.user.email,
        )
        .await?;
    staff
        .audit(
            &s,
            "policy.changed",
            Some("doublecheck, offboarding.answer"),
            Some(format!(
                "{} -> {}; answer {before_answer} -> {}",
                serde_json::to_string(&before).unwrap_or_default(),
                json,
                f.answer
            )),
            &ip,
        )
        .await?;
    Ok(see_other("/admin/policy?done=saved"))
}
