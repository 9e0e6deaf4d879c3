//! Linking an authenticator app (TOTP) to the recipient's address, only from a session
//! whose second factor the recipient alone holds (an SMS code or an app already linked;
//! never the access code, which the sender knows). Replacing an app therefore needs the
//! old app or an SMS code. The recipient is told by mail.

use super::*;

#[derive(Template)]
#[template(path = "totp.html")]
pub(super) struct TotpPage<'a> {
    lang: Lang,
    organisation: &'a str,
    token: &'a str,
    csrf: &'a str,
    enrol: crate::totp::Enrolment,
    wrong: bool,
}

pub(super) fn totp_page<'a>(
    s: &'a WebState,
    token: &'a str,
    csrf: &'a str,
    e: &PortalEntry,
    secret: Secret,
    wrong: bool,
    lang: Lang,
) -> Result<TotpPage<'a>, WebError> {
    let enrol = crate::totp::Enrolment::new(&secret, &e.recipient, "Veilpost");
    if enrol.uri.is_empty() {
        return Err(WebError::internal(lang, "totp"));
    }
    Ok(TotpPage {
        lang,
        organisation: &s.organisation,
        token,
        csrf,
        enrol,
        wrong,
    })
}

/// The session, if its second factor is the recipient's own; otherwise 403.
async fn own_factor_session(
    s: &WebState,
    headers: &HeaderMap,
    e: &PortalEntry,
    lang: Lang,
) -> Result<PortalSession, WebError> {
    let (_, session) = require_session(s, headers, e, lang).await?;
    if session
        .factor
        .as_deref()
        .is_some_and(veilpost_portal::login::Factor::recipients_own)
    {
        Ok(session)
    } else {
        Err(WebError::new(
            StatusCode::FORBIDDEN,
            ErrorKind::Forbidden,
            lang,
        ))
    }
}

/// `GET /p/{token}/totp`: register an authenticator app for the next visits.
pub async fn totp_form(
    State(s): State<WebState>,
    Path(token): Path<String>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let e = entry(&s, &token, lang).await?;
    gone(&e, s.store.now(), lang)?;
    let session = own_factor_session(&s, &headers, &e, lang).await?;
    let page = totp_page(
        &s,
        &token,
        &session.csrf,
        &e,
        Secret::generate(),
        false,
        lang,
    )?;
    Ok(render_page(&page, StatusCode::OK))
}

#[derive(Debug, Deserialize)]
pub struct TotpForm {
    #[serde(default)]
    csrf: String,
    secret: String,
    code: String,
}

/// `POST /p/{token}/totp`: keep the app once it shows a right code.
pub async fn totp_register(
    State(s): State<WebState>,
    Path(token): Path<String>,
    PageLang(lang): PageLang,
    ip: ClientIp,
    headers: HeaderMap,
    Form(f): Form<TotpForm>,
) -> Result<Response, WebError> {
    let e = entry(&s, &token, lang).await?;
    gone(&e, s.store.now(), lang)?;
    let session = own_factor_session(&s, &headers, &e, lang).await?;
    if !same_secret(&session.csrf, &f.csrf) {
        return Err(WebError::new(StatusCode::FORBIDDEN, ErrorKind::Csrf, lang));
    }
    let secret = Secret::try_from_base32(f.secret.chars().take(64).collect::<String>())
        .map_err(|_| WebError::new(StatusCode::BAD_REQUEST, ErrorKind::BadInput, lang))?;
    let bytes = secret.as_ref().to_vec();
    let totp = make_totp(bytes.clone(), &e.recipient, "Veilpost")
        .ok_or_else(|| WebError::new(StatusCode::BAD_REQUEST, ErrorKind::BadInput, lang))?;
    let code: String = f.code.chars().filter(|c| c.is_ascii_digit()).collect();
    let Some(step) = totp.check(&code, s.store.now().max(0) as u64) else {
        let page = totp_page(&s, &token, &session.csrf, &e, secret, true, lang)?;
        return Ok(render_page(&page, StatusCode::UNPROCESSABLE_ENTITY));
    };
    let who = veilpost_store::TotpHolder::Recipient(&e.recipient);
    let sealed = s
        .master_key
        .seal(&who.seal_context(), &bytes)
        .map_err(|err| WebError::internal(lang, err))?;
    // The code that registered the app is used up: it cannot sign in again.
    s.store
        .register_totp(
            who,
            &sealed.ciphertext,
            &sealed.wrapped_key,
            &sealed.key_id,
            step as i64,
        )
        .await?;
    audit(&s, &e, &e.recipient, "totp.registered", &ip, "ok", None).await?;
    let from = mails::From {
        organisation: &s.organisation,
        address: &s.settings.notify_from,
    };
    let at = veilpost_text::dates::when(s.store.now(), true);
    match mails::totp_registered(&from, &e.recipient, &at) {
        Ok(raw) => {
            if let Err(err) = s.mailer.send(e.recipient.clone(), raw).await {
                tracing::warn!("portal: the app-linked notice could not be queued: {err}");
            }
        }
        Err(err) => tracing::warn!("portal: the app-linked notice: {err}"),
    }
    Ok(see_other(&format!("/p/{token}/message?totp=1")))
}
