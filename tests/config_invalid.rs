//! The table of invalid configurations: each row is one mistake an admin
//! can make, mapped to the exact errors `failoverd check` prints for it,
//! with file, line and column.

mod common;

use common::{BASE_GROUP, BASE_SETTINGS, Case};

struct Row {
    name: &'static str,
    settings: String,
    files: Vec<(&'static str, String)>,
    expected: &'static [&'static str],
}

fn row(
    name: &'static str,
    settings: String,
    files: Vec<(&'static str, String)>,
    expected: &'static [&'static str],
) -> Row {
    Row {
        name,
        settings,
        files,
        expected,
    }
}

/// The base settings with `extra` lines added to `[connections.A]`.
fn conn_a(extra: &str) -> String {
    BASE_SETTINGS.replacen("via = \"underlay\"\n", &format!("via = \"underlay\"\n{extra}"), 1)
}

/// A group nested 70 elements deep inside its `<Name>`.
fn deep_group() -> String {
    format!(
        "<VPNFailoverGroup>{}{}</VPNFailoverGroup>",
        "<x>".repeat(70),
        "</x>".repeat(70)
    )
}

/// A group file of 17 MiB.
fn huge_group() -> String {
    format!("<VPNFailoverGroup>{}</VPNFailoverGroup>", " ".repeat(17 * 1024 * 1024))
}

/// Latin-1 bytes (0xE9) are not UTF-8; written through a lossless trick below.
const LATIN1: &str = "LATIN1";

fn rows() -> Vec<Row> {
    vec![
        row(
            "missing name",
            BASE_SETTINGS.to_string(),
            vec![("g.xml", "<VPNFailoverGroup><GroupDetail><MemberConnections><Connection>A</Connection></MemberConnections></GroupDetail></VPNFailoverGroup>".to_string())],
            &[
                "g.xml:1:19: VPNFailoverGroup[1]/Name: missing <Name> in <GroupDetail>: every group needs a name",
            ],
        ),
        row(
            "empty name",
            BASE_SETTINGS.to_string(),
            vec![("g.xml", "<VPNFailoverGroup><GroupDetail><Name> </Name><MemberConnections><Connection>A</Connection></MemberConnections></GroupDetail></VPNFailoverGroup>".to_string())],
            &[
                "g.xml:1:32: VPNFailoverGroup[1]/Name: empty <Name>: every group needs a name",
            ],
        ),
        row(
            "name starts with digit",
            BASE_SETTINGS.to_string(),
            vec![("g.xml", "<VPNFailoverGroup><GroupDetail><Name>1HQ</Name><MemberConnections><Connection>A</Connection></MemberConnections></GroupDetail></VPNFailoverGroup>".to_string())],
            &[
                "g.xml:1:38: VPNFailoverGroup[1HQ]/Name: invalid group name \"1HQ\": it must start with a letter and hold only letters, digits and _",
            ],
        ),
        row(
            "name with dash",
            BASE_SETTINGS.to_string(),
            vec![("g.xml", "<VPNFailoverGroup><GroupDetail><Name>HQ-VPN</Name><MemberConnections><Connection>A</Connection></MemberConnections></GroupDetail></VPNFailoverGroup>".to_string())],
            &[
                "g.xml:1:38: VPNFailoverGroup[HQ-VPN]/Name: invalid group name \"HQ-VPN\": it must start with a letter and hold only letters, digits and _",
            ],
        ),
        row(
            "missing member connections",
            BASE_SETTINGS.to_string(),
            vec![("g.xml", "<VPNFailoverGroup><GroupDetail><Name>G</Name></GroupDetail></VPNFailoverGroup>".to_string())],
            &[
                "g.xml:1:19: VPNFailoverGroup[G]/MemberConnections: missing <MemberConnections>: list the group's connections, primary first",
            ],
        ),
        row(
            "no connection",
            BASE_SETTINGS.to_string(),
            vec![("g.xml", "<VPNFailoverGroup><GroupDetail><Name>G</Name><MemberConnections></MemberConnections></GroupDetail></VPNFailoverGroup>".to_string())],
            &[
                "g.xml:1:46: VPNFailoverGroup[G]/MemberConnections: no <Connection> in <MemberConnections>: a group needs at least one member",
            ],
        ),
        row(
            "empty connection",
            BASE_SETTINGS.to_string(),
            vec![("g.xml", "<VPNFailoverGroup><GroupDetail><Name>G</Name><MemberConnections><Connection></Connection></MemberConnections></GroupDetail></VPNFailoverGroup>".to_string())],
            &[
                "g.xml:1:65: VPNFailoverGroup[G]/MemberConnections/Connection[1]: empty <Connection>: name an IPsec connection",
            ],
        ),
        row(
            "duplicate connection",
            BASE_SETTINGS.to_string(),
            vec![("g.xml", "<VPNFailoverGroup><GroupDetail><Name>G</Name><MemberConnections><Connection>A</Connection><Connection>A</Connection></MemberConnections></GroupDetail></VPNFailoverGroup>".to_string())],
            &[
                "g.xml:1:103: VPNFailoverGroup[G]/MemberConnections/Connection[2]: connection A is listed twice in this group (first as Connection[1]); list each member once",
            ],
        ),
        row(
            "connection without settings",
            BASE_SETTINGS.to_string(),
            vec![("g.xml", "<VPNFailoverGroup><GroupDetail><Name>G</Name><MemberConnections><Connection>A</Connection><Connection>C</Connection></MemberConnections></GroupDetail></VPNFailoverGroup>".to_string())],
            &[
                "g.xml:1:103: VPNFailoverGroup[G]/MemberConnections/Connection[2]: connection C has no settings: add [connections.C] with targets = [...] to failoverd.toml",
            ],
        ),
        row(
            "connection without settings, a typo of one with settings",
            format!("{BASE_SETTINGS}\n[connections.HQ_Primary]\ntargets = [\"192.0.2.3\"]\nvia = \"underlay\"\n"),
            vec![("g.xml", "<VPNFailoverGroup><GroupDetail><Name>G</Name><MemberConnections><Connection>A</Connection><Connection>HQ_Primry</Connection></MemberConnections></GroupDetail></VPNFailoverGroup>".to_string())],
            &[
                "g.xml:1:103: VPNFailoverGroup[G]/MemberConnections/Connection[2]: connection HQ_Primry (did you mean HQ_Primary?) has no settings: add [connections.HQ_Primry] with targets = [...] to failoverd.toml",
            ],
        ),
        row(
            "import's groups line pasted below [firewall]",
            format!("{}groups = [\"g*.xml\"]\n", BASE_SETTINGS.replacen("groups = [\"g*.xml\"]\n", "", 1)),
            vec![("g.xml", BASE_GROUP.to_string())],
            &[
                "failoverd.toml:1:1: groups: required key groups is missing: add groups = [\"groups.d/*.xml\"]",
                "failoverd.toml:14:1: firewall.groups: unknown key groups in [firewall]: groups is a top-level key, and a key belongs to the [table] above it; move this line above the first [table] of the file",
            ],
        ),
        row(
            "connection in two groups",
            BASE_SETTINGS.to_string(),
            vec![("g.xml", "<VPNFailoverGroups>\n<VPNFailoverGroup><GroupDetail><Name>G</Name><MemberConnections><Connection>A</Connection></MemberConnections></GroupDetail></VPNFailoverGroup>\n<VPNFailoverGroup><GroupDetail><Name>H</Name><MemberConnections><Connection>B</Connection><Connection>A</Connection></MemberConnections></GroupDetail></VPNFailoverGroup>\n</VPNFailoverGroups>".to_string())],
            &[
                "g.xml:3:103: VPNFailoverGroup[H]/MemberConnections/Connection[2]: connection A is already a member of group G: a connection belongs to at most one group",
            ],
        ),
        row(
            "group names equal without case",
            BASE_SETTINGS.to_string(),
            vec![("g.xml", "<VPNFailoverGroup><GroupDetail><Name>HQ</Name><MemberConnections><Connection>A</Connection></MemberConnections></GroupDetail></VPNFailoverGroup>".to_string()), ("g2.xml", "<VPNFailoverGroup>\n  <GroupDetail><Name>hq</Name><MemberConnections><Connection>B</Connection></MemberConnections></GroupDetail></VPNFailoverGroup>".to_string())],
            &[
                "g2.xml:2:22: VPNFailoverGroup[hq]/Name: group name hq is already used by HQ at g.xml:1:38 (names are compared without case): rename one",
            ],
        ),
        row(
            "mail flag yes",
            BASE_SETTINGS.to_string(),
            vec![("g.xml", "<VPNFailoverGroup><GroupDetail><Name>G</Name><MemberConnections><Connection>A</Connection><Connection>B</Connection></MemberConnections><MailNotification>yes</MailNotification></GroupDetail></VPNFailoverGroup>".to_string())],
            &[
                "g.xml:1:155: VPNFailoverGroup[G]/MailNotification: invalid MailNotification \"yes\": use Enable or Disable (or y / n)",
            ],
        ),
        row(
            "mail flag empty",
            BASE_SETTINGS.to_string(),
            vec![("g.xml", "<VPNFailoverGroup><GroupDetail><Name>G</Name><MemberConnections><Connection>A</Connection><Connection>B</Connection></MemberConnections><MailNotification></MailNotification></GroupDetail></VPNFailoverGroup>".to_string())],
            &[
                "g.xml:1:137: VPNFailoverGroup[G]/MailNotification: invalid MailNotification \"\": use Enable or Disable (or y / n)",
            ],
        ),
        row(
            "failback y",
            BASE_SETTINGS.to_string(),
            vec![("g.xml", "<VPNFailoverGroup><GroupDetail><Name>G</Name><MemberConnections><Connection>A</Connection><Connection>B</Connection></MemberConnections><AutomaticFailback>y</AutomaticFailback></GroupDetail></VPNFailoverGroup>".to_string())],
            &[
                "g.xml:1:156: VPNFailoverGroup[G]/AutomaticFailback: invalid AutomaticFailback \"y\": use Enable or Disable",
            ],
        ),
        row(
            "protocol icmp",
            BASE_SETTINGS.to_string(),
            vec![("g.xml", "<VPNFailoverGroup><GroupDetail><Name>G</Name><MemberConnections><Connection>A</Connection><Connection>B</Connection></MemberConnections><FailoverCondition><FailoverIF><Protocol>icmp</Protocol></FailoverIF></FailoverCondition></GroupDetail></VPNFailoverGroup>".to_string())],
            &[
                "g.xml:1:178: VPNFailoverGroup[G]/FailoverCondition/FailoverIF[1]/Protocol: unknown protocol \"icmp\": use PING, TCP or leave it empty",
            ],
        ),
        row(
            "protocol udp",
            BASE_SETTINGS.to_string(),
            vec![("g.xml", "<VPNFailoverGroup><GroupDetail><Name>G</Name><MemberConnections><Connection>A</Connection><Connection>B</Connection></MemberConnections><FailoverCondition><FailoverIF><Protocol>UDP</Protocol><Port>53</Port></FailoverIF></FailoverCondition></GroupDetail></VPNFailoverGroup>".to_string())],
            &[
                "g.xml:1:178: VPNFailoverGroup[G]/FailoverCondition/FailoverIF[1]/Protocol: unknown protocol \"UDP\": use PING, TCP or leave it empty",
            ],
        ),
        row(
            "tcp without port",
            BASE_SETTINGS.to_string(),
            vec![("g.xml", "<VPNFailoverGroup><GroupDetail><Name>G</Name><MemberConnections><Connection>A</Connection><Connection>B</Connection></MemberConnections><FailoverCondition><FailoverIF><Protocol>TCP</Protocol></FailoverIF></FailoverCondition></GroupDetail></VPNFailoverGroup>".to_string())],
            &[
                "g.xml:1:156: VPNFailoverGroup[G]/FailoverCondition/FailoverIF[1]/Port: TCP needs a port: add <Port>N</Port> with N from 1 to 65535",
            ],
        ),
        row(
            "tcp with empty port",
            BASE_SETTINGS.to_string(),
            vec![("g.xml", "<VPNFailoverGroup><GroupDetail><Name>G</Name><MemberConnections><Connection>A</Connection><Connection>B</Connection></MemberConnections><FailoverCondition><FailoverIF><Protocol>tcp</Protocol><Port></Port></FailoverIF></FailoverCondition></GroupDetail></VPNFailoverGroup>".to_string())],
            &[
                "g.xml:1:192: VPNFailoverGroup[G]/FailoverCondition/FailoverIF[1]/Port: TCP needs a port: add <Port>N</Port> with N from 1 to 65535",
            ],
        ),
        row(
            "port zero",
            BASE_SETTINGS.to_string(),
            vec![("g.xml", "<VPNFailoverGroup><GroupDetail><Name>G</Name><MemberConnections><Connection>A</Connection><Connection>B</Connection></MemberConnections><FailoverCondition><FailoverIF><Protocol>TCP</Protocol><Port>0</Port></FailoverIF></FailoverCondition></GroupDetail></VPNFailoverGroup>".to_string())],
            &[
                "g.xml:1:198: VPNFailoverGroup[G]/FailoverCondition/FailoverIF[1]/Port: port 0 is out of range: use 1 to 65535",
            ],
        ),
        row(
            "port too large",
            BASE_SETTINGS.to_string(),
            vec![("g.xml", "<VPNFailoverGroup><GroupDetail><Name>G</Name><MemberConnections><Connection>A</Connection><Connection>B</Connection></MemberConnections><FailoverCondition><FailoverIF><Protocol>TCP</Protocol><Port>65536</Port></FailoverIF></FailoverCondition></GroupDetail></VPNFailoverGroup>".to_string())],
            &[
                "g.xml:1:198: VPNFailoverGroup[G]/FailoverCondition/FailoverIF[1]/Port: port 65536 is out of range: use 1 to 65535",
            ],
        ),
        row(
            "port not a number",
            BASE_SETTINGS.to_string(),
            vec![("g.xml", "<VPNFailoverGroup><GroupDetail><Name>G</Name><MemberConnections><Connection>A</Connection><Connection>B</Connection></MemberConnections><FailoverCondition><FailoverIF><Protocol>TCP</Protocol><Port>https</Port></FailoverIF></FailoverCondition></GroupDetail></VPNFailoverGroup>".to_string())],
            &[
                "g.xml:1:198: VPNFailoverGroup[G]/FailoverCondition/FailoverIF[1]/Port: port \"https\" is not a number: use 1 to 65535",
            ],
        ),
        row(
            "port negative",
            BASE_SETTINGS.to_string(),
            vec![("g.xml", "<VPNFailoverGroup><GroupDetail><Name>G</Name><MemberConnections><Connection>A</Connection><Connection>B</Connection></MemberConnections><FailoverCondition><FailoverIF><Protocol>TCP</Protocol><Port>-1</Port></FailoverIF></FailoverCondition></GroupDetail></VPNFailoverGroup>".to_string())],
            &[
                "g.xml:1:198: VPNFailoverGroup[G]/FailoverCondition/FailoverIF[1]/Port: port \"-1\" is not a number: use 1 to 65535",
            ],
        ),
        row(
            "two protocols",
            BASE_SETTINGS.to_string(),
            vec![("g.xml", "<VPNFailoverGroup><GroupDetail><Name>G</Name><MemberConnections><Connection>A</Connection><Connection>B</Connection></MemberConnections><FailoverCondition><FailoverIF><Protocol>PING</Protocol><Protocol>TCP</Protocol></FailoverIF></FailoverCondition></GroupDetail></VPNFailoverGroup>".to_string())],
            &[
                "g.xml:1:193: VPNFailoverGroup[G]/FailoverCondition/FailoverIF[1]/Protocol: <Protocol> appears more than once in <FailoverIF>; keep one",
            ],
        ),
        row(
            "two ports",
            BASE_SETTINGS.to_string(),
            vec![("g.xml", "<VPNFailoverGroup><GroupDetail><Name>G</Name><MemberConnections><Connection>A</Connection><Connection>B</Connection></MemberConnections><FailoverCondition><FailoverIF><Protocol>TCP</Protocol><Port>22</Port><Port>443</Port></FailoverIF></FailoverCondition></GroupDetail></VPNFailoverGroup>".to_string())],
            &[
                "g.xml:1:207: VPNFailoverGroup[G]/FailoverCondition/FailoverIF[1]/Port: <Port> appears more than once in <FailoverIF>; keep one",
            ],
        ),
        row(
            "second condition bad port",
            BASE_SETTINGS.to_string(),
            vec![("g.xml", "<VPNFailoverGroup><GroupDetail><Name>G</Name><MemberConnections><Connection>A</Connection><Connection>B</Connection></MemberConnections><FailoverCondition>\n<FailoverIF><Protocol>PING</Protocol></FailoverIF>\n<FailoverIF><Protocol>TCP</Protocol><Port>70000</Port></FailoverIF>\n</FailoverCondition></GroupDetail></VPNFailoverGroup>".to_string())],
            &[
                "g.xml:3:43: VPNFailoverGroup[G]/FailoverCondition/FailoverIF[2]/Port: port 70000 is out of range: use 1 to 65535",
            ],
        ),
        row(
            "misspelt element",
            BASE_SETTINGS.to_string(),
            vec![("g.xml", "<VPNFailoverGroup><GroupDetail><Name>G</Name><MemberConnections><Connection>A</Connection><Connection>B</Connection></MemberConnections><Mailnotification>Enable</Mailnotification></GroupDetail></VPNFailoverGroup>".to_string())],
            &[
                "g.xml:1:137: VPNFailoverGroup[G]/Mailnotification: unknown element <Mailnotification> (did you mean MailNotification?) in <GroupDetail>",
            ],
        ),
        row(
            "unknown element in FailoverIF",
            BASE_SETTINGS.to_string(),
            vec![("g.xml", "<VPNFailoverGroup><GroupDetail><Name>G</Name><MemberConnections><Connection>A</Connection><Connection>B</Connection></MemberConnections><FailoverCondition><FailoverIF><Protocl>TCP</Protocl></FailoverIF></FailoverCondition></GroupDetail></VPNFailoverGroup>".to_string())],
            &[
                "g.xml:1:168: VPNFailoverGroup[G]/FailoverCondition/FailoverIF[1]/Protocl: unknown element <Protocl> (did you mean Protocol?) in <FailoverIF>",
            ],
        ),
        row(
            "unknown attribute",
            BASE_SETTINGS.to_string(),
            vec![("g.xml", "<VPNFailoverGroup><GroupDetail mode=\"x\"><Name>G</Name><MemberConnections><Connection>A</Connection></MemberConnections></GroupDetail></VPNFailoverGroup>".to_string())],
            &[
                "g.xml:1:32: VPNFailoverGroup[G]: unknown attribute mode on <GroupDetail>",
            ],
        ),
        row(
            "misspelt transactionid",
            BASE_SETTINGS.to_string(),
            vec![("g.xml", "<VPNFailoverGroup transactionID=\"\"><GroupDetail><Name>G</Name><MemberConnections><Connection>A</Connection></MemberConnections></GroupDetail></VPNFailoverGroup>".to_string())],
            &[
                "g.xml:1:19: VPNFailoverGroup[G]: unknown attribute transactionID (did you mean transactionid?) on <VPNFailoverGroup>",
            ],
        ),
        row(
            "active and deactive",
            BASE_SETTINGS.to_string(),
            vec![("g.xml", "<VPNFailoverGroup><GroupDetail><Name>G</Name><MemberConnections><Connection>A</Connection><Connection>B</Connection></MemberConnections></GroupDetail><Active><Name>G</Name></Active><DeActive><Name>G</Name></DeActive></VPNFailoverGroup>".to_string())],
            &[
                "g.xml:1:182: VPNFailoverGroup[G]/DeActive: both <Active> and <DeActive> are given: choose one",
            ],
        ),
        row(
            "active names another group",
            BASE_SETTINGS.to_string(),
            vec![("g.xml", "<VPNFailoverGroup><GroupDetail><Name>G</Name><MemberConnections><Connection>A</Connection><Connection>B</Connection></MemberConnections></GroupDetail><Active><Name>Other</Name></Active></VPNFailoverGroup>".to_string())],
            &[
                "g.xml:1:165: VPNFailoverGroup[G]/Active/Name: <Active> names \"Other\", not this group (\"G\"); it can only name its own group",
            ],
        ),
        row(
            "deactive without name",
            BASE_SETTINGS.to_string(),
            vec![("g.xml", "<VPNFailoverGroup><GroupDetail><Name>G</Name><MemberConnections><Connection>A</Connection><Connection>B</Connection></MemberConnections></GroupDetail><DeActive></DeActive></VPNFailoverGroup>".to_string())],
            &[
                "g.xml:1:151: VPNFailoverGroup[G]/DeActive/Name: <DeActive> needs <Name>G</Name>",
            ],
        ),
        row(
            "doctype",
            BASE_SETTINGS.to_string(),
            vec![("g.xml", "<!DOCTYPE VPNFailoverGroup [<!ENTITY x \"y\">]>\n<VPNFailoverGroup><GroupDetail><Name>G</Name><MemberConnections><Connection>A</Connection><Connection>B</Connection></MemberConnections></GroupDetail></VPNFailoverGroup>".to_string())],
            &[
                "g.xml:1:1: (document): a DOCTYPE is not accepted (failoverd never expands entities); remove the <!DOCTYPE ...> declaration",
            ],
        ),
        row(
            "custom entity",
            BASE_SETTINGS.to_string(),
            vec![("g.xml", "<VPNFailoverGroup><GroupDetail><Name>G</Name><MemberConnections><Connection>A</Connection><Connection>B</Connection></MemberConnections><MailNotification>&lol;</MailNotification></GroupDetail></VPNFailoverGroup>".to_string())],
            &[
                "g.xml:1:155: (document): unknown entity &lol;: only &lt; &gt; &amp; &apos; &quot; and character references are read",
            ],
        ),
        row(
            "nested too deep",
            BASE_SETTINGS.to_string(),
            vec![("g.xml", deep_group())],
            &[
                "g.xml:1:208: (document): elements nested deeper than 64 levels",
            ],
        ),
        row(
            "file too large",
            BASE_SETTINGS.to_string(),
            vec![("g.xml", huge_group())],
            &[
                "g.xml:1:1: (document): group file is larger than 16 MiB: split it",
            ],
        ),
        row(
            "unclosed element",
            BASE_SETTINGS.to_string(),
            vec![("g.xml", "<VPNFailoverGroup><GroupDetail><Name>G</Name>".to_string())],
            &[
                "g.xml:1:19: (document): <GroupDetail> is never closed",
            ],
        ),
        row(
            "wrong root",
            BASE_SETTINGS.to_string(),
            vec![("g.xml", "<VPNFailoverGroupz/>".to_string())],
            &[
                "g.xml:1:1: VPNFailoverGroupz: unexpected root element <VPNFailoverGroupz> (did you mean VPNFailoverGroup?); a group file holds <VPNFailoverGroup>, <VPNFailoverGroups> or <Request>",
            ],
        ),
        row(
            "request with get",
            BASE_SETTINGS.to_string(),
            vec![("g.xml", "<Request><Login><Username>a</Username><Password>b</Password></Login><Get><VPNFailoverGroup/></Get></Request>".to_string())],
            &[
                "g.xml:1:69: Request/Get: unknown element <Get> (did you mean Set?) in <Request>",
            ],
        ),
        row(
            "two group details",
            BASE_SETTINGS.to_string(),
            vec![("g.xml", "<VPNFailoverGroup><GroupDetail><Name>G</Name><MemberConnections><Connection>A</Connection></MemberConnections></GroupDetail><GroupDetail/></VPNFailoverGroup>".to_string())],
            &[
                "g.xml:1:125: VPNFailoverGroup[G]/GroupDetail: <GroupDetail> appears more than once in <VPNFailoverGroup>; keep one",
            ],
        ),
        row(
            "text in member connections",
            BASE_SETTINGS.to_string(),
            vec![("g.xml", "<VPNFailoverGroup><GroupDetail><Name>G</Name><MemberConnections>A, B<Connection>A</Connection></MemberConnections></GroupDetail></VPNFailoverGroup>".to_string())],
            &[
                "g.xml:1:65: VPNFailoverGroup[G]/MemberConnections: unexpected text in <MemberConnections>; it holds elements only",
            ],
        ),
        row(
            "missing group detail",
            BASE_SETTINGS.to_string(),
            vec![("g.xml", "<VPNFailoverGroup><Active><Name>G</Name></Active></VPNFailoverGroup>".to_string())],
            &[
                "g.xml:1:1: VPNFailoverGroup[1]: missing <GroupDetail>: a group needs <GroupDetail> with <Name> and <MemberConnections>",
            ],
        ),
        row(
            "not utf8",
            BASE_SETTINGS.to_string(),
            vec![("g.xml", LATIN1.to_string())],
            &[
                "g.xml:1:41: (encoding): the file is not UTF-8 text: save it as UTF-8",
            ],
        ),
        row(
            "unknown top key",
            format!("{}{}", "group = [\"g*.xml\"]\n", BASE_SETTINGS.replace("groups = [\"g*.xml\"]\n", "")),
            vec![("g.xml", BASE_GROUP.to_string())],
            &[
                "failoverd.toml:1:1: group: unknown key group (did you mean groups?)",
                "failoverd.toml:1:1: groups: required key groups is missing: add groups = [\"groups.d/*.xml\"]",
            ],
        ),
        row(
            "glob matches nothing",
            format!("{}{}", "groups = [\"g*.xml\", \"missing/*.xml\"]\n", BASE_SETTINGS.replace("groups = [\"g*.xml\"]\n", "")),
            vec![("g.xml", BASE_GROUP.to_string())],
            &[
                "failoverd.toml:1:21: groups[1]: \"missing/*.xml\" matches no file (looked for missing/*.xml); fix the pattern or add the group files",
            ],
        ),
        row(
            "missing groups",
            format!("{}{}", "", BASE_SETTINGS.replace("groups = [\"g*.xml\"]\n", "")),
            vec![("g.xml", BASE_GROUP.to_string())],
            &[
                "failoverd.toml:1:1: groups: required key groups is missing: add groups = [\"groups.d/*.xml\"]",
            ],
        ),
        row(
            "timeout above interval",
            format!("{BASE_SETTINGS}\n{}", "[probe]\ninterval = \"1s\"\ntimeout = \"2s\"\n"),
            vec![("g.xml", BASE_GROUP.to_string())],
            &[
                "failoverd.toml:18:11: probe.timeout: timeout 2s is above interval 1s: a check must end before the next starts; lower timeout or raise interval",
            ],
        ),
        row(
            "quorum above targets",
            conn_a("quorum = 2\n"),
            vec![("g.xml", BASE_GROUP.to_string())],
            &[
                "failoverd.toml:6:10: connections.A.quorum: quorum 2 is above the number of targets (1): lower quorum or add targets",
            ],
        ),
        row(
            "loss rule without up",
            conn_a("loss_down = \"40%\"\n"),
            vec![("g.xml", BASE_GROUP.to_string())],
            &[
                "failoverd.toml:6:13: connections.A.loss_down: loss_down needs loss_up: each rule needs both values",
            ],
        ),
        row(
            "loss up not below down",
            conn_a("loss_down = \"10%\"\nloss_up = \"10%\"\n"),
            vec![("g.xml", BASE_GROUP.to_string())],
            &[
                "failoverd.toml:7:11: connections.A.loss_up: loss_up must be strictly below loss_down (the band between them keeps a target from flapping)",
            ],
        ),
        row(
            "rtt up above down",
            format!("{BASE_SETTINGS}\n{}", "[probe]\nrtt_down = \"200ms\"\nrtt_up = \"300ms\"\n"),
            vec![("g.xml", BASE_GROUP.to_string())],
            &[
                "failoverd.toml:18:10: probe.rtt_up: rtt_up must be strictly below rtt_down (the band between them keeps a target from flapping)",
            ],
        ),
        row(
            "window without rule",
            conn_a("window = 10\n"),
            vec![("g.xml", BASE_GROUP.to_string())],
            &[
                "failoverd.toml:6:10: connections.A.window: window only applies with a quality rule: add loss_down/loss_up or rtt_down/rtt_up, or remove window",
            ],
        ),
        row(
            "ca_file and pin",
            format!("{BASE_SETTINGS}{}", "ca_file = \"pw\"\npin_sha256 = \"abababababababababababababababababababababababababababababababab\"\n"),
            vec![("g.xml", BASE_GROUP.to_string())],
            &[
                "failoverd.toml:16:1: firewall.pin_sha256: ca_file, pin_sha256 and insecure exclude each other: choose one",
            ],
        ),
        row(
            "http url",
            BASE_SETTINGS.replace("\"https://192.0.2.254:4444\"", "\"http://192.0.2.254:4444\""),
            vec![("g.xml", BASE_GROUP.to_string())],
            &[
                "failoverd.toml:12:7: firewall.url: \"http://192.0.2.254:4444\": the firewall API is reached over https only: write https://",
            ],
        ),
        row(
            "missing url",
            BASE_SETTINGS.replace("url = \"https://192.0.2.254:4444\"\n", ""),
            vec![("g.xml", BASE_GROUP.to_string())],
            &[
                "failoverd.toml:11:2: firewall.url: required key url is missing: add url = \"https://192.0.2.1:4444\"",
            ],
        ),
        row(
            "bad duration",
            format!("{BASE_SETTINGS}\n{}", "[probe]\ninterval = \"fast\"\n"),
            vec![("g.xml", BASE_GROUP.to_string())],
            &[
                "failoverd.toml:17:12: probe.interval: interval = \"fast\" is not a duration (expected number at 0): write it like \"1s\", \"500ms\" or \"5m\"",
            ],
        ),
        row(
            "percentage without percent sign",
            conn_a("loss_down = \"40\"\nloss_up = \"10%\"\n"),
            vec![("g.xml", BASE_GROUP.to_string())],
            &[
                "failoverd.toml:6:13: connections.A.loss_down: loss_down = \"40\" is not a percentage from \"0%\" to \"100%\"",
            ],
        ),
        row(
            "fall zero",
            format!("{BASE_SETTINGS}\n{}", "[probe]\nfall = 0\n"),
            vec![("g.xml", BASE_GROUP.to_string())],
            &[
                "failoverd.toml:17:8: probe.fall: fall = 0 is out of range: use 1 to 1000",
            ],
        ),
        row(
            "fall as string",
            format!("{BASE_SETTINGS}\n{}", "[probe]\nfall = \"3\"\n"),
            vec![("g.xml", BASE_GROUP.to_string())],
            &[
                "failoverd.toml:17:8: probe.fall: expected a whole number, found a string",
            ],
        ),
        row(
            "via misspelt",
            BASE_SETTINGS.replacen("\"underlay\"", "\"underground\"", 1),
            vec![("g.xml", BASE_GROUP.to_string())],
            &[
                "failoverd.toml:5:7: connections.A.via: via = \"underground\": use \"underlay\" or \"tunnel\"",
            ],
        ),
        row(
            "family contradicts source",
            conn_a("source = \"198.51.100.2\"\nfamily = \"ipv6\"\n"),
            vec![("g.xml", BASE_GROUP.to_string())],
            &[
                "failoverd.toml:7:10: connections.A.family: family = \"ipv6\" contradicts source, an address of the other family: remove family or change source",
            ],
        ),
        row(
            "link-local without interface",
            BASE_SETTINGS.replacen("[\"192.0.2.1\"]", "[\"fe80::1\"]", 1),
            vec![("g.xml", BASE_GROUP.to_string())],
            &[
                "failoverd.toml:4:12: connections.A.targets[0]: fe80::1 is link-local: set interface = \"...\" to say which link to probe it on",
            ],
        ),
        row(
            "invalid target",
            BASE_SETTINGS.replacen("[\"192.0.2.1\"]", "[\"peer_1.example.com\"]", 1),
            vec![("g.xml", BASE_GROUP.to_string())],
            &[
                "failoverd.toml:4:12: connections.A.targets[0]: \"peer_1.example.com\" is neither an IP address nor a valid host name",
            ],
        ),
        row(
            "empty targets",
            BASE_SETTINGS.replacen("[\"192.0.2.1\"]", "[]", 1),
            vec![("g.xml", BASE_GROUP.to_string())],
            &[
                "failoverd.toml:4:1: connections.A.targets: targets is empty: give at least one IP address or host name to probe",
            ],
        ),
        row(
            "missing targets",
            BASE_SETTINGS.replacen("targets = [\"192.0.2.1\"]\n", "", 1),
            vec![("g.xml", BASE_GROUP.to_string())],
            &[
                "failoverd.toml:3:14: connections.A.targets: required key targets is missing: add targets = [\"192.0.2.10\"]",
            ],
        ),
        row(
            "misspelt connection key",
            conn_a("timout = \"1s\"\n"),
            vec![("g.xml", BASE_GROUP.to_string())],
            &[
                "failoverd.toml:6:1: connections.A.timout: unknown key timout (did you mean timeout?)",
            ],
        ),
        row(
            "password and password file",
            format!("{BASE_SETTINGS}{}", "password = \"x\"\n"),
            vec![("g.xml", BASE_GROUP.to_string())],
            &[
                "failoverd.toml:14:17: firewall.password_file: both password and password_file are set: choose one (password_file is safer)",
            ],
        ),
        row(
            "password file unreadable",
            BASE_SETTINGS.replace("password_file = \"pw\"", "password_file = \"nopw\""),
            vec![("g.xml", BASE_GROUP.to_string())],
            &[
                "failoverd.toml:14:17: firewall.password_file: cannot read nopw: No such file or directory (os error 2): create it (mode 0600) or fix the path",
            ],
        ),
        row(
            "mail server with user info",
            format!("{BASE_SETTINGS}{}", "[mail]\nserver = \"smtp://me:pw@mail.example.com\"\nfrom = \"failoverd@example.com\"\nto = [\"ops@example.com\"]\n"),
            vec![("g.xml", BASE_GROUP.to_string())],
            &[
                "failoverd.toml:16:10: mail.server: user info in the server URL is not accepted: set username and password_file",
            ],
        ),
        row(
            "mail from invalid",
            format!("{BASE_SETTINGS}{}", "[mail]\nserver = \"smtps://mail.example.com\"\nfrom = \"failoverd\"\nto = [\"ops@example.com\"]\n"),
            vec![("g.xml", BASE_GROUP.to_string())],
            &[
                "failoverd.toml:17:8: mail.from: \"failoverd\" is not a mail address: write \"name@example.com\" or \"Name <name@example.com>\"",
            ],
        ),
        row(
            "mail missing to",
            format!("{BASE_SETTINGS}{}", "[mail]\nserver = \"smtps://mail.example.com\"\nfrom = \"f@example.com\"\n"),
            vec![("g.xml", BASE_GROUP.to_string())],
            &[
                "failoverd.toml:15:2: mail.to: required key to is missing: add to = [\"netops@example.com\"]",
            ],
        ),
        row(
            "spelling misspelt",
            format!("{BASE_SETTINGS}{}", "spelling = \"sfos18\"\n"),
            vec![("g.xml", BASE_GROUP.to_string())],
            &[
                "failoverd.toml:15:12: firewall.spelling: spelling = \"sfos18\" (did you mean sfos19?): use \"sfos19\" or \"sfos17\"",
            ],
        ),
        row(
            "bad pin",
            format!("{BASE_SETTINGS}{}", "pin_sha256 = \"AB:CD\"\n"),
            vec![("g.xml", BASE_GROUP.to_string())],
            &[
                "failoverd.toml:15:14: firewall.pin_sha256: pin_sha256 must be the 64 hex digits of the certificate's SHA-256 (colons optional): to learn the one the firewall presents, remove this line and run `failoverd import` or `failoverd check --online`, which print it with the line to add",
            ],
        ),
        row(
            "toml syntax error",
            format!("{BASE_SETTINGS}{}", "[probe\ninterval = \"1s\"\n"),
            vec![("g.xml", BASE_GROUP.to_string())],
            &[
                "failoverd.toml:15:7: (syntax): invalid TOML: unclosed table, expected `]`",
            ],
        ),
        row(
            "insecure and pin",
            format!("{BASE_SETTINGS}{}", "insecure = true\npin_sha256 = \"abababababababababababababababababababababababababababababababab\"\n"),
            vec![("g.xml", BASE_GROUP.to_string())],
            &[
                "failoverd.toml:16:1: firewall.pin_sha256: ca_file, pin_sha256 and insecure exclude each other: choose one",
            ],
        ),
        row(
            "ha address with prefix",
            format!("{BASE_SETTINGS}{}", "[http]\nlisten = \"0.0.0.0:9733\"\n[ha]\naddress = \"198.51.100.50/24\"\npeer = \"http://198.51.100.12:9733/status\"\n"),
            vec![("g.xml", BASE_GROUP.to_string())],
            &[
                "failoverd.toml:18:11: ha.address: \"198.51.100.50/24\" is not an IP address; leave out the prefix length: write the VRRP virtual address, e.g. \"198.51.100.50\"",
            ],
        ),
        row(
            "ha address a name",
            format!("{BASE_SETTINGS}{}", "[http]\nlisten = \"0.0.0.0:9733\"\n[ha]\naddress = \"vip.example.net\"\npeer = \"http://198.51.100.12:9733/status\"\n"),
            vec![("g.xml", BASE_GROUP.to_string())],
            &[
                "failoverd.toml:18:11: ha.address: \"vip.example.net\" is not an IP address: write the VRRP virtual address, e.g. \"198.51.100.50\"",
            ],
        ),
        row(
            "ha address multicast",
            format!("{BASE_SETTINGS}{}", "[http]\nlisten = \"0.0.0.0:9733\"\n[ha]\naddress = \"224.0.0.18\"\npeer = \"http://198.51.100.12:9733/status\"\n"),
            vec![("g.xml", BASE_GROUP.to_string())],
            &[
                "failoverd.toml:18:11: ha.address: 224.0.0.18 cannot be a virtual address (unspecified, multicast or loopback): write the address keepalived moves between the hosts",
            ],
        ),
        row(
            "ha without address and peer",
            format!("{BASE_SETTINGS}{}", "[http]\nlisten = \"0.0.0.0:9733\"\n[ha]\n"),
            vec![("g.xml", BASE_GROUP.to_string())],
            &[
                "failoverd.toml:17:2: ha.address: required key address is missing: add address = \"198.51.100.50\" (the VRRP virtual address)",
                "failoverd.toml:17:2: ha.peer: required key peer is missing: add peer = \"http://198.51.100.12:9733/status\" (the other host's own address and [http] listen port)",
            ],
        ),
        row(
            "ha peer is the virtual address",
            format!("{BASE_SETTINGS}{}", "[http]\nlisten = \"0.0.0.0:9733\"\n[ha]\naddress = \"198.51.100.50\"\npeer = \"http://198.51.100.50:9733/status\"\n"),
            vec![("g.xml", BASE_GROUP.to_string())],
            &[
                "failoverd.toml:19:8: ha.peer: the peer URL names the virtual address 198.51.100.50: whichever host is active would read itself; name the other host's own address",
            ],
        ),
        row(
            "ha peer with user info",
            format!("{BASE_SETTINGS}{}", "[http]\nlisten = \"0.0.0.0:9733\"\n[ha]\naddress = \"198.51.100.50\"\npeer = \"http://admin:s3cret@198.51.100.12:9733/status\"\n"),
            vec![("g.xml", BASE_GROUP.to_string())],
            &[
                "failoverd.toml:19:8: ha.peer: user info in the peer URL is not accepted: write the other host's status URL, e.g. \"http://198.51.100.12:9733/status\"",
            ],
        ),
        row(
            "ha peer not http",
            format!("{BASE_SETTINGS}{}", "[http]\nlisten = \"0.0.0.0:9733\"\n[ha]\naddress = \"198.51.100.50\"\npeer = \"198.51.100.12:9733\"\n"),
            vec![("g.xml", BASE_GROUP.to_string())],
            &[
                "failoverd.toml:19:8: ha.peer: \"198.51.100.12:9733\" is not a URL (relative URL without a base): write the other host's status URL, e.g. \"http://198.51.100.12:9733/status\"",
            ],
        ),
        row(
            "ha unknown key",
            format!("{BASE_SETTINGS}{}", "[http]\nlisten = \"0.0.0.0:9733\"\n[ha]\naddress = \"198.51.100.50\"\npeer = \"http://198.51.100.12:9733/status\"\npriority = 100\n"),
            vec![("g.xml", BASE_GROUP.to_string())],
            &[
                "failoverd.toml:20:1: ha.priority: unknown key priority",
            ],
        ),
        row(
            "ha without http listen",
            format!("{BASE_SETTINGS}{}", "[ha]\naddress = \"198.51.100.50\"\npeer = \"http://198.51.100.12:9733/status\"\n"),
            vec![("g.xml", BASE_GROUP.to_string())],
            &[
                "failoverd.toml:15:2: ha: [ha] needs [http] listen: the other host reads this host's holds from its /status; add [http] listen = \"0.0.0.0:9733\" (or this host's own address)",
            ],
        ),
        row(
            "ha with an http table but no listen",
            format!("{BASE_SETTINGS}{}", "[http]\n[ha]\naddress = \"198.51.100.50\"\npeer = \"http://198.51.100.12:9733/status\"\n"),
            vec![("g.xml", BASE_GROUP.to_string())],
            &[
                "failoverd.toml:16:2: ha: [ha] needs [http] listen: the other host reads this host's holds from its /status; add [http] listen = \"0.0.0.0:9733\" (or this host's own address)",
            ],
        ),
    ]
}

fn run(r: &Row) -> Vec<String> {
    let files: Vec<(&str, &str)> = r.files.iter().map(|(n, c)| (*n, c.as_str())).collect();
    let case = Case::new(&r.settings, &files);
    for (n, c) in &r.files {
        if c == LATIN1 {
            std::fs::write(
                case.path(n),
                b"<VPNFailoverGroup><GroupDetail><Name>Caf\xe9</Name></GroupDetail></VPNFailoverGroup>",
            )
            .unwrap();
        }
    }
    assert!(!case.valid() || r.expected.is_empty(), "{}: expected invalid", r.name);
    case.errors()
}

#[test]
fn every_mistake_has_its_exact_located_message() {
    let rows = rows();
    assert!(rows.len() >= 40, "the table must cover at least 40 mistakes");
    let dump = std::env::var_os("FAILOVERD_DUMP").is_some();
    let mut failures = Vec::new();
    for r in &rows {
        let got = run(r);
        if dump {
            println!("ROW {}", r.name);
            for g in &got {
                println!("    {g:?},");
            }
            continue;
        }
        if got != r.expected {
            failures.push(format!(
                "{}:\n  expected {:#?}\n  got      {:#?}",
                r.name, r.expected, got
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} row(s) differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
