//! The pool of signed transactions waiting for a block, checked on admission, ordered
//! by nonce per account, and re-checked after every committed block.
//!
//! # Design
//!
//! A synchronous, deterministic data structure; the node (`accord-node`) wraps it in a
//! mutex, journals what it admits and gossips it. The only
//! parallelism is rayon inside a call (signature batches and state checks), whose
//! results are gathered in a fixed order, so the same calls give the same pool.
//!
//! ```text
//!  bytes (RPC, gossip) ─┐
//!                       ├─ prepare ─────────────────────────────── no pool needed
//!  decoded txs ─────────┘   size cap ─ strict decode ─ chain id ─ duplicate in batch
//!                           ─ signatures (one batch, rayon) ─ check_transaction (rayon)
//!                       ▼
//!                    insert ────────────────────────────────────── in batch order
//!                           duplicate in pool ─ nonce taken ─ nonce window
//!                           ─ per-account cap ─ max_txs ─ max_bytes ──► Ok(hash)
//!                       ▼
//!   ┌──────────── Mempool ─────────────┐
//!   │ by hash:     Hash → (tx, size, arrival)
//!   │ by account:  signer → nonce → Hash
//!   └──────────────────────────────────┘
//!        │ reap(store, max_txs, max_bytes): runnable runs, accounts take turns
//!        ▼
//!   block proposal ── consensus ── commit ──► update(store, ctx, committed)
//!                                             remove committed ─ drop used nonces
//!                                             ─ check_transaction the rest ──► Vec<Dropped>
//! ```
//!
//! **Admission** ([`Mempool::add_raw`], [`Mempool::add`]) answers every item of a batch
//! in order: its hash, or an [`AddError`] whose text is meant for the client and whose
//! [`AddError::code`] is an [`accord_types::ErrorCode`] where one fits. The expensive,
//! pool-independent part is split out as [`prepare_raw`] / [`prepare`], so a node may
//! run it without holding the pool's lock and finish with [`Mempool::insert`]; if a
//! block is committed in between, `insert` notices the changed [`CheckContext`] and
//! checks the batch against the new state again. Pooled hashes are refused before their
//! signatures are checked, so gossip echoes cost a hash, not a verification.
//!
//! **Nonces.** `accord_runtime::check_transaction` accepts any nonce at or above the
//! account's next nonce; the pool keeps each account's transactions by nonce, refuses a
//! second transaction for a nonce it holds (no replacement), and refuses nonces more than
//! `max_per_account - 1` ahead of the account's next nonce (beyond that window a
//! transaction could not become runnable while the account's slots are full).
//!
//! **Reaping** ([`Mempool::reap`]) returns only runnable transactions: per account, the
//! consecutive nonces from the account's next nonce in state, since the runtime requires
//! each transaction of a block to carry exactly the next nonce. A gap holds back the
//! account's later transactions until it is filled. Accounts take turns — round `r`
//! takes every account's `r`-th runnable transaction, in the arrival order of those
//! transactions — within the caller's count and byte caps.
//!
//! **After a block** ([`Mempool::update`]) the committed transactions leave the pool;
//! transactions whose nonce the state has passed are dropped (`BadNonce`: another
//! transaction used it), and the rest are checked against the new state, dropping
//! those the rules now refuse with the runtime's code (a vote on a proposal whose voting
//! closed gets `InvalidStatus`).
//!
//! # Invariants
//!
//! - Every admitted transaction leaves the pool only through `update`: committed (its
//!   hash was passed in), or returned as a [`Dropped`] with a code and message. Nothing
//!   disappears silently.
//! - At most one pooled transaction per (signer, nonce); each is indexed by hash and by
//!   account, and the byte count is the sum of the pooled encodings.
//! - The pool never holds more than `max_txs` transactions, `max_bytes` bytes, or
//!   `max_per_account` transactions of one signer.
//! - A transaction whose state check fails because the store cannot be read is neither
//!   admitted (`AddError::State`) nor dropped (it stays pooled until a later update can
//!   judge it).

#![cfg_attr(
    not(test),
    warn(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod admission;
mod config;
mod error;
mod pool;

#[cfg(test)]
mod tests;

pub use accord_runtime::CheckContext;
pub use admission::{prepare, prepare_raw, prepare_raw_with, Prepared};
pub use config::MempoolConfig;
pub use error::{AddError, Cap, ConfigError, Dropped};
pub use pool::Mempool;
