//! One error type for every page: a status, a kind people can act on, an id shown to the
//! user and logged; rendered in place with a way back.

use super::*;

/// One error type for every page: the status, what the user is told, and an id to quote.
#[derive(Debug)]
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
    id: &'a str,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (nl, en) = self.text();
        let page = ErrorPage {
            lang: self.lang,
            organisation: "",
            message: self.lang.t(nl, en),
            id: &self.id,
        };
        render(&page, self.status)
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
