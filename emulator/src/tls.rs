//! The emulator's TLS identity: a self-signed certificate made at start
//! (like the appliance's built-in one) and the rustls server configuration,
//! ring provider only.

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;

/// The certificate in both encodings and its private key.
pub struct Identity {
    pub der: Vec<u8>,
    pub pem: String,
    key: Vec<u8>,
}

/// Makes a self-signed certificate for `names` (IP addresses become IP SANs).
pub fn generate(names: &[String]) -> Result<Identity, String> {
    let made =
        rcgen::generate_simple_self_signed(names.to_vec()).map_err(|e| format!("cannot make a certificate: {e}"))?;
    Ok(Identity {
        der: made.cert.der().to_vec(),
        pem: made.cert.pem(),
        key: made.signing_key.serialize_der(),
    })
}

/// A TLS acceptor serving `identity`, HTTP/1.1 only.
pub fn acceptor(identity: &Identity) -> Result<TlsAcceptor, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cert = CertificateDer::from(identity.der.clone());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(identity.key.clone()));
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .map_err(|e| format!("TLS setup failed: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// SHA-256 of the certificate's DER bytes.
pub fn sha256(der: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}
