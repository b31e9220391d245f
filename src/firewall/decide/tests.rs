//! Table tests of the safety rules: each step sets health, guard or hold,
//! lets time pass, and checks what is wanted.

use super::*;

const S: Duration = Duration::from_secs(1);

fn timing() -> Timing {
    Timing {
        restart_after: 120 * S,
        restart_backoff: 300 * S,
        flap_limit: 3,
        flap_window: 1800 * S,
        flap_hold: 600 * S,
        reactivate_after: 1800 * S,
    }
}

struct Run {
    p: Policy,
    /// An admin's hold on the group (the daemon core owns it).
    held: bool,
    t0: Instant,
    now: Instant,
}

impl Run {
    fn new(kind: Kind) -> Run {
        let t0 = Instant::now();
        Run {
            p: Policy::new(kind, timing()),
            held: false,
            t0,
            now: t0,
        }
    }
    fn at(&mut self, secs: u64) -> &mut Self {
        self.now = self.t0 + Duration::from_secs(secs);
        self.p.tick(self.now);
        self
    }
    fn health(&mut self, h: State) -> &mut Self {
        self.p.on_health(h, self.now);
        self
    }
    fn want(&mut self, guard: bool) -> Option<Want> {
        self.p.decide(self.now, guard, self.held).want
    }
    /// Decides and, if something is wanted, sends it and gets `accepted`.
    fn push(&mut self, accepted: bool) -> Option<Want> {
        let w = self.p.decide(self.now, false, self.held).want?;
        self.p.on_sending(w, self.now);
        self.p.on_answer(w, accepted);
        Some(w)
    }
}

const UNDERLAY: Kind = Kind::Underlay { identical: false };

#[test]
fn first_start_with_everything_broken_pushes_no_deactive() {
    let mut r = Run::new(UNDERLAY);
    r.at(0).health(State::Down);
    for t in [0, 60, 3600, 86_400] {
        assert_eq!(r.at(t).want(false), None, "at {t}s");
    }
    let mut r = Run::new(Kind::Tunnel);
    r.at(0).health(State::Down);
    for t in [0, 121, 3600] {
        assert_eq!(
            r.at(t).want(false),
            Some(Want::Active),
            "tunnel at {t}s: never restarted unarmed"
        );
    }
}

#[test]
fn underlay_deactivates_once_armed_and_the_guard_can_hold_it() {
    let mut r = Run::new(UNDERLAY);
    assert_eq!(r.at(0).want(false), None, "unknown: nothing");
    r.health(State::Up);
    assert_eq!(r.want(false), Some(Want::Active));
    r.at(10).health(State::Down);
    let d = r.p.decide(r.now, true, r.held);
    assert_eq!((d.want, d.withheld), (None, Some(Withheld::Guard)));
    assert_eq!(r.want(false), Some(Want::DeActive));
    r.p.disarm(r.now);
    assert_eq!(r.want(false), None, "disarmed: no DeActive until seen up");
    r.health(State::Up);
    assert_eq!(r.want(false), Some(Want::Active));
}

#[test]
fn a_group_that_stays_up_is_armed_again_by_a_check_sent_after_the_disarm() {
    let mut r = Run::new(UNDERLAY);
    r.at(0).health(State::Up);
    let disarmed = r.at(10).now;
    r.p.disarm(disarmed);
    r.p.seen_good(disarmed - Duration::from_millis(1));
    assert!(!r.p.armed, "a check sent before the disarm is no sighting");
    r.p.seen_good(disarmed);
    assert!(!r.p.armed, "nor one sent at the very moment");
    r.p.seen_good(disarmed + Duration::from_millis(1));
    assert!(r.p.armed, "up, and a good check sent after the disarm: seen up");
    r.at(11).health(State::Down);
    assert_eq!(r.want(false), Some(Want::DeActive));

    let t = r.at(12).now;
    r.p.disarm(t);
    let t = r.at(13).now;
    r.p.seen_good(t);
    assert!(!r.p.armed, "a group that is down is not seen up by one good check");
}

#[test]
fn identically_probed_members_are_never_deactivated() {
    let mut r = Run::new(Kind::Underlay { identical: true });
    r.at(0).health(State::Up);
    r.at(5).health(State::Down);
    assert_eq!(r.want(false), None);
}

#[test]
fn reactivate_after_brings_back_a_group_failoverd_deactivated_and_disarms_it() {
    let mut r = Run::new(UNDERLAY);
    r.at(0).health(State::Up);
    r.at(10).health(State::Down);
    assert_eq!(r.push(true), Some(Want::DeActive));
    assert_eq!(
        r.at(1000).want(false),
        Some(Want::DeActive),
        "still down: DeActive stays wanted (already in place)"
    );
    assert_eq!(r.at(1810).want(false), Some(Want::Active), "1800 s after the DeActive");
    assert_eq!(r.push(true), Some(Want::Active));
    assert!(!r.p.armed, "not armed until seen up");
    assert_eq!(r.at(1900).want(false), None, "down but disarmed: no second DeActive");
}

#[test]
fn flapping_underlay_groups_are_damped_and_the_hold_doubles() {
    let mut r = Run::new(UNDERLAY);
    std::sync::Arc::make_mut(&mut r.p.timing).flap_hold = 60 * S;
    let mut t = 0;
    for _ in 0..3 {
        r.at(t).health(State::Up);
        r.push(true);
        r.at(t + 10).health(State::Down);
        assert_eq!(r.push(true), Some(Want::DeActive));
        t += 20;
    }
    r.at(t).health(State::Up);
    assert_eq!(r.want(false), None, "3 DeActives in the window: Active waits flap_hold");
    let hold = |deactives, hold, remaining| {
        Some(FlapHold {
            deactives,
            hold: hold * S,
            remaining: remaining * S,
        })
    };
    assert_eq!(
        r.p.flap_hold(r.now),
        hold(3, 60, 60),
        "status can say why and until when"
    );
    assert_eq!(r.at(t + 59).want(false), None);
    assert_eq!(r.p.flap_hold(r.now), hold(3, 60, 1));
    assert_eq!(r.at(t + 60).want(false), Some(Want::Active));
    assert_eq!(r.p.flap_hold(r.now), None, "the hold has run out");
    r.push(true);
    r.at(t + 70).health(State::Down);
    assert_eq!(
        r.p.flap_hold(r.now),
        None,
        "no hold on the Active of a group that is down"
    );
    assert_eq!(r.push(true), Some(Want::DeActive), "a 4th");
    r.at(t + 80).health(State::Up);
    assert_eq!(r.at(t + 80 + 119).want(false), None, "the hold doubled to 120 s");
    assert_eq!(r.p.flap_hold(r.now), hold(4, 120, 1));
    assert_eq!(r.at(t + 80 + 120).want(false), Some(Want::Active));
    // Once the DeActives leave the window, no damping.
    r.push(true);
    r.at(t + 3000).health(State::Down);
    r.push(true);
    r.at(t + 3010).health(State::Up);
    assert_eq!(r.want(false), Some(Want::Active));
}

#[test]
fn retries_of_one_deactive_count_once_for_flap_damping() {
    let mut r = Run::new(UNDERLAY);
    r.at(0).health(State::Up);
    r.push(true);
    r.at(10).health(State::Down);
    for t in [10, 11, 13, 17] {
        assert_eq!(r.at(t).push(false), Some(Want::DeActive), "a retry at {t} s");
    }
    assert_eq!(r.at(25).push(true), Some(Want::DeActive));
    r.at(30).health(State::Up);
    assert_eq!(
        r.want(false),
        Some(Want::Active),
        "one DeActive, five tries: not damped"
    );
}

#[test]
fn tunnel_groups_are_restarted_never_left_off_with_backoff() {
    let mut r = Run::new(Kind::Tunnel);
    r.at(0).health(State::Up);
    r.at(10).health(State::Down);
    assert_eq!(
        r.at(100).want(false),
        Some(Want::Active),
        "the firewall's own failover goes first"
    );
    assert_eq!(r.at(130).want(false), Some(Want::DeActive), "down for restart_after");
    assert_eq!(r.push(true), Some(Want::DeActive));
    let d = r.p.decide(r.now, false, r.held);
    assert_eq!((d.want, d.must_send), (Some(Want::Active), true), "then Active at once");
    assert_eq!(r.push(true), Some(Want::Active));
    assert_eq!(r.p.restart, Restart::Idle);
    assert_eq!(
        r.at(300).want(false),
        Some(Want::Active),
        "next restart not before the backoff (300 s)"
    );
    assert_eq!(r.at(430).want(false), Some(Want::DeActive), "130 + 300");
    r.push(true);
    r.push(true);
    assert_eq!(r.at(1000).want(false), Some(Want::Active), "backoff doubled to 600 s");
    assert_eq!(r.at(1030).want(false), Some(Want::DeActive));
    r.push(true);
    r.push(true);
    // Up for restart_backoff resets the doubling.
    r.at(1100).health(State::Up);
    r.at(1400);
    assert_eq!(r.p.restart_backoff, 300 * S);
}

#[test]
fn a_hold_or_the_guard_during_a_restart_still_sends_the_active() {
    let mut r = Run::new(Kind::Tunnel);
    r.at(0).health(State::Up);
    r.at(10).health(State::Down);
    assert_eq!(r.at(130).want(false), Some(Want::DeActive));
    r.held = true;
    let d = r.p.decide(r.now, false, r.held);
    assert_eq!(
        (d.want, d.must_send),
        (Some(Want::Active), true),
        "held before the DeActive went out"
    );
    r.p.on_answer(Want::Active, true);
    assert_eq!(r.want(false), None, "then the hold takes effect");

    let mut r = Run::new(Kind::Tunnel);
    r.at(0).health(State::Up);
    r.at(10).health(State::Down);
    assert_eq!(r.at(130).want(false), Some(Want::DeActive));
    let d = r.p.decide(r.now, true, r.held);
    assert_eq!(
        (d.want, d.withheld, d.must_send),
        (Some(Want::Active), Some(Withheld::Guard), true)
    );
    // The restart's DeActive sent, then a hold: the Active goes out anyway.
    let mut r = Run::new(Kind::Tunnel);
    r.at(0).health(State::Up);
    r.at(10).health(State::Down);
    r.at(130);
    assert_eq!(r.push(true), Some(Want::DeActive));
    r.held = true;
    assert_eq!(r.want(false), Some(Want::Active));
    // An unknown outcome ends the DeActive too.
    let mut r = Run::new(Kind::Tunnel);
    r.at(0).health(State::Up);
    r.at(10).health(State::Down);
    r.at(130);
    assert_eq!(r.push(false), Some(Want::DeActive));
    assert_eq!(r.want(false), Some(Want::Active));
}

#[test]
fn a_tunnel_group_up_again_before_its_deactive_goes_out_gets_its_active() {
    let mut r = Run::new(Kind::Tunnel);
    r.at(0).health(State::Up);
    r.at(10).health(State::Down);
    assert_eq!(r.at(130).want(false), Some(Want::DeActive));
    r.health(State::Up);
    let d = r.p.decide(r.now, false, r.held);
    assert_eq!((d.want, d.must_send), (Some(Want::Active), true));
}

#[test]
fn intent_groups_want_their_intent_unless_held() {
    let mut r = Run::new(Kind::Intent(Want::DeActive));
    assert_eq!(
        r.at(0).want(true),
        Some(Want::DeActive),
        "no waiting for health, no guard"
    );
    r.health(State::Up);
    assert_eq!(r.want(false), Some(Want::DeActive));
    r.held = true;
    assert_eq!(r.want(false), None);
}

#[test]
fn states_kinds_and_classes_print_as_words_not_debug() {
    use crate::firewall::slot::Class;
    assert_eq!(Want::DeActive.to_string(), "DeActive");
    assert_eq!(Belief::Unknown.to_string(), "Unknown");
    assert_eq!(Belief::Active.to_string(), "Active");
    assert_eq!(Kind::Underlay { identical: false }.to_string(), "underlay");
    assert_eq!(
        Kind::Underlay { identical: true }.to_string(),
        "underlay (identical members)"
    );
    assert_eq!(Kind::Intent(Want::Active).to_string(), "intent Active");
    assert_eq!(Class::Refused("534 x".into()).label(), "refused");
    assert_eq!(Class::Transient("t".into()).to_string(), "transient: t");
    assert_eq!(Class::Accepted.to_string(), "accepted");
}
