//! Transactions over gossip: batches out, admission in — tasks of their own, apart
//! from consensus.
//!
//! ```text
//!   RPC submission, re-gossip ──► [TxGossip queue] ──► one message per batch of up to
//!                                                      MAX_TXS_PER_MESSAGE (what queued
//!                                                      while the last one was published)
//!
//!   dispatch ──try_send──► [queue, GOSSIP_QUEUE] ──► messages, up to MAX_BATCH txs
//!                                                     │ spawn_blocking: decode, one batch
//!                                                     │ signature check on rayon, state check
//!                                                     │ (no lock held), then insert under the
//!                                                     │ pool's lock and journal the accepted
//!                                                     ▼
//!                                         verdict per message ──► p2p (forward or not)
//! ```
//!
//! A message of the transactions topic is a batch: the borsh encoding of a list of
//! encoded transactions, at most [`MAX_TXS_PER_MESSAGE`] of them, none over the
//! transaction size cap. Batches cut the per-message cost of gossip (framing,
//! encryption, ids, duplicate copies) and let every receiver check a batch's signatures
//! together. The verdict on a message: rejected (and its relayer penalized) when it does
//! not decode or holds a transaction that can never be valid — a bad signature, an
//! invalid payload, another chain — since an honest node forwards only batches it
//! checked; accepted (forwarded) when it brought the pool something new; otherwise
//! ignored.
//!
//! A peer flooding the topic fills the queue, and what does not fit is ignored (not
//! forwarded) at once: consensus never waits on a transaction.

use std::sync::Arc;

use accord_types::codec::MAX_TRANSACTION_BYTES;
use accord_types::{ChainId, ErrorCode, Hash, PublicKey};
use parking_lot::Mutex;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::{AddError, CheckContext, Journal, Mempool};
use crate::metrics::Metrics;
use crate::p2p::{MsgId, P2pHandle, Topic, Verdict};
use crate::status::SharedStatus;
use crate::storage::Storage;
use accord_mempool::prepare_raw_with;

/// Gossiped messages waiting for admission, at most.
pub const GOSSIP_QUEUE: usize = 4_096;
/// Transactions checked in one batch (their signatures are verified together); a
/// batch takes whole messages, so it may hold up to one message more.
pub const MAX_BATCH: usize = 256;
/// Transactions in one gossip message, at most.
pub const MAX_TXS_PER_MESSAGE: usize = 256;
/// Admitted transactions waiting to be gossiped, at most.
pub const OUTBOUND_QUEUE: usize = 8_192;
/// Framing of a batch: its count, and each transaction's length.
const BATCH_OVERHEAD: usize = 4;

/// One gossiped message of the transactions topic.
#[derive(Debug)]
pub struct GossipedTx {
    /// The peer that passed it on.
    pub from: PublicKey,
    /// Its gossip id, for the verdict.
    pub id: MsgId,
    /// Its bytes: a batch ([`decode_batch`]).
    pub data: Vec<u8>,
}

/// The message carrying `txs` (encoded transactions).
pub fn encode_batch(txs: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        BATCH_OVERHEAD
            + txs
                .iter()
                .map(|tx| tx.len() + BATCH_OVERHEAD)
                .sum::<usize>(),
    );
    out.extend_from_slice(&u32::try_from(txs.len()).unwrap_or(u32::MAX).to_le_bytes());
    for tx in txs {
        out.extend_from_slice(&u32::try_from(tx.len()).unwrap_or(u32::MAX).to_le_bytes());
        out.extend_from_slice(tx);
    }
    out
}

/// The encoded transactions of a message: 1 to [`MAX_TXS_PER_MESSAGE`] of them, none
/// empty or over [`MAX_TRANSACTION_BYTES`], nothing after the last; slices of `data`.
pub fn decode_batch(data: &[u8]) -> Result<Vec<&[u8]>, String> {
    let (count, mut rest) = split_len(data).ok_or("no transaction count")?;
    if count == 0 || count > MAX_TXS_PER_MESSAGE {
        return Err(format!(
            "{count} transactions in one message (1 to {MAX_TXS_PER_MESSAGE})"
        ));
    }
    let mut txs = Vec::with_capacity(count);
    for i in 0..count {
        let (len, after) = split_len(rest).ok_or_else(|| format!("transaction {i}: no length"))?;
        if len == 0 || len > MAX_TRANSACTION_BYTES {
            return Err(format!(
                "transaction {i}: {len} bytes (1 to {MAX_TRANSACTION_BYTES})"
            ));
        }
        let tx = after.get(..len).ok_or_else(|| {
            format!(
                "transaction {i}: {len} bytes announced, {} left",
                after.len()
            )
        })?;
        txs.push(tx);
        rest = after.get(len..).unwrap_or_default();
    }
    if !rest.is_empty() {
        return Err(format!("{} bytes after the last transaction", rest.len()));
    }
    Ok(txs)
}

/// A little-endian `u32` length and what follows it.
fn split_len(data: &[u8]) -> Option<(usize, &[u8])> {
    let (len, rest) = data.split_first_chunk::<4>()?;
    Some((usize::try_from(u32::from_le_bytes(*len)).ok()?, rest))
}

/// The verdict on a message from the verdicts on its transactions (see the module's
/// documentation).
pub fn message_verdict(verdicts: &[Verdict]) -> Verdict {
    if verdicts.contains(&Verdict::Reject) {
        Verdict::Reject
    } else if verdicts.contains(&Verdict::Accept) {
        Verdict::Accept
    } else {
        Verdict::Ignore
    }
}

/// Where admitted transactions are queued for gossip; a task publishes them in
/// batches, in the order they were queued.
#[derive(Clone)]
pub struct TxGossip {
    queue: mpsc::Sender<Vec<u8>>,
}

impl TxGossip {
    /// Starts the publishing task: each message carries what queued while the one
    /// before it was published (at most [`MAX_TXS_PER_MESSAGE`] transactions and
    /// `max_message_bytes`), so a lone transaction leaves at once and a busy node
    /// sends fewer, larger messages.
    pub fn spawn(p2p: P2pHandle, max_message_bytes: usize) -> Self {
        let (queue, rx) = mpsc::channel(OUTBOUND_QUEUE);
        tokio::spawn(publish_batches(p2p, rx, max_message_bytes));
        Self { queue }
    }

    /// Queues `tx` from a thread that may block (an RPC call's): waits while the queue
    /// is full, so one client's transactions leave in the order they were submitted.
    /// `false` when the task has stopped.
    pub fn queue_blocking(&self, tx: Vec<u8>) -> bool {
        self.queue.blocking_send(tx).is_ok()
    }

    /// Queues `tx` from async code; `false` when the queue is full or the task stopped
    /// (a pooled transaction is offered again after later blocks).
    pub fn offer(&self, tx: Vec<u8>) -> bool {
        self.queue.try_send(tx).is_ok()
    }
}

async fn publish_batches(p2p: P2pHandle, mut rx: mpsc::Receiver<Vec<u8>>, max_bytes: usize) {
    let mut carried: Option<Vec<u8>> = None;
    loop {
        let first = match carried.take() {
            Some(tx) => tx,
            None => match rx.recv().await {
                Some(tx) => tx,
                None => return,
            },
        };
        let mut bytes = BATCH_OVERHEAD * 2 + first.len();
        let mut batch = vec![first];
        while batch.len() < MAX_TXS_PER_MESSAGE {
            let Ok(next) = rx.try_recv() else { break };
            let size = BATCH_OVERHEAD + next.len();
            if bytes + size > max_bytes {
                carried = Some(next);
                break;
            }
            bytes += size;
            batch.push(next);
        }
        if let Err(error) = p2p.publish(Topic::Transactions, encode_batch(&batch)).await {
            debug!(%error, transactions = batch.len(), "transactions not gossiped yet");
        }
    }
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
            let mut messages = vec![first];
            while messages.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(next) => messages.push(next),
                    Err(_) => break,
                }
            }
            let admitting = Arc::clone(&this);
            let verdicts = match tokio::task::spawn_blocking(move || {
                let verdicts = admitting.admitter.admit_messages(&messages);
                (messages, verdicts)
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

    /// Admits the transactions of gossiped messages (one admission batch for all of
    /// them, at most [`MAX_BATCH`] transactions each); one verdict per message.
    pub fn admit_messages(&self, messages: &[GossipedTx]) -> Vec<Verdict> {
        let mut verdicts: Vec<Option<Verdict>> = Vec::with_capacity(messages.len());
        // The messages whose transactions are in `raw`: (index, how many).
        let mut pending: Vec<(usize, usize)> = Vec::new();
        let mut raw: Vec<&[u8]> = Vec::new();
        for (i, message) in messages.iter().enumerate() {
            match decode_batch(&message.data) {
                Ok(txs) => {
                    if raw.len() + txs.len() > MAX_BATCH && !raw.is_empty() {
                        self.settle(&raw, &mut pending, &mut verdicts);
                        raw.clear();
                    }
                    pending.push((i, txs.len()));
                    raw.extend(txs);
                    verdicts.push(None);
                }
                Err(error) => {
                    debug!(from = %message.from, %error, "undecodable transactions message");
                    verdicts.push(Some(Verdict::Reject));
                }
            }
        }
        if !raw.is_empty() {
            self.settle(&raw, &mut pending, &mut verdicts);
        }
        verdicts
            .into_iter()
            .map(|v| v.unwrap_or(Verdict::Ignore))
            .collect()
    }

    /// Admits `raw`, the transactions of the `pending` messages in order, and gives
    /// each of those messages its verdict.
    fn settle(
        &self,
        raw: &[&[u8]],
        pending: &mut Vec<(usize, usize)>,
        verdicts: &mut [Option<Verdict>],
    ) {
        let mut tx_verdicts = self.admit(raw).into_iter();
        for (i, count) in pending.drain(..) {
            let mine: Vec<Verdict> = tx_verdicts.by_ref().take(count).collect();
            if let Some(slot) = verdicts.get_mut(i) {
                *slot = Some(message_verdict(&mine));
            }
        }
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

    fn admitter(stores: &crate::test_support::Stores, chain_id: &ChainId) -> Admitter {
        Admitter {
            chain_id: chain_id.clone(),
            storage: Arc::clone(&stores.storage),
            mempool: Arc::clone(&stores.mempool),
            journal: stores.journal.clone(),
            status: Arc::clone(&stores.status),
        }
    }

    #[test]
    fn a_batch_gets_a_verdict_per_transaction_and_only_the_valid_enter_the_pool() {
        let stores = stores();
        let chain_id = test_utils::genesis().chain_id;
        let admitter = admitter(&stores, &chain_id);
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

    #[test]
    fn a_batch_round_trips_and_malformed_ones_are_refused() {
        let txs = vec![b"one".to_vec(), vec![7; 300], b"three".to_vec()];
        let data = encode_batch(&txs);
        let decoded = decode_batch(&data).unwrap();
        assert_eq!(decoded, [&b"one"[..], &[7; 300][..], &b"three"[..]]);

        let full: Vec<Vec<u8>> = (0..MAX_TXS_PER_MESSAGE)
            .map(|i| vec![1; i % 7 + 1])
            .collect();
        assert_eq!(
            decode_batch(&encode_batch(&full)).unwrap().len(),
            MAX_TXS_PER_MESSAGE
        );
        let mut over = full;
        over.push(b"one too many".to_vec());
        let refusals = [
            (Vec::new(), "no transaction count"),
            (encode_batch(&[]), "0 transactions"),
            (encode_batch(&over), "257 transactions"),
            (encode_batch(&[Vec::new()]), "transaction 0: 0 bytes"),
            (
                encode_batch(&[vec![0; MAX_TRANSACTION_BYTES + 1]]),
                "transaction 0: 65537 bytes",
            ),
            (
                data[..data.len() - 1].to_vec(),
                "transaction 2: 5 bytes announced, 4 left",
            ),
            (data[..data.len() - 7].to_vec(), "transaction 2: no length"),
            (
                [data.as_slice(), b"!"].concat(),
                "1 bytes after the last transaction",
            ),
            // A count far beyond what the bytes could hold is refused before anything
            // is allocated for it.
            (u32::MAX.to_le_bytes().to_vec(), "4294967295 transactions"),
        ];
        for (bytes, expected) in refusals {
            let error = decode_batch(&bytes).unwrap_err();
            assert!(
                error.contains(expected),
                "{error:?} does not say {expected:?}"
            );
        }
    }

    #[test]
    fn a_message_is_judged_by_its_transactions() {
        use Verdict::{Accept, Ignore, Reject};
        assert_eq!(message_verdict(&[Ignore, Accept, Ignore]), Accept);
        assert_eq!(message_verdict(&[Ignore, Ignore]), Ignore);
        assert_eq!(message_verdict(&[Accept, Reject, Accept]), Reject);
        assert_eq!(message_verdict(&[]), Ignore);
    }

    #[test]
    fn gossiped_messages_get_one_verdict_each_and_their_valid_transactions_are_pooled() {
        let stores = stores();
        let chain_id = test_utils::genesis().chain_id;
        let admitter = admitter(&stores, &chain_id);
        let from = test_utils::key("peer").public();
        let message = |txs: &[&Transaction]| GossipedTx {
            from,
            id: MsgId::of(b""),
            data: encode_batch(
                &txs.iter()
                    .map(|tx| accord_types::codec::encode(*tx))
                    .collect::<Vec<_>>(),
            ),
        };
        let (first, second, third) = (
            proposal(&chain_id, 0),
            proposal(&chain_id, 1),
            proposal(&chain_id, 2),
        );
        let mut forged = proposal(&chain_id, 3);
        forged.nonce = Nonce(4);
        let messages = [
            message(&[&first, &second]),
            // Nothing new: both are in the message before it.
            message(&[&second, &first]),
            // A forged signature beside a valid transaction.
            message(&[&third, &forged]),
            GossipedTx {
                from,
                id: MsgId::of(b""),
                data: b"garbage".to_vec(),
            },
        ];
        assert_eq!(
            admitter.admit_messages(&messages),
            [
                Verdict::Accept,
                Verdict::Ignore,
                Verdict::Reject,
                Verdict::Reject
            ]
        );
        let pool = stores.mempool.lock();
        for tx in [&first, &second, &third] {
            assert!(pool.contains(&tx.hash()));
        }
        assert!(!pool.contains(&forged.hash()));
        assert_eq!(pool.len(), 3);
    }
}
