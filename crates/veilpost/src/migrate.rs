//! `veilpost migrate --to postgres://… [--blobs s3://…]`: a single node's store (SQLite
//! and the blob directory) copied into PostgreSQL and, when given, an object store, then
//! verified by row counts and the audit chain. It can be run while the node runs (most of
//! the copying), and again once it is stopped (the rest): rows already copied are brought
//! up to date, blobs already copied are not copied again.

use std::path::Path;

use anyhow::{Context, Result, bail};
use veilpost_store::{Blobs, Clock, Database, ObjectBlobs, Store};

use crate::config::load;
use crate::lang::Lang;

/// Run the migration; the exit status (0: copied and verified).
pub fn run(config: Option<&Path>, to: &str, blobs: Option<&str>, lang: Lang) -> Result<u8> {
    let nl = matches!(lang, Lang::Nl);
    let config = load(config)?;
    let target_db =
        Database::from_url(to, &config.data_dir).map_err(|e| anyhow::anyhow!("--to: {e}"))?;
    if !matches!(target_db, Database::Postgres(_)) {
        bail!("--to must be a postgres:// URL");
    }
    if !matches!(config.database()?, Database::Sqlite(_)) {
        bail!("this installation's store.database_url is not SQLite: there is nothing to move up");
    }
    let s3 = match blobs {
        Some(url) => {
            let options = config.s3_options(url);
            options
                .bucket_and_prefix()
                .map_err(|e| anyhow::anyhow!("--blobs: {e}"))?;
            Some(options)
        }
        None => None,
    };
    crate::serve::runtime()?.block_on(async {
        let source = config.open_store().await?;
        let mut target = Store::connect(&config.data_dir, &target_db, Clock::system())
            .await
            .with_context(|| format!("cannot open {}", target_db.display()))?;
        if let Some(s3) = &s3 {
            let key = config.master_key()?;
            let blob_key = target.blob_key(&key).await?;
            let object = ObjectBlobs::s3(s3, blob_key).with_context(|| s3.url.clone())?;
            target = target.with_blobs(Blobs::Object(object));
        }
        eprintln!(
            "{} {} -> {}{}",
            if nl { "kopiëren:" } else { "copying:" },
            config.database()?.display(),
            target_db.display(),
            s3.as_ref().map(|s| format!(", blobs -> {}", s.url)).unwrap_or_default()
        );
        match source.migrate_to(&target, |step| eprintln!("  {step}")).await {
            Ok(done) => {
                for (table, here, there) in &done.tables {
                    println!("{table}: {here} -> {there}");
                }
                println!(
                    "blobs: {} {}, {} {}",
                    done.blobs_copied,
                    if nl { "gekopieerd" } else { "copied" },
                    done.blobs_already,
                    if nl { "al eerder" } else { "copied before" }
                );
                println!(
                    "audit: {} {}, {} {}",
                    done.audit_entries,
                    if nl { "regels" } else { "entries" },
                    if nl { "laatste hash" } else { "last hash" },
                    done.audit_last_hash.as_deref().unwrap_or("-")
                );
                println!(
                    "{}",
                    if nl {
                        "Klaar en gecontroleerd. Zet store.database_url (en blobs.url) op elke node, \
                         met dezelfde portal.master_key en dkim.key_dir."
                    } else {
                        "Done and verified. Set store.database_url (and blobs.url) on every node, \
                         with the same portal.master_key and dkim.key_dir."
                    }
                );
                Ok(0)
            }
            Err(e) => {
                eprintln!(
                    "{}: {e}",
                    if nl { "migratie mislukt" } else { "migration failed" }
                );
                Ok(1)
            }
        }
    })
}
