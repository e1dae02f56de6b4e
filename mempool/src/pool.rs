//! The pool itself: transactions by hash, by account and nonce, and in arrival order.

use std::collections::{BTreeMap, BTreeSet};

use accord_runtime::{check_transactions, CheckContext, CheckError, Error as RuntimeError, Query};
use accord_state::StateStore;
use accord_types::{ErrorCode, Hash, Nonce, PublicKey, Transaction};
use rayon::prelude::*;
use tracing::{debug, warn};

use super::admission::{self, Candidate, Item, Prepared};
use super::config::MempoolConfig;
use super::error::{AddError, Cap, ConfigError, Dropped};

/// Log target of the mempool.
const TARGET: &str = "accord::mempool";

/// A pooled transaction.
#[derive(Debug, Clone)]
struct Entry {
    tx: Transaction,
    /// Encoded size in bytes.
    size: usize,
    /// Arrival order: unique, increasing.
    seq: u64,
    /// The height of the block it was admitted for.
    admitted_at: u64,
    /// The height of the block it was last gossiped (or admitted) for.
    gossiped_at: u64,
}

/// Transactions waiting for a block, ordered per account by nonce.
///
/// See the [module documentation](super) for the admission pipeline, the ordering of
/// [`Mempool::reap`] and the invariants.
#[derive(Debug)]
pub struct Mempool {
    config: MempoolConfig,
    /// Every pooled transaction.
    entries: BTreeMap<Hash, Entry>,
    /// Per signer: nonce → hash. Never holds an empty inner map.
    accounts: BTreeMap<PublicKey, BTreeMap<u64, Hash>>,
    /// Sum of the pooled transactions' encoded sizes.
    bytes: usize,
    /// Sequence number of the next admitted transaction.
    next_seq: u64,
}

impl Mempool {
    /// An empty pool with the given limits.
    pub fn new(config: MempoolConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            config,
            entries: BTreeMap::new(),
            accounts: BTreeMap::new(),
            bytes: 0,
            next_seq: 0,
        })
    }

    /// The pool's limits.
    pub fn config(&self) -> &MempoolConfig {
        &self.config
    }

    /// Admits a batch of encoded transactions (from RPC or gossip). One result per input,
    /// in order: the hash of each admitted transaction, or why it was refused.
    ///
    /// `store` is the state after the last committed block and `ctx` describes the next
    /// block, as for [`Mempool::update`].
    pub fn add_raw<B: AsRef<[u8]>>(
        &mut self,
        store: &dyn StateStore,
        ctx: &CheckContext,
        raw: &[B],
    ) -> Vec<Result<Hash, AddError>> {
        let entries = &self.entries;
        let prepared = admission::prepare_raw_with(&self.config, store, ctx, raw, &|hash| {
            entries.contains_key(hash)
        });
        self.insert(store, ctx, prepared)
    }

    /// Admits a batch of decoded transactions; see [`Mempool::add_raw`].
    pub fn add(
        &mut self,
        store: &dyn StateStore,
        ctx: &CheckContext,
        txs: Vec<Transaction>,
    ) -> Vec<Result<Hash, AddError>> {
        let entries = &self.entries;
        let prepared = admission::prepare_with(&self.config, store, ctx, txs, &|hash| {
            entries.contains_key(hash)
        });
        self.insert(store, ctx, prepared)
    }

    /// Inserts a batch checked by [`super::prepare_raw`] or [`super::prepare`]: refuses
    /// duplicates, taken nonces, nonces beyond the account's window, and whatever would
    /// exceed a cap, in the batch's order. If `ctx` differs from the context the batch
    /// was prepared in (a block was committed meanwhile), its transactions are checked
    /// against the state again first.
    pub fn insert(
        &mut self,
        store: &dyn StateStore,
        ctx: &CheckContext,
        mut prepared: Prepared,
    ) -> Vec<Result<Hash, AddError>> {
        if prepared.ctx != *ctx {
            admission::check_state(store, ctx, &mut prepared.items);
        }
        let query = Query::new(store);
        let mut next_nonces: BTreeMap<PublicKey, u64> = BTreeMap::new();
        let mut results: Vec<Result<Hash, AddError>> = Vec::with_capacity(prepared.items.len());
        for item in prepared.items {
            let result = match item {
                Item::Rejected(error) => Err(error),
                Item::Copy { of, hash } => match results.get(of) {
                    Some(Err(error)) => Err(error.clone()),
                    Some(Ok(_)) | None => Err(AddError::Duplicate { hash }),
                },
                Item::Ready(candidate) => {
                    self.admit(&query, &mut next_nonces, *candidate, ctx.height.get())
                }
            };
            results.push(result);
        }
        let admitted = results.iter().filter(|r| r.is_ok()).count();
        debug!(
            target: TARGET,
            batch = results.len(),
            admitted,
            pooled = self.entries.len(),
            bytes = self.bytes,
            "batch admitted"
        );
        results
    }

    /// The pool-side rules for one checked transaction.
    fn admit(
        &mut self,
        query: &Query<'_>,
        next_nonces: &mut BTreeMap<PublicKey, u64>,
        candidate: Candidate,
        height: u64,
    ) -> Result<Hash, AddError> {
        let Candidate { tx, hash, size } = candidate;
        if self.entries.contains_key(&hash) {
            return Err(AddError::Duplicate { hash });
        }
        let signer = tx.signer;
        let nonce = tx.nonce.get();
        let pooled = self.accounts.get(&signer);
        if let Some(existing) = pooled.and_then(|nonces| nonces.get(&nonce)) {
            return Err(AddError::NonceTaken {
                signer,
                nonce,
                existing: *existing,
            });
        }
        let next = match next_nonces.get(&signer) {
            Some(next) => *next,
            None => {
                let next = state_nonce(query, &signer).map_err(|error| AddError::State {
                    message: error.to_string(),
                })?;
                next_nonces.insert(signer, next);
                next
            }
        };
        // The state check already judged the nonce; this holds if the state moved since.
        if nonce < next {
            return Err(AddError::Refused {
                code: ErrorCode::BadNonce,
                message: format!("nonce {nonce} but the account's next nonce is {next}"),
            });
        }
        if pooled.map_or(0, BTreeMap::len) >= self.config.max_per_account {
            return Err(AddError::AccountFull {
                signer,
                limit: self.config.max_per_account,
            });
        }
        let window = self.config.max_per_account;
        if nonce.saturating_sub(next) >= u64::try_from(window).unwrap_or(u64::MAX) {
            return Err(AddError::NonceTooFar {
                nonce,
                next,
                window,
            });
        }
        if self.entries.len() >= self.config.max_txs {
            return Err(AddError::Full {
                cap: Cap::Transactions,
                limit: self.config.max_txs,
            });
        }
        let bytes = match self.bytes.checked_add(size) {
            Some(bytes) if bytes <= self.config.max_bytes => bytes,
            _ => {
                return Err(AddError::Full {
                    cap: Cap::Bytes,
                    limit: self.config.max_bytes,
                })
            }
        };
        self.accounts.entry(signer).or_default().insert(nonce, hash);
        self.entries.insert(
            hash,
            Entry {
                tx,
                size,
                seq: self.next_seq,
                admitted_at: height,
                gossiped_at: height,
            },
        );
        self.next_seq = self.next_seq.saturating_add(1);
        self.bytes = bytes;
        Ok(hash)
    }

    /// Transactions for a block proposal: at most `max_txs` of them, whose encoded sizes
    /// add up to at most `max_bytes`.
    ///
    /// Only runnable transactions are returned: for each account, the consecutive run of
    /// pooled nonces starting at the account's next nonce in `store`. Accounts take turns
    /// (one transaction each per round, accounts within a round in the arrival order of
    /// the transaction they contribute), so a busy account cannot crowd out the others.
    /// An account whose next transaction does not fit in the remaining bytes contributes
    /// nothing further; smaller transactions of other accounts may still fill the space.
    /// The pool is not changed: transactions leave it through [`Mempool::update`].
    pub fn reap(
        &self,
        store: &dyn StateStore,
        max_txs: usize,
        max_bytes: usize,
    ) -> Result<Vec<Transaction>, RuntimeError> {
        let query = Query::new(store);
        let mut runs: Vec<Vec<&Entry>> = Vec::new();
        for (signer, nonces) in &self.accounts {
            let next = state_nonce(&query, signer)?;
            let run: Vec<&Entry> = runnable(nonces, next)
                .filter_map(|hash| self.entries.get(hash))
                .collect();
            if !run.is_empty() {
                runs.push(run);
            }
        }
        // (round, arrival of the account's transaction in that round, account)
        let mut turns: BTreeSet<(usize, u64, usize)> = runs
            .iter()
            .enumerate()
            .filter_map(|(account, run)| run.first().map(|entry| (0, entry.seq, account)))
            .collect();
        let mut out = Vec::new();
        let mut bytes = 0usize;
        while out.len() < max_txs {
            let Some((round, _, account)) = turns.pop_first() else {
                break;
            };
            let Some(run) = runs.get(account) else {
                continue;
            };
            let Some(entry) = run.get(round) else {
                continue;
            };
            match bytes.checked_add(entry.size) {
                Some(total) if total <= max_bytes => bytes = total,
                _ => continue,
            }
            out.push(entry.tx.clone());
            let later = round.saturating_add(1);
            if let Some(next) = run.get(later) {
                turns.insert((later, next.seq, account));
            }
        }
        Ok(out)
    }

    /// Brings the pool up to date after a committed block: removes the `committed`
    /// transactions (hashes not pooled are ignored), drops every transaction whose nonce
    /// the state has passed, and checks the rest against the new state
    /// (`accord_runtime::check_transaction` in `ctx`, the context of the next block),
    /// dropping those the rules now refuse.
    ///
    /// Returns every dropped transaction with its reason, in arrival order. A transaction
    /// the node cannot judge because its state cannot be read stays pooled (and is
    /// judged again on the next update).
    pub fn update(
        &mut self,
        store: &dyn StateStore,
        ctx: &CheckContext,
        committed: &[Hash],
    ) -> Vec<Dropped> {
        let removed = committed
            .iter()
            .filter(|hash| self.remove(hash).is_some())
            .count();
        let mut dropped: Vec<(u64, Dropped)> = Vec::new();

        // Nonces the state has moved past were used by other transactions.
        let query = Query::new(store);
        let mut used: Vec<(Hash, u64, u64)> = Vec::new();
        for (signer, nonces) in &self.accounts {
            match state_nonce(&query, signer) {
                Ok(next) => used.extend(
                    nonces
                        .range(..next)
                        .map(|(nonce, hash)| (*hash, *nonce, next)),
                ),
                Err(error) => warn!(
                    target: TARGET,
                    %signer,
                    %error,
                    "cannot read the account's nonce; its transactions stay pooled"
                ),
            }
        }
        for (hash, nonce, next) in used {
            if let Some(entry) = self.remove(&hash) {
                dropped.push((
                    entry.seq,
                    Dropped {
                        hash,
                        code: ErrorCode::BadNonce,
                        message: format!(
                            "nonce {nonce} was used by another transaction: the account's next nonce is now {next}"
                        ),
                    },
                ));
            }
        }

        // The rest, against the new state.
        let pooled: Vec<(&Hash, &Transaction)> = self
            .entries
            .iter()
            .map(|(hash, entry)| (hash, &entry.tx))
            .collect();
        let verdicts: Vec<(Hash, Result<(), CheckError>)> = pooled
            .par_chunks(admission::CHECK_CHUNK)
            .flat_map_iter(|chunk| {
                let txs: Vec<&Transaction> = chunk.iter().map(|(_, tx)| *tx).collect();
                chunk
                    .iter()
                    .map(|(hash, _)| **hash)
                    .zip(check_transactions(store, ctx, &txs))
                    .collect::<Vec<_>>()
            })
            .collect();
        for (hash, verdict) in verdicts {
            match verdict {
                Ok(()) => {}
                Err(CheckError::Refused(refusal)) => {
                    if let Some(entry) = self.remove(&hash) {
                        dropped.push((
                            entry.seq,
                            Dropped {
                                hash,
                                code: refusal.code,
                                message: refusal.message,
                            },
                        ));
                    }
                }
                Err(CheckError::State(error)) => warn!(
                    target: TARGET,
                    %hash,
                    %error,
                    "cannot check a pooled transaction; it stays pooled"
                ),
            }
        }

        // What has waited too long gets its answer.
        let height = ctx.height.get();
        let limit = self.config.max_pending_blocks;
        let expired: Vec<(Hash, u64, PublicKey, u64)> = self
            .entries
            .iter()
            .filter(|(_, entry)| height.saturating_sub(entry.admitted_at) > limit)
            .map(|(hash, entry)| (*hash, entry.seq, entry.tx.signer, entry.tx.nonce.get()))
            .collect();
        for (hash, seq, signer, nonce) in expired {
            let gap = match (self.accounts.get(&signer), state_nonce(&query, &signer)) {
                (Some(nonces), Ok(next)) => {
                    let run = runnable(nonces, next).count();
                    let first_missing = next.saturating_add(u64::try_from(run).unwrap_or(u64::MAX));
                    (nonce > first_missing).then_some(first_missing)
                }
                _ => None,
            };
            if self.remove(&hash).is_some() {
                let (code, message) = match gap {
                    Some(missing) => (
                        ErrorCode::BadNonce,
                        format!(
                            "nonce {nonce} waited {limit} blocks for the account's nonce {missing}, which never came"
                        ),
                    ),
                    None => (
                        ErrorCode::LimitExceeded,
                        format!("waited {limit} blocks without being included"),
                    ),
                };
                dropped.push((
                    seq,
                    Dropped {
                        hash,
                        code,
                        message,
                    },
                ));
            }
        }

        dropped.sort_by_key(|(seq, _)| *seq);
        debug!(
            target: TARGET,
            height = ctx.height.get(),
            committed = removed,
            dropped = dropped.len(),
            pooled = self.entries.len(),
            bytes = self.bytes,
            "pool updated"
        );
        dropped.into_iter().map(|(_, drop)| drop).collect()
    }

    /// Transactions to gossip again for the block at `height`: those not gossiped for
    /// [`MempoolConfig::regossip_blocks`], oldest first, at most `max`, each encoded.
    /// They count as gossiped at `height`.
    pub fn regossip(&mut self, height: u64, max: usize) -> Vec<Vec<u8>> {
        let every = self.config.regossip_blocks;
        let mut due: Vec<(u64, Hash)> = self
            .entries
            .iter()
            .filter(|(_, entry)| height.saturating_sub(entry.gossiped_at) >= every)
            .map(|(hash, entry)| (entry.seq, *hash))
            .collect();
        due.sort_unstable();
        due.truncate(max);
        due.into_iter()
            .filter_map(|(_, hash)| {
                let entry = self.entries.get_mut(&hash)?;
                entry.gossiped_at = height;
                Some(accord_types::codec::encode(&entry.tx))
            })
            .collect()
    }

    /// Every pooled transaction, encoded, in arrival order (what the journal keeps).
    pub fn encoded(&self) -> Vec<Vec<u8>> {
        let mut all: Vec<&Entry> = self.entries.values().collect();
        all.sort_unstable_by_key(|entry| entry.seq);
        all.into_iter()
            .map(|entry| accord_types::codec::encode(&entry.tx))
            .collect()
    }

    /// Whether a transaction is pooled.
    pub fn contains(&self, hash: &Hash) -> bool {
        self.entries.contains_key(hash)
    }

    /// A pooled transaction.
    pub fn get(&self, hash: &Hash) -> Option<&Transaction> {
        self.entries.get(hash).map(|entry| &entry.tx)
    }

    /// Number of pooled transactions.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the pool is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Sum of the pooled transactions' encoded sizes.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The nonce a new transaction of `account` should carry: its next nonce in `store`
    /// plus the consecutive run of its pooled transactions from there.
    pub fn pending_nonce(
        &self,
        store: &dyn StateStore,
        account: &PublicKey,
    ) -> Result<Nonce, RuntimeError> {
        let next = state_nonce(&Query::new(store), account)?;
        let run = self
            .accounts
            .get(account)
            .map_or(0, |nonces| runnable(nonces, next).count());
        Ok(Nonce(
            next.saturating_add(u64::try_from(run).unwrap_or(u64::MAX)),
        ))
    }

    /// Removes one transaction from every index.
    fn remove(&mut self, hash: &Hash) -> Option<Entry> {
        let entry = self.entries.remove(hash)?;
        let signer = entry.tx.signer;
        if let Some(nonces) = self.accounts.get_mut(&signer) {
            let nonce = entry.tx.nonce.get();
            if nonces.get(&nonce) == Some(hash) {
                nonces.remove(&nonce);
            }
            if nonces.is_empty() {
                self.accounts.remove(&signer);
            }
        }
        self.bytes = self.bytes.saturating_sub(entry.size);
        Some(entry)
    }

    /// Checks the indexes against each other; for tests.
    #[cfg(test)]
    pub(super) fn check_invariants(&self) {
        let mut by_account = 0;
        for (signer, nonces) in &self.accounts {
            assert!(!nonces.is_empty(), "empty account index for {signer}");
            for (nonce, hash) in nonces {
                let entry = self.entries.get(hash).expect("indexed hash is pooled");
                assert_eq!(entry.tx.signer, *signer);
                assert_eq!(entry.tx.nonce.get(), *nonce);
                by_account += 1;
            }
        }
        assert_eq!(by_account, self.entries.len(), "account index size");
        let bytes: usize = self.entries.values().map(|entry| entry.size).sum();
        assert_eq!(bytes, self.bytes, "byte count");
        for (hash, entry) in &self.entries {
            assert_eq!(entry.tx.hash(), *hash);
            assert_eq!(entry.size, entry.tx.encode().len());
        }
        assert!(self.entries.len() <= self.config.max_txs);
        assert!(self.bytes <= self.config.max_bytes);
        assert!(self
            .accounts
            .values()
            .all(|nonces| nonces.len() <= self.config.max_per_account));
    }
}

/// The account's next nonce in state.
fn state_nonce(query: &Query<'_>, account: &PublicKey) -> Result<u64, RuntimeError> {
    query.account(account).map(|view| view.nonce)
}

/// The hashes of the consecutive nonces `next, next + 1, …` in `nonces`.
fn runnable(nonces: &BTreeMap<u64, Hash>, next: u64) -> impl Iterator<Item = &Hash> + '_ {
    let mut expected = Some(next);
    nonces.range(next..).map_while(move |(nonce, hash)| {
        if Some(*nonce) == expected {
            expected = nonce.checked_add(1);
            Some(hash)
        } else {
            None
        }
    })
}
