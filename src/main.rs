//! The `failoverd` binary: parses arguments, sets up logging and calls into
//! the library. Nothing else lives here.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use failoverd::cmd;
use failoverd::firewall::decide::Want;

/// Keeps Sophos Firewall VPN failover groups honest: probes every member
/// connection, mails the admins and pushes group activation or
/// deactivation to the firewall.
#[derive(Parser, Debug)]
#[command(name = "failoverd", version, about, long_about = None)]
struct Cli {
    /// Settings file.
    #[arg(short = 'c', long = "config", global = true, value_name = "PATH", default_value = failoverd::config::DEFAULT_PATH)]
    config: PathBuf,

    /// Log verbosity (error, warn, info, debug, trace); RUST_LOG also works.
    #[arg(long = "log-level", global = true, value_name = "LEVEL")]
    log_level: Option<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Validate the settings and group files; print every error and warning,
    /// and what failoverd will do when each group fails.
    Check {
        /// Also make the read-only Get and print the certificate the
        /// firewall presented.
        #[arg(long)]
        online: bool,
    },
    /// One push attempt to the firewall, recorded as the belief and
    /// followed by a hold.
    Push {
        /// The group.
        group: String,
        /// Push Active.
        #[arg(long, conflicts_with = "deactivate", required_unless_present = "deactivate")]
        activate: bool,
        /// Push DeActive.
        #[arg(long)]
        deactivate: bool,
        /// Hold the group afterwards for this long (never shortens a hold).
        #[arg(long, value_name = "DUR", default_value = "1h", value_parser = humantime::parse_duration)]
        hold: std::time::Duration,
    },
    /// Send one test mail through the configured server and print its answer.
    MailTest,
    /// What the running daemon sees: groups, members, targets, pushes, holds.
    Status,
    /// No pushes for these groups until released or the time ends; probing
    /// and mail go on.
    Hold {
        /// Groups to hold (or --all).
        #[arg(required_unless_present = "all")]
        groups: Vec<String>,
        /// Every group.
        #[arg(long, conflicts_with = "groups")]
        all: bool,
        /// How long.
        #[arg(long = "for", value_name = "DUR", default_value = "4h", value_parser = humantime::parse_duration)]
        duration: std::time::Duration,
        /// Why (shown in status).
        #[arg(long, default_value = "maintenance")]
        reason: String,
    },
    /// End holds; the next push is decided from current health.
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
    Sync {
        /// Only this group.
        #[arg(long, value_name = "GROUP")]
        group: Option<String>,
        /// Only definitions that differ from what the firewall last accepted.
        #[arg(long)]
        changed_only: bool,
    },
    /// The daemon, in the foreground.
    Run {
        /// Log pushes instead of sending them.
        #[arg(long)]
        dry_run: bool,
    },
    /// Read the firewall's failover groups (read-only Gets) and write one
    /// group file per group; print a connection table to paste for every
    /// member that has none. Exit 0 imported, 1 the firewall refused or
    /// answered what cannot be read, 2 settings, arguments or a file exists.
    Import(cmd::import::ImportArgs),
    /// Check every target once (no fall/rise) and print a table: group,
    /// member, condition, target, result, RTT or reason. Exit 0 all good,
    /// 1 any failed, 4 any could not be made here, 2 configuration.
    Probe {
        /// Only this group.
        #[arg(long, value_name = "GROUP")]
        group: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    failoverd::logging::init(cli.log_level.as_deref());
    let code = match cli.command {
        Command::Check { online } => {
            cmd::check::run(&cli.config, online, &mut std::io::stdout(), &mut std::io::stderr())
        }
        Command::Push {
            group, activate, hold, ..
        } => {
            let want = if activate { Want::Active } else { Want::DeActive };
            cmd::firewall::push(
                &cli.config,
                &group,
                want,
                hold,
                &mut std::io::stdout(),
                &mut std::io::stderr(),
            )
        }
        Command::MailTest => cmd::mail_test::run(&cli.config, &mut std::io::stdout(), &mut std::io::stderr()),
        Command::Status => cmd::control::status(&cli.config, &mut std::io::stdout(), &mut std::io::stderr()),
        Command::Hold {
            groups,
            duration,
            reason,
            ..
        } => cmd::control::hold(
            &cli.config,
            &groups,
            duration,
            &reason,
            &mut std::io::stdout(),
            &mut std::io::stderr(),
        ),
        Command::Release { groups, .. } => {
            cmd::control::release(&cli.config, &groups, &mut std::io::stdout(), &mut std::io::stderr())
        }
        Command::Sync { group, changed_only } => cmd::firewall::sync(
            &cli.config,
            group.as_deref(),
            changed_only,
            &mut std::io::stdout(),
            &mut std::io::stderr(),
        ),
        Command::Run { dry_run } => {
            let opts = failoverd::daemon::Options {
                config: cli.config.clone(),
                dry_run,
                lock_wait: std::time::Duration::from_secs(15),
            };
            failoverd::daemon::run(&opts)
        }
        Command::Import(args) => cmd::import::run(&cli.config, &args, &mut std::io::stdout(), &mut std::io::stderr()),
        Command::Probe { group } => cmd::probe::run(
            &cli.config,
            group.as_deref(),
            &mut std::io::stdout(),
            &mut std::io::stderr(),
        ),
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
