//! Certificate verifiers for delivery. Every one of them checks the handshake signature
//! with the certificate's key (`verify_tls12_signature` / `verify_tls13_signature`), so a
//! server must hold the private key of what it presents; only the judgement of the
//! certificate itself differs:
//!
//! - [`Opportunistic`]: any certificate (encryption without authentication, for plain
//!   mail when the domain publishes no policy);
//! - [`Dane`]: the chain must match a DNSSEC-validated TLSA record (RFC 7672), checked
//!   inside `verify_server_cert`; DANE-TA chains are validated up to the matched anchor
//!   with the host name;
//! - PKIX (MTA-STS, NTA 7516, partners): the system's roots plus configured ones, with
//!   the host name — rustls' own WebPKI or platform verifier.

use std::sync::Arc;

use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{Error, RootCertStore, SignatureScheme};
use veilpost_dns::dane::{Match, Tlsa, find_match};

/// The handshake-signature checks every verifier here keeps, whatever it thinks of the
/// certificate: rustls' own, with the provider's algorithms (`self.provider`).
macro_rules! real_signature_checks {
    () => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            verify_tls12_signature(
                message,
                cert,
                dss,
                &self.provider.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            verify_tls13_signature(
                message,
                cert,
                dss,
                &self.provider.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.provider
                .signature_verification_algorithms
                .supported_schemes()
        }
    };
}

/// Any certificate, but the handshake signature is still checked.
#[derive(Debug)]
pub struct Opportunistic {
    provider: Arc<CryptoProvider>,
}

impl Opportunistic {
    pub fn new(provider: Arc<CryptoProvider>) -> Opportunistic {
        Opportunistic { provider }
    }
}

impl ServerCertVerifier for Opportunistic {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        Ok(ServerCertVerified::assertion())
    }

    real_signature_checks!();
}

/// DANE: the chain must match one of these TLSA records.
#[derive(Debug)]
pub struct Dane {
    records: Vec<Tlsa>,
    provider: Arc<CryptoProvider>,
}

impl Dane {
    /// `records` must come from a DNSSEC-secure look-up.
    pub fn new(records: Vec<Tlsa>, provider: Arc<CryptoProvider>) -> Dane {
        Dane { records, provider }
    }
}

impl ServerCertVerifier for Dane {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let mut chain: Vec<&[u8]> = vec![end_entity.as_ref()];
        chain.extend(intermediates.iter().map(|c| c.as_ref()));
        match find_match(&self.records, &chain) {
            // DANE-EE: the key is pinned; names and dates do not apply (RFC 7672 §3.1.1).
            Some(Match::EndEntity) => Ok(ServerCertVerified::assertion()),
            // DANE-TA: validate the chain up to the matched certificate, with the name.
            Some(Match::TrustAnchor(i)) => {
                let mut roots = RootCertStore::empty();
                roots
                    .add(intermediates[i - 1].clone())
                    .map_err(|e| Error::General(format!("DANE-TA anchor: {e}")))?;
                let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
                    Arc::new(roots),
                    self.provider.clone(),
                )
                .build()
                .map_err(|e| Error::General(format!("DANE-TA verifier: {e}")))?;
                verifier.verify_server_cert(
                    end_entity,
                    &intermediates[..i - 1],
                    server_name,
                    ocsp_response,
                    now,
                )
            }
            None => Err(Error::General(
                "the certificate matches none of the TLSA records (DANE)".into(),
            )),
        }
    }

    real_signature_checks!();
}

/// Why the trusted roots could not be set up.
#[derive(Debug)]
pub enum RootsError {
    /// A PEM block is not a certificate.
    BadPem(rustls::pki_types::pem::Error),
    /// A certificate is not usable as a root, or the verifier could not be built.
    Rustls(rustls::Error),
    Verifier(rustls::client::VerifierBuilderError),
}

impl std::fmt::Display for RootsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RootsError::BadPem(e) => write!(f, "bad CA certificate: {e}"),
            RootsError::Rustls(e) => e.fmt(f),
            RootsError::Verifier(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for RootsError {}

/// A PKIX verifier: the system's roots plus `extra` (PEM), or only `extra`.
pub fn pkix(
    provider: Arc<CryptoProvider>,
    extra: &[CertificateDer<'static>],
    only_extra: bool,
) -> Result<Arc<dyn ServerCertVerifier>, RootsError> {
    if only_extra {
        let mut roots = RootCertStore::empty();
        for c in extra {
            roots.add(c.clone()).map_err(RootsError::Rustls)?;
        }
        let v =
            rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(RootsError::Verifier)?;
        return Ok(v);
    }
    let v = rustls_platform_verifier::Verifier::new_with_extra_roots(extra.to_vec(), provider)
        .map_err(RootsError::Rustls)?;
    Ok(Arc::new(v))
}
