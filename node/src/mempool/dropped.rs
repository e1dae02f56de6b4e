//! Answers for transactions that left the pool without being finalized, kept for
//! clients asking after them (`chain_getTransaction`, `--wait`).

use std::collections::{BTreeMap, VecDeque};

use accord_types::{ErrorCode, Hash, Height};
use serde::Serialize;

/// Dropped-transaction answers kept for clients.
const MAX_DROPPED: usize = 100_000;

/// Why an accepted transaction left the pool without being finalized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DroppedTx {
    /// The error a client can act on.
    pub code: ErrorCode,
    /// Why.
    pub message: String,
    /// The height after which it was dropped.
    pub height: Height,
}

/// Answers for dropped transactions, by hash, shared with the RPC server.
#[derive(Debug, Default)]
pub struct DroppedLog {
    entries: BTreeMap<Hash, DroppedTx>,
    order: VecDeque<Hash>,
}

impl DroppedLog {
    /// Records an answer, forgetting the oldest beyond the cap.
    pub fn insert(&mut self, hash: Hash, dropped: DroppedTx) {
        if self.entries.insert(hash, dropped).is_none() {
            self.order.push_back(hash);
        }
        while self.order.len() > MAX_DROPPED {
            if let Some(old) = self.order.pop_front() {
                self.entries.remove(&old);
            }
        }
    }

    /// The answer for a transaction, if it was dropped.
    pub fn get(&self, hash: &Hash) -> Option<&DroppedTx> {
        self.entries.get(hash)
    }

    /// How many answers are kept.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no answer is kept.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dropped(height: u64) -> DroppedTx {
        DroppedTx {
            code: ErrorCode::BadNonce,
            message: "nonce used".into(),
            height: Height(height),
        }
    }

    #[test]
    fn the_log_keeps_the_latest_answers_up_to_its_cap() {
        let mut log = DroppedLog::default();
        for n in 0..(MAX_DROPPED as u64 + 10) {
            let mut bytes = [0u8; 32];
            bytes[..8].copy_from_slice(&n.to_le_bytes());
            log.insert(Hash::from_bytes(bytes), dropped(n));
        }
        assert_eq!(log.len(), MAX_DROPPED);
        assert!(
            log.get(&Hash::from_bytes([0; 32])).is_none(),
            "the oldest is forgotten"
        );
        let mut last = [0u8; 32];
        last[..8].copy_from_slice(&(MAX_DROPPED as u64 + 9).to_le_bytes());
        assert_eq!(
            log.get(&Hash::from_bytes(last)).map(|d| d.height),
            Some(Height(MAX_DROPPED as u64 + 9))
        );
    }

    #[test]
    fn a_second_answer_for_a_hash_replaces_the_first_without_growing_the_log() {
        let mut log = DroppedLog::default();
        let hash = Hash::from_bytes([7; 32]);
        log.insert(hash, dropped(1));
        log.insert(hash, dropped(2));
        assert_eq!(log.len(), 1);
        assert_eq!(log.get(&hash).map(|d| d.height), Some(Height(2)));
    }
}
