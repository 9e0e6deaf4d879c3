//! User-facing words in Dutch (the default) and English.

use clap::ValueEnum;
use veilpost_dlp::{Reason, Verdict};

/// The language of text meant for people. JSON output is not translated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Lang {
    /// Nederlands.
    #[default]
    Nl,
    /// English.
    En,
}

impl Lang {
    pub fn verdict(self, verdict: Verdict) -> &'static str {
        match (self, verdict) {
            (Lang::Nl, Verdict::Sensitive) => "gevoelig",
            (Lang::Nl, Verdict::Clean) => "schoon",
            (Lang::En, Verdict::Sensitive) => "sensitive",
            (Lang::En, Verdict::Clean) => "clean",
        }
    }

    pub fn error(self) -> &'static str {
        match self {
            Lang::Nl => "fout",
            Lang::En => "error",
        }
    }

    pub fn reason(self, reason: &Reason) -> String {
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

    pub fn summary(self, files: usize, sensitive: usize, errors: usize) -> String {
        match self {
            Lang::Nl => {
                format!("{files} bestand(en) gescand: {sensitive} gevoelig, {errors} fout(en)")
            }
            Lang::En => {
                format!("{files} file(s) scanned: {sensitive} sensitive, {errors} error(s)")
            }
        }
    }

    pub fn no_signature(self) -> &'static str {
        match self {
            Lang::Nl => "geen DKIM-handtekening",
            Lang::En => "no DKIM signature",
        }
    }

    pub fn keygen_done(self, key: &std::path::Path, record: &std::path::Path) -> String {
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
