//! `failoverd status --check`: the daemon's status judged as a monitoring
//! plugin (Monitoring Plugins development guidelines; docs/monitoring.md).
//! Pure: the status in, one line (`FAILOVERD OK - text | perfdata`) and
//! the exit code out. The control socket is asked in `cmd::control`.

use crate::view::{Group, Status};

/// The plugin states, in the order of their severity; the number is the
/// exit code every scheduler (Nagios, Icinga, Checkmk, Zabbix) reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Ok = 0,
    Warning = 1,
    Critical = 2,
    /// No daemon, an unreadable answer, bad arguments.
    Unknown = 3,
}

impl Level {
    pub fn word(self) -> &'static str {
        match self {
            Level::Ok => "OK",
            Level::Warning => "WARNING",
            Level::Critical => "CRITICAL",
            Level::Unknown => "UNKNOWN",
        }
    }

    pub fn code(self) -> i32 {
        self as i32
    }
}

/// What the plugin prints (one line, ended by a newline) and exits with.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub level: Level,
    pub line: String,
}

/// UNKNOWN with what failed (no daemon, an unreadable answer, ...).
pub fn unknown(why: &str) -> Verdict {
    Verdict {
        level: Level::Unknown,
        line: format!("FAILOVERD UNKNOWN - {}\n", text(why)),
    }
}

/// Judges `status`, restricted to `only` when it names groups.
pub fn judge(status: &Status, only: &[String]) -> Verdict {
    let names: Vec<&str> = status.groups.iter().map(|g| g.name.as_str()).collect();
    if let Some(bad) = only.iter().find(|g| !names.contains(&g.as_str())) {
        let hint = crate::config::diag::hint(bad, &names);
        return unknown(&format!(
            "the daemon has no group {bad:?}{hint}; its groups: {}",
            names.join(", ")
        ));
    }
    let chosen: Vec<(usize, &Group)> = status
        .groups
        .iter()
        .enumerate()
        .filter(|(_, g)| only.is_empty() || only.contains(&g.name))
        .collect();
    let mut found: Vec<(Level, String)> = Vec::new();
    for (_, g) in &chosen {
        found.extend(group_findings(status, g));
    }
    found.extend(global_findings(status));
    let level = found.iter().map(|(l, _)| *l).max().unwrap_or(Level::Ok);
    let summary = if found.is_empty() {
        all_up(&chosen)
    } else {
        // The worst first, so the line's start says why.
        found.sort_by_key(|f| std::cmp::Reverse(f.0));
        found.into_iter().map(|(_, t)| t).collect::<Vec<_>>().join("; ")
    };
    let perf: Vec<String> = chosen.iter().flat_map(|(_, g)| perfdata(g)).collect();
    Verdict {
        level,
        line: format!("FAILOVERD {} - {} | {}\n", level.word(), text(&summary), perf.join(" ")),
    }
}

fn all_up(chosen: &[(usize, &Group)]) -> String {
    let names: Vec<&str> = chosen.iter().map(|(_, g)| g.name.as_str()).collect();
    match names.len() {
        0 => "no groups".to_string(),
        1 => format!("1 group up: {}", names.join(", ")),
        n => format!("{n} groups up: {}", names.join(", ")),
    }
}

/// Why one group is not fine: down is CRITICAL; everything else WARNING.
fn group_findings(status: &Status, g: &Group) -> Vec<(Level, String)> {
    let n = &g.name;
    let mut f = Vec::new();
    match g.state.as_str() {
        "up" => {}
        "down" => f.push((Level::Critical, format!("{n} down"))),
        other => f.push((Level::Warning, format!("{n} {other} (not judged yet)"))),
    }
    if g.state != "down" {
        for m in g.members.iter().filter(|m| m.state != "up") {
            f.push((Level::Warning, format!("{n}: member {} {}", m.name, m.state)));
        }
    }
    let mut warn = |t: String| f.push((Level::Warning, t));
    if let Some(h) = &g.hold {
        warn(format!("{n} held ({})", h.reason));
    }
    let peer_holds = status.ha.iter().flat_map(|p| &p.peer_holds);
    for h in peer_holds.filter(|h| h.group == *n) {
        warn(format!("{n} held by the peer ({})", h.reason));
    }
    if g.refused {
        let answer = g.last_push.as_ref().map_or("", |p| p.answer.as_str());
        warn(format!("{n}: push refused ({answer})"));
    }
    if let Some(fw) = &g.firewall {
        if fw.disagrees {
            warn(format!("{n}: the firewall disagrees (it carries {})", fw.carrying));
        }
        if let Some(p) = &fw.not_honoured {
            warn(format!("{n}: not honoured by the firewall ({p})"));
        }
    }
    // "in step", "missing on the firewall", "differs: ..." (issue #27).
    if let Some(d) = g.definition.as_deref().filter(|d| *d != "in step") {
        let d = d.split(':').next().unwrap_or(d);
        warn(format!("{n}: its definition {d} (failoverd sync --group {n})"));
    }
    f
}

/// The daemon's own problems, the API and the SNMP walks: WARNING.
fn global_findings(s: &Status) -> Vec<(Level, String)> {
    let mut f: Vec<(Level, String)> = s.problems.iter().map(|p| (Level::Warning, p.clone())).collect();
    let told = s.problems.iter().any(|p| p.contains("firewall API"));
    if !told {
        if let Some(why) = &s.api_paused {
            f.push((Level::Warning, format!("the firewall API refuses us: {why}")));
        } else if s.api.state == "unusable" {
            let why = s.api.problem.as_deref().unwrap_or("no reason given");
            f.push((Level::Warning, format!("the firewall API is unusable: {why}")));
        }
    }
    if s.guard_tripped && !s.problems.iter().any(|p| p.contains("guard")) {
        f.push((Level::Warning, "the guard holds DeActives".into()));
    }
    if let Some(e) = s.snmp.as_ref().and_then(|x| x.error.as_ref()) {
        f.push((Level::Warning, format!("SNMP unusable: {e}")));
    }
    f
}

/// Per group its state (up 1, else 0), per member the same, and the RTT
/// of the member carrying the group, in seconds, when it has one.
fn perfdata(g: &Group) -> Vec<String> {
    let up = |state: &str| u8::from(state == "up");
    let mut p = vec![format!("{}={};;;0;1", label(&g.name), up(&g.state))];
    for m in &g.members {
        p.push(format!(
            "{}={};;;0;1",
            label(&format!("{}/{}", g.name, m.name)),
            up(&m.state)
        ));
    }
    if let Some(rtt) = carrying_rtt(g) {
        p.push(format!("{}={rtt:.6}s;;;0", label(&format!("{}_rtt", g.name))));
    }
    p
}

/// The carrying member: the firewall's (SNMP) when it names a member,
/// else the one failoverd expects active. Its RTT: the largest last good
/// check of its targets.
fn carrying_rtt(g: &Group) -> Option<f64> {
    let named = |n: &str| g.members.iter().find(|m| m.name == n);
    let fw = g.firewall.as_ref().map(|f| f.carrying.as_str());
    let member = fw
        .and_then(named)
        .or_else(|| g.carrying.as_deref().and_then(named))
        .or_else(|| g.expected_active.as_deref().and_then(named))?;
    member
        .targets
        .iter()
        .filter_map(|t| t.last.as_ref())
        .filter(|c| c.result == "good")
        .filter_map(|c| c.rtt.as_deref().and_then(rtt_secs))
        .reduce(f64::max)
}

/// "612ms", "2.5ms", "850µs", "1s" (the daemon's form) as seconds.
pub fn rtt_secs(s: &str) -> Option<f64> {
    let (num, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = s.strip_suffix("µs").or_else(|| s.strip_suffix("us")) {
        (n, 1e-6)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else {
        return None;
    };
    let v: f64 = num.trim().parse().ok()?;
    (v.is_finite() && v >= 0.0).then_some(v * scale)
}

/// A perfdata label: always quoted; `'` and `=` (which the guidelines
/// forbid in labels) become `_`.
pub fn label(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c == '\'' || c == '=' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    format!("'{clean}'")
}

/// Status text for the one line: no `|` (it starts the perfdata) and no
/// line breaks.
fn text(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '|' => '/',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

/// `status --check` with arguments clap refuses: UNKNOWN (exit 3), as the
/// guidelines want for bad arguments, instead of clap's exit 2 (which a
/// scheduler would show as CRITICAL). None for any other command line.
pub fn usage_error(args: &[String], e: &clap::Error) -> Option<Verdict> {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        return None;
    }
    let check = command_of(args) == Some("status") && args.iter().any(|a| a == "--check");
    if !check {
        return None;
    }
    let msg = e.to_string();
    let first = msg.lines().next().unwrap_or("bad arguments");
    let first = first.trim_start_matches("error: ");
    Some(unknown(&format!(
        "bad arguments: {first} (usage: failoverd status --check [-c PATH] [--group GROUP]...)"
    )))
}

/// The subcommand's name: the first word after the program's name that
/// is no option and no value of a global option (`-c PATH`,
/// `--log-level LEVEL`).
fn command_of(args: &[String]) -> Option<&str> {
    let mut words = args.iter().skip(1);
    while let Some(w) = words.next() {
        match w.as_str() {
            "-c" | "--config" | "--log-level" => {
                words.next();
            }
            w if w.starts_with('-') => {}
            w => return Some(w),
        }
    }
    None
}

#[cfg(test)]
mod tests;
