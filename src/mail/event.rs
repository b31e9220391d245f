//! The events the daemon hands to mail: what happened, to what, why (with
//! figures), and what failoverd did about it. Serializable, because spooled
//! mails keep their events so that an overflowing spool can fold them into
//! a digest.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// What kind of thing happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Kind {
    MemberDown,
    MemberUp,
    Failover,
    Failback,
    GroupDown,
    GroupUp,
    GroupRestart,
    Daemon(DaemonKind),
}

/// Events about failoverd itself rather than one group's health. They are
/// mailed whenever `[mail]` is set, whatever the groups' MailNotification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DaemonKind {
    ApiUnusable,
    ApiUsable,
    PushRefused,
    PushRecovered,
    DeactivateDecided,
    GuardTrip,
    GuardTripEnded,
    IcmpFailure,
    StateDirFailure,
    /// `state.json` and `state.json.prev` could not be used at start: every
    /// group is held until released (docs/state-file.md).
    StateLost,
    SpoolOverLimit,
    ReloadRejected,
    /// This host took the pair's virtual address (docs/ha.md).
    BecameActive,
    /// This host lost the pair's virtual address.
    BecameStandby,
    /// The firewall view (`[snmp]`, docs/health.md): the firewall carries
    /// another member than failoverd expects, and agrees again.
    FirewallDisagrees,
    FirewallAgrees,
    /// An accepted push the tunnel table did not show within `verify_within`.
    PushNotHonoured,
    SnmpUnusable,
    SnmpUsable,
    Test,
    /// A group's definition on the firewall differs from its file at two
    /// periodic Gets in a row (docs/definitions.md), and in step again.
    DefinitionDiffers,
    DefinitionInStep,
    /// Records for the history only (issue #28, docs/history.md), never
    /// mailed: the firewall's carrying member changed (`[snmp]`), and a
    /// push failoverd decided (or would have, in dry run).
    FirewallSwitched,
    PushDecided,
}

/// One event. Fields that do not apply stay `None`; the mail shows only
/// what is set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub kind: Kind,
    pub group: Option<String>,
    pub member: Option<String>,
    /// The previously expected active member (failover, failback).
    pub from: Option<String>,
    /// The newly expected active member (failover, failback).
    pub to: Option<String>,
    /// `"PING"`, `"TCP/443"`.
    pub condition: Option<String>,
    pub target: Option<String>,
    /// With figures: `"3 failed checks in a row: no reply within 1s"`.
    pub reason: String,
    pub expected_active: Option<String>,
    /// What failoverd sent to the firewall: `"DeActive HQ_VPN"`.
    pub push: Option<String>,
    /// The firewall's answer to that push.
    pub answer: Option<String>,
    /// With `[snmp]`: each member's firewall view when the event was
    /// noted ("carries HQ_Primary; HQ_Primary active, activated; ...").
    #[serde(default)]
    pub firewall: Option<String>,
    pub at: SystemTime,
    /// The state changed while failoverd was not running (found at start
    /// by comparing with the persisted state).
    pub while_stopped: bool,
}

impl Kind {
    /// Rank for "most severe first": lower is more severe. Group loss
    /// first, then failoverd's own failures (someone must act), then
    /// failovers and member losses, actions failoverd took, recoveries,
    /// and member recoveries last.
    pub fn severity(self) -> u8 {
        use DaemonKind as D;
        match self {
            Kind::GroupDown => 0,
            Kind::Daemon(
                D::ApiUnusable
                | D::PushRefused
                | D::GuardTrip
                | D::IcmpFailure
                | D::StateDirFailure
                | D::StateLost
                | D::SpoolOverLimit
                | D::ReloadRejected
                | D::BecameStandby
                | D::FirewallDisagrees
                | D::PushNotHonoured
                | D::SnmpUnusable
                | D::DefinitionDiffers,
            ) => 1,
            Kind::Failover => 2,
            Kind::MemberDown => 3,
            Kind::GroupRestart => 4,
            Kind::Daemon(D::DeactivateDecided) => 5,
            Kind::Daemon(
                D::ApiUsable
                | D::PushRecovered
                | D::GuardTripEnded
                | D::BecameActive
                | D::FirewallAgrees
                | D::SnmpUsable
                | D::DefinitionInStep,
            ) => 6,
            Kind::GroupUp => 7,
            Kind::Failback => 8,
            Kind::MemberUp => 9,
            Kind::Daemon(D::Test) => 10,
            Kind::Daemon(D::FirewallSwitched | D::PushDecided) => 11,
        }
    }

    /// Kinds kept in the history only, never mailed (docs/history.md).
    pub fn history_only(self) -> bool {
        matches!(
            self,
            Kind::Daemon(DaemonKind::FirewallSwitched | DaemonKind::PushDecided)
        )
    }

    pub fn is_daemon(self) -> bool {
        matches!(self, Kind::Daemon(_))
    }

    /// The machine-readable name, as in the `X-Failoverd-Event` header:
    /// the variant's own name (`GroupDown`, `ApiUnusable`, ...), stable
    /// whatever the wording of the mail.
    pub fn name(self) -> &'static str {
        use DaemonKind as D;
        match self {
            Kind::MemberDown => "MemberDown",
            Kind::MemberUp => "MemberUp",
            Kind::Failover => "Failover",
            Kind::Failback => "Failback",
            Kind::GroupDown => "GroupDown",
            Kind::GroupUp => "GroupUp",
            Kind::GroupRestart => "GroupRestart",
            Kind::Daemon(d) => match d {
                D::ApiUnusable => "ApiUnusable",
                D::ApiUsable => "ApiUsable",
                D::PushRefused => "PushRefused",
                D::PushRecovered => "PushRecovered",
                D::DeactivateDecided => "DeactivateDecided",
                D::GuardTrip => "GuardTrip",
                D::GuardTripEnded => "GuardTripEnded",
                D::IcmpFailure => "IcmpFailure",
                D::StateDirFailure => "StateDirFailure",
                D::StateLost => "StateLost",
                D::SpoolOverLimit => "SpoolOverLimit",
                D::ReloadRejected => "ReloadRejected",
                D::BecameActive => "BecameActive",
                D::BecameStandby => "BecameStandby",
                D::FirewallDisagrees => "FirewallDisagrees",
                D::FirewallAgrees => "FirewallAgrees",
                D::PushNotHonoured => "PushNotHonoured",
                D::SnmpUnusable => "SnmpUnusable",
                D::SnmpUsable => "SnmpUsable",
                D::Test => "Test",
                D::DefinitionDiffers => "DefinitionDiffers",
                D::DefinitionInStep => "DefinitionInStep",
                D::FirewallSwitched => "FirewallSwitched",
                D::PushDecided => "PushDecided",
            },
        }
    }

    /// Every kind, for reading names back (logs, headers).
    pub const ALL: [Kind; 31] = {
        use DaemonKind as D;
        [
            Kind::MemberDown,
            Kind::MemberUp,
            Kind::Failover,
            Kind::Failback,
            Kind::GroupDown,
            Kind::GroupUp,
            Kind::GroupRestart,
            Kind::Daemon(D::ApiUnusable),
            Kind::Daemon(D::ApiUsable),
            Kind::Daemon(D::PushRefused),
            Kind::Daemon(D::PushRecovered),
            Kind::Daemon(D::DeactivateDecided),
            Kind::Daemon(D::GuardTrip),
            Kind::Daemon(D::GuardTripEnded),
            Kind::Daemon(D::IcmpFailure),
            Kind::Daemon(D::StateDirFailure),
            Kind::Daemon(D::StateLost),
            Kind::Daemon(D::SpoolOverLimit),
            Kind::Daemon(D::ReloadRejected),
            Kind::Daemon(D::BecameActive),
            Kind::Daemon(D::BecameStandby),
            Kind::Daemon(D::FirewallDisagrees),
            Kind::Daemon(D::FirewallAgrees),
            Kind::Daemon(D::PushNotHonoured),
            Kind::Daemon(D::SnmpUnusable),
            Kind::Daemon(D::SnmpUsable),
            Kind::Daemon(D::Test),
            Kind::Daemon(D::DefinitionDiffers),
            Kind::Daemon(D::DefinitionInStep),
            Kind::Daemon(D::FirewallSwitched),
            Kind::Daemon(D::PushDecided),
        ]
    };

    /// The kind named `name` (as [`Kind::name`] spells it).
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Short name for digests and logs.
    pub fn label(self) -> &'static str {
        use DaemonKind as D;
        match self {
            Kind::MemberDown => "member down",
            Kind::MemberUp => "member up",
            Kind::Failover => "failover",
            Kind::Failback => "failback",
            Kind::GroupDown => "group down",
            Kind::GroupUp => "group up",
            Kind::GroupRestart => "group restart",
            Kind::Daemon(d) => match d {
                D::ApiUnusable => "firewall API unusable",
                D::ApiUsable => "firewall API usable again",
                D::PushRefused => "push refused",
                D::PushRecovered => "push accepted again",
                D::DeactivateDecided => "DeActive decided by failoverd",
                D::GuardTrip => "guard trip",
                D::GuardTripEnded => "guard trip ended",
                D::IcmpFailure => "ICMP failure",
                D::StateDirFailure => "state directory failure",
                D::StateLost => "state lost, every group held",
                D::SpoolOverLimit => "mail spool over its limit",
                D::ReloadRejected => "reload rejected",
                D::BecameActive => "this host became active",
                D::BecameStandby => "this host became standby",
                D::FirewallDisagrees => "firewall disagrees",
                D::FirewallAgrees => "firewall agrees again",
                D::PushNotHonoured => "push not honoured",
                D::SnmpUnusable => "SNMP unusable",
                D::SnmpUsable => "SNMP usable again",
                D::Test => "test mail",
                D::DefinitionDiffers => "definition differs on the firewall",
                D::DefinitionInStep => "definition in step again",
                D::FirewallSwitched => "firewall switched member",
                D::PushDecided => "push decided",
            },
        }
    }
}

impl Event {
    /// An event with only its kind, reason and time; the `with_*` methods
    /// fill in the rest.
    pub fn new(kind: Kind, reason: impl Into<String>, at: SystemTime) -> Self {
        Event {
            kind,
            group: None,
            member: None,
            from: None,
            to: None,
            condition: None,
            target: None,
            reason: reason.into(),
            expected_active: None,
            push: None,
            answer: None,
            firewall: None,
            at,
            while_stopped: false,
        }
    }

    /// With the firewall view at the time (`[snmp]`).
    pub fn with_firewall(mut self, view: Option<String>) -> Self {
        self.firewall = view;
        self
    }

    pub fn with_group(mut self, g: &str) -> Self {
        self.group = Some(g.to_owned());
        self
    }

    pub fn with_member(mut self, m: &str) -> Self {
        self.member = Some(m.to_owned());
        self
    }

    /// The change of expected active member, `from -> to`.
    pub fn with_change(mut self, from: &str, to: &str) -> Self {
        self.from = Some(from.to_owned());
        self.to = Some(to.to_owned());
        self
    }

    pub fn with_check(mut self, condition: &str, target: &str) -> Self {
        self.condition = Some(condition.to_owned());
        self.target = Some(target.to_owned());
        self
    }

    pub fn with_expected(mut self, m: &str) -> Self {
        self.expected_active = Some(m.to_owned());
        self
    }

    pub fn with_push(mut self, push: &str, answer: &str) -> Self {
        self.push = Some(push.to_owned());
        self.answer = Some(answer.to_owned());
        self
    }

    pub fn stopped(mut self) -> Self {
        self.while_stopped = true;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_name_reads_back_as_its_kind() {
        let mut names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
        for k in Kind::ALL {
            assert_eq!(Kind::from_name(k.name()), Some(k));
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Kind::ALL.len(), "names are distinct");
        assert_eq!(Kind::from_name("daemon"), None);
    }

    #[test]
    fn severity_order_matches_the_contract() {
        use DaemonKind as D;
        let order = [
            Kind::GroupDown,
            Kind::Daemon(D::ApiUnusable),
            Kind::Failover,
            Kind::MemberDown,
            Kind::GroupUp,
            Kind::Failback,
            Kind::MemberUp,
        ];
        for w in order.windows(2) {
            assert!(w[0].severity() < w[1].severity(), "{:?} before {:?}", w[0], w[1]);
        }
    }

    #[test]
    fn events_round_trip_through_json() {
        let e = Event::new(
            Kind::Daemon(DaemonKind::PushRefused),
            "code 541",
            SystemTime::UNIX_EPOCH,
        )
        .with_group("HQ_VPN")
        .with_push("DeActive HQ_VPN", "541 Operation failed");
        let text = serde_json::to_string(&e).unwrap();
        assert_eq!(serde_json::from_str::<Event>(&text).unwrap(), e);
    }
}

#[cfg(test)]
mod history_only_tests {
    use super::*;

    #[test]
    fn only_the_two_history_records_are_history_only() {
        let only: Vec<&str> = Kind::ALL
            .iter()
            .filter(|k| k.history_only())
            .map(|k| k.name())
            .collect();
        assert_eq!(only, ["FirewallSwitched", "PushDecided"]);
    }

    #[test]
    fn a_mailer_drops_history_records_before_the_outbox() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mailer = crate::mail::outbox::Mailer::from_sender(tx);
        let at = SystemTime::UNIX_EPOCH;
        mailer.send(Event::new(Kind::Daemon(DaemonKind::FirewallSwitched), "switched", at));
        mailer.send(Event::new(Kind::Daemon(DaemonKind::PushDecided), "decided", at));
        mailer.send(Event::new(Kind::GroupDown, "down", at));
        assert_eq!(rx.try_recv().unwrap().0.kind, Kind::GroupDown);
        assert!(rx.try_recv().is_err());
    }
}
