//! Condition and member evaluation: pure functions from target states to a
//! condition state (quorum of targets up) and a member state (all conditions
//! hold), plus reports that say which condition and which target(s) caused a
//! verdict, with the targets' own reasons, for the member up/down events.

use std::fmt::Write as _;

use super::target::{Reason, State};

/// A condition holds when at least `quorum` targets are up, fails when fewer
/// than `quorum` can still be up (targets not down < quorum), and is unknown
/// otherwise (the unknown targets could still decide either way).
pub fn condition_state(targets: &[State], quorum: usize) -> State {
    let up = targets.iter().filter(|s| **s == State::Up).count();
    let not_down = targets.iter().filter(|s| **s != State::Down).count();
    if up >= quorum {
        State::Up
    } else if not_down < quorum {
        State::Down
    } else {
        State::Unknown
    }
}

/// A member is up when all its conditions hold, down when any fails,
/// unknown otherwise. (A member with no conditions is vacuously up; config
/// validation is expected to forbid it.)
pub fn member_state(conditions: &[State]) -> State {
    if conditions.contains(&State::Down) {
        State::Down
    } else if conditions.iter().all(|s| *s == State::Up) {
        State::Up
    } else {
        State::Unknown
    }
}

/// One target as a condition sees it: borrowed, so building a report does
/// not copy target reasons that end up unused.
#[derive(Clone, Copy, Debug)]
pub struct TargetStatus<'a> {
    pub name: &'a str,
    pub state: State,
    /// The target's `last_reason()`.
    pub reason: Reason<'a>,
}

/// The verdict of one condition with its figures and a human reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConditionReport {
    pub name: String,
    pub state: State,
    pub quorum: usize,
    pub total: usize,
    pub up: usize,
    pub down: usize,
    /// Names of the targets that are down (whatever the condition state).
    pub down_targets: Vec<String>,
    /// E.g. "condition 'peer' fails: 2 of 3 targets down, quorum 2
    /// [target 'a': 3 failed checks in a row: no reply within 1s; ...]".
    pub reason: String,
}

impl ConditionReport {
    /// Evaluates a condition over its targets.
    pub fn evaluate(name: &str, quorum: usize, targets: &[TargetStatus<'_>]) -> Self {
        let states: Vec<State> = targets.iter().map(|t| t.state).collect();
        let state = condition_state(&states, quorum);
        let down: Vec<&TargetStatus<'_>> = targets.iter().filter(|t| t.state == State::Down).collect();
        let up = states.iter().filter(|s| **s == State::Up).count();
        let total = targets.len();
        let reason = match state {
            State::Up => {
                format!("condition '{name}' holds: {up} of {total} targets up, quorum {quorum}")
            }
            State::Down => {
                let mut text = format!(
                    "condition '{name}' fails: {} of {total} targets down, quorum {quorum}",
                    down.len()
                );
                append_targets(&mut text, &down);
                text
            }
            State::Unknown => format!(
                "condition '{name}' unknown: {up} of {total} targets up, {} down, quorum {quorum}",
                down.len()
            ),
        };
        ConditionReport {
            name: name.to_owned(),
            state,
            quorum,
            total,
            up,
            down: down.len(),
            down_targets: down.iter().map(|t| t.name.to_owned()).collect(),
            reason,
        }
    }
}

/// Appends " [target 'a': reason; target 'b': reason]".
fn append_targets(text: &mut String, targets: &[&TargetStatus<'_>]) {
    text.push_str(" [");
    for (i, t) in targets.iter().enumerate() {
        let sep = if i == 0 { "" } else { "; " };
        let _ = write!(text, "{sep}target '{}': {}", t.name, t.reason);
    }
    text.push(']');
}

/// The verdict of one member with the conditions that decided it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberReport {
    pub state: State,
    /// Names of the conditions that decided the state: the failing ones when
    /// down, the unknown ones when unknown, all of them when up.
    pub deciding: Vec<String>,
    /// The deciding conditions' reasons joined with "; ".
    pub reason: String,
}

impl MemberReport {
    /// Evaluates a member over its condition reports.
    pub fn evaluate(conditions: &[ConditionReport]) -> Self {
        let states: Vec<State> = conditions.iter().map(|c| c.state).collect();
        let state = member_state(&states);
        let deciding: Vec<&ConditionReport> = match state {
            State::Up => conditions.iter().collect(),
            _ => conditions.iter().filter(|c| c.state == state).collect(),
        };
        let reason = match (state, deciding.is_empty()) {
            (State::Up, true) => "no conditions".to_owned(),
            _ => {
                let reasons: Vec<&str> = deciding.iter().map(|c| c.reason.as_str()).collect();
                reasons.join("; ")
            }
        };
        MemberReport {
            state,
            deciding: deciding.iter().map(|c| c.name.clone()).collect(),
            reason,
        }
    }
}

#[cfg(test)]
mod tests;
