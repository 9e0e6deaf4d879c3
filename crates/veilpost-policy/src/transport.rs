//! What a TLS connection to one mail host must prove, from what is known of the route, the
//! domain and the host. Pure: delivery gathers the facts (MX, TLSA, MTA-STS, NTA 7516,
//! partner list) and carries the answer out.
//!
//! | route | host facts | requirement |
//! | --- | --- | --- |
//! | any | DNSSEC-valid TLSA records | `Dane` |
//! | any | MTA-STS enforce, host listed | `Pkix` |
//! | any | MTA-STS enforce, host not listed | skip the host |
//! | `tls` | NTA 7516 host or partner domain | `Pkix` |
//! | `tls` | none of these | skip the host (no fallback) |
//! | `plain` | none of these | `Opportunistic` |
//! | configured route (`delivery.routes`) | `tls` to an IP address | refuse (a certificate cannot name it) |

/// How the TLS connection is authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// STARTTLS when offered, any certificate; plaintext when not offered.
    Opportunistic,
    /// STARTTLS required; the certificate must match the host's TLSA records.
    Dane,
    /// STARTTLS required; the certificate must be valid (PKIX) for the host name.
    Pkix,
}

/// The MTA-STS policy of the recipient's domain, as far as this host is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StsFact {
    /// No policy in enforce mode.
    None,
    /// An enforce policy that lists this host.
    Listed,
    /// An enforce policy that does not list this host.
    NotListed,
}

/// What is known about one candidate host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostFacts<'a> {
    /// The host name (for reasons).
    pub host: &'a str,
    /// The domain it serves (for reasons).
    pub domain: &'a str,
    /// The route asks for authenticated TLS (`tls`), not opportunistic (`plain`).
    pub secure_route: bool,
    /// The host comes from the transport map (`delivery.routes`), not from MX.
    pub configured: bool,
    /// The host is written as an IP address.
    pub is_ip: bool,
    /// DNSSEC-valid TLSA records exist for the host.
    pub dane: bool,
    /// The domain's MTA-STS policy, for this host.
    pub sts: StsFact,
    /// The domain announces NTA 7516 (and this is its announced host).
    pub nta: bool,
    /// The domain is a configured partner with mandatory authenticated TLS (or the
    /// address book could not be read: fail closed).
    pub partner: bool,
}

/// Why a host is skipped for a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// A secure route configured to an IP address: no certificate can prove a name.
    IpRoute { domain: String, host: String },
    /// The domain's MTA-STS policy (enforce) does not list the host.
    NotInStsPolicy { domain: String, host: String },
    /// A secure route, but nothing (DANE, MTA-STS, NTA 7516, a partner agreement)
    /// proves authenticated TLS for the host any more.
    NoProof { domain: String, host: String },
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skip::IpRoute { domain, host } => write!(
                f,
                "the route for {domain} is an IP address ({host}), so its TLS certificate cannot be authenticated"
            ),
            Skip::NotInStsPolicy { domain, host } => {
                write!(f, "{host} is not in {domain}'s MTA-STS policy")
            }
            Skip::NoProof { domain, host } => {
                write!(f, "{domain} no longer proves authenticated TLS for {host}")
            }
        }
    }
}

impl std::error::Error for Skip {}

/// What the connection to this host must prove, or why the host is skipped (delivery
/// then tries the next host, and waits and retries when none is left).
pub fn tls_requirement(h: &HostFacts<'_>) -> Result<TlsMode, Skip> {
    let names = || (h.domain.to_string(), h.host.to_string());
    if h.configured {
        if !h.secure_route {
            return Ok(TlsMode::Opportunistic);
        }
        if h.is_ip {
            let (domain, host) = names();
            return Err(Skip::IpRoute { domain, host });
        }
        return Ok(if h.dane { TlsMode::Dane } else { TlsMode::Pkix });
    }
    if h.dane {
        return Ok(TlsMode::Dane);
    }
    match h.sts {
        StsFact::Listed => return Ok(TlsMode::Pkix),
        StsFact::NotListed => {
            let (domain, host) = names();
            return Err(Skip::NotInStsPolicy { domain, host });
        }
        StsFact::None => {}
    }
    if h.secure_route && (h.nta || h.partner) {
        Ok(TlsMode::Pkix)
    } else if h.secure_route {
        let (domain, host) = names();
        Err(Skip::NoProof { domain, host })
    } else {
        Ok(TlsMode::Opportunistic)
    }
}

/// What a delivery's TLS rested on: how operators count deliveries (`veilpost_deliveries_total`'s
/// `tls` label) and what the trace names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    /// The certificate matched DNSSEC-valid TLSA records.
    Dane,
    /// PKIX, because the domain's MTA-STS policy lists the host.
    MtaSts,
    /// PKIX, to the host the domain announces for NTA 7516 mail.
    Nta7516,
    /// PKIX for another reason: a partner agreement or a configured secure route.
    Pkix,
    /// TLS when offered, nothing proven.
    Opportunistic,
}

impl Proof {
    /// The label: `dane`, `mta_sts`, `nta7516`, `pkix`, `opportunistic`.
    pub fn as_str(self) -> &'static str {
        match self {
            Proof::Dane => "dane",
            Proof::MtaSts => "mta_sts",
            Proof::Nta7516 => "nta7516",
            Proof::Pkix => "pkix",
            Proof::Opportunistic => "opportunistic",
        }
    }
}

/// Why `tls_requirement` gave `mode` for these facts: the first rule that applied.
pub fn proof(h: &HostFacts<'_>, mode: TlsMode) -> Proof {
    match mode {
        TlsMode::Dane => Proof::Dane,
        TlsMode::Opportunistic => Proof::Opportunistic,
        TlsMode::Pkix if h.configured => Proof::Pkix,
        TlsMode::Pkix if h.sts == StsFact::Listed => Proof::MtaSts,
        TlsMode::Pkix if h.nta => Proof::Nta7516,
        TlsMode::Pkix => Proof::Pkix,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proof_names_the_rule_that_applied() {
        let cases: Vec<(&str, HostFacts<'static>, Proof)> = vec![
            ("plain, nothing known", host(), Proof::Opportunistic),
            (
                "DANE",
                HostFacts {
                    dane: true,
                    ..host()
                },
                Proof::Dane,
            ),
            (
                "DANE before MTA-STS",
                HostFacts {
                    dane: true,
                    sts: StsFact::Listed,
                    ..host()
                },
                Proof::Dane,
            ),
            (
                "MTA-STS listed",
                HostFacts {
                    sts: StsFact::Listed,
                    ..host()
                },
                Proof::MtaSts,
            ),
            (
                "MTA-STS before NTA 7516",
                HostFacts {
                    sts: StsFact::Listed,
                    nta: true,
                    secure_route: true,
                    ..host()
                },
                Proof::MtaSts,
            ),
            (
                "secure route, NTA 7516",
                HostFacts {
                    nta: true,
                    secure_route: true,
                    ..host()
                },
                Proof::Nta7516,
            ),
            (
                "secure route, NTA 7516 and partner",
                HostFacts {
                    nta: true,
                    partner: true,
                    secure_route: true,
                    ..host()
                },
                Proof::Nta7516,
            ),
            (
                "secure route, partner",
                HostFacts {
                    partner: true,
                    secure_route: true,
                    ..host()
                },
                Proof::Pkix,
            ),
            (
                "plain route, NTA 7516 known",
                HostFacts {
                    nta: true,
                    ..host()
                },
                Proof::Opportunistic,
            ),
            (
                "configured secure route",
                HostFacts {
                    configured: true,
                    secure_route: true,
                    sts: StsFact::Listed,
                    ..host()
                },
                Proof::Pkix,
            ),
            (
                "configured secure route with DANE",
                HostFacts {
                    configured: true,
                    secure_route: true,
                    dane: true,
                    ..host()
                },
                Proof::Dane,
            ),
            (
                "configured plain route",
                HostFacts {
                    configured: true,
                    ..host()
                },
                Proof::Opportunistic,
            ),
        ];
        for (name, facts, expected) in cases {
            let mode = tls_requirement(&facts).expect(name);
            assert_eq!(proof(&facts, mode), expected, "{name}");
        }
    }

    fn host() -> HostFacts<'static> {
        HostFacts {
            host: "mx.zorg.nl",
            domain: "zorg.nl",
            secure_route: false,
            configured: false,
            is_ip: false,
            dane: false,
            sts: StsFact::None,
            nta: false,
            partner: false,
        }
    }

    #[test]
    fn every_case() {
        use TlsMode::{Dane, Opportunistic, Pkix};
        let skip = Err(());
        let cases: Vec<(&str, HostFacts<'static>, Result<TlsMode, ()>)> = vec![
            ("plain, nothing known", host(), Ok(Opportunistic)),
            (
                "plain, DANE",
                HostFacts {
                    dane: true,
                    ..host()
                },
                Ok(Dane),
            ),
            (
                "plain, STS listed",
                HostFacts {
                    sts: StsFact::Listed,
                    ..host()
                },
                Ok(Pkix),
            ),
            (
                "plain, STS not listed",
                HostFacts {
                    sts: StsFact::NotListed,
                    ..host()
                },
                skip,
            ),
            (
                "plain, partner: not required",
                HostFacts {
                    partner: true,
                    ..host()
                },
                Ok(Opportunistic),
            ),
            (
                "plain, NTA: not required",
                HostFacts {
                    nta: true,
                    ..host()
                },
                Ok(Opportunistic),
            ),
            (
                "tls, nothing known: skip",
                HostFacts {
                    secure_route: true,
                    ..host()
                },
                skip,
            ),
            (
                "tls, DANE",
                HostFacts {
                    secure_route: true,
                    dane: true,
                    ..host()
                },
                Ok(Dane),
            ),
            (
                "tls, DANE beats a policy that does not list the host",
                HostFacts {
                    secure_route: true,
                    dane: true,
                    sts: StsFact::NotListed,
                    ..host()
                },
                Ok(Dane),
            ),
            (
                "tls, STS listed",
                HostFacts {
                    secure_route: true,
                    sts: StsFact::Listed,
                    ..host()
                },
                Ok(Pkix),
            ),
            (
                "tls, STS not listed, partner: still skipped",
                HostFacts {
                    secure_route: true,
                    sts: StsFact::NotListed,
                    partner: true,
                    ..host()
                },
                skip,
            ),
            (
                "tls, NTA 7516",
                HostFacts {
                    secure_route: true,
                    nta: true,
                    ..host()
                },
                Ok(Pkix),
            ),
            (
                "tls, partner",
                HostFacts {
                    secure_route: true,
                    partner: true,
                    ..host()
                },
                Ok(Pkix),
            ),
            (
                "route, plain",
                HostFacts {
                    configured: true,
                    is_ip: true,
                    ..host()
                },
                Ok(Opportunistic),
            ),
            (
                "route, tls, name",
                HostFacts {
                    configured: true,
                    secure_route: true,
                    ..host()
                },
                Ok(Pkix),
            ),
            (
                "route, tls, name with TLSA",
                HostFacts {
                    configured: true,
                    secure_route: true,
                    dane: true,
                    ..host()
                },
                Ok(Dane),
            ),
            (
                "route, tls, IP address: refused",
                HostFacts {
                    configured: true,
                    secure_route: true,
                    is_ip: true,
                    ..host()
                },
                skip,
            ),
            (
                "route, tls: MTA-STS does not apply to a configured route",
                HostFacts {
                    configured: true,
                    secure_route: true,
                    sts: StsFact::NotListed,
                    ..host()
                },
                Ok(Pkix),
            ),
        ];
        for (name, facts, want) in cases {
            let got = tls_requirement(&facts);
            assert_eq!(
                got.as_ref().map_err(|_| ()),
                want.as_ref().map_err(|_| ()),
                "{name}: {got:?}"
            );
            if let Err(why) = got {
                assert!(why.to_string().contains("zorg.nl"), "{name}: {why}");
            }
        }
    }

    #[test]
    fn skips_say_why() {
        let (domain, mx) = ("zorg.nl".to_string(), "mx.zorg.nl".to_string());
        for (facts, want) in [
            (
                HostFacts {
                    configured: true,
                    secure_route: true,
                    is_ip: true,
                    ..host()
                },
                Skip::IpRoute {
                    domain: domain.clone(),
                    host: mx.clone(),
                },
            ),
            (
                HostFacts {
                    sts: StsFact::NotListed,
                    ..host()
                },
                Skip::NotInStsPolicy {
                    domain: domain.clone(),
                    host: mx.clone(),
                },
            ),
            (
                HostFacts {
                    secure_route: true,
                    ..host()
                },
                Skip::NoProof { domain, host: mx },
            ),
        ] {
            assert_eq!(tls_requirement(&facts), Err(want));
        }
        assert_eq!(
            tls_requirement(&HostFacts {
                secure_route: true,
                ..host()
            })
            .map_err(|e| e.to_string()),
            Err("zorg.nl no longer proves authenticated TLS for mx.zorg.nl".to_string())
        );
    }
}
