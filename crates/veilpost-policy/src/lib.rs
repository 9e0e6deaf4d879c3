//! The routing decision per recipient, from the scan, the sender's intent and what the
//! recipient's domain proves. Pure: no I/O, no clock; the caller gathers the facts.
//!
//! | message | recipient domain | route |
//! | --- | --- | --- |
//! | blocked domain | any | `block` |
//! | clean, no secure tag | any | `plain` (delivery still honours DANE and MTA-STS) |
//! | sensitive, uninspectable or tagged `[veilig]`/`[secure]` | DANE, MTA-STS enforce, NTA 7516 or partner | `tls` |
//! | same | none of these | `portal` |

pub mod domain;
pub mod doublecheck;
pub mod intent;
pub mod plan;
pub mod transport;

pub use intent::Intent;

use serde::Serialize;

/// How a message reaches one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Route {
    /// Normal delivery, opportunistic TLS.
    Plain,
    /// Delivery only over authenticated TLS 1.2+; defer rather than fall back.
    Tls,
    /// Stored encrypted; the recipient gets a notification with a link.
    Portal,
    /// Not sent; the sender gets a delivery status notification saying why.
    Block,
}

impl Route {
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Plain => "plain",
            Route::Tls => "tls",
            Route::Portal => "portal",
            Route::Block => "block",
        }
    }
}

/// How authenticated TLS is proven for a domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SecureTransport {
    /// DNSSEC-validated TLSA records on its MX hosts (RFC 7672).
    Dane,
    /// An MTA-STS policy in enforce mode (RFC 8461).
    MtaSts,
    /// A published `v=NTA7516-1` record: deliver to this host with mandatory TLS.
    Nta7516 { mx: String },
    /// Configured as a partner with mandatory authenticated TLS.
    Partner,
}

/// What the scan found, in the terms the policy needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scan {
    /// Sensitive personal data found.
    pub sensitive: bool,
    /// Some content could not be inspected (fail closed: treated as sensitive).
    pub uninspectable: bool,
    /// Finding kinds (`bsn`, `health`, ...), for the reasons.
    pub kinds: Vec<String>,
}

/// What is known about a recipient and its domain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recipient {
    pub address: String,
    /// Ways the domain proves authenticated TLS, strongest first.
    pub secure: Vec<SecureTransport>,
    /// The domain is blocked by policy, with the reason.
    pub blocked: Option<String>,
}

/// The decision for one recipient, with its reasons (kept for the trace and the audit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub route: Route,
    /// Set for `tls`: how the transport is authenticated.
    pub transport: Option<SecureTransport>,
    pub reasons: Vec<String>,
}

/// Subject tags that force the secure route.
pub const SECURE_TAGS: &[&str] = &["[veilig]", "[secure]"];

/// Decide the route for one recipient.
pub fn decide(scan: &Scan, tagged_secure: bool, recipient: &Recipient) -> Decision {
    if let Some(why) = &recipient.blocked {
        return Decision {
            route: Route::Block,
            transport: None,
            reasons: vec![format!("recipient blocked by policy: {why}")],
        };
    }
    let mut reasons = Vec::new();
    if scan.sensitive {
        reasons.push(format!("sensitive content: {}", scan.kinds.join(", ")));
    }
    if scan.uninspectable {
        reasons.push("content that could not be inspected (treated as sensitive)".to_string());
    }
    if tagged_secure {
        reasons.push("the sender asked for secure delivery (subject tag)".to_string());
    }
    if reasons.is_empty() {
        return Decision {
            route: Route::Plain,
            transport: None,
            reasons: vec!["no sensitive content".to_string()],
        };
    }
    match recipient.secure.first() {
        Some(t) => {
            reasons.push(format!(
                "the recipient's domain proves authenticated TLS ({})",
                match t {
                    SecureTransport::Dane => "DANE".to_string(),
                    SecureTransport::MtaSts => "MTA-STS enforce".to_string(),
                    SecureTransport::Nta7516 { mx } => format!("NTA 7516, via {mx}"),
                    SecureTransport::Partner => "configured partner".to_string(),
                }
            ));
            Decision {
                route: Route::Tls,
                transport: Some(t.clone()),
                reasons,
            }
        }
        None => {
            reasons.push(
                "the recipient's domain proves no authenticated TLS (no DANE, MTA-STS enforce, NTA 7516 or partner agreement)"
                    .to_string(),
            );
            Decision {
                route: Route::Portal,
                transport: None,
                reasons,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rcpt(secure: Vec<SecureTransport>) -> Recipient {
        Recipient {
            address: "a@b.nl".into(),
            secure,
            blocked: None,
        }
    }

    fn sensitive() -> Scan {
        Scan {
            sensitive: true,
            uninspectable: false,
            kinds: vec!["bsn".into()],
        }
    }

    #[test]
    fn table() {
        let clean = Scan::default();
        let unreadable = Scan {
            uninspectable: true,
            ..Scan::default()
        };
        let dane = vec![SecureTransport::Dane];
        let cases: &[(&Scan, bool, Vec<SecureTransport>, Route)] = &[
            (&clean, false, vec![], Route::Plain),
            (&clean, false, dane.clone(), Route::Plain),
            (&clean, true, vec![], Route::Portal),
            (&clean, true, dane.clone(), Route::Tls),
            (&sensitive(), false, vec![], Route::Portal),
            (&sensitive(), false, dane.clone(), Route::Tls),
            (
                &sensitive(),
                false,
                vec![SecureTransport::MtaSts],
                Route::Tls,
            ),
            (
                &sensitive(),
                false,
                vec![SecureTransport::Partner],
                Route::Tls,
            ),
            (
                &sensitive(),
                false,
                vec![SecureTransport::Nta7516 {
                    mx: "mx.zorgmail.nl".into(),
                }],
                Route::Tls,
            ),
            (&unreadable, false, vec![], Route::Portal),
            (&unreadable, false, dane, Route::Tls),
        ];
        for (scan, tag, secure, want) in cases {
            let d = decide(scan, *tag, &rcpt(secure.clone()));
            assert_eq!(d.route, *want, "{scan:?} {tag} {secure:?}: {d:?}");
            assert!(!d.reasons.is_empty());
            assert_eq!(d.transport.is_some(), d.route == Route::Tls);
        }
    }

    #[test]
    fn blocked_wins() {
        let r = Recipient {
            blocked: Some("competitor.example".into()),
            ..rcpt(vec![SecureTransport::Dane])
        };
        let d = decide(&sensitive(), false, &r);
        assert_eq!(d.route, Route::Block);
        assert!(d.reasons[0].contains("competitor.example"));
        assert_eq!(decide(&Scan::default(), false, &r).route, Route::Block);
    }

    #[test]
    fn reasons_name_the_findings() {
        let d = decide(&sensitive(), false, &rcpt(vec![]));
        assert!(d.reasons.iter().any(|r| r.contains("bsn")));
        assert!(d.reasons.iter().any(|r| r.contains("no authenticated TLS")));
    }
}
