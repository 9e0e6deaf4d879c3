//! Asking before what cannot be undone: revoking a secure message destroys its content,
//! so the first press of "Intrekken" shows what will happen and a second form does it.
//! No script: the confirmation is a page of its own.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use crate::{Lang, render};

/// A form that may carry the confirmation.
#[derive(Debug, Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    pub csrf: String,
    /// `1` once the person confirmed on the confirmation page.
    #[serde(default)]
    pub confirm: String,
}

impl ConfirmForm {
    pub fn confirmed(&self) -> bool {
        self.confirm == "1"
    }
}

#[derive(Template)]
#[template(path = "confirm.html")]
struct ConfirmRevoke<'a> {
    lang: Lang,
    organisation: &'a str,
    recipient: &'a str,
    action: &'a str,
    csrf: &'a str,
    back: &'a str,
}

/// The page that asks before a revoke: posts `confirm=1` back to `action`.
pub(crate) fn ask_before_revoking(
    lang: Lang,
    organisation: &str,
    recipient: &str,
    (action, back): (&str, &str),
    csrf: &str,
) -> Response {
    render(
        &ConfirmRevoke {
            lang,
            organisation,
            recipient,
            action,
            csrf,
            back,
        },
        StatusCode::OK,
    )
}
