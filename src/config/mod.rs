//! Configuration: the settings file (TOML) and the group definitions (the
//! firewall's XML), read and validated in one place into an immutable
//! [`Plan`].
//!
//! Every problem is collected, not just the first, each located by file,
//! line and column ([`diag`]). A plan exists only when there is no error.

mod connections;
pub mod diag;
pub mod firewall_read;
mod group_globs;
pub mod groups;
mod ha_read;
pub mod hooks_read;
pub mod instance;
pub mod keys;
pub mod mail_read;
pub mod names;
pub mod regular;
pub mod secret;
mod secret_read;
pub mod settings;
mod settings_read;
mod snmp_read;
pub mod targets;
mod toml_chunks;
mod toml_read;
mod validate;
pub mod xml;

use std::path::{Path, PathBuf};

use diag::{Diagnostics, Source};
use groups::{GroupDef, Intent};
use settings::Settings;

pub use validate::{Group, GroupKind};

/// The validated configuration, what every command and the daemon run on.
#[derive(Clone, Debug)]
pub struct Plan {
    pub settings: Settings,
    pub groups: Vec<Group>,
}

/// What loading produced: the plan when valid, and every finding.
#[derive(Debug)]
pub struct Loaded {
    pub plan: Option<Plan>,
    pub diagnostics: Diagnostics,
}

/// The settings file could not be read at all (exit 2 for commands).
#[derive(Debug, thiserror::Error)]
#[error("cannot read settings file {path}: {source}")]
pub struct Unreadable {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// Default settings path.
pub const DEFAULT_PATH: &str = "/etc/failoverd/failoverd.toml";

/// Largest settings file read, in bytes.
const MAX_SETTINGS_BYTES: u64 = 1024 * 1024;

/// Loads and validates the settings file at `path` and the group files it
/// names.
pub fn load(path: &Path) -> Result<Loaded, Unreadable> {
    let mut d = Diagnostics::default();
    d.reading(path);
    let bytes = read_limited(path, MAX_SETTINGS_BYTES).map_err(|source| Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    let Some(text) = utf8(path, bytes, &mut d) else {
        return Ok(Loaded {
            plan: None,
            diagnostics: d,
        });
    };
    let src = Source::new(path, &text);
    // The source holds its own copy: not two copies while toml parses.
    drop(text);
    let Some(settings) = read_settings(&src, &mut d) else {
        return Ok(Loaded {
            plan: None,
            diagnostics: d,
        });
    };
    let mut defs: Vec<(Source, Vec<GroupDef>)> = Vec::new();
    for file in &settings.group_files {
        if let Some(gsrc) = read_group_file(file, &mut d) {
            let groups = groups::read(&gsrc, &mut d);
            defs.push((gsrc, groups));
        }
    }
    let groups = validate::cross_check(&src, &settings, defs, &mut d);
    let plan = (!d.has_errors()).then_some(Plan { settings, groups });
    Ok(Loaded { plan, diagnostics: d })
}

/// Reads the settings file's text (without the group files it names);
/// `None` when it is not TOML. Every finding goes into `d`; the settings
/// are only meaningful when `d` holds no errors. Paths in it are relative
/// to `src.path`'s folder, and password files are read.
pub fn read_settings(src: &Source, d: &mut Diagnostics) -> Option<Settings> {
    let mut rest = String::new();
    let (doc, errors) = toml_chunks::parse(&src.text, &mut rest);
    for e in &errors {
        let pos = e.span().map_or(0, |s| s.start);
        d.error(src, pos, "(syntax)", format!("invalid TOML: {}", e.message().trim()));
    }
    if !errors.is_empty() {
        return None;
    }
    let top = toml_read::Table::new(src, doc.get_ref(), "", 0..0);
    let settings = settings_read::read(src, &top, d);
    settings_read::check_settings_mode(src, &top, d);
    Some(settings)
}

/// The state directory named by the settings at `path`, read leniently so
/// that `status`, `hold` and `release` reach a running daemon even while
/// the file holds a broken edit: `state_dir` if it can be read, else the
/// default.
pub fn state_dir_of(path: &Path) -> Result<PathBuf, Unreadable> {
    let bytes = read_limited(path, MAX_SETTINGS_BYTES).map_err(|source| Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    let text = String::from_utf8_lossy(&bytes);
    let (doc, _) = toml::de::DeTable::parse_recoverable(&text);
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let dir = doc
        .get_ref()
        .get("state_dir")
        .and_then(|v| v.get_ref().as_str().map(|s| base.join(s)));
    Ok(dir.unwrap_or_else(settings_read::default_state_dir))
}

/// Reads at most `limit` bytes of a regular file, never blocking (see
/// [`regular`]); a larger file is an `InvalidData` error.
fn read_limited(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    regular::read_limited(path, limit)
}

fn utf8(path: &Path, bytes: Vec<u8>, d: &mut Diagnostics) -> Option<String> {
    match String::from_utf8(bytes) {
        Ok(t) => Some(t),
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(&e.as_bytes()[..valid]).into_owned();
            let src = Source::new(path, &text);
            d.error(
                &src,
                valid,
                "(encoding)",
                "the file is not UTF-8 text: save it as UTF-8",
            );
            None
        }
    }
}

fn read_group_file(file: &Path, d: &mut Diagnostics) -> Option<Source> {
    d.reading(file);
    let limit = xml::MAX_FILE_BYTES;
    match read_limited(file, limit) {
        Ok(bytes) => utf8(file, bytes, d).map(|t| Source::new(file, &t)),
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            d.file_error(
                file,
                "(document)",
                format!("group file is larger than {} MiB: split it", limit / (1024 * 1024)),
            );
            None
        }
        Err(e) => {
            let msg = match regular::not_regular(&e) {
                Some(n) => format!("{n}: a group file must be a regular file"),
                None => format!("cannot read group file: {e}"),
            };
            d.file_error(file, "(document)", msg);
            None
        }
    }
}

impl Group {
    pub fn name(&self) -> &str {
        &self.def.name
    }

    /// The plan's copy of the name, for tables that keep it: a reference
    /// count, not an allocation.
    pub fn shared_name(&self) -> names::Name {
        self.def.name.clone()
    }

    /// The admin's intent, if the group has one.
    pub fn intent(&self) -> Option<Intent> {
        self.def.intent
    }
}
