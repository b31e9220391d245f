//! The daemon core, in-process, with time passed in: each scenario feeds
//! checks, answers, control requests and reloads, and asserts the effects
//! the core answers with (pushes and their order against saves, mails,
//! replies), not log text. The end-to-end tests of the real binary keep a
//! smaller set of the same scenarios.

mod common;

use std::time::Duration;

use common::{BASE_GROUP, BASE_SETTINGS, Case};
use failoverd::control::Request;
use failoverd::daemon::core::{Core, Effect};
use failoverd::daemon::persist::Clocks;
use failoverd::firewall::api::Answer;
use failoverd::firewall::decide::Want;
use failoverd::firewall::slot::Class;
use failoverd::health::outcome::Outcome;
use failoverd::mail::event::{DaemonKind, Kind};
use failoverd::probe::schedule::{Observation, Report};
use failoverd::state::StateFile;

struct Run {
    core: Core,
    t0: Clocks,
    elapsed: Duration,
    _case: Case,
}

fn plan_of(case: &Case) -> failoverd::config::Plan {
    let loaded = failoverd::config::load(&case.settings_path()).unwrap();
    loaded
        .plan
        .unwrap_or_else(|| panic!("valid: {:?}", loaded.diagnostics.sorted()))
}

impl Run {
    fn new(settings: &str, groups: &[(&str, &str)]) -> Run {
        let case = Case::new(&with_state_dir(settings), groups);
        let t0 = Clocks::now();
        let mut core = Core::new(plan_of(&case), StateFile::default(), t0);
        let start = core.start();
        assert!(
            matches!(start.as_slice(), [Effect::Notify(s)] if s.starts_with("READY=1\nSTATUS=")),
            "{start:?}"
        );
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

    /// `n` checks of `target`, one a second, good or failed.
    fn checks(&mut self, target: &str, good: bool, n: usize) -> Vec<Effect> {
        let stream = self
            .core
            .engine()
            .streams()
            .iter()
            .position(|k| k.target.to_string() == target)
            .unwrap_or_else(|| panic!("no stream for {target}"));
        let mut out = Vec::new();
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
            out.extend(self.core.observe(&obs, self.clocks()));
        }
        out
    }

    /// Both members' targets of the base group, good or failed; then a
    /// good check of the guard's anchor (the API host), which the guard
    /// waits for before a DeActive: the monitoring host's own network works.
    fn both(&mut self, good: bool) -> Vec<Effect> {
        let mut e = self.checks("192.0.2.1", good, 3);
        e.extend(self.checks("192.0.2.2", good, 3));
        e.extend(self.checks("192.0.2.254", true, 1));
        e
    }

    fn tick(&mut self) -> Vec<Effect> {
        let c = self.clocks();
        self.core.tick(c)
    }

    fn answer(&mut self, group: &str, via: u64, class: Class) -> Vec<Effect> {
        let text = match &class {
            Class::Accepted => "200 Configuration applied successfully.".to_string(),
            other => other.to_string(),
        };
        let c = self.clocks();
        self.core.answered(group, via, Answer { class, text }, c)
    }

    fn control(&mut self, req: Request, to: u64) -> Vec<Effect> {
        let c = self.clocks();
        self.core.control(req, to, c, 0)
    }
}

fn with_state_dir(settings: &str) -> String {
    // The core never touches the folder; the path only names it in texts.
    format!("state_dir = \"/nonexistent/failoverd-core-test\"\n{settings}")
}

/// The pushes among `effects`, as "DeActive G".
fn pushes(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Push { push, .. } => Some(push.to_string()),
            _ => None,
        })
        .collect()
}

fn mails(effects: &[Effect]) -> Vec<&failoverd::mail::event::Event> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Mail(m) => Some(&**m),
            _ => None,
        })
        .collect()
}

/// A save comes before every push (the belief "unknown" is on disk first).
fn saved_before_push(effects: &[Effect]) -> bool {
    let save = effects.iter().position(|e| *e == Effect::Save);
    let push = effects.iter().position(|e| matches!(e, Effect::Push { .. }));
    match (save, push) {
        (_, None) => true,
        (Some(s), Some(p)) => s < p,
        (None, Some(_)) => false,
    }
}

#[test]
fn an_underlay_group_up_then_down_gets_one_active_then_one_deactive_mailed_with_its_answer() {
    let mut r = Run::new(BASE_SETTINGS, &[("g.xml", BASE_GROUP)]);
    let up = r.both(true);
    assert!(
        up.contains(&Effect::Notify("STATUS=1 groups: 1 up, 0 down, 0 unknown".into())),
        "{up:?}"
    );
    let e = r.tick();
    assert_eq!(pushes(&e), ["Active G"]);
    assert!(saved_before_push(&e), "{e:?}");
    assert!(pushes(&r.tick()).is_empty(), "the Active is in flight: not sent twice");
    assert!(mails(&r.answer("G", 0, Class::Accepted)).is_empty());
    assert!(pushes(&r.tick()).is_empty(), "Active in place: nothing to send");

    r.both(false);
    let e = r.tick();
    assert_eq!(pushes(&e), ["DeActive G"]);
    assert!(saved_before_push(&e), "{e:?}");
    assert!(
        mails(&e).is_empty(),
        "the decided DeActive is mailed with its answer, not before"
    );
    assert!(pushes(&r.tick()).is_empty());
    let e = r.answer("G", 0, Class::Accepted);
    let m = mails(&e);
    assert_eq!(m.len(), 1, "{e:?}");
    assert_eq!(m[0].kind, Kind::Daemon(DaemonKind::DeactivateDecided));
    assert_eq!(m[0].push.as_deref(), Some("DeActive G"));
    assert_eq!(m[0].answer.as_deref(), Some("200 Configuration applied successfully."));
    for _ in 0..5 {
        assert!(pushes(&r.after(1).tick()).is_empty(), "one DeActive, not one per tick");
    }
}

#[test]
fn a_transient_answer_is_tried_again_and_the_decided_deactive_is_mailed_once() {
    let mut r = Run::new(BASE_SETTINGS, &[("g.xml", BASE_GROUP)]);
    r.both(true);
    r.tick();
    r.answer("G", 0, Class::Accepted);
    r.both(false);
    assert_eq!(pushes(&r.tick()), ["DeActive G"]);
    let e = r.answer("G", 0, Class::Transient("503 Service Unavailable".into()));
    assert!(mails(&e).is_empty(), "a retry is not a new decision: no mail yet");
    let mut retried = Vec::new();
    for _ in 0..120 {
        retried.extend(pushes(&r.after(1).tick()));
        if !retried.is_empty() {
            break;
        }
    }
    assert_eq!(retried, ["DeActive G"], "tried again after its backoff");
    let e = r.answer("G", 0, Class::Accepted);
    let decided: Vec<_> = mails(&e)
        .into_iter()
        .filter(|m| m.kind == Kind::Daemon(DaemonKind::DeactivateDecided))
        .collect();
    assert_eq!(
        decided.len(),
        1,
        "one mail for the decision, with the final answer: {e:?}"
    );
    assert_eq!(
        decided[0].answer.as_deref(),
        Some("200 Configuration applied successfully.")
    );
    assert!(
        mails(&e)
            .iter()
            .any(|m| m.kind == Kind::Daemon(DaemonKind::PushRecovered)),
        "and the recovery after the failed try: {e:?}"
    );
}

#[test]
fn a_hold_keeps_a_down_group_up_and_its_end_disarms_until_seen_up() {
    let mut r = Run::new(BASE_SETTINGS, &[("g.xml", BASE_GROUP)]);
    r.both(true);
    r.tick();
    r.answer("G", 0, Class::Accepted);
    let hold = Request::Hold {
        groups: vec!["G".into()],
        for_secs: 3600,
        reason: "maintenance".into(),
    };
    let e = r.control(hold, 7);
    assert!(
        matches!(e.as_slice(), [Effect::Reply { to: 7, reply }] if reply.ok),
        "{e:?}"
    );
    r.both(false);
    for _ in 0..3 {
        assert!(pushes(&r.after(60).tick()).is_empty(), "held: no DeActive");
    }
    r.after(3600);
    assert!(
        pushes(&r.tick()).is_empty(),
        "the hold ended: disarmed, still no DeActive"
    );
    assert!(r.core.state().groups["G"].hold.is_none());
    r.both(true);
    assert!(
        pushes(&r.tick()).is_empty(),
        "seen up again: armed, and Active is in place"
    );
    r.both(false);
    assert_eq!(pushes(&r.tick()), ["DeActive G"], "armed again: the rules act");
}

#[test]
fn a_hold_never_shortens_and_unknown_groups_are_refused() {
    let mut r = Run::new(BASE_SETTINGS, &[("g.xml", BASE_GROUP)]);
    let hold = |secs| Request::Hold {
        groups: vec![],
        for_secs: secs,
        reason: "x".into(),
    };
    r.control(hold(3600), 1);
    let until = r.core.state().groups["G"].hold.as_ref().unwrap().until;
    r.control(hold(60), 2);
    assert_eq!(r.core.state().groups["G"].hold.as_ref().unwrap().until, until);
    let e = r.control(
        Request::Release {
            groups: vec!["nope".into()],
        },
        3,
    );
    assert!(
        matches!(e.as_slice(), [Effect::Reply { to: 3, reply }] if !reply.ok && reply.error.as_deref() == Some("unknown group \"nope\"")),
        "{e:?}"
    );
}

#[test]
fn a_manual_push_goes_next_replies_with_the_answer_and_places_its_hold() {
    let mut r = Run::new(BASE_SETTINGS, &[("g.xml", BASE_GROUP)]);
    r.both(true);
    r.tick();
    r.answer("G", 0, Class::Accepted);
    let push = Request::Push {
        group: "G".into(),
        want: Want::DeActive,
        hold_secs: 600,
    };
    assert!(
        r.control(push, 9).is_empty(),
        "the reply waits for the firewall's answer"
    );
    let e = r.tick();
    assert_eq!(pushes(&e), ["DeActive G"]);
    let e = r.answer("G", 0, Class::Accepted);
    let reply = e
        .iter()
        .find_map(|e| match e {
            Effect::Reply { to: 9, reply } => Some(reply),
            _ => None,
        })
        .expect("a reply to the request");
    assert!(reply.ok);
    assert_eq!(reply.body["accepted"], true);
    let hold = r.core.state().groups["G"].hold.as_ref().expect("held");
    assert_eq!(hold.reason, "manual push of DeActive");
    assert!(pushes(&r.after(1).tick()).is_empty(), "held: the rules do not undo it");
}

#[test]
fn a_state_file_that_cannot_be_written_is_mailed_once_per_streak() {
    let mut r = Run::new(BASE_SETTINGS, &[("g.xml", BASE_GROUP)]);
    let c = r.clocks();
    let kinds = |e: &[Effect]| mails(e).iter().map(|m| m.kind).collect::<Vec<_>>();
    let fail = || Err("Permission denied".to_string());
    assert_eq!(
        kinds(&r.core.saved(fail(), c)),
        [Kind::Daemon(DaemonKind::StateDirFailure)]
    );
    assert!(kinds(&r.core.saved(fail(), c)).is_empty(), "the same streak");
    assert!(r.core.saved(Ok(()), c).is_empty());
    assert_eq!(
        kinds(&r.core.saved(fail(), c)),
        [Kind::Daemon(DaemonKind::StateDirFailure)]
    );
    let m = r.core.saved(fail(), c);
    assert!(m.is_empty());
    // Within the minute after a failure, a tick does not write again.
    r.both(true);
    let e = r.tick();
    assert!(
        pushes(&e).len() == 1 && saved_before_push(&e),
        "a push still writes first: {e:?}"
    );
}

const TUNNEL: &str = r#"groups = ["g*.xml"]

[connections.A]
targets = ["192.0.2.1"]

[connections.B]
targets = ["192.0.2.2"]

[firewall]
url = "https://192.0.2.254:4444"
username = "api"
password_file = "pw"
restart_after = "2m"
"#;

#[test]
fn a_reload_dropping_a_group_mid_restart_still_sends_its_active_through_the_old_settings() {
    let mut r = Run::new(TUNNEL, &[("g.xml", BASE_GROUP)]);
    r.both(true);
    assert_eq!(pushes(&r.tick()), ["Active G"]);
    r.answer("G", 0, Class::Accepted);
    r.both(false);
    r.after(121);
    assert_eq!(pushes(&r.tick()), ["DeActive G"], "the restart's DeActive");
    // The group leaves the settings while its DeActive is out.
    let other = Case::new(
        &with_state_dir(&TUNNEL.replace(
            "[connections.B]",
            "[connections.C]\ntargets = [\"192.0.2.3\"]\n\n[connections.B]",
        )),
        &[(
            "g.xml",
            "<VPNFailoverGroup><GroupDetail><Name>H</Name><MemberConnections><Connection>C</Connection></MemberConnections></GroupDetail></VPNFailoverGroup>",
        )],
    );
    let c = r.clocks();
    let (changes, _) = r.core.reload(plan_of(&other), 1, c);
    assert_eq!(changes.groups_removed, ["G"]);
    assert_eq!(r.core.generations_in_use(), [0, 1], "the old sender is still needed");
    assert_eq!(r.core.in_flight(), 1, "the DeActive still counts against max_in_flight");
    assert!(
        pushes(&r.tick()).iter().all(|p| p != "Active G"),
        "not before the DeActive is answered"
    );
    r.answer("G", 0, Class::Accepted);
    let e = r.tick();
    let via: Vec<(String, u64)> = e
        .iter()
        .filter_map(|e| match e {
            Effect::Push { push, via } if push.want == Want::Active && push.group == "G" => {
                Some((push.to_string(), *via))
            }
            _ => None,
        })
        .collect();
    assert_eq!(via, [("Active G".to_string(), 0)], "through the settings it came from");
    r.answer("G", 0, Class::Accepted);
    assert_eq!(r.core.generations_in_use(), [1], "the orphan is done");
    assert!(pushes(&r.after(10).tick()).iter().all(|p| p != "Active G"));
}

#[test]
fn a_reload_keeps_beliefs_holds_and_arming_of_unchanged_groups() {
    let mut r = Run::new(BASE_SETTINGS, &[("g.xml", BASE_GROUP)]);
    r.both(true);
    r.tick();
    r.answer("G", 0, Class::Accepted);
    let same = Case::new(&with_state_dir(BASE_SETTINGS), &[("g.xml", BASE_GROUP)]);
    let c = r.clocks();
    let (changes, _) = r.core.reload(plan_of(&same), 1, c);
    assert!(changes.groups_changed.is_empty() && changes.streams_added.is_empty());
    assert!(pushes(&r.tick()).is_empty(), "the belief Active carried over: no push");
    r.both(false);
    assert_eq!(pushes(&r.tick()), ["DeActive G"], "still armed after the reload");
    let e = r.answer("G", 1, Class::Accepted);
    assert_eq!(mails(&e).len(), 1);
}

#[test]
fn a_start_takes_the_saved_beliefs_of_its_firewall_url() {
    let case = Case::new(&with_state_dir(BASE_SETTINGS), &[("g.xml", BASE_GROUP)]);
    let plan = plan_of(&case);
    let mut state = StateFile::default();
    let fw = state.firewalls.entry(plan.settings.firewall.url.clone()).or_default();
    fw.beliefs.insert("G".into(), failoverd::state::Belief::Active);
    let other = state.firewalls.entry("https://other.example/".into()).or_default();
    other.beliefs.insert("G".into(), failoverd::state::Belief::DeActive);
    let t0 = Clocks::now();
    let mut r = Run {
        core: Core::new(plan, state, t0),
        t0,
        elapsed: Duration::ZERO,
        _case: case,
    };
    r.core.start();
    r.both(true);
    assert!(
        pushes(&r.tick()).is_empty(),
        "Active believed in place at this URL: no push"
    );
    r.both(false);
    assert_eq!(pushes(&r.tick()), ["DeActive G"]);
}

// ---- An active/standby pair ([ha], docs/ha.md) ----

use failoverd::ha::peer::{PeerError, PeerHold};
use failoverd::ha::{Role, RoleKind};

/// BASE_SETTINGS with two requests at most in flight, one of a pair, and
/// connections A_g and B_g (the targets of A and B) for each group g after
/// the first (a connection belongs to one group).
fn ha_settings(groups: &[&str]) -> String {
    let mut s = format!("{BASE_SETTINGS}max_in_flight = 2\n");
    for g in groups.iter().skip(1) {
        s += &format!("[connections.A_{g}]\ntargets = [\"192.0.2.1\"]\nvia = \"underlay\"\n");
        s += &format!("[connections.B_{g}]\ntargets = [\"192.0.2.2\"]\nvia = \"underlay\"\n");
    }
    s + "[http]\nlisten = \"198.51.100.11:9733\"\n[ha]\naddress = \"198.51.100.50\"\npeer = \"http://198.51.100.12:9733/status\"\n"
}

/// Group `name` (the `i`th) on its two connections, mailing its events.
fn mailing_group(i: usize, name: &str) -> String {
    let (a, b) = if i == 0 {
        ("A".to_string(), "B".to_string())
    } else {
        (format!("A_{name}"), format!("B_{name}"))
    };
    format!(
        "<VPNFailoverGroup><GroupDetail><Name>{name}</Name><MemberConnections><Connection>{a}</Connection><Connection>{b}</Connection></MemberConnections><MailNotification>Enable</MailNotification></GroupDetail></VPNFailoverGroup>"
    )
}

impl Run {
    fn role(&mut self, kind: RoleKind) -> Vec<Effect> {
        let c = self.clocks();
        self.core.role(&Role::new(kind, c.wall, c.mono), c)
    }

    fn peer(&mut self, read: Result<Vec<PeerHold>, PeerError>) -> Vec<Effect> {
        let c = self.clocks();
        self.core.peer(read.map(Into::into), c)
    }

    /// Ticks for `secs` seconds, ten a second, collecting the effects.
    fn ticks(&mut self, secs: u64) -> Vec<Effect> {
        let mut e = Vec::new();
        for _ in 0..secs * 10 {
            self.elapsed += Duration::from_millis(100);
            e.extend(self.tick());
        }
        e
    }

    fn status_json(&self) -> serde_json::Value {
        serde_json::to_value(self.core.status(self.clocks())).unwrap()
    }
}

fn ha_run(groups: &[&str]) -> Run {
    let files: Vec<(String, String)> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| (format!("g{g}.xml"), mailing_group(i, g)))
        .collect();
    let refs: Vec<(&str, &str)> = files.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    Run::new(&ha_settings(groups), &refs)
}

fn mail_kinds(effects: &[Effect]) -> Vec<Kind> {
    mails(effects).iter().map(|m| m.kind).collect()
}

#[test]
fn the_standby_decides_but_never_yields_a_push_nor_mails_a_new_event() {
    let mut r = ha_run(&["G"]);
    let mut e = r.role(RoleKind::Standby);
    e.extend(r.peer(Ok(vec![])));
    e.extend(r.both(true));
    e.extend(r.ticks(5));
    r.both(false);
    e.extend(r.ticks(60));
    e.extend(r.both(true));
    e.extend(r.ticks(5));
    assert!(pushes(&e).is_empty(), "standby: no push: {:?}", pushes(&e));
    assert!(
        mails(&e).is_empty(),
        "standby: group events logged, not mailed: {:?}",
        mail_kinds(&e)
    );
    assert_eq!(r.core.in_flight(), 0);
    assert_eq!(r.status_json()["ha"]["role"], "standby");
    let m = r.core.control(Request::Metrics, 1, r.clocks(), 0);
    assert!(
        matches!(&m[..], [Effect::Reply { reply, .. }] if reply.body.as_str().unwrap().contains("\nfailoverd_ha_active 0\n")),
        "{m:?}"
    );
}

#[test]
fn an_active_host_sends_nothing_until_its_peer_was_read_once() {
    let mut r = ha_run(&["G"]);
    r.role(RoleKind::Active);
    r.both(true);
    assert!(
        pushes(&r.ticks(3)).is_empty(),
        "a hold on the peer may not be known yet"
    );
    r.peer(Err(PeerError::Unreachable("connection refused".into())));
    assert_eq!(pushes(&r.ticks(1)), ["Active G"], "read once (even failing): it goes");
}

#[test]
fn becoming_active_forgets_beliefs_and_sends_each_wanted_state_once_within_max_in_flight() {
    let mut r = ha_run(&["G1", "G2", "G3"]);
    r.role(RoleKind::Active);
    r.peer(Ok(vec![]));
    r.both(true);
    let mut sent = Vec::new();
    for _ in 0..3 {
        let e = r.ticks(1);
        for p in pushes(&e) {
            sent.push(p.clone());
            r.answer(&p["Active ".len()..], 0, Class::Accepted);
        }
    }
    sent.sort();
    assert_eq!(sent, ["Active G1", "Active G2", "Active G3"]);
    assert!(pushes(&r.ticks(2)).is_empty(), "every Active in place");

    let e = r.role(RoleKind::Standby);
    assert_eq!(
        mail_kinds(&e),
        [Kind::Daemon(DaemonKind::BecameStandby)],
        "mailed though standby"
    );
    assert!(pushes(&r.ticks(2)).is_empty());
    let e = r.role(RoleKind::Active);
    assert_eq!(mail_kinds(&e), [Kind::Daemon(DaemonKind::BecameActive)]);
    let mut all = Vec::new();
    for _ in 0..5 {
        let e = r.ticks(1);
        let p = pushes(&e);
        assert!(p.len() <= 2, "max_in_flight 2: {p:?}");
        assert!(saved_before_push(&e), "{e:?}");
        assert_eq!(r.core.in_flight(), p.len(), "answered before each second");
        for push in p {
            all.push(push.clone());
            r.answer(&push["Active ".len()..], 0, Class::Accepted);
        }
    }
    all.sort();
    assert_eq!(
        all,
        ["Active G1", "Active G2", "Active G3"],
        "each wanted state sent once"
    );
}

#[test]
fn losing_the_address_lets_the_push_in_flight_finish_and_starts_none() {
    let mut r = ha_run(&["G1", "G2", "G3"]);
    r.role(RoleKind::Active);
    r.peer(Ok(vec![]));
    r.both(true);
    let first = pushes(&r.ticks(1));
    assert_eq!(first.len(), 2, "two in flight: {first:?}");
    r.role(RoleKind::Standby);
    for p in &first {
        let e = r.answer(&p["Active ".len()..], 0, Class::Accepted);
        assert!(pushes(&e).is_empty());
    }
    assert_eq!(r.core.in_flight(), 0);
    let e = r.ticks(30);
    assert!(pushes(&e).is_empty(), "no new push on the standby: {:?}", pushes(&e));
    let g = &r.status_json()["groups"];
    let answered: Vec<_> = first.iter().map(|p| &p["Active ".len()..]).collect();
    for grp in g.as_array().unwrap() {
        let name = grp["name"].as_str().unwrap();
        let want = if answered.contains(&name) { "Active" } else { "Unknown" };
        assert_eq!(grp["belief"], want, "{name}: the answer in flight was taken");
    }
}

#[test]
fn a_peer_hold_is_honoured_and_shown_apart_from_own_holds() {
    let mut r = ha_run(&["G"]);
    r.role(RoleKind::Active);
    r.peer(Ok(vec![]));
    r.both(true);
    r.ticks(1);
    r.answer("G", 0, Class::Accepted);
    let until = r.clocks().wall + Duration::from_secs(600);
    let hold = PeerHold {
        group: "G".into(),
        until,
        reason: "maintenance (on the peer)".into(),
    };
    r.peer(Ok(vec![hold.clone()]));
    r.both(false);
    let e = r.ticks(30);
    assert!(pushes(&e).is_empty(), "the peer's hold: no DeActive");
    let s = r.status_json();
    assert!(s["groups"][0]["hold"].is_null(), "groups[].hold: this host's own only");
    assert_eq!(s["ha"]["peer_holds"][0]["group"], "G");
    // The peer cannot be read any more: its hold still binds until it ends.
    r.peer(Err(PeerError::Unreachable("connection refused".into())));
    assert!(pushes(&r.ticks(60)).is_empty());
    r.after(600);
    assert!(pushes(&r.ticks(2)).is_empty(), "the hold ended: disarmed until seen up");
    r.both(true);
    assert_eq!(
        pushes(&r.ticks(1)),
        ["Active G"],
        "the peer may have pushed G: its wanted state goes once"
    );
    r.answer("G", 0, Class::Accepted);
    r.both(false);
    assert_eq!(pushes(&r.ticks(1)), ["DeActive G"], "armed again: the rules act");
}

#[test]
fn a_hold_on_the_standby_binds_the_active_host_and_the_new_one_after_takeover() {
    let mut standby = ha_run(&["G"]);
    standby.role(RoleKind::Standby);
    standby.peer(Ok(vec![]));
    let mut active = ha_run(&["G"]);
    active.role(RoleKind::Active);
    active.peer(Ok(vec![]));
    for r in [&mut standby, &mut active] {
        r.both(true);
        r.ticks(1);
    }
    active.answer("G", 0, Class::Accepted);

    // A manual push on the standby sends nothing and places no hold
    // (contract v5, section 4; tests/holds_core.rs has the details); a
    // `hold` placed there binds both hosts.
    let push = Request::Push {
        group: "G".into(),
        want: Want::DeActive,
        hold_secs: 3600,
    };
    let e = standby.control(push, 5);
    assert!(pushes(&e).is_empty(), "the standby sends nothing");
    assert!(standby.core.state().groups.get("G").is_none_or(|g| g.hold.is_none()));
    let hold = Request::Hold {
        groups: vec!["G".into()],
        for_secs: 3600,
        reason: "maintenance".into(),
    };
    standby.control(hold, 6);

    // The active host reads the standby's /status, as served.
    let body = serde_json::to_vec(&standby.core.status(standby.clocks())).unwrap();
    let holds = failoverd::ha::peer::parse(&body).expect("the peer reader parses view::Status");
    assert_eq!(holds.len(), 1);
    active.peer(Ok(holds));
    for r in [&mut standby, &mut active] {
        r.both(false);
    }
    let e = active.ticks(30);
    assert!(
        pushes(&e).is_empty(),
        "the active host honours the standby's hold: {:?}",
        pushes(&e)
    );

    // Takeover: the old active host is gone; the new one holds it itself.
    active.role(RoleKind::Standby);
    standby.peer(Err(PeerError::Unreachable("connection refused".into())));
    let e = standby.role(RoleKind::Active);
    assert_eq!(mail_kinds(&e), [Kind::Daemon(DaemonKind::BecameActive)]);
    let e = standby.ticks(60);
    assert!(pushes(&e).is_empty(), "held: the new active host pushes nothing for G");
}

#[test]
fn a_hold_on_the_active_host_binds_the_standby_after_the_active_host_dies() {
    let mut a = ha_run(&["G", "H"]);
    a.role(RoleKind::Active);
    a.peer(Ok(vec![]));
    let mut b = ha_run(&["G", "H"]);
    b.role(RoleKind::Standby);
    b.peer(Ok(vec![]));
    let hold = Request::Hold {
        groups: vec!["G".into()],
        for_secs: 3600,
        reason: "change window".into(),
    };
    a.control(hold, 1);
    let body = serde_json::to_vec(&a.core.status(a.clocks())).unwrap();
    b.peer(failoverd::ha::peer::parse(&body));
    // The active host dies: its /status no longer answers.
    b.peer(Err(PeerError::Unreachable("connection refused".into())));
    b.both(true);
    assert!(pushes(&b.ticks(2)).is_empty(), "standby");
    b.role(RoleKind::Active);
    let e = b.ticks(5);
    let p = pushes(&e);
    assert_eq!(p, ["Active H"], "H's wanted state is sent; G is held by the dead peer");
    b.answer("H", 0, Class::Accepted);
    b.both(false);
    let p = pushes(&b.ticks(5));
    assert_eq!(p, ["DeActive H"], "armed from what the standby saw; G still held");
}

#[test]
fn a_reload_to_another_address_sends_nothing_until_the_new_watcher_reports() {
    let mut r = ha_run(&["G"]);
    r.role(RoleKind::Active);
    r.peer(Ok(vec![]));
    r.both(true);
    assert_eq!(pushes(&r.ticks(1)), ["Active G"]);
    r.answer("G", 0, Class::Accepted);
    let moved = ha_settings(&["G"]).replace("198.51.100.50", "198.51.100.60");
    let case = Case::new(&with_state_dir(&moved), &[("gG.xml", &mailing_group(0, "G"))]);
    let c = r.clocks();
    r.core.reload(plan_of(&case), 1, c);
    assert_eq!(
        r.status_json()["ha"]["role"],
        "standby",
        "unknown until the watcher says"
    );
    r.both(false);
    assert!(pushes(&r.ticks(5)).is_empty());
    let e = r.role(RoleKind::Active);
    assert!(
        mails(&e).is_empty(),
        "a new watcher's first role is a start, not a takeover"
    );
    r.peer(Ok(vec![]));
    assert_eq!(
        pushes(&r.ticks(1)),
        ["DeActive G"],
        "beliefs forgotten: the wanted state goes"
    );
}

/// The checks of the page's chart of target `target` of member `member`.
fn charted(page: &failoverd::page::Page, member: usize, target: &str) -> u32 {
    let m = &page.status.groups[0].members[member];
    let t = m.targets.iter().position(|t| t.target == target).unwrap();
    page.charts[0][member][t].points.iter().map(|p| p.checks()).sum()
}

#[test]
fn the_page_history_keeps_unchanged_streams_across_a_reload_and_every_event() {
    let mut r = Run::new(BASE_SETTINGS, &[("g.xml", BASE_GROUP)]);
    r.both(true);
    r.checks("192.0.2.1", false, 3);
    let page = r.core.page(r.clocks());
    assert_eq!(charted(&page, 0, "192.0.2.1"), 6);
    assert_eq!(charted(&page, 1, "192.0.2.2"), 3);
    let kinds: Vec<&str> = page.events.iter().map(|e| e.kind.as_str()).collect();
    assert!(kinds.contains(&"member down"), "{kinds:?}");
    // B's target changes; A's is the same stream.
    let changed = Case::new(
        &with_state_dir(&BASE_SETTINGS.replace("\"192.0.2.2\"", "\"192.0.2.3\"")),
        &[("g.xml", BASE_GROUP)],
    );
    let c = r.clocks();
    r.core.reload(plan_of(&changed), 1, c);
    let page = r.core.page(r.clocks());
    assert_eq!(charted(&page, 0, "192.0.2.1"), 6, "kept across the reload");
    assert_eq!(charted(&page, 1, "192.0.2.3"), 0, "a new stream starts empty");
    assert_eq!(page.events.len(), kinds.len(), "events are kept");
    r.checks("192.0.2.3", true, 2);
    assert_eq!(charted(&r.core.page(r.clocks()), 1, "192.0.2.3"), 2);
    // The page itself is served through the control request.
    let e = r.core.control(Request::Page, 9, r.clocks(), 0);
    let Some(Effect::Reply { to: 9, reply }) = e.first() else {
        panic!("{e:?}")
    };
    let html = reply.body.as_str().unwrap();
    assert!(
        html.contains("data-group=\"G\"") && html.contains(" 192.0.2.3\">"),
        "{html}"
    );
}

fn records(effects: &[Effect]) -> Vec<(String, bool)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Record(r) => Some((r.event.kind.name().to_string(), r.active)),
            _ => None,
        })
        .collect()
}

#[test]
fn every_group_event_is_recorded_in_order_even_when_its_group_mails_nothing() {
    // BASE_GROUP has no MailNotification: nothing is mailed, but the
    // history and the hooks (daemon/taps.rs) still get every event.
    let mut r = Run::new(BASE_SETTINGS, &[("g.xml", BASE_GROUP)]);
    let mut e = r.both(true);
    e.extend(r.checks("192.0.2.1", false, 3));
    assert!(mails(&e).is_empty(), "{e:?}");
    let kinds: Vec<String> = records(&e)
        .into_iter()
        .map(|(k, active)| {
            assert!(active, "no [ha]: this host acts on its events");
            k
        })
        .collect();
    // Leaving unknown is not an event (contract 7): the first ups are not.
    assert_eq!(kinds, ["MemberDown", "Failover"], "{e:?}");
}

#[test]
fn the_standby_records_its_events_as_not_active() {
    let mut r = ha_run(&["G"]);
    let mut e = r.role(RoleKind::Standby);
    e.extend(r.peer(Ok(vec![])));
    e.extend(r.both(true));
    e.extend(r.both(false));
    let recs = records(&e);
    assert!(!recs.is_empty(), "{e:?}");
    assert!(recs.iter().all(|(_, active)| !active), "{recs:?}");
}

#[test]
fn status_says_when_an_unknown_member_is_passed_over() {
    // A never gets a verdict (one failed check, fewer than fall: its
    // patience starts there); B is up.
    let mut r = Run::new(BASE_SETTINGS, &[("g.xml", BASE_GROUP)]);
    r.checks("192.0.2.1", false, 1);
    r.checks("192.0.2.2", true, 3);
    let a = |r: &Run| r.status_json()["groups"][0]["members"][0].clone();
    assert_eq!(a(&r)["name"], "A");
    assert_eq!(a(&r)["state"], "unknown");
    assert!(a(&r).get("passed_over").is_none(), "still waited for: {}", a(&r));
    r.checks("192.0.2.2", true, 5);
    r.tick();
    let m = a(&r);
    assert_eq!(m["state"], "unknown", "passed over, never counted down");
    let note = m["passed_over"].as_str().unwrap_or_else(|| panic!("{m}"));
    assert!(note.starts_with("no verdict within its patience ("), "{note}");
    assert!(note.contains("passed over like a down member"), "{note}");
    let b = &r.status_json()["groups"][0]["members"][1];
    assert!(b.get("passed_over").is_none(), "{b}");
}
