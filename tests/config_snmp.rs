//! `[snmp]` in the settings: what a valid table gives, the warnings for
//! weak choices, and each mistake's exact message with file, line and
//! column. Secrets come from files (made 0600 here) or credentials, and
//! never appear in a message or in Debug.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{BASE_GROUP, BASE_SETTINGS, Case};
use failoverd::config::settings::{SnmpAuth, SnmpPrivacy, SnmpSecurity};

const AUTH: &str = "auth-pass-Xq93";
const PRIV: &str = "priv-pass-Zr71";

/// A folder with the base settings plus `snmp`, and the secret files
/// `auth`, `priv` and `community`, mode 0600.
fn case(snmp: &str) -> Case {
    let settings = format!("{BASE_SETTINGS}\n{snmp}");
    let case = Case::new(&settings, &[("g.xml", BASE_GROUP)]);
    for (name, text) in [
        ("auth", AUTH),
        ("priv", PRIV),
        ("community", "c0mmun1ty"),
        ("short", "abc"),
    ] {
        let p = case.path(name);
        std::fs::write(&p, format!("{text}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    case
}

const V3: &str = "[snmp]\nuser = \"failoverd\"\nauth_password_file = \"auth\"\nprivacy_password_file = \"priv\"\n";

#[test]
fn defaults_take_the_firewall_host_and_v3_sha_aes() {
    let c = case(V3);
    assert_eq!(c.diagnostics(), Vec::<String>::new());
    let plan = failoverd::config::load(&c.settings_path()).unwrap().plan.unwrap();
    let s = plan.settings.snmp.expect("[snmp] read");
    assert_eq!((s.host.as_str(), s.port), ("192.0.2.254", 161));
    assert_eq!(
        (
            s.interval.as_secs(),
            s.timeout.as_secs(),
            s.verify_within.as_secs(),
            s.disagree_after.as_secs()
        ),
        (10, 2, 60, 120)
    );
    match &s.security {
        SnmpSecurity::V3 {
            user,
            auth,
            auth_password,
            privacy,
            privacy_password,
        } => {
            assert_eq!(
                (user.as_str(), *auth, *privacy),
                ("failoverd", SnmpAuth::Sha, SnmpPrivacy::Aes)
            );
            assert_eq!(auth_password.secret.as_ref().unwrap().expose(), AUTH);
            assert_eq!(privacy_password.secret.as_ref().unwrap().expose(), PRIV);
        }
        other => panic!("{other:?}"),
    }
    let debug = format!("{s:?}");
    assert!(!debug.contains(AUTH) && !debug.contains(PRIV), "{debug}");
    // Without [snmp] the table is not read.
    let plain = Case::new(BASE_SETTINGS, &[("g.xml", BASE_GROUP)]);
    let p = failoverd::config::load(&plain.settings_path()).unwrap().plan.unwrap();
    assert!(p.settings.snmp.is_none());
}

#[test]
fn every_key_set() {
    let c = case(
        "[snmp]\naddress = \"[2001:db8::1]:1161\"\nversion = \"3\"\nuser = \"u\"\nauth = \"sha512\"\nprivacy = \"aes256\"\n\
         auth_password_file = \"auth\"\nprivacy_password_file = \"priv\"\ninterval = \"30s\"\ntimeout = \"5s\"\n\
         verify_within = \"90s\"\ndisagree_after = \"5m\"\n",
    );
    assert_eq!(c.diagnostics(), Vec::<String>::new());
    let s = failoverd::config::load(&c.settings_path())
        .unwrap()
        .plan
        .unwrap()
        .settings
        .snmp
        .unwrap();
    assert_eq!((s.host.as_str(), s.port), ("2001:db8::1", 1161));
    assert_eq!((s.interval.as_secs(), s.timeout.as_secs()), (30, 5));
    assert_eq!((s.verify_within.as_secs(), s.disagree_after.as_secs()), (90, 300));
    assert!(matches!(
        s.security,
        SnmpSecurity::V3 {
            auth: SnmpAuth::Sha512,
            privacy: SnmpPrivacy::Aes256,
            ..
        }
    ));
    let c = case(
        "[snmp]\naddress = \"fw.example.net\"\nuser = \"u\"\nauth = \"sha256\"\nauth_password_file = \"auth\"\nprivacy_password_file = \"priv\"\n",
    );
    let s = failoverd::config::load(&c.settings_path())
        .unwrap()
        .plan
        .unwrap()
        .settings
        .snmp
        .unwrap();
    assert_eq!((s.host.as_str(), s.port), ("fw.example.net", 161));
    assert!(matches!(
        s.security,
        SnmpSecurity::V3 {
            auth: SnmpAuth::Sha256,
            ..
        }
    ));
}

/// Each row: the [snmp] table, the exact warnings; the check stays valid.
#[test]
fn weak_choices_are_warned() {
    let rows: Vec<(&str, Vec<&str>)> = vec![
        (
            "[snmp]\nversion = \"2c\"\ncommunity_file = \"community\"\n",
            vec![
                "failoverd.toml:17:11: snmp.version: warning: version = \"2c\": the community travels in clear text and any host on the path can read it; use version = \"3\" with a user (authPriv)",
            ],
        ),
        (
            "[snmp]\nuser = \"u\"\nauth = \"md5\"\nprivacy = \"des\"\nauth_password_file = \"auth\"\nprivacy_password_file = \"priv\"\n",
            vec![
                "failoverd.toml:18:8: snmp.auth: warning: auth = \"md5\" is weak: set the firewall's SNMPv3 user to SHA-256 or SHA-512 and use auth = \"sha256\" or \"sha512\"",
                "failoverd.toml:19:11: snmp.privacy: warning: privacy = \"des\" is weak: set the firewall's SNMPv3 user to AES and use privacy = \"aes\" or \"aes256\"",
            ],
        ),
        (
            "[snmp]\nversion = \"2c\"\ncommunity_file = \"community\"\nuser = \"u\"\n",
            vec![
                "failoverd.toml:17:11: snmp.version: warning: version = \"2c\": the community travels in clear text and any host on the path can read it; use version = \"3\" with a user (authPriv)",
                "failoverd.toml:19:1: snmp.user: warning: user is ignored with version = \"2c\": remove it, or set version = \"3\"",
            ],
        ),
    ];
    for (snmp, want) in rows {
        let c = case(snmp);
        assert_eq!(c.diagnostics(), want, "{snmp}");
        assert!(c.valid(), "{snmp}");
    }
    let c = case("[snmp]\nversion = \"2c\"\ncommunity_file = \"community\"\n");
    let s = failoverd::config::load(&c.settings_path())
        .unwrap()
        .plan
        .unwrap()
        .settings
        .snmp
        .unwrap();
    match s.security {
        SnmpSecurity::V2c { community } => assert_eq!(community.secret.unwrap().expose(), "c0mmun1ty"),
        other => panic!("{other:?}"),
    }
}

/// Each row: the [snmp] table, the exact errors (and warnings) printed.
#[test]
fn mistakes_say_where_and_how_to_fix() {
    let rows: Vec<(&str, Vec<&str>)> = vec![
        (
            "[snmp]\nauth_password_file = \"auth\"\nprivacy_password_file = \"priv\"\n",
            vec![
                "failoverd.toml:16:2: snmp.user: required key user is missing: add user = \"failoverd\" (the SNMPv3 user set up on the firewall), or set version = \"2c\"",
            ],
        ),
        (
            "[snmp]\nversion = \"4\"\nuser = \"u\"\nauth_password_file = \"auth\"\nprivacy_password_file = \"priv\"\n",
            vec!["failoverd.toml:17:11: snmp.version: version = \"4\": use \"3\" (recommended) or \"2c\""],
        ),
        (
            "[snmp]\nuser = \"u\"\nauth = \"sha1\"\nprivacy = \"aes128\"\nauth_password_file = \"auth\"\nprivacy_password_file = \"priv\"\n",
            vec![
                "failoverd.toml:18:8: snmp.auth: auth = \"sha1\" (did you mean sha?): use \"sha\", \"sha256\" or \"sha512\" (as set for the user on the firewall)",
                "failoverd.toml:19:11: snmp.privacy: privacy = \"aes128\": use \"aes\" (AES-128) or \"aes256\" (as set for the user on the firewall)",
            ],
        ),
        (
            "[snmp]\nuser = \"u\"\nauth_password_file = \"short\"\nprivacy_password_file = \"missing\"\n",
            vec![
                "failoverd.toml:18:1: snmp.auth_password_file: the password from short is shorter than 8 characters, which SNMPv3 refuses: set a longer one on the firewall and here",
                "failoverd.toml:19:25: snmp.privacy_password_file: cannot read missing: No such file or directory (os error 2): create it (mode 0600) or fix the path",
            ],
        ),
        (
            "[snmp]\naddress = \"fw:99999\"\nuser = \"u\"\nauth_password_file = \"auth\"\nprivacy_password_file = \"priv\"\ninterval = \"5s\"\ntimeout = \"10s\"\nverify_within = \"2s\"\ncolumns = 3\n",
            vec![
                "failoverd.toml:17:11: snmp.address: \"fw:99999\": port \"99999\" is not 1 to 65535",
                "failoverd.toml:22:11: snmp.timeout: timeout = \"10s\" is longer than interval (5s): a walk must end before the next one starts; shorten timeout or lengthen interval",
                "failoverd.toml:23:1: snmp.verify_within: verify_within (2s) is shorter than interval (5s): the table is read only once per interval; make verify_within at least interval",
                "failoverd.toml:24:1: snmp.columns: unknown key columns",
            ],
        ),
    ];
    for (snmp, want) in rows {
        let c = case(snmp);
        let got: Vec<String> = c
            .diagnostics()
            .into_iter()
            .map(|l| l.replace(&format!("{}/", c.dir.path().display()), ""))
            .collect();
        assert_eq!(got, want, "{snmp}");
        assert!(!c.valid(), "{snmp}");
        assert!(got.iter().all(|l| !l.contains(AUTH) && !l.contains(PRIV)), "{got:?}");
    }
}
