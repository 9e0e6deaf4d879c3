//! The first administrator's set-up page, reached by the one-time link `serve` prints.

use super::*;

#[derive(Template)]
#[template(path = "setup.html")]
pub(crate) struct Setup<'a> {
    lang: Lang,
    organisation: &'a str,
    valid: bool,
    done: bool,
    email: String,
    error: String,
    csrf: String,
}

pub(crate) async fn setup_form(
    State(s): State<WebState>,
    axum::extract::Path(token): axum::extract::Path<String>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
) -> Response {
    let valid = s.store.first_admin_link_open(&token).await.unwrap_or(false);
    let (csrf, set) = form_csrf(&s, &headers);
    with_cookie(
        render(
            &Setup {
                lang,
                organisation: &s.organisation,
                valid,
                done: false,
                email: String::new(),
                error: String::new(),
                csrf,
            },
            if valid {
                StatusCode::OK
            } else {
                StatusCode::NOT_FOUND
            },
        ),
        set,
    )
}

#[derive(Debug, serde::Deserialize)]
pub struct SetupForm {
    email: String,
    password: String,
    #[serde(default)]
    csrf: String,
}

pub(crate) async fn setup_submit(
    State(s): State<WebState>,
    axum::extract::Path(token): axum::extract::Path<String>,
    PageLang(lang): PageLang,
    headers: HeaderMap,
    axum::extract::Form(form): axum::extract::Form<SetupForm>,
) -> Result<Response, WebError> {
    check_form_csrf(&s, &headers, &form.csrf, lang)?;
    let mut page = Setup {
        lang,
        organisation: &s.organisation,
        valid: s.store.first_admin_link_open(&token).await.unwrap_or(false),
        done: false,
        email: form.email.clone(),
        error: String::new(),
        csrf: form.csrf.clone(),
    };
    if !page.valid {
        return Ok(render(&page, StatusCode::NOT_FOUND));
    }
    // The link is checked and used and the account made in one transaction: one link,
    // one admin, however many submit it at once.
    match s
        .store
        .add_first_admin(&token, &form.email, &form.password)
        .await
    {
        Ok(()) => {
            page.done = true;
            Ok(render(&page, StatusCode::OK))
        }
        Err(veilpost_store::UserError::LinkClosed) => {
            page.valid = false;
            Ok(render(&page, StatusCode::NOT_FOUND))
        }
        Err(e) => {
            page.error = if lang.is_nl() {
                match e {
                    veilpost_store::UserError::BadEmail(_) => "Dat is geen e-mailadres.".into(),
                    veilpost_store::UserError::ShortPassword => {
                        "Het wachtwoord moet minstens 12 tekens hebben.".into()
                    }
                    veilpost_store::UserError::Exists(_) => "Dat account bestaat al.".into(),
                    veilpost_store::UserError::Store(_)
                    | veilpost_store::UserError::BadRole(_)
                    | veilpost_store::UserError::LinkClosed => {
                        "Er ging iets mis; probeer het opnieuw.".into()
                    }
                }
            } else {
                e.to_string()
            };
            Ok(render(&page, StatusCode::UNPROCESSABLE_ENTITY))
        }
    }
}
