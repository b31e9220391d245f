//! `/metrics` in the Prometheus text format: checks and RTT histograms per
//! stream, target, member and group state, pushes by answer class, the
//! guard and the mail spool.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::engine::{Engine, RTT_BUCKETS};
use crate::health::target::State;

/// Label value escaping of the text format.
fn esc(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn up(s: State) -> i32 {
    match s {
        State::Up => 1,
        State::Down => 0,
        State::Unknown => -1,
    }
}

/// What the daemon adds to the engine's view.
pub struct Extra<'a> {
    pub groups: &'a [String],
    pub pushes: &'a BTreeMap<(String, String), u64>,
    pub guard_tripped: bool,
    pub spool_depth: usize,
    /// With `[ha]`: whether this host is the active one.
    pub ha_active: Option<bool>,
    /// With `[snmp]`: whether walks read the table, and each group's
    /// disagreement (docs/metrics.md).
    pub snmp: Option<Snmp<'a>>,
}

pub struct Snmp<'a> {
    pub usable: bool,
    pub disagrees: Vec<(&'a str, bool)>,
}

/// The whole page.
pub fn render(engine: &Engine, x: &Extra<'_>) -> String {
    let streams = engine.stream_counts();
    // About 1.6 KB a stream and 0.3 KB a group: reserved once, the page
    // (many MiB with thousands of targets) is not grown by doubling.
    let mut t = String::with_capacity(4096 + streams.len() * 1600 + x.groups.len() * 300);
    let _ = writeln!(
        t,
        "# HELP failoverd_checks_total Checks made, by stream and result.\n# TYPE failoverd_checks_total counter"
    );
    for (k, c) in &streams {
        let l = format!("protocol=\"{}\",target=\"{}\"", k.protocol, esc(&k.target.to_string()));
        let _ = writeln!(t, "failoverd_checks_total{{{l},result=\"good\"}} {}", c.good);
        let _ = writeln!(t, "failoverd_checks_total{{{l},result=\"failed\"}} {}", c.failed);
        let _ = writeln!(t, "failoverd_checks_total{{{l},result=\"error\"}} {}", c.error);
    }
    let _ = writeln!(
        t,
        "# HELP failoverd_rtt_seconds RTT of good checks, by stream.\n# TYPE failoverd_rtt_seconds histogram"
    );
    for (k, c) in &streams {
        let l = format!("protocol=\"{}\",target=\"{}\"", k.protocol, esc(&k.target.to_string()));
        for (bound, n) in RTT_BUCKETS.iter().zip(c.rtt_buckets) {
            let _ = writeln!(t, "failoverd_rtt_seconds_bucket{{{l},le=\"{bound}\"}} {n}");
        }
        let _ = writeln!(t, "failoverd_rtt_seconds_bucket{{{l},le=\"+Inf\"}} {}", c.good);
        let _ = writeln!(t, "failoverd_rtt_seconds_sum{{{l}}} {}", c.rtt_sum);
        let _ = writeln!(t, "failoverd_rtt_seconds_count{{{l}}} {}", c.good);
    }
    states(&mut t, engine, x.groups);
    let _ = writeln!(
        t,
        "# HELP failoverd_pushes_total Pushes by group and answer class.\n# TYPE failoverd_pushes_total counter"
    );
    for ((g, class), n) in x.pushes {
        let _ = writeln!(
            t,
            "failoverd_pushes_total{{group=\"{}\",class=\"{class}\"}} {n}",
            esc(g)
        );
    }
    let _ = writeln!(
        t,
        "# HELP failoverd_guard_tripped 1 while the guard withholds DeActives.\n# TYPE failoverd_guard_tripped gauge"
    );
    let _ = writeln!(t, "failoverd_guard_tripped {}", u8::from(x.guard_tripped));
    let _ = writeln!(
        t,
        "# HELP failoverd_mail_spool_depth Mails waiting in the spool.\n# TYPE failoverd_mail_spool_depth gauge"
    );
    let _ = writeln!(t, "failoverd_mail_spool_depth {}", x.spool_depth);
    if let Some(active) = x.ha_active {
        let _ = writeln!(
            t,
            "# HELP failoverd_ha_active 1 while this host holds the pair's address, 0 on the standby.\n# TYPE failoverd_ha_active gauge"
        );
        let _ = writeln!(t, "failoverd_ha_active {}", u8::from(active));
    }
    if let Some(snmp) = &x.snmp {
        let _ = writeln!(
            t,
            "# HELP failoverd_snmp_usable 1 while walks of the firewall's tunnel table succeed.\n# TYPE failoverd_snmp_usable gauge"
        );
        let _ = writeln!(t, "failoverd_snmp_usable {}", u8::from(snmp.usable));
        let _ = writeln!(
            t,
            "# HELP failoverd_firewall_disagrees 1 while firewall and failoverd disagree on a group for disagree_after.\n# TYPE failoverd_firewall_disagrees gauge"
        );
        for (g, d) in &snmp.disagrees {
            let _ = writeln!(
                t,
                "failoverd_firewall_disagrees{{group=\"{}\"}} {}",
                esc(g),
                u8::from(*d)
            );
        }
    }
    t
}

fn states(t: &mut String, engine: &Engine, groups: &[String]) {
    let _ = writeln!(
        t,
        "# HELP failoverd_group_up 1 up, 0 down, -1 unknown.\n# TYPE failoverd_group_up gauge"
    );
    for g in groups {
        let s = engine.group_state(g).map_or(State::Unknown, |s| s.0);
        let _ = writeln!(t, "failoverd_group_up{{group=\"{}\"}} {}", esc(g), up(s));
    }
    // Each family once, all its samples under its TYPE line: a parser
    // meeting a family again after another one takes it as a new, untyped
    // family. The target lines are gathered apart and written after.
    let _ = writeln!(
        t,
        "# HELP failoverd_member_up 1 up, 0 down, -1 unknown.\n# TYPE failoverd_member_up gauge"
    );
    let mut targets = String::new();
    for g in groups {
        for m in engine.members(g) {
            let _ = writeln!(
                t,
                "failoverd_member_up{{group=\"{}\",member=\"{}\"}} {}",
                esc(g),
                esc(&m.name),
                up(m.state)
            );
            for x in &m.targets {
                let _ = writeln!(
                    targets,
                    "failoverd_target_up{{group=\"{}\",member=\"{}\",condition=\"{}\",target=\"{}\"}} {}",
                    esc(g),
                    esc(&m.name),
                    x.condition,
                    esc(&x.target),
                    up(x.state)
                );
            }
        }
    }
    let _ = writeln!(
        t,
        "# HELP failoverd_target_up 1 up, 0 down, -1 unknown.\n# TYPE failoverd_target_up gauge"
    );
    t.push_str(&targets);
}
