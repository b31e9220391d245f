//! The four TLS modes against the emulator's self-signed certificate, over
//! real loopback sockets, and the presented fingerprint recorded in each.

mod fwutil;

use failoverd::firewall::client::{SendError, Tls};
use failoverd::firewall::response::{self, Verdict};
use fwutil::*;
use sfos_emulator::EmulatorConfig;
use std::time::Duration;

const T: Duration = Duration::from_secs(5);

async fn get(client: &failoverd::firewall::client::Client) -> Result<Verdict, SendError> {
    let body = client.send(&get_doc(PASSWORD)).await?;
    Ok(response::judge(&body))
}

fn assert_accepted_get(result: Result<Verdict, SendError>) {
    match result {
        Ok(Verdict::Refused { code: None, text }) => assert_eq!(text, "No. of records Zero."),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn system_roots_refuse_a_self_signed_certificate() {
    let emu = default_emulator().await;
    let client = client(emu.url_for("localhost"), Tls::System, T);
    match client.send(&get_doc(PASSWORD)).await {
        Err(SendError::Before(why)) => {
            assert!(why.to_lowercase().contains("certificate"), "{why}");
            // The fix, ready to paste: the line to add, with the fingerprint.
            let line = format!("add pin_sha256 = \"{}\" to [firewall]", emu.cert_fingerprint());
            assert!(why.contains(&line), "{why}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(client.presented_fingerprint(), Some(emu.cert_fingerprint()));
    assert!(emu.requests().is_empty(), "nothing reached the API");
}

#[tokio::test]
async fn a_pinned_certificate_is_accepted() {
    let emu = default_emulator().await;
    let client = pinned(&emu);
    assert_eq!(client.presented_fingerprint(), None);
    assert_accepted_get(get(&client).await);
    assert_eq!(client.presented_fingerprint(), Some(emu.cert_fingerprint()));
}

#[tokio::test]
async fn a_wrong_pin_is_a_mismatch_naming_the_presented_fingerprint() {
    let emu = default_emulator().await;
    let mut pin = emu.cert_sha256();
    pin[0] ^= 1;
    let client = client(emu.url(), Tls::Pin(pin), T);
    match client.send(&get_doc(PASSWORD)).await {
        Err(SendError::PinMismatch { presented }) => assert_eq!(presented, emu.cert_fingerprint()),
        other => panic!("{other:?}"),
    }
    assert!(emu.requests().is_empty());
}

#[tokio::test]
async fn a_ca_file_is_accepted_for_the_names_the_certificate_carries() {
    let emu = default_emulator().await;
    let ca = emu.ca_pem().unwrap();
    for url in [emu.url(), emu.url_for("localhost")] {
        let client = client(url, Tls::CaFile(ca.clone(), None), T);
        assert_accepted_get(get(&client).await);
    }
}

#[tokio::test]
async fn a_ca_file_checks_tls_name_instead_of_the_url_host() {
    let names = vec!["fw.example.net".to_string()];
    let emu = emulator(EmulatorConfig {
        password: PASSWORD.into(),
        cert_names: names,
        ..EmulatorConfig::default()
    })
    .await;
    let ca = emu.ca_pem().unwrap();
    let by_ip = client(emu.url(), Tls::CaFile(ca.clone(), None), T);
    match by_ip.send(&get_doc(PASSWORD)).await {
        Err(SendError::Before(why)) => assert!(why.contains("certificate"), "{why}"),
        other => panic!("the url's host 127.0.0.1 is not in the certificate: {other:?}"),
    }
    let named = client(emu.url(), Tls::CaFile(ca.clone(), Some("fw.example.net".into())), T);
    assert_accepted_get(get(&named).await);
    let wrong = client(emu.url(), Tls::CaFile(ca, Some("other.example.net".into())), T);
    assert!(matches!(
        wrong.send(&get_doc(PASSWORD)).await,
        Err(SendError::Before(_))
    ));
}

#[tokio::test]
async fn a_ca_file_of_another_certificate_is_refused() {
    let emu = default_emulator().await;
    let other = default_emulator().await;
    let client = client(emu.url(), Tls::CaFile(other.ca_pem().unwrap(), None), T);
    assert!(matches!(
        client.send(&get_doc(PASSWORD)).await,
        Err(SendError::Before(_))
    ));
    assert_eq!(client.presented_fingerprint(), Some(emu.cert_fingerprint()));
}

#[tokio::test]
async fn insecure_accepts_anything_and_still_records_the_fingerprint() {
    let emu = default_emulator().await;
    let client = client(emu.url_for("localhost"), Tls::Insecure, T);
    assert_accepted_get(get(&client).await);
    assert_eq!(client.presented_fingerprint(), Some(emu.cert_fingerprint()));
}

#[tokio::test]
async fn clones_share_the_connection_and_the_record() {
    let emu = default_emulator().await;
    let client = pinned(&emu);
    let clone = client.clone();
    for c in [&client, &clone, &client] {
        assert_accepted_get(get(c).await);
    }
    assert_eq!(clone.presented_fingerprint(), Some(emu.cert_fingerprint()));
    assert_eq!(emu.requests().len(), 3);
    assert_eq!(emu.connections(), 1, "one connection, reused");
}
