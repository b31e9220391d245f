//! The `failoverd` binary: parses arguments, sets up logging and calls into
//! the library. Nothing else lives here.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use failoverd::cli::{Cli, Command};
use failoverd::cmd;
use failoverd::firewall::decide::Want;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let args: Vec<String> = std::env::args().collect();
            // `status --check`: bad arguments are UNKNOWN (3), on stdout.
            if let Some(v) = cmd::plugin::usage_error(&args, &e) {
                print!("{}", v.line);
                return ExitCode::from(3);
            }
            e.exit()
        }
    };
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
        Command::Status {
            check: true, groups, ..
        } => cmd::control::status_check(&cli.config, &groups, &mut std::io::stdout()),
        Command::Status { json, .. } => {
            cmd::control::status(&cli.config, json, &mut std::io::stdout(), &mut std::io::stderr())
        }
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
        Command::Events { since, group, json } => {
            let o = cmd::events::Options { since, group, json };
            cmd::events::run(&cli.config, &o, &mut std::io::stdout(), &mut std::io::stderr())
        }
        Command::Report { since, group, json } => {
            let o = cmd::events::Options {
                since: Some(since),
                group,
                json,
            };
            cmd::report::run(&cli.config, &o, &mut std::io::stdout(), &mut std::io::stderr())
        }
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
