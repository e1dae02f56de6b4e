//! The stateless half of admission: decode, chain id, signatures (one batch), and the
//! runtime's stateful check, none of which touches the pool.
//!
//! [`prepare_raw`] and [`prepare`] take no pool, so a node may run them without holding
//! the pool's lock and then hand the [`Prepared`] batch to
//! [`super::Mempool::insert`], which does the cheap, order-dependent part (duplicates,
//! nonce slots, caps) under it.

use std::collections::BTreeMap;

use accord_runtime::{check_transactions, CheckContext, CheckError};
use accord_state::StateStore;
use accord_types::codec;
use accord_types::crypto::{verify_batch, SignedMessage};
use accord_types::{Error as TypesError, Hash, Transaction};
use rayon::prelude::*;

use super::config::MempoolConfig;
use super::error::AddError;

/// A transaction that passed every check that does not depend on the pool.
#[derive(Debug, Clone)]
pub(super) struct Candidate {
    pub(super) tx: Transaction,
    pub(super) hash: Hash,
    /// Encoded size in bytes.
    pub(super) size: usize,
}

/// Where one item of a batch stands.
#[derive(Debug, Clone)]
pub(super) enum Item {
    /// Refused already.
    Rejected(AddError),
    /// The same bytes as an earlier item of the batch (by index): it gets that item's
    /// verdict, or `Duplicate` if that one was admitted.
    Copy { of: usize, hash: Hash },
    /// Ready to be inserted.
    Ready(Box<Candidate>),
}

/// A batch checked against the chain id, signatures and state, ready for
/// [`super::Mempool::insert`]. Results come back in the batch's order.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The context the state checks were made in; if the pool's context has moved on by
    /// insertion (a block was committed), the candidates are checked again.
    pub(super) ctx: CheckContext,
    pub(super) items: Vec<Item>,
}

impl Prepared {
    /// Number of transactions in the batch.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// Checks a batch of encoded transactions (as they arrive from RPC or gossip): strict
/// decoding under [`MempoolConfig::max_tx_bytes`], chain id, signatures in one batch on
/// rayon, then `accord_runtime::check_transaction` against `store` for each survivor.
pub fn prepare_raw<B: AsRef<[u8]>>(
    config: &MempoolConfig,
    store: &dyn StateStore,
    ctx: &CheckContext,
    raw: &[B],
) -> Prepared {
    prepare_raw_with(config, store, ctx, raw, &|_| false)
}

/// Checks a batch of decoded transactions, as [`prepare_raw`] does after decoding (the
/// size cap applies to their encoding).
pub fn prepare(
    config: &MempoolConfig,
    store: &dyn StateStore,
    ctx: &CheckContext,
    txs: Vec<Transaction>,
) -> Prepared {
    prepare_with(config, store, ctx, txs, &|_| false)
}

/// [`prepare_raw`], refusing as duplicates the hashes `known` says are pooled (before
/// spending a signature check on them).
pub fn prepare_raw_with<B: AsRef<[u8]>>(
    config: &MempoolConfig,
    store: &dyn StateStore,
    ctx: &CheckContext,
    raw: &[B],
    known: &dyn Fn(&Hash) -> bool,
) -> Prepared {
    let limit = config.max_tx_bytes.min(codec::MAX_TRANSACTION_BYTES);
    let decoded = raw.iter().map(|bytes| {
        let bytes = bytes.as_ref();
        if bytes.len() > limit {
            return Err(AddError::TooLarge {
                size: bytes.len(),
                limit,
            });
        }
        codec::decode::<Transaction>("transaction", bytes, limit)
            .map(|tx| (tx, bytes.len()))
            .map_err(|error| decode_error(error, limit))
    });
    finish(store, ctx, decoded.collect(), known)
}

/// [`prepare`], refusing as duplicates the hashes `known` says are pooled.
pub(super) fn prepare_with(
    config: &MempoolConfig,
    store: &dyn StateStore,
    ctx: &CheckContext,
    txs: Vec<Transaction>,
    known: &dyn Fn(&Hash) -> bool,
) -> Prepared {
    let limit = config.max_tx_bytes.min(codec::MAX_TRANSACTION_BYTES);
    let sized = txs.into_iter().map(|tx| match borsh::object_length(&tx) {
        Ok(size) if size > limit => Err(AddError::TooLarge { size, limit }),
        Ok(size) => Ok((tx, size)),
        Err(error) => Err(AddError::Malformed {
            reason: error.to_string(),
        }),
    });
    finish(store, ctx, sized.collect(), known)
}

fn decode_error(error: TypesError, limit: usize) -> AddError {
    match error {
        TypesError::TooLarge { len, .. } => AddError::TooLarge { size: len, limit },
        other => AddError::Malformed {
            reason: other.to_string(),
        },
    }
}

/// Chain id, duplicates within the batch, signatures, then the state check.
fn finish(
    store: &dyn StateStore,
    ctx: &CheckContext,
    decoded: Vec<Result<(Transaction, usize), AddError>>,
    known: &dyn Fn(&Hash) -> bool,
) -> Prepared {
    let mut first_of: BTreeMap<Hash, usize> = BTreeMap::new();
    let mut items: Vec<Item> = Vec::with_capacity(decoded.len());
    for (index, result) in decoded.into_iter().enumerate() {
        let item = match result {
            Err(error) => Item::Rejected(error),
            Ok((tx, _)) if tx.chain_id != ctx.chain_id => Item::Rejected(AddError::WrongChain {
                expected: ctx.chain_id.clone(),
                found: tx.chain_id,
            }),
            Ok((tx, size)) => {
                let hash = tx.hash();
                if known(&hash) {
                    Item::Rejected(AddError::Duplicate { hash })
                } else if let Some(&of) = first_of.get(&hash) {
                    Item::Copy { of, hash }
                } else {
                    first_of.insert(hash, index);
                    Item::Ready(Box::new(Candidate { tx, hash, size }))
                }
            }
        };
        items.push(item);
    }
    verify_signatures(&mut items);
    check_state(store, ctx, &mut items);
    Prepared {
        ctx: ctx.clone(),
        items,
    }
}

/// Verifies every ready item's signature in one batch and rejects the failures.
fn verify_signatures(items: &mut [Item]) {
    let ready: Vec<(usize, &Candidate)> = items
        .iter()
        .enumerate()
        .filter_map(|(index, item)| match item {
            Item::Ready(candidate) => Some((index, candidate.as_ref())),
            _ => None,
        })
        .collect();
    if ready.is_empty() {
        return;
    }
    let messages: Vec<Vec<u8>> = ready
        .par_iter()
        .map(|(_, candidate)| candidate.tx.signing_bytes())
        .collect();
    let signed: Vec<SignedMessage<'_>> = ready
        .iter()
        .zip(&messages)
        .map(|((_, candidate), message)| SignedMessage {
            signer: &candidate.tx.signer,
            message,
            signature: &candidate.tx.signature,
        })
        .collect();
    let failed: Vec<usize> = match verify_batch(&signed) {
        Ok(()) => Vec::new(),
        Err(TypesError::BatchInvalid { invalid, .. }) => invalid
            .into_iter()
            .filter_map(|i| ready.get(i).map(|(index, _)| *index))
            .collect(),
        // `verify_batch` reports nothing else; should it ever, no item is trusted.
        Err(_) => ready.iter().map(|(index, _)| *index).collect(),
    };
    for index in failed {
        if let Some(item) = items.get_mut(index) {
            if let Item::Ready(candidate) = item {
                let signer = candidate.tx.signer;
                *item = Item::Rejected(AddError::BadSignature { signer });
            }
        }
    }
}

/// Transactions judged by one runtime check (they share its decoded records).
pub(super) const CHECK_CHUNK: usize = 64;

/// Runs the runtime's check on every ready item, chunks in parallel (the store is only
/// read).
pub(super) fn check_state(store: &dyn StateStore, ctx: &CheckContext, items: &mut [Item]) {
    items.par_chunks_mut(CHECK_CHUNK).for_each(|chunk| {
        let (at, txs): (Vec<usize>, Vec<&Transaction>) = chunk
            .iter()
            .enumerate()
            .filter_map(|(i, item)| match item {
                Item::Ready(candidate) => Some((i, &candidate.tx)),
                _ => None,
            })
            .unzip();
        let refused: Vec<(usize, AddError)> = at
            .into_iter()
            .zip(check_transactions(store, ctx, &txs))
            .filter_map(|(i, verdict)| verdict.err().map(|error| (i, check_error(error))))
            .collect();
        for (i, error) in refused {
            if let Some(item) = chunk.get_mut(i) {
                *item = Item::Rejected(error);
            }
        }
    });
}

pub(super) fn check_error(error: CheckError) -> AddError {
    match error {
        CheckError::Refused(refusal) => AddError::Refused {
            code: refusal.code,
            message: refusal.message,
        },
        CheckError::State(error) => AddError::State {
            message: error.to_string(),
        },
    }
}
