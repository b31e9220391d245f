//! sfos-emulator: a stand-in for a Sophos Firewall's XML API, as far as
//! failoverd uses it (VPNFailoverGroup Set/Get, Active/DeActive, Get of
//! VPNIPSecConnection), behaving
//! as docs/firewall-api.md describes, with the uncertain points and misbehaviours
//! switchable. Tests start it in-process on port 0 and inspect what it
//! received; a person starts the `sfos-emulator` binary to try failoverd
//! without a firewall.
//!
//! This file owns the handle: start, addresses, certificate, inspection,
//! faults and shutdown.

pub mod api;
pub mod config;
pub mod group;
mod hostile;
pub mod ipsec;
pub mod record;
mod server;
mod tls;
pub mod tunnels;
pub mod xml;

pub use api::{ActionKind, GroupAction};
pub use config::{EmulatorConfig, FAULT_NAMES, Fault, Spellings, Texts};
pub use group::{Definition, Protocol};
pub use ipsec::IpsecConnection;
pub use record::{Outcome, Recorded, Transport};
pub use server::API_PATH;

use record::lock;
use server::Shared;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A running emulator. Dropping it stops the server (without waiting);
/// `shutdown` stops it and waits.
pub struct Emulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    identity: tls::Identity,
    ca_file: Mutex<Option<PathBuf>>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Emulator {
    /// Makes a certificate, binds `config.listen` and starts serving.
    pub async fn start(config: EmulatorConfig) -> Result<Emulator, String> {
        let identity = tls::generate(&config.cert_names)?;
        let acceptor = tls::acceptor(&identity)?;
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
        let addr = listener.local_addr().map_err(|e| format!("no local address: {e}"))?;
        let shared = Arc::new(Shared::new(config));
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(server::serve(listener, acceptor, shared.clone(), stopped));
        let ca_file = Mutex::new(None);
        Ok(Emulator {
            shared,
            addr,
            identity,
            ca_file,
            stop,
            task: Some(task),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The API's URL by IP address (an unspecified listen address becomes loopback).
    pub fn url(&self) -> String {
        let ip = match self.addr.ip() {
            ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_string(),
            ip if ip.is_unspecified() => "[::1]".to_string(),
            ip if ip.is_ipv6() => format!("[{ip}]"),
            ip => ip.to_string(),
        };
        format!("https://{ip}:{}{API_PATH}", self.addr.port())
    }

    /// The API's URL with another host name (e.g. `localhost`), same port.
    pub fn url_for(&self, host: &str) -> String {
        format!("https://{host}:{}{API_PATH}", self.addr.port())
    }

    /// The certificate's DER bytes.
    pub fn cert_der(&self) -> &[u8] {
        &self.identity.der
    }

    /// The certificate in PEM.
    pub fn cert_pem(&self) -> &str {
        &self.identity.pem
    }

    /// SHA-256 of the certificate's DER bytes (what `pin_sha256` holds).
    pub fn cert_sha256(&self) -> [u8; 32] {
        tls::sha256(&self.identity.der)
    }

    /// The same, as `AB:CD:...`.
    pub fn cert_fingerprint(&self) -> String {
        let hex: Vec<String> = self.cert_sha256().iter().map(|b| format!("{b:02X}")).collect();
        hex.join(":")
    }

    /// Writes the certificate to a PEM file (once) and returns its path,
    /// for `ca_file`. The file is removed when the emulator is dropped.
    pub fn ca_pem(&self) -> Result<PathBuf, String> {
        let mut slot = lock(&self.ca_file);
        if let Some(path) = slot.as_ref() {
            return Ok(path.clone());
        }
        let name = format!("sfos-emulator-{}-{}.pem", std::process::id(), self.addr.port());
        let path = std::env::temp_dir().join(name);
        std::fs::write(&path, &self.identity.pem).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        *slot = Some(path.clone());
        Ok(path)
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared.log).clone()
    }

    /// Forgets the requests received so far.
    pub fn clear_requests(&self) {
        lock(&self.shared.log).clear();
    }

    /// Switches a fault on; it replaces an active fault of the same kind.
    pub fn set_fault(&self, fault: Fault) {
        let mut faults = lock(&self.shared.faults);
        faults.retain(|f| !f.same_kind(&fault));
        faults.push(fault);
    }

    /// Switches every fault off.
    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    /// The faults now active.
    pub fn faults(&self) -> Vec<Fault> {
        lock(&self.shared.faults).clone()
    }

    /// Chooses the success texts from now on.
    pub fn set_texts(&self, texts: Texts) {
        *lock(&self.shared.texts) = texts;
    }

    /// Every group and whether it is active.
    pub fn groups(&self) -> BTreeMap<String, bool> {
        let state = lock(&self.shared.state);
        state.groups.iter().map(|(name, g)| (name.clone(), g.active)).collect()
    }

    /// Every group's definition as the emulator keeps it.
    pub fn definitions(&self) -> BTreeMap<String, Definition> {
        let state = lock(&self.shared.state);
        state
            .groups
            .iter()
            .map(|(name, g)| (name.clone(), g.definition.clone()))
            .collect()
    }

    /// Puts a group on the emulated firewall directly (test setup).
    pub fn add_group(&self, definition: Definition, active: bool) {
        let group = api::Group { definition, active };
        let mut state = lock(&self.shared.state);
        if let Some(t) = &state.tunnels {
            t.add_group(&group.definition.members, active);
        }
        state.groups.insert(group.definition.name.clone(), group);
    }

    /// Changes a group's definition behind failoverd's back, as an admin
    /// in the web admin would; false when there is no such group.
    pub fn edit_group(&self, name: &str, edit: impl FnOnce(&mut Definition)) -> bool {
        let mut state = lock(&self.shared.state);
        match state.groups.get_mut(name) {
            Some(g) => {
                edit(&mut g.definition);
                true
            }
            None => false,
        }
    }

    /// Deletes a group behind failoverd's back; false when there was none.
    pub fn remove_group(&self, name: &str) -> bool {
        lock(&self.shared.state).groups.remove(name).is_some()
    }

    /// Raw `<GroupDetail>` records every Get of the groups adds, as
    /// written (a duplicate, an unknown or a missing field); empty: none.
    pub fn set_extra_records(&self, records: Vec<String>) {
        lock(&self.shared.state).extra_records = records;
    }

    /// Serves this firewall's tunnel table through `tunnels` (an
    /// [`tunnels::SnmpAgent`]'s): a row for each group's members, set as
    /// the group's state says, and accepted pushes change them from now on.
    pub fn attach_tunnels(&self, tunnels: Arc<tunnels::Tunnels>) {
        let mut state = lock(&self.shared.state);
        for g in state.groups.values() {
            tunnels.add_group(&g.definition.members, g.active);
        }
        state.tunnels = Some(tunnels);
    }

    /// Puts an IPsec connection on the emulated firewall (test setup):
    /// `Get VPNIPSecConnection` shows it.
    pub fn add_connection(&self, connection: IpsecConnection) {
        lock(&self.shared.state)
            .connections
            .insert(connection.name.clone(), connection);
    }

    /// Requests for `group` being handled right now.
    pub fn in_flight(&self, group: &str) -> usize {
        self.shared.in_flight.current(group)
    }

    /// The most requests for `group` that were ever handled at once.
    pub fn max_in_flight(&self, group: &str) -> usize {
        self.shared.in_flight.max(group)
    }

    /// Waits until no request for `group` is being handled (a client that
    /// gave up on a hung request has closed its connection), at most
    /// `limit`; says whether it got there.
    pub async fn wait_idle(&self, group: &str, limit: std::time::Duration) -> bool {
        self.shared.in_flight.wait_idle(group, limit).await
    }

    /// TLS connections completed so far (a client that reuses its
    /// connection makes one for many requests).
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::Relaxed)
    }

    /// Bytes of hostile bodies (faults `endless`, `huge`, `truncated`,
    /// `not-xml`, `deep`) handed to connections so far.
    pub fn hostile_bytes_sent(&self) -> u64 {
        self.shared.hostile_bytes.load(Ordering::Relaxed)
    }

    /// A handle that can describe this emulator from another place (a
    /// test harness's timeout message) while the emulator runs.
    pub fn watcher(&self) -> Watcher {
        Watcher(self.shared.clone())
    }

    /// What the emulated firewall holds now, for a test's timeout message:
    /// see [`Watcher::describe`].
    pub fn describe(&self) -> String {
        self.watcher().describe()
    }

    /// Prints one line per request to stderr (never the XML).
    pub fn set_verbose(&self, on: bool) {
        self.shared.verbose.store(on, Ordering::Relaxed);
    }

    /// Stops serving: hung requests end, connections close; waits for it.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
        if let Some(path) = lock(&self.ca_file).take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A cheap handle on a running emulator's state, for describing it.
#[derive(Clone)]
pub struct Watcher(Arc<Shared>);

impl Watcher {
    /// The faults switched on, each group (active or not, requests for it
    /// in flight now) and the last requests with their outcomes: what a
    /// reader of a failed wait needs to know of the firewall's side.
    pub fn describe(&self) -> String {
        use std::fmt::Write;
        let shared = &self.0;
        let mut out = String::new();
        let faults = lock(&shared.faults).clone();
        let _ = writeln!(out, "faults on: {faults:?}");
        let groups: Vec<(String, bool)> = {
            let state = lock(&shared.state);
            state.groups.iter().map(|(n, g)| (n.clone(), g.active)).collect()
        };
        for (name, active) in groups {
            let state = if active { "active" } else { "inactive" };
            let now = shared.in_flight.current(&name);
            let _ = writeln!(out, "group {name}: {state}, {now} request(s) in flight now");
        }
        let log = lock(&shared.log).clone();
        let skip = log.len().saturating_sub(8);
        let _ = writeln!(out, "last {} of {} requests:", log.len() - skip, log.len());
        let now = std::time::SystemTime::now();
        for r in &log[skip..] {
            let ago = now.duration_since(r.at).unwrap_or_default().as_secs_f64();
            let actions: Vec<String> = r
                .actions
                .iter()
                .map(|a| {
                    format!(
                        "{:?} {}{}",
                        a.action,
                        a.group,
                        a.code.map(|c| format!(" code {c}")).unwrap_or_default()
                    )
                })
                .collect();
            let outcome = match &r.outcome {
                Outcome::Answered(_) => "answered".to_string(),
                other => format!("{other:?}"),
            };
            let _ = writeln!(
                out,
                "  {ago:.1} s ago from {}: [{}] {outcome}",
                r.peer,
                actions.join(", ")
            );
        }
        out
    }
}
