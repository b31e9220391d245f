//! Holds and the manual push, in the daemon core with time passed in
//! (docs/safety.md, Holds; contract §4 `push`/`hold`, §16): which answers
//! place the push's hold, a push never takes over a longer hold or its
//! reason, a hold that withholds a wanted push is logged once and shown in
//! status, and a push on a standby sends nothing and places no hold.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{BASE_GROUP, BASE_SETTINGS, Case};
use failoverd::control::{Reply, Request};
use failoverd::daemon::core::{Core, Effect};
use failoverd::daemon::persist::Clocks;
use failoverd::firewall::api::Answer;
use failoverd::firewall::decide::Want;
use failoverd::firewall::slot::Class;
use failoverd::ha::peer::{PeerError, PeerStatus};
use failoverd::ha::{Role, RoleKind};
use failoverd::health::outcome::Outcome;
use failoverd::probe::schedule::{Observation, Report};
use failoverd::state::StateFile;

struct Run {
    core: Core,
    t0: Clocks,
    elapsed: Duration,
    _case: Case,
}

impl Run {
    fn new(settings: &str) -> Run {
        let settings = format!("state_dir = \"/nonexistent/failoverd-holds-test\"\n{settings}");
        let case = Case::new(&settings, &[("g.xml", BASE_GROUP)]);
        let loaded = failoverd::config::load(&case.settings_path()).unwrap();
        let plan = loaded.plan.expect("valid settings");
        let t0 = Clocks::now();
        let mut core = Core::new(plan, StateFile::default(), t0);
        core.start();
        Run {
            core,
            t0,
            elapsed: Duration::ZERO,
            _case: case,
        }
    }

    fn clocks(&self) -> Clocks {
        Clocks {
            mono: self.t0.mono + self.elapsed,
            wall: self.t0.wall + self.elapsed,
        }
    }

    fn after(&mut self, secs: u64) -> &mut Self {
        self.elapsed += Duration::from_secs(secs);
        self
    }

    fn checks(&mut self, target: &str, good: bool, n: usize) {
        let streams = self.core.engine().streams();
        let stream = streams.iter().position(|k| k.target.to_string() == target).unwrap();
        for _ in 0..n {
            self.after(1);
            let outcome = if good {
                Outcome::Good {
                    rtt: Duration::from_millis(5),
                }
            } else {
                Outcome::Failed {
                    reason: "no reply within 1s".into(),
                }
            };
            let obs = Observation {
                stream,
                at: self.clocks().mono,
                report: Report::Check { outcome, addr: None },
            };
            let c = self.clocks();
            self.core.observe(&obs, c);
        }
    }

    /// Both members up or down, then a good check of the guard's anchor.
    fn both(&mut self, good: bool) {
        self.checks("192.0.2.1", good, 3);
        self.checks("192.0.2.2", good, 3);
        self.checks("192.0.2.254", true, 1);
    }

    fn tick(&mut self) -> Vec<Effect> {
        let c = self.clocks();
        self.core.tick(c)
    }

    fn answer(&mut self, class: Class) -> Vec<Effect> {
        let text = class.to_string();
        let c = self.clocks();
        self.core.answered("G", 0, Answer { class, text }, c)
    }

    fn control(&mut self, req: Request) -> Vec<Effect> {
        let c = self.clocks();
        self.core.control(req, 9, c, 0)
    }

    fn hold(&mut self, secs: u64, reason: &str) {
        let req = Request::Hold {
            groups: vec!["G".into()],
            for_secs: secs,
            reason: reason.into(),
        };
        self.control(req);
    }

    /// A manual push of `want` with a hold of `secs`, answered `class`:
    /// the reply to the command.
    fn manual(&mut self, want: Want, secs: u64, class: Class) -> Reply {
        let req = Request::Push {
            group: "G".into(),
            want,
            hold_secs: secs,
        };
        assert!(self.control(req).is_empty(), "the reply waits for the answer");
        assert_eq!(pushes(&self.tick()), [format!("{want} G")], "sent next");
        reply(&self.answer(class)).expect("a reply once answered")
    }

    fn hold_now(&self) -> Option<(u64, String)> {
        let h = self.core.state().groups.get("G")?.hold.as_ref()?;
        let left = h.until.duration_since(self.clocks().wall).unwrap_or_default();
        Some((left.as_secs(), h.reason.clone()))
    }

    fn withheld(&self) -> Option<String> {
        self.core.status(self.clocks()).groups[0].withheld.clone()
    }
}

fn pushes(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Push { push, .. } => Some(push.to_string()),
            _ => None,
        })
        .collect()
}

fn reply(effects: &[Effect]) -> Option<Reply> {
    effects.iter().find_map(|e| match e {
        Effect::Reply { to: 9, reply } => Some(reply.clone()),
        _ => None,
    })
}

/// G up, its Active accepted: nothing more is wanted.
fn settled() -> Run {
    let mut r = Run::new(BASE_SETTINGS);
    r.both(true);
    assert_eq!(pushes(&r.tick()), ["Active G"]);
    r.answer(Class::Accepted);
    r
}

#[test]
fn a_manual_push_places_its_hold_only_when_accepted_or_of_unknown_outcome() {
    let table = [
        (Class::Accepted, true),
        (
            Class::Unknown("connection reset after the request was sent".into()),
            true,
        ),
        (Class::Refused("534 the group is not known".into()), false),
        (Class::Configuration("check the API user's permissions".into()), false),
        (Class::Transient("not sent: connection refused".into()), false),
    ];
    for (class, holds) in table {
        let mut r = settled();
        let label = class.label();
        let rep = r.manual(Want::DeActive, 3600, class);
        assert!(rep.ok, "{label}: {rep:?}");
        assert_eq!(rep.body["accepted"], label == "accepted", "{label}");
        if holds {
            assert_eq!(
                r.hold_now(),
                Some((3600, "manual push of DeActive".to_string())),
                "{label}: the hold is placed"
            );
            assert_eq!(rep.body["hold"]["placed"], true, "{label}");
            assert_eq!(rep.body["hold"]["reason"], "manual push of DeActive", "{label}");
        } else {
            assert_eq!(r.hold_now(), None, "{label}: a push not taken places no hold");
            assert!(rep.body["hold"].is_null(), "{label}: {}", rep.body);
        }
    }
}

#[test]
fn a_manual_push_keeps_a_longer_hold_and_its_reason_and_lengthens_a_shorter_one() {
    let mut r = settled();
    r.hold(4 * 3600, "maintenance");
    let rep = r.manual(Want::DeActive, 3600, Class::Accepted);
    assert_eq!(r.hold_now(), Some((4 * 3600, "maintenance".to_string())));
    assert_eq!(rep.body["hold"]["placed"], false, "{}", rep.body);
    assert_eq!(rep.body["hold"]["reason"], "maintenance");

    let mut r = settled();
    r.hold(600, "maintenance");
    let rep = r.manual(Want::DeActive, 3600, Class::Accepted);
    assert_eq!(
        r.hold_now(),
        Some((3600, "manual push of DeActive".to_string())),
        "a longer hold replaces a shorter one, with its own reason"
    );
    assert_eq!(rep.body["hold"]["placed"], true);

    let mut r = settled();
    r.hold(4 * 3600, "maintenance");
    r.manual(Want::DeActive, 3600, Class::Refused("534 no".into()));
    assert_eq!(r.hold_now(), Some((4 * 3600, "maintenance".to_string())), "untouched");
}

/// Log lines written while `f` runs (the core's tracing, captured).
fn logged(f: impl FnOnce()) -> String {
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let out = buf.clone();
    let sub = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || out.clone())
        .finish();
    tracing::subscriber::with_default(sub, f);
    let bytes = buf.0.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

#[test]
fn a_hold_withholding_a_wanted_deactive_is_logged_once_and_shown_in_status() {
    let mut r = settled();
    r.hold(4 * 3600, "maintenance");
    assert_eq!(r.withheld(), None, "nothing wanted: nothing withheld");
    let log = logged(|| {
        r.both(false);
        for _ in 0..30 {
            assert!(pushes(&r.after(10).tick()).is_empty(), "held: no DeActive");
        }
    });
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("withheld")).collect();
    assert_eq!(lines.len(), 1, "once per hold: {log}");
    assert!(lines[0].contains("G held: DeActive withheld"), "{}", lines[0]);
    assert!(lines[0].contains("maintenance"), "names the hold: {}", lines[0]);
    assert!(
        lines[0].contains("EVENT=\"hold_withheld\"") || lines[0].contains("EVENT=hold_withheld"),
        "{}",
        lines[0]
    );
    assert_eq!(r.withheld().as_deref(), Some("DeActive"), "status shows it");
    let page = failoverd::page::render(&r.core.page(r.clocks()));
    assert!(page.contains("withheld by the hold"), "the page shows it");

    // Released: disarmed until seen up; nothing withheld any more.
    r.control(Request::Release { groups: vec![] });
    r.tick();
    assert_eq!(r.withheld(), None);
    // Up again, held again, down again: a new hold logs again.
    r.both(true);
    r.tick();
    r.hold(3600, "second");
    let log = logged(|| {
        r.both(false);
        r.tick();
        r.after(5).tick();
    });
    assert_eq!(log.matches("G held: DeActive withheld").count(), 1, "{log}");
}

#[test]
fn a_hold_on_a_group_already_where_failoverd_wants_it_withholds_nothing() {
    let mut r = settled();
    r.hold(3600, "maintenance");
    let log = logged(|| {
        for _ in 0..5 {
            r.after(10).tick();
        }
    });
    assert!(!log.contains("withheld"), "{log}");
    assert_eq!(r.withheld(), None);
}

/// A standby whose peer's status read as `peer`: its role, or why not.
fn standby(peer: Result<Option<&str>, PeerError>) -> Run {
    let settings = format!(
        "{BASE_SETTINGS}[http]\nlisten = \"198.51.100.11:9733\"\n[ha]\naddress = \"198.51.100.50\"\npeer = \"http://198.51.100.12:9733/status\"\n"
    );
    let mut r = Run::new(&settings);
    let c = r.clocks();
    r.core.role(&Role::new(RoleKind::Standby, c.wall, c.mono), c);
    let read = peer.map(|role| PeerStatus {
        holds: vec![],
        role: role.map(str::to_string),
    });
    r.core.peer(read, c);
    r.both(true);
    r.tick();
    r
}

fn push_on(r: &mut Run) -> (Vec<Effect>, Reply) {
    let req = Request::Push {
        group: "G".into(),
        want: Want::DeActive,
        hold_secs: 3600,
    };
    let e = r.control(req);
    let rep = reply(&e).expect("answered at once");
    (e, rep)
}

#[test]
fn a_manual_push_on_a_standby_sends_nothing_places_no_hold_and_names_the_active_host() {
    let mut r = standby(Ok(Some("active")));
    let (e, rep) = push_on(&mut r);
    assert!(pushes(&e).is_empty(), "nothing sent");
    assert_eq!(rep.body["accepted"], false, "exit 1");
    assert_eq!(r.hold_now(), None, "no hold placed");
    let text = rep.body["answer"].as_str().unwrap();
    assert!(
        text.starts_with("this host is standby: nothing was sent and no hold placed"),
        "{text}"
    );
    assert!(
        text.contains("run `failoverd push` on the active host, the peer at http://198.51.100.12:9733/status (its status says active)"),
        "{text}"
    );
    assert!(pushes(&r.ticks_of(30)).is_empty(), "nothing later either");
    assert_eq!(r.hold_now(), None);

    // Both standby (the address is on neither host): the peer is not
    // named as the active host.
    let mut r = standby(Ok(Some("standby")));
    let (_, rep) = push_on(&mut r);
    let text = rep.body["answer"].as_str().unwrap();
    assert!(
        text.contains("the peer at http://198.51.100.12:9733/status says it is standby too"),
        "{text}"
    );
    assert!(!text.contains("on the active host"), "{text}");
    let mut r = standby(Ok(None));
    let (_, rep) = push_on(&mut r);
    let text = rep.body["answer"].as_str().unwrap();
    assert!(text.contains("answers but does not say its role"), "{text}");

    let mut r = standby(Err(PeerError::Unreachable("connection refused".into())));
    let (_, rep) = push_on(&mut r);
    let text = rep.body["answer"].as_str().unwrap();
    assert!(text.contains("run `failoverd push` on the active host ("), "{text}");
    assert!(text.contains("connection refused"), "{text}");
    assert_eq!(r.hold_now(), None);
}

impl Run {
    fn ticks_of(&mut self, secs: u64) -> Vec<Effect> {
        let mut e = Vec::new();
        for _ in 0..secs {
            e.extend(self.after(1).tick());
        }
        e
    }
}
