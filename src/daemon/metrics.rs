//! `/metrics` in the Prometheus text format: checks and RTT per stream,
//! group and member state (target state with `[http] target_states`),
//! pushes by answer class, the guard and the mail spool (docs/metrics.md).
//!
//! Built for tens of thousands of streams: one buffer reserved from the
//! plan's size, each stream's labels written once and copied for its other
//! lines, no per-line `String` and no view of cloned names.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::ops::Range;

use crate::config::settings::{MetricsPage, Target};
use crate::engine::{Engine, RTT_BUCKETS};
use crate::health::target::State;
use crate::probe::StreamKey;

/// Bytes reserved per stream, group, member, target and push count: a
/// little above what its lines take with an IPv4 target and counters of 7
/// digits, so the page is not grown by doubling (which briefly holds two copies).
const STREAM_BYTES: usize = 240;
/// With `rtt_histograms`, per stream on top: 11 bucket lines.
const HISTOGRAM_BYTES: usize = 11 * 90;
const GROUP_BYTES: usize = 40;
const MEMBER_BYTES: usize = 64;
const TARGET_BYTES: usize = 110;
const PUSH_BYTES: usize = 64;

/// Writes `v` with the text format's label value escaping.
fn push_esc(t: &mut String, v: &str) {
    if !v.contains(['\\', '"', '\n']) {
        t.push_str(v);
        return;
    }
    for c in v.chars() {
        match c {
            '\\' => t.push_str("\\\\"),
            '"' => t.push_str("\\\""),
            '\n' => t.push_str("\\n"),
            c => t.push(c),
        }
    }
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
    /// By (group, answer class); the group is the plan's copy of its name.
    pub pushes: &'a BTreeMap<(crate::config::names::Name, &'static str), u64>,
    pub guard_tripped: bool,
    pub spool_depth: usize,
    /// The firewall API: 1 usable, 0 not, -1 no answer yet; and when an
    /// answer last got through (Unix seconds).
    pub api_up: i32,
    pub api_last_success: Option<u64>,
    /// Whether the last reload was applied (the start counts), and when
    /// the settings were last loaded successfully (Unix seconds).
    pub config_ok: bool,
    pub config_success: u64,
    /// With `[ha]`: whether this host is the active one.
    pub ha_active: Option<bool>,
    /// With `[snmp]`: whether walks read the table, and each group's
    /// disagreement (docs/metrics.md).
    pub snmp: Option<Snmp<'a>>,
    /// `[http] rtt_histograms` and `target_states`, as of the last reload.
    pub page: MetricsPage,
    /// Each group a periodic Get compared: whether its definition on the
    /// firewall is in step with its file (docs/definitions.md).
    pub definitions: Vec<(&'a str, bool)>,
}

pub struct Snmp<'a> {
    pub usable: bool,
    pub disagrees: Vec<(&'a str, bool)>,
}

/// The bytes to reserve for the page of `engine` and `x`.
fn estimate(engine: &Engine, x: &Extra<'_>) -> usize {
    let page = x.page;
    let shape = engine.shape();
    let per_stream = STREAM_BYTES + if page.rtt_histograms { HISTOGRAM_BYTES } else { 0 };
    let targets = if page.target_states {
        shape.targets * TARGET_BYTES
    } else {
        0
    };
    4096 + engine.stream_counts().len() * per_stream
        + shape.groups * GROUP_BYTES
        + shape.members * MEMBER_BYTES
        + targets
        + x.pushes.len() * PUSH_BYTES
}

/// `protocol="...",target="..."` of stream `k`.
fn labels(t: &mut String, k: &StreamKey) {
    let _ = write!(t, "protocol=\"{}\",target=\"", k.protocol);
    match &k.target {
        Target::Ip(ip) => {
            let _ = write!(t, "{ip}");
        }
        Target::Name(n) => push_esc(t, n),
    }
    t.push('"');
}

/// The whole page.
pub fn render(engine: &Engine, x: &Extra<'_>) -> String {
    let mut t = String::with_capacity(estimate(engine, x));
    streams(&mut t, engine, x.page);
    states(&mut t, engine, x.page);
    let _ = writeln!(
        t,
        "# HELP failoverd_pushes_total Pushes by group and answer class.\n# TYPE failoverd_pushes_total counter"
    );
    for ((g, class), n) in x.pushes {
        t.push_str("failoverd_pushes_total{group=\"");
        push_esc(&mut t, g);
        let _ = writeln!(t, "\",class=\"{class}\"}} {n}");
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
    let _ = writeln!(
        t,
        "# HELP failoverd_api_up 1 while the firewall API answers, 0 while it does not, -1 before its first answer.\n# TYPE failoverd_api_up gauge\nfailoverd_api_up {}",
        x.api_up
    );
    let _ = writeln!(
        t,
        "# HELP failoverd_config_last_reload_successful Whether the last reload of the settings was applied (1) or rejected (0).\n# TYPE failoverd_config_last_reload_successful gauge\nfailoverd_config_last_reload_successful {}",
        u8::from(x.config_ok)
    );
    let _ = writeln!(
        t,
        "# HELP failoverd_config_last_reload_success_timestamp_seconds When the settings were last loaded successfully (the start, or a reload).\n# TYPE failoverd_config_last_reload_success_timestamp_seconds gauge\nfailoverd_config_last_reload_success_timestamp_seconds {}",
        x.config_success
    );
    if let Some(at) = x.api_last_success {
        let _ = writeln!(
            t,
            "# HELP failoverd_api_last_success_timestamp_seconds When an answer of the firewall API last got through.\n# TYPE failoverd_api_last_success_timestamp_seconds gauge\nfailoverd_api_last_success_timestamp_seconds {at}"
        );
    }
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
            t.push_str("failoverd_firewall_disagrees{group=\"");
            push_esc(&mut t, g);
            let _ = writeln!(t, "\"}} {}", u8::from(*d));
        }
    }
    definitions(&mut t, &x.definitions);
    t
}

/// `failoverd_definition_in_step{group}`, for the groups a Get compared.
fn definitions(t: &mut String, groups: &[(&str, bool)]) {
    if groups.is_empty() {
        return;
    }
    let _ = writeln!(
        t,
        "# HELP failoverd_definition_in_step 1 while the group's definition on the firewall is in step with its file, 0 while it differs or is missing (as of the last periodic Get).\n# TYPE failoverd_definition_in_step gauge"
    );
    for (g, ok) in groups {
        t.push_str("failoverd_definition_in_step{group=\"");
        push_esc(t, g);
        let _ = writeln!(t, "\"}} {}", u8::from(*ok));
    }
}

/// `failoverd_checks_total` and `failoverd_rtt_seconds`, per stream. Each
/// family once, all its samples under its TYPE line, so the streams are
/// walked twice; the second walk copies the labels the first one wrote.
fn streams(t: &mut String, engine: &Engine, page: MetricsPage) {
    let _ = writeln!(
        t,
        "# HELP failoverd_checks_total Checks made, good or not, by stream.\n# TYPE failoverd_checks_total counter"
    );
    let mut spans: Vec<Range<usize>> = Vec::with_capacity(engine.stream_counts().len());
    for (k, c) in engine.stream_counts() {
        t.push_str("failoverd_checks_total{");
        let start = t.len();
        labels(t, k);
        spans.push(start..t.len());
        let _ = writeln!(t, "}} {}", c.good + c.failed + c.error);
    }
    let kind = if page.rtt_histograms { "histogram" } else { "summary" };
    let _ = writeln!(
        t,
        "# HELP failoverd_rtt_seconds RTT of good checks, by stream (_count: good checks).\n# TYPE failoverd_rtt_seconds {kind}"
    );
    let mut l = String::with_capacity(128);
    for ((_, c), span) in engine.stream_counts().zip(spans) {
        l.clear();
        l.push_str(&t[span]);
        if page.rtt_histograms {
            for (bound, n) in RTT_BUCKETS.iter().zip(c.rtt_buckets) {
                let _ = writeln!(t, "failoverd_rtt_seconds_bucket{{{l},le=\"{bound}\"}} {n}");
            }
            let _ = writeln!(t, "failoverd_rtt_seconds_bucket{{{l},le=\"+Inf\"}} {}", c.good);
        }
        // Microseconds: a probe's RTT is not known finer, and f64's
        // shortest form would print up to 17 digits.
        let _ = writeln!(t, "failoverd_rtt_seconds_sum{{{l}}} {:.6}", c.rtt_sum);
        let _ = writeln!(t, "failoverd_rtt_seconds_count{{{l}}} {}", c.good);
    }
}

fn states(t: &mut String, engine: &Engine, page: MetricsPage) {
    let _ = writeln!(
        t,
        "# HELP failoverd_group_up 1 up, 0 down, -1 unknown.\n# TYPE failoverd_group_up gauge"
    );
    for (g, s) in engine.group_states() {
        t.push_str("failoverd_group_up{group=\"");
        push_esc(t, g);
        let _ = writeln!(t, "\"}} {}", up(s));
    }
    let _ = writeln!(
        t,
        "# HELP failoverd_member_up 1 up, 0 down, -1 unknown.\n# TYPE failoverd_member_up gauge"
    );
    for (g, m, s) in engine.member_states() {
        t.push_str("failoverd_member_up{group=\"");
        push_esc(t, g);
        t.push_str("\",member=\"");
        push_esc(t, m);
        let _ = writeln!(t, "\"}} {}", up(s));
    }
    if !page.target_states {
        return;
    }
    let _ = writeln!(
        t,
        "# HELP failoverd_target_up 1 up, 0 down, -1 unknown.\n# TYPE failoverd_target_up gauge"
    );
    for x in engine.target_states() {
        t.push_str("failoverd_target_up{group=\"");
        push_esc(t, x.group);
        t.push_str("\",member=\"");
        push_esc(t, x.member);
        let _ = write!(t, "\",condition=\"{}\",target=\"", x.condition);
        match x.target {
            Target::Ip(ip) => {
                let _ = write!(t, "{ip}");
            }
            Target::Name(n) => push_esc(t, n),
        }
        let _ = writeln!(t, "\"}} {}", up(x.state));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped_without_copying_plain_ones() {
        let mut t = String::new();
        push_esc(&mut t, "plain");
        push_esc(&mut t, "a\"b\\c\nd");
        assert_eq!(t, "plaina\\\"b\\\\c\\nd");
    }
}
