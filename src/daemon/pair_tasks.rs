//! The shell's tasks for an active/standby pair (docs/ha.md): the role
//! watcher (netlink, `ha::watch`) and the reader of the peer's `/status`.
//! Both are owned: the watcher ends when its receiver is dropped, the
//! reader is aborted; both stop at shutdown, and a reload that changes
//! `[ha]` starts them again. They feed the core through `Core::role` and
//! `Core::peer`; they decide nothing.

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::config::settings::Ha;
use crate::ha::Role;
use crate::ha::peer::{self, PeerClient, PeerError, PeerStatus};

/// One read of the peer.
pub type PeerRead = Result<PeerStatus, PeerError>;

pub struct PairTasks {
    ha: Option<Ha>,
    role: Option<watch::Receiver<Role>>,
    reader: Option<JoinHandle<()>>,
    reads: mpsc::Sender<PeerRead>,
}

impl PairTasks {
    /// Nothing runs until [`PairTasks::apply`].
    pub fn new(reads: mpsc::Sender<PeerRead>) -> PairTasks {
        PairTasks {
            ha: None,
            role: None,
            reader: None,
            reads,
        }
    }

    /// Starts (or restarts) what `ha` asks for. Returns the watcher's first
    /// role when a new watcher started (the core must be told it).
    pub async fn apply(&mut self, ha: Option<&Ha>) -> Option<Role> {
        if self.ha.as_ref() == ha && (ha.is_none() || self.role.is_some()) {
            return None;
        }
        let address_changed = self.ha.as_ref().map(|h| h.address) != ha.map(|h| h.address);
        self.stop_reader();
        self.ha = ha.cloned();
        let Some(ha) = ha else {
            // [ha] removed: the watcher ends with its receiver.
            self.role = None;
            return None;
        };
        self.reader = Some(spawn_reader(ha.peer.clone(), self.reads.clone()));
        if !address_changed && self.role.is_some() {
            return None;
        }
        let mut rx = crate::ha::watch::start(ha.address).await;
        let first = rx.borrow_and_update().clone();
        self.role = Some(rx);
        Some(first)
    }

    /// The next role the watcher reports; never, without `[ha]`.
    pub async fn changed(&mut self) -> Role {
        if let Some(rx) = self.role.as_mut()
            && rx.changed().await.is_ok()
        {
            return rx.borrow_and_update().clone();
        }
        std::future::pending().await
    }

    fn stop_reader(&mut self) {
        if let Some(t) = self.reader.take() {
            t.abort();
        }
    }

    /// Shutdown: the reader is aborted, the watcher ends with its receiver.
    pub fn stop(&mut self) {
        self.stop_reader();
        self.role = None;
        self.ha = None;
    }
}

impl Drop for PairTasks {
    fn drop(&mut self) {
        self.stop_reader();
    }
}

/// Reads the peer every [`peer::EVERY`], each read at most
/// [`peer::TIMEOUT`], until aborted.
fn spawn_reader(url: String, tx: mpsc::Sender<PeerRead>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let client = PeerClient::new(&url, peer::TIMEOUT);
        loop {
            let read = match &client {
                Ok(c) => c.read().await,
                Err(e) => Err(PeerError::Unreachable(e.clone())),
            };
            if tx.send(read).await.is_err() {
                return;
            }
            tokio::time::sleep(peer::EVERY).await;
        }
    })
}
