//! The address book (numbers for SMS codes), partner domains, and whether the
//! organisation has written to an address before.

use std::sync::Arc;

use crate::{Result, Store};

/// How long (seconds) the address book's domains are used before they are read again
/// (a change made through this store shows at once, one made elsewhere within this).
pub const BOOK_READ_EVERY: i64 = 5;

impl Store {
    /// A contact's mobile number.
    pub async fn contact_phone(&self, address: &str) -> Result<Option<String>> {
        Ok(crate::db::on!(&self.pool, ex => sqlx::query_scalar(
                "SELECT phone FROM contacts WHERE lower(address) = lower($1) AND phone IS NOT NULL",
            )
            .bind(address)
            .fetch_optional(ex).await)?)
    }

    /// Every contact: (address, name, phone), by address.
    pub async fn list_contacts(&self) -> Result<Vec<(String, Option<String>, Option<String>)>> {
        Ok(
            crate::db::on!(&self.pool, ex => sqlx::query_as("SELECT address, name, phone FROM contacts ORDER BY address")
                .fetch_all(ex).await)?,
        )
    }

    /// Add or update a contact.
    pub async fn put_contact(
        &self,
        address: &str,
        name: Option<&str>,
        phone: Option<&str>,
    ) -> Result<()> {
        crate::db::on!(&self.pool, ex => sqlx::query(
            "INSERT INTO contacts (address, name, phone, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT(address) DO UPDATE SET name = excluded.name, phone = excluded.phone",
        )
        .bind(contact_key(address))
        .bind(name)
        .bind(phone)
        .bind(self.now())
        .execute(ex).await.map(|r| r.rows_affected()))?;
        self.book_domains.forget();
        Ok(())
    }

    /// Remove a contact. True if there was one.
    pub async fn delete_contact(&self, address: &str) -> Result<bool> {
        let removed = crate::db::on!(&self.pool, ex => sqlx::query("DELETE FROM contacts WHERE lower(address) = lower($1)")
            .bind(address.trim())
            .execute(ex).await.map(|r| r.rows_affected()))?
            == 1;
        self.book_domains.forget();
        Ok(removed)
    }

    /// Has the organisation written to `address` before (a contact, or a delivered or
    /// portal recipient)?
    pub async fn known_recipient(&self, address: &str) -> Result<bool> {
        let n: i64 = crate::db::on!(&self.pool, ex => sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM contacts WHERE lower(address) = lower($1))
                  + (SELECT COUNT(*) FROM recipients WHERE lower(address) = lower($1)
                       AND state IN ('delivered', 'portal'))",
        )
        .bind(address)
        .fetch_one(ex).await)?;
        Ok(n > 0)
    }

    /// The domains of the organisation's contacts.
    pub async fn contact_domains(&self) -> Result<Vec<String>> {
        let addresses: Vec<String> = crate::db::on!(&self.pool, ex => sqlx::query_scalar(
            "SELECT address FROM contacts WHERE address LIKE '%@%'",
        )
        .fetch_all(ex).await)?;
        let domains: std::collections::BTreeSet<String> = addresses
            .iter()
            .filter_map(|a| a.split_once('@'))
            .map(|(_, domain)| domain.to_ascii_lowercase())
            .collect();
        Ok(domains.into_iter().collect())
    }

    /// Remember a confirmed recipient (a phone already stored stays).
    pub async fn remember_contact(&self, address: &str) -> Result<()> {
        crate::db::on!(&self.pool, ex => sqlx::query(
            "INSERT INTO contacts (address, created_at) VALUES ($1, $2) ON CONFLICT(address) DO NOTHING",
        )
        .bind(contact_key(address))
        .bind(self.now())
        .execute(ex).await.map(|r| r.rows_affected()))?;
        self.book_domains.forget();
        Ok(())
    }

    /// The domains of the organisation's contacts and of the address book's partner
    /// domains, lower case and sorted (what a look-alike recipient domain is compared
    /// with): read again at most every [`BOOK_READ_EVERY`] seconds.
    pub async fn address_book_domains(&self) -> Result<Arc<[String]>> {
        let now = self.now();
        if let Some(domains) = self.book_domains.fresh(now) {
            return Ok(domains);
        }
        let mut domains = self.contact_domains().await?;
        domains.extend(self.partner_domains().await?.into_iter().map(|p| p.0));
        domains.sort_unstable();
        domains.dedup();
        let domains: Arc<[String]> = domains.into();
        self.book_domains.keep(now, domains.clone());
        Ok(domains)
    }

    /// Partner domains from the address book: (domain, tls, note).
    pub async fn partner_domains(&self) -> Result<Vec<(String, String, Option<String>)>> {
        Ok(
            crate::db::on!(&self.pool, ex => sqlx::query_as("SELECT domain, tls, note FROM partner_domains ORDER BY domain")
                .fetch_all(ex).await)?,
        )
    }

    /// Is `domain` a partner domain in the address book?
    pub async fn is_partner_domain(&self, domain: &str) -> Result<bool> {
        let n: i64 = crate::db::on!(&self.pool, ex => sqlx::query_scalar("SELECT COUNT(*) FROM partner_domains WHERE lower(domain) = lower($1)")
            .bind(domain.trim().trim_end_matches('.').to_ascii_lowercase())
            .fetch_one(ex).await)?;
        Ok(n > 0)
    }

    /// Add or change a partner domain.
    pub async fn put_partner_domain(
        &self,
        domain: &str,
        tls: &str,
        note: Option<&str>,
    ) -> Result<()> {
        crate::db::on!(&self.pool, ex => sqlx::query(
            "INSERT INTO partner_domains (domain, tls, note, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT(domain) DO UPDATE SET tls = excluded.tls, note = excluded.note",
        )
        .bind(domain.trim().trim_end_matches('.').to_ascii_lowercase())
        .bind(tls)
        .bind(note)
        .bind(self.now())
        .execute(ex).await.map(|r| r.rows_affected()))?;
        self.book_domains.forget();
        Ok(())
    }

    /// Remove a partner domain. True if there was one.
    pub async fn delete_partner_domain(&self, domain: &str) -> Result<bool> {
        let removed = crate::db::on!(&self.pool, ex => sqlx::query("DELETE FROM partner_domains WHERE lower(domain) = lower($1)")
            .bind(domain.trim())
            .execute(ex).await.map(|r| r.rows_affected()))?
            == 1;
        self.book_domains.forget();
        Ok(removed)
    }
}

/// A contact's address as the key it is kept under: lower case, as it is compared (so that
/// PostgreSQL, whose text comparisons heed case, finds the one row SQLite's `NOCASE` key
/// would).
pub(crate) fn contact_key(address: &str) -> String {
    address.trim().to_ascii_lowercase()
}
