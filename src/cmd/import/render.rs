//! What `import` writes and prints: a group file in the firewall's own
//! format and spelling (GroupDetail only, headed by a comment naming the
//! firewall and the time), and the connection tables to paste. Every value
//! from the firewall is escaped for where it goes: XML text, a TOML string
//! or key, or a comment (control characters cannot end a comment early).

use std::fmt::Write;
use std::net::IpAddr;
use std::path::Path;

use crate::config::settings::Settings;
use crate::firewall::read::{FwConnection, FwGroup};
use crate::firewall::request::escape;

/// The group file for `g`.
pub fn group_file(g: &FwGroup, url: &str) -> String {
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ");
    let mut x = format!(
        "<!-- Imported by failoverd import from {} at {now}. -->\n<VPNFailoverGroup>\n  <GroupDetail>\n",
        comment(url).replace("--", "-&#45;")
    );
    let _ = writeln!(x, "    <Name>{}</Name>", escape(&g.name));
    x.push_str("    <MemberConnections>\n");
    for m in &g.members {
        let _ = writeln!(x, "      <Connection>{}</Connection>", escape(m));
    }
    x.push_str("    </MemberConnections>\n");
    if let Some(m) = &g.mail {
        let _ = writeln!(x, "    <MailNotification>{}</MailNotification>", escape(m));
    }
    if let Some(f) = &g.failback {
        let _ = writeln!(x, "    <AutomaticFailback>{}</AutomaticFailback>", escape(f));
    }
    if let Some(conditions) = &g.conditions {
        x.push_str("    <FailoverCondition>\n");
        for c in conditions {
            x.push_str("      <FailoverIF>");
            let protocol = c.protocol.as_deref().unwrap_or_default();
            let _ = write!(x, "<Protocol>{}</Protocol>", escape(protocol));
            if let Some(p) = &c.port {
                let _ = write!(x, "<Port>{}</Port>", escape(p));
            }
            x.push_str("</FailoverIF>\n");
        }
        x.push_str("    </FailoverCondition>\n");
    }
    x.push_str("  </GroupDetail>\n</VPNFailoverGroup>\n");
    x
}

/// A value safe inside a comment: one line, no control characters.
fn comment(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

/// A TOML basic string.
fn toml_string(text: &str) -> String {
    let mut s = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(s, "\\u{:04X}", c as u32);
            }
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

/// A TOML key: bare when it can be, else quoted.
fn toml_key(name: &str) -> String {
    let bare = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare { name.to_string() } else { toml_string(name) }
}

/// The remote gateway as a target, when it is an address or a host name.
fn target(remote_host: &str) -> Option<&str> {
    if remote_host.parse::<IpAddr>().is_ok() {
        return Some(remote_host);
    }
    let name = remote_host.len() <= 253
        && !remote_host.starts_with(['-', '.'])
        && remote_host.contains(|c: char| c.is_ascii_alphabetic())
        && remote_host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    name.then_some(remote_host)
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none given".to_string()
    } else {
        comment(&items.join(", "))
    }
}

/// The tables for every member connection of `groups` that has no
/// `[connections.NAME]` in the settings, in order of first appearance.
pub fn tables(
    groups: &[FwGroup],
    connections: &[FwConnection],
    s: &Settings,
    no_groups_key: bool,
    dir: &Path,
) -> String {
    let mut out = String::new();
    let mut done: Vec<&str> = Vec::new();
    for g in groups {
        for (i, m) in g.members.iter().enumerate() {
            if s.connections.contains_key(m) || done.contains(&m.as_str()) {
                continue;
            }
            done.push(m);
            let role = if i == 0 {
                "primary".to_string()
            } else {
                format!("member {} of {}", i + 1, g.members.len())
            };
            let c = connections.iter().find(|c| &c.name == m);
            table(&mut out, m, &g.name, &role, c);
        }
    }
    if out.is_empty() {
        return out;
    }
    let mut head = String::from(
        "# Connection tables from failoverd import: paste them into the settings file.\n\
         # targets come from each connection's remote gateway; via is left at its safe\n\
         # default (tunnel): failoverd then keeps the group active and at most restarts\n\
         # one that stays down, and never leaves a group deactivated.\n",
    );
    if no_groups_key {
        let rel = dir
            .strip_prefix(s.file.parent().unwrap_or(Path::new("")))
            .unwrap_or(dir);
        let glob = rel.join("*.xml");
        let _ = write!(
            head,
            "# The settings have no `groups` yet: put this line, without its \"# \", at the top of the\n# settings file, above [firewall] (a key belongs to the [table] above it):\n# groups = [{}]\n",
            toml_string(&glob.to_string_lossy())
        );
    }
    head.push('\n');
    head + &out
}

fn table(out: &mut String, name: &str, group: &str, role: &str, c: Option<&FwConnection>) {
    let _ = writeln!(out, "[connections.{}]", toml_key(name));
    let _ = writeln!(out, "# group {}, {role}", comment(group));
    let Some(c) = c else {
        let _ = writeln!(
            out,
            "# The firewall returned no IPsec connection of this name: fill in targets.\ntargets = []\n"
        );
        return;
    };
    let _ = writeln!(
        out,
        "# IPsec connection {}: {}, local WAN port {}, remote gateway {}",
        comment(&c.name),
        comment(if c.connection_type.is_empty() {
            "type not given"
        } else {
            &c.connection_type
        }),
        comment(if c.local_wan_port.is_empty() {
            "not given"
        } else {
            &c.local_wan_port
        }),
        comment(if c.remote_host.is_empty() {
            "not given"
        } else {
            &c.remote_host
        }),
    );
    let _ = writeln!(
        out,
        "# local subnets: {}; remote networks: {}",
        list(&c.local_subnets),
        list(&c.remote_networks)
    );
    match target(&c.remote_host) {
        Some(t) => {
            let _ = writeln!(out, "targets = [{}]", toml_string(t));
        }
        None => {
            let _ = writeln!(
                out,
                "# The remote gateway is no address or host name: fill in targets.\ntargets = []"
            );
        }
    }
    let inside = c.remote_networks.iter().find(|n| !n.eq_ignore_ascii_case("any"));
    let hint = match inside {
        Some(n) => format!("a host inside {}", comment(n)),
        None => "a host the tunnel reaches".to_string(),
    };
    let port = if c.local_wan_port.is_empty() {
        "its WAN port".to_string()
    } else {
        comment(&c.local_wan_port)
    };
    let _ = writeln!(
        out,
        "# via = \"tunnel\" (the default): failoverd keeps the group active and only restarts it\n\
         #   after restart_after down; a target behind the tunnel ({hint}) tests the tunnel itself.\n\
         # via = \"underlay\": only if these targets answer whether or not this member's tunnel is\n\
         #   up (e.g. the peer's public address reached over {port}, with source or interface\n\
         #   set to that link), and every member of the group has its own such targets.\n"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        let src = crate::config::diag::Source::new(
            Path::new("/etc/failoverd/failoverd.toml"),
            "[firewall]\nurl = \"https://192.0.2.1\"\nusername = \"u\"\npassword = \"p\"\n",
        );
        let mut d = crate::config::diag::Diagnostics::default();
        crate::config::read_settings(&src, &mut d).unwrap()
    }

    fn group(members: &[&str]) -> FwGroup {
        FwGroup {
            name: "G".into(),
            members: members.iter().map(|m| m.to_string()).collect(),
            mail: None,
            failback: None,
            conditions: None,
            path: String::new(),
        }
    }

    /// No value from the firewall can leave its comment or string and
    /// become a setting of its own.
    #[test]
    fn values_from_the_reply_stay_where_they_are_put() {
        let evil = "X\n[firewall]\ninsecure = true";
        let c = FwConnection {
            name: evil.into(),
            connection_type: "SiteToSite\ndry_run = false".into(),
            remote_host: "203.0.113.1\nvia = \"underlay\"".into(),
            local_wan_port: "PortB\r\nvia = \"underlay\"".into(),
            local_subnets: vec!["10.0.0.0/8\nvia = \"underlay\"".into()],
            remote_networks: vec!["Any".into()],
        };
        let out = tables(
            &[group(&[evil])],
            &[c],
            &settings(),
            false,
            Path::new("/etc/failoverd/groups.d"),
        );
        let parsed: toml::Table = toml::from_str(&out).unwrap();
        let conns = parsed["connections"].as_table().unwrap();
        assert_eq!(parsed.len(), 1, "only [connections]: {out}");
        let t = conns[evil].as_table().unwrap();
        assert_eq!(t.keys().collect::<Vec<_>>(), ["targets"], "{out}");
        assert!(
            t["targets"].as_array().unwrap().is_empty(),
            "not an address: filled in by hand"
        );
    }

    #[test]
    fn targets_keys_and_the_groups_line() {
        assert_eq!(target("203.0.113.1"), Some("203.0.113.1"));
        assert_eq!(target("2001:db8::1"), Some("2001:db8::1"));
        assert_eq!(target("vpn.example.net"), Some("vpn.example.net"));
        for bad in ["*", "", "-x.example", "a b", "10.0.0.0/24"] {
            assert_eq!(target(bad), None, "{bad}");
        }
        assert_eq!(toml_key("HQ_Primary-2"), "HQ_Primary-2");
        assert_eq!(toml_key("R&D \"1\""), "\"R&D \\\"1\\\"\"");
        let s = settings();
        let out = tables(&[group(&["A"])], &[], &s, true, Path::new("/etc/failoverd/groups.d"));
        assert!(out.contains("# groups = [\"groups.d/*.xml\"]"), "{out}");
        assert!(
            out.contains("[connections.A]\n# group G, primary\n# The firewall returned no IPsec connection"),
            "{out}"
        );
        let mut known = settings();
        known.connections.insert(s_connection());
        assert_eq!(
            tables(&[group(&["A"])], &[], &known, true, Path::new("/x")),
            "",
            "A has a table already"
        );
    }

    fn s_connection() -> crate::config::settings::Connection {
        crate::config::settings::Connection {
            name: "A".into(),
            targets: Vec::new().into(),
            via: crate::config::settings::Via::Tunnel,
            via_defaulted: true,
            quorum: 1,
            family: crate::config::settings::Family::Any,
            source: None,
            interface: None,
            timing: std::sync::Arc::new(crate::config::settings::ProbeTiming::default_values()),
            pos: 0,
        }
    }
}
