//! The admin pages: users (add, end date, role, scopes, offboard, a new second factor),
//! the address book (contacts with E.164 numbers, CSV import and export, partner domains
//! with a TLS policy), the policy in force, a message trace, the delivery queue (retry,
//! cancel), the domain's posture with the records to publish, and the audit log with
//! filters and CSV export (admin and auditor; every look at it is itself logged).

mod audit;
mod contacts;
mod dmarc;
mod policy;
mod trace;
mod users;

use askama::Template;
use axum::Form;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use veilpost_policy::doublecheck::Rules;
use veilpost_store::{AuditEntry, AuditFilter, QueueRow, Role, User, UserError, UserUpdate};

use crate::signin::{CsrfOnly, Staff};
use crate::{ClientIp, ErrorKind, Lang, WebError, WebState, render, see_other, when};

fn not_found(lang: Lang) -> WebError {
    WebError::new(StatusCode::NOT_FOUND, ErrorKind::NotFound, lang)
}

pub(crate) fn flash(lang: Lang, done: &str) -> String {
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
        "blocked" => (
            "Geblokkeerd: mail van deze afzender wordt voortaan geweigerd.",
            "Blocked: mail from this sender is refused from now on.",
        ),
        "handled" => ("De melding is afgehandeld.", "The report is handled."),
        "released" => (
            "Vrijgegeven: het bericht gaat door naar de mailserver.",
            "Released: the message goes on to the mail server.",
        ),
        _ => return String::new(),
    };
    lang.t(nl, en).to_string()
}

#[derive(Debug, Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    pub(crate) done: String,
    #[serde(default)]
    email: String,
}

pub use audit::*;
pub use contacts::*;
pub use dmarc::*;
pub use policy::*;
pub use trace::*;
pub use users::*;
