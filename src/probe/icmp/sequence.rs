//! Identifiers and sequence numbers of echo requests, handed out so that no
//! two check streams can ever wait for the same reply.
//!
//! surge-ping matches a reply to its waiter by (host, identifier, sequence).
//! On a raw socket the identifier is ours, so each stream gets its own. On an
//! unprivileged datagram socket the kernel overwrites the identifier with one
//! per socket, so every stream on that socket shares it and only the sequence
//! number tells them apart (surge-ping issue #73). Each stream therefore also
//! leases its own block of the sequence space per (socket, host): blocks are
//! disjoint, so two streams to one host never use the same number, and a
//! stream only reuses a number after `BLOCK_LEN` of its own pings, long after
//! any late reply to the earlier use could arrive.

use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use surge_ping::{PingIdentifier, PingSequence};

/// Sequence numbers per block; the 16-bit space holds `BLOCKS` of them.
pub(super) const BLOCK_LEN: u16 = 256;
const BLOCKS: usize = 65536 / BLOCK_LEN as usize;

/// Next identifier for a new stream, process-wide: every client's raw socket
/// sees every echo reply on the host, so identifiers must be unique across
/// clients, not just within one. It starts at a random point so that two
/// failoverd processes (or a test run beside a daemon) rarely overlap.
static NEXT_IDENT: LazyLock<AtomicU16> = LazyLock::new(|| {
    let seed = RandomState::new().hash_one(std::process::id());
    AtomicU16::new(seed as u16)
});

/// A fresh identifier; unique among the last 65536 streams created.
pub(super) fn next_identifier() -> PingIdentifier {
    PingIdentifier(NEXT_IDENT.fetch_add(1, Ordering::Relaxed))
}

/// Which sequence blocks are leased, per key (a socket and a host).
pub(super) struct SequenceBlocks<K> {
    taken: Mutex<HashMap<K, BTreeSet<u16>>>,
}

impl<K> Default for SequenceBlocks<K> {
    fn default() -> Self {
        Self {
            taken: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Hash + Eq + Clone> SequenceBlocks<K> {
    /// Lease the lowest free block for `key`; `None` when all are leased,
    /// i.e. more than `BLOCKS` streams ping one host through one socket.
    pub(super) fn lease(self: &Arc<Self>, key: K) -> Option<Lease<K>> {
        let mut taken = self.taken.lock().unwrap_or_else(PoisonError::into_inner);
        let blocks = taken.entry(key.clone()).or_default();
        let block = (0..BLOCKS as u16).find(|b| !blocks.contains(b))?;
        blocks.insert(block);
        Some(Lease {
            owner: Arc::clone(self),
            key,
            block,
        })
    }

    fn release(&self, key: &K, block: u16) {
        let mut taken = self.taken.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(blocks) = taken.get_mut(key) {
            blocks.remove(&block);
            if blocks.is_empty() {
                taken.remove(key);
            }
        }
    }
}

/// One leased block; given back when dropped, so streams removed by a
/// reload free their numbers.
pub(super) struct Lease<K: Hash + Eq + Clone> {
    owner: Arc<SequenceBlocks<K>>,
    key: K,
    block: u16,
}

impl<K: Hash + Eq + Clone> Lease<K> {
    /// Whether this lease is for `key` in `blocks`.
    pub(super) fn is_for(&self, blocks: &Arc<SequenceBlocks<K>>, key: &K) -> bool {
        Arc::ptr_eq(&self.owner, blocks) && self.key == *key
    }

    /// The sequence number at `offset` (taken modulo the block length).
    pub(super) fn sequence(&self, offset: u16) -> PingSequence {
        PingSequence(self.block * BLOCK_LEN + offset % BLOCK_LEN)
    }
}

impl<K: Hash + Eq + Clone> Drop for Lease<K> {
    fn drop(&mut self) {
        self.owner.release(&self.key, self.block);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_disjoint_per_key_and_freed_on_drop() {
        let blocks = Arc::new(SequenceBlocks::<&str>::default());
        let a = blocks.lease("h1").unwrap();
        let b = blocks.lease("h1").unwrap();
        let other = blocks.lease("h2").unwrap();
        assert_eq!(a.sequence(0), PingSequence(0));
        assert_eq!(b.sequence(0), PingSequence(BLOCK_LEN));
        assert_eq!(other.sequence(0), PingSequence(0), "other host, own space");
        drop(a);
        let c = blocks.lease("h1").unwrap();
        assert_eq!(c.sequence(5), PingSequence(5), "freed block is reused");
    }

    #[test]
    fn offsets_wrap_inside_the_block() {
        let blocks = Arc::new(SequenceBlocks::<u8>::default());
        let _first = blocks.lease(1).unwrap();
        let second = blocks.lease(1).unwrap();
        assert_eq!(second.sequence(BLOCK_LEN), PingSequence(BLOCK_LEN));
        assert_eq!(second.sequence(BLOCK_LEN - 1), PingSequence(2 * BLOCK_LEN - 1));
    }

    #[test]
    fn space_runs_out_after_all_blocks() {
        let blocks = Arc::new(SequenceBlocks::<u8>::default());
        let leases: Vec<_> = (0..BLOCKS).map(|_| blocks.lease(0).unwrap()).collect();
        assert!(blocks.lease(0).is_none());
        let last = leases.last().unwrap().sequence(BLOCK_LEN - 1);
        assert_eq!(last, PingSequence(u16::MAX));
    }

    #[test]
    fn identifiers_differ() {
        assert_ne!(next_identifier(), next_identifier());
    }
}
