//! Admission of gossiped transactions: a task of its own, apart from consensus.
//!
//! ```text
//!   dispatch ──try_send──► [queue, GOSSIP_QUEUE] ──► batch of up to MAX_BATCH
//!                                                     │ spawn_blocking: decode, one batch
//!                                                     │ signature check on rayon, state check
//!                                                     │ (no lock held), then insert under the
//!                                                     │ pool's lock and journal the accepted
//!                                                     ▼
//!                                         verdict per message ──► p2p (forward or not)
//! ```
//!
//! A peer flooding the topic fills the queue, and what does not fit is ignored (not
//! forwarded) at once: consensus never waits on a transaction.

use std::sync::Arc;

use accord_types::{ChainId, ErrorCode, Hash, PublicKey};
use parking_lot::Mutex;
use tokio::sync::mpsc;
use tracing::warn;

use super::admission::prepare_raw_with;
use super::{AddError, CheckContext, Journal, Mempool};
use crate::metrics::Metrics;
use crate::p2p::{MsgId, P2pHandle, Verdict};
use crate::status::SharedStatus;
use crate::storage::Storage;

/// Gossiped transactions waiting for admission, at most.
pub const GOSSIP_QUEUE: usize = 4_096;
/// Transactions checked in one batch (their signatures are verified together).
pub const MAX_BATCH: usize = 256;

/// One gossiped transaction.
#[derive(Debug)]
pub struct GossipedTx {
    /// The peer that passed it on.
    pub from: PublicKey,
    /// Its gossip id, for the verdict.
    pub id: MsgId,
    /// Its bytes.
    pub data: Vec<u8>,
}

/// What the admission task runs with.
pub struct GossipAdmission {
    /// The pool and what it checks against.
    pub admitter: Admitter,
    /// Where verdicts go.
    pub p2p: P2pHandle,
    /// Gossip verdict counts.
    pub metrics: Arc<Metrics>,
}

/// Admits gossiped transactions into the pool (blocking work: call it off the runtime).
pub struct Admitter {
    /// The chain.
    pub chain_id: ChainId,
    /// The database (the head's state).
    pub storage: Arc<Storage>,
    /// The pool.
    pub mempool: Arc<Mutex<Mempool>>,
    /// The pool's journal.
    pub journal: Journal,
    /// The head the pool checks against.
    pub status: SharedStatus,
}

/// The verdict on a transaction the pool refused: nobody should forward what can never
/// be valid; what may be valid elsewhere (a nonce gap, a full pool, a duplicate) is
/// ignored.
pub fn verdict_on(error: &AddError) -> Verdict {
    match error.code() {
        Some(ErrorCode::BadSignature | ErrorCode::InvalidPayload | ErrorCode::WrongChain) => {
            Verdict::Reject
        }
        _ => Verdict::Ignore,
    }
}

/// The label of a verdict in the gossip metrics.
pub fn verdict_label(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Accept => "accepted",
        Verdict::Ignore => "ignored",
        Verdict::Reject => "rejected",
    }
}

impl GossipAdmission {
    /// Starts the task; it ends when every sender is dropped.
    pub fn spawn(self) -> mpsc::Sender<GossipedTx> {
        let (tx, rx) = mpsc::channel(GOSSIP_QUEUE);
        tokio::spawn(self.run(rx));
        tx
    }

    async fn run(self, mut rx: mpsc::Receiver<GossipedTx>) {
        let this = Arc::new(self);
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            let admitting = Arc::clone(&this);
            let verdicts = match tokio::task::spawn_blocking(move || {
                let raw: Vec<&[u8]> = batch.iter().map(|m| m.data.as_slice()).collect();
                let verdicts = admitting.admitter.admit(&raw);
                (batch, verdicts)
            })
            .await
            {
                Ok(done) => done,
                Err(error) => {
                    warn!(%error, "gossiped transactions were not admitted");
                    continue;
                }
            };
            for (message, verdict) in verdicts.0.iter().zip(verdicts.1) {
                this.metrics.gossip("transactions", verdict_label(verdict));
                this.p2p.report(message.id, message.from, verdict);
            }
        }
    }
}

impl Admitter {
    /// The context of the block after the head.
    fn context(&self) -> CheckContext {
        let status = self.status.read();
        CheckContext {
            chain_id: self.chain_id.clone(),
            height: status.height.saturating_add(1),
            timestamp: status.timestamp,
        }
    }

    /// Checks a batch without holding the pool's lock, then inserts it under the lock
    /// and journals what it accepted; one result per transaction, in order. RPC
    /// submissions come in here too.
    pub fn add(&self, raw: &[&[u8]]) -> Vec<Result<Hash, AddError>> {
        let ctx = self.context();
        let store = self.storage.state_store();
        let config = self.mempool.lock().config().clone();
        let prepared = prepare_raw_with(&config, &store, &ctx, raw, &|hash| {
            self.mempool.lock().contains(hash)
        });
        // The head may have moved while the batch was checked: the pool checks the
        // state again then.
        let ctx = self.context();
        let store = self.storage.state_store();
        let results = self.mempool.lock().insert(&store, &ctx, prepared);
        for (result, bytes) in results.iter().zip(raw) {
            if result.is_ok() {
                self.journal.append(bytes.to_vec());
            }
        }
        results
    }

    /// [`Admitter::add`], answered as gossip verdicts.
    pub fn admit(&self, raw: &[&[u8]]) -> Vec<Verdict> {
        self.add(raw)
            .iter()
            .map(|result| match result {
                Ok(_) => Verdict::Accept,
                Err(error) => verdict_on(error),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use accord_runtime::test_utils;
    use accord_types::{ChainId, Nonce, Payload, Transaction};

    use super::*;
    use crate::test_support::stores;

    fn proposal(chain_id: &ChainId, nonce: u64) -> Transaction {
        let draft = test_utils::draft(&["eu"], test_utils::documentation("guide.md"));
        Transaction::sign(
            &test_utils::key("author"),
            chain_id.clone(),
            Nonce(nonce),
            Payload::SubmitProposal {
                draft: Box::new(draft),
            },
        )
    }

    #[test]
    fn a_batch_gets_a_verdict_per_transaction_and_only_the_valid_enter_the_pool() {
        let stores = stores();
        let chain_id = test_utils::genesis().chain_id;
        let admitter = Admitter {
            chain_id: chain_id.clone(),
            storage: Arc::clone(&stores.storage),
            mempool: Arc::clone(&stores.mempool),
            journal: stores.journal.clone(),
            status: Arc::clone(&stores.status),
        };
        let valid = proposal(&chain_id, 0);
        let valid_bytes = accord_types::codec::encode(&valid);
        let foreign = proposal(&ChainId::new("another-chain").unwrap(), 0);
        let mut forged = valid_bytes.clone();
        let last = forged.len() - 1;
        forged[last] ^= 1;
        let gap = proposal(&chain_id, 5);
        let batch: Vec<Vec<u8>> = vec![
            valid_bytes.clone(),
            b"not a transaction".to_vec(),
            accord_types::codec::encode(&foreign),
            forged,
            valid_bytes.clone(),
            accord_types::codec::encode(&gap),
        ];
        let raw: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
        let verdicts = admitter.admit(&raw);
        assert_eq!(
            verdicts,
            [
                Verdict::Accept,
                // Never valid anywhere: not forwarded, the relaying peer penalized.
                Verdict::Reject,
                Verdict::Reject,
                Verdict::Reject,
                // A duplicate is not forwarded, but nothing is wrong with it.
                Verdict::Ignore,
                // Held back behind its nonce gap: pooled, and forwarded.
                Verdict::Accept,
            ]
        );
        let pool = stores.mempool.lock();
        assert!(pool.contains(&valid.hash()));
        assert!(pool.contains(&gap.hash()));
        assert_eq!(pool.len(), 2);
        drop(pool);
        // The same transaction gossiped again later is a duplicate.
        assert_eq!(admitter.admit(&[valid_bytes.as_slice()]), [Verdict::Ignore]);
    }
}
