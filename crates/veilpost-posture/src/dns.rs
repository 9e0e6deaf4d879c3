//! The look-ups the checks make: plain (through the configured servers) and validated.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hickory_proto::rr::RecordType;
use veilpost_dns::{Proof, TokioResolver, ValidatedError};
use veilpost_senderauth::spf::{Answer, HickorySpf, SpfResolver};

/// Both resolvers.
#[derive(Clone)]
pub(crate) struct Dns {
    pub(crate) plain: TokioResolver,
    pub(crate) validating: TokioResolver,
}

impl Dns {
    pub(crate) fn spf(&self) -> HickorySpf<'_> {
        HickorySpf(&self.plain)
    }

    pub(crate) async fn txt(&self, name: &str) -> Answer<Vec<String>> {
        self.spf().txt(name).await
    }

    pub(crate) async fn mx(&self, name: &str) -> Answer<Vec<(u16, String)>> {
        use hickory_proto::rr::RData;
        let Some(q) = veilpost_dns::name_from_text(name) else {
            return Answer::Empty;
        };
        match self.plain.lookup(q, RecordType::MX).await {
            Ok(l) => {
                let mut v: Vec<(u16, String)> = l
                    .answers()
                    .iter()
                    .filter_map(|r| match &r.data {
                        RData::MX(mx) => Some((
                            mx.preference,
                            mx.exchange
                                .to_ascii()
                                .trim_end_matches('.')
                                .to_ascii_lowercase(),
                        )),
                        _ => None,
                    })
                    .collect();
                v.sort();
                if v.is_empty() {
                    Answer::Empty
                } else {
                    Answer::Records(v)
                }
            }
            Err(e) if e.is_nx_domain() || e.is_no_records_found() => Answer::Empty,
            Err(e) => Answer::TempError(e.to_string()),
        }
    }

    /// A and AAAA addresses.
    pub(crate) async fn addresses(&self, name: &str) -> Answer<Vec<IpAddr>> {
        let spf = self.spf();
        let (a, aaaa) = tokio::join!(spf.a(name), spf.aaaa(name));
        let mut out: Vec<IpAddr> = Vec::new();
        let mut temp = None;
        for ans in [
            a.map(|v: Vec<Ipv4Addr>| v.into_iter().map(IpAddr::V4).collect::<Vec<_>>()),
            aaaa.map(|v: Vec<Ipv6Addr>| v.into_iter().map(IpAddr::V6).collect::<Vec<_>>()),
        ] {
            match ans {
                Answer::Records(v) => out.extend(v),
                Answer::Empty => {}
                Answer::TempError(e) => temp = Some(e),
            }
        }
        match (out.is_empty(), temp) {
            (false, _) => Answer::Records(out),
            (true, Some(e)) => Answer::TempError(e),
            (true, None) => Answer::Empty,
        }
    }

    /// The DNSSEC proof of `name`'s records of `rtype`, or of their absence.
    pub(crate) async fn proof(
        &self,
        name: &str,
        rtype: RecordType,
    ) -> Result<Proof, ValidatedError> {
        veilpost_dns::validated(&self.validating, name, rtype)
            .await
            .map(|v| v.proof)
    }
}

/// `Answer::map`, for converting record types.
pub(crate) trait MapAnswer<T> {
    fn map<U>(self, f: impl FnOnce(T) -> U) -> Answer<U>;
}

impl<T> MapAnswer<T> for Answer<T> {
    fn map<U>(self, f: impl FnOnce(T) -> U) -> Answer<U> {
        match self {
            Answer::Records(v) => Answer::Records(f(v)),
            Answer::Empty => Answer::Empty,
            Answer::TempError(e) => Answer::TempError(e),
        }
    }
}
