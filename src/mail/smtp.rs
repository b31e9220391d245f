//! Delivery of one mail over SMTP with lettre (rustls with ring). Drives the
//! connection step by step (connect, STARTTLS, AUTH, send) so that every
//! step has the `timeout` and a failure names what a person acts on: TLS
//! mismatch, untrusted certificate, login refused, unreachable, timeout.
//! The security mode comes parsed from the settings: STARTTLS is required
//! for `smtp://`, TLS from the start for `smtps://`, and with `tls=none`
//! credentials are never sent. The password appears in no error.

use std::fmt;
use std::time::Duration;

use lettre::Message;
use lettre::message::Mailbox;
use lettre::message::header::{ContentType, HeaderName, HeaderValue, MIME_VERSION_1_0};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use tokio::time::timeout;

use super::render::Mail;
use super::types::{MailSettings, Security};

pub use super::smtp_errors::{Reason, SendError};

/// The steps of one delivery, for error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Connect,
    StartTls,
    Auth,
    Send,
}

/// A configured SMTP client; cheap to share, one connection per mail.
#[derive(Clone)]
pub struct Client {
    settings: MailSettings,
    hello: ClientId,
    tls: Option<TlsParameters>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// The domain of this client's From address, for Message-IDs.
    pub fn message_domain(&self) -> String {
        super::render::message_domain(&self.settings.from)
    }

    /// Reads `ca_file` (added to the system's roots) and prepares TLS.
    /// `hello` is the monitoring host's name, sent in EHLO.
    pub fn new(settings: &MailSettings, hello: &str) -> Result<Client, SendError> {
        let tls = match settings.security {
            Security::None => None,
            Security::StartTls | Security::Tls => Some(tls_parameters(settings)?),
        };
        let name: String = hello
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
            .collect();
        let hello = if name.is_empty() {
            ClientId::default()
        } else {
            ClientId::Domain(name)
        };
        Ok(Client {
            settings: settings.clone(),
            hello,
            tls,
        })
    }

    /// Sends `mail` to the configured recipients. `Ok` is the server's
    /// answer to the message, e.g. `250 2.0.0 Ok: queued as 4F2A`.
    pub async fn send(&self, mail: &Mail) -> Result<String, SendError> {
        let message = message(mail, &self.settings)?;
        let mut conn = self.connect().await?;
        let result = self.transact(&mut conn, &message).await;
        if result.is_ok() {
            let _ = timeout(self.settings.timeout, conn.quit()).await;
        }
        // After an error the connection is just dropped: lettre's stream is
        // unusable after a failed TLS upgrade, and QUIT would panic there.
        result.map_err(|e| self.scrub(e))
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let s = &self.settings;
        let implicit = if s.security == Security::Tls {
            self.tls.clone()
        } else {
            None
        };
        let step = AsyncSmtpConnection::connect_tokio1(
            (s.host.as_str(), s.port),
            Some(s.timeout),
            &self.hello,
            implicit,
            None,
        );
        // lettre times out the TCP connect only; twice the timeout leaves it
        // room to report that itself, so ours means "connected, then silence".
        match timeout(s.timeout.saturating_mul(2), step).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(e)) => Err(self.scrub(self.classify(&e, Step::Connect))),
            Err(_) => Err(self.silent_after_connect()),
        }
    }

    async fn transact(&self, conn: &mut AsyncSmtpConnection, message: &Message) -> Result<String, SendError> {
        let s = &self.settings;
        if s.security == Security::StartTls {
            if !conn.can_starttls() {
                let hint = format!(
                    "{}:{} does not offer STARTTLS, which smtp:// requires; if the server only takes plain SMTP \
                     (a local relay), write smtp://{}:{}?tls=none",
                    s.host, s.port, s.host, s.port
                );
                return Err(SendError::new(Reason::TlsMismatch, hint));
            }
            let Some(tls) = self.tls.clone() else {
                return Err(SendError::new(Reason::Tls, "no TLS parameters for STARTTLS"));
            };
            self.step(Step::StartTls, conn.starttls(tls, &self.hello)).await?;
        }
        if let Some(creds) = self.credentials() {
            self.step(Step::Auth, conn.auth(&[Mechanism::Plain, Mechanism::Login], &creds))
                .await?;
        }
        let response = self
            .step(Step::Send, conn.send(message.envelope(), &message.formatted()))
            .await?;
        let text: Vec<&str> = response.message().collect();
        Ok(format!("{} {}", response.code(), text.join(" ")).trim_end().to_owned())
    }

    async fn step<T>(
        &self,
        step: Step,
        fut: impl Future<Output = Result<T, lettre::transport::smtp::Error>>,
    ) -> Result<T, SendError> {
        match timeout(self.settings.timeout, fut).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(self.classify(&e, step)),
            Err(_) => Err(self.timed_out(step)),
        }
    }

    /// AUTH only with both username and password, and never in plain text.
    fn credentials(&self) -> Option<Credentials> {
        let s = &self.settings;
        match (s.security, &s.username, &s.password) {
            (Security::None, _, _) => None,
            (_, Some(u), Some(p)) => Some(Credentials::new(u.clone(), p.expose().to_owned())),
            _ => None,
        }
    }

    fn classify(&self, e: &lettre::transport::smtp::Error, step: Step) -> SendError {
        super::smtp_errors::classify(e, step == Step::Connect, step == Step::Auth, &self.settings)
    }

    fn silent_after_connect(&self) -> SendError {
        let s = &self.settings;
        let (what, hint) = match s.security {
            Security::Tls => (
                "TLS handshake",
                format!(
                    "if the port expects STARTTLS (usually 587), write smtp://{}:{}",
                    s.host, s.port
                ),
            ),
            _ => (
                "SMTP greeting",
                format!(
                    "if the port expects TLS from the start (usually 465), write smtps://{}:{}",
                    s.host, s.port
                ),
            ),
        };
        let detail = format!(
            "connected to {}:{} but got no {what} within {}; {hint}",
            s.host,
            s.port,
            secs(s.timeout.saturating_mul(2))
        );
        SendError::new(Reason::Timeout, detail)
    }

    fn timed_out(&self, step: Step) -> SendError {
        let s = &self.settings;
        let what = match step {
            Step::Connect => "the connection",
            Step::StartTls => "STARTTLS",
            Step::Auth => "AUTH",
            Step::Send => "the mail",
        };
        let detail = format!("{}:{} did not answer {what} within {}", s.host, s.port, secs(s.timeout));
        SendError::new(Reason::Timeout, detail)
    }

    /// Belt and braces: no error text carries the password, whatever a
    /// server or library put in it.
    fn scrub(&self, mut e: SendError) -> SendError {
        if let Some(p) = self
            .settings
            .password
            .as_ref()
            .map(|p| p.expose())
            .filter(|p| !p.is_empty())
        {
            e.detail = e.detail.replace(p, "********");
        }
        e
    }
}

/// The RFC 5322 message: From with display name, To, Date and Message-ID as
/// stored with the mail, UTF-8 subject (encoded by lettre), text/plain
/// UTF-8 body, and the headers filters look for in automated mail:
/// `MIME-Version: 1.0` beside the `Content-Type`, and `Auto-Submitted:
/// auto-generated` (RFC 3834) so that auto-responders stay quiet.
/// The `X-Failoverd-Event` header's value: the kinds of the events a mail
/// reports, each once, in the order they first appear (`GroupDown,
/// MemberUp`), so that filters and tests key on kinds, never on wording.
pub fn event_kinds(mail: &Mail) -> String {
    let mut kinds: Vec<&str> = Vec::new();
    for e in &mail.events {
        let name = e.kind.name();
        if !kinds.contains(&name) {
            kinds.push(name);
        }
    }
    kinds.join(", ")
}

pub fn message(mail: &Mail, settings: &MailSettings) -> Result<Message, SendError> {
    let from: Mailbox = settings.from.parse().map_err(|e| {
        SendError::new(
            Reason::Config,
            format!("from {:?} is not an address: {e}", settings.from),
        )
    })?;
    let mut builder = Message::builder()
        .from(from)
        .date(mail.date)
        .message_id(Some(mail.message_id.clone()))
        .subject(mail.subject.clone())
        .header(ContentType::TEXT_PLAIN)
        .header(MIME_VERSION_1_0)
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-generated".to_owned(),
        ));
    let kinds = event_kinds(mail);
    if !kinds.is_empty() {
        builder = builder.raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("X-Failoverd-Event"),
            kinds,
        ));
    }
    for to in &settings.to {
        let mailbox: Mailbox = to
            .parse()
            .map_err(|e| SendError::new(Reason::Config, format!("to {to:?} is not an address: {e}")))?;
        builder = builder.to(mailbox);
    }
    builder
        .body(mail.body.clone())
        .map_err(|e| SendError::new(Reason::Config, format!("cannot build the mail: {e}")))
}

fn tls_parameters(s: &MailSettings) -> Result<TlsParameters, SendError> {
    let mut builder = TlsParameters::builder(s.host.clone());
    if let Some(path) = &s.ca_file {
        // Never blocking on a FIFO: only a regular file is read.
        let pem = crate::config::regular::read_limited(path, 16 * 1024 * 1024).map_err(|e| {
            let why = crate::config::regular::explain(path, &e);
            SendError::new(Reason::Config, format!("ca_file: {why}"))
        })?;
        let found = CertificateDer::pem_slice_iter(&pem).filter(Result::is_ok).count();
        if found == 0 {
            let detail = format!(
                "ca_file {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                path.display()
            );
            return Err(SendError::new(Reason::Config, detail));
        }
        let cert = Certificate::from_pem(&pem).map_err(|e| {
            SendError::new(
                Reason::Config,
                format!("ca_file {} holds no usable PEM certificate: {e}", path.display()),
            )
        })?;
        builder = builder.add_root_certificate(cert);
    }
    builder
        .build_rustls()
        .map_err(|e| SendError::new(Reason::Config, format!("cannot set up TLS (check ca_file): {e}")))
}

fn secs(d: Duration) -> String {
    format!("{}s", d.as_secs_f64())
}
