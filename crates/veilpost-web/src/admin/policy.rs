//! The domain's posture with the records to publish, and the policy in force (the
//! double-check rules and the answer to leavers' mail are editable).

use super::*;

#[derive(Template)]
#[template(path = "admin_posture.html")]
pub(super) struct PosturePage<'a> {
    lang: Lang,
    organisation: &'a str,
    staff: &'a Staff,
    domains: Vec<crate::PostureView>,
    error: String,
}

/// `GET /admin/posture`: `check-domain` for each own domain, with the records to publish.
pub async fn posture(State(s): State<WebState>, staff: Staff) -> Result<Response, WebError> {
    staff.require(staff.is_admin())?;
    let (domains, error) = match s.mailer.posture(staff.lang).await {
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
pub(super) struct PolicyPage<'a> {
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
pub(super) async fn rules_in_force(s: &WebState) -> Result<(Rules, String), WebError> {
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
pub(super) async fn last_change(s: &WebState) -> Result<Option<String>, WebError> {
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
