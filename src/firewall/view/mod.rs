//! The firewall's own view of its tunnels (`[snmp]`, docs/health.md "The
//! firewall's own view", docs/events-and-mail.md "Firewall view events").
//!
//! - [`walk`]: one walk of the tunnel table over SNMP (network).
//! - [`table`]: its rows and errors; [`members`]: each member's view and
//!   each group's carrying member (pure).
//! - [`track`]: the disagreement, not-honoured and unusable trackers
//!   (pure, time passed in), and [`View`], which owns them for all groups.
//!
//! Safety: nothing here starts a push, counts as a check of a target or
//! writes over SNMP. The daemon calls [`View`] and mails its events; how
//! and when is in docs/health.md, "Wiring the view into the daemon".

pub mod members;
pub mod table;
pub mod track;
pub mod walk;

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use tokio::time::Instant;

use crate::firewall::decide::Want;
pub use members::{Carrying, GroupMembers, GroupView, MemberView};
pub use table::{Row, TunnelStatus, WalkError};
use track::{Disagreement, Episode, Expected, Streak, StreakChange, Verdict, Verify};

/// The durations the trackers judge by (`[snmp] verify_within`,
/// `disagree_after`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    pub verify_within: Duration,
    pub disagree_after: Duration,
}

impl Timing {
    pub fn of(s: &crate::config::settings::Snmp) -> Timing {
        Timing {
            verify_within: s.verify_within,
            disagree_after: s.disagree_after,
        }
    }
}

/// An event of the firewall view, for the journal and the mail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ViewEvent {
    /// Firewall and failoverd disagreed for `disagree_after`.
    Disagreement {
        group: String,
        carrying: Carrying,
        detail: String,
        lasted: Duration,
    },
    /// They agree again after a reported disagreement.
    Agreement {
        group: String,
        carrying: Carrying,
        lasted: Duration,
    },
    /// An accepted push the table did not show within `verify_within`.
    NotHonoured {
        group: String,
        want: Want,
        waited: Duration,
        carrying: Carrying,
    },
    /// Walks started failing.
    SnmpUnusable { error: WalkError },
    /// A walk read the table again after failures.
    SnmpUsable { after: Duration },
}

impl ViewEvent {
    /// The group the event is about; `None` for daemon events.
    pub fn group(&self) -> Option<&str> {
        match self {
            ViewEvent::Disagreement { group, .. }
            | ViewEvent::Agreement { group, .. }
            | ViewEvent::NotHonoured { group, .. } => Some(group),
            ViewEvent::SnmpUnusable { .. } | ViewEvent::SnmpUsable { .. } => None,
        }
    }

    /// The journal's EVENT field: the mail kind's name, as the
    /// `X-Failoverd-Event` header spells it (docs/events-and-mail.md).
    pub fn name(&self) -> &'static str {
        match self {
            ViewEvent::Disagreement { .. } => "FirewallDisagrees",
            ViewEvent::Agreement { .. } => "FirewallAgrees",
            ViewEvent::NotHonoured { .. } => "PushNotHonoured",
            ViewEvent::SnmpUnusable { .. } => "SnmpUnusable",
            ViewEvent::SnmpUsable { .. } => "SnmpUsable",
        }
    }
}

fn d(x: Duration) -> humantime::FormattedDuration {
    humantime::format_duration(Duration::from_secs(x.as_secs()))
}

impl fmt::Display for ViewEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ViewEvent::Disagreement {
                group, detail, lasted, ..
            } => write!(
                f,
                "{group}: firewall and failoverd disagree for {}: {detail}. failoverd pushes nothing on this ground; \
                 check the group on the firewall (its own failover may have switched) and the members' targets",
                d(*lasted)
            ),
            ViewEvent::Agreement {
                group,
                carrying,
                lasted,
            } => write!(
                f,
                "{group}: firewall and failoverd agree again after {} (the firewall carries {carrying})",
                d(*lasted)
            ),
            ViewEvent::NotHonoured {
                group,
                want,
                waited,
                carrying,
            } => {
                let shows = match want {
                    Want::Active => "no member activated",
                    Want::DeActive => "a member still activated",
                };
                write!(
                    f,
                    "{group}: the firewall accepted {want} but its tunnel table shows {shows} after {} (it carries {carrying}); \
                     the push is not sent again on this ground: check the group on the firewall (Configure > VPN) and its log",
                    d(*waited)
                )
            }
            ViewEvent::SnmpUnusable { error } => write!(
                f,
                "the firewall's tunnel table cannot be read: {error}. Pushes and probes go on without the firewall view"
            ),
            ViewEvent::SnmpUsable { after } => write!(
                f,
                "the firewall's tunnel table is read again, after {} without it",
                d(*after)
            ),
        }
    }
}

#[derive(Clone, Debug, Default)]
struct GroupTrack {
    expected: Option<Expected>,
    disagree: Disagreement,
    verify: Verify,
}

/// The firewall view of every group, and its trackers. The daemon owns one
/// and calls it; it never blocks and never does I/O.
#[derive(Clone, Debug)]
pub struct View {
    timing: Timing,
    groups: Vec<GroupMembers>,
    views: Vec<GroupView>,
    tracks: BTreeMap<String, GroupTrack>,
    streak: Streak,
    last_error: Option<WalkError>,
    last_read: Option<Instant>,
}

impl View {
    /// Before the first walk every member's view is unknown.
    pub fn new(groups: Vec<GroupMembers>, timing: Timing) -> View {
        let views = members::unknown_views(&groups, "not read yet");
        let tracks = groups.iter().map(|g| (g.name.clone(), GroupTrack::default())).collect();
        View {
            timing,
            groups,
            views,
            tracks,
            streak: Streak::default(),
            last_error: None,
            last_read: None,
        }
    }

    /// A reload's new view keeps what the old one knew of episodes under
    /// way: the SNMP streak (its `SnmpUsable` still comes) and each group's
    /// disagreement and pushes to verify, for groups that keep their name
    /// (contract section 9: episodes carry across a reload).
    pub fn adopt(&mut self, old: &View) {
        self.streak = old.streak.clone();
        self.last_error.clone_from(&old.last_error);
        self.last_read = old.last_read;
        for (name, track) in &mut self.tracks {
            if let Some(t) = old.tracks.get(name) {
                *track = t.clone();
            }
        }
    }

    /// A walk ended at `now`. Returns the events it causes, in order:
    /// the streak's, then each group's not-honoured and disagreement
    /// events in the groups' order.
    pub fn walked(&mut self, result: Result<Vec<Row>, WalkError>, now: Instant) -> Vec<ViewEvent> {
        let mut out = Vec::new();
        match result {
            Err(error) => {
                if self.streak.walked(false, now) == Some(StreakChange::Unusable) {
                    out.push(ViewEvent::SnmpUnusable { error: error.clone() });
                }
                self.views = members::unknown_views(&self.groups, &error.to_string());
                for t in self.tracks.values_mut() {
                    t.disagree.unjudged();
                }
                self.last_error = Some(error);
            }
            Ok(rows) => {
                if let Some(StreakChange::UsableAgain { after }) = self.streak.walked(true, now) {
                    out.push(ViewEvent::SnmpUsable { after });
                }
                self.last_error = None;
                self.last_read = Some(now);
                self.views = members::group_views(&rows, &self.groups, now);
                for v in &self.views {
                    let Some(t) = self.tracks.get_mut(&v.group) else {
                        continue;
                    };
                    let any_activated = v.members.iter().any(|(_, m)| m.activated());
                    if let Some(Verdict::NotHonoured { want, waited }) =
                        t.verify.walked(any_activated, now, self.timing.verify_within)
                    {
                        out.push(ViewEvent::NotHonoured {
                            group: v.group.clone(),
                            want,
                            waited,
                            carrying: v.carrying.clone(),
                        });
                    }
                    let Some(e) = &t.expected else {
                        t.disagree.unjudged();
                        continue;
                    };
                    let detail = track::disagreement(&v.carrying, e);
                    match t.disagree.judged(detail, now, self.timing.disagree_after) {
                        Some(Episode::Began { detail, lasted }) => out.push(ViewEvent::Disagreement {
                            group: v.group.clone(),
                            carrying: v.carrying.clone(),
                            detail,
                            lasted,
                        }),
                        Some(Episode::Ended { lasted }) => out.push(ViewEvent::Agreement {
                            group: v.group.clone(),
                            carrying: v.carrying.clone(),
                            lasted,
                        }),
                        None => {}
                    }
                }
            }
        }
        out
    }

    /// The firewall accepted (2xx) `want` for `group` at `now`: the next
    /// walks check that the table shows it within `verify_within`.
    pub fn push_accepted(&mut self, group: &str, want: Want, now: Instant) {
        if let Some(t) = self.tracks.get_mut(group) {
            t.verify.push_accepted(want, now);
        }
    }

    /// What failoverd now believes about `group` (its expected active
    /// member and which members it sees up or down); `None` while it has
    /// no opinion (then the group is not judged). Judged at the next walk.
    pub fn expected(&mut self, group: &str, expected: Option<Expected>) {
        if let Some(t) = self.tracks.get_mut(group) {
            t.expected = expected;
        }
    }

    /// Every group's view, in the groups' order.
    pub fn groups(&self) -> &[GroupView] {
        &self.views
    }

    pub fn group(&self, name: &str) -> Option<&GroupView> {
        self.views.iter().find(|v| v.group == name)
    }

    /// The last push of `group` found not honoured, until the next
    /// accepted push: for status, beside the push.
    pub fn not_honoured(&self, group: &str) -> Option<track::Pending> {
        self.tracks.get(group).and_then(|t| t.verify.not_honoured)
    }

    /// Whether `group` is in a reported disagreement now.
    pub fn disagreeing(&self, group: &str) -> bool {
        self.tracks.get(group).is_some_and(|t| t.disagree.reported())
    }

    /// Why the last walk failed, while walks fail.
    pub fn last_error(&self) -> Option<&WalkError> {
        self.last_error.as_ref()
    }

    /// When the table was last read.
    pub fn last_read(&self) -> Option<Instant> {
        self.last_read
    }

    /// The extra reason for a member failoverd sees down: the firewall
    /// shows its tunnel established (docs/health.md).
    pub fn down_reason(&self, group: &str, member: &str) -> Option<&'static str> {
        let v = self.group(group)?.member(member)?;
        v.established().then_some(members::ESTABLISHED_BUT_FAILING)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn row(name: &str, status: TunnelStatus, activated: bool) -> Row {
        Row {
            index: vec![1],
            name: name.into(),
            status,
            activated,
        }
    }

    fn view() -> View {
        View::new(
            vec![GroupMembers {
                name: "HQ".into(),
                members: vec!["A".into(), "B".into()],
            }],
            Timing {
                verify_within: 60 * S,
                disagree_after: 120 * S,
            },
        )
    }

    fn timeout() -> WalkError {
        WalkError::Timeout {
            address: "192.0.2.1:161".parse().unwrap(),
            after: 2 * S,
        }
    }

    /// A reload builds a new view: the SNMP streak under way carries over,
    /// so the walk that reads the table again still says `SnmpUsable`
    /// (without `adopt`, the new view would never end the episode).
    #[test]
    fn a_reloaded_view_ends_the_snmp_episode_the_old_one_began() {
        use TunnelStatus::*;
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut old = view();
        assert_eq!(
            old.walked(Err(timeout()), at(0)),
            vec![ViewEvent::SnmpUnusable { error: timeout() }]
        );
        let mut fresh = view();
        fresh.adopt(&old);
        let on_a = || Ok(vec![row("A", Active, true), row("B", Inactive, true)]);
        assert_eq!(
            fresh.walked(on_a(), at(30)),
            vec![ViewEvent::SnmpUsable { after: 30 * S }]
        );
        let mut unadopted = view();
        assert_eq!(unadopted.walked(on_a(), at(30)), vec![], "what a reload did before");
    }

    #[test]
    fn a_whole_story_of_events() {
        use TunnelStatus::*;
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut v = view();
        v.expected(
            "HQ",
            Some(Expected {
                active: Some("A".into()),
                up: vec!["A".into(), "B".into()],
                down: vec![],
            }),
        );
        // Carrying B while A is expected: nothing before disagree_after.
        let on_b = || Ok(vec![row("A", Inactive, true), row("B", Active, true)]);
        assert_eq!(v.walked(on_b(), at(0)), vec![]);
        assert_eq!(v.group("HQ").unwrap().carrying, Carrying::Member("B".into()));
        assert_eq!(v.walked(on_b(), at(60)), vec![]);
        // SNMP fails: one event for the streak, views unknown, clock paused.
        let e = v.walked(Err(timeout()), at(70));
        assert_eq!(e, vec![ViewEvent::SnmpUnusable { error: timeout() }]);
        assert!(
            e[0].to_string().contains("no SNMP answer from 192.0.2.1:161"),
            "{}",
            e[0]
        );
        assert_eq!(v.walked(Err(timeout()), at(80)), vec![]);
        assert_eq!(v.group("HQ").unwrap().carrying, Carrying::Unknown);
        assert_eq!(v.down_reason("HQ", "B"), None);
        let e = v.walked(on_b(), at(300));
        assert_eq!(e, vec![ViewEvent::SnmpUsable { after: 230 * S }]);
        assert_eq!(v.walked(on_b(), at(340)), vec![]);
        let e = v.walked(on_b(), at(360));
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            matches!(&e[0], ViewEvent::Disagreement { detail, lasted, .. }
                if detail == "the firewall carries B; failoverd expects A" && *lasted == 120 * S),
            "{e:?}"
        );
        assert!(v.disagreeing("HQ"));
        assert_eq!(v.walked(on_b(), at(400)), vec![], "once per episode");
        // A push of Active is accepted; the firewall goes back to A.
        v.push_accepted("HQ", Want::Active, at(410));
        let on_a = || Ok(vec![row("A", Active, true), row("B", Inactive, true)]);
        let e = v.walked(on_a(), at(420));
        assert!(
            matches!(&e[..], [ViewEvent::Agreement { lasted, .. }] if *lasted == 420 * S),
            "{e:?}"
        );
        assert_eq!(v.not_honoured("HQ"), None);
        // A failing member whose tunnel the firewall shows established.
        assert_eq!(v.down_reason("HQ", "A"), Some(members::ESTABLISHED_BUT_FAILING));
        assert_eq!(v.down_reason("HQ", "B"), None);
        // A DeActive accepted but not applied: reported once.
        v.push_accepted("HQ", Want::DeActive, at(500));
        assert_eq!(v.walked(on_a(), at(530)), vec![]);
        let e = v.walked(on_a(), at(560));
        assert!(
            matches!(
                &e[..],
                [
                    ViewEvent::NotHonoured {
                        want: Want::DeActive,
                        ..
                    },
                    ..
                ]
            ),
            "{e:?}"
        );
        assert!(e[0].to_string().contains("a member still activated"), "{}", e[0]);
        assert!(v.not_honoured("HQ").is_some());
        assert!(
            !v.walked(on_a(), at(620))
                .iter()
                .any(|e| matches!(e, ViewEvent::NotHonoured { .. })),
            "never twice"
        );
    }

    #[test]
    fn unknown_groups_and_members_are_ignored() {
        let mut v = view();
        v.push_accepted("Nope", Want::Active, Instant::now());
        v.expected("Nope", None);
        assert_eq!(
            v.walked(Ok(vec![row("Z", TunnelStatus::Active, true)]), Instant::now()),
            vec![]
        );
        assert_eq!(v.down_reason("Nope", "A"), None);
        assert_eq!(v.down_reason("HQ", "Z"), None);
        assert_eq!(v.group("HQ").unwrap().carrying, Carrying::Nobody);
    }
}
