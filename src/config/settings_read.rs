//! Reads `failoverd.toml` into [`Settings`]: every key of docs/settings.md,
//! typed, defaulted, range-checked and located. Secrets and group files are
//! found here too (paths are relative to the settings file's folder).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::diag::{Diagnostics, Source};
use super::keys::{Section, names};
use super::secret_read::warn_if_readable_by_others;
use super::settings::*;
use super::targets::{parse_family, read_targets};
use super::toml_read::{At, Table};

const MS: Duration = Duration::from_millis(1);
const SEC: Duration = Duration::from_secs(1);

/// Reads the whole file; problems go into `d`. The returned settings are
/// only meaningful when `d` holds no errors.
pub fn read(src: &Source, top: &Table<'_, '_>, d: &mut Diagnostics) -> Settings {
    let base = src.path.parent().map(Path::to_path_buf).unwrap_or_default();
    top.finish(d, &names(Section::Top));
    let group_files = super::group_globs::group_files(top, &base, d);
    let state_dir = state_dir(top, &base, d);
    let probe_tbl = top.table(d, "probe");
    let probe = probe_defaults(probe_tbl.as_ref(), d);
    let connections = connections(top, probe_tbl.as_ref(), &probe.timing, d);
    let firewall = super::firewall_read::firewall(top, &base, d);
    let guard = guard(top, d);
    let mail = top.table(d, "mail").map(|t| super::mail_read::mail(&t, &base, d));
    let mut metrics = MetricsPage::default();
    let http = top.table(d, "http").and_then(|t| {
        t.finish(d, &names(Section::Http));
        metrics = MetricsPage {
            rtt_histograms: t.bool(d, "rtt_histograms").unwrap_or(false),
            target_states: t.bool(d, "target_states").unwrap_or(false),
        };
        let s = t.string(d, "listen")?;
        match s.value.parse() {
            Ok(a) => Some((a, s.pos)),
            Err(_) => {
                d.error(
                    src,
                    s.pos,
                    "http.listen",
                    format!("{:?} is not an address:port such as \"127.0.0.1:9733\"", s.value),
                );
                None
            }
        }
    });
    let http_listen = http.map(|(a, _)| a);
    let listen_written = key_in(top, "http", "listen").is_some();
    let ha = top
        .table(d, "ha")
        .map(|t| super::ha_read::ha(&t, http, listen_written, d));
    let snmp = top
        .table(d, "snmp")
        .map(|t| super::snmp_read::snmp(&t, &base, &firewall, d));
    let hooks = super::hooks_read::hooks(top, d);
    Settings {
        file: src.path.clone(),
        group_files,
        state_dir,
        probe,
        connections,
        firewall,
        guard,
        mail,
        http_listen,
        metrics,
        ha: ha.flatten(),
        snmp,
        hooks,
    }
}

/// The longest path a Unix socket address holds: `sun_path` is 108 bytes
/// on Linux, one of them the closing NUL.
pub const MAX_SOCKET_PATH: usize = 107;

/// `state_dir` (relative to the settings file), else the default; an
/// error where `run` could not bind its control socket there.
fn state_dir(top: &Table<'_, '_>, base: &Path, d: &mut Diagnostics) -> PathBuf {
    let (dir, pos) = match top.string(d, "state_dir") {
        Some(s) => (base.join(s.value), s.pos),
        None => {
            let dir = default_state_dir();
            unset_under_unit(top, &dir, d);
            (dir, top.pos)
        }
    };
    let socket = crate::control::socket_path(&dir);
    let len = socket.as_os_str().len();
    if len > MAX_SOCKET_PATH {
        let msg = format!(
            "the control socket {} would be {len} bytes long, and a socket path holds at most {MAX_SOCKET_PATH}: \
             choose a state_dir of at most {} bytes",
            socket.display(),
            MAX_SOCKET_PATH.saturating_sub(len.saturating_sub(dir.as_os_str().len()))
        );
        d.error(top.src(), pos, "state_dir", msg);
    }
    dir
}

/// A warning when `state_dir` is unset and systemd's `$STATE_DIRECTORY`
/// (as `failoverd@NAME` sets it) is not the folder commands run from a
/// shell look in: they would not find this daemon (docs/service.md, "One
/// failoverd per firewall").
fn unset_under_unit(top: &Table<'_, '_>, dir: &Path, d: &mut Diagnostics) {
    let shell = Path::new("/var/lib/failoverd");
    if dir == shell {
        return;
    }
    let msg = format!(
        "state_dir is not set: this run keeps its state in {} (systemd's StateDirectory=), but commands run \
         from a shell with -c {} look in {}: set state_dir = \"{}\"",
        dir.display(),
        top.src().path.display(),
        shell.display(),
        dir.display()
    );
    d.warn(top.src(), top.pos, "state_dir", msg);
}

/// `$STATE_DIRECTORY` (its first entry) if set, else `/var/lib/failoverd`.
pub fn default_state_dir() -> PathBuf {
    std::env::var("STATE_DIRECTORY")
        .ok()
        .and_then(|s| s.split(':').next().filter(|p| !p.is_empty()).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("/var/lib/failoverd"))
}

fn probe_defaults(t: Option<&Table<'_, '_>>, d: &mut Diagnostics) -> ProbeDefaults {
    let defaults = ProbeTiming::default_values();
    let Some(t) = t else {
        return ProbeDefaults {
            timing: defaults,
            resolve_every: 300 * SEC,
            dns_stale: 3600 * SEC,
        };
    };
    t.finish(d, &names(Section::Probe));
    let timing = timing(t, &defaults, d);
    ProbeDefaults {
        timing,
        resolve_every: t.duration(d, "resolve_every", SEC).map_or(300 * SEC, |v| v.value),
        dns_stale: t
            .duration(d, "dns_stale", Duration::ZERO)
            .map_or(3600 * SEC, |v| v.value),
    }
}

/// Reads the timing keys of `t` over `base`, checking timeout against
/// interval and the quality rules' pairs.
fn timing(t: &Table<'_, '_>, base: &ProbeTiming, d: &mut Diagnostics) -> ProbeTiming {
    let interval = t.duration(d, "interval", 10 * MS);
    let timeout = t.duration(d, "timeout", MS);
    let eff_interval = interval.as_ref().map_or(base.interval, |v| v.value);
    let eff_timeout = timeout.as_ref().map_or(base.timeout, |v| v.value);
    if eff_timeout > eff_interval && (interval.is_some() || timeout.is_some()) {
        let (key, pos) = match (&timeout, &interval) {
            (Some(t), _) => ("timeout", t.pos),
            (None, Some(i)) => ("interval", i.pos),
            _ => unreachable!("one of them is set"),
        };
        let msg = format!(
            "timeout {} is above interval {}: a check must end before the next starts; lower timeout or raise interval",
            humantime::format_duration(eff_timeout),
            humantime::format_duration(eff_interval)
        );
        d.error(t.src(), pos, &t.key_path(key), msg);
    }
    ProbeTiming {
        interval: eff_interval,
        timeout: eff_timeout,
        fall: t.int(d, "fall", 1, 1000).map_or(base.fall, |v| v.value as u32),
        rise: t.int(d, "rise", 1, 1000).map_or(base.rise, |v| v.value as u32),
        quality: quality(t, base.quality.as_ref(), d),
    }
}

fn quality(t: &Table<'_, '_>, base: Option<&Quality>, d: &mut Diagnostics) -> Option<Quality> {
    let window = t.int(d, "window", 1, 1000);
    let loss = pair(t, d, "loss_down", "loss_up", |t, d, k| t.percent(d, k));
    let rtt = pair(t, d, "rtt_down", "rtt_up", |t, d, k| t.duration(d, k, Duration::ZERO));
    let loss = loss.or_else(|| base.and_then(|q| q.loss));
    let rtt = rtt.or_else(|| base.and_then(|q| q.rtt));
    if loss.is_none() && rtt.is_none() {
        if let (Some(w), false) = (&window, t.path.is_empty() || t.path == "probe") {
            let msg =
                "window only applies with a quality rule: add loss_down/loss_up or rtt_down/rtt_up, or remove window";
            d.error(t.src(), w.pos, &t.key_path("window"), msg);
        }
        return None;
    }
    let window = window.map(|w| w.value as u32).or(base.map(|q| q.window)).unwrap_or(20);
    Some(Quality { window, loss, rtt })
}

/// Reads a (down, up) rule: both or neither, up strictly below down.
fn pair<T: PartialOrd + Copy>(
    t: &Table<'_, '_>,
    d: &mut Diagnostics,
    down_key: &str,
    up_key: &str,
    get: impl Fn(&Table<'_, '_>, &mut Diagnostics, &str) -> Option<At<T>>,
) -> Option<(T, T)> {
    let down = get(t, d, down_key);
    let up = get(t, d, up_key);
    let present = |k: &str| t.raw(k).is_some();
    match (down, up) {
        (Some(dn), Some(up)) if up.value < dn.value => Some((dn.value, up.value)),
        (Some(_), Some(up)) => {
            let msg = format!(
                "{up_key} must be strictly below {down_key} (the band between them keeps a target from flapping)"
            );
            d.error(t.src(), up.pos, &t.key_path(up_key), msg);
            None
        }
        (Some(dn), None) if !present(up_key) => {
            d.error(
                t.src(),
                dn.pos,
                &t.key_path(down_key),
                format!("{down_key} needs {up_key}: each rule needs both values"),
            );
            None
        }
        (None, Some(up)) if !present(down_key) => {
            d.error(
                t.src(),
                up.pos,
                &t.key_path(up_key),
                format!("{up_key} needs {down_key}: each rule needs both values"),
            );
            None
        }
        _ => None,
    }
}

fn connections(
    top: &Table<'_, '_>,
    probe: Option<&Table<'_, '_>>,
    base: &ProbeTiming,
    d: &mut Diagnostics,
) -> Connections {
    let Some(conns) = top.table(d, "connections") else {
        return Connections::default();
    };
    let keys = conns.keys();
    // Exactly one slot per key: no doubling, no spare capacity to free.
    let mut out = Vec::with_capacity(keys.len());
    let shared = std::sync::Arc::new(base.clone());
    for key in keys {
        if let Some(p) = super::names::problem(&key.value) {
            let shown = super::names::shown(&key.value);
            d.error(
                conns.src(),
                key.pos,
                "connections",
                format!("connection name {shown} {p}"),
            );
            continue;
        }
        if let Some(t) = conns.table(d, &key.value) {
            out.push(connection(&t, &key, &shared, d));
        }
    }
    // [probe] window without any rule anywhere is an error too.
    if let Some(p) = probe
        && let (Some(w), None) = (p.raw("window"), base.quality.as_ref())
        && out.iter().all(|c| c.timing.quality.is_none())
    {
        let msg = "window only applies with a quality rule: add loss_down/loss_up or rtt_down/rtt_up, or remove window";
        d.error(p.src(), w.span().start, "probe.window", msg);
    }
    Connections::new(out)
}

/// `base`: `[probe]`'s timing, shared by the connection when its own is
/// the same.
fn connection(
    t: &Table<'_, '_>,
    name: &At<String>,
    base: &std::sync::Arc<ProbeTiming>,
    d: &mut Diagnostics,
) -> Connection {
    t.finish(d, &names(Section::Connection));
    let src = t.src();
    let source = t.string(d, "source").and_then(|s| match s.value.parse::<IpAddr>() {
        Ok(ip) => Some(ip),
        Err(_) => {
            d.error(
                src,
                s.pos,
                &t.key_path("source"),
                format!("source {:?} is not an IP address of this host", s.value),
            );
            None
        }
    });
    let family = parse_family(t, source, d);
    let interface = t.string(d, "interface").map(|s| s.value);
    let targets = read_targets(t, "targets", family, interface.is_some(), d, true);
    let via = t.string(d, "via");
    let via_value = match via.as_ref().map(|v| v.value.as_str()) {
        None | Some("tunnel") => Via::Tunnel,
        Some("underlay") => Via::Underlay,
        Some(other) => {
            let h = super::diag::hint(other, &["tunnel", "underlay"]);
            d.error(
                src,
                via.as_ref().map_or(0, |v| v.pos),
                &t.key_path("via"),
                format!("via = {other:?}{h}: use \"underlay\" or \"tunnel\""),
            );
            Via::Tunnel
        }
    };
    let quorum = t.int(d, "quorum", 1, 10_000);
    if let Some(q) = &quorum
        && !targets.is_empty()
        && q.value as usize > targets.len()
    {
        let msg = format!(
            "quorum {} is above the number of targets ({}): lower quorum or add targets",
            q.value,
            targets.len()
        );
        d.error(src, q.pos, &t.key_path("quorum"), msg);
    }
    Connection {
        name: name.value.as_str().into(),
        targets: targets.into(),
        via: via_value,
        via_defaulted: via.is_none(),
        quorum: quorum.map_or(1, |q| q.value as usize),
        family,
        source,
        interface,
        timing: match timing(t, base, d) {
            own if own == **base => base.clone(),
            own => std::sync::Arc::new(own),
        },
        pos: name.pos,
    }
}

fn guard(top: &Table<'_, '_>, d: &mut Diagnostics) -> Guard {
    let default = Guard {
        anchors: Vec::new(),
        max_groups_down: 0.5,
        window: 30 * SEC,
        settle: 10 * SEC,
    };
    let Some(t) = top.table(d, "guard") else {
        return default;
    };
    t.finish(d, &names(Section::Guard));
    let anchors = read_targets(&t, "anchors", Family::Any, false, d, false);
    Guard {
        anchors,
        max_groups_down: t
            .percent(d, "max_groups_down")
            .map_or(default.max_groups_down, |v| v.value),
        window: t.duration(d, "window", SEC).map_or(default.window, |v| v.value),
        settle: t
            .duration(d, "settle", Duration::ZERO)
            .map_or(default.settle, |v| v.value),
    }
}

/// The offset of `key` in the top-level table `section`, if written.
fn key_in(top: &Table<'_, '_>, section: &str, key: &str) -> Option<usize> {
    top.raw(section).and_then(|v| match v.get_ref() {
        toml::de::DeValue::Table(t) => t.iter().find(|(k, _)| k.get_ref() == key).map(|(k, _)| k.span().start),
        _ => None,
    })
}

/// Warns when the settings file holds a password and others can read it.
pub fn check_settings_mode(src: &Source, top: &Table<'_, '_>, d: &mut Diagnostics) {
    for section in ["firewall", "mail"] {
        if let Some(pos) = key_in(top, section, "password") {
            warn_if_readable_by_others(src, &src.path, pos, &format!("{section}.password"), d);
        }
    }
}
