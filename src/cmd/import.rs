//! `failoverd import`: the firewall's own failover groups to group files,
//! and a connection table to paste for every member that has none
//! (docs/import.md). It only ever reads from the firewall
//! (two Gets) and never writes settings: every table it prints leaves
//! `via` at its safe default, so nothing it produces can deactivate a
//! group on a guess.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::exit;
use crate::config::diag::{Severity, Source};
use crate::config::settings::{Settings, Spelling};
use crate::config::{self, Plan};
use crate::firewall::api::Api;
use crate::firewall::read::{self, FwConnection, FwGroup, ReadError, Written};
use crate::firewall::request::Entity;

mod render;

/// The command line of `failoverd import`, kept here so it moves with
/// the command.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ImportArgs {
    /// Only this group (repeatable).
    #[arg(long = "group", value_name = "GROUP")]
    pub groups: Vec<String>,
    /// Folder for the group files (default: the folder of the first
    /// `groups` glob, else groups.d beside the settings file).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print what would be written; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Overwrite group files that exist.
    #[arg(long)]
    pub force: bool,
}

/// What the settings give import: only `[firewall]` must be valid.
struct Base {
    settings: Settings,
    /// The first `groups` glob as written, if any.
    first_glob: Option<String>,
}

/// `failoverd import`.
pub fn run(path: &Path, args: &ImportArgs, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let Some(base) = settings(path, err) else {
        return exit::CONFIG;
    };
    let dir = folder(path, &base, args);
    let plan = Plan {
        settings: base.settings,
        groups: Vec::new(),
    };
    let api = match Api::new(&plan) {
        Ok(a) => a,
        Err(e) => {
            let _ = writeln!(err, "failoverd: {e}");
            return exit::CONFIG;
        }
    };
    let Some(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build().ok() else {
        return exit::FAILED;
    };
    let fw = &plan.settings.firewall;
    let groups = match rt
        .block_on(fetch(&api, Entity::VPNFailoverGroup))
        .and_then(|b| read::groups(&b))
    {
        Ok(g) => g,
        Err(e) => {
            if let Some(fp) = api.fingerprint() {
                let _ = writeln!(
                    err,
                    "failoverd: the firewall presented certificate SHA-256 {fp}: if it is the firewall's (compare it on its console), pin it with pin_sha256 = \"{fp}\""
                );
            }
            return refused(err, "VPNFailoverGroup", &e);
        }
    };
    let groups = match chosen(groups, &args.groups, err) {
        Some(g) => g,
        None => return exit::CONFIG,
    };
    let connections = match rt
        .block_on(fetch(&api, Entity::VPNIPSecConnection))
        .and_then(|b| read::connections(&b))
    {
        Ok(c) => c,
        Err(e) => return refused(err, "VPNIPSecConnection", &e),
    };
    if groups.is_empty() {
        let _ = writeln!(err, "the firewall has no failover groups: nothing to import");
        return exit::OK;
    }
    let files: Vec<(PathBuf, String)> = groups
        .iter()
        .map(|g| (dir.join(format!("{}.xml", g.name)), render::group_file(g, &fw.url)))
        .collect();
    if self_check(&files, err).is_none() {
        return exit::FAILED;
    }
    if !defined_elsewhere(&plan.settings, &files, err) {
        return exit::CONFIG;
    }
    let tables = render::tables(&groups, &connections, &plan.settings, base.first_glob.is_none(), &dir);
    let plan_w = Planned::of(&files);
    if !plan_w.blocked.is_empty() {
        for why in &plan_w.blocked {
            let _ = writeln!(
                err,
                "failoverd: {why}: nothing written (remove it, or choose another folder with --out)"
            );
        }
        return exit::CONFIG;
    }
    if args.dry_run {
        return dry_run(&files, &plan_w, &tables, args.force, out, err);
    }
    if !plan_w.differing.is_empty() && !args.force {
        for p in &plan_w.differing {
            let _ = writeln!(
                err,
                "failoverd: {} exists and differs from the firewall's definition: nothing written (--force overwrites; --dry-run shows what would be written)",
                p.display()
            );
        }
        return exit::CONFIG;
    }
    if let Err(code) = write_files(&dir, &files, &plan_w, err) {
        return code;
    }
    let _ = write!(out, "{tables}");
    advise(&groups, &connections, &plan.settings, err);
    exit::OK
}

async fn fetch(api: &Api, entity: Entity) -> Result<String, ReadError> {
    api.get_body(entity).await.map_err(|a| ReadError::Refused(a.text))
}

fn refused(err: &mut dyn Write, entity: &str, e: &ReadError) -> i32 {
    let _ = writeln!(err, "failoverd: Get {entity}: {e}");
    let _ = writeln!(err, "failoverd: nothing written");
    exit::FAILED
}

/// Reads the settings; errors about `groups` (missing, or a glob that
/// matches nothing yet) do not count for import.
fn settings(path: &Path, err: &mut dyn Write) -> Option<Base> {
    let text = match std::fs::read(path) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => {
            let _ = writeln!(err, "failoverd: cannot read settings file {}: {e}", path.display());
            return None;
        }
    };
    let src = Source::new(path, &text);
    let mut d = config::diag::Diagnostics::default();
    d.reading(path);
    let settings = config::read_settings(&src, &mut d);
    let groups_key = |p: &str| p == "groups" || p.starts_with("groups[");
    let mut bad = false;
    for f in d.sorted() {
        if groups_key(&f.path) {
            continue;
        }
        bad |= f.severity == Severity::Error;
        let _ = writeln!(err, "{f}");
    }
    let settings = settings.filter(|_| !bad)?;
    let first_glob = toml::from_str::<toml::Table>(&text)
        .ok()
        .and_then(|t| t.get("groups")?.as_array()?.first()?.as_str().map(str::to_string));
    Some(Base { settings, first_glob })
}

/// `--out`, else the folder of the first `groups` glob, else `groups.d`
/// beside the settings file.
fn folder(path: &Path, base: &Base, args: &ImportArgs) -> PathBuf {
    if let Some(d) = &args.out {
        return d.clone();
    }
    let beside = path.parent().map(Path::to_path_buf).unwrap_or_default();
    match &base.first_glob {
        Some(g) => beside.join(g).parent().map(Path::to_path_buf).unwrap_or(beside),
        None => beside.join("groups.d"),
    }
}

/// The groups named by `--group` (all when none is named); an unknown
/// name is an argument error.
fn chosen(groups: Vec<FwGroup>, wanted: &[String], err: &mut dyn Write) -> Option<Vec<FwGroup>> {
    if wanted.is_empty() {
        return Some(groups);
    }
    let missing: Vec<&String> = wanted
        .iter()
        .filter(|w| !groups.iter().any(|g| &g.name == *w))
        .collect();
    if !missing.is_empty() {
        let known: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
        for m in missing {
            let _ = writeln!(
                err,
                "failoverd: --group {m:?}: the firewall has no such failover group; it has: {}",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            );
        }
        return None;
    }
    Some(groups.into_iter().filter(|g| wanted.contains(&g.name)).collect())
}

/// Reads every file to be written with failoverd's own group reader:
/// nothing is written that `check` would not read back.
fn self_check(files: &[(PathBuf, String)], err: &mut dyn Write) -> Option<Vec<config::groups::GroupDef>> {
    let mut defs = Vec::new();
    let mut ok = true;
    for (p, text) in files {
        let mut d = config::diag::Diagnostics::default();
        let src = Source::new(p, text);
        let read = config::groups::read(&src, &mut d);
        for f in d.errors() {
            ok = false;
            let _ = writeln!(
                err,
                "failoverd: internal: the file import would write does not read back: {f}"
            );
        }
        defs.extend(read);
    }
    ok.then_some(defs)
}

/// Whether no imported group is already defined in another group file
/// the settings name: a second definition would make `check` fail
/// (names are unique across files), so it is refused, `--force` or not.
fn defined_elsewhere(s: &Settings, files: &[(PathBuf, String)], err: &mut dyn Write) -> bool {
    let mut ok = true;
    for file in &s.group_files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        let mut d = config::diag::Diagnostics::default();
        for def in config::groups::read(&Source::new(file, &text), &mut d) {
            let target = files.iter().find(|(p, _)| {
                p.file_stem()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.eq_ignore_ascii_case(&def.name))
            });
            let same_file = |p: &PathBuf| p.canonicalize().ok() == file.canonicalize().ok();
            if let Some((p, _)) = target.filter(|(p, _)| !same_file(p)) {
                ok = false;
                let _ = writeln!(
                    err,
                    "failoverd: group {} is already defined in {}: nothing written (import would add {}; remove one of them, or leave the group out with --group)",
                    def.name,
                    file.display(),
                    p.display()
                );
            }
        }
    }
    ok
}

/// What a write would do to each file: new, unchanged (it already holds
/// exactly what would be written) or differing (written only with
/// `--force`).
struct Planned {
    unchanged: Vec<PathBuf>,
    differing: Vec<PathBuf>,
    /// Files in the way that are not regular files: why.
    blocked: Vec<String>,
}

impl Planned {
    fn of(files: &[(PathBuf, String)]) -> Planned {
        let mut p = Planned {
            unchanged: Vec::new(),
            differing: Vec::new(),
            blocked: Vec::new(),
        };
        for (path, text) in files {
            // Non-blocking and regular files only: a FIFO here must not
            // hang import (src/config/regular.rs).
            match crate::config::regular::read_limited(path, crate::config::xml::MAX_FILE_BYTES) {
                Ok(old) if same_definition(&String::from_utf8_lossy(&old), text) => p.unchanged.push(path.clone()),
                Ok(_) => p.differing.push(path.clone()),
                // Not a regular file: never replaced.
                Err(e) if crate::config::regular::not_regular(&e).is_some() => {
                    p.blocked.push(crate::config::regular::explain(path, &e));
                }
                // Missing (or unreadable, which the write then reports).
                Err(_) => {}
            }
        }
        p
    }

    fn fate(&self, path: &PathBuf) -> Fate {
        if self.unchanged.contains(path) {
            Fate::Unchanged
        } else if self.differing.contains(path) {
            Fate::Differs
        } else {
            Fate::New
        }
    }
}

/// Whether a file holds what import would write, but for the first line's
/// comment (which names the time of the import that wrote it).
fn same_definition(old: &str, new: &str) -> bool {
    fn body(t: &str) -> &str {
        match t.split_once('\n') {
            Some((first, rest)) if first.starts_with("<!-- Imported by failoverd import") => rest,
            _ => t,
        }
    }
    body(old) == body(new)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Fate {
    New,
    Unchanged,
    Differs,
}

/// `--dry-run`: what a real run would write, file by file, and whether it
/// would refuse; nothing is written (exit 0).
fn dry_run(
    files: &[(PathBuf, String)],
    planned: &Planned,
    tables: &str,
    force: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    for (p, text) in files {
        match planned.fate(p) {
            Fate::Unchanged => {
                let _ = writeln!(
                    err,
                    "unchanged {}: it already holds the firewall's definition",
                    p.display()
                );
            }
            Fate::Differs if !force => {
                let _ = writeln!(
                    err,
                    "{} exists and differs: a real run would refuse (add --force to overwrite)",
                    p.display()
                );
                let _ = writeln!(out, "# would write {} with --force:\n{text}", p.display());
            }
            Fate::New | Fate::Differs => {
                let _ = writeln!(out, "# would write {}:\n{text}", p.display());
            }
        }
    }
    let _ = write!(out, "{tables}");
    let _ = writeln!(err, "dry run: nothing written");
    exit::OK
}

/// Writes the files that are new or (with `--force`) differ. Group files
/// hold no secret: mode 0644, so the service's own user (DynamicUser)
/// reads what root imported (docs/import.md).
fn write_files(dir: &Path, files: &[(PathBuf, String)], planned: &Planned, err: &mut dyn Write) -> Result<(), i32> {
    for (p, text) in files {
        if planned.unchanged.contains(p) {
            let _ = writeln!(err, "unchanged {}", p.display());
            continue;
        }
        if let Err(e) = write_public(dir, p, text.as_bytes()) {
            let _ = writeln!(
                err,
                "failoverd: cannot write {}: {e}: choose a writable folder with --out",
                p.display()
            );
            return Err(exit::CONFIG);
        }
        let _ = writeln!(err, "wrote {}", p.display());
    }
    Ok(())
}

/// Creates `dir` and any missing folder above it as 0755 whatever the
/// umask (root's is often 077): the service's user must be able to enter
/// the folder to read the files in it. Folders that exist are left as
/// they are.
fn create_public_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_public_dir(parent)?;
    }
    match std::fs::create_dir(dir) {
        Ok(()) => std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Writes `path` atomically (a new temporary file beside it, fsync,
/// rename, fsync of the folder), mode 0644 whatever the umask. The
/// temporary file is created with O_EXCL and O_NOFOLLOW: a link planted in
/// its place is refused, never followed.
fn write_public(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    create_public_dir(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("group.xml");
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .mode(0o644)
        .open(&tmp)?;
    let written = f
        .set_permissions(std::fs::Permissions::from_mode(0o644))
        .and_then(|()| f.write_all(bytes))
        .and_then(|()| f.sync_all())
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    std::fs::File::open(dir)?.sync_all()
}

/// Warnings after a write: members the firewall did not describe, and a
/// spelling the settings do not send.
fn advise(groups: &[FwGroup], connections: &[FwConnection], s: &Settings, err: &mut dyn Write) {
    let mut unknown = BTreeSet::new();
    for g in groups {
        for m in &g.members {
            if !connections.iter().any(|c| &c.name == m) && unknown.insert(m.clone()) {
                let _ = writeln!(
                    err,
                    "warning: group {} names connection {}, which the firewall's Get VPNIPSecConnection did not return: fill in its targets by hand",
                    g.name,
                    read::quote(m)
                );
            }
        }
    }
    let old = groups.iter().filter(|g| g.written() == Some(Written::Sfos17)).count();
    if old > 0 && s.firewall.spelling == Spelling::Sfos19 {
        let _ = writeln!(
            err,
            "warning: the firewall wrote {old} group(s) in the 2017 spelling (y/n, ping/tcp): set spelling = \"sfos17\" in [firewall] so sync sends what it takes"
        );
    }
    let _ = writeln!(
        err,
        "next: paste the tables above into {}, then run failoverd check --online",
        s.file.display()
    );
}
