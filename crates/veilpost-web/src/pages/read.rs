//! Reading: the message page, attachments as downloads, the saved copy (.eml and
//! standalone .html), and the secure reply with files.

use super::*;

/// The decrypted message of a readable entry.
pub(crate) fn decrypt(
    s: &WebState,
    e: &PortalEntry,
    ciphertext: &[u8],
    lang: Lang,
) -> Result<Vec<u8>, WebError> {
    s.master_key
        .open(&e.id, &e.wrapped_key, ciphertext)
        .map_err(|err| WebError::internal(lang, format!("vault entry {}: {err}", e.id)))
}

/// A verified, readable entry and its plaintext.
pub(super) async fn open_entry(
    s: &WebState,
    token: &str,
    headers: &HeaderMap,
    lang: Lang,
) -> Result<(PortalEntry, PortalSession, Vec<u8>), WebError> {
    let e = entry(s, token, lang).await?;
    gone(&e, s.store.now(), lang)?;
    let opened = async {
        let (_, session) = require_session(s, headers, &e, lang).await?;
        let ciphertext = s.store.read_blob(&e.blob).await?;
        Ok::<_, WebError>((session, decrypt(s, &e, &ciphertext, lang)?))
    };
    match opened.await {
        Ok((session, plain)) => Ok((e, session, plain)),
        // Revoked or expired while this request ran (the session, key or ciphertext went
        // between our reads): say so, rather than "session ended" or an error.
        Err(err) => match entry(s, token, lang).await {
            Ok(now) => {
                gone(&now, s.store.now(), lang)?;
                Err(err)
            }
            Err(_) => Err(err),
        },
    }
}

#[derive(Template)]
#[template(path = "message.html")]
pub(super) struct MessagePage<'a> {
    lang: Lang,
    organisation: &'a str,
    token: &'a str,
    csrf: &'a str,
    view: View,
    /// Where its attachments download from (see `mail_view.html`).
    files_at: String,
    /// The recipient's replies to it: the conversation.
    replies: Vec<ReplyView>,
    expires: String,
    sent: bool,
    totp_done: bool,
    offer_totp: bool,
    /// An upload request: the upload form comes first.
    upload: bool,
    types: String,
}

#[derive(Debug, Deserialize, Default)]
pub struct MessageQuery {
    #[serde(default)]
    sent: Option<String>,
    #[serde(default)]
    totp: Option<String>,
}

/// `GET /p/{token}/message`: the message itself.
pub async fn message(
    State(s): State<WebState>,
    Path(token): Path<String>,
    Query(q): Query<MessageQuery>,
    PageLang(lang): PageLang,
    ip: ClientIp,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let (e, session, plain) = open_entry(&s, &token, &headers, lang).await?;
    let view = render::view(&plain);
    audit(&s, &e, &e.recipient, "message.viewed", &ip, "ok", None).await?;
    if e.opened_at.is_none()
        && s.store.portal_milestone(&e.id, Milestone::Opened).await?
        && e.read_receipt
    {
        let from = mails::From {
            organisation: &s.organisation,
            address: &s.settings.notify_from,
        };
        match mails::read_receipt(
            &from,
            &e.sender,
            &e.recipient,
            &when(s.store.now(), true),
            None,
        ) {
            Ok(raw) => {
                if let Err(err) = s.mailer.send(e.sender.clone(), raw).await {
                    tracing::error!("read receipt for {}: {err}", e.id);
                }
            }
            Err(err) => tracing::error!("read receipt for {}: {err}", e.id),
        }
    }
    // Linking an app is offered once, and only to a session proven with the recipient's
    // own factor (see `totp.rs`).
    let offer_totp = session
        .factor
        .as_deref()
        .is_some_and(veilpost_portal::login::Factor::recipients_own)
        && s.store
            .totp(veilpost_store::TotpHolder::Recipient(&e.recipient))
            .await?
            .is_none();
    let replies = conversation(&s, &e, lang).await?;
    let page = MessagePage {
        lang,
        organisation: &s.organisation,
        token: &token,
        csrf: &session.csrf,
        view,
        files_at: format!("/p/{token}/attachment/"),
        replies,
        expires: veilpost_text::dates::long_date(e.expires_at, lang),
        sent: q.sent.is_some(),
        totp_done: q.totp.is_some(),
        offer_totp,
        upload: e.upload,
        types: crate::uploads::types_in_words(&s.settings.intake_types, lang),
    };
    Ok(render_page(&page, StatusCode::OK))
}

/// One of the recipient's replies, as the conversation shows it.
pub struct ReplyView {
    pub id: String,
    pub at: String,
    pub view: render::View,
}

/// The recipient's replies to this message, oldest first, decrypted.
async fn conversation(
    s: &WebState,
    e: &PortalEntry,
    lang: Lang,
) -> Result<Vec<ReplyView>, WebError> {
    let mut out = Vec::new();
    for r in s.store.portal_replies(&e.id).await? {
        let plain = open_reply(s, &r, lang).await?;
        out.push(ReplyView {
            at: when(r.created_at, true),
            view: render::view(&plain),
            id: r.id,
        });
    }
    Ok(out)
}

async fn open_reply(
    s: &WebState,
    r: &veilpost_store::PortalReply,
    lang: Lang,
) -> Result<Vec<u8>, WebError> {
    let ciphertext = s.store.read_blob(&r.blob).await?;
    s.master_key
        .open(&format!("reply:{}", r.id), &r.wrapped_key, &ciphertext)
        .map_err(|err| WebError::internal(lang, format!("reply {}: {err}", r.id)))
}

/// `GET /p/{token}/reply/{id}/attachment/{n}`: a file of one of the recipient's own
/// replies, downloaded again from the conversation.
pub async fn reply_attachment(
    State(s): State<WebState>,
    Path((token, reply, n)): Path<(String, String, usize)>,
    PageLang(lang): PageLang,
    ip: ClientIp,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let (e, _, _) = open_entry(&s, &token, &headers, lang).await?;
    let not_found = || WebError::new(StatusCode::NOT_FOUND, ErrorKind::NotFound, lang);
    let r = s
        .store
        .portal_replies(&e.id)
        .await?
        .into_iter()
        .find(|r| r.id == reply)
        .ok_or_else(not_found)?;
    let plain = open_reply(&s, &r, lang).await?;
    let (name, bytes) = render::attachment(&plain, n).ok_or_else(not_found)?;
    let detail = format!(
        "reply {} attachment {} ({} bytes)",
        r.id,
        n + 1,
        bytes.len()
    );
    audit(
        &s,
        &e,
        &e.recipient,
        "attachment.downloaded",
        &ip,
        "ok",
        Some(detail),
    )
    .await?;
    Ok(download(&name, "application/octet-stream", bytes))
}

/// A download: never rendered by the browser, named safely (RFC 6266).
pub(crate) fn download(name: &str, content_type: &'static str, bytes: Vec<u8>) -> Response {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_ ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b".-_".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let disposition = format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}");
    let mut r = Response::new(Body::from(bytes));
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

/// `GET /p/{token}/attachment/{n}`.
pub async fn attachment(
    State(s): State<WebState>,
    Path((token, n)): Path<(String, usize)>,
    PageLang(lang): PageLang,
    ip: ClientIp,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let (e, _, plain) = open_entry(&s, &token, &headers, lang).await?;
    let Some((name, bytes)) = render::attachment(&plain, n) else {
        return Err(WebError::new(
            StatusCode::NOT_FOUND,
            ErrorKind::NotFound,
            lang,
        ));
    };
    let detail = format!("attachment {} ({} bytes)", n + 1, bytes.len());
    let what = ("attachment.downloaded", detail.as_str());
    hand_over(&s, &e, &ip, what, &name, "application/octet-stream", bytes).await
}

/// A copy leaves the portal: audited, noted as downloaded, sent as a download.
pub(super) async fn hand_over(
    s: &WebState,
    e: &PortalEntry,
    ip: &ClientIp,
    (action, detail): (&str, &str),
    name: &str,
    content_type: &'static str,
    bytes: Vec<u8>,
) -> Result<Response, WebError> {
    audit(
        s,
        e,
        &e.recipient,
        action,
        ip,
        "ok",
        Some(detail.to_string()),
    )
    .await?;
    if e.downloaded_at.is_none() {
        s.store
            .portal_milestone(&e.id, Milestone::Downloaded)
            .await?;
    }
    Ok(download(name, content_type, bytes))
}

/// `GET /p/{token}/save.eml`: the whole message, attachments included.
pub async fn save_eml(
    State(s): State<WebState>,
    Path(token): Path<String>,
    PageLang(lang): PageLang,
    ip: ClientIp,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let (e, _, plain) = open_entry(&s, &token, &headers, lang).await?;
    let what = ("message.saved", "eml");
    hand_over(&s, &e, &ip, what, "bericht.eml", "message/rfc822", plain).await
}

/// `GET /p/{token}/save.html`: a readable copy to keep.
pub async fn save_html(
    State(s): State<WebState>,
    Path(token): Path<String>,
    PageLang(lang): PageLang,
    ip: ClientIp,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let (e, _, plain) = open_entry(&s, &token, &headers, lang).await?;
    let html = render::standalone_html(&render::view(&plain), &s.organisation).into_bytes();
    let what = ("message.saved", "html");
    hand_over(
        &s,
        &e,
        &ip,
        what,
        "bericht.html",
        "text/html; charset=utf-8",
        html,
    )
    .await
}

/// `POST /p/{token}/reply` (multipart: csrf, text, files): a secure reply to the sender.
pub async fn reply(
    State(s): State<WebState>,
    Path(token): Path<String>,
    PageLang(lang): PageLang,
    ip: ClientIp,
    headers: HeaderMap,
    form: Multipart,
) -> Result<Response, WebError> {
    let e = entry(&s, &token, lang).await?;
    gone(&e, s.store.now(), lang)?;
    let (_, session) = require_session(&s, &headers, &e, lang).await?;
    // Replies carry files from outside: the same allow-list as the contact form.
    let allowed = Some(s.settings.intake_types.as_slice());
    let clamd = s.settings.clamd.as_deref();
    let up = read_upload(form, s.settings.max_reply_size, allowed, clamd, lang).await?;
    if !same_secret(&session.csrf, up.field("csrf")) {
        return Err(WebError::new(StatusCode::FORBIDDEN, ErrorKind::Csrf, lang));
    }
    let text = up.field("text").to_string();
    let files = up.files;
    if text.trim().is_empty() && files.is_empty() {
        return Ok(see_other(&format!("/p/{token}/message")));
    }
    let ciphertext = s.store.read_blob(&e.blob).await?;
    let original = render::view(&decrypt(&s, &e, &ciphertext, lang)?);
    let from = mails::From {
        organisation: &s.organisation,
        address: &s.settings.notify_from,
    };
    let raw = mails::reply(
        &from,
        &e.recipient,
        &e.sender,
        &original.subject,
        original.message_id.as_deref(),
        &text,
        files,
    )
    .map_err(|err| WebError::internal(lang, err))?;
    // Kept with the message it answers, for the conversation on this page.
    let reply_id = veilpost_store::vault::short_id();
    let sealed = s
        .master_key
        .seal(&format!("reply:{reply_id}"), &raw)
        .map_err(|err| WebError::internal(lang, err))?;
    let blob = s.store.blobs().write(sealed.ciphertext).await?;
    s.store
        .add_portal_reply(&reply_id, &e.id, &blob, &sealed.wrapped_key)
        .await?;
    let envelope = Envelope {
        origin: Origin::Reply,
        mail_from: e.recipient.clone(),
        rcpt_to: vec![e.sender.clone()],
        auth_user: None,
        client_ip: Some(ip.0.clone()),
        intent: None,
    };
    let id = s
        .mailer
        .submit(envelope, raw)
        .await
        .map_err(|err| WebError::internal(lang, err))?;
    audit(
        &s,
        &e,
        &e.recipient,
        "reply.sent",
        &ip,
        "ok",
        Some(format!("reply {id}")),
    )
    .await?;
    s.store.portal_milestone(&e.id, Milestone::Replied).await?;
    Ok(see_other(&format!("/p/{token}/message?sent=1")))
}
