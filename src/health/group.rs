//! Group evaluation over its members' states: the group state, the expected
//! active member (failover order, with or without automatic failback) and
//! the events of each update in their documented order (docs/health.md): member events (in
//! member order), then failover/failback, then group up/down, so that an
//! effect is always reported after its cause.
//!
//! Leaving unknown is silent unless it contradicts a state persisted before a
//! restart or reload; then the event is flagged `while_stopped`. An unknown
//! member is not skipped when choosing the active member (the choice waits
//! for its verdict), so the choice does not depend on which member's verdict
//! happens to arrive first after a start or reload; but only for its
//! *patience* (`fall × interval + timeout`) after its checks began: then it
//! is passed over as not up, never counted down (contract §5). Times are
//! passed in ([`GroupHealth::checks_began`], [`GroupHealth::tick`]).

use std::time::Duration;

use tokio::time::Instant;

use super::target::State;
use crate::config::names::Name;

/// What was known before a restart or reload. `State::Unknown` (or a
/// missing entry) means "nothing known": the first verdict is then silent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Persisted {
    pub group: State,
    /// By member index, in failover order.
    pub members: Vec<State>,
    pub expected_active: Option<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    MemberDown,
    MemberUp,
    Failover,
    Failback,
    GroupDown,
    GroupUp,
}

impl EventKind {
    pub const ALL: [EventKind; 6] = [
        EventKind::MemberDown,
        EventKind::MemberUp,
        EventKind::Failover,
        EventKind::Failback,
        EventKind::GroupDown,
        EventKind::GroupUp,
    ];

    /// The name in logs and the history's records ("MemberDown").
    pub fn name(self) -> &'static str {
        match self {
            EventKind::MemberDown => "MemberDown",
            EventKind::MemberUp => "MemberUp",
            EventKind::Failover => "Failover",
            EventKind::Failback => "Failback",
            EventKind::GroupDown => "GroupDown",
            EventKind::GroupUp => "GroupUp",
        }
    }

    /// The status page's label ("member down"), and whether it is bad.
    pub fn page_label(self) -> (&'static str, bool) {
        match self {
            EventKind::MemberDown => ("member down", true),
            EventKind::MemberUp => ("member up", false),
            EventKind::Failover => ("failover", true),
            EventKind::Failback => ("failback", false),
            EventKind::GroupDown => ("group down", true),
            EventKind::GroupUp => ("group up", false),
        }
    }
}

/// One event. `member` is set for member events; `from`/`to` for
/// failover/failback; group events have neither.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    pub member: Option<usize>,
    pub from: Option<usize>,
    pub to: Option<usize>,
    /// The cause, with figures (for member events: the member's reason).
    pub reason: String,
    /// The change happened while failoverd was stopped: the first verdict
    /// after start differs from the persisted one.
    pub while_stopped: bool,
}

/// A group is up while any member is up, down when all members are down,
/// unknown otherwise.
pub fn group_state(members: &[State]) -> State {
    if members.contains(&State::Up) {
        State::Up
    } else if members.iter().all(|s| *s == State::Down) {
        State::Down
    } else {
        State::Unknown
    }
}

/// The state of one member or of the group, with the last known (up/down)
/// state that decides whether a new verdict is an event.
#[derive(Clone, Copy, Debug)]
struct Tracked {
    state: State,
    last_known: Option<State>,
    /// `last_known` came from persisted state and no verdict was seen since.
    persisted: bool,
}

impl Tracked {
    fn new(persisted: State) -> Self {
        let known = persisted != State::Unknown;
        Tracked {
            state: State::Unknown,
            last_known: known.then_some(persisted),
            persisted: known,
        }
    }

    /// Records a new state; returns `Some(while_stopped)` if it is an event:
    /// a verdict (up/down) that differs from the last known one. Going to
    /// unknown, or leaving it for the first time with nothing persisted, is
    /// silent.
    fn advance(&mut self, new: State) -> Option<bool> {
        self.state = new;
        if new == State::Unknown {
            return None;
        }
        let previous = self.last_known.replace(new);
        let while_stopped = std::mem::replace(&mut self.persisted, false);
        previous.filter(|p| *p != new).map(|_| while_stopped)
    }
}

/// One member as the group sees it: all in one place, so a group holds
/// one allocation for its members' machines, not five (issue #30).
#[derive(Clone, Debug)]
struct Member {
    /// The plan's copy of its connection's name (a reference count: no
    /// buffer of the group's own).
    name: Name,
    tracked: Tracked,
    /// How long it may stay unknown after its checks began before it is
    /// passed over. `None`: it always waits.
    patience: Option<Duration>,
    /// When its checks began (the first check seen).
    began: Option<Instant>,
    /// Its patience ran out (for good: it counts from the checks' start,
    /// so a member unknown again later is passed over at once).
    overdue: bool,
}

/// Health of one failover group.
#[derive(Clone, Debug)]
pub struct GroupHealth {
    automatic_failback: bool,
    /// In failover order.
    members: Box<[Member]>,
    group: Tracked,
    expected: Option<usize>,
    /// `expected` came from persisted state and no choice was made since.
    expected_persisted: bool,
}

impl GroupHealth {
    /// `member_names` in failover order. Persisted entries beyond the
    /// members, and a persisted expected member out of range, are ignored.
    pub fn new(member_names: Vec<String>, automatic_failback: bool, persisted: Option<Persisted>) -> Self {
        GroupHealth::with_names(member_names.iter().map(String::as_str), automatic_failback, persisted)
    }

    /// [`GroupHealth::new`] with borrowed names (each copied).
    pub fn with_names<'a>(
        member_names: impl Iterator<Item = &'a str> + Clone,
        automatic_failback: bool,
        persisted: Option<Persisted>,
    ) -> Self {
        GroupHealth::with_shared(member_names.map(Name::from), automatic_failback, persisted)
    }

    /// [`GroupHealth::new`] with shared names (the plan's copies, kept).
    pub fn with_shared(
        member_names: impl Iterator<Item = Name> + Clone,
        automatic_failback: bool,
        persisted: Option<Persisted>,
    ) -> Self {
        let persisted = persisted.unwrap_or_default();
        // Sized exactly: a filtered iterator's first push reserves four.
        let mut members = Vec::with_capacity(member_names.clone().count());
        members.extend(member_names.enumerate().map(|(i, name)| Member {
            name,
            tracked: Tracked::new(persisted.members.get(i).copied().unwrap_or_default()),
            patience: None,
            began: None,
            overdue: false,
        }));
        let expected = persisted.expected_active.filter(|i| *i < members.len());
        GroupHealth {
            automatic_failback,
            members: members.into_boxed_slice(),
            group: Tracked::new(persisted.group),
            expected,
            expected_persisted: expected.is_some(),
        }
    }

    /// Sets each member's patience (by index): `fall × interval + timeout`,
    /// the longest over its targets. Kept times are not touched, so a
    /// reload can change it. Members beyond `patience` always wait.
    pub fn set_patience(&mut self, patience: Vec<Duration>) {
        for (i, m) in self.members.iter_mut().enumerate() {
            m.patience = patience.get(i).copied();
        }
    }

    /// Member `index`'s patience, if it has one.
    pub fn patience(&self, index: usize) -> Option<Duration> {
        self.members.get(index)?.patience
    }

    /// Takes `old`'s state (member and group states, the expected member,
    /// when checks began, who is overdue) and keeps the names and patience
    /// of `self`: a reload with the same members and failback.
    pub fn take_state(&mut self, old: &GroupHealth) {
        let kept: Vec<(Option<Duration>, Name)> = self.members.iter().map(|m| (m.patience, m.name.clone())).collect();
        *self = old.clone();
        // The new plan's copies of the (same) names: the old plan's go.
        for (m, (p, name)) in self.members.iter_mut().zip(kept) {
            m.patience = p;
            m.name = name;
        }
    }

    /// Member names in failover order.
    pub fn names(&self) -> impl Iterator<Item = &str> + '_ {
        self.members.iter().map(|m| &*m.name)
    }

    /// Member `index`'s checks began at `at` (only the first call counts).
    pub fn checks_began(&mut self, index: usize, at: Instant) {
        if let Some(m) = self.members.get_mut(index)
            && m.began.is_none()
        {
            m.began = Some(at);
        }
    }

    /// Marks the members whose patience ran out by `at`. True when one of
    /// them is unknown as of the last update: the expected active member
    /// must be chosen again (call [`GroupHealth::update`]).
    pub fn tick(&mut self, at: Instant) -> bool {
        let mut choose_again = false;
        for m in &mut self.members {
            let (Some(began), Some(patience)) = (m.began, m.patience) else {
                continue;
            };
            if !m.overdue && at.saturating_duration_since(began) >= patience {
                m.overdue = true;
                choose_again |= m.tracked.state == State::Unknown;
            }
        }
        choose_again
    }

    /// Whether member `index` is unknown past its patience (passed over).
    pub fn passed_over(&self, index: usize) -> bool {
        self.member_state(index) == State::Unknown && self.members.get(index).is_some_and(|m| m.overdue)
    }

    /// Takes the members' current states and reasons (by index, in failover
    /// order; missing entries count as unknown) and returns the events.
    pub fn update(&mut self, members: &[(State, String)]) -> Vec<Event> {
        let states: Vec<State> = (0..self.members.len())
            .map(|i| members.get(i).map_or(State::Unknown, |m| m.0))
            .collect();
        let mut events = Vec::new();
        for (i, m) in self.members.iter_mut().enumerate() {
            if let Some(while_stopped) = m.tracked.advance(states[i]) {
                let kind = match states[i] {
                    State::Up => EventKind::MemberUp,
                    _ => EventKind::MemberDown,
                };
                events.push(Event {
                    member: Some(i),
                    ..event(kind, reason_of(members, i).to_owned(), while_stopped)
                });
            }
        }
        events.extend(self.choose_active(&states, members));
        let group = group_state(&states);
        if let Some(while_stopped) = self.group.advance(group) {
            events.push(self.group_event(group, &states, members, while_stopped));
        }
        events
    }

    /// Whether automatic failback is on.
    pub fn failback(&self) -> bool {
        self.automatic_failback
    }

    /// Current group state.
    pub fn state(&self) -> State {
        self.group.state
    }

    /// The member expected to be active (kept while no member is up).
    pub fn expected_active(&self) -> Option<usize> {
        self.expected
    }

    /// Member states as of the last update.
    pub fn member_states(&self) -> Vec<State> {
        self.members.iter().map(|m| m.tracked.state).collect()
    }

    /// Member `index`'s state as of the last update (no allocation).
    pub fn member_state(&self, index: usize) -> State {
        self.members.get(index).map_or(State::Unknown, |m| m.tracked.state)
    }

    /// What to persist so a restart can tell what changed while stopped.
    pub fn persisted(&self) -> Persisted {
        let known = |t: &Tracked| t.last_known.unwrap_or_default();
        Persisted {
            group: known(&self.group),
            members: self.members.iter().map(|m| known(&m.tracked)).collect(),
            expected_active: self.expected,
        }
    }

    /// Member name by index, for messages.
    pub fn name(&self, index: usize) -> &str {
        self.members.get(index).map_or("?", |m| &m.name)
    }

    /// One-line human text for an event, e.g. "member 'b' down (changed
    /// while failoverd was stopped): condition 'peer' fails: ...".
    pub fn describe(&self, e: &Event) -> String {
        let name = |i: Option<usize>| self.name(i.unwrap_or(usize::MAX)).to_owned();
        let what = match e.kind {
            EventKind::MemberDown => format!("member '{}' down", name(e.member)),
            EventKind::MemberUp => format!("member '{}' up", name(e.member)),
            EventKind::Failover => format!("failover '{}' -> '{}'", name(e.from), name(e.to)),
            EventKind::Failback => format!("failback '{}' -> '{}'", name(e.from), name(e.to)),
            EventKind::GroupDown => "group down".to_owned(),
            EventKind::GroupUp => "group up".to_owned(),
        };
        let stopped = if e.while_stopped {
            " (changed while failoverd was stopped)"
        } else {
            ""
        };
        format!("{what}{stopped}: {}", e.reason)
    }

    /// The member that should be active now, or `None` to keep the current
    /// one. Members are considered in order from the first (automatic
    /// failback, or no current member yet) or from the current one (wrapping
    /// round); down members are skipped, the first up one is chosen, and an
    /// unknown one stops the search: until it has a verdict nobody can say
    /// whether it, or one after it, should be active. An unknown member past
    /// its patience is skipped like a down one.
    fn next_active(&self, states: &[State]) -> Option<usize> {
        let n = states.len();
        let start = match self.expected {
            Some(current) if !self.automatic_failback => current,
            _ => 0,
        };
        let skipped = |i: usize| match states[i] {
            State::Down => true,
            State::Unknown => self.members.get(i).is_some_and(|m| m.overdue),
            State::Up => false,
        };
        (0..n)
            .map(|k| (start + k) % n)
            .find(|&i| !skipped(i))
            .filter(|&i| states[i] == State::Up)
    }

    /// Updates the expected active member; a change is a failback when it
    /// goes to the first member, a failover otherwise. The initial choice
    /// (no current member) is not an event.
    fn choose_active(&mut self, states: &[State], members: &[(State, String)]) -> Option<Event> {
        let to = self.next_active(states)?;
        let from = self.expected.replace(to);
        let while_stopped = std::mem::replace(&mut self.expected_persisted, false);
        let from = from.filter(|from| *from != to)?;
        let kind = if to == 0 {
            EventKind::Failback
        } else {
            EventKind::Failover
        };
        let why = self.switch_reason(kind, from, to, states, members);
        Some(Event {
            from: Some(from),
            to: Some(to),
            ..event(kind, why, while_stopped)
        })
    }

    /// Why the expected active member changes from `from` to `to`.
    fn switch_reason(
        &self,
        kind: EventKind,
        from: usize,
        to: usize,
        states: &[State],
        members: &[(State, String)],
    ) -> String {
        let (f, t) = (self.name(from), self.name(to));
        let from_state = states.get(from).copied().unwrap_or_default();
        if from_state == State::Up {
            return format!("member '{t}' is up and comes before '{f}' in failover order (automatic failback)");
        }
        let state = state_word(from_state);
        match kind {
            // Back to the first member: the news is the member that came
            // back, with its own reason.
            EventKind::Failback => format!("member '{t}' is up: {}; '{f}' is {state}", reason_of(members, to)),
            _ if from_state == State::Unknown => {
                let patience = crate::health::target::format_duration(self.patience(from).unwrap_or_default());
                format!(
                    "member '{f}' still unknown {patience} after its checks began: {}; next member up is '{t}'",
                    reason_of(members, from)
                )
            }
            _ => format!(
                "member '{f}' {state}: {}; next member up is '{t}'",
                reason_of(members, from)
            ),
        }
    }

    fn group_event(&self, group: State, states: &[State], members: &[(State, String)], while_stopped: bool) -> Event {
        if group == State::Up {
            let first = states.iter().position(|s| *s == State::Up).unwrap_or(0);
            let why = format!("member '{}' up: {}", self.name(first), reason_of(members, first));
            return event(EventKind::GroupUp, why, while_stopped);
        }
        let parts: Vec<String> = (0..states.len())
            .map(|i| format!("'{}': {}", self.name(i), reason_of(members, i)))
            .collect();
        let why = format!("all {} members down: {}", states.len(), parts.join("; "));
        event(EventKind::GroupDown, why, while_stopped)
    }
}

/// The reason a caller gave for member `i` ("" if missing).
fn reason_of(members: &[(State, String)], i: usize) -> &str {
    members.get(i).map_or("", |m| m.1.as_str())
}

fn event(kind: EventKind, reason: String, while_stopped: bool) -> Event {
    Event {
        kind,
        member: None,
        from: None,
        to: None,
        reason,
        while_stopped,
    }
}

fn state_word(state: State) -> &'static str {
    state.word()
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod patience_tests;
