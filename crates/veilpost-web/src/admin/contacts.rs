//! The address book: contacts with E.164 numbers, CSV import and export, and partner
//! domains with mandatory authenticated TLS.

use super::*;

pub struct ContactRow {
    pub email: String,
    pub name: String,
    pub phone: String,
}

#[derive(Template)]
#[template(path = "admin_contacts.html")]
pub(super) struct ContactsPage<'a> {
    lang: Lang,
    organisation: &'a str,
    staff: &'a Staff,
    contacts: Vec<ContactRow>,
    partners: Vec<(String, String, String)>,
    notice: String,
    kept: Kept,
    refused: Vec<String>,
}

/// What an admin entered in a form that was refused: kept in the form, with the reason
/// beside it (the import's reason above the page).
#[derive(Debug, Default)]
pub(super) struct Kept {
    pub error: String,
    pub contact_error: String,
    pub contact: (String, String, String),
    pub partner_error: String,
    pub partner: (String, String),
}

pub(super) async fn contacts_page<'a>(
    s: &'a WebState,
    staff: &'a Staff,
    notice: String,
    kept: Kept,
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
        kept,
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
        Kept::default(),
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
    let (email, number) = match veilpost_store::addressbook::contact_row(&f.email, &f.phone) {
        Ok(r) => r,
        Err(why) => {
            let kept = Kept {
                contact_error: why.text(staff.lang),
                contact: (f.email, f.name, f.phone),
                ..Kept::default()
            };
            let page = contacts_page(&s, &staff, String::new(), kept, vec![]).await?;
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
    let parsed = match veilpost_store::addressbook::parse_csv(data.as_slice()) {
        Ok(p) => p,
        Err(too_many) => {
            let kept = Kept {
                error: too_many.text(lang).to_string(),
                ..Kept::default()
            };
            let page = contacts_page(&s, &staff, String::new(), kept, vec![]).await?;
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
    let refused = parsed.refused.iter().map(|r| r.text(lang)).collect();
    let page = contacts_page(&s, &staff, notice, Kept::default(), refused).await?;
    Ok(render(&page, status))
}

pub(super) fn csv_download(name: &str, body: Vec<u8>) -> Response {
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
    veilpost_store::addressbook::write_csv(&mut out, &contacts)
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

pub(super) fn plausible_domain(d: &str) -> bool {
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
        let kept = Kept {
            partner_error: staff
                .lang
                .t("Dat is geen domeinnaam.", "That is not a domain name.")
                .into(),
            partner: (f.domain, f.note),
            ..Kept::default()
        };
        let page = contacts_page(&s, &staff, String::new(), kept, vec![]).await?;
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
