//! Each group and member name is held once (BENCHMARKS.md, "One copy of
//! each name"): a member names its connection with the settings' copy, and
//! the names read from state.json key its maps with the plan's copies, at
//! start and after a reload, while the entries themselves are unchanged.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::{BASE_GROUP, BASE_SETTINGS, Case};
use failoverd::daemon::core::Core;
use failoverd::daemon::persist::Clocks;
use failoverd::firewall::decide::Want;
use failoverd::state::{Belief, StateFile};

fn plan_of(case: &Case) -> failoverd::config::Plan {
    let loaded = failoverd::config::load(&case.settings_path()).unwrap();
    loaded
        .plan
        .unwrap_or_else(|| panic!("valid: {:?}", loaded.diagnostics.sorted()))
}

fn case() -> Case {
    let settings = format!("state_dir = \"/nonexistent/failoverd-names-test\"\n{BASE_SETTINGS}");
    Case::new(&settings, &[("g.xml", BASE_GROUP)])
}

/// A state as read from a file: every key its own allocation.
fn saved_state(url: &str) -> StateFile {
    let mut s = StateFile::default();
    let until = SystemTime::UNIX_EPOCH + Duration::from_secs(4_000_000_000);
    s.groups.entry("G".into()).or_default().hold_until(until, "maintenance");
    s.groups.entry("Gone".into()).or_default().restart_active_pending = true;
    let fw = s.firewalls.entry(url.into()).or_default();
    fw.beliefs.insert("G".into(), Belief::DeActive);
    fw.set_at.insert("G".into(), SystemTime::UNIX_EPOCH);
    fw.unconfirmed.insert("G".into(), Want::Active);
    fw.decided.insert("G".into(), true);
    s
}

/// Every key `G` of `core`'s state is the plan's copy; the entries are
/// those saved; the group the plan lost is still there.
fn assert_shared(core: &Core, url: &str, what: &str) {
    let name = &core.plan().groups[0].def.name;
    let state = core.state();
    let is_plans = |k: &Arc<str>| Arc::ptr_eq(k, name);
    let (k, gs) = state.groups.get_key_value("G").unwrap();
    assert!(is_plans(k), "{what}: groups");
    assert_eq!(gs.hold.as_ref().map(|h| h.reason.as_str()), Some("maintenance"));
    assert!(
        state.groups["Gone"].restart_active_pending,
        "{what}: a group not in the plan is kept"
    );
    let fw = &state.firewalls[url];
    assert!(is_plans(fw.beliefs.get_key_value("G").unwrap().0), "{what}: beliefs");
    assert!(is_plans(fw.set_at.get_key_value("G").unwrap().0), "{what}: set_at");
    // The start takes unconfirmed pushes and decided DeActives over; any
    // left share the copy too.
    let g = |k: &&Arc<str>| &***k == "G";
    assert!(fw.unconfirmed.keys().filter(g).all(is_plans), "{what}: unconfirmed");
    assert!(fw.decided.keys().filter(g).all(is_plans), "{what}: decided");
    assert_eq!(fw.beliefs["G"], Belief::DeActive);
}

#[test]
fn state_json_names_share_the_plans_copy_at_start_and_after_a_reload() {
    let case = case();
    let plan = plan_of(&case);
    let url = plan.settings.firewall.url.clone();
    let clocks = Clocks::now();
    let mut core = Core::new(plan, saved_state(&url), clocks);
    assert_shared(&core, &url, "start");
    let _ = core.reload(plan_of(&case), 1, clocks);
    assert_shared(&core, &url, "reload");
}

#[test]
fn a_member_names_its_connection_with_the_settings_copy() {
    let plan = plan_of(&case());
    for m in &plan.groups[0].def.members {
        let c = plan.settings.connections.get(&m.name).unwrap();
        assert!(Arc::ptr_eq(&m.name, &c.name), "member {}", m.name);
    }
}
