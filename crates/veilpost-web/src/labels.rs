//! Words for people instead of the codes the store and the audit log keep: roles, message
//! and delivery states, verdicts, routes, audit actions, posture results. Pages show the
//! label; the code stays in the data (CSV exports, filters, the JSON outputs).

use crate::Lang;

fn pick(lang: Lang, (nl, en): (&'static str, &'static str)) -> &'static str {
    lang.t(nl, en)
}

/// A staff account's role.
pub fn role(lang: Lang, role: &str) -> &'static str {
    pick(
        lang,
        match role {
            "admin" => ("beheerder", "administrator"),
            "auditor" => ("auditor", "auditor"),
            _ => ("medewerker", "staff member"),
        },
    )
}

/// Why a DMARC or TLS report was set aside.
pub fn report_aside(lang: Lang, reason: &str) -> &'static str {
    veilpost_text::reports::aside_reason(lang, reason)
}

/// What the scan found in a message.
pub fn verdict(lang: Lang, verdict: &str) -> &'static str {
    pick(
        lang,
        match verdict {
            "clean" => ("geen gevoelige gegevens", "no sensitive data"),
            "sensitive" => ("gevoelige gegevens", "sensitive data"),
            _ => (
                "niet te controleren (behandeld als gevoelig)",
                "could not be checked (treated as sensitive)",
            ),
        },
    )
}

/// How a message went to one recipient.
/// An inbound verdict's finding (`dmarc.reject`, `lookalike.sender`) in words.
pub fn finding(lang: Lang, name: &str) -> &'static str {
    let (nl, en) = match name {
        "dmarc.reject" | "dmarc.quarantine" | "dmarc.fail" => (
            "het domein van de afzender staat niet achter dit bericht (DMARC)",
            "the sender's domain does not vouch for this message (DMARC)",
        ),
        "spoof.own_domain" => (
            "doet zich voor als ons eigen domein",
            "pretends to come from our own domain",
        ),
        "spf.fail" => (
            "verstuurd vanaf een server die het domein niet toestaat (SPF)",
            "sent from a server the domain does not allow (SPF)",
        ),
        "auth.none" => (
            "niet te herleiden tot het domein van de afzender",
            "cannot be traced to the sender's domain",
        ),
        "impersonation.staff" => (
            "gebruikt de naam van een collega met een extern adres",
            "uses a colleague's name with an outside address",
        ),
        "impersonation.contact" => (
            "gebruikt de naam van een bekende relatie met een ander adres",
            "uses a known contact's name with another address",
        ),
        "display_name.address" => (
            "de naam van de afzender bevat een ander e-mailadres",
            "the sender's name contains another address",
        ),
        "lookalike.sender" => (
            "het afzenderdomein lijkt op een bekend domein",
            "the sender's domain looks like a known one",
        ),
        "lookalike.link" => (
            "een link lijkt op een bekend domein",
            "a link looks like a known domain",
        ),
        "reply_to.other_domain" => (
            "antwoorden gaan naar een ander domein",
            "replies go to another domain",
        ),
        "link.mismatch" => (
            "een link gaat ergens anders heen dan de tekst zegt",
            "a link goes elsewhere than its text says",
        ),
        "link.ip_literal" => (
            "een link naar een kaal IP-adres",
            "a link to a bare IP address",
        ),
        "link.userinfo" => (
            "een misleidende link (naam@server)",
            "a misleading link (name@host)",
        ),
        "link.punycode" => (
            "een link met een vermomde domeinnaam",
            "a link with a disguised domain name",
        ),
        "attachment.dangerous" => ("een gevaarlijke bijlage", "a dangerous attachment"),
        "attachment.encrypted" => (
            "een versleuteld archief (niet te controleren)",
            "an encrypted archive (cannot be checked)",
        ),
        "attachment.nested" => ("een archief in een archief", "an archive in an archive"),
        "attachment.malware" => ("een virus in een bijlage", "a virus in an attachment"),
        "attachment.unscanned" => (
            "bijlagen niet op virussen gecontroleerd",
            "attachments not checked for viruses",
        ),
        "sender.first_time" => (
            "eerste bericht van deze afzender",
            "first message from this sender",
        ),
        "sender.external" => ("externe afzender", "external sender"),
        "no" | "no verdict" | "verdict" => ("geen oordeel", "no verdict"),
        _ => ("verdacht", "suspicious"),
    };
    lang.t(nl, en)
}

pub fn route(lang: Lang, route: &str) -> &'static str {
    pick(
        lang,
        match route {
            "plain" => ("gewone mail", "ordinary mail"),
            "tls" => (
                "versleutelde verbinding (gecontroleerd)",
                "encrypted connection (verified)",
            ),
            "portal" => ("beveiligd portaal", "secure portal"),
            "block" => ("geweigerd", "refused"),
            "internal-link" => ("link voor een collega", "link for a colleague"),
            "encrypted-attachment" => (
                "versleutelde bijlage, wachtwoord per sms",
                "encrypted attachment, password by SMS",
            ),
            _ => ("onbekend", "unknown"),
        },
    )
}

/// Where a message is (received, held, processed) or a recipient's delivery stands.
pub fn state(lang: Lang, state: &str) -> &'static str {
    pick(
        lang,
        match state {
            "received" => ("ontvangen", "received"),
            "processing" => ("wordt verwerkt", "being processed"),
            "held" => ("vastgehouden voor controle", "held for a check"),
            "processed" => ("verwerkt", "processed"),
            "new" => ("nieuw", "new"),
            "queued" => ("wacht op aflevering", "waiting for delivery"),
            "delivered" => ("afgeleverd", "delivered"),
            "portal" => ("in het portaal", "in the portal"),
            "blocked" => ("geweigerd", "refused"),
            "failed" => ("niet af te leveren", "undeliverable"),
            "cancelled" => ("geannuleerd", "cancelled"),
            _ => ("onbekend", "unknown"),
        },
    )
}

/// How far a portal message got (`crate::status::status_word`), for its sender.
pub fn portal_state(lang: Lang, word: &str) -> &'static str {
    pick(
        lang,
        match word {
            "revoked" => ("ingetrokken", "revoked"),
            "expired" => ("verlopen", "expired"),
            "replied" => ("beantwoord", "replied"),
            "downloaded" => ("bijlage gedownload", "attachment downloaded"),
            "opened" => ("geopend", "opened"),
            _ => ("verstuurd, nog niet geopend", "sent, not opened yet"),
        },
    )
}

/// One step on a portal message's timeline.
pub fn portal_step(lang: Lang, step: &str) -> &'static str {
    pick(
        lang,
        match step {
            "notified" => ("Melding verstuurd", "Notification sent"),
            "opened" => ("Voor het eerst geopend", "First opened"),
            "downloaded" => ("Gedownload", "Downloaded"),
            "replied" => ("Beantwoord", "Replied"),
            "revoked" => ("Ingetrokken", "Revoked"),
            _ => ("Verlopen", "Expired"),
        },
    )
}

/// One step in the audit log.
pub fn audit_action(lang: Lang, action: &str) -> &'static str {
    let words = match action {
        "admin.created" => ("beheerder aangemaakt", "administrator created"),
        "attachment.downloaded" => ("bijlage gedownload", "attachment downloaded"),
        "audit.exported" => ("auditlog geëxporteerd", "audit log exported"),
        "audit.viewed" => ("auditlog bekeken", "audit log viewed"),
        "code.mail" => ("code gemaild", "code e-mailed"),
        "code.sms" => ("code per sms", "code by SMS"),
        "code.requested" => ("code gevraagd", "code requested"),
        "compose.submitted" => ("bericht opgesteld op het web", "message written on the web"),
        "contact.deleted" => ("contact verwijderd", "contact deleted"),
        "contact.exported" => ("adresboek geëxporteerd", "address book exported"),
        "contact.imported" => ("adresboek geïmporteerd", "address book imported"),
        "contact.saved" => ("contact opgeslagen", "contact saved"),
        "doublecheck.cancelled" => ("niet verstuurd na controle", "not sent after the check"),
        "doublecheck.confirmed" => ("verstuurd na controle", "sent after the check"),
        "doublecheck.held" => ("vastgehouden voor controle", "held for a check"),
        "intake.code" => ("code voor het contactformulier", "contact-form code"),
        "intake.sent" => (
            "bericht via het contactformulier",
            "message through the contact form",
        ),
        "login.failed" => ("verkeerde code", "wrong code"),
        "login.locked" => (
            "geblokkeerd na te veel codes",
            "locked after too many codes",
        ),
        "login.succeeded" => ("ingelogd in het portaal", "signed in to the portal"),
        "login.unlocked" => ("gedeblokkeerd", "unlocked"),
        "mail.forwarded" => ("mail doorgestuurd (uit dienst)", "mail forwarded (left)"),
        "mail.refused" => ("mail geweigerd (uit dienst)", "mail refused (left)"),
        "message.expired" => ("verlopen en vernietigd", "expired and destroyed"),
        "message.revoked" => ("ingetrokken", "revoked"),
        "message.saved" => ("kopie bewaard", "copy saved"),
        "message.traced" => ("bericht opgezocht", "message traced"),
        "message.viewed" => ("bericht gelezen", "message read"),
        "partner.deleted" => ("partnerdomein verwijderd", "partner domain deleted"),
        "partner.saved" => ("partnerdomein opgeslagen", "partner domain saved"),
        "policy.changed" => ("beleid gewijzigd", "policy changed"),
        "reply.sent" => ("beveiligd geantwoord", "replied securely"),
        "inbound.rejected" => ("binnenkomend bericht geweigerd", "incoming message refused"),
        "inbound.quarantined" => (
            "binnenkomend bericht in quarantaine",
            "incoming message quarantined",
        ),
        "quarantine.viewed" => (
            "bericht in quarantaine bekeken",
            "quarantined message viewed",
        ),
        "report.received" => ("phishing gemeld", "phishing reported"),
        "report.refused" => (
            "melding geweigerd (niet van een medewerker)",
            "report refused (not from staff)",
        ),
        "report.block_sender" => ("afzender geblokkeerd", "sender blocked"),
        "report.block_domain" => ("domein geblokkeerd", "domain blocked"),
        "report.handled" => ("melding afgehandeld", "report handled"),
        "quarantine.released" => ("uit quarantaine vrijgegeven", "released from quarantine"),
        "quarantine.deleted" => ("uit quarantaine verwijderd", "deleted from quarantine"),
        "send.plain" => ("verstuurd als gewone mail", "sent as ordinary mail"),
        "send.tls" => (
            "verstuurd over een versleutelde verbinding",
            "sent over an encrypted connection",
        ),
        "send.portal" => ("verstuurd via het portaal", "sent through the portal"),
        "send.block" => ("versturen geweigerd", "sending refused"),
        "send.internal-link" => ("als link aan een collega", "as a link to a colleague"),
        "send.encrypted-attachment" => ("als versleutelde bijlage", "as an encrypted attachment"),
        "send.delivered" => ("afgeleverd", "delivered"),
        "send.failed" => ("niet af te leveren", "undeliverable"),
        "staff.login" => ("aangemeld", "signed in"),
        "smtp.login" => ("aangemeld via SMTP", "signed in over SMTP"),
        "staff.login.failed" => ("aanmelden mislukt", "sign-in failed"),
        "staff.logout" => ("afgemeld", "signed out"),
        "staff.passkey.registered" => ("passkey gekoppeld", "passkey linked"),
        "staff.totp.registered" => ("authenticator-app gekoppeld", "authenticator app linked"),
        "totp.registered" => ("authenticator-app gekoppeld", "authenticator app linked"),
        "user.add" => ("gebruiker toegevoegd", "user added"),
        "user.disable" => ("account uitgeschakeld", "account disabled"),
        "user.expired" => ("account verlopen", "account expired"),
        "user.offboard" => ("uit dienst gemeld", "offboarded"),
        "user.password" => ("wachtwoord gewijzigd", "password changed"),
        "user.rights" => ("rechten gewijzigd", "rights changed"),
        "user.totp.reset" => ("authenticator-app ontkoppeld", "authenticator app unlinked"),
        _ => ("", ""),
    };
    pick(lang, words)
}

/// A posture check's result.
pub fn posture_status(lang: Lang, status: &str) -> &'static str {
    pick(
        lang,
        match status {
            "pass" => ("in orde", "fine"),
            "warn" => ("let op", "take care"),
            "fail" => ("niet in orde", "not in order"),
            _ => ("ter informatie", "for your information"),
        },
    )
}

/// What a posture check looks at, in words; the check's id when it has none.
pub fn posture_check(lang: Lang, id: &str) -> String {
    if let Some(selector) = id.strip_prefix("dkim-").filter(|s| *s != "selectors") {
        return format!("{} {selector}", lang.t("DKIM-sleutel", "DKIM key"));
    }
    if let Some(host) = id.strip_prefix("mx-").filter(|s| *s != "records") {
        return format!("{} {host}", lang.t("Mailserver", "Mail server"));
    }
    let words = match id {
        "nta7516-summary" => ("Veilige mail volgens NTA 7516", "Secure mail per NTA 7516"),
        "mx-records" => ("Mailservers (MX)", "Mail servers (MX)"),
        "spf-record" => ("SPF: wie namens u mag mailen", "SPF: who may send as you"),
        "spf-syntax" => ("SPF: schrijfwijze", "SPF: syntax"),
        "spf-all" => (
            "SPF: wat met de rest gebeurt",
            "SPF: what happens to the rest",
        ),
        "spf-include" => ("SPF: verwijzingen", "SPF: includes"),
        "spf-lookups" => ("SPF: aantal DNS-opvragingen", "SPF: number of DNS lookups"),
        "spf-void-lookups" => ("SPF: lege opvragingen", "SPF: empty lookups"),
        "spf-ptr" => (
            "SPF: verouderd ptr-mechanisme",
            "SPF: outdated ptr mechanism",
        ),
        "dkim-selectors" => ("DKIM: handtekeningsleutels", "DKIM: signing keys"),
        "dmarc-record" => ("DMARC: beleid gepubliceerd", "DMARC: policy published"),
        "dmarc-policy" => (
            "DMARC: wat ontvangers met vervalste mail doen",
            "DMARC: what receivers do with forged mail",
        ),
        "dmarc-subdomain-policy" => ("DMARC: subdomeinen", "DMARC: subdomains"),
        "dmarc-pct" => ("DMARC: deel van de mail", "DMARC: share of the mail"),
        "dmarc-alignment" => ("DMARC: afstemming", "DMARC: alignment"),
        "dmarc-rua" => ("DMARC: rapporten", "DMARC: reports"),
        "dmarc-rua-destination" => ("DMARC: rapportadres", "DMARC: report address"),
        "dmarc-testing" => ("DMARC: testmodus", "DMARC: testing mode"),
        "mta-sts-record" => ("MTA-STS: aangekondigd", "MTA-STS: announced"),
        "mta-sts-policy" => ("MTA-STS: beleid", "MTA-STS: policy"),
        "mta-sts-content-type" => ("MTA-STS: bestandstype", "MTA-STS: content type"),
        "tls-rpt-record" => ("TLS-rapporten (TLS-RPT)", "TLS reports (TLS-RPT)"),
        "dnssec-domain" => ("DNSSEC: ondertekend domein", "DNSSEC: signed domain"),
        "nta7516-record" => ("NTA 7516-aankondiging", "NTA 7516 announcement"),
        _ => return id.to_string(),
    };
    pick(lang, words).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code the product writes has words in both languages (a new code without
    /// words shows its code, which this test catches for the known lists).
    #[test]
    fn every_known_code_has_words() {
        for lang in [Lang::Nl, Lang::En] {
            for r in ["staff", "admin", "auditor"] {
                assert!(!role(lang, r).is_empty());
            }
            for r in [
                "plain",
                "tls",
                "portal",
                "block",
                "internal-link",
                "encrypted-attachment",
            ] {
                assert_ne!(route(lang, r), lang.t("onbekend", "unknown"), "{r}");
            }
            for s in [
                "received",
                "processing",
                "held",
                "processed",
                "new",
                "queued",
                "delivered",
                "portal",
                "blocked",
                "failed",
                "cancelled",
            ] {
                assert_ne!(state(lang, s), lang.t("onbekend", "unknown"), "{s}");
            }
            for a in [
                "user.add",
                "staff.login",
                "message.viewed",
                "send.portal",
                "reply.sent",
                "login.locked",
                "policy.changed",
                "intake.sent",
            ] {
                assert!(!audit_action(lang, a).is_empty(), "{a}");
            }
            for c in [
                "dmarc-policy",
                "spf-record",
                "mta-sts-policy",
                "mx-records",
                "nta7516-summary",
            ] {
                assert_ne!(posture_check(lang, c), c, "{c}");
            }
        }
        assert_eq!(role(Lang::Nl, "admin"), "beheerder");
        assert_eq!(posture_status(Lang::Nl, "fail"), "niet in orde");
        assert_eq!(audit_action(Lang::Nl, "unknown.thing"), "");
        assert_eq!(
            posture_check(Lang::Nl, "dkim-veilpost"),
            "DKIM-sleutel veilpost"
        );
        assert_eq!(
            posture_check(Lang::Nl, "mx-mail.praktijk.nl"),
            "Mailserver mail.praktijk.nl"
        );
        assert_eq!(posture_check(Lang::Nl, "something-new"), "something-new");
    }
}
