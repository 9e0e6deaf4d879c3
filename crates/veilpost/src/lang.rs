//! User-facing words in Dutch (the default) and English.

use veilpost_dlp::{Reason, Verdict};
pub use veilpost_text::Lang;

/// The command line's words, in the chosen language.
pub trait Words {
    fn verdict(self, verdict: Verdict) -> &'static str;
    fn error(self) -> &'static str;
    fn reason(self, reason: &Reason) -> String;
    fn summary(self, files: usize, sensitive: usize, errors: usize) -> String;
    fn no_signature(self) -> &'static str;
    fn keygen_done(self, key: &std::path::Path, record: &std::path::Path) -> String;
}

impl Words for Lang {
    fn verdict(self, verdict: Verdict) -> &'static str {
        match (self, verdict) {
            (Lang::Nl, Verdict::Sensitive) => "gevoelig",
            (Lang::Nl, Verdict::Clean) => "schoon",
            (Lang::En, Verdict::Sensitive) => "sensitive",
            (Lang::En, Verdict::Clean) => "clean",
        }
    }

    fn error(self) -> &'static str {
        match self {
            Lang::Nl => "fout",
            Lang::En => "error",
        }
    }

    fn reason(self, reason: &Reason) -> String {
        match self {
            Lang::En => reason.to_string(),
            Lang::Nl => match reason {
                Reason::Uninspectable => "niet alle inhoud kon worden gecontroleerd".to_string(),
                Reason::Bsn => "een burgerservicenummer (BSN)".to_string(),
                Reason::Health => "gezondheidsgegevens van een herkenbaar persoon".to_string(),
                Reason::IdDocument => "een nummer van een identiteitsbewijs".to_string(),
                Reason::ClientNumber => "een cliënt- of patiëntnummer".to_string(),
                Reason::Identifier => {
                    "een kenmerk dat de organisatie als gevoelig aanmerkt".to_string()
                }
                Reason::SeveralPersons {
                    dates_of_birth,
                    ibans,
                } => format!(
                    "persoonsgegevens van meerdere personen ({dates_of_birth} geboortedata, {ibans} IBAN's)"
                ),
            },
        }
    }

    fn summary(self, files: usize, sensitive: usize, errors: usize) -> String {
        match self {
            Lang::Nl => {
                format!("{files} bestand(en) gescand: {sensitive} gevoelig, {errors} fout(en)")
            }
            Lang::En => {
                format!("{files} file(s) scanned: {sensitive} sensitive, {errors} error(s)")
            }
        }
    }

    fn no_signature(self) -> &'static str {
        match self {
            Lang::Nl => "geen DKIM-handtekening",
            Lang::En => "no DKIM signature",
        }
    }

    fn keygen_done(self, key: &std::path::Path, record: &std::path::Path) -> String {
        match self {
            Lang::Nl => format!(
                "Sleutel opgeslagen in {} (alleen leesbaar voor de eigenaar).\n\
                 Publiceer dit DNS-record (ook in {}):",
                key.display(),
                record.display()
            ),
            Lang::En => format!(
                "Key stored in {} (readable by its owner only).\n\
                 Publish this DNS record (also in {}):",
                key.display(),
                record.display()
            ),
        }
    }
}
