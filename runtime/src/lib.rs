//! The deterministic governance state machine: transactions in, state, receipts and events out.
//!
//! # Design
//!
//! ```text
//!   StateStore (RocksDB in the node, MemStore in tests)      read only
//!        │
//!   StateView ──► Overlay ──► Db (typed records, keys::*) ──► Exec
//!                   ▲  one nested layer per transaction:          │ handlers: submit, vote,
//!                   │  a refused transaction is reverted          │ cancel, execute, claim,
//!                   │  and only its nonce moves                   │ report, ratify
//!                   │                                             │ end of block: evidence,
//!                   │                                             │ timers, queue
//!                   └── commit: state root + raw WriteBatch ◄─────┘
//! ```
//!
//! [`execute_block`] never writes the store: it returns a [`BlockOutcome`] with the
//! state root, one receipt per transaction plus one for the end-of-block step, and the
//! raw write batch, which the node applies atomically with the block. Proposers execute
//! a block before proposing it (headers carry post-execution roots); validators execute
//! it again to check the roots, and both discard or keep the batch. [`chain`] holds
//! the block rules around that: building a block to propose, and checking a proposed,
//! fetched or synced one (header, limits, parent certificate, evidence, then the roots
//! of its execution).
//!
//! The governance process (`../shared/DESIGN.md`): proposals of four kinds, plus
//! governance changes, open voting in every affected region with the region's voter
//! list snapshotted; voting closes at a fixed height in the end-of-block step, where a
//! veto in any region wins, then a missing quorum (expired), then a rejection; only
//! approval in every region approves. Approved proposals queue for the enactment delay,
//! their dependencies and freeze windows, then agents of each region claim, run and
//! report every phase; one failure fails the proposal and asks the regions that applied
//! it to roll back. Emergencies execute at once and are ratified afterwards.
//! Governance changes take effect in the state itself; every other kind (pipeline
//! actions, infrastructure, documentation and roadmap changes) is run by agents; validator-set
//! updates take effect [`VALIDATOR_CHANGE_DELAY`] heights after approval and are
//! returned in the outcome.
//!
//! Determinism is mechanical: ordered maps only, integers only (fractions are basis
//! points compared in `u128`), the block's timestamp as the only clock, no randomness;
//! `clippy.toml` in this crate forbids the types and methods that would break it.

#![cfg_attr(
    not(test),
    warn(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod chain;
mod db;
pub mod delivery;
pub mod error;
pub(crate) mod exec;
mod genesis;
pub mod keys;
mod query;
pub mod records;
pub mod rules;
pub mod validate;

pub use error::{Error, Result, TxError};
pub use exec::end_block::VALIDATOR_CHANGE_DELAY;
pub use exec::execution::{idempotency_key, rollback_key};
pub use exec::{
    check_transaction, check_transactions, execute_block, BlockContext, BlockOutcome, CheckContext,
    CheckError, SignatureCheck, ValidatorUpdate,
};
pub use genesis::Genesis;
pub use query::{AccountView, ProposalView, Query};
pub use validate::payload_digest;

#[cfg(any(test, feature = "test-utils"))]
pub mod test_utils;
