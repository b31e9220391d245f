//! Shared helpers of the integration tests: a throw-away configuration
//! folder, loaded through the library exactly as `failoverd check` does.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Settings that are valid with the group file `BASE_GROUP`: two underlay
/// connections A and B (distinct targets), a password file made 0600.
pub const BASE_SETTINGS: &str = r#"groups = ["g*.xml"]

[connections.A]
targets = ["192.0.2.1"]
via = "underlay"

[connections.B]
targets = ["192.0.2.2"]
via = "underlay"

[firewall]
url = "https://192.0.2.254:4444"
username = "api"
password_file = "pw"
"#;

pub const BASE_GROUP: &str = "<VPNFailoverGroup><GroupDetail><Name>G</Name><MemberConnections><Connection>A</Connection><Connection>B</Connection></MemberConnections></GroupDetail></VPNFailoverGroup>";

/// A configuration folder; dropped with the test.
pub struct Case {
    pub dir: tempfile::TempDir,
}

impl Case {
    /// `failoverd.toml` with `settings`, each `(name, content)` file, and a
    /// 0600 password file `pw`.
    pub fn new(settings: &str, files: &[(&str, &str)]) -> Case {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("failoverd.toml"), settings).expect("write settings");
        for (name, content) in files {
            std::fs::write(dir.path().join(name), content).expect("write file");
        }
        let pw = dir.path().join("pw");
        std::fs::write(&pw, "secret\n").expect("write pw");
        std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        Case { dir }
    }

    pub fn settings_path(&self) -> PathBuf {
        self.dir.path().join("failoverd.toml")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Every diagnostic, as printed, with file names relative to the folder.
    pub fn diagnostics(&self) -> Vec<String> {
        let loaded = failoverd::config::load(&self.settings_path()).expect("settings readable");
        loaded
            .diagnostics
            .sorted()
            .iter()
            .map(|d| relative(&d.to_string(), self.dir.path()))
            .collect()
    }

    /// Whether a plan was produced (no errors).
    pub fn valid(&self) -> bool {
        failoverd::config::load(&self.settings_path())
            .expect("settings readable")
            .plan
            .is_some()
    }
}

fn relative(line: &str, dir: &Path) -> String {
    let prefix = format!("{}/", dir.display());
    line.replace(&prefix, "")
}

impl Case {
    /// The errors only, as printed.
    pub fn errors(&self) -> Vec<String> {
        self.filtered(" warning: ", false)
    }

    /// The warnings only, as printed.
    pub fn warnings(&self) -> Vec<String> {
        self.filtered(" warning: ", true)
    }

    fn filtered(&self, marker: &str, keep: bool) -> Vec<String> {
        self.diagnostics()
            .into_iter()
            .filter(|l| l.contains(marker) == keep)
            .collect()
    }
}
