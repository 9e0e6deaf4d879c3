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
        match veilpost_dns::mx(&self.plain, name).await {
            veilpost_dns::MxAnswer::Records(v) => Answer::Records(v),
            veilpost_dns::MxAnswer::NoRecords | veilpost_dns::MxAnswer::NoDomain => Answer::Empty,
            veilpost_dns::MxAnswer::TempError(e) => Answer::TempError(e),
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
