//! Words for people, in Dutch (the default) and English.

use std::time::Duration;

pub use veilpost_text::Lang;

/// Pick the text for `lang`.
pub(crate) fn t(lang: Lang, nl: String, en: String) -> String {
    lang.pick(nl, en)
}

/// `say!(lang, "nl {}", "en {}", args...)`.
macro_rules! say {
    ($lang:expr, $nl:literal, $en:literal $(, $arg:expr)* $(,)?) => {
        $crate::text::t($lang, format!($nl $(, $arg)*), format!($en $(, $arg)*))
    };
}
pub(crate) use say;

pub(crate) fn deadline(lang: Lang, d: Duration) -> String {
    say!(
        lang,
        "De controle duurde langer dan {} s en is afgebroken.",
        "The check took longer than {} s and was stopped.",
        d.as_secs()
    )
}

pub(crate) fn dns_error(lang: Lang, what: &str, why: &str) -> String {
    say!(
        lang,
        "DNS-fout bij opvragen van {}: {}",
        "DNS error looking up {}: {}",
        what,
        why
    )
}

/// Why a name is not DNSSEC-secure, in words.
pub(crate) fn dnssec_reason(
    lang: Lang,
    outcome: &Result<veilpost_dns::Proof, veilpost_dns::ValidatedError>,
) -> String {
    use veilpost_dns::{Proof, ValidatedError};
    match outcome {
        Ok(Proof::Secure) => say!(lang, "ondertekend en gevalideerd", "signed and validated"),
        Ok(Proof::Insecure) => say!(
            lang,
            "niet ondertekend: geen DS-record in de bovenliggende zone",
            "not signed: no DS record in the parent zone"
        ),
        Ok(Proof::Bogus) | Err(ValidatedError::Bogus(_)) => say!(
            lang,
            "validatie mislukt: handtekeningen of sleutelketen kloppen niet, of de zone is niet ondertekend terwijl de keten dat vereist",
            "validation fails: signatures or key chain do not check out, or the zone is unsigned where the chain requires a signature"
        ),
        Ok(Proof::Indeterminate) => say!(
            lang,
            "niet vast te stellen (geen vertrouwensanker)",
            "cannot be determined (no trust anchor)"
        ),
        Err(ValidatedError::NoRecords) => {
            say!(
                lang,
                "geen records om te valideren",
                "no records to validate"
            )
        }
        Err(ValidatedError::Failed(e)) => say!(lang, "DNS-fout: {}", "DNS error: {}", e),
    }
}
