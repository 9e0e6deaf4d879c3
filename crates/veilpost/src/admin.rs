//! The commands an administrator runs against the gateway's configuration and store:
//! `veilpost user …`, `veilpost contact …`, `veilpost audit verify`, `veilpost dkim show`.

use std::io::{BufRead, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::UserCommand;
use crate::config::load;
use crate::lang::Lang;

/// `veilpost dkim show`.
pub fn dkim_show(config: Option<&Path>) -> Result<()> {
    let config = load(config)?;
    if config.organisation.domains.is_empty() {
        bail!("no organisation.domains configured: nothing to sign for");
    }
    let keys = crate::gateway::dkim::Keys::load(&config, true)?;
    for line in keys.zone_lines() {
        println!("{line}");
    }
    Ok(())
}

/// `veilpost master-key rotate`: a new master key wraps every per-message key, and the
/// object store's blob key, instead of the old one (the ciphertexts and objects stay as
/// they are). The node must be stopped (on SQLite
/// its lock says so; on PostgreSQL every node, `--all-nodes-stopped`). The new key waits
/// in `master.key.new` until the database is done, then takes the old file's place (the
/// old one kept as `master.key.retired-ID`); a run cut short is simply run again. With the
/// key in `portal.master_key`, the new one is printed for the operator to put there.
pub fn master_key_rotate(config: Option<&Path>, all_nodes_stopped: bool) -> Result<u8> {
    use veilpost_store::vault::MasterKey;
    let config = load(config)?;
    let _lock = match config.database()? {
        veilpost_store::Database::Sqlite(_) => {
            Some(crate::gateway::lock_data_dir(&config.data_dir)?)
        }
        veilpost_store::Database::Postgres(_) if !all_nodes_stopped => {
            bail!("with PostgreSQL every node must be stopped first: then give --all-nodes-stopped")
        }
        veilpost_store::Database::Postgres(_) => None,
    };
    let old = config.master_key()?;
    let file = config.master_key_file();
    let pending = file.with_file_name(format!(
        "{}.new",
        file.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("master.key")
    ));
    let (new, text) = match std::fs::read_to_string(&pending) {
        Ok(text) => (MasterKey::from_base64(&text)?, text.trim().to_string()),
        Err(_) => {
            let (key, text) = MasterKey::generate()?;
            veilpost_store::vault::write_private(&pending, text.as_bytes())
                .with_context(|| format!("cannot write {}", pending.display()))?;
            (key, text)
        }
    };
    if new.id() == old.id() {
        bail!(
            "{} holds the key in use: nothing to rotate",
            pending.display()
        );
    }
    let counts = crate::serve::runtime()?.block_on(async {
        // The database alone: the blobs (in a directory or a bucket) are not touched, and
        // a run cut short must open it again once the blob key is wrapped by the new key.
        let store = config.open_database().await?;
        // With blobs in an object store the blob key must be in the database before the
        // rotation: a database that never opened its bucket since blob keys were kept
        // stores the one the bucket was sealed with (derived from the old key) now.
        if config.s3_blobs().is_some()
            && store.blob_key(&old).await.is_err()
            && store.blob_key(&new).await.is_err()
        {
            bail!("neither the old nor the new master key opens the object store's blob key");
        }
        let counts = store.rewrap_keys(&old, &new).await?;
        store
            .audit(
                "cli",
                "master_key.rotated",
                None,
                Some(&format!("from {} to {}", old.id(), new.id())),
            )
            .await?;
        anyhow::Ok(counts)
    })?;
    for (place, n) in &counts {
        println!("{place}: {n} rewrapped");
    }
    if config.portal.master_key.is_empty() {
        let retired = file.with_file_name(format!("master.key.retired-{}", old.id()));
        std::fs::rename(&file, &retired)
            .with_context(|| format!("cannot move {} aside", file.display()))?;
        std::fs::rename(&pending, &file)
            .with_context(|| format!("cannot put the new key in {}", file.display()))?;
        println!(
            "master key {} in use (the old one, {}, kept as {}: remove it once backups no longer need it)",
            new.id(),
            old.id(),
            retired.display()
        );
    } else {
        println!(
            "set portal.master_key = \"{text}\" (or VEILPOST_PORTAL_MASTER_KEY) on every node \
             before starting them; the key is also in {}",
            pending.display()
        );
    }
    Ok(0)
}

/// `veilpost dkim rotate`: new keys under a new selector, signing after `after_hours`.
pub fn dkim_rotate(
    config: Option<&Path>,
    selector: Option<&str>,
    after_hours: f64,
    lang: Lang,
) -> Result<()> {
    let config = load(config)?;
    if config.organisation.domains.is_empty() {
        bail!("no organisation.domains configured: nothing to sign for");
    }
    if !(after_hours.is_finite() && after_hours >= 0.0) {
        bail!("--after must be a number of hours, 0 or more");
    }
    let after = std::time::Duration::from_secs_f64(after_hours * 3600.0);
    let (rotation, lines) = crate::gateway::dkim::rotate(&config, selector, after)?;
    let when = time::OffsetDateTime::from_unix_timestamp(rotation.switch_at)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    let nl = matches!(lang, Lang::Nl);
    println!(
        "{}",
        if nl {
            format!(
                "Nieuwe DKIM-sleutels onder selector {}; publiceer nu (naast {}):",
                rotation.selector, rotation.previous
            )
        } else {
            format!(
                "New DKIM keys under selector {}; publish now (beside {}):",
                rotation.selector, rotation.previous
            )
        }
    );
    for line in lines {
        println!("  {line}");
    }
    println!(
        "{}",
        if nl {
            format!(
                "Ze ondertekenen vanaf {when}. Laat het record van {} daarna nog een paar dagen staan.",
                rotation.previous
            )
        } else {
            format!(
                "They sign from {when}. Keep the record of {} published for a few days after that.",
                rotation.previous
            )
        }
    );
    Ok(())
}

/// `veilpost audit verify`; the exit code (1: the chain is broken).
/// `veilpost contact add`: the number the portal sends SMS codes to.
pub fn contact_add(
    config: Option<&Path>,
    email: &str,
    phone: &str,
    name: Option<&str>,
    lang: Lang,
) -> Result<u8> {
    let nl = matches!(lang, Lang::Nl);
    let (email, number) = veilpost_store::addressbook::contact_row(email, phone)
        .map_err(|e| anyhow::anyhow!(e.text(lang)))?;
    let config = load(config)?;
    crate::serve::runtime()?.block_on(async {
        let store = config.open_store().await?;
        store.put_contact(&email, name, Some(&number)).await?;
        store
            .audit("cli", "contact.saved", Some(&email), None)
            .await
            .map_err(anyhow::Error::from)
    })?;
    println!(
        "{} {email}: {number}",
        if nl {
            "Contact opgeslagen:"
        } else {
            "Contact saved:"
        }
    );
    Ok(0)
}

/// `veilpost contact import FILE`: valid rows saved, refused rows listed (exit 1).
pub fn contact_import(config: Option<&Path>, file: &Path, lang: Lang) -> Result<u8> {
    let nl = matches!(lang, Lang::Nl);
    let input = std::fs::File::open(file).with_context(|| file.display().to_string())?;
    let parsed = veilpost_store::addressbook::parse_csv(std::io::BufReader::new(input))
        .map_err(|e| anyhow::anyhow!(e.text(lang)))?;
    let (rows, refused) = (parsed.rows, parsed.refused);
    let config = load(config)?;
    let saved = rows.len();
    crate::serve::runtime()?.block_on(async {
        let store = config.open_store().await?;
        for (email, name, number) in &rows {
            store
                .put_contact(email, name.as_deref(), Some(number))
                .await?;
        }
        let detail = format!("{saved} saved, {} refused", refused.len());
        store
            .audit(
                "cli",
                "contact.imported",
                Some(&file.display().to_string()),
                Some(&detail),
            )
            .await
            .map_err(anyhow::Error::from)
    })?;
    for r in &refused {
        eprintln!("{} {}", lang.t("regel", "line"), r.text(lang));
    }
    println!(
        "{}",
        if nl {
            format!(
                "{saved} contacten opgeslagen, {} regels geweigerd",
                refused.len()
            )
        } else {
            format!("{saved} contacts saved, {} lines refused", refused.len())
        }
    );
    Ok(if refused.is_empty() { 0 } else { 1 })
}

/// `veilpost contact export`: CSV on standard output.
pub fn contact_export(config: Option<&Path>) -> Result<u8> {
    let config = load(config)?;
    let contacts = crate::serve::runtime()?.block_on(async {
        let store = config.open_store().await?;
        store.list_contacts().await.map_err(anyhow::Error::from)
    })?;
    veilpost_store::addressbook::write_csv(std::io::stdout().lock(), &contacts)?;
    Ok(0)
}

pub fn audit_verify(
    config: Option<&Path>,
    format: crate::senderauth::Format,
    checkpoints: Option<&Path>,
    public_key: Option<&str>,
    lang: Lang,
) -> Result<u8> {
    use base64::Engine as _;
    let nl = matches!(lang, Lang::Nl);
    let config = load(config)?;
    let against = match checkpoints {
        None => None,
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let (lines, unreadable) = veilpost_store::checkpoint::parse_lines(&text);
            let public = match public_key {
                Some(b64) => base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .context("--public-key is not base64")?,
                None => {
                    let path = config.checkpoint_key_file();
                    let bytes = std::fs::read(&path).with_context(|| {
                        format!(
                            "cannot read the checkpoint key {} (or give --public-key)",
                            path.display()
                        )
                    })?;
                    veilpost_store::checkpoint::CheckpointKey::from_pkcs8(&bytes)?.public()
                }
            };
            Some((lines, unreadable, public))
        }
    };
    let (check, anchored) = crate::serve::runtime()?.block_on(async {
        let store = config.open_store().await?;
        let check = store.verify_audit().await?;
        let anchored = match &against {
            Some((lines, unreadable, public)) => Some((
                store.verify_checkpoints(lines, public).await?,
                lines.len(),
                unreadable.clone(),
            )),
            None => None,
        };
        anyhow::Ok((check, anchored))
    })?;
    let anchored_ok = anchored
        .as_ref()
        .is_none_or(|(c, _, unreadable)| c.intact() && unreadable.is_empty());
    let mut out = std::io::stdout().lock();
    match format {
        crate::senderauth::Format::Json => writeln!(
            out,
            "{}",
            serde_json::json!({
                "intact": check.broken.is_none() && anchored_ok,
                "entries": check.entries,
                "last_hash": check.last_hash,
                "broken_at": check.broken.as_ref().map(|b| b.0),
                "reason": check.broken.as_ref().map(|b| b.1.to_string()),
                "checkpoints": anchored.as_ref().map(|(c, n, unreadable)| serde_json::json!({
                    "read": n,
                    "matched": c.matched,
                    "pruned": c.pruned,
                    "unsigned": c.unsigned,
                    "unreadable_lines": unreadable,
                    "rewritten_at_or_before": c.mismatch,
                })),
            })
        )?,
        crate::senderauth::Format::Text => match (&check.broken, nl) {
            (None, true) => writeln!(
                out,
                "Auditlog intact: {} regels, laatste hash {}",
                check.entries,
                check.last_hash.as_deref().unwrap_or("-")
            )?,
            (None, false) => writeln!(
                out,
                "Audit log intact: {} entries, last hash {}",
                check.entries,
                check.last_hash.as_deref().unwrap_or("-")
            )?,
            (Some((id, fault)), true) => {
                let why = match fault {
                    veilpost_store::AuditFault::Changed => {
                        "de inhoud past niet bij de hash: de regel is gewijzigd".to_string()
                    }
                    veilpost_store::AuditFault::Gap { after } => format!(
                        "volgt niet op regel {after}: er is een regel verwijderd of tussengevoegd"
                    ),
                    veilpost_store::AuditFault::Unhashed => "de regel heeft geen hash".to_string(),
                };
                writeln!(
                    out,
                    "Auditlog verbroken bij regel {id}: {why} ({} regels ervoor in orde)",
                    check.entries
                )?
            }
            (Some((id, fault)), false) => writeln!(
                out,
                "Audit log broken at entry {id}: {fault} ({} entries before it check out)",
                check.entries
            )?,
        },
    }
    if let Some((c, n, unreadable)) = &anchored
        && format == crate::senderauth::Format::Text
    {
        print_checkpoints(&mut out, c, *n, unreadable, nl)?;
    }
    Ok(u8::from(check.broken.is_some() || !anchored_ok))
}

/// `audit verify --checkpoints` in words: what the signed checkpoints say of the chain.
fn print_checkpoints(
    out: &mut impl Write,
    c: &veilpost_store::checkpoint::CheckpointCheck,
    n: usize,
    unreadable: &[usize],
    nl: bool,
) -> Result<()> {
    let line = match (c.mismatch, nl) {
        (Some(entry), true) => format!(
            "Controlepunten: de keten is herschreven op of voor regel {entry} (een ondertekend controlepunt noemt daar een andere hash)"
        ),
        (Some(entry), false) => format!(
            "Checkpoints: the chain was rewritten at or before entry {entry} (a signed checkpoint names another hash there)"
        ),
        (None, true) => format!(
            "Controlepunten: {} van {n} kloppen, {} van regels die al verwijderd zijn",
            c.matched, c.pruned
        ),
        (None, false) => format!(
            "Checkpoints: {} of {n} match, {} of entries since removed by retention",
            c.matched, c.pruned
        ),
    };
    writeln!(out, "{line}")?;
    if !c.unsigned.is_empty() {
        writeln!(
            out,
            "{} {:?}",
            if nl {
                "Niet door de sleutel ondertekend (vervalst of beschadigd), bij regels"
            } else {
                "Not signed by the key (forged or damaged), at entries"
            },
            c.unsigned
        )?;
    }
    if !unreadable.is_empty() {
        writeln!(
            out,
            "{} {unreadable:?}",
            if nl {
                "Onleesbare regels"
            } else {
                "Unreadable lines"
            }
        )?;
    }
    Ok(())
}

/// `veilpost user …`; the exit code.
pub fn run(command: UserCommand, lang: Lang) -> Result<u8> {
    crate::serve::runtime()?.block_on(async {
        match command {
            UserCommand::Add {
                email,
                password_stdin: _,
                until,
                role,
                name,
                scopes,
                config,
            } => {
                let account = NewAccount {
                    email,
                    until,
                    role,
                    name,
                    scopes,
                };
                user_add(config.as_deref(), account, lang).await
            }
            UserCommand::List { format, config } => {
                user_list(config.as_deref(), format, lang).await
            }
            UserCommand::Offboard {
                email,
                successor,
                config,
            } => user_offboard(config.as_deref(), &email, successor.as_deref(), lang).await,
            UserCommand::Disable { email, config } => {
                user_disable(config.as_deref(), &email, lang).await
            }
        }
    })
}

/// What `veilpost user add` was given.
struct NewAccount {
    email: String,
    until: Option<String>,
    role: String,
    name: Option<String>,
    scopes: Vec<String>,
}

async fn user_add(config: Option<&Path>, account: NewAccount, lang: Lang) -> Result<u8> {
    let nl = matches!(lang, Lang::Nl);
    let NewAccount {
        email,
        until,
        role,
        name,
        scopes,
    } = account;
    let config = load(config)?;
    let Ok(role) = role.parse::<veilpost_store::Role>() else {
        bail!("--role must be admin, staff or auditor");
    };
    let until = match until {
        Some(d) => Some(
            veilpost_store::users_parse_date(&d)
                .with_context(|| format!("--until {d:?} is not a date (YYYY-MM-DD)"))?,
        ),
        None => None,
    };
    let mut password = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut password)
        .context("cannot read the password from standard input")?;
    let password = password.trim_end_matches(['\r', '\n']);
    let store = config.open_store().await?;
    if let Some(bad) = scopes
        .iter()
        .find(|a| !veilpost_store::valid_email(a.trim()))
    {
        bail!("--scope {bad:?} is not an e-mail address");
    }
    store.add_user(&email, password, role, until).await?;
    if name.is_some() || !scopes.is_empty() {
        let update = veilpost_store::UserUpdate {
            name,
            role,
            valid_until: until,
            scopes,
        };
        store.update_user(&email, &update).await?;
    }
    println!(
        "{}",
        if nl {
            format!("Account {email} aangemaakt.")
        } else {
            format!("Account {email} added.")
        }
    );
    Ok(0)
}

async fn user_list(
    config: Option<&Path>,
    format: crate::senderauth::Format,
    lang: Lang,
) -> Result<u8> {
    let nl = matches!(lang, Lang::Nl);
    let store = open_store(config).await?;
    let users = store.list_users().await?;
    let today = time::OffsetDateTime::now_utc().date();
    let mut out = std::io::stdout().lock();
    match format {
        crate::senderauth::Format::Json => {
            for u in &users {
                writeln!(
                    out,
                    "{}",
                    serde_json::json!({
                        "email": u.email,
                        "role": u.role,
                        "active": u.active_on(today),
                        "disabled": u.disabled,
                        "until": u.valid_until,
                        "name": u.name,
                        "scopes": u.scopes,
                        "totp": u.has_totp,
                        "offboarded": u.offboarded_at.is_some(),
                        "successor": u.successor,
                    })
                )?;
            }
        }
        crate::senderauth::Format::Text => {
            for u in &users {
                let state = match (u.disabled, u.active_on(today), nl) {
                    (true, _, true) => "uitgeschakeld".to_string(),
                    (true, _, false) => "disabled".to_string(),
                    (false, false, true) => "verlopen".to_string(),
                    (false, false, false) => "expired".to_string(),
                    (false, true, true) => "actief".to_string(),
                    (false, true, false) => "active".to_string(),
                };
                let until = u
                    .valid_until
                    .as_deref()
                    .map(|d| {
                        if nl {
                            format!(" tot en met {d}")
                        } else {
                            format!(" until {d}")
                        }
                    })
                    .unwrap_or_default();
                writeln!(out, "{}\t{}\t{state}{until}", u.email, u.role)?;
            }
        }
    }
    Ok(0)
}

async fn user_offboard(
    config: Option<&Path>,
    email: &str,
    successor: Option<&str>,
    lang: Lang,
) -> Result<u8> {
    let nl = matches!(lang, Lang::Nl);
    let loaded = load(config)?;
    let store = loaded.open_store().await?;
    let done = match store.offboard_user("cli", email, successor).await {
        Ok(done) => done,
        Err(veilpost_store::OffboardError::NoAccount(_)) => bail!(
            "{}",
            if nl {
                format!("geen account {email}")
            } else {
                format!("no account {email}")
            }
        ),
        Err(veilpost_store::OffboardError::BadSuccessor(s)) => bail!(
            "{}",
            if nl {
                format!("de opvolger {s} heeft geen actief account")
            } else {
                format!("the successor {s} has no active account")
            }
        ),
        Err(e) => return Err(e.into()),
    };
    if nl {
        println!(
            "Account {email} afgesloten: {} vastgehouden berichten geannuleerd, {} portaalgesprekken overgedragen{}.",
            done.cancelled,
            done.handed_over,
            successor.map(|s| format!(" aan {s}")).unwrap_or_default()
        );
    } else {
        println!(
            "Account {email} offboarded: {} held messages cancelled, {} portal conversations handed over{}.",
            done.cancelled,
            done.handed_over,
            successor.map(|s| format!(" to {s}")).unwrap_or_default()
        );
    }
    // The successor's own status links (the leaver's no longer work): to pass on to
    // them; on the web the successor is mailed these and sees the messages on /staff.
    let base = loaded.web.public_url.trim_end_matches('/');
    for (recipient, token) in &done.links {
        println!("  {recipient}: {base}/s/{token}");
    }
    Ok(0)
}

async fn user_disable(config: Option<&Path>, email: &str, lang: Lang) -> Result<u8> {
    let nl = matches!(lang, Lang::Nl);
    let store = open_store(config).await?;
    if store.disable_user(email).await? {
        println!(
            "{}",
            if nl {
                format!("Account {email} uitgeschakeld.")
            } else {
                format!("Account {email} disabled.")
            }
        );
        Ok(0)
    } else {
        bail!(
            "{}",
            if nl {
                format!("geen account {email}")
            } else {
                format!("no account {email}")
            }
        )
    }
}

/// The store of the configuration at `config` (or the defaults).
async fn open_store(config: Option<&Path>) -> Result<veilpost_store::Store> {
    let config = load(config)?;
    config.open_store().await
}
