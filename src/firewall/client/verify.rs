//! TLS verification for the firewall client: the one certificate verifier
//! of every mode (it records the presented leaf's fingerprint, then applies
//! the mode's check), the rustls configuration built around it, and the pin
//! error that travels back through rustls and reqwest to `send`.

use super::{Presented, Tls};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, RootCertStore, SignatureScheme};
use std::error::Error as StdError;
use std::path::Path;
use std::sync::{Arc, PoisonError};
use std::{fmt, io};

/// The first answer `find` gives for an error of the source chain,
/// looking inside `io::Error` too (whose `source` skips the wrapped error).
fn in_chain<T>(error: &(dyn StdError + 'static), find: &dyn Fn(&(dyn StdError + 'static)) -> Option<T>) -> Option<T> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(found) = find(e) {
            return Some(found);
        }
        if let Some(inner) = e.downcast_ref::<io::Error>().and_then(io::Error::get_ref)
            && let Some(found) = in_chain(inner, find)
        {
            return Some(found);
        }
        current = e.source();
    }
    None
}

/// Finds our pin error in the source chain, also inside rustls's `Other`.
pub(super) fn pin_mismatch(error: &(dyn StdError + 'static)) -> Option<String> {
    in_chain(error, &|e| {
        if let Some(pin) = e.downcast_ref::<PinError>() {
            return Some(pin.presented.clone());
        }
        match e.downcast_ref::<rustls::Error>() {
            Some(rustls::Error::InvalidCertificate(CertificateError::Other(other))) => {
                other.0.downcast_ref::<PinError>().map(|pin| pin.presented.clone())
            }
            _ => None,
        }
    })
}

/// Whether the handshake failed because nothing trusted the certificate's
/// issuer (an appliance's own certificate against the system roots): the
/// case where the admin needs the `pin_sha256` line.
pub(super) fn untrusted(error: &(dyn StdError + 'static)) -> bool {
    in_chain(error, &|e| {
        matches!(
            e.downcast_ref::<rustls::Error>(),
            Some(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer))
        )
        .then_some(())
    })
    .is_some()
}

/// `AB:CD:...`: SHA-256 of `der`, upper-case hex with colons.
pub fn fingerprint(der: &[u8]) -> String {
    hex_colons(&sha256(der))
}

/// Reads a `pin_sha256` value: 64 hex digits, colons optional, any case.
pub fn parse_pin(text: &str) -> Result<[u8; 32], String> {
    let digits: String = text.trim().chars().filter(|c| *c != ':').collect();
    let bad = || format!("pin_sha256 {text:?} is not 32 bytes of hex (AB:CD:... or abcd...)");
    if digits.len() != 64 || !digits.is_ascii() {
        return Err(bad());
    }
    let mut pin = [0u8; 32];
    for (i, byte) in pin.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&digits[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(pin)
}

fn sha256(data: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

pub(super) fn hex_colons(bytes: &[u8]) -> String {
    let parts: Vec<String> = bytes.iter().map(|b| format!("{b:02X}")).collect();
    parts.join(":")
}

/// The rustls configuration for one TLS mode, ring only, HTTP/1.1.
/// Also whether nothing can vouch for a certificate (no system CA
/// certificates, no ca_file, no pin).
pub(super) fn tls_config(tls: &Tls, presented: Presented) -> Result<(rustls::ClientConfig, bool), String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let check = match tls {
        // No system CA bundle (a minimal host without ca-certificates): every
        // handshake fails as untrusted, and the caller prints the presented
        // fingerprint with the pin_sha256 line, as for a self-signed one.
        Tls::System => match system_roots() {
            Some(roots) => Check::WebPki(webpki(roots, &provider)?, None),
            None => Check::NoRoots,
        },
        Tls::CaFile(path, name) => {
            let name = name.as_deref().map(tls_name).transpose()?;
            Check::WebPki(webpki(file_roots(path)?, &provider)?, name)
        }
        Tls::Pin(pin) => Check::Pin(*pin),
        Tls::Insecure => Check::Nothing,
    };
    let no_roots = matches!(check, Check::NoRoots);
    let verifier = Arc::new(Recorder {
        check,
        presented,
        provider: provider.clone(),
    });
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((config, no_roots))
}

fn tls_name(name: &str) -> Result<ServerName<'static>, String> {
    ServerName::try_from(name.to_string()).map_err(|e| format!("tls_name {name:?}: {e}"))
}

fn webpki(roots: RootCertStore, provider: &Arc<CryptoProvider>) -> Result<Arc<WebPkiServerVerifier>, String> {
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| format!("cannot use the CA certificates: {e}"))
}

/// The system's CA bundle (on Debian, the ca-certificates package); `None`
/// when there is none.
fn system_roots() -> Option<RootCertStore> {
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    (!roots.is_empty()).then_some(roots)
}

/// Largest `ca_file` read, in bytes (a system bundle is about 200 KiB).
const MAX_CA_BYTES: u64 = 16 * 1024 * 1024;

fn file_roots(path: &Path) -> Result<RootCertStore, String> {
    let shown = path.display();
    // Never blocking on a FIFO: only a regular file is read.
    let pem = crate::config::regular::read_limited(path, MAX_CA_BYTES)
        .map_err(|e| format!("ca_file: {}", crate::config::regular::explain(path, &e)))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("cannot read ca_file {shown}: {e}"))?;
    let mut roots = RootCertStore::empty();
    let (_, unusable) = roots.add_parsable_certificates(certs);
    if roots.is_empty() {
        return Err(format!(
            "ca_file {shown} holds no usable certificate ({unusable} unusable)"
        ));
    }
    Ok(roots)
}

/// What a handshake checks besides recording the fingerprint.
#[derive(Debug)]
enum Check {
    /// Chain, expiry and name; the name replaces the url's host when set.
    WebPki(Arc<WebPkiServerVerifier>, Option<ServerName<'static>>),
    Pin([u8; 32]),
    /// No ca_file, no pin and no system CA certificates: nothing can vouch
    /// for any certificate.
    NoRoots,
    Nothing,
}

/// The one verifier of every mode: it records the leaf's fingerprint, then
/// applies the mode's check. Handshake signatures are always verified, so
/// the peer must hold the key of the certificate it showed.
#[derive(Debug)]
struct Recorder {
    check: Check,
    presented: Presented,
    provider: Arc<CryptoProvider>,
}

/// A pin mismatch, carried through rustls and reqwest to `send`.
#[derive(Debug)]
struct PinError {
    presented: String,
}

impl fmt::Display for PinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "certificate {} does not match pin_sha256", self.presented)
    }
}

impl StdError for PinError {}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let digest = sha256(end_entity.as_ref());
        let presented = hex_colons(&digest);
        *self.presented.lock().unwrap_or_else(PoisonError::into_inner) = Some(presented.clone());
        match &self.check {
            Check::WebPki(verifier, name) => {
                let name = name.as_ref().unwrap_or(server_name);
                verifier.verify_server_cert(end_entity, intermediates, name, ocsp, now)
            }
            Check::Pin(pin) if *pin == digest => Ok(ServerCertVerified::assertion()),
            Check::Pin(_) => Err(rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(
                Arc::new(PinError { presented }),
            )))),
            Check::NoRoots => Err(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)),
            Check::Nothing => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}
