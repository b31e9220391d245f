//! The commands that talk to the firewall: `push` (one attempt, recorded as
//! the belief and followed by a hold), `sync` (definitions: Add, then
//! Update where the answer is 502) and the online part of `check`.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, SystemTime};

use super::exit;
use super::probe::load;
use crate::config::Plan;
use crate::firewall::api::Api;
use crate::firewall::decide::Want;
use crate::firewall::slot::Class;
use crate::state::{Belief, StateDir};

fn runtime() -> Option<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().ok()
}

fn known_group(plan: &Plan, group: &str, err: &mut dyn Write) -> bool {
    if plan.groups.iter().any(|g| g.name() == group) {
        return true;
    }
    let names: Vec<&str> = plan.groups.iter().map(|g| g.name()).collect();
    let _ = writeln!(err, "failoverd: unknown group {group:?}; groups: {}", names.join(", "));
    false
}

/// The state at the start of a command that holds the lock, as the
/// daemon would load it (docs/state-file.md): damage set aside, the
/// previous state used, or every group held; each finding on `err`.
/// `None`: an entry that is not a file, or damage that cannot be set aside.
fn recover(dir: &StateDir, plan: &Plan, err: &mut dyn Write) -> Option<crate::state::StateFile> {
    let groups: Vec<&str> = plan.groups.iter().map(|g| g.name()).collect();
    match dir.recover(&groups, SystemTime::now()) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                let _ = writeln!(err, "warning: {w}");
            }
            if loaded.lost {
                let _ = writeln!(
                    err,
                    "warning: no usable state: every group is now held ({}); the daemon mails this when it starts",
                    crate::state::STATE_LOST_REASON
                );
            }
            Some(loaded.state)
        }
        Err(e) => {
            let _ = writeln!(
                err,
                "failoverd: cannot use the state directory {}: {e}",
                dir.path.display()
            );
            None
        }
    }
}

/// `failoverd push GROUP --activate|--deactivate [--hold DUR]`.
pub fn push(path: &Path, group: &str, want: Want, hold: Duration, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let Some(plan) = load(path, err) else {
        return exit::CONFIG;
    };
    if !known_group(&plan, group, err) {
        return exit::CONFIG;
    }
    let dir = StateDir::new(&plan.settings.state_dir);
    let lock = match dir.try_lock() {
        Ok(Some(l)) => l,
        Ok(None) => return super::control::push_via_daemon(&plan, group, want, hold, out, err),
        Err(e) => {
            let _ = writeln!(
                err,
                "failoverd: cannot use the state directory {}: {e}",
                dir.path.display()
            );
            return exit::CONFIG;
        }
    };
    if plan.settings.firewall.dry_run {
        let _ = writeln!(err, "failoverd: dry_run = true in the settings: nothing sent");
        return exit::FAILED;
    }
    let api = match Api::new(&plan) {
        Ok(a) => a,
        Err(e) => {
            let _ = writeln!(err, "failoverd: {e}");
            return exit::CONFIG;
        }
    };
    let Some(rt) = runtime() else { return exit::FAILED };
    if let Some(msg) = standby(&plan, &rt) {
        let _ = writeln!(out, "{group}: {want}: {msg}");
        let _ = writeln!(err, "{group}: no hold placed (the push was not taken)");
        return exit::FAILED;
    }
    let url = plan.settings.firewall.url.clone();
    let Some(mut state) = recover(&dir, &plan, err) else {
        return exit::CONFIG;
    };
    state
        .firewalls
        .entry(url.clone())
        .or_default()
        .beliefs
        .insert(group.into(), Belief::Unknown);
    if let Err(e) = dir.save(&state) {
        let _ = writeln!(
            err,
            "failoverd: cannot record the push in {}: {e}",
            dir.file().display()
        );
        return exit::FAILED;
    }
    let answer = rt.block_on(api.push(group, want));
    let fw = state.firewalls.entry(url).or_default();
    let accepted = answer.class == Class::Accepted;
    if accepted {
        fw.beliefs.insert(group.into(), Belief::of(want));
        fw.set_at.insert(group.into(), SystemTime::now());
    }
    // Refused (or not sent): no hold. Accepted or unknown: the hold, which
    // never shortens one in place nor takes its reason (docs/safety.md).
    let holds = matches!(answer.class, Class::Accepted | Class::Unknown(_));
    let gs = state.groups.entry(group.into()).or_default();
    let placed = holds
        && gs.hold_until(
            crate::time::wall_add(SystemTime::now(), hold),
            &format!("manual push of {want}"),
        );
    let in_force = gs.hold.clone().filter(|_| holds);
    let saved = dir.save(&state);
    drop(lock);
    let _ = writeln!(out, "{group}: {want}: {}", answer.text);
    if let Class::Configuration(fix) = &answer.class {
        let _ = writeln!(err, "fix: {fix}");
    }
    if let Err(e) = saved {
        let _ = writeln!(
            err,
            "failoverd: the answer could not be recorded in {}: {e}",
            dir.file().display()
        );
    }
    let _ = writeln!(err, "{}", hold_line(group, hold, in_force.as_ref(), placed));
    if accepted { exit::OK } else { exit::FAILED }
}

/// With `[ha]`, on a host that does not hold the address (a standby), why
/// a push without a daemon sends nothing (docs/ha.md): the role is read as
/// the daemon's watcher reads it, once.
fn standby(plan: &Plan, rt: &tokio::runtime::Runtime) -> Option<String> {
    let ha = plan.settings.ha.as_ref()?;
    let rx = rt.block_on(crate::ha::watch::start(ha.address));
    let kind = rx.borrow().kind;
    if kind == crate::ha::RoleKind::Active {
        return None;
    }
    Some(format!(
        "this host is standby (it does not hold {}): nothing was sent and no hold placed; run `failoverd push` on the active host (the peer: {})",
        ha.address, ha.peer
    ))
}

/// What a push without a daemon did to the group's hold.
fn hold_line(group: &str, dur: Duration, hold: Option<&crate::state::Hold>, placed: bool) -> String {
    let Some(h) = hold else {
        return format!("{group}: no hold placed (the push was not taken)");
    };
    let until = humantime::format_rfc3339_seconds(h.until);
    if placed {
        let dur = humantime::format_duration(dur);
        format!("{group} is held for {dur}, until {until} (failoverd release {group} ends it)")
    } else {
        format!(
            "{group} stays held until {until}: {} (a longer hold was already in place; failoverd release {group} ends it)",
            h.reason
        )
    }
}

/// `failoverd sync [--group G] [--changed-only]`: through the daemon
/// when one holds the state directory (docs/definitions.md), else
/// directly. Nothing is recorded in the state directory: `--changed-only`
/// compares with what the firewall holds now.
pub fn sync(path: &Path, only: Option<&str>, changed_only: bool, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let Some(plan) = load(path, err) else {
        return exit::CONFIG;
    };
    if let Some(g) = only
        && !known_group(&plan, g, err)
    {
        return exit::CONFIG;
    }
    let dir = StateDir::new(&plan.settings.state_dir);
    // A daemon holds the lock; without a lock file there is none, and
    // none is made.
    let _lock = match dir.path.join("lock").exists().then(|| dir.try_lock()) {
        Some(Ok(None)) => return super::control::sync_via_daemon(&plan, only, changed_only, out, err),
        Some(Ok(Some(l))) => Some(l),
        _ => None,
    };
    let api = match Api::new(&plan) {
        Ok(a) => a,
        Err(e) => {
            let _ = writeln!(err, "failoverd: {e}");
            return exit::CONFIG;
        }
    };
    let Some(rt) = runtime() else { return exit::FAILED };
    let defs: Vec<_> = plan.groups.iter().map(|g| g.def.clone()).collect();
    let dry = plan.settings.firewall.dry_run;
    let ask = crate::firewall::sync::Ask {
        only,
        changed_only,
        dry,
    };
    let outcome = rt.block_on(crate::firewall::sync::run(&api, &defs, ask, None));
    if outcome.print(out, err) {
        exit::OK
    } else {
        exit::FAILED
    }
}

/// The online part of `check`: the read-only Get, the certificate the
/// firewall presented, and each group's definition against the
/// firewall's (docs/definitions.md; differences are warnings). Returns
/// true when the Get was accepted.
pub fn online(plan: &Plan, out: &mut dyn Write, err: &mut dyn Write) -> bool {
    let api = match Api::new(plan) {
        Ok(a) => a,
        Err(e) => {
            let _ = writeln!(err, "online: {e}");
            return false;
        }
    };
    let Some(rt) = runtime() else { return false };
    let result = rt.block_on(api.get_groups());
    if let Some(fp) = api.fingerprint() {
        let _ = writeln!(
            out,
            "online: certificate presented: SHA-256 {fp} (pin_sha256 = \"{fp}\")"
        );
    }
    match result {
        Ok((reply, fw)) => {
            let _ = writeln!(
                out,
                "online: the firewall accepted the Get ({} failover group(s) defined there)",
                reply.records.len()
            );
            definitions(plan, fw, out, err);
            true
        }
        Err(answer) => {
            let _ = writeln!(err, "online: the Get was not accepted: {}", answer.text);
            false
        }
    }
}

/// Each group's line ("in step", "missing on the firewall", "differs:"
/// with each field both ways) and the firewall's groups no file defines;
/// a reply that cannot be compared is said so, never taken as "differs".
fn definitions(
    plan: &Plan,
    fw: Result<Vec<crate::firewall::read::FwGroup>, crate::firewall::read::ReadError>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) {
    let compared = fw
        .map_err(|e| e.to_string())
        .and_then(|fw| crate::firewall::compare::compare(plan.groups.iter().map(|g| &g.def), &fw));
    let c = match compared {
        Ok(c) => c,
        Err(why) => {
            let _ = writeln!(err, "online: warning: the definitions were not compared: {why}");
            return;
        }
    };
    for (g, v) in &c.groups {
        let _ = writeln!(out, "online: definition {g}: {}", v.describe());
        if v.in_step() {
            continue;
        }
        let fix = if v.sendable() {
            format!(
                "failoverd sync --group {g} sends the file's; failoverd import --group {g} --force takes the firewall's"
            )
        } else {
            "rename the group in its file or on the firewall, so both spell it alike".to_string()
        };
        let _ = writeln!(err, "online: warning: group {g}: {}: {fix}", v.describe());
    }
    for g in &c.unknown {
        let _ = writeln!(
            err,
            "online: warning: group {g} is defined on the firewall but in no group file (failoverd import --group {g} writes one)"
        );
    }
}
