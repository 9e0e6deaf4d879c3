//! The address book (numbers for SMS codes), partner domains, and whether the
//! organisation has written to an address before.

use crate::{Result, Store};

impl Store {
    /// A contact's mobile number.
    pub async fn contact_phone(&self, address: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar(
                "SELECT phone FROM contacts WHERE address = ? AND phone IS NOT NULL",
            )
            .bind(address)
            .fetch_optional(&self.pool)
            .await?,
        )
    }

    /// Every contact: (address, name, phone), by address.
    pub async fn list_contacts(&self) -> Result<Vec<(String, Option<String>, Option<String>)>> {
        Ok(
            sqlx::query_as("SELECT address, name, phone FROM contacts ORDER BY address")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Add or update a contact.
    pub async fn put_contact(
        &self,
        address: &str,
        name: Option<&str>,
        phone: Option<&str>,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO contacts (address, name, phone, created_at) VALUES (?, ?, ?, ?)
             ON CONFLICT(address) DO UPDATE SET name = excluded.name, phone = excluded.phone",
        )
        .bind(address)
        .bind(name)
        .bind(phone)
        .bind(self.now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Remove a contact. True if there was one.
    pub async fn delete_contact(&self, address: &str) -> Result<bool> {
        Ok(sqlx::query("DELETE FROM contacts WHERE address = ?")
            .bind(address.trim())
            .execute(&self.pool)
            .await?
            .rows_affected()
            == 1)
    }

    /// Has the organisation written to `address` before (a contact, or a delivered or
    /// portal recipient)?
    pub async fn known_recipient(&self, address: &str) -> Result<bool> {
        let n: i64 = sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM contacts WHERE address = ?1)
                  + (SELECT COUNT(*) FROM recipients WHERE address = ?1 COLLATE NOCASE
                       AND state IN ('delivered', 'portal'))",
        )
        .bind(address)
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }

    /// The domains of the organisation's contacts.
    pub async fn contact_domains(&self) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT lower(substr(address, instr(address, '@') + 1)) FROM contacts
              WHERE instr(address, '@') > 0",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Remember a confirmed recipient (a phone already stored stays).
    pub async fn remember_contact(&self, address: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO contacts (address, created_at) VALUES (?, ?) ON CONFLICT(address) DO NOTHING",
        )
        .bind(address)
        .bind(self.now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Partner domains from the address book: (domain, tls, note).
    pub async fn partner_domains(&self) -> Result<Vec<(String, String, Option<String>)>> {
        Ok(
            sqlx::query_as("SELECT domain, tls, note FROM partner_domains ORDER BY domain")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Is `domain` a partner domain in the address book?
    pub async fn is_partner_domain(&self, domain: &str) -> Result<bool> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM partner_domains WHERE domain = ?")
            .bind(domain.trim().trim_end_matches('.').to_ascii_lowercase())
            .fetch_one(&self.pool)
            .await?;
        Ok(n > 0)
    }

    /// Add or change a partner domain.
    pub async fn put_partner_domain(
        &self,
        domain: &str,
        tls: &str,
        note: Option<&str>,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO partner_domains (domain, tls, note, created_at) VALUES (?, ?, ?, ?)
             ON CONFLICT(domain) DO UPDATE SET tls = excluded.tls, note = excluded.note",
        )
        .bind(domain.trim().trim_end_matches('.').to_ascii_lowercase())
        .bind(tls)
        .bind(note)
        .bind(self.now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Remove a partner domain. True if there was one.
    pub async fn delete_partner_domain(&self, domain: &str) -> Result<bool> {
        Ok(sqlx::query("DELETE FROM partner_domains WHERE domain = ?")
            .bind(domain.trim())
            .execute(&self.pool)
            .await?
            .rows_affected()
            == 1)
    }
}
