//! What the engine holds per member (issue #30): measured with a counting
//! allocator around `Engine::new` for many groups of two one-target
//! members, the shape of scripts/bench.sh's ICMP headline. Was 949 B in
//! 14.5 allocations (531 B more at its peak); then 520 B in 3 (one stream
//! of 304 B, one slot of 72 B, the rest per group), 33 B more at its peak;
//! now 544 B in 4: the stream's key moved out of the stream table into one
//! `Arc` that the stream's probe task shares (the engine holds 24 B more,
//! but the daemon's streams made a 128 B copy of the key before, so the
//! process holds one allocation fewer per stream, and about 100 B less).

mod common;
mod countalloc;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;

use common::Case;
use countalloc::{COUNT, LIVE, PEAK};
use failoverd::engine::Engine;

const GROUPS: usize = 500;

fn case() -> Case {
    let mut settings = String::from(
        "groups = [\"groups.xml\"]\n[firewall]\nurl = \"https://127.0.0.1:9\"\nusername = \"bench\"\ndry_run = true\n",
    );
    let mut groups = String::from("<VPNFailoverGroups>\n");
    for g in 0..GROUPS {
        let (a, b) = (2 * g, 2 * g + 1);
        for c in [a, b] {
            let _ = write!(
                settings,
                "[connections.C{c}]\ntargets = [\"127.10.{}.{}\"]\nvia = \"tunnel\"\n",
                c / 250,
                c % 250 + 1
            );
        }
        let _ = writeln!(
            groups,
            "<VPNFailoverGroup><GroupDetail><Name>G{g}</Name><MemberConnections><Connection>C{a}</Connection>\
             <Connection>C{b}</Connection></MemberConnections><FailoverCondition><FailoverIF><Protocol>PING\
             </Protocol></FailoverIF></FailoverCondition></GroupDetail></VPNFailoverGroup>"
        );
    }
    groups.push_str("</VPNFailoverGroups>\n");
    Case::new(&settings, &[("groups.xml", &groups)])
}

#[test]
fn the_engine_holds_few_bytes_and_allocations_per_one_target_member() {
    let case = case();
    let plan = failoverd::config::load(&case.settings_path())
        .unwrap()
        .plan
        .expect("valid plan");
    let persisted = BTreeMap::new();
    let (live, count) = (LIVE.load(Relaxed), COUNT.load(Relaxed));
    PEAK.store(live.max(0) as usize, Relaxed);
    let engine = Engine::new(&plan, &persisted);
    let held = (LIVE.load(Relaxed) - live) as f64;
    let allocs = (COUNT.load(Relaxed) - count) as f64;
    let peak = (PEAK.load(Relaxed) as isize - live) as f64;
    let members = (2 * GROUPS) as f64;
    assert_eq!(engine.shape().members, 2 * GROUPS);
    let (per, n, transient) = (held / members, allocs / members, (peak - held) / members);
    eprintln!("engine per member: {per:.0} B held in {n:.2} allocations; {transient:.0} B more at its peak");
    assert!(per <= 550.0, "{per:.0} B per member");
    assert!(n <= 4.05, "{n:.2} allocations per member");
    drop(engine);
}
