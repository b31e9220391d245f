//! The firewall API's health, known without waiting for a push (contract
//! section 16, docs/firewall-api.md "API health"): every answer, of the
//! periodic read-only Get and of each push, sets it; `status`, `/status`,
//! the page and `/metrics` (`failoverd_api_up`,
//! `failoverd_api_last_success_timestamp_seconds`) show it.
//!
//! One owner for the API's episode, whichever request met it: a
//! configuration-class answer (login failure, 529, 532, 534, 599, a pin
//! mismatch) begins an `ApiUnusable` episode, mailed once; the first
//! answer that gets through ends it with `ApiUsable`. The episode lives in
//! the core, so it carries across a reload: a reload that fixes the
//! password ends it at its next Get.

use std::time::SystemTime;

use crate::firewall::api::Answer;
use crate::firewall::slot::Class;
use crate::mail::event::{DaemonKind, Event, Kind};

#[derive(Clone, Debug, Default)]
pub struct ApiHealth {
    /// The last answer that got through (a Get or push the API took,
    /// whatever it said about the group).
    last_success: Option<SystemTime>,
    /// Why the last answer did not get through, until one does.
    problem: Option<String>,
    /// An `ApiUnusable` was raised and its `ApiUsable` has not come yet.
    episode: bool,
}

/// What the API's health looks like from outside.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiState {
    /// No answer yet (just started, or no password to ask with).
    Unknown,
    Usable,
    /// The last answer did not get through, and why.
    Unusable(String),
}

impl ApiHealth {
    /// An answer of class `class` (text `text`) at `wall`: the event it
    /// begins or ends, if any.
    pub fn answered(&mut self, class: &Class, text: &str, wall: SystemTime) -> Option<Event> {
        match class {
            Class::Accepted | Class::Refused(_) => {
                self.last_success = Some(wall);
                self.problem = None;
                std::mem::take(&mut self.episode).then(|| {
                    Event::new(
                        Kind::Daemon(DaemonKind::ApiUsable),
                        "the firewall API answers again",
                        wall,
                    )
                })
            }
            Class::Configuration(fix) => {
                self.problem = Some(text.to_string());
                (!std::mem::replace(&mut self.episode, true)).then(|| {
                    Event::new(
                        Kind::Daemon(DaemonKind::ApiUnusable),
                        format!("the firewall API refuses us: {fix}"),
                        wall,
                    )
                })
            }
            Class::Transient(_) | Class::Unknown(_) => {
                self.problem = Some(text.to_string());
                None
            }
        }
    }

    /// The outcome of the periodic Get: as [`answered`](Self::answered).
    pub fn got(&mut self, outcome: &Result<(), Answer>, wall: SystemTime) -> Option<Event> {
        match outcome {
            Ok(()) => self.answered(&Class::Accepted, "", wall),
            Err(a) => self.answered(&a.class, &a.text, wall),
        }
    }

    pub fn state(&self) -> ApiState {
        match (&self.problem, self.last_success) {
            (Some(p), _) => ApiState::Unusable(p.clone()),
            (None, Some(_)) => ApiState::Usable,
            (None, None) => ApiState::Unknown,
        }
    }

    pub fn last_success(&self) -> Option<SystemTime> {
        self.last_success
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn t(s: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + s)
    }

    fn kind(e: Option<Event>) -> Option<String> {
        e.map(|e| e.kind.name().to_string())
    }

    #[test]
    fn one_episode_whichever_request_meets_it_and_its_end() {
        let mut h = ApiHealth::default();
        assert_eq!(h.state(), ApiState::Unknown);
        assert_eq!(kind(h.got(&Ok(()), t(0))), None, "no episode: nothing to end");
        assert_eq!((h.state(), h.last_success()), (ApiState::Usable, Some(t(0))));
        let login = Class::Configuration("check username and password".into());
        let e = h.answered(&login, "login failed", t(10));
        assert_eq!(kind(e), Some("ApiUnusable".into()));
        assert_eq!(h.state(), ApiState::Unusable("login failed".into()));
        let get = Err(Answer {
            class: login.clone(),
            text: "login failed".into(),
        });
        assert_eq!(kind(h.got(&get, t(20))), None, "the same episode: mailed once");
        let down = Class::Transient("connection refused".into());
        assert_eq!(kind(h.answered(&down, "connection refused", t(30))), None);
        assert_eq!(h.state(), ApiState::Unusable("connection refused".into()));
        assert_eq!(h.last_success(), Some(t(0)), "the last success is kept");
        assert_eq!(kind(h.got(&Ok(()), t(40))), Some("ApiUsable".into()));
        assert_eq!((h.state(), h.last_success()), (ApiState::Usable, Some(t(40))));
        assert_eq!(kind(h.got(&Ok(()), t(50))), None, "ended once");
    }

    #[test]
    fn a_refused_push_is_an_answer_from_a_usable_api() {
        let mut h = ApiHealth::default();
        let e = h.answered(&Class::Refused("code 541".into()), "541", t(0));
        assert_eq!(kind(e), None);
        assert_eq!(h.state(), ApiState::Usable);
    }
}
