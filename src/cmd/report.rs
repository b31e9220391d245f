//! `failoverd report`: the shadow report (contract section 18,
//! docs/history.md) over `--since` (default 7 days), computed from the
//! history file alone, without a daemon.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, SystemTime};

use super::events::{Options, load};
use super::exit;
use crate::config::Plan;
use crate::history::report::{Input, Report, report};
use crate::history::{Record, millis, report_text};

/// The report of `records` under `plan` at `now`. Without valid settings,
/// `[snmp]` counts as set when the history holds the firewall's switches,
/// and `disagree_after` is its default.
pub fn compute(plan: Option<&Plan>, records: &[Record], o: &Options, now: SystemTime) -> Report {
    let since = o.since.unwrap_or(Duration::from_secs(7 * 24 * 3600));
    let snmp = plan.and_then(|p| p.settings.snmp.as_ref());
    let input = Input {
        records,
        cx: &(),
        since: millis(crate::time::wall_sub(now, since)),
        until: millis(now),
        snmp: match plan {
            Some(_) => snmp.is_some(),
            None => records.iter().any(|r| r.event == "FirewallSwitched"),
        },
        disagree_after: snmp.map_or(Duration::from_secs(120), |s| s.disagree_after),
        groups: plan.map_or_else(Vec::new, |p| p.groups.iter().map(|g| g.name().to_owned()).collect()),
        only: o.group.clone(),
    };
    report(&input)
}

/// Prints the report; returns the exit code.
pub fn run(path: &Path, o: &Options, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let (plan, records) = match load(path, o, err) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let r = compute(plan.as_ref(), &records, o, SystemTime::now());
    let text = if o.json {
        let mut s = serde_json::to_string_pretty(&r).unwrap_or_default();
        s.push('\n');
        s
    } else {
        report_text::text(&r)
    };
    let _ = out.write_all(text.as_bytes());
    exit::OK
}
