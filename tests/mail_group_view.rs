//! Contract section 10: disagreement and not-honoured are about a group,
//! mailed only when its MailNotification is on (never for intent groups);
//! SNMP unusable stays a daemon event, mailed whatever the groups say. The
//! daemon core in-process, with time and walks passed in.

mod common;

use std::time::Duration;

use common::{BASE_SETTINGS, Case};
use failoverd::daemon::core::{Core, Effect};
use failoverd::daemon::persist::Clocks;
use failoverd::firewall::api::Answer;
use failoverd::firewall::slot::Class;
use failoverd::firewall::view::{Row, TunnelStatus, WalkError};
use failoverd::health::outcome::Outcome;
use failoverd::probe::schedule::{Observation, Report};
use failoverd::state::StateFile;

const SNMP: &str = "\n[snmp]\naddress = \"192.0.2.254:161\"\nversion = \"2c\"\ncommunity_file = \"pw\"\ninterval = \"1s\"\n\
                    verify_within = \"3s\"\ndisagree_after = \"3s\"\n";

fn group(mail: &str, intent: &str) -> String {
    format!(
        "<VPNFailoverGroup><GroupDetail><Name>G</Name><MemberConnections><Connection>A</Connection>\
         <Connection>B</Connection></MemberConnections>{mail}</GroupDetail>{intent}</VPNFailoverGroup>"
    )
}

struct Run {
    core: Core,
    now: Clocks,
    _case: Case,
}

impl Run {
    fn new(group: &str) -> Run {
        let settings = format!("state_dir = \"/nonexistent/failoverd-core-test\"\n{BASE_SETTINGS}{SNMP}");
        let case = Case::new(&settings, &[("g.xml", group)]);
        let loaded = failoverd::config::load(&case.settings_path()).unwrap();
        let plan = (loaded.plan).unwrap_or_else(|| panic!("valid: {:?}", loaded.diagnostics.sorted()));
        let now = Clocks::now();
        let mut core = Core::new(plan, StateFile::default(), now);
        core.start();
        Run { core, now, _case: case }
    }

    fn after(&mut self, secs: u64) -> Clocks {
        let d = Duration::from_secs(secs);
        self.now = Clocks {
            mono: self.now.mono + d,
            wall: self.now.wall + d,
        };
        self.now
    }

    /// Both members' targets good, then the firewall's anchor.
    fn all_up(&mut self) -> Vec<Effect> {
        let mut out = Vec::new();
        for (target, n) in [("192.0.2.1", 3), ("192.0.2.2", 3), ("192.0.2.254", 1)] {
            let engine = self.core.engine();
            let stream = (engine.streams().iter())
                .position(|k| k.target.to_string() == target)
                .unwrap_or_else(|| panic!("no stream for {target}"));
            for _ in 0..n {
                let at = self.after(1);
                let outcome = Outcome::Good {
                    rtt: Duration::from_millis(5),
                };
                let report = Report::Check { outcome, addr: None };
                let obs = Observation {
                    stream,
                    at: at.mono,
                    report,
                };
                out.extend(self.core.observe(&obs, at));
            }
        }
        out
    }
}

/// The firewall carries no member and none is activated: after an
/// accepted Active that is a disagreement and a push not honoured.
fn nothing_carried() -> Vec<Row> {
    ["A", "B"]
        .iter()
        .enumerate()
        .map(|(i, name)| Row {
            index: vec![i as u32 + 1],
            name: (*name).into(),
            status: TunnelStatus::Inactive,
            activated: false,
        })
        .collect()
}

/// The kinds of the mails among the effects of the whole run.
fn mailed_kinds(group: &str) -> Vec<&'static str> {
    let mut r = Run::new(group);
    let mut effects = r.all_up();
    let at = r.after(1);
    effects.extend(r.core.tick(at));
    let answer = Answer {
        class: Class::Accepted,
        text: "200 Configuration applied successfully.".into(),
    };
    effects.extend(r.core.answered("G", 0, answer, at));
    for _ in 0..10 {
        let at = r.after(1);
        effects.extend(r.core.walked(Ok(nothing_carried()), at));
    }
    let dead = WalkError::Other {
        address: "192.0.2.254:161".parse().unwrap(),
        detail: "test".into(),
    };
    let at = r.after(1);
    effects.extend(r.core.walked(Err(dead), at));
    let mut kinds: Vec<&str> = (effects.iter())
        .filter_map(|e| match e {
            Effect::Mail(m) => Some(m.kind.name()),
            _ => None,
        })
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    kinds
}

#[test]
fn disagreement_and_not_honoured_follow_mail_notification() {
    let on = mailed_kinds(&group("<MailNotification>Enable</MailNotification>", ""));
    for k in ["FirewallDisagrees", "PushNotHonoured", "SnmpUnusable"] {
        assert!(on.contains(&k), "MailNotification on mails {k}: {on:?}");
    }
    let off = mailed_kinds(&group("", ""));
    assert_eq!(off, ["SnmpUnusable"], "MailNotification off: only the daemon event");
    let intent = mailed_kinds(&group(
        "<MailNotification>Enable</MailNotification>",
        "<Active><Name>G</Name></Active>",
    ));
    assert_eq!(intent, ["SnmpUnusable"], "never for an intent group");
}
