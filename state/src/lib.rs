//! Authenticated key-value state: the store trait, write overlays, and a sparse Merkle tree with proofs.
//!
//! # Design
//!
//! The runtime executes a block against a read-only [`StateView`] and collects its
//! writes in an [`Overlay`], one nested layer per transaction so a refused
//! transaction's writes can be dropped. [`Overlay::commit`] folds the writes into a new
//! state root and a [`WriteBatch`] of raw operations, which the node writes atomically
//! with the block; nothing here writes a store.
//!
//! ```text
//!   StateStore (RocksDB in the node, MemStore in tests)            raw, ordered
//!     │ 0x01‖key → value   0x02‖nibbles → tree page   0x03‖"root" → root
//!     ▼
//!   StateView ── get, scan_prefix, root, prove ──► StateProof ── verify(root, key, value)
//!     ▼
//!   Overlay ── put, delete, begin_layer / commit_layer / revert_layer
//!     │ commit: hash the touched keys, sort by path, rebuild only the pages on
//!     ▼         their paths (each once), delete pages left with one key
//!   Commit { root, batch: values + pages + root, touched }
//! ```
//!
//! The tree is a binary sparse Merkle tree over `path = H(key)` in which each leaf sits
//! at the shallowest depth where it is alone and empty subtrees hash to
//! [`EMPTY_ROOT`]; so the root depends on the key/value set only, never on the order
//! of writes. Leaves commit to the key's path and the value's hash. Four binary levels
//! are stored together as one page, so a commit touching `k` keys of `n` reads and
//! writes about `k · log16 n` pages and hashes about `k · log2 n` nodes. See [`tree`]
//! for the hashes and the page format.
//!
//! Commits of many keys hash them and update independent subtrees on the rayon
//! thread pool; the writes are gathered in a fixed order, so the result is the same
//! on any number of threads. Everything is deterministic: ordered maps, no clocks, no
//! randomness; the same writes give the same root and byte-identical batches.
//!
//! Keys are at most [`MAX_KEY_BYTES`] (1 KiB) and values at most [`MAX_VALUE_BYTES`]
//! (4 MiB); reads refuse longer keys and [`Overlay::commit`] refuses both. Stored pages
//! are decoded strictly, and a missing or malformed page, or a tree that disagrees with
//! the stored values or root, is an [`Error::Corrupt`], never a panic.
#![cfg_attr(
    not(test),
    warn(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod error;
mod limits;
pub mod overlay;
pub mod proof;
pub mod state;
pub mod store;
pub mod tree;
mod update;

pub use error::{Error, ProofError, Result};
pub use overlay::{Commit, Overlay};
pub use proof::{StateProof, Terminal, MAX_PROOF_BYTES};
pub use state::{
    value_key, StateView, MAX_KEY_BYTES, MAX_VALUE_BYTES, META_PREFIX, ROOT_KEY, TREE_PREFIX,
    VALUE_PREFIX,
};
pub use store::{MemStore, StateStore, WriteBatch};
pub use tree::EMPTY_ROOT;
