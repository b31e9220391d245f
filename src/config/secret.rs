//! Secrets (the firewall and mail passwords) and where they come from.
//!
//! A [`Secret`] prints as a mask in `Debug` and `Display`, so that no log
//! line, error, status output or mail can carry a password by accident;
//! the only way to the text is [`Secret::expose`], which the request
//! builders call.

use std::fmt;
use std::path::{Path, PathBuf};

/// A password. Its `Debug` and `Display` print `********`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(text: impl Into<String>) -> Self {
        Secret(text.into())
    }

    /// The secret's text, for building a request and nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(********)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("********")
    }
}

/// Where a password was configured to come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretSource {
    /// `password = "..."` in the settings file (warned about).
    Inline,
    /// `password_file = "..."`.
    File(PathBuf),
    /// A systemd credential, found in `$CREDENTIALS_DIRECTORY` or the
    /// credstore folders.
    Credential { name: String, path: Option<PathBuf> },
}

impl fmt::Display for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Inline => f.write_str("the settings file"),
            SecretSource::File(p) => write!(f, "{}", p.display()),
            SecretSource::Credential { name, path: Some(p) } => {
                write!(f, "credential {name} ({})", p.display())
            }
            SecretSource::Credential { name, path: None } => write!(f, "credential {name}"),
        }
    }
}

/// A password and its origin; `secret` is `None` when the origin could not
/// be read (a missing systemd credential is only a warning for `check`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Password {
    pub source: SecretSource,
    pub secret: Option<Secret>,
}

/// Largest password file read, in bytes.
pub const MAX_PASSWORD_BYTES: u64 = 64 * 1024;

/// Reads a password file: one trailing `\n` or `\r\n` is removed, nothing
/// else. Errors name the file, never its content.
pub fn read_password_file(path: &Path) -> Result<Secret, String> {
    // Bounded: a log file named by mistake must not fill memory; and
    // never blocking: a FIFO or device is refused before it is read.
    let bytes = super::regular::read_limited(path, MAX_PASSWORD_BYTES).map_err(|e| {
        if e.kind() == std::io::ErrorKind::InvalidData {
            format!(
                "{} is larger than {} KiB: a password file holds the password only",
                path.display(),
                MAX_PASSWORD_BYTES / 1024
            )
        } else {
            super::regular::explain(path, &e)
        }
    })?;
    let mut text = String::from_utf8(bytes).map_err(|_| format!("{} is not UTF-8 text", path.display()))?;
    if text.ends_with("\r\n") {
        text.truncate(text.len() - 2);
    } else if text.ends_with('\n') {
        text.truncate(text.len() - 1);
    }
    Ok(Secret(text))
}

/// Where systemd credential `name` is looked for, in order: the unit's
/// `$CREDENTIALS_DIRECTORY` when set, else the credstore folders, so that
/// commands run from a shell use the daemon's password.
pub fn credential_paths(name: &str, credentials_directory: Option<&Path>) -> Vec<PathBuf> {
    match credentials_directory {
        Some(dir) => vec![dir.join(name)],
        None => ["/etc/credstore", "/run/credstore", "/usr/lib/credstore"]
            .iter()
            .map(|d| Path::new(d).join(name))
            .collect(),
    }
}

/// Finds and reads credential `name`: the first existing path of
/// [`credential_paths`]. `Err` says where it looked.
pub fn read_credential(name: &str) -> Result<(PathBuf, Secret), String> {
    let dir = std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from);
    first_found(name, &credential_paths(name, dir.as_deref()))
}

/// As [`read_credential`], for the settings file `settings`: without
/// `$CREDENTIALS_DIRECTORY`, an instance's file ([`super::instance`])
/// reads `failoverd-NAME/` in the credstore folders, where
/// `failoverd@NAME`'s LoadCredential= reads, never the main unit's.
pub fn read_credential_for(name: &str, settings: &Path) -> Result<(PathBuf, Secret), String> {
    let dir = std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from);
    match (&dir, super::instance::name_of(settings)) {
        (None, Some(instance)) => {
            let folder = format!("failoverd-{instance}");
            let paths: Vec<PathBuf> = credential_paths(name, None)
                .iter()
                .filter_map(|p| p.parent().map(|d| d.join(&folder).join(name)))
                .collect();
            first_found(name, &paths)
        }
        _ => first_found(name, &credential_paths(name, dir.as_deref())),
    }
}

/// Where an admin installs credential `name` for commands run from a shell
/// with `settings`: `/etc/credstore/[failoverd-NAME/]name`.
pub fn credstore_hint(name: &str, settings: &Path) -> String {
    match super::instance::name_of(settings) {
        Some(instance) => format!("/etc/credstore/failoverd-{instance}/{name}"),
        None => format!("/etc/credstore/{name}"),
    }
}

fn first_found(name: &str, paths: &[PathBuf]) -> Result<(PathBuf, Secret), String> {
    for p in paths {
        if p.exists() {
            return read_password_file(p).map(|s| (p.clone(), s));
        }
    }
    let looked: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    Err(format!(
        "systemd credential {name} not found (looked in {})",
        looked.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s}"), "********");
        assert_eq!(format!("{s:?}"), "Secret(********)");
        let p = Password {
            source: SecretSource::Inline,
            secret: Some(s.clone()),
        };
        assert!(!format!("{p:?}").contains("hunter2"));
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn password_file_strips_one_newline_only() {
        let dir = tempfile::tempdir().unwrap();
        for (content, want) in [
            ("pw\n", "pw"),
            ("pw\r\n", "pw"),
            ("pw\n\n", "pw\n"),
            (" pw ", " pw "),
            ("pw", "pw"),
        ] {
            let f = dir.path().join("p");
            std::fs::write(&f, content).unwrap();
            assert_eq!(read_password_file(&f).unwrap().expose(), want, "{content:?}");
        }
        let err = read_password_file(&dir.path().join("missing")).unwrap_err();
        assert!(err.contains("missing"), "{err}");
    }

    #[test]
    fn an_endless_or_oversized_password_file_is_refused_without_reading_it() {
        let err = read_password_file(Path::new("/dev/zero")).unwrap_err();
        assert_eq!(err, "/dev/zero is a character device, not a regular file");
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("p");
        std::fs::write(&f, "x".repeat(64 * 1024)).unwrap();
        assert_eq!(read_password_file(&f).unwrap().expose().len(), 64 * 1024);
        std::fs::write(&f, "x".repeat(64 * 1024 + 1)).unwrap();
        assert_eq!(
            read_password_file(&f).unwrap_err(),
            format!(
                "{} is larger than 64 KiB: a password file holds the password only",
                f.display()
            )
        );
    }

    #[test]
    fn credentials_directory_wins_over_credstore() {
        let d = Path::new("/run/credentials/failoverd.service");
        assert_eq!(
            credential_paths("firewall.password", Some(d)),
            vec![d.join("firewall.password")]
        );
        let paths = credential_paths("mail.password", None);
        assert_eq!(paths[0], Path::new("/etc/credstore/mail.password"));
        assert_eq!(paths.len(), 3);
    }
}
