//! Real SMTP servers for the tests: mailin-embedded (plain or STARTTLS,
//! optional AUTH) on a port-0 listener in its own thread, an implicit-TLS
//! front (tokio-rustls) before a plain mailin server, and Debian's
//! aiosmtpd (`aiosmtpd_server.py`) as an independent second server.
//! Certificates come from rcgen: a test CA and a leaf it signs.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use failoverd::mail::types::{MailSettings, Secret, Security};
use mailin_embedded::{AuthMechanism, Handler, Response, Server, SslConfig, response};
use tokio::sync::mpsc;

/// A message as a server received it.
#[derive(Clone, Debug)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub raw: String,
    /// The login that authenticated this session, if any.
    pub user: Option<String>,
}

impl Received {
    /// The value of header `name` (first line only).
    pub fn header(&self, name: &str) -> Option<String> {
        let prefix = format!("{}:", name.to_ascii_lowercase());
        let mut lines = self.raw.lines().take_while(|l| !l.is_empty()).peekable();
        while let Some(l) = lines.next() {
            if !l.to_ascii_lowercase().starts_with(&prefix) {
                continue;
            }
            // A long header is folded onto lines that start with white
            // space (RFC 5322 2.2.3): unfold it.
            let mut value = l[prefix.len()..].trim().to_owned();
            while let Some(more) = lines.next_if(|m| m.starts_with([' ', '\t'])) {
                value.push(' ');
                value.push_str(more.trim());
            }
            return Some(value);
        }
        None
    }
}

/// rustls needs one process-wide provider for the test servers (the
/// dev-dependencies enable two); the crate under test picks ring itself.
pub fn provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A test CA and a server certificate it signed, as PEM files.
pub struct Certs {
    pub dir: tempfile::TempDir,
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A CA and a leaf for `names` (host names or IP addresses).
pub fn certs(names: &[&str]) -> Certs {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "failoverd test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let leaf = CertificateParams::new(names)
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: String| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    Certs {
        ca: write("ca.pem", ca_cert.pem()),
        cert: write("cert.pem", leaf.pem()),
        key: write("key.pem", leaf_key.serialize_pem()),
        dir,
    }
}

/// A mailin handler: records messages and AUTH attempts.
#[derive(Clone)]
struct Recorder {
    tx: mpsc::UnboundedSender<Received>,
    login: Option<(String, String)>,
    auth_attempts: Arc<AtomicUsize>,
    user: Option<String>,
    current: Option<Received>,
}

impl Recorder {
    fn check(&mut self, user: &str, password: &str) -> Response {
        self.auth_attempts.fetch_add(1, Ordering::SeqCst);
        match &self.login {
            Some((u, p)) if u == user && p == password => {
                self.user = Some(user.to_owned());
                response::AUTH_OK
            }
            _ => response::INVALID_CREDENTIALS,
        }
    }
}

impl Handler for Recorder {
    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        if self.login.is_some() && self.user.is_none() {
            return response::AUTHENTICATION_REQUIRED;
        }
        self.current = Some(Received {
            from: from.to_owned(),
            to: to.to_vec(),
            raw: String::new(),
            user: self.user.clone(),
        });
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if let Some(c) = &mut self.current {
            c.raw.push_str(&String::from_utf8_lossy(buf));
        }
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        if let Some(c) = self.current.take() {
            let _ = self.tx.send(c);
        }
        response::OK
    }

    fn auth_plain(&mut self, _authz: &str, user: &str, password: &str) -> Response {
        self.check(user, password)
    }

    fn auth_login(&mut self, user: &str, password: &str) -> Response {
        self.check(user, password)
    }
}

/// A running mailin-embedded server.
pub struct Mailin {
    pub port: u16,
    pub rx: mpsc::UnboundedReceiver<Received>,
    pub auth_attempts: Arc<AtomicUsize>,
}

/// What a mailin server offers.
#[derive(Default)]
pub struct MailinOptions<'a> {
    /// STARTTLS with this certificate and key.
    pub tls: Option<&'a Certs>,
    /// AUTH PLAIN and LOGIN (after STARTTLS) accepting this login.
    pub login: Option<(&'a str, &'a str)>,
}

/// Starts mailin on `listener` (bind port 0, or a port to reuse).
pub fn mailin(listener: TcpListener, opts: MailinOptions<'_>) -> Mailin {
    provider();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    let auth_attempts = Arc::new(AtomicUsize::new(0));
    let handler = Recorder {
        tx,
        login: opts.login.map(|(u, p)| (u.to_owned(), p.to_owned())),
        auth_attempts: auth_attempts.clone(),
        user: None,
        current: None,
    };
    let mut server = Server::new(handler);
    server
        .with_name("mailin.test")
        .with_tcp_listener(listener)
        .with_num_threads(2);
    if let Some(c) = opts.tls {
        let ssl = SslConfig::SelfSigned {
            cert_path: c.cert.display().to_string(),
            key_path: c.key.display().to_string(),
        };
        server.with_ssl(ssl).unwrap();
    }
    if opts.login.is_some() {
        server.with_auth(AuthMechanism::Plain).with_auth(AuthMechanism::Login);
    }
    std::thread::spawn(move || {
        let _ = server.serve();
    });
    Mailin {
        port,
        rx,
        auth_attempts,
    }
}

pub fn port0() -> TcpListener {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap()
}

/// A port for a test's peers, nothing listening on it yet. A port learnt by
/// binding port 0 and freeing it can be handed to any later port-0 bind (an
/// SMTP server or emulator of a test running beside) while the peer is
/// down, and the daemon then sees the dead peer "up". This one comes from
/// below the kernel's ephemeral range, which port-0 binds and outgoing
/// connections never use; unique within the process (a counter from a base
/// the process id picks) and checked free on 127.0.0.1 and 127.0.0.2.
pub fn free_port() -> u16 {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<usize>().ok())
        .unwrap_or(32768);
    const BASE: usize = 10_000;
    let span = low.saturating_sub(BASE).max(1000);
    let start = std::process::id() as usize * 613;
    for _ in 0..span {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let port = (BASE + (start + n * 7) % span) as u16;
        let free = |ip: [u8; 4]| TcpListener::bind((Ipv4Addr::from(ip), port)).is_ok();
        if free([127, 0, 0, 1]) && free([127, 0, 0, 2]) {
            return port;
        }
    }
    panic!("no free port below the ephemeral range");
}

/// Implicit TLS (smtps) in front of a plain mailin server: the server side
/// of a real TLS handshake, then bytes copied both ways.
pub async fn smtps_front(certs: &Certs) -> (u16, Mailin) {
    use tokio_rustls::rustls::ServerConfig;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
    provider();
    let backend = mailin(port0(), MailinOptions::default());
    let chain = vec![CertificateDer::from_pem_file(&certs.cert).unwrap()];
    let key = PrivateKeyDer::from_pem_file(&certs.key).unwrap();
    let config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let backend_port = backend.port;
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else { return };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut plain) = tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, backend_port)).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    (port, backend)
}

/// Settings for a local test server; adjust fields as needed.
pub fn settings(port: u16, security: Security) -> MailSettings {
    MailSettings {
        host: "127.0.0.1".into(),
        port,
        security,
        from: "failoverd <failoverd@example.com>".into(),
        to: vec!["netops@example.com".into()],
        username: None,
        password: None,
        ca_file: None,
        timeout: Duration::from_secs(10),
        coalesce: Duration::ZERO,
        max_per_hour: 100,
        spool_max: 1000,
    }
}

pub fn with_login(mut s: MailSettings, user: &str, password: &str) -> MailSettings {
    s.username = Some(user.into());
    s.password = Some(Secret::new(password));
    s
}

/// Waits for the next message; a hang guard, not a timing assertion.
pub async fn next(rx: &mut mpsc::UnboundedReceiver<Received>) -> Received {
    tokio::time::timeout(Duration::from_secs(60), rx.recv())
        .await
        .expect("a message within a minute")
        .expect("server running")
}

/// aiosmtpd (Debian's python3-aiosmtpd) run by `tests/aiosmtpd_server.py`.
pub struct Aiosmtpd {
    pub port: u16,
    child: Child,
    /// Lines it printed: `MSG <json>` and `AUTH <mechanism> <login>`.
    pub lines: std::sync::mpsc::Receiver<String>,
}

impl Drop for Aiosmtpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts aiosmtpd in `mode` (`plain`, `starttls`, `smtps`) with AUTH
/// accepting `login`, offered also without TLS (to prove we never use it).
pub fn aiosmtpd(mode: &str, certs: &Certs, login: (&str, &str)) -> Aiosmtpd {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/aiosmtpd_server.py");
    let mut child = Command::new("/usr/bin/python3")
        .arg(script)
        .args([
            mode,
            &certs.cert.display().to_string(),
            &certs.key.display().to_string(),
        ])
        .args([login.0, login.1])
        .stdout(Stdio::piped())
        .spawn()
        .expect("/usr/bin/python3 runs");
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = out.next().and_then(Result::ok).unwrap_or_default();
    let port = first
        .strip_prefix("PORT ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("aiosmtpd did not start ({first:?}): apt-get install python3-aiosmtpd"));
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in out.map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    Aiosmtpd { port, child, lines }
}
