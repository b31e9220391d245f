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
