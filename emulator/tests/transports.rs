//! The emulator over real sockets with a hand-written HTTP/1.1 client: the
//! three ways `reqxml` arrives, the errors around them, and the binary a
//! person starts.

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use sfos_emulator::{Emulator, EmulatorConfig, Transport};
use std::process::Stdio;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

const GET: &str = "<Request><Login><Username>api</Username><Password>a&amp;b</Password></Login><Get><VPNFailoverGroup></VPNFailoverGroup></Get></Request>";

async fn emulator() -> Emulator {
    Emulator::start(EmulatorConfig {
        password: "a&b".into(),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap()
}

/// Sends one raw HTTP request over TLS (trusting only `cert`) and returns
/// the whole raw response.
async fn raw(addr: std::net::SocketAddr, cert: &[u8], head: &str, body: &str) -> String {
    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from(cert.to_vec())).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = TlsConnector::from(Arc::new(config)).connect(name, tcp).await.unwrap();
    let request = format!(
        "{head}\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out).into_owned()
}

fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn reqxml_arrives_by_query_form_or_multipart() {
    let emu = emulator().await;
    let path = sfos_emulator::API_PATH;
    let query = format!("GET {path}?reqxml={} HTTP/1.1", encode(GET));
    let form = format!("POST {path} HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded");
    let multipart = format!("POST {path} HTTP/1.1\r\nContent-Type: multipart/form-data; boundary=b0und");
    let parts = format!("--b0und\r\nContent-Disposition: form-data; name=\"reqxml\"\r\n\r\n{GET}\r\n--b0und--\r\n");
    let cases = [
        (query, String::new(), Transport::Query),
        (form, format!("reqxml={}", encode(GET)), Transport::Form),
        (multipart, parts, Transport::Multipart),
    ];
    for (head, body, transport) in cases {
        let reply = raw(emu.addr(), emu.cert_der(), &head, &body).await;
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
        assert!(
            reply.contains("Authentication Successful") && reply.contains("No. of records Zero."),
            "{reply}"
        );
        let last = emu.requests().pop().unwrap();
        assert_eq!((last.transport, last.xml.as_str()), (transport, GET));
    }
}

#[tokio::test]
async fn an_unencoded_ampersand_ends_the_field_and_gives_529() {
    let emu = emulator().await;
    let head = format!(
        "POST {} HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded",
        sfos_emulator::API_PATH
    );
    let reply = raw(emu.addr(), emu.cert_der(), &head, &format!("reqxml={GET}")).await;
    assert!(
        reply.contains("<Status code=\"529\">Input request file is Invalid</Status>"),
        "{reply}"
    );
    let missing = raw(emu.addr(), emu.cert_der(), &head, "other=1").await;
    assert!(missing.contains("code=\"529\""), "{missing}");
}

#[tokio::test]
async fn wrong_paths_and_methods_are_http_errors() {
    let emu = emulator().await;
    let not_found = raw(emu.addr(), emu.cert_der(), "GET /webconsole/Other HTTP/1.1", "").await;
    assert!(not_found.starts_with("HTTP/1.1 404"), "{not_found}");
    let head = format!("PUT {} HTTP/1.1", sfos_emulator::API_PATH);
    let wrong_method = raw(emu.addr(), emu.cert_der(), &head, "").await;
    assert!(wrong_method.starts_with("HTTP/1.1 405"), "{wrong_method}");
}

/// The next stdout line of the binary that is not a `#` comment.
async fn next_line(lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>) -> String {
    loop {
        let line = lines.next_line().await.unwrap().expect("the binary is running");
        if !line.starts_with('#') {
            return line;
        }
    }
}

#[tokio::test]
async fn the_binary_prints_its_settings_and_takes_commands() {
    let dir = std::env::temp_dir().join(format!("sfos-emulator-bin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (password, cert) = (dir.join("password"), dir.join("cert.pem"));
    std::fs::write(&password, "a&b\n").unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_sfos-emulator"))
        .args(["--listen", "127.0.0.1:0", "--quiet", "--fault", "http=503"])
        .arg("--password-file")
        .arg(&password)
        .arg("--cert-out")
        .arg(&cert)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stdin = child.stdin.take().unwrap();
    let url = next_line(&mut stdout).await;
    let pin = next_line(&mut stdout).await;
    let url = url.strip_prefix("url = \"").unwrap().trim_end_matches('"').to_string();
    let pin = pin
        .strip_prefix("pin_sha256 = \"")
        .unwrap()
        .trim_end_matches('"')
        .to_string();
    let der = CertificateDer::from_pem_file(&cert).unwrap();
    let digest = ring::digest::digest(&ring::digest::SHA256, der.as_ref());
    let hex: Vec<String> = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    assert_eq!(pin, hex.join(":"), "the printed pin is the served certificate's");
    let addr = url
        .trim_start_matches("https://")
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let form = format!(
        "POST {} HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded",
        sfos_emulator::API_PATH
    );
    let body = format!("reqxml={}", encode(GET));
    assert!(raw(addr, der.as_ref(), &form, &body).await.starts_with("HTTP/1.1 503"));
    stdin.write_all(b"clear\n").await.unwrap();
    assert_eq!(next_line(&mut stdout).await, "faults: none");
    assert!(
        raw(addr, der.as_ref(), &form, &body)
            .await
            .contains("No. of records Zero.")
    );
    stdin.write_all(b"fault code=500\ngroups\nbogus\n").await.unwrap();
    assert!(next_line(&mut stdout).await.contains("EntityCode(500)"));
    assert_eq!(next_line(&mut stdout).await, "groups (name: active): {}");
    assert!(next_line(&mut stdout).await.starts_with("commands on standard input"));
    child.kill().await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}
