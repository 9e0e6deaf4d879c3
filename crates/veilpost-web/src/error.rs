//! One error type for every page: a status, a kind people can act on, an id shown to the
//! user and logged; rendered in place with a way back.

use super::*;

/// One error type for every page: the status, what the user is told, and an id to quote.
#[derive(Debug, Clone)]
pub struct WebError {
    pub status: StatusCode,
    pub kind: ErrorKind,
    pub id: String,
    pub lang: Lang,
}

/// What went wrong, in the user's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    /// The form's CSRF token did not match (an old page, or another site's form).
    Csrf,
    /// Too many tries.
    TooMany,
    /// The session ended (idle timeout or logged out).
    SessionEnded,
    /// Input refused (too large, not a form).
    BadInput,
    /// A file type the form does not take.
    FileType,
    /// The virus scanner found something in a file.
    Malware,
    /// A service the request needs is down (the virus scanner).
    Unavailable,
    /// The signed-in account's role does not allow this.
    Forbidden,
    /// Our fault.
    Internal,
}

impl WebError {
    pub fn new(status: StatusCode, kind: ErrorKind, lang: Lang) -> WebError {
        let mut raw = [0u8; 6];
        veilpost_store::random(&mut raw);
        WebError {
            status,
            kind,
            id: veilpost_store::hex(&raw),
            lang,
        }
    }

    /// An internal error: logged with its id, never shown.
    pub fn internal(lang: Lang, what: impl std::fmt::Display) -> WebError {
        let e = WebError::new(StatusCode::INTERNAL_SERVER_ERROR, ErrorKind::Internal, lang);
        tracing::error!("web error {}: {what}", e.id);
        e
    }

    fn text(&self) -> (&'static str, &'static str) {
        match self.kind {
            ErrorKind::NotFound => (
                "Deze pagina bestaat niet (meer). Controleer of u de hele link hebt gebruikt.",
                "This page does not exist (any more). Check that you used the whole link.",
            ),
            ErrorKind::Csrf => (
                "Het formulier was verlopen of kwam niet van deze site. Ga terug, laad de pagina opnieuw en probeer het nog eens.",
                "The form had expired or did not come from this site. Go back, reload the page and try again.",
            ),
            ErrorKind::TooMany => (
                "Te veel pogingen. Wacht even en probeer het daarna opnieuw.",
                "Too many attempts. Wait a while, then try again.",
            ),
            ErrorKind::SessionEnded => (
                "Uw sessie is beëindigd (na 15 minuten zonder activiteit, of na afmelden). Open de link uit de e-mail opnieuw.",
                "Your session has ended (after 15 minutes without activity, or after signing out). Open the link in the e-mail again.",
            ),
            ErrorKind::BadInput => (
                "Dit verzoek kon niet worden verwerkt (te groot of onvolledig).",
                "This request could not be handled (too large or incomplete).",
            ),
            ErrorKind::FileType => (
                "Dit soort bestand kan hier niet worden verstuurd. Stuur bijvoorbeeld een PDF of een foto (JPG, PNG).",
                "This kind of file cannot be sent here. Send a PDF or a photo (JPG, PNG), for example.",
            ),
            ErrorKind::Malware => (
                "In een van de bestanden is een virus of ander schadelijk programma gevonden. Er is niets verstuurd.",
                "A virus or other malicious program was found in one of the files. Nothing was sent.",
            ),
            ErrorKind::Unavailable => (
                "De bestanden kunnen nu niet op virussen worden gecontroleerd, dus er is niets verstuurd. Probeer het later opnieuw.",
                "The files cannot be checked for viruses right now, so nothing was sent. Try again later.",
            ),
            ErrorKind::Forbidden => (
                "U hebt met uw rol geen toegang tot deze pagina of handeling.",
                "Your role does not give you access to this page or action.",
            ),
            ErrorKind::Internal => (
                "Er ging bij ons iets mis. Probeer het later opnieuw.",
                "Something went wrong on our side. Try again later.",
            ),
        }
    }
}

impl From<veilpost_store::Error> for WebError {
    fn from(e: veilpost_store::Error) -> Self {
        WebError::internal(Lang::Nl, e)
    }
}

#[derive(Template)]
#[template(path = "error.html")]
pub(crate) struct ErrorPage<'a> {
    lang: Lang,
    organisation: &'a str,
    message: &'a str,
    /// Shown only for our own faults (to quote when getting in touch); ordinary
    /// conditions (an ended session, a wrong file) need no code.
    id: Option<&'a str>,
    /// Where to go on from here.
    back: Option<&'static str>,
    back_to: String,
}

impl WebError {
    /// The error's page, in the organisation's name, with a way back from `path` (the
    /// request's path).
    pub(crate) fn page(&self, organisation: &str, path: &str) -> Response {
        let (nl, en) = self.text();
        let (back_to, back) = match way_back(path) {
            Some((to, nl, en)) => (to, Some(self.lang.t(nl, en))),
            None => (String::new(), None),
        };
        let page = ErrorPage {
            lang: self.lang,
            organisation,
            message: self.lang.t(nl, en),
            id: matches!(self.kind, ErrorKind::Internal).then_some(self.id.as_str()),
            back,
            back_to,
        };
        render(&page, self.status)
    }
}

/// The page to go back to from a failed request to `path`, and its label.
pub(crate) fn way_back(path: &str) -> Option<(String, &'static str, &'static str)> {
    let mut parts = path.trim_start_matches('/').split('/');
    let first = parts.next().unwrap_or("");
    let token = parts.next().filter(|t| {
        !t.is_empty()
            && t.len() <= 128
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    match (first, token) {
        ("p", Some(t)) => Some((
            format!("/p/{t}"),
            "Terug naar het bericht",
            "Back to the message",
        )),
        ("s", Some(t)) => Some((
            format!("/s/{t}"),
            "Terug naar de status",
            "Back to the status",
        )),
        ("h", Some(t)) => Some((
            format!("/h/{t}"),
            "Terug naar het bericht",
            "Back to the message",
        )),
        ("contact", _) => Some((
            "/contact".into(),
            "Terug naar het contactformulier",
            "Back to the contact form",
        )),
        ("staff" | "admin", _) => Some((
            "/staff".into(),
            "Terug naar Mijn berichten",
            "Back to My messages",
        )),
        ("login", _) => Some(("/login".into(), "Terug naar aanmelden", "Back to sign-in")),
        _ => None,
    }
}

/// The page is rendered again with the organisation and the way back by the
/// `security_headers` middleware, which sees the request (see `WebError::page`).
impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let mut response = self.page("", "");
        response.extensions_mut().insert(self);
        response
    }
}

/// Render a template (the headers come from the middleware).
pub(crate) fn render(t: &impl Template, status: StatusCode) -> Response {
    match t.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!("template: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_a_way_back() {
        for (path, back) in [
            ("/p/abcDEF123_-x/reply", Some("/p/abcDEF123_-x")),
            ("/p/abc/message", Some("/p/abc")),
            ("/s/tok/revoke", Some("/s/tok")),
            ("/h/tok/send", Some("/h/tok")),
            ("/contact/123/send", Some("/contact")),
            ("/admin/user/offboard", Some("/staff")),
            ("/staff/compose", Some("/staff")),
            ("/login/2fa", Some("/login")),
            // Nothing made up from a path that is not ours or not a token.
            ("/p/<script>/x", None),
            ("/p/", None),
            ("/nope", None),
            ("/", None),
        ] {
            assert_eq!(
                way_back(path).map(|w| w.0),
                back.map(str::to_string),
                "{path}"
            );
        }
    }

    async fn html(kind: ErrorKind) -> String {
        let e = WebError::new(StatusCode::BAD_REQUEST, kind, Lang::Nl);
        let r = e.page("Praktijk De Linde", "/p/tok/reply");
        let body = axum::body::to_bytes(r.into_body(), 1 << 20)
            .await
            .expect("body");
        String::from_utf8(body.to_vec()).expect("utf-8")
    }

    #[tokio::test]
    async fn only_our_own_faults_show_a_code() {
        for kind in [
            ErrorKind::SessionEnded,
            ErrorKind::FileType,
            ErrorKind::Csrf,
            ErrorKind::NotFound,
        ] {
            let page = html(kind).await;
            assert!(
                page.contains("Praktijk De Linde")
                    && page.contains("href=\"/p/tok\"")
                    && !page.contains("Foutcode"),
                "{kind:?}: {page}"
            );
        }
        assert!(html(ErrorKind::Internal).await.contains("Foutcode"));
    }
}
