//! The definitions on the firewall against the files, from the command
//! line (contract section 17, docs/definitions.md): `check --online` names
//! each field that differs both ways, in both spellings, a group missing
//! or added on the firewall, a name differing only in case, and a reply
//! it cannot compare; `sync --changed-only` sends exactly the groups that
//! differ now, and nothing on a reply it cannot compare; `import` leaves
//! nothing in the state directory. The real binary against the emulator.

mod daemonutil;

use std::path::{Path, PathBuf};

use daemonutil::cli;
use sfos_emulator::{ActionKind, Definition, Emulator, EmulatorConfig, Fault, Protocol};

/// HQ (A, B: mail on, failback off, PING and TCP 443) and BR (C: all
/// defaults) in one file.
const FILE: &str = "<VPNFailoverGroups>\
<VPNFailoverGroup><GroupDetail><Name>HQ</Name><MemberConnections><Connection>A</Connection><Connection>B</Connection></MemberConnections>\
<MailNotification>Enable</MailNotification><AutomaticFailback>Disable</AutomaticFailback>\
<FailoverCondition><FailoverIF><Protocol>PING</Protocol></FailoverIF><FailoverIF><Protocol>TCP</Protocol><Port>443</Port></FailoverIF></FailoverCondition>\
</GroupDetail></VPNFailoverGroup>\
<VPNFailoverGroup><GroupDetail><Name>BR</Name><MemberConnections><Connection>C</Connection></MemberConnections></GroupDetail></VPNFailoverGroup>\
</VPNFailoverGroups>";

fn hq() -> Definition {
    Definition {
        name: "HQ".into(),
        members: vec!["A".into(), "B".into()],
        mail: true,
        failback: Some(false),
        conditions: vec![(Protocol::Ping, None), (Protocol::Tcp, Some(443))],
    }
}

fn br() -> Definition {
    Definition {
        name: "BR".into(),
        members: vec!["C".into()],
        mail: false,
        failback: None,
        conditions: vec![],
    }
}

struct Setup {
    _rt: tokio::runtime::Runtime,
    emu: Emulator,
    dir: tempfile::TempDir,
}

impl Setup {
    fn config(&self) -> PathBuf {
        self.dir.path().join("failoverd.toml")
    }

    /// Definitions sent since the start (Add, Update, either).
    fn sent(&self) -> Vec<(String, ActionKind)> {
        self.emu
            .requests()
            .iter()
            .flat_map(|r| r.actions.clone())
            .filter(|a| matches!(a.action, ActionKind::Add | ActionKind::Update | ActionKind::AddOrUpdate))
            .map(|a| (a.group, a.action))
            .collect()
    }
}

/// The emulator holding both groups as the file says, and the settings.
fn setup(extra: &str) -> Setup {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let emu = rt
        .block_on(Emulator::start(EmulatorConfig {
            username: "api".into(),
            password: "s3cret-<&>".into(),
            ..EmulatorConfig::default()
        }))
        .unwrap();
    emu.add_group(hq(), true);
    emu.add_group(br(), true);
    let settings = format!(
        "groups = [\"g.xml\"]\nstate_dir = \"state\"\n\
         [connections.A]\ntargets = [\"127.0.0.1\"]\nvia = \"underlay\"\n\
         [connections.B]\ntargets = [\"127.0.0.2\"]\nvia = \"underlay\"\n\
         [connections.C]\ntargets = [\"127.0.0.3\"]\nvia = \"underlay\"\n\
         [firewall]\nurl = \"{}\"\nusername = \"api\"\npassword_file = \"pw\"\npin_sha256 = \"{}\"\n{extra}",
        emu.url(),
        emu.cert_fingerprint()
    );
    let dir = daemonutil::Daemon::prepare(&settings, FILE);
    Setup { _rt: rt, emu, dir }
}

fn online(s: &Setup) -> (String, String) {
    let (code, out, err) = cli(&["check", "--online"], &s.config());
    assert_eq!(code, 0, "differences are warnings: {out}{err}");
    (out, err)
}

#[test]
fn in_step_in_either_spelling() {
    let s = setup("");
    let (out, err) = online(&s);
    assert!(out.contains("online: definition HQ: in step\n"), "{out}");
    assert!(out.contains("online: definition BR: in step\n"), "{out}");
    assert!(!err.contains("warning: group"), "{err}");
    // The firewall answers in the 2017 spelling (y/n, ping/tcp, no
    // AutomaticFailback): BR's default failback reads as Enable, HQ's
    // Disable is gone from the reply, so only that differs.
    s.emu.set_fault(Fault::GetSfos17);
    let (out, _) = online(&s);
    assert!(out.contains("online: definition BR: in step\n"), "{out}");
    assert!(
        out.contains("online: definition HQ: differs: automatic failback: file Disable, firewall Enable\n"),
        "an absent AutomaticFailback is Enable: {out}"
    );
    let (code, out, _) = cli(&["sync", "--changed-only", "--group", "BR"], &s.config());
    assert_eq!((code, out.as_str()), (0, "BR: unchanged\n"));
    assert!(s.sent().is_empty(), "{:?}", s.sent());
}

#[test]
fn each_field_changed_alone_is_named_both_ways() {
    let s = setup("");
    type Edit = fn(&mut Definition);
    let cases: [(Edit, &str); 4] = [
        (|d| d.members.reverse(), "members: file A, B, firewall B, A"),
        (|d| d.mail = false, "mail notification: file Enable, firewall Disable"),
        (
            |d| d.failback = Some(true),
            "automatic failback: file Disable, firewall Enable",
        ),
        (
            |d| d.conditions[1].1 = Some(8443),
            "conditions: file PING, TCP 443, firewall PING, TCP 8443",
        ),
    ];
    for (edit, words) in cases {
        s.emu.add_group(hq(), true);
        assert!(s.emu.edit_group("HQ", edit));
        let (out, err) = online(&s);
        assert!(
            out.contains(&format!("online: definition HQ: differs: {words}\n")),
            "{words}: {out}"
        );
        assert!(out.contains("online: definition BR: in step\n"), "{out}");
        assert!(
            err.contains("online: warning: group HQ: differs:")
                && err.contains("failoverd sync --group HQ")
                && err.contains("failoverd import --group HQ --force"),
            "{err}"
        );
    }
    assert!(s.sent().is_empty(), "check sends nothing: {:?}", s.sent());
}

#[test]
fn a_group_deleted_added_or_renamed_in_case_on_the_firewall() {
    let s = setup("");
    assert!(s.emu.remove_group("BR"));
    s.emu.add_group(
        Definition {
            name: "Lab".into(),
            ..br()
        },
        true,
    );
    let (out, err) = online(&s);
    assert!(
        out.contains("online: definition BR: missing on the firewall\n"),
        "{out}"
    );
    assert!(
        err.contains("group Lab is defined on the firewall but in no group file"),
        "{err}"
    );
    // HQ renamed hq on the firewall: a difference no sync puts right.
    assert!(s.emu.remove_group("HQ"));
    s.emu.add_group(
        Definition {
            name: "hq".into(),
            ..hq()
        },
        true,
    );
    let (out, err) = online(&s);
    assert!(
        out.contains("online: definition HQ: differs: name: file HQ, firewall hq\n"),
        "{out}"
    );
    assert!(err.contains("rename the group"), "{err}");
    let (code, out, err) = cli(&["sync", "--changed-only"], &s.config());
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("HQ: not sent: differs: name"), "{out}");
    assert!(out.contains("BR: added: 200"), "the missing one is sent: {out}");
    assert_eq!(s.sent(), [("BR".to_string(), ActionKind::Add)]);
}

#[test]
fn sync_changed_only_sends_exactly_the_groups_that_differ_now() {
    let s = setup("");
    let (code, out, err) = cli(&["sync", "--changed-only"], &s.config());
    assert_eq!((code, out.as_str()), (0, "HQ: unchanged\nBR: unchanged\n"), "{err}");
    assert!(s.sent().is_empty());
    assert!(s.emu.edit_group("BR", |d| d.mail = true));
    let (code, out, err) = cli(&["sync", "--changed-only"], &s.config());
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("HQ: unchanged\nBR: updated: 200"), "{out}");
    assert!(
        err.contains("BR: differs: mail notification: file Disable, firewall Enable"),
        "{err}"
    );
    assert_eq!(
        s.sent(),
        [
            ("BR".to_string(), ActionKind::Add),
            ("BR".to_string(), ActionKind::Update)
        ],
        "Add, 502, then Update"
    );
    assert!(
        !s.emu.definitions()["BR"].mail,
        "the file's definition is on the firewall"
    );
    let (code, out, _) = cli(&["sync", "--changed-only"], &s.config());
    assert_eq!((code, out.as_str()), (0, "HQ: unchanged\nBR: unchanged\n"));
    assert!(
        !s.dir.path().join("state").exists(),
        "sync keeps nothing in the state directory"
    );
}

/// A record that cannot be read, or a name twice: no comparison, nothing
/// sent, whatever differs.
#[test]
fn a_reply_that_cannot_be_compared_sends_nothing() {
    let s = setup("");
    assert!(s.emu.edit_group("HQ", |d| d.members.reverse()));
    let missing = "<GroupDetail><Name>X</Name><MailNotification>Enable</MailNotification></GroupDetail>".to_string();
    let unknown_value = "<GroupDetail><Name>Y</Name><MemberConnections><Connection>Q</Connection></MemberConnections><MailNotification>maybe</MailNotification></GroupDetail>".to_string();
    let twice =
        "<GroupDetail><Name>BR</Name><MemberConnections><Connection>C</Connection></MemberConnections></GroupDetail>"
            .to_string();
    for (records, why) in [
        (vec![missing], "MemberConnections"),
        (vec![unknown_value], "maybe"),
        (vec![twice], "BR more than once"),
    ] {
        s.emu.set_extra_records(records);
        let (_, err) = online(&s);
        assert!(
            err.contains("online: warning: the definitions were not compared"),
            "{err}"
        );
        assert!(err.contains(why), "{why}: {err}");
        let (code, out, err) = cli(&["sync", "--changed-only"], &s.config());
        assert_eq!((code, out.as_str()), (1, ""), "{err}");
        assert!(err.contains("nothing sent") && err.contains(why), "{err}");
    }
    assert!(
        s.sent().is_empty(),
        "never a push on an unreadable reply: {:?}",
        s.sent()
    );
    // Unknown fields are ignored: a record with one more element compares.
    s.emu.set_extra_records(vec![
        "<GroupDetail><Name>Z</Name><MemberConnections><Connection>Q</Connection></MemberConnections><Colour>red</Colour></GroupDetail>".into(),
    ]);
    let (out, err) = online(&s);
    assert!(out.contains("online: definition HQ: differs: members"), "{out}");
    assert!(
        err.contains("group Z is defined on the firewall but in no group file"),
        "{err}"
    );
}

/// A Get the firewall refuses is no comparison either.
#[test]
fn a_refused_get_sends_nothing() {
    let s = setup("");
    assert!(s.emu.remove_group("BR"));
    s.emu.set_fault(Fault::LoginFailure);
    let (code, out, err) = cli(&["sync", "--changed-only"], &s.config());
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert!(
        err.contains("the Get was not accepted") && err.contains("nothing sent"),
        "{err}"
    );
    s.emu.clear_faults();
    assert!(s.sent().is_empty());
}

fn entries(p: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(p) {
        Ok(d) => d.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

/// `import` creates nothing in the state directory (contract 16).
#[test]
fn import_on_a_fresh_machine_leaves_the_state_directory_alone() {
    let s = setup("");
    let settings = std::fs::read_to_string(s.config()).unwrap();
    let fresh = settings.replace("groups = [\"g.xml\"]\n", "groups = [\"groups.d/*.xml\"]\n");
    std::fs::write(s.config(), fresh).unwrap();
    std::fs::remove_file(s.dir.path().join("g.xml")).unwrap();
    let (code, _, err) = cli(&["import"], &s.config());
    assert_eq!(code, 0, "{err}");
    assert!(s.dir.path().join("groups.d/HQ.xml").exists(), "{err}");
    let state = s.dir.path().join("state");
    assert!(
        entries(&state).is_empty(),
        "import left {:?} in the state directory",
        entries(&state)
    );
    assert!(!err.contains("sync hashes"), "{err}");
}
