//! `failoverd check`: validates everything, prints every error and warning
//! (stderr) and one line per group saying what failoverd will do when the
//! group fails, and why (stdout).

use std::io::Write;
use std::path::Path;

use crate::config::groups::Intent;
use crate::config::settings::Via;
use crate::config::{self, Group, GroupKind, Plan};

use super::exit;

/// Runs the check; returns the exit code (0 valid, 1 invalid or, with
/// `online`, a Get not accepted; 2 settings unreadable).
pub fn run(path: &Path, online: bool, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let loaded = match config::load(path) {
        Ok(l) => l,
        Err(e) => {
            let _ = writeln!(err, "failoverd: {e}");
            return exit::CONFIG;
        }
    };
    for d in loaded.diagnostics.sorted() {
        let _ = writeln!(err, "{d}");
    }
    let errors = loaded.diagnostics.errors().count();
    let mut warnings = loaded.diagnostics.warnings().count();
    let Some(plan) = loaded.plan else {
        let _ = writeln!(
            err,
            "{}: invalid: {errors} error(s), {warnings} warning(s)",
            path.display()
        );
        return exit::FAILED;
    };
    // What run refuses but the files cannot show: ICMP permission. Only a
    // warning: check may run as another user than the service.
    if let Err(msg) = crate::daemon::icmp_allowed(&plan) {
        let _ = writeln!(
            err,
            "{}: warning: {msg}; failoverd run as this user would exit 2",
            path.display()
        );
    }
    // Other instances' files beside this one (docs/service.md).
    warnings += super::instances::warn(path, &plan, err);
    for g in &plan.groups {
        let _ = writeln!(out, "{}", safety_line(&plan, g));
    }
    for h in &plan.settings.hooks {
        let _ = writeln!(out, "{}", hook_line(h, plan.settings.ha.is_some()));
    }
    let _ = writeln!(
        err,
        "{}: valid: {} group(s), {} connection(s), {warnings} warning(s)",
        path.display(),
        plan.groups.len(),
        plan.settings.connections.len()
    );
    if online {
        let api = super::firewall::online(&plan, out, err);
        let view = snmp_online(&plan, out, err);
        if !(api && view) {
            return exit::FAILED;
        }
    }
    exit::OK
}

/// What a `[[hooks]]` table runs, for which events, and where.
pub fn hook_line(h: &crate::config::settings::Hook, ha: bool) -> String {
    let events = match &h.events {
        None => "every event".to_string(),
        Some(k) => k.iter().map(|k| k.name()).collect::<Vec<_>>().join(", "),
    };
    let program: Vec<String> = h.command.iter().map(|a| format!("{a:?}")).collect();
    let host = if ha { ", on the active host only" } else { "" };
    format!(
        "hook {}: runs [{}] for {events} (timeout {}, no shell{host})",
        h.name,
        program.join(", "),
        humantime::format_duration(h.timeout)
    )
}

/// With `[snmp]`: one walk of the firewall's tunnel table, then each
/// member's firewall view and each group's carrying member; or why the
/// table could not be read (docs/health.md, "The firewall's own view").
/// Returns false when it could not.
fn snmp_online(plan: &Plan, out: &mut dyn Write, err: &mut dyn Write) -> bool {
    use crate::firewall::view::{GroupMembers, members};
    let Some(cfg) = &plan.settings.snmp else {
        return true;
    };
    let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
        let _ = writeln!(err, "online: snmp: cannot start the runtime");
        return false;
    };
    let result = rt.block_on(async {
        let address = crate::firewall::view::walk::resolve(cfg).await?;
        let walked = crate::firewall::view::walk::walk_at(cfg, address).await?;
        Ok::<_, crate::firewall::view::WalkError>((address, walked))
    });
    match result {
        Ok((address, walked)) => {
            let _ = writeln!(
                out,
                "online: snmp: read the tunnel table at {address}: {} row(s) in {} ms",
                walked.rows.len(),
                walked.took.as_millis()
            );
            let views = members::group_views(
                &walked.rows,
                &GroupMembers::of_plan(&plan.groups),
                tokio::time::Instant::now(),
            );
            for g in views {
                let _ = writeln!(out, "online: snmp: {}: the firewall carries {}", g.group, g.carrying);
                for (m, v) in &g.members {
                    let _ = writeln!(out, "online: snmp: {}/{m}: {v}", g.group);
                }
            }
            true
        }
        Err(e) => {
            let _ = writeln!(err, "online: snmp: the tunnel table could not be read: {e}");
            false
        }
    }
}

/// One line: what failoverd does when the group fails, and why.
pub fn safety_line(plan: &Plan, g: &Group) -> String {
    let fw = &plan.settings.firewall;
    let action = match (&g.kind, g.identical.as_deref()) {
        (GroupKind::Intent(Intent::Active), _) => {
            "keep it activated: push Active only, never DeActive (intent <Active> in the file)".to_string()
        }
        (GroupKind::Intent(Intent::DeActive), _) => {
            "keep it deactivated: push DeActive only (intent <DeActive> in the file)".to_string()
        }
        (GroupKind::Underlay, Some((a, b))) => format!(
            "mail only, never deactivate (members {a} and {b} are probed identically, so a failure cannot be pinned on one)"
        ),
        (GroupKind::Underlay, None) => format!(
            "deactivate once every member is down (all members via \"underlay\"), after it was seen up; Active again when a member recovers, or after {}",
            humantime::format_duration(fw.reactivate_after)
        ),
        (GroupKind::Tunnel, _) => format!(
            "restart it (DeActive, then Active at once) after {} down, at most every {}; it is never left deactivated ({})",
            humantime::format_duration(fw.restart_after),
            humantime::format_duration(fw.restart_backoff),
            tunnel_reason(plan, g)
        ),
    };
    let dry = if fw.dry_run {
        "; dry run: pushes are logged, not sent"
    } else {
        ""
    };
    format!("{}: on failure: {action}; {}{dry}", g.name(), mail_words(plan, g))
}

/// Which members make a group a tunnel group, saying when `via` was
/// defaulted.
fn tunnel_reason(plan: &Plan, g: &Group) -> String {
    let parts: Vec<String> = g
        .def
        .members
        .iter()
        .filter_map(|m| plan.settings.connections.get(&m.name))
        .filter(|c| c.via == Via::Tunnel)
        .map(|c| {
            if c.via_defaulted {
                format!(
                    "{} via \"tunnel\" by default: set via = \"underlay\" if its targets answer without the tunnel",
                    c.name
                )
            } else {
                format!("{} via \"tunnel\"", c.name)
            }
        })
        .collect();
    parts.join(", ")
}

fn mail_words(plan: &Plan, g: &Group) -> String {
    if matches!(g.kind, GroupKind::Intent(_)) {
        return "events logged, not mailed (intent group)".into();
    }
    match (&plan.settings.mail, g.def.mail) {
        (_, false) => "events logged (MailNotification off)".into(),
        (None, true) => "MailNotification on, but no [mail]: events logged".into(),
        (Some(m), true) => format!("events mailed to {}", m.to.join(", ")),
    }
}
