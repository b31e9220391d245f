//! The `sfos-emulator` binary: starts the emulator for a person trying
//! failoverd without a firewall, prints the `[firewall]` settings to use,
//! logs one line per request (never the XML, which holds the password) and
//! takes fault switches on standard input while it runs.

use sfos_emulator::tunnels::{AgentOptions, SnmpAgent, TableFault, V3User};
use sfos_emulator::{
    Definition, Emulator, EmulatorConfig, FAULT_NAMES, Fault, IpsecConnection, Protocol, Spellings, Texts,
};
use std::process::ExitCode;
use tokio::io::{AsyncBufReadExt, BufReader};

const USAGE: &str = "usage: sfos-emulator --password-file FILE [--listen ADDR] [--username NAME]
    [--allow IP]... [--spelling sfos19|sfos17|either] [--texts seed|generic]
    [--require-api-version] [--cert-name NAME]... [--cert-out FILE]
    [--added-inactive] [--fault SPEC]... [--demo] [--quiet]
    [--snmp-password-file FILE]   (a real snmpd serving the tunnel table; v3
                                   user failoverd, SHA-256 and AES, this password)
defaults: --listen 127.0.0.1:4444 --username api --spelling either --texts seed
faults: ";

const COMMANDS: &str = "commands on standard input: fault SPEC | clear | texts seed|generic | groups | \
                        table FAULT (not-applied, carry-other, old-firmware) | table clear | table rows | \
                        snmp stop | snmp resume | help";

/// What the command line asked for beyond the emulator's settings.
struct Args {
    config: EmulatorConfig,
    cert_out: Option<String>,
    quiet: bool,
    demo: bool,
    snmp_password: Option<(String, String)>,
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    // Asked for: the usage on stdout, and success (an error is exit 2).
    if argv.iter().any(|a| a == "-h" || a == "--help") {
        print!("{USAGE}{FAULT_NAMES}");
        return ExitCode::SUCCESS;
    }
    let args = match parse(argv) {
        Ok(args) => args,
        Err(why) => {
            eprintln!("sfos-emulator: {why}\n{USAGE}{FAULT_NAMES}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("sfos-emulator: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("sfos-emulator: {why}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let emulator = Emulator::start(args.config).await?;
    emulator.set_verbose(!args.quiet);
    let agent = match &args.snmp_password {
        Some((file, password)) => {
            let agent = SnmpAgent::start(AgentOptions {
                community: format!("emulator-{}", std::process::id()),
                users: vec![V3User {
                    name: "failoverd".into(),
                    auth: "SHA-256".into(),
                    auth_password: password.clone(),
                    privacy: "AES".into(),
                    privacy_password: password.clone(),
                }],
            })?;
            emulator.attach_tunnels(agent.tunnels.clone());
            Some((file.clone(), agent))
        }
        None => None,
    };
    if args.demo {
        demo(&emulator);
    }
    if let Some(path) = &args.cert_out {
        std::fs::write(path, emulator.cert_pem()).map_err(|e| format!("cannot write {path}: {e}"))?;
    }
    println!("# sfos-emulator is listening; settings for failoverd's [firewall]:");
    println!("url = \"{}\"", emulator.url());
    println!("pin_sha256 = \"{}\"", emulator.cert_fingerprint());
    if let Some(path) = &args.cert_out {
        println!("# or: ca_file = \"{path}\" with tls_name = \"localhost\"");
    }
    if let Some((file, agent)) = &agent {
        println!("# a real snmpd serves the tunnel table; settings for failoverd's [snmp]:");
        println!("address = \"{}\"", agent.addr());
        println!("user = \"failoverd\"");
        println!("auth = \"sha256\"");
        println!("auth_password_file = \"{file}\"");
        println!("privacy_password_file = \"{file}\"");
    }
    println!("# {COMMANDS}");
    tokio::select! {
        _ = commands(&emulator, agent.as_ref().map(|(_, a)| a)) => {}
        _ = stop_signal() => {}
    }
    emulator.shutdown().await;
    Ok(())
}

/// Two failover groups and their IPsec connections, for trying
/// `failoverd import`.
fn demo(emulator: &Emulator) {
    let group = |name: &str, members: &[&str], conditions: Vec<(Protocol, Option<u16>)>| Definition {
        name: name.to_string(),
        members: members.iter().map(|m| m.to_string()).collect(),
        mail: true,
        failback: Some(true),
        conditions,
    };
    emulator.add_group(
        group(
            "HQ_VPN",
            &["HQ_Primary", "HQ_Backup"],
            vec![(Protocol::Ping, None), (Protocol::Tcp, Some(443))],
        ),
        true,
    );
    emulator.add_group(group("Branch_VPN", &["Branch_Fibre", "Branch_LTE"], vec![]), true);
    let s2s = IpsecConnection::site_to_site;
    emulator.add_connection(s2s(
        "HQ_Primary",
        "203.0.113.10",
        "PortB",
        &["10.0.0.0/24"],
        &["10.1.0.0/24", "10.1.1.0/24"],
    ));
    emulator.add_connection(s2s(
        "HQ_Backup",
        "203.0.113.10",
        "PortC",
        &["10.0.0.0/24"],
        &["10.1.0.0/24", "10.1.1.0/24"],
    ));
    emulator.add_connection(IpsecConnection::tunnel_interface(
        "Branch_Fibre",
        "198.51.100.20",
        "PortB",
    ));
    emulator.add_connection(IpsecConnection::tunnel_interface(
        "Branch_LTE",
        "198.51.100.21",
        "PortD",
    ));
}

/// Reads commands until standard input ends, then keeps serving.
async fn commands(emulator: &Emulator, agent: Option<&SnmpAgent>) {
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        println!("{}", command(emulator, agent, line.trim()));
    }
    std::future::pending::<()>().await;
}

/// The `table` and `snmp` commands: the tunnel table's faults and rows, and
/// an agent that stops answering.
fn snmp_command(agent: Option<&SnmpAgent>, verb: &str, rest: &str) -> String {
    let Some(agent) = agent else {
        return "no tunnel table: start with --snmp-password-file FILE".to_string();
    };
    let done = |r: Result<(), String>, what: &str| r.map_or_else(|e| e, |()| what.to_string());
    match (verb, rest) {
        ("table", "clear") => {
            agent.tunnels.clear_faults();
            "table faults: none".to_string()
        }
        ("table", "rows") => format!("{:?}", agent.tunnels.rows()),
        ("table", f) => {
            let fault = match f {
                "not-applied" => TableFault::NotApplied,
                "carry-other" => TableFault::CarryOther,
                "old-firmware" => TableFault::OldFirmware,
                _ => return format!("table {f:?}: not-applied, carry-other, old-firmware, clear or rows"),
            };
            agent.tunnels.set_fault(fault);
            format!("table fault: {fault:?}")
        }
        ("snmp", "stop") => done(agent.stop_answering(), "snmpd stopped: no answers"),
        ("snmp", "resume") => done(agent.resume(), "snmpd answers again"),
        _ => "snmp stop | snmp resume".to_string(),
    }
}

fn command(emulator: &Emulator, agent: Option<&SnmpAgent>, line: &str) -> String {
    let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
    match verb {
        "table" | "snmp" => snmp_command(agent, verb, rest.trim()),
        "fault" => match Fault::parse(rest.trim()) {
            Ok(fault) => {
                emulator.set_fault(fault);
                format!("faults: {:?}", emulator.faults())
            }
            Err(why) => why,
        },
        "clear" => {
            emulator.clear_faults();
            "faults: none".to_string()
        }
        "texts" => match texts(rest.trim()) {
            Ok(t) => {
                emulator.set_texts(t);
                format!("texts: {t:?}")
            }
            Err(why) => why,
        },
        "groups" => format!("groups (name: active): {:?}", emulator.groups()),
        "" => String::new(),
        _ => format!("{COMMANDS}\nfaults: {FAULT_NAMES}"),
    }
}

async fn stop_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
    }
}

fn parse(argv: Vec<String>) -> Result<Args, String> {
    let mut config = EmulatorConfig {
        listen: ([127, 0, 0, 1], 4444).into(),
        ..EmulatorConfig::default()
    };
    let (mut password, mut cert_out, mut quiet, mut names) = (None, None, false, Vec::new());
    let mut demo = false;
    let mut snmp_password = None;
    let mut argv = argv.into_iter();
    while let Some(flag) = argv.next() {
        let mut value = || argv.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--listen" => config.listen = value()?.parse().map_err(|e| format!("--listen: {e}"))?,
            "--username" => config.username = value()?,
            "--password-file" => password = Some(read_password(&value()?)?),
            "--allow" => {
                let ip = value()?.parse().map_err(|e| format!("--allow: {e}"))?;
                config.allowed.get_or_insert_with(Vec::new).push(ip);
            }
            "--spelling" => config.spellings = spelling(&value()?)?,
            "--texts" => config.texts = texts(&value()?)?,
            "--require-api-version" => config.require_api_version = true,
            "--cert-name" => names.push(value()?),
            "--cert-out" => cert_out = Some(value()?),
            "--added-inactive" => config.added_active = false,
            "--fault" => config.faults.push(Fault::parse(&value()?)?),
            "--quiet" => quiet = true,
            "--demo" => demo = true,
            "--snmp-password-file" => {
                let file = value()?;
                let password = read_password(&file)?;
                if password.len() < 8 {
                    return Err(format!("{file}: an SNMPv3 password needs at least 8 characters"));
                }
                let file = std::fs::canonicalize(&file).map_or(file, |p| p.display().to_string());
                snmp_password = Some((file, password));
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    config.password = password.ok_or("--password-file is required")?;
    if !names.is_empty() {
        config.cert_names = names;
    }
    Ok(Args {
        config,
        cert_out,
        quiet,
        demo,
        snmp_password,
    })
}

/// Reads a password file as failoverd does: one trailing newline removed.
fn read_password(path: &str) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let text = text.strip_suffix('\n').unwrap_or(&text);
    Ok(text.strip_suffix('\r').unwrap_or(text).to_string())
}

fn spelling(value: &str) -> Result<Spellings, String> {
    match value {
        "sfos19" => Ok(Spellings::Sfos19),
        "sfos17" => Ok(Spellings::Sfos17),
        "either" => Ok(Spellings::Either),
        _ => Err(format!("--spelling {value:?}: sfos19, sfos17 or either")),
    }
}

fn texts(value: &str) -> Result<Texts, String> {
    match value {
        "seed" => Ok(Texts::Seed),
        "generic" => Ok(Texts::Generic),
        _ => Err(format!("texts {value:?}: seed or generic")),
    }
}
