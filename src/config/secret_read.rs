//! Finds a section's password (`password`, `password_file`, or the systemd
//! credential), and warns about secrets that others can read.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::diag::{Diagnostics, Source};
use super::secret::{Password, Secret, SecretSource, credstore_hint, read_credential_for, read_password_file};
use super::toml_read::Table;

/// Reads the password of `t` (`[firewall]` or `[mail]`). An unreadable
/// password file is an error; an unreadable credential only a warning, so
/// `check` can run on a host without the credential.
pub fn password(t: &Table<'_, '_>, base: &Path, credential: &str, d: &mut Diagnostics) -> Password {
    let src = t.src();
    let inline = t.string(d, "password");
    let file = t.string(d, "password_file");
    match (inline, file) {
        (Some(_), Some(f)) => {
            let msg = "both password and password_file are set: choose one (password_file is safer)";
            d.error(src, f.pos, &t.key_path("password_file"), msg);
            Password {
                source: SecretSource::Inline,
                secret: None,
            }
        }
        (Some(p), None) => {
            let pos = t.key_pos("password").unwrap_or(p.pos);
            let msg = format!(
                "a password in the settings file: move it to password_file or the systemd credential {credential}"
            );
            d.warn(src, pos, &t.key_path("password"), msg);
            Password {
                source: SecretSource::Inline,
                secret: Some(Secret::new(p.value)),
            }
        }
        (None, Some(f)) => {
            let path = base.join(&f.value);
            let secret = match read_password_file(&path) {
                Ok(s) => {
                    warn_if_readable_by_others(src, &path, f.pos, &t.key_path("password_file"), d);
                    Some(s)
                }
                Err(e) => {
                    d.error(
                        src,
                        f.pos,
                        &t.key_path("password_file"),
                        format!("{e}: create it (mode 0600) or fix the path"),
                    );
                    None
                }
            };
            Password {
                source: SecretSource::File(path),
                secret,
            }
        }
        (None, None) => match read_credential_for(credential, &src.path) {
            Ok((path, s)) => {
                warn_if_readable_by_others(src, &path, t.pos, &t.key_path("password"), d);
                Password {
                    source: SecretSource::Credential {
                        name: credential.into(),
                        path: Some(path),
                    },
                    secret: Some(s),
                }
            }
            Err(e) => {
                let msg = format!(
                    "no password or password_file, and {e}: set password_file, or install the credential (LoadCredential= in the unit, or {})",
                    credstore_hint(credential, &src.path)
                );
                d.warn(src, t.pos, &t.key_path("password"), msg);
                Password {
                    source: SecretSource::Credential {
                        name: credential.into(),
                        path: None,
                    },
                    secret: None,
                }
            }
        },
    }
}

/// Reads a secret that has no inline form (the `[snmp]` passwords and
/// community): `file_key` names its file, else the systemd credential
/// `credential` is read, exactly as a password without `password` is. An
/// unreadable file is an error; an unreadable credential only a warning.
pub fn secret_file(t: &Table<'_, '_>, base: &Path, file_key: &str, credential: &str, d: &mut Diagnostics) -> Password {
    let src = t.src();
    if let Some(f) = t.string(d, file_key) {
        let path = base.join(&f.value);
        let secret = match read_password_file(&path) {
            Ok(s) if s.expose().is_empty() => {
                let msg = format!("{} is empty: write the secret into it", path.display());
                d.error(src, f.pos, &t.key_path(file_key), msg);
                None
            }
            Ok(s) => {
                warn_if_readable_by_others(src, &path, f.pos, &t.key_path(file_key), d);
                Some(s)
            }
            Err(e) => {
                let msg = format!("{e}: create it (mode 0600) or fix the path");
                d.error(src, f.pos, &t.key_path(file_key), msg);
                None
            }
        };
        return Password {
            source: SecretSource::File(path),
            secret,
        };
    }
    match read_credential_for(credential, &src.path) {
        Ok((path, s)) => {
            warn_if_readable_by_others(src, &path, t.pos, &t.key_path(file_key), d);
            Password {
                source: SecretSource::Credential {
                    name: credential.into(),
                    path: Some(path),
                },
                secret: Some(s),
            }
        }
        Err(e) => {
            let msg = format!(
                "no {file_key}, and {e}: set {file_key}, or install the credential (LoadCredential= in the unit, or {})",
                credstore_hint(credential, &src.path)
            );
            d.warn(src, t.pos, &t.key_path(file_key), msg);
            Password {
                source: SecretSource::Credential {
                    name: credential.into(),
                    path: None,
                },
                secret: None,
            }
        }
    }
}

/// Warns at `pos` of `src` when `file` can be read by others.
pub fn warn_if_readable_by_others(src: &Source, file: &Path, pos: usize, path: &str, d: &mut Diagnostics) {
    let Ok(meta) = std::fs::metadata(file) else {
        return;
    };
    if meta.permissions().mode() & 0o004 != 0 {
        let msg = format!(
            "{} holds a password and is readable by others: run chmod o-rwx {}",
            file.display(),
            file.display()
        );
        d.warn(src, pos, path, msg);
    }
}
