//! The mail settings as delivery needs them: `[mail]` with its password
//! read (see [`MailSettings::from_config`]).

use std::path::PathBuf;
use std::time::Duration;

pub use crate::config::secret::Secret;

/// How the SMTP connection is secured, as parsed from `server`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Security {
    /// `smtp://`: STARTTLS required (587).
    StartTls,
    /// `smtps://`: TLS from the start (465).
    Tls,
    /// `smtp://...?tls=none`: plain (25); credentials are never sent.
    None,
}

/// `[mail]`, validated by the caller.
#[derive(Clone, Debug, PartialEq)]
pub struct MailSettings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    /// `"failoverd <f@example.com>"`.
    pub from: String,
    pub to: Vec<String>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub ca_file: Option<PathBuf>,
    pub timeout: Duration,
    pub coalesce: Duration,
    pub max_per_hour: u32,
    pub spool_max: u32,
}

impl MailSettings {
    /// From the validated `[mail]`; the password, if any, as read at load.
    pub fn from_config(m: &crate::config::settings::Mail) -> MailSettings {
        use crate::config::settings::MailSecurity;
        MailSettings {
            host: m.host.clone(),
            port: m.port,
            security: match m.security {
                MailSecurity::StartTls => Security::StartTls,
                MailSecurity::Tls => Security::Tls,
                MailSecurity::None => Security::None,
            },
            from: m.from.clone(),
            to: m.to.clone(),
            username: m.username.clone(),
            password: m.password.as_ref().and_then(|p| p.secret.clone()),
            ca_file: m.ca_file.clone(),
            timeout: m.timeout,
            coalesce: m.coalesce,
            max_per_hour: m.max_per_hour,
            spool_max: m.spool_max,
        }
    }
}
