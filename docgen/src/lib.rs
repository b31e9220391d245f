//! Renders failoverd's man pages and shell completions: `failoverd(8)` and
//! the completions from the clap definitions (`failoverd::cli`), every
//! subcommand found by walking the command, so a new one appears by itself;
//! `failoverd.toml(5)` from the settings key table the reader checks keys
//! against (`failoverd::config::keys`). Nothing here is written by hand
//! twice, so the pages cannot drift from the program.

use std::io;

use clap::CommandFactory;
use clap_complete::Shell;
use failoverd::config::keys::{DefaultValue, KEYS, Section};
use roff::{Roff, bold, italic, roman};

const MANUAL: &str = "failoverd manual";

/// The whole command line as clap sees it.
pub fn command() -> clap::Command {
    failoverd::cli::Cli::command()
}

fn source() -> String {
    format!("failoverd {}", env!("CARGO_PKG_VERSION"))
}

/// Renders one clap-rendered section and drops its `.SH` heading, so the
/// body can sit under a heading of ours.
fn body(render: impl Fn(&mut dyn io::Write) -> io::Result<()>) -> String {
    let mut out = Vec::new();
    render(&mut out).expect("rendering into memory does not fail");
    String::from_utf8(out)
        .expect("roff is UTF-8")
        .lines()
        .filter(|l| !l.starts_with(".SH "))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn text_section(roff: &mut Roff, title: &str, paragraphs: &[&str]) {
    roff.control("SH", [title]);
    for (i, p) in paragraphs.iter().enumerate() {
        if i > 0 {
            roff.control("PP", []);
        }
        roff.text([roman(*p)]);
    }
}

/// `failoverd(8)`: the global options, then every subcommand with its
/// synopsis, description, options and exit status.
pub fn man8(cmd: &clap::Command) -> String {
    let mut top = cmd.clone();
    top.build();
    let man = clap_mangen::Man::new(top.clone())
        .section("8")
        .manual(MANUAL)
        .source(source());
    let mut page = String::new();
    page.push_str(&body(|w| man.render_title(w)));
    page.push_str(".SH NAME\n");
    page.push_str(&body(|w| man.render_name_section(w)));
    page.push_str(".SH SYNOPSIS\n");
    page.push_str(&body(|w| man.render_synopsis_section(w)));
    page.push_str(".SH DESCRIPTION\n");
    page.push_str(&body(|w| man.render_description_section(w)));
    let mut intro = Roff::new();
    intro.control("PP", []);
    intro.text([
        roman("Settings are read from "),
        italic(failoverd::config::DEFAULT_PATH),
        roman(" unless "),
        bold("--config"),
        roman(" names another file; see "),
        bold("failoverd.toml"),
        roman("(5). Diagnostics go to standard error, tables and answers to standard output."),
    ]);
    page.push_str(&intro.to_roff());
    page.push_str(".SH OPTIONS\n");
    page.push_str(&body(|w| man.render_options_section(w)));
    page.push_str(".SH COMMANDS\n");
    // Subcommands as declared, without the globals clap propagated into
    // them: those are listed once above.
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("failoverd {}", sub.get_name());
        let sub = sub.clone().bin_name(&name).display_name(&name);
        let m = clap_mangen::Man::new(sub.clone());
        let mut head = Roff::new();
        head.control("SS", [name.as_str()]);
        page.push_str(&head.to_roff());
        page.push_str(&body(|w| m.render_synopsis_section(w)));
        page.push_str(".PP\n");
        page.push_str(&body(|w| m.render_description_section(w)));
        if sub.get_arguments().any(|a| !a.is_hide_set()) {
            page.push_str(&body(|w| m.render_options_section(w)));
        }
        if sub.get_after_long_help().is_some() {
            page.push_str(".PP\n");
            page.push_str(&body(|w| m.render_extra_section(w)));
        }
    }
    let mut tail = Roff::new();
    text_section(
        &mut tail,
        "ENVIRONMENT",
        &[
            "RUST_LOG sets the log verbosity, as --log-level does.",
            "STATE_DIRECTORY (set by systemd's StateDirectory=) is the default state directory.",
            "CREDENTIALS_DIRECTORY (set by systemd's LoadCredential=) holds the credentials firewall.password and mail.password.",
        ],
    );
    tail.control("SH", ["FILES"]);
    for (path, what) in FILES {
        tail.control("TP", []);
        tail.text([italic(*path)]);
        tail.text([roman(*what)]);
    }
    text_section(
        &mut tail,
        "LOGGING",
        &[
            "Run under systemd, failoverd logs to the journal with native fields: EVENT, GROUP, MEMBER and TARGET where they apply, e.g. journalctl -u failoverd -o json, or journalctl -u failoverd GROUP=HQ_VPN.",
        ],
    );
    tail.control("SH", ["SEE ALSO"]);
    tail.text([
        bold("failoverd.toml"),
        roman("(5), "),
        bold("systemctl"),
        roman("(1), "),
        bold("journalctl"),
        roman("(1), "),
        bold("systemd.exec"),
        roman("(5)"),
    ]);
    page.push_str(&tail.to_roff());
    page
}

const FILES: &[(&str, &str)] = &[
    ("/etc/failoverd/failoverd.toml", "The settings; see failoverd.toml(5)."),
    (
        "/etc/failoverd/groups.d/",
        "Group definitions in the firewall's VPNFailoverGroup XML; files ending in .xml.example are examples, not loaded.",
    ),
    (
        "/etc/credstore/firewall.password",
        "The firewall API password, handed to the service as the credential firewall.password.",
    ),
    (
        "/var/lib/failoverd/",
        "The state directory: state.json, the mail spool and control.sock.",
    ),
    ("/usr/lib/systemd/system/failoverd.service", "The systemd unit."),
    (
        "/usr/share/doc/failoverd/",
        "The README and, where shipped, the keepalived example and the Prometheus rules.",
    ),
];

/// `failoverd.toml(5)`: every key the settings reader accepts, by table,
/// with its kind, default and meaning.
pub fn man5() -> String {
    let mut r = Roff::new();
    r.control("TH", ["FAILOVERD.TOML", "5", "", &source(), MANUAL]);
    r.control("SH", ["NAME"]);
    r.text([roman("failoverd.toml - settings of failoverd(8)")]);
    r.control("SH", ["SYNOPSIS"]);
    r.text([italic(failoverd::config::DEFAULT_PATH)]);
    text_section(
        &mut r,
        "DESCRIPTION",
        &[
            "A TOML file. Durations are strings such as \"500ms\", \"1s\", \"5m\" or \"1h\", each with the upper bound shown beside its key (none above one year; a longer value is an error); percentages are strings such as \"40%\". Relative paths are relative to the settings file's folder.",
            "Unknown keys are errors, with a hint when a known key is close. failoverd check prints every error and warning as FILE:LINE:COL: PATH: message.",
            "Every key below is listed with its default: a value means the same as leaving the key out; otherwise the default is explained. A credential NAME (firewall.password, mail.password) is read from $CREDENTIALS_DIRECTORY/NAME when that is set, else from the first of /etc/credstore/NAME, /run/credstore/NAME, /usr/lib/credstore/NAME. Password files lose one trailing newline, nothing else. A settings or password file others can read is a warning.",
            "SIGHUP (systemctl reload failoverd) reloads the file; if it is invalid the old settings keep running.",
        ],
    );
    for section in Section::ALL {
        let title = match section {
            Section::Top => "TOP-LEVEL KEYS".to_string(),
            s => s.header().to_string(),
        };
        r.control("SH", [title.as_str()]);
        r.text([roman(section.about())]);
        for k in KEYS.iter().filter(|k| k.section == section) {
            r.control("TP", []);
            let bound = failoverd::config::keys::bound_text(k).map_or(String::new(), |b| format!(", {b}"));
            r.text([bold(k.name), roman(" = "), italic(k.kind), roman(bound)]);
            r.text([roman(k.doc)]);
            r.control("br", []);
            let default = match k.default {
                DefaultValue::Literal(v) => vec![roman("Default: "), bold(v)],
                DefaultValue::Text(t) => match t.strip_prefix("required") {
                    Some(rest) => vec![roman(format!("Required{rest}; no default."))],
                    None => vec![roman(format!("Default: {t}"))],
                },
            };
            r.text(default);
        }
    }
    r.control("SH", ["EXAMPLE"]);
    r.text([roman(
        "The installed /etc/failoverd/failoverd.toml shows every key, commented out where it holds its default.",
    )]);
    r.control("SH", ["SEE ALSO"]);
    r.text([bold("failoverd"), roman("(8)")]);
    r.to_roff()
}

/// The completion script for `shell`.
pub fn completion(cmd: &clap::Command, shell: Shell) -> String {
    let mut cmd = cmd.clone();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "failoverd", &mut out);
    String::from_utf8(out).expect("completion scripts are UTF-8")
}

/// Every file the package ships, by name under the output folder.
pub fn render_all() -> Vec<(&'static str, String)> {
    let cmd = command();
    vec![
        ("failoverd.8", man8(&cmd)),
        ("failoverd.toml.5", man5()),
        ("failoverd.bash", completion(&cmd, Shell::Bash)),
        ("_failoverd", completion(&cmd, Shell::Zsh)),
        ("failoverd.fish", completion(&cmd, Shell::Fish)),
    ]
}
