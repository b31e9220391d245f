//! The shadow report as a person reads it (`failoverd report`, and the
//! status page's section): one line per fact, every line from the history.

use std::fmt::Write;

use super::format_millis;
use super::report::{GroupReport, Point, Report, Switch};

fn member(m: Option<&String>) -> &str {
    m.map_or("no member", String::as_str)
}

/// "56 s" (whole seconds, rounded), "1h 2m 3s" beyond a minute.
pub fn span(ms: u64) -> String {
    let secs = ms.saturating_add(500) / 1000;
    if secs < 60 {
        format!("{secs} s")
    } else {
        humantime::format_duration(std::time::Duration::from_secs(secs)).to_string()
    }
}

/// The switch's line.
pub fn switch_line(s: &Switch) -> String {
    let to = member(s.switched.member.as_ref());
    let at = format_millis(s.switched.t);
    match (&s.decided, s.lead_ms) {
        (Some(d), Some(lead)) => {
            let when = if lead >= 0 { "earlier" } else { "later" };
            format!(
                "firewall switched to {to} at {at}; failoverd decided at {}, {} {when}",
                format_millis(d.t),
                span(lead.unsigned_abs())
            )
        }
        _ => format!("firewall switched to {to} at {at}; failoverd never decided this switch"),
    }
}

fn decision_line(d: &Point) -> String {
    format!("{}  {}", format_millis(d.t), d.text)
}

fn group_text(g: &GroupReport, snmp: bool, out: &mut String) {
    let _ = writeln!(out, "{}:", g.group);
    if !snmp {
        let _ = writeln!(out, "  decisions ({}):", g.decisions.len());
        for d in &g.decisions {
            let _ = writeln!(out, "    {}", decision_line(d));
        }
        if g.decisions.is_empty() {
            let _ = writeln!(out, "    none");
        }
        return;
    }
    for s in &g.switches {
        let _ = writeln!(out, "  {}", switch_line(s));
    }
    if g.switches.is_empty() {
        let _ = writeln!(out, "  the firewall did not switch members");
    }
    for d in &g.not_followed {
        let _ = writeln!(
            out,
            "  failoverd decided {} at {}; the firewall did not follow ({})",
            member(d.member.as_ref()),
            format_millis(d.t),
            d.text
        );
    }
    let _ = writeln!(
        out,
        "  firewall and failoverd disagreed for {} ({} episode(s)); {} decision(s) of failoverd, {} switch(es) failoverd never decided",
        span(g.disagreed_ms),
        g.disagreements,
        g.decisions.len(),
        g.switches.iter().filter(|s| s.decided.is_none()).count()
    );
}

/// The report as text.
pub fn text(r: &Report) -> String {
    let mut out = format!(
        "Shadow report from {} to {}\n",
        format_millis(r.since),
        format_millis(r.until)
    );
    if !r.snmp {
        out.push_str("The firewall's side is unknown: [snmp] is not set, so only failoverd's decisions are listed.\n");
    }
    for g in &r.groups {
        group_text(g, r.snmp, &mut out);
    }
    let _ = writeln!(out, "failoverd's own troubles and restarts ({}):", r.troubles.len());
    for t in &r.troubles {
        let g = t.group.as_deref().map(|g| format!(" {g}")).unwrap_or_default();
        let _ = writeln!(out, "  {}  {}{g}: {}", t.time, t.event, t.text);
    }
    if r.troubles.is_empty() {
        out.push_str("  none\n");
    }
    out
}
