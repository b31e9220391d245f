//! A reload as a typed difference: each change to the settings or the
//! group files maps to exactly the changes it makes, nothing more.

mod common;

use common::{BASE_GROUP, BASE_SETTINGS, Case};
use failoverd::config::Plan;
use failoverd::daemon::changes::{Changes, changes};

thread_local! {
    /// One folder for every plan, as for a real reload: the same paths
    /// (the password file's among them) in the old plan and the new.
    static DIR: Case = Case::new("", &[]);
}

/// The plan of `settings` and exactly the group files `groups`.
fn plan(settings: &str, groups: &[(&str, &str)]) -> Plan {
    let path = DIR.with(|case| {
        let dir = case.dir.path();
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "xml") {
                std::fs::remove_file(p).unwrap();
            }
        }
        for (name, content) in groups {
            std::fs::write(dir.join(name), content).unwrap();
        }
        std::fs::write(case.settings_path(), settings).unwrap();
        case.settings_path()
    });
    let loaded = failoverd::config::load(&path).unwrap();
    loaded
        .plan
        .unwrap_or_else(|| panic!("valid: {:?}", loaded.diagnostics.sorted()))
}

const GROUP_H: &str = "<VPNFailoverGroup><GroupDetail><Name>H</Name><MemberConnections><Connection>C</Connection><Connection>D</Connection></MemberConnections></GroupDetail></VPNFailoverGroup>";
const GROUP_G_ONE: &str = "<VPNFailoverGroup><GroupDetail><Name>G</Name><MemberConnections><Connection>A</Connection></MemberConnections></GroupDetail></VPNFailoverGroup>";

const CD: &str = "\n[connections.C]\ntargets = [\"192.0.2.3\"]\nvia = \"underlay\"\n\n[connections.D]\ntargets = [\"192.0.2.4\"]\nvia = \"underlay\"\n";

fn with(extra: &str) -> String {
    format!("{BASE_SETTINGS}{extra}")
}

/// Names of the streams by target, for the table.
fn targets(keys: &[failoverd::probe::StreamKey]) -> Vec<String> {
    keys.iter().map(|k| k.target.to_string()).collect()
}

#[test]
fn changes_table() {
    let base = || plan(BASE_SETTINGS, &[("g.xml", BASE_GROUP)]);
    let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    type Expect = Box<dyn Fn(&Changes)>;
    let cases: Vec<(&str, Plan, Expect)> = vec![
        (
            "the same settings: nothing",
            base(),
            Box::new(|c| assert!(c.is_empty(), "{c:?}")),
        ),
        (
            "a group added, with its connections",
            plan(&with(CD), &[("g.xml", BASE_GROUP), ("g2.xml", GROUP_H)]),
            Box::new(move |c| {
                assert_eq!(c.groups_added, names(&["H"]));
                assert!(c.groups_removed.is_empty() && c.groups_changed.is_empty(), "{c:?}");
                assert_eq!(targets(&c.streams_added), ["192.0.2.3", "192.0.2.4"]);
                assert!(c.streams_removed.is_empty(), "{c:?}");
            }),
        ),
        (
            "a member dropped: the group changed, its stream removed",
            plan(BASE_SETTINGS, &[("g.xml", GROUP_G_ONE)]),
            Box::new(move |c| {
                assert_eq!(c.groups_changed, names(&["G"]));
                assert_eq!(targets(&c.streams_removed), ["192.0.2.2"]);
                assert!(c.streams_added.is_empty() && c.groups_added.is_empty(), "{c:?}");
                assert!(c.disarms("G"));
            }),
        ),
        (
            "a connection's target moved: one stream swapped, the group changed",
            plan(
                &BASE_SETTINGS.replace("\"192.0.2.2\"", "\"192.0.2.3\""),
                &[("g.xml", BASE_GROUP)],
            ),
            Box::new(move |c| {
                assert_eq!(targets(&c.streams_added), ["192.0.2.3"]);
                assert_eq!(targets(&c.streams_removed), ["192.0.2.2"]);
                assert_eq!(c.groups_changed, names(&["G"]));
                assert!(!c.firewall && !c.probe && !c.guard && !c.mail, "{c:?}");
            }),
        ),
        (
            "the firewall's settings only",
            plan(
                &BASE_SETTINGS.replace("username = \"api\"", "username = \"api2\""),
                &[("g.xml", BASE_GROUP)],
            ),
            Box::new(move |c| {
                assert!(c.firewall, "{c:?}");
                assert!(c.groups_changed.is_empty() && c.streams_added.is_empty(), "{c:?}");
                assert!(!c.disarms("G"));
            }),
        ),
        (
            "the guard's settings only",
            plan(
                &with("\n[guard]\nmax_groups_down = \"25%\"\n"),
                &[("g.xml", BASE_GROUP)],
            ),
            Box::new(move |c| {
                assert!(c.guard && !c.firewall && !c.mail, "{c:?}");
                assert!(c.groups_changed.is_empty(), "{c:?}");
            }),
        ),
        (
            "the http listener: kept until a restart, but seen",
            plan(&with("\n[http]\nlisten = \"127.0.0.1:9\"\n"), &[("g.xml", BASE_GROUP)]),
            Box::new(move |c| {
                assert!(c.http_listen, "{c:?}");
                assert!(!c.state_dir && !c.firewall, "{c:?}");
            }),
        ),
        (
            "what /metrics serves: seen, and no stream or group touched",
            plan(
                &with("\n[http]\nrtt_histograms = true\ntarget_states = true\n"),
                &[("g.xml", BASE_GROUP)],
            ),
            Box::new(move |c| {
                assert!(c.metrics && !c.http_listen, "{c:?}");
                assert!(c.streams_added.is_empty() && c.groups_changed.is_empty(), "{c:?}");
            }),
        ),
        (
            "the group replaced by another on other connections",
            plan(&with(CD), &[("g.xml", GROUP_H)]),
            Box::new(move |c| {
                assert_eq!(c.groups_removed, names(&["G"]));
                assert_eq!(c.groups_added, names(&["H"]));
                assert!(c.groups_changed.is_empty(), "a new name is a new group: {c:?}");
                assert_eq!(targets(&c.streams_removed), ["192.0.2.1", "192.0.2.2"]);
            }),
        ),
    ];
    for (name, new, expect) in cases {
        let old = base();
        let c = changes(&old, &new);
        eprintln!("{name}: {c:?}");
        expect(&c);
    }
}
