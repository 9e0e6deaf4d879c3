//! The address book (numbers for SMS codes), partner domains, and whether the
//! organisation has written to an address before.

use std::sync::Arc;

use crate::{Result, Store};

/// How long (seconds) the address book is used before it is read again (a change made
/// through this store shows at once, one made elsewhere within this).
pub const BOOK_READ_EVERY: i64 = 5;

/// Who the organisation knows, as the verdicts compare senders and recipients with it:
/// read whole, kept for [`BOOK_READ_EVERY`] seconds ([`Store::address_book`]).
#[derive(Debug, Default)]
pub struct AddressBook {
    /// Staff accounts with a name: (name, address); a sender using a colleague's name
    /// from outside is impersonating them.
    pub staff: Vec<(String, String)>,
    /// Contacts: (address, name).
    pub contacts: Vec<(String, Option<String>)>,
    /// Partner domains, as written in the address book.
    pub partners: Vec<String>,
    /// The contacts' and partners' domains, lower case, sorted, once each (what a
    /// look-alike recipient domain is compared with).
    pub domains: Arc<[String]>,
}

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
        self.book.forget();
        Ok(())
    }

    /// Remove a contact. True if there was one.
    pub async fn delete_contact(&self, address: &str) -> Result<bool> {
        let removed = crate::db::on!(&self.pool, ex => sqlx::query("DELETE FROM contacts WHERE lower(address) = lower($1)")
            .bind(address.trim())
            .execute(ex).await.map(|r| r.rows_affected()))?
            == 1;
        self.book.forget();
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
        self.book.forget();
        Ok(())
    }

    /// The domains of the organisation's contacts and of the address book's partner
    /// domains, lower case and sorted (what a look-alike recipient domain is compared
    /// with): from [`Store::address_book`].
    pub async fn address_book_domains(&self) -> Result<Arc<[String]>> {
        Ok(self.address_book().await?.domains.clone())
    }

    /// Staff, contacts and partner domains: read again at most every
    /// [`BOOK_READ_EVERY`] seconds (the outbound double-check and the inbound verdict ask
    /// for them with every message), at once after a change made through this store.
    pub async fn address_book(&self) -> Result<Arc<AddressBook>> {
        let now = self.now();
        if let Some(book) = self.book.fresh(now) {
            return Ok(book);
        }
        let staff: Vec<(String, String)> = self
            .list_users()
            .await?
            .into_iter()
            .filter_map(|u| u.name.map(|name| (name, u.email)))
            .collect();
        let contacts: Vec<(String, Option<String>)> = self
            .list_contacts()
            .await?
            .into_iter()
            .map(|(address, name, _)| (address, name))
            .collect();
        let partners: Vec<String> = self
            .partner_domains()
            .await?
            .into_iter()
            .map(|p| p.0)
            .collect();
        let mut domains: Vec<String> = contacts
            .iter()
            .filter_map(|(address, _)| address.split_once('@'))
            .map(|(_, domain)| domain.to_ascii_lowercase())
            .collect();
        domains.extend(partners.iter().map(|d| d.to_ascii_lowercase()));
        domains.sort_unstable();
        domains.dedup();
        let book = Arc::new(AddressBook {
            staff,
            contacts,
            partners,
            domains: domains.into(),
        });
        self.book.keep(now, book.clone());
        Ok(book)
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
        self.book.forget();
        Ok(())
    }

    /// Remove a partner domain. True if there was one.
    pub async fn delete_partner_domain(&self, domain: &str) -> Result<bool> {
        let removed = crate::db::on!(&self.pool, ex => sqlx::query("DELETE FROM partner_domains WHERE lower(domain) = lower($1)")
            .bind(domain.trim())
            .execute(ex).await.map(|r| r.rows_affected()))?
            == 1;
        self.book.forget();
        Ok(removed)
    }
}

/// A contact's address as the key it is kept under: lower case, as it is compared (so that
/// PostgreSQL, whose text comparisons heed case, finds the one row SQLite's `NOCASE` key
/// would).
pub(crate) fn contact_key(address: &str) -> String {
    address.trim().to_ascii_lowercase()
}
