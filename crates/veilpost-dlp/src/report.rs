//! What a scan returns: findings, each a value, and the verdict drawn from them.

use std::fmt;
use std::sync::Arc;

/// The kind of personal data a finding is about.
///
/// The names returned by [`Kind::as_str`] are part of the public JSON interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Dutch citizen service number (burgerservicenummer), 11-check valid.
    Bsn,
    /// International bank account number, mod-97 valid.
    Iban,
    /// Health data about an identifiable person.
    Health,
    /// A date near a birth-date label.
    DateOfBirth,
    /// A passport, identity card or driving licence number near its label, or a passport MRZ.
    IdDocument,
    /// A telephone number. Low sensitivity: alone it never makes mail sensitive.
    Phone,
    /// An e-mail address. Low sensitivity.
    EmailAddress,
    /// A Dutch postcode. Low sensitivity.
    PostalAddress,
    /// Content that could not be inspected (encrypted, corrupt, over a limit). Fails closed.
    Uninspectable,
    /// A client, patient or registration number next to its label ("cliëntnummer 1234567").
    ClientNumber,
    /// An identifier the organisation defined (`[[dlp.identifiers]]`); the finding's
    /// [`Finding::kind_name`] is the identifier's name.
    Custom,
}

impl Kind {
    /// The stable name used in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Bsn => "bsn",
            Kind::Iban => "iban",
            Kind::Health => "health",
            Kind::DateOfBirth => "date_of_birth",
            Kind::IdDocument => "id_document",
            Kind::Phone => "phone",
            Kind::EmailAddress => "email_address",
            Kind::PostalAddress => "postal_address",
            Kind::Uninspectable => "uninspectable",
            Kind::ClientNumber => "client_number",
            Kind::Custom => "custom",
        }
    }

    /// Special categories of personal data (and the BSN, which Dutch law treats alike):
    /// one such finding with high confidence makes a message sensitive.
    pub fn is_special_category(self) -> bool {
        matches!(self, Kind::Bsn | Kind::Health | Kind::IdDocument)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How sure the detector is that the finding is what its kind says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Confidence {
    /// The shape matches but the context speaks against it (an invoice number, say).
    Low,
    /// The shape and checksum match; no context either way.
    Medium,
    /// Shape, checksum and context agree.
    High,
}

impl Confidence {
    /// The stable name used in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

impl fmt::Display for Confidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One piece of personal data found, or one part that could not be inspected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What was found. For [`Kind::Custom`], `custom` holds the identifier's name.
    pub kind: Kind,
    /// Where: `subject`, `body`, or `attachment/NAME[/INNER...]`.
    pub location: String,
    /// How sure the detector is.
    pub confidence: Confidence,
    /// A masked excerpt: enough to recognise the finding, never the value itself.
    /// For `uninspectable` findings, the reason.
    pub excerpt: String,
    /// The rule that made the finding, a stable id: `bsn.label`, `dob.name`,
    /// `health.person`, `custom.NAME`, ... (see the README's list).
    pub rule: String,
    /// The kinds of evidence that combined, in the order found: `name`, `date_of_birth`,
    /// `diagnosis`, `keyword`, ... Empty where the value alone speaks.
    pub evidence: Vec<&'static str>,
    /// The organisation-defined identifier's name, for [`Kind::Custom`].
    pub custom: Option<Arc<str>>,
}

impl Finding {
    /// The name of the finding's kind as the JSON shows it: the built-in kind's name, or
    /// the organisation-defined identifier's name.
    pub fn kind_name(&self) -> &str {
        match &self.custom {
            Some(name) => name,
            None => self.kind.as_str(),
        }
    }
}

/// The outcome of a scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing that needs protection was found, and everything was inspected.
    Clean,
    /// Sensitive personal data was found, or something could not be inspected.
    Sensitive,
}

impl Verdict {
    /// The stable name used in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Clean => "clean",
            Verdict::Sensitive => "sensitive",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a message is sensitive. Codes, so each front end can word them in its language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Some content could not be inspected: fail closed.
    Uninspectable,
    /// A checksum-valid BSN without contrary context.
    Bsn,
    /// Health data about an identifiable person.
    Health,
    /// An identity document number.
    IdDocument,
    /// A client or patient number of a care organisation.
    ClientNumber,
    /// An identifier the organisation marked as sensitive on its own.
    Identifier,
    /// Identifying data of several people together (a client list).
    SeveralPersons {
        /// Distinct dates of birth.
        dates_of_birth: usize,
        /// Distinct IBANs.
        ibans: usize,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Uninspectable => f.write_str("some content could not be inspected"),
            Reason::Bsn => f.write_str("a citizen service number (BSN)"),
            Reason::Health => f.write_str("health data about an identifiable person"),
            Reason::IdDocument => f.write_str("an identity document number"),
            Reason::ClientNumber => f.write_str("a client or patient number"),
            Reason::Identifier => f.write_str("an identifier the organisation marks as sensitive"),
            Reason::SeveralPersons {
                dates_of_birth,
                ibans,
            } => write!(
                f,
                "personal data of several people ({dates_of_birth} dates of birth, {ibans} IBANs)"
            ),
        }
    }
}

/// Everything a scan found about one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Clean or sensitive.
    pub verdict: Verdict,
    /// Why the verdict is sensitive (empty when clean).
    pub reasons: Vec<Reason>,
    /// All findings, in document order (at most `Limits::max_findings`).
    pub findings: Vec<Finding>,
    /// Findings left out of `findings` because of the cap.
    pub omitted: usize,
}

impl Report {
    /// The reasons as one English sentence.
    pub fn reason(&self) -> String {
        self.reasons
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Findings of one kind.
    pub fn of_kind(&self, kind: Kind) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |f| f.kind == kind)
    }
}
