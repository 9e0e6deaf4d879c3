//! The plan for one recipient of one message, as data: which route, and the facts it rests
//! on. Pure: the processor asks [`needs`] what to look up, gathers those facts (attachment
//! split, the recipient's number, what the domain proves), calls [`plan`] and carries the
//! plan out.
//!
//! In order, the first that applies:
//!
//! | when | plan |
//! | --- | --- |
//! | between own addresses, internal links on, not an upload request, the text without attachments clean, and the message sensitive or its attachments at least `min_size` | `InternalLink` |
//! | `[zip]` or a ZIP domain, the message needs a secure route, the domain not blocked, a number known, the text without attachments clean | `EncryptedAttachment`, with the routing decision as fallback when the SMS fails |
//! | otherwise | the routing decision of [`crate::decide`]; an upload request never goes `tls` or `plain` but to the portal |

use crate::{Decision, Intent, Recipient, Route, Scan, decide};

/// What is known of the message.
#[derive(Debug, Clone, Copy)]
pub struct MessageFacts<'a> {
    /// The scan.
    pub scan: &'a Scan,
    /// What the sender asked for.
    pub intent: &'a Intent,
    /// The sender's address is one of the organisation's domains.
    pub from_own_domain: bool,
}

/// The message taken apart for the attachment routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attachments {
    /// The text (and subject) without the attachments scans clean.
    pub text_clean: bool,
    /// Bytes in attachments.
    pub bytes: u64,
}

/// What is known of one recipient.
#[derive(Debug, Clone)]
pub struct RecipientFacts {
    /// Address, what the domain proves and whether it is blocked (for [`decide`]).
    pub recipient: Recipient,
    /// The recipient is one of the organisation's own addresses.
    pub own_domain: bool,
    /// The recipient's domain is in `policy.zip_domains`.
    pub zip_domain: bool,
    /// A mobile number is known for the recipient (tag, contact, earlier message).
    pub phone_known: bool,
}

/// The organisation's settings the plan reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// `internal_links.enabled`.
    pub internal_links: bool,
    /// `internal_links.min_size`: attachments at least this large go as a link even when
    /// clean.
    pub internal_min_size: u64,
}

/// The plan for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// The whole message stays in the vault; the colleague's mail carries the text and a
    /// link instead of the attachments.
    InternalLink,
    /// The attachments go as one AES-256 ZIP with the password by SMS; `fallback` when
    /// the SMS or the ZIP fails (fail closed).
    EncryptedAttachment { fallback: Decision },
    /// The routing decision.
    Route(Decision),
}

/// Which facts the plan for this recipient needs looked up (the processor gathers only
/// these: splitting attachments scans text, numbers and domain facts need look-ups).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Needs {
    /// Split the attachments off and scan the text alone.
    pub attachments: bool,
    /// Look up the recipient's mobile number.
    pub phone: bool,
    /// Look up what the recipient's domain proves about authenticated TLS.
    pub transports: bool,
}

/// Does the message need a secure route (sensitive, uninspectable, or asked for)?
pub fn needs_route(msg: &MessageFacts<'_>) -> bool {
    msg.scan.sensitive || msg.scan.uninspectable || msg.intent.forces_secure()
}

fn internal(msg: &MessageFacts<'_>, own_domain: bool, settings: &Settings) -> bool {
    settings.internal_links && own_domain && msg.from_own_domain && !msg.intent.upload
}

fn zip_wanted(msg: &MessageFacts<'_>, zip_domain: bool, blocked: bool) -> bool {
    (msg.intent.zip || zip_domain) && needs_route(msg) && !blocked
}

/// What to look up for a recipient (`own_domain`, `zip_domain`, `blocked` are cheap and
/// known up front).
pub fn needs(
    msg: &MessageFacts<'_>,
    own_domain: bool,
    zip_domain: bool,
    blocked: bool,
    settings: &Settings,
) -> Needs {
    let internal = internal(msg, own_domain, settings);
    let zip = zip_wanted(msg, zip_domain, blocked);
    Needs {
        attachments: internal || zip,
        phone: zip,
        transports: needs_route(msg),
    }
}

/// The plan. `attachments` is `None` when the message has no attachments (or they were
/// not looked up).
pub fn plan(
    msg: &MessageFacts<'_>,
    rcpt: &RecipientFacts,
    attachments: Option<Attachments>,
    settings: &Settings,
) -> Plan {
    let clean_parts = attachments.filter(|a| a.text_clean);
    if internal(msg, rcpt.own_domain, settings)
        && let Some(a) = clean_parts
        && (needs_route(msg) || a.bytes >= settings.internal_min_size)
    {
        return Plan::InternalLink;
    }
    let decision = route(msg, &rcpt.recipient);
    if zip_wanted(msg, rcpt.zip_domain, rcpt.recipient.blocked.is_some())
        && rcpt.phone_known
        && clean_parts.is_some()
    {
        return Plan::EncryptedAttachment { fallback: decision };
    }
    Plan::Route(decision)
}

/// The routing decision, with the upload request's override.
fn route(msg: &MessageFacts<'_>, recipient: &Recipient) -> Decision {
    let decision = decide(msg.scan, msg.intent.forces_secure(), recipient);
    // An upload request needs the portal's upload page, whatever the transport.
    if msg.intent.upload && matches!(decision.route, Route::Tls | Route::Plain) {
        return Decision {
            route: Route::Portal,
            transport: None,
            reasons: vec!["upload request ([upload])".into()],
        };
    }
    decision
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SecureTransport;

    const SETTINGS: Settings = Settings {
        internal_links: true,
        internal_min_size: 10 << 20,
    };

    fn rcpt(own: bool, zip: bool, phone: bool, secure: Vec<SecureTransport>) -> RecipientFacts {
        RecipientFacts {
            recipient: Recipient {
                address: "a@b.nl".into(),
                secure,
                blocked: None,
            },
            own_domain: own,
            zip_domain: zip,
            phone_known: phone,
        }
    }

    fn route_of(p: &Plan) -> &'static str {
        match p {
            Plan::InternalLink => "internal-link",
            Plan::EncryptedAttachment { .. } => "encrypted-attachment",
            Plan::Route(d) => d.route.as_str(),
        }
    }

    fn sensitive() -> Scan {
        Scan {
            sensitive: true,
            kinds: vec!["bsn".into()],
            ..Scan::default()
        }
    }

    fn zip() -> Intent {
        Intent {
            zip: true,
            ..Intent::default()
        }
    }

    fn small_clean_attachment() -> Option<Attachments> {
        Some(Attachments {
            text_clean: true,
            bytes: 1,
        })
    }

    #[test]
    fn every_route_and_override() {
        let clean = Scan::default();
        let sensitive = sensitive();
        let unreadable = Scan {
            uninspectable: true,
            ..Scan::default()
        };
        let none = Intent::default();
        let zip = zip();
        let upload = Intent {
            upload: true,
            ..Intent::default()
        };
        let veilig = Intent {
            secure: true,
            ..Intent::default()
        };
        let clean_att = Some(Attachments {
            text_clean: true,
            bytes: 1000,
        });
        let big_att = Some(Attachments {
            text_clean: true,
            bytes: 20 << 20,
        });
        let dirty_att = Some(Attachments {
            text_clean: false,
            bytes: 1000,
        });
        let dane = vec![SecureTransport::Dane];
        // (name, scan, intent, from own, recipient, attachments, settings, route)
        type Case<'a> = (
            &'a str,
            &'a Scan,
            &'a Intent,
            bool,
            RecipientFacts,
            Option<Attachments>,
            Settings,
            &'a str,
        );
        let off = Settings {
            internal_links: false,
            ..SETTINGS
        };
        let cases: Vec<Case<'_>> = vec![
            (
                "clean mail out",
                &clean,
                &none,
                true,
                rcpt(false, false, false, vec![]),
                None,
                SETTINGS,
                "plain",
            ),
            (
                "sensitive, no proof",
                &sensitive,
                &none,
                true,
                rcpt(false, false, false, vec![]),
                None,
                SETTINGS,
                "portal",
            ),
            (
                "sensitive, DANE",
                &sensitive,
                &none,
                true,
                rcpt(false, false, false, dane.clone()),
                None,
                SETTINGS,
                "tls",
            ),
            (
                "uninspectable",
                &unreadable,
                &none,
                true,
                rcpt(false, false, false, vec![]),
                None,
                SETTINGS,
                "portal",
            ),
            (
                "[veilig] on clean mail",
                &clean,
                &veilig,
                true,
                rcpt(false, false, false, vec![]),
                None,
                SETTINGS,
                "portal",
            ),
            (
                "[veilig], DANE",
                &clean,
                &veilig,
                true,
                rcpt(false, false, false, dane.clone()),
                None,
                SETTINGS,
                "tls",
            ),
            (
                "internal, sensitive attachment",
                &sensitive,
                &none,
                true,
                rcpt(true, false, false, vec![]),
                clean_att,
                SETTINGS,
                "internal-link",
            ),
            (
                "internal, sensitive text",
                &sensitive,
                &none,
                true,
                rcpt(true, false, false, vec![]),
                dirty_att,
                SETTINGS,
                "portal",
            ),
            (
                "internal, clean but large",
                &clean,
                &none,
                true,
                rcpt(true, false, false, vec![]),
                big_att,
                SETTINGS,
                "internal-link",
            ),
            (
                "internal, clean and small",
                &clean,
                &none,
                true,
                rcpt(true, false, false, vec![]),
                clean_att,
                SETTINGS,
                "plain",
            ),
            (
                "internal, from outside",
                &sensitive,
                &none,
                false,
                rcpt(true, false, false, vec![]),
                clean_att,
                SETTINGS,
                "portal",
            ),
            (
                "internal links off",
                &sensitive,
                &none,
                true,
                rcpt(true, false, false, vec![]),
                clean_att,
                off,
                "portal",
            ),
            (
                "internal upload request",
                &clean,
                &upload,
                true,
                rcpt(true, false, false, vec![]),
                clean_att,
                SETTINGS,
                "portal",
            ),
            (
                "[zip] with a number",
                &sensitive,
                &zip,
                true,
                rcpt(false, false, true, vec![]),
                clean_att,
                SETTINGS,
                "encrypted-attachment",
            ),
            (
                "zip domain with a number",
                &sensitive,
                &none,
                true,
                rcpt(false, true, true, vec![]),
                clean_att,
                SETTINGS,
                "encrypted-attachment",
            ),
            (
                "[zip] without a number",
                &sensitive,
                &zip,
                true,
                rcpt(false, false, false, vec![]),
                clean_att,
                SETTINGS,
                "portal",
            ),
            (
                "[zip], sensitive text",
                &sensitive,
                &zip,
                true,
                rcpt(false, false, true, vec![]),
                dirty_att,
                SETTINGS,
                "portal",
            ),
            (
                "[zip], no attachments",
                &sensitive,
                &zip,
                true,
                rcpt(false, false, true, vec![]),
                None,
                SETTINGS,
                "portal",
            ),
            (
                "[zip] on clean mail: the tag asks for a secure route",
                &clean,
                &zip,
                true,
                rcpt(false, false, true, vec![]),
                clean_att,
                SETTINGS,
                "encrypted-attachment",
            ),
            (
                "zip domain, clean mail: nothing to protect",
                &clean,
                &none,
                true,
                rcpt(false, true, true, vec![]),
                clean_att,
                SETTINGS,
                "plain",
            ),
            (
                "upload request, DANE: still the portal",
                &clean,
                &upload,
                true,
                rcpt(false, false, false, dane.clone()),
                None,
                SETTINGS,
                "portal",
            ),
            (
                "upload request, nothing known",
                &clean,
                &upload,
                true,
                rcpt(false, false, false, vec![]),
                None,
                SETTINGS,
                "portal",
            ),
        ];
        for (name, scan, intent, from_own, r, att, settings, want) in cases {
            let msg = MessageFacts {
                scan,
                intent,
                from_own_domain: from_own,
            };
            let p = plan(&msg, &r, att, &settings);
            assert_eq!(route_of(&p), want, "{name}: {p:?}");
            // The facts asked for cover what the plan used.
            let n = needs(&msg, r.own_domain, r.zip_domain, false, &settings);
            if matches!(p, Plan::InternalLink | Plan::EncryptedAttachment { .. }) {
                assert!(n.attachments, "{name}");
            }
            if matches!(p, Plan::EncryptedAttachment { .. }) {
                assert!(n.phone, "{name}");
            }
            if let Plan::Route(d) = &p
                && d.route == Route::Tls
            {
                assert!(n.transports, "{name}");
            }
        }
    }

    #[test]
    fn blocked_wins_over_everything() {
        let (scan, intent) = (sensitive(), zip());
        let mut r = rcpt(false, true, true, vec![SecureTransport::Dane]);
        r.recipient.blocked = Some("concurrent.example".into());
        let msg = MessageFacts {
            scan: &scan,
            intent: &intent,
            from_own_domain: true,
        };
        let p = plan(&msg, &r, small_clean_attachment(), &SETTINGS);
        assert_eq!(route_of(&p), "block", "{p:?}");
        assert!(!needs(&msg, false, true, true, &SETTINGS).phone);
    }

    #[test]
    fn the_zip_falls_back_to_the_decision() {
        let (scan, intent) = (sensitive(), zip());
        let msg = MessageFacts {
            scan: &scan,
            intent: &intent,
            from_own_domain: true,
        };
        let p = plan(
            &msg,
            &rcpt(false, false, true, vec![]),
            small_clean_attachment(),
            &SETTINGS,
        );
        let Plan::EncryptedAttachment { fallback } = p else {
            panic!("{p:?}")
        };
        assert_eq!(fallback.route, Route::Portal);
    }
}
