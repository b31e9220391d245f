//! The memory savings of issue #30 keep the behaviour they replaced:
//! connections whose timing is `[probe]`'s share one copy of it, and one
//! with its own keys still gets its own values.

mod common;

use std::sync::Arc;

use common::{BASE_GROUP, BASE_SETTINGS, Case};
use failoverd::config::Plan;

fn plan(settings: &str) -> Plan {
    let case = Case::new(settings, &[("g.xml", BASE_GROUP)]);
    let loaded = failoverd::config::load(&case.settings_path()).unwrap();
    let errors: Vec<String> = loaded.diagnostics.errors().map(|d| d.to_string()).collect();
    loaded.plan.unwrap_or_else(|| panic!("expected valid, got {errors:#?}"))
}

#[test]
fn connections_with_the_probe_timing_share_one_copy_and_overrides_stay_their_own() {
    let settings = format!(
        "{}\n[connections.C]\ntargets = [\"192.0.2.3\"]\nvia = \"underlay\"\n\n[probe]\ninterval = \"2s\"\n",
        BASE_SETTINGS.replacen("via = \"underlay\"\n", "via = \"underlay\"\nfall = 5\n", 1)
    );
    let p = plan(&settings);
    let c = &p.settings.connections;
    let (a, b, cc) = (&c["A"].timing, &c["B"].timing, &c["C"].timing);
    assert!(Arc::ptr_eq(b, cc), "B and C take [probe]'s timing: one copy");
    assert!(!Arc::ptr_eq(a, b), "A has its own fall");
    assert_eq!((a.interval.as_secs(), a.fall), (2, 5));
    assert_eq!((b.interval.as_secs(), b.fall), (2, p.settings.probe.timing.fall));
    assert_eq!(**b, p.settings.probe.timing);
}
