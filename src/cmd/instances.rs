//! `failoverd check`'s look at the other instances: the settings files
//! beside this one (`*.toml` in the same folder, as `failoverd@NAME`
//! reads `/etc/failoverd/NAME.toml`) that would collide with it if both
//! ran on this host, and, for a file in a folder named `failoverd`, whether
//! `failoverd@NAME` could run it as written (docs/service.md, "One failoverd
//! per firewall"). Only warnings: `check` still exits 0.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::config::Plan;

/// Largest sibling settings file read; a larger one is skipped.
const MAX_SIBLING_BYTES: u64 = 1024 * 1024;
/// The longest user name systemd gives a service; an instance's is
/// `failoverd-NAME`.
const MAX_USER_NAME: usize = 31;
const USER_PREFIX: &str = "failoverd-";

/// What two instances must not share: the state directory (so the control
/// socket and lock), the `[http] listen` address, the firewall.
struct Instance {
    file: PathBuf,
    state_dir: PathBuf,
    listen: Option<SocketAddr>,
    firewall: Option<String>,
}

/// Writes one warning line per collision with a sibling file and per
/// problem with the instance name; returns how many.
pub fn warn(path: &Path, plan: &Plan, err: &mut dyn Write) -> usize {
    let this = Instance {
        file: path.to_path_buf(),
        state_dir: plan.settings.state_dir.clone(),
        listen: plan.settings.http_listen,
        firewall: Some(plan.settings.firewall.url.clone()),
    };
    let mut lines = instance_name(&this);
    for other in siblings(path) {
        lines.extend(collisions(&this, &other));
    }
    for l in &lines {
        let _ = writeln!(err, "{}: warning: {l}", path.display());
    }
    lines.len()
}

/// The other `*.toml` files in `path`'s folder, read leniently (a file
/// with a broken edit still names its state_dir and port); files that
/// cannot be read are skipped.
fn siblings(path: &Path) -> Vec<Instance> {
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Vec::new();
    };
    let this = std::fs::canonicalize(path).ok();
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .filter(|p| !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
        .filter(|p| std::fs::canonicalize(p).ok() != this)
        .collect();
    files.sort();
    files.into_iter().filter_map(|p| read_sibling(&p)).collect()
}

fn read_sibling(path: &Path) -> Option<Instance> {
    let bytes = crate::config::regular::read_limited(path, MAX_SIBLING_BYTES).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let (doc, _) = toml::de::DeTable::parse_recoverable(&text);
    let doc = doc.get_ref();
    let string = |table: &str, key: &str| -> Option<String> {
        let value = doc.get(table)?.get_ref().get(key)?;
        value.get_ref().as_str().map(str::to_string)
    };
    Some(Instance {
        file: path.to_path_buf(),
        state_dir: crate::config::state_dir_of(path).ok()?,
        listen: string("http", "listen").and_then(|s| s.parse().ok()),
        firewall: string("firewall", "url")
            .and_then(|s| crate::config::firewall_read::complete_url(&s).ok())
            .map(|(url, _, _)| url),
    })
}

/// What `this` and `other` would share if both ran, in words with the fix.
fn collisions(this: &Instance, other: &Instance) -> Vec<String> {
    let name = other.file.display();
    let mut out = Vec::new();
    if same_dir(&this.state_dir, &other.state_dir) {
        out.push(format!(
            "collides with {name}: both use the state directory {} (its lock and control socket): only one \
             of the two daemons can run, and commands with either -c file reach that one; \
             set state_dir = \"/var/lib/failoverd-NAME\" in each instance's file NAME.toml",
            this.state_dir.display()
        ));
    }
    if let (Some(a), Some(b)) = (this.listen, other.listen)
        && overlap(a, b)
    {
        out.push(format!(
            "collides with {name}: [http] listen {a} and its {b} take the same port: only one of the two \
             daemons can serve it; give each instance its own port"
        ));
    }
    if let (Some(a), Some(b)) = (&this.firewall, &other.firewall)
        && a == b
    {
        out.push(format!(
            "collides with {name}: both push to the firewall {a}: two daemons would push the same groups \
             each on its own; run one failoverd per firewall (an [ha] pair runs on two hosts)"
        ));
    }
    out
}

fn same_dir(a: &Path, b: &Path) -> bool {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    a == b || canon(a) == canon(b)
}

/// Whether two listeners would take the same port: the same port and the
/// same address, or either on the unspecified address of its family
/// (`[::]` takes IPv4 as well, Linux's default). Port 0 takes a free port.
fn overlap(a: SocketAddr, b: SocketAddr) -> bool {
    if a.port() != b.port() || a.port() == 0 {
        return false;
    }
    let v6_any = |s: SocketAddr| s.is_ipv6() && s.ip().is_unspecified();
    a.ip() == b.ip()
        || v6_any(a)
        || v6_any(b)
        || (a.is_ipv4() == b.is_ipv4() && (a.ip().is_unspecified() || b.ip().is_unspecified()))
}

/// For `.../failoverd/NAME.toml` (NAME not `failoverd`): what
/// `failoverd@NAME.service` needs of NAME and of the file's state_dir.
fn instance_name(this: &Instance) -> Vec<String> {
    let Some(name) = crate::config::instance::name_of(&this.file) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let valid = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid || USER_PREFIX.len() + name.len() > MAX_USER_NAME {
        out.push(format!(
            "failoverd@{name} could not start: its user {USER_PREFIX}{name} must be at most {MAX_USER_NAME} \
             characters of letters, digits, '-', '_' and '.'; name the file with at most {} such characters",
            MAX_USER_NAME - USER_PREFIX.len()
        ));
    }
    let unit_dir = PathBuf::from(format!("/var/lib/failoverd-{name}"));
    if !same_dir(&this.state_dir, &unit_dir) {
        out.push(format!(
            "failoverd@{name} keeps its state in {} (StateDirectory=), but commands with -c {} look in {}: \
             set state_dir = \"{}\"",
            unit_dir.display(),
            this.file.display(),
            this.state_dir.display(),
            unit_dir.display()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn listeners_overlap_on_the_same_port_and_address_or_a_wildcard() {
        assert!(overlap(a("127.0.0.1:9733"), a("127.0.0.1:9733")));
        assert!(overlap(a("0.0.0.0:9733"), a("127.0.0.1:9733")));
        assert!(overlap(a("[::]:9733"), a("127.0.0.1:9733")));
        assert!(overlap(a("[::1]:9733"), a("[::]:9733")));
        assert!(!overlap(a("127.0.0.1:9733"), a("127.0.0.1:9734")));
        assert!(!overlap(a("127.0.0.1:9733"), a("127.0.0.2:9733")));
        assert!(!overlap(a("0.0.0.0:9733"), a("[::1]:9733")));
        assert!(!overlap(a("127.0.0.1:0"), a("127.0.0.1:0")));
    }
}
