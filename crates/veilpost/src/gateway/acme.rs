//! Certificates by ACME (RFC 8555) for the SMTP host names, with HTTP-01 answered on the
//! web listener (`/.well-known/acme-challenge/TOKEN`; a proxy in front passes that path
//! on from port 80). At start and every 12 hours: when the certificate in
//! `data_dir/acme/` is missing, self-signed or within `acme.renew_days` of its end, a new
//! one is ordered, written (key 0600, then the chain, each moved into place) and put in
//! use at once by the live certificate; open sessions keep theirs. A failure is logged
//! and tried again an hour later; the certificate in use stays.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount,
    NewOrder, OrderStatus, RetryPolicy,
};

use super::Shared;
use super::certs::LiveCert;

/// Whether the certificate at `cert` must be (re)ordered at `now`: missing, unreadable,
/// self-signed (the placeholder made at first start) or ending within `renew_days`.
pub fn due(cert: &std::path::Path, renew_days: u64, now: i64) -> bool {
    match super::certs::facts(cert) {
        Ok(f) => f.self_signed || f.not_after - now < (renew_days as i64).saturating_mul(86_400),
        Err(_) => true,
    }
}

/// Keep the certificate ordered and fresh until the process ends.
pub async fn run(shared: Arc<Shared>, live: Arc<LiveCert>) {
    if shared.config.acme.directory.is_empty() {
        return;
    }
    loop {
        let (cert, _) = super::certs::paths(&shared.config);
        let wait = if due(&cert, shared.config.acme.renew_days, shared.store.now()) {
            match obtain(&shared, &live).await {
                Ok(()) => Duration::from_secs(12 * 3600),
                Err(e) => {
                    tracing::error!("ACME: no certificate this time, the current one stays: {e:#}");
                    Duration::from_secs(3600)
                }
            }
        } else {
            Duration::from_secs(12 * 3600)
        };
        tokio::time::sleep(wait).await;
    }
}

/// The account: its stored credentials, or a new one (stored for next time).
async fn account(shared: &Shared) -> Result<Account> {
    let acme = &shared.config.acme;
    let builder = || {
        if acme.ca_file.is_empty() {
            Account::builder()
        } else {
            Account::builder_with_root(&acme.ca_file)
        }
        .context("ACME HTTP client")
    };
    let stored = shared.config.data_dir.join("acme").join("account.json");
    if let Ok(bytes) = std::fs::read(&stored) {
        let credentials: AccountCredentials =
            serde_json::from_slice(&bytes).context("acme/account.json")?;
        return builder()?
            .from_credentials(credentials)
            .await
            .context("ACME account");
    }
    let contact: Vec<String> = acme.contact.iter().map(|c| format!("mailto:{c}")).collect();
    let contact: Vec<&str> = contact.iter().map(String::as_str).collect();
    let (account, credentials) = builder()?
        .create(
            &NewAccount {
                contact: &contact,
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            acme.directory.clone(),
            None,
        )
        .await
        .context("ACME account")?;
    if let Some(dir) = stored.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let _ = std::fs::remove_file(&stored);
    veilpost_store::vault::write_private(&stored, serde_json::to_string(&credentials)?.as_bytes())
        .with_context(|| format!("cannot write {}", stored.display()))?;
    Ok(account)
}

/// Order, prove, finalise, fetch and install.
async fn obtain(shared: &Shared, live: &Arc<LiveCert>) -> Result<()> {
    let names = shared.config.acme_names();
    let account = account(shared).await?;
    let identifiers: Vec<Identifier> = names.iter().map(|n| Identifier::Dns(n.clone())).collect();
    let mut order = account
        .new_order(&NewOrder::new(&identifiers))
        .await
        .context("ACME order")?;
    let mut tokens = Vec::new();
    let mut authorizations = order.authorizations();
    while let Some(authz) = authorizations.next().await {
        let mut authz = authz.context("ACME authorisation")?;
        if authz.status == AuthorizationStatus::Valid {
            continue;
        }
        let mut challenge = authz
            .challenge(ChallengeType::Http01)
            .context("the ACME server offers no HTTP-01 challenge")?;
        let answer = challenge.key_authorization().as_str().to_string();
        let token = challenge.token.clone();
        shared
            .acme_answers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(token.clone(), answer);
        tokens.push(token);
        challenge.set_ready().await.context("ACME challenge")?;
    }
    let retry = RetryPolicy::new().timeout(Duration::from_secs(120));
    let status = order.poll_ready(&retry).await;
    {
        let mut answers = shared
            .acme_answers
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for t in &tokens {
            answers.remove(t);
        }
    }
    let status = status.context("ACME order")?;
    if status != OrderStatus::Ready {
        anyhow::bail!("the ACME order is {status:?}, not ready (was the challenge reachable?)");
    }
    let key_pem = order.finalize().await.context("ACME finalize")?;
    let chain_pem = order
        .poll_certificate(&retry)
        .await
        .context("ACME certificate")?;
    let (cert_path, key_path) = super::certs::paths(&shared.config);
    install(&key_path, key_pem.as_bytes(), true)?;
    install(&cert_path, chain_pem.as_bytes(), false)?;
    let changed = {
        let live = live.clone();
        tokio::task::spawn_blocking(move || live.reload(true)).await??
    };
    tracing::info!(
        "ACME: certificate for {} installed{}",
        names.join(", "),
        if changed { "" } else { " (unchanged)" }
    );
    Ok(())
}

/// Write `bytes` next to `path` and move it into place (the key readable by us alone).
fn install(path: &std::path::Path, bytes: &[u8], private: bool) -> Result<()> {
    let tmp = path.with_extension("new");
    let _ = std::fs::remove_file(&tmp);
    if private {
        veilpost_store::vault::write_private(&tmp, bytes)
    } else {
        std::fs::write(&tmp, bytes)
    }
    .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::due;

    #[test]
    fn due_when_missing_self_signed_or_ending() {
        let dir = std::env::temp_dir().join(format!("vp-acme-due-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("cert.pem");
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        assert!(due(&path, 30, now), "missing");
        let own = rcgen::generate_simple_self_signed(vec!["gw.test".into()]).expect("cert");
        std::fs::write(&path, own.cert.pem()).expect("write");
        assert!(due(&path, 30, now), "self-signed");

        let ca_key = rcgen::KeyPair::generate().expect("key");
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "test CA");
        let issuer = rcgen::Issuer::from_params(&ca, &ca_key);
        let mut leaf = rcgen::CertificateParams::new(vec!["gw.test".to_string()]).expect("params");
        leaf.distinguished_name
            .push(rcgen::DnType::CommonName, "gw.test");
        let t = time::OffsetDateTime::now_utc();
        leaf.not_before = t - time::Duration::days(1);
        leaf.not_after = t + time::Duration::days(60);
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = leaf.signed_by(&key, &issuer).expect("leaf");
        std::fs::write(&path, cert.pem()).expect("write");
        assert!(!due(&path, 30, now), "60 days left, renew at 30");
        assert!(due(&path, 90, now), "60 days left, renew at 90");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
