//! Unit tests of the client's pure parts: pins, fingerprints, setup errors.

use super::verify::hex_colons;
use super::*;

#[test]
fn pins_parse_in_every_spelling() {
    let colons = (0..32).map(|i| format!("{:02x}", i * 7)).collect::<Vec<_>>().join(":");
    let pin = parse_pin(&colons).unwrap();
    assert_eq!(parse_pin(&colons.replace(':', "").to_uppercase()).unwrap(), pin);
    assert_eq!(hex_colons(&pin), colons.to_uppercase());
    for bad in ["", "AB:CD", &"g".repeat(64), &"a".repeat(66), &"é".repeat(32)] {
        assert!(parse_pin(bad).is_err(), "{bad}");
    }
}

#[test]
fn fingerprint_is_upper_hex_with_colons() {
    let fp = fingerprint(b"abc");
    assert!(fp.starts_with("BA:78:16:BF:8F:01:CF:EA"), "{fp}");
    assert_eq!(fp.len(), 32 * 3 - 1);
}

#[test]
fn new_refuses_bad_urls_and_installs_crypto_once() {
    let cfg = |url: &str| ClientConfig {
        url: url.into(),
        timeout: Duration::from_secs(1),
        tls: Tls::Insecure,
    };
    assert!(Client::new(&cfg("http://192.0.2.1:4444/x")).is_err());
    assert!(Client::new(&cfg("not a url")).is_err());
    assert!(Client::new(&cfg("https://192.0.2.1:4444/webconsole/APIController")).is_ok());
    install_crypto();
    assert!(rustls::crypto::CryptoProvider::get_default().is_some());
}

#[test]
fn missing_ca_file_is_an_error() {
    let tls = Tls::CaFile("/nonexistent/ca.pem".into(), None);
    let cfg = ClientConfig {
        url: "https://localhost/".into(),
        timeout: Duration::from_secs(1),
        tls,
    };
    let err = Client::new(&cfg).unwrap_err();
    assert!(err.contains("/nonexistent/ca.pem"), "{err}");
}
