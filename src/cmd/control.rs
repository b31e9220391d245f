//! The commands that talk to the running daemon through its control socket:
//! `status` (and `status --check`, judged by `cmd::plugin`), `hold`,
//! `release`, and `push` while a daemon runs.
//!
//! Exit: 0; 2 settings, arguments or unknown group; 3 no daemon (or, for
//! `push`, a daemon that does not answer); `push`: 1 not accepted.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::exit;
use crate::config::Plan;
use crate::control::{CallError, Reply, Request, Unreached, call};
use crate::firewall::decide::Want;
use crate::view::Status;

/// Exit code: no daemon, or one that does not answer.
pub const NO_DAEMON: i32 = 3;
const TIMEOUT: Duration = Duration::from_secs(10);
/// A push waits for the firewall's answer (and its retries' first try).
const PUSH_TIMEOUT: Duration = Duration::from_secs(120);

/// The daemon's state directory, and the plan when the settings are valid
/// (an invalid file still lets the commands reach the daemon).
fn target(path: &Path, err: &mut dyn Write) -> Option<(PathBuf, Option<Plan>)> {
    let dir = match crate::config::state_dir_of(path) {
        Ok(d) => d,
        Err(e) => {
            let _ = writeln!(err, "failoverd: {e}");
            return None;
        }
    };
    let plan = crate::config::load(path).ok().and_then(|l| l.plan);
    Some((plan.as_ref().map_or(dir, |p| p.settings.state_dir.clone()), plan))
}

fn groups_known(plan: &Option<Plan>, groups: &[String], err: &mut dyn Write) -> bool {
    let Some(plan) = plan else { return true };
    let names: Vec<&str> = plan.groups.iter().map(|g| g.name()).collect();
    for g in groups {
        if !names.contains(&g.as_str()) {
            let _ = writeln!(err, "failoverd: unknown group {g:?}; groups: {}", names.join(", "));
            return false;
        }
    }
    true
}

fn ask(state_dir: &Path, req: &Request, timeout: Duration, err: &mut dyn Write) -> Result<Reply, i32> {
    match call(state_dir, req, timeout) {
        Ok(r) => Ok(r),
        Err(CallError::NoDaemon(why, socket)) => {
            let _ = writeln!(err, "failoverd: {}", unreached(why, &socket));
            Err(NO_DAEMON)
        }
        Err(CallError::NoAnswer(e)) => {
            let _ = writeln!(err, "failoverd: the daemon does not answer: {e}");
            Err(NO_DAEMON)
        }
    }
}

/// Why no daemon could be asked, with the socket's absolute path and the
/// fix.
fn unreached(why: Unreached, socket: &Path) -> String {
    let s = socket.display();
    match why {
        Unreached::NoSocket => format!(
            "no daemon runs with these settings: no control socket at {s} (start it: systemctl start failoverd; or give the daemon's settings with -c)"
        ),
        Unreached::PermissionDenied => format!(
            "permission denied on the control socket {s}: it is the service user's (mode 0600); run this as root"
        ),
        Unreached::NotListening => {
            format!("no daemon answers on {s}: a socket left by a daemon that stopped (systemctl status failoverd)")
        }
    }
}

/// `failoverd status`; with `json`, the `/status` document as the daemon
/// sent it (once this version can read it).
pub fn status(path: &Path, json: bool, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let Some((dir, _)) = target(path, err) else {
        return exit::CONFIG;
    };
    let reply = match ask(&dir, &Request::Status, TIMEOUT, err) {
        Ok(r) => r,
        Err(code) => return code,
    };
    match serde_json::from_value::<Status>(reply.body.clone()) {
        Ok(_) if json => {
            let text = serde_json::to_string_pretty(&reply.body).unwrap_or_default();
            let _ = writeln!(out, "{text}");
            exit::OK
        }
        Ok(status) => {
            let _ = write!(out, "{}", render(&status));
            exit::OK
        }
        Err(e) => {
            // A daemon of another version: say so rather than print "?".
            let _ = writeln!(
                err,
                "failoverd: cannot read the daemon's status ({e}); is it the same version as this command?"
            );
            exit::FAILED
        }
    }
}

/// `failoverd status --check [--group G]...`: the monitoring plugin
/// (docs/monitoring.md). Everything goes to stdout as one line, for the
/// scheduler; the exit code is the plugin state.
pub fn status_check(path: &Path, groups: &[String], out: &mut dyn Write) -> i32 {
    let verdict = match check_reply(path) {
        Ok(reply) => match serde_json::from_value::<Status>(reply.body.clone()) {
            Ok(status) => super::plugin::judge(&status, groups),
            Err(e) => super::plugin::unknown(&format!(
                "cannot read the daemon's answer ({e}); is it the same version as this command?"
            )),
        },
        Err(why) => super::plugin::unknown(&why),
    };
    let _ = out.write_all(verdict.line.as_bytes());
    verdict.level.code()
}

/// The daemon's reply to `status`, or what failed, said for the plugin's
/// line: unreadable settings, no daemon (which cause, the absolute path),
/// no answer, a refusal.
fn check_reply(path: &Path) -> Result<Reply, String> {
    let dir = match crate::config::state_dir_of(path) {
        Ok(d) => d,
        Err(e) => return Err(format!("cannot find the daemon: {e}")),
    };
    let dir = match crate::config::load(path).ok().and_then(|l| l.plan) {
        Some(p) => p.settings.state_dir,
        None => dir,
    };
    match call(&dir, &Request::Status, TIMEOUT) {
        Ok(r) if r.ok => Ok(r),
        Ok(r) => Err(format!("the daemon refused: {}", r.error.unwrap_or_default())),
        Err(CallError::NoDaemon(why, socket)) => Err(unreached(why, &socket)),
        Err(CallError::NoAnswer(e)) => Err(format!("the daemon does not answer: {e}")),
    }
}

fn when(secs: Option<u64>) -> String {
    secs.map_or("-".into(), crate::time::rfc3339_secs)
}

/// "api: usable, last answer 2m ago", or the problem.
fn api_line(a: &crate::view::Api, now: std::time::SystemTime) -> String {
    let ago = a.last_success.map(|s| {
        let then = crate::time::from_unix_secs(s);
        let d = now.duration_since(then).unwrap_or_default();
        format!(
            "last answer {} ago",
            humantime::format_duration(Duration::from_secs(d.as_secs()))
        )
    });
    match (&a.problem, ago) {
        (Some(p), Some(ago)) => format!("api: UNUSABLE: {p} ({ago})\n"),
        (Some(p), None) => format!("api: UNUSABLE: {p}\n"),
        (None, Some(ago)) => format!("api: usable, {ago}\n"),
        (None, None) => "api: no answer yet\n".to_string(),
    }
}

/// The status as text for a person.
pub fn render(s: &Status) -> String {
    let mut t = String::new();
    if let Some(h) = &s.ha {
        t += &format!(
            "pair: this host is {} since {} (address {}; peer {})\n",
            h.role,
            when(h.since),
            h.address,
            h.peer
        );
        if let Some(e) = &h.peer_error {
            t += &format!("  peer: {e}\n");
        }
    }
    for g in &s.groups {
        let active = g.expected_active.as_deref().unwrap_or("-");
        let armed = if g.armed { "armed" } else { "not armed" };
        t += &format!(
            "{} ({}): {} since {}, expected active {active}, {armed}\n",
            g.name,
            g.kind,
            g.state,
            when(g.since),
        );
        t += &format!(
            "  firewall: {}, last set by failoverd at {}\n",
            g.belief,
            when(g.last_set_by_failoverd)
        );
        if let Some(f) = &g.firewall {
            let disagrees = if f.disagrees { " (DISAGREES with failoverd)" } else { "" };
            t += &format!("  firewall carries: {}{disagrees}\n", f.carrying);
        }
        if let Some(p) = &g.last_push {
            t += &format!("  last push: {} -> {}\n", p.push, p.answer);
        }
        if let Some(d) = &g.definition {
            t += &format!("  definition on the firewall: {d}\n");
        }
        if let Some(n) = g.firewall.as_ref().and_then(|f| f.not_honoured.as_deref()) {
            t += &format!("  NOT HONOURED: {n}, but the tunnel table does not show it\n");
        }
        if let Some(f) = &g.flap_damping {
            t += &format!(
                "  flap damping: Active in {} if it stays up (held for {} after {} DeActives within flap_window)\n",
                f.active_in, f.hold, f.deactives
            );
        }
        if let Some(h) = &g.hold {
            t += &format!("  HELD until {}: {}\n", when(Some(h.until)), h.reason);
        }
        let peer_holds = s.ha.iter().flat_map(|h| &h.peer_holds).filter(|h| h.group == g.name);
        for h in peer_holds {
            t += &format!("  HELD by the peer until {}: {}\n", when(Some(h.until)), h.reason);
        }
        if let Some(w) = &g.withheld {
            t += &format!("  WITHHELD by the hold: {w} (failoverd wants it; release the hold to let it go)\n");
        }
        for m in &g.members {
            t += &format!("  member {}: {}\n", m.name, m.state);
            if let Some(p) = &m.passed_over {
                t += &format!("    {p}\n");
            }
            if let Some(v) = &m.firewall {
                t += &format!("    on the firewall: {v}\n");
            }
            if let Some(n) = &m.firewall_note {
                t += &format!("    {n}\n");
            }
            for x in &m.targets {
                let (result, detail) = match &x.last {
                    Some(c) => (
                        c.result.as_str(),
                        c.rtt.as_deref().or(c.reason.as_deref()).unwrap_or(""),
                    ),
                    None => ("none yet", ""),
                };
                t += &format!(
                    "    {} {}: {} (last check {result} {detail}) {}\n",
                    x.condition, x.target, x.state, x.reason
                );
            }
        }
    }
    if s.guard_tripped {
        t += "guard: holding DeActives\n";
    }
    t += &api_line(&s.api, std::time::SystemTime::now());
    if let Some(snmp) = &s.snmp {
        match &snmp.error {
            Some(e) => t += &format!("snmp: the tunnel table cannot be read: {e}\n"),
            None => t += &format!("snmp: tunnel table read at {}\n", when(snmp.last_read)),
        }
    }
    if let Some(why) = &s.definitions_problem {
        t += &format!("definitions: not compared at the last Get: {why}\n");
    }
    for p in &s.problems {
        t += &format!("problem: {p}\n");
    }
    t
}

/// `failoverd hold GROUP...|--all [--for DUR] [--reason TEXT]`.
pub fn hold(
    path: &Path,
    groups: &[String],
    dur: Duration,
    reason: &str,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let Some((dir, plan)) = target(path, err) else {
        return exit::CONFIG;
    };
    if !groups_known(&plan, groups, err) {
        return exit::CONFIG;
    }
    let req = Request::Hold {
        groups: groups.to_vec(),
        for_secs: dur.as_secs(),
        reason: reason.to_string(),
    };
    let reply = match ask(&dir, &req, TIMEOUT, err) {
        Ok(r) => r,
        Err(code) => return code,
    };
    if !reply.ok {
        let _ = writeln!(err, "failoverd: {}", reply.error.unwrap_or_default());
        return exit::CONFIG;
    }
    let _ = writeln!(out, "held for {}", humantime::format_duration(dur));
    for g in reply.body["deactivated"].as_array().unwrap_or(&Vec::new()) {
        let _ = writeln!(
            out,
            "note: failoverd currently leaves {} deactivated",
            g.as_str().unwrap_or("?")
        );
    }
    exit::OK
}

/// `failoverd release GROUP...|--all`.
pub fn release(path: &Path, groups: &[String], out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let Some((dir, plan)) = target(path, err) else {
        return exit::CONFIG;
    };
    if !groups_known(&plan, groups, err) {
        return exit::CONFIG;
    }
    match ask(
        &dir,
        &Request::Release {
            groups: groups.to_vec(),
        },
        TIMEOUT,
        err,
    ) {
        Ok(r) if r.ok => {
            let _ = writeln!(out, "released; the next push is decided from current health");
            exit::OK
        }
        Ok(r) => {
            let _ = writeln!(err, "failoverd: {}", r.error.unwrap_or_default());
            exit::CONFIG
        }
        Err(code) => code,
    }
}

/// `push` through a running daemon: sent next for its group.
pub fn push_via_daemon(
    plan: &Plan,
    group: &str,
    want: Want,
    hold: Duration,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let req = Request::Push {
        group: group.to_string(),
        want,
        hold_secs: hold.as_secs(),
    };
    let reply = match ask(&plan.settings.state_dir, &req, PUSH_TIMEOUT, err) {
        Ok(r) => r,
        Err(code) => return code,
    };
    if !reply.ok {
        let _ = writeln!(err, "failoverd: {}", reply.error.unwrap_or_default());
        return exit::FAILED;
    }
    let _ = writeln!(out, "{group}: {want}: {}", reply.body["answer"].as_str().unwrap_or("?"));
    let _ = writeln!(err, "{}", hold_line(group, hold, &reply.body["hold"]));
    if reply.body["accepted"].as_bool() == Some(true) {
        exit::OK
    } else {
        exit::FAILED
    }
}

/// What a manual push did to the group's hold, from the daemon's reply:
/// none placed (refused, or a standby), placed, or one in place kept.
fn hold_line(group: &str, dur: Duration, hold: &serde_json::Value) -> String {
    let Some(until) = hold["until"].as_u64() else {
        return format!("{group}: no hold placed (the push was not taken)");
    };
    let reason = hold["reason"].as_str().unwrap_or("");
    if hold["placed"].as_bool() == Some(true) {
        format!(
            "{group} is held for {}, until {} (failoverd release {group} ends it)",
            humantime::format_duration(dur),
            when(Some(until))
        )
    } else {
        format!(
            "{group} stays held until {}: {reason} (a longer hold was already in place; failoverd release {group} ends it)",
            when(Some(until))
        )
    }
}

/// `failoverd sync` through the running daemon: it runs the sync as the
/// command would, beside its pushes, and answers with the lines.
pub fn sync_via_daemon(
    plan: &Plan,
    group: Option<&str>,
    changed_only: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let req = Request::Sync {
        group: group.map(str::to_string),
        changed_only,
    };
    let reply = match ask(&plan.settings.state_dir, &req, PUSH_TIMEOUT, err) {
        Ok(r) => r,
        Err(code) => return code,
    };
    if !reply.ok {
        let _ = writeln!(err, "failoverd: {}", reply.error.unwrap_or_default());
        return exit::FAILED;
    }
    match serde_json::from_value::<crate::firewall::sync::Outcome>(reply.body) {
        Ok(outcome) if outcome.print(out, err) => exit::OK,
        Ok(_) => exit::FAILED,
        Err(e) => {
            let _ = writeln!(err, "failoverd: the daemon's answer cannot be read: {e}");
            exit::FAILED
        }
    }
}
