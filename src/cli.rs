//! The command line: every command, option and help text, in one place so
//! that the binary parses it and the man page and shell completions are
//! rendered from it (`docgen`), and cannot drift.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Keeps Sophos Firewall VPN failover groups honest: probes every member
/// connection, mails the admins and pushes group activation or
/// deactivation to the firewall.
#[derive(Parser, Debug)]
#[command(name = "failoverd", version, about, long_about = None)]
pub struct Cli {
    /// Settings file.
    #[arg(short = 'c', long = "config", global = true, value_name = "PATH", default_value = crate::config::DEFAULT_PATH)]
    pub config: PathBuf,

    /// Log verbosity (error, warn, info, debug, trace); RUST_LOG also works.
    #[arg(long = "log-level", global = true, value_name = "LEVEL")]
    pub log_level: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Validate the settings and group files; print every error and warning,
    /// and what failoverd will do when each group fails.
    #[command(
        override_usage = "failoverd check [-c PATH] [--online]",
        after_long_help = "Exit status: 0 valid; 1 invalid (an unreadable group or password file included), or with --online a Get the firewall did not accept; 2 settings unreadable or bad arguments."
    )]
    Check {
        /// Also make the read-only Get and print the certificate the
        /// firewall presented.
        #[arg(long)]
        online: bool,
    },
    /// One push attempt to the firewall, recorded as the belief and
    /// followed by a hold.
    #[command(
        override_usage = "failoverd push [-c PATH] GROUP --activate|--deactivate [--hold DUR]",
        after_long_help = "Exit status: 0 accepted; 1 not accepted; 2 settings, arguments or unknown group; 3 a daemon runs but does not answer.",
        group(clap::ArgGroup::new("direction").required(true).args(["activate", "deactivate"]))
    )]
    Push {
        /// The group.
        group: String,
        /// Push Active (one of --activate and --deactivate is needed).
        #[arg(long)]
        activate: bool,
        /// Push DeActive.
        #[arg(long)]
        deactivate: bool,
        /// Hold the group afterwards for this long (never shortens a hold);
        /// at most 1y.
        #[arg(long, value_name = "DUR", default_value = "1h", value_parser = crate::time::parse_cli_duration)]
        hold: std::time::Duration,
    },
    /// Send one test mail through the configured server and print its answer.
    #[command(
        override_usage = "failoverd mail-test [-c PATH]",
        after_long_help = "Exit status: 0 the server accepted the mail; 1 it did not; 2 configuration, or no [mail]."
    )]
    MailTest,
    /// What the running daemon sees: groups, members, targets, pushes, holds.
    #[command(
        override_usage = "failoverd status [-c PATH] [--json]\n       failoverd status [-c PATH] --check [--group GROUP]...",
        after_long_help = "Exit status: 0; 1 the daemon answered what this version cannot read; 2 settings unreadable or bad arguments; 3 no daemon (the message says why: no socket, permission denied, not answering).\nWith --check (a monitoring plugin): 0 OK, all groups up and no problem; 1 WARNING, a member down, a disagreement, a definition that differs, a hold, a refused push, the API or SNMP unusable; 2 CRITICAL, a group down; 3 UNKNOWN, no daemon, an unreadable answer, an unknown group or bad arguments."
    )]
    Status {
        /// Print the /status document (JSON) instead of the table.
        #[arg(long, conflicts_with = "check")]
        json: bool,
        /// Act as a monitoring plugin (Nagios, Icinga, Checkmk, Zabbix):
        /// one line `FAILOVERD OK|WARNING|CRITICAL|UNKNOWN - text | perfdata`
        /// and the plugin exit code.
        #[arg(long)]
        check: bool,
        /// With --check: judge only this group (repeatable).
        #[arg(long = "group", value_name = "GROUP", requires = "check")]
        groups: Vec<String>,
    },
    /// No pushes for these groups until released or the time ends; probing
    /// and mail go on.
    #[command(
        override_usage = "failoverd hold [-c PATH] GROUP...|--all [--for DUR] [--reason TEXT]",
        after_long_help = "Exit status: 0; 2 settings, arguments or unknown group; 3 no daemon."
    )]
    Hold {
        /// Groups to hold (or --all).
        #[arg(required_unless_present = "all")]
        groups: Vec<String>,
        /// Every group.
        #[arg(long, conflicts_with = "groups")]
        all: bool,
        /// How long; at most 1y.
        #[arg(long = "for", value_name = "DUR", default_value = "4h", value_parser = crate::time::parse_cli_duration)]
        duration: std::time::Duration,
        /// Why (shown in status).
        #[arg(long, default_value = "maintenance")]
        reason: String,
    },
    /// End holds; the next push is decided from current health.
    #[command(
        override_usage = "failoverd release [-c PATH] GROUP...|--all",
        after_long_help = "Exit status: 0; 2 settings, arguments or unknown group; 3 no daemon."
    )]
    Release {
        /// Groups to release (or --all).
        #[arg(required_unless_present = "all")]
        groups: Vec<String>,
        /// Every group.
        #[arg(long, conflicts_with = "groups")]
        all: bool,
    },
    /// Send group definitions to the firewall: Add, and Update where the
    /// answer is 502; never Active/DeActive.
    #[command(
        override_usage = "failoverd sync [-c PATH] [--group GROUP] [--changed-only]",
        after_long_help = "Exit status: 0 every group accepted or unchanged; 1 any other answer; 2 settings or arguments."
    )]
    Sync {
        /// Only this group.
        #[arg(long, value_name = "GROUP")]
        group: Option<String>,
        /// Only definitions that differ from what the firewall last accepted.
        #[arg(long)]
        changed_only: bool,
    },
    /// The daemon, in the foreground.
    #[command(
        override_usage = "failoverd run [-c PATH] [--dry-run]",
        after_long_help = "Exit status: 0 after SIGTERM or SIGINT; 2 cannot start as configured (invalid settings, PING without ICMP permission, state directory locked by another run); 1 any other fatal error."
    )]
    Run {
        /// Log pushes instead of sending them.
        #[arg(long)]
        dry_run: bool,
    },
    /// Read the firewall's failover groups and their IPsec connections
    /// (read-only Gets), write one group file per group and print a
    /// connection table to paste for every member that has none.
    #[command(
        override_usage = "failoverd import [-c PATH] [--group GROUP]... [--out DIR] [--dry-run] [--force]",
        after_long_help = "Exit status: 0 imported, every file unchanged, or --dry-run; 1 the firewall refused or answered what cannot be read; 2 settings, arguments, or a file that differs exists without --force."
    )]
    Import(crate::cmd::import::ImportArgs),
    /// Check every target once (no fall/rise) and print a table: group,
    /// member, condition, target, result, RTT or reason.
    #[command(
        override_usage = "failoverd probe [-c PATH] [--group GROUP]",
        after_long_help = "Exit status: 0 all good; 1 any check failed; else 4 any check could not be made here (a local fault); 2 configuration."
    )]
    Probe {
        /// Only this group.
        #[arg(long, value_name = "GROUP")]
        group: Option<String>,
    },
    /// The event history kept in the state directory, oldest first; works
    /// without a daemon.
    #[command(
        override_usage = "failoverd events [-c PATH] [--since DUR] [--group GROUP] [--json]",
        after_long_help = "Exit status: 0; 2 settings or arguments (or a history that cannot be read)."
    )]
    Events {
        /// Only events of the last DUR (default: all kept, 30 days).
        #[arg(long, value_name = "DUR", value_parser = crate::time::parse_cli_duration)]
        since: Option<std::time::Duration>,
        /// Only this group's events (and failoverd's own).
        #[arg(long, value_name = "GROUP")]
        group: Option<String>,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// The shadow report: failoverd's decisions beside what the firewall
    /// did (read over SNMP), from the history.
    #[command(
        override_usage = "failoverd report [-c PATH] [--since DUR] [--group GROUP] [--json]",
        after_long_help = "Exit status: 0; 2 settings or arguments (or a history that cannot be read)."
    )]
    Report {
        /// The period: the last DUR.
        #[arg(long, value_name = "DUR", default_value = "7d", value_parser = crate::time::parse_cli_duration)]
        since: std::time::Duration,
        /// Only this group.
        #[arg(long, value_name = "GROUP")]
        group: Option<String>,
        /// The report as one JSON document.
        #[arg(long)]
        json: bool,
    },
}
