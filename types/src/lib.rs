//! The vocabulary every accord crate shares: hashes, keys, transactions, blocks, votes, certificates, receipts and events.
//!
//! # Design
//!
//! Everything here is plain data plus the pure functions that belong to it: hashing,
//! signing, verification, Merkle roots and strict decoding. The crate does no I/O,
//! so every other crate — the deterministic runtime, the sans-IO consensus engine,
//! the node, the deploy agent — can depend on it without pulling in a network or a
//! database.
//!
//! ```text
//!            bytes from the network or disk
//!                         │  codec::decode (size cap, no trailing bytes)
//!                         ▼
//!   Transaction ──► Block{Header, txs, evidence, last_commit} ──► Receipt{events}
//!        │ signed over                │ hashed with          ▲
//!        │ domain ‖ chain id ‖ nonce  │ merkle roots         │ receipts root
//!        ▼ ‖ payload                  ▼                      │
//!   crypto::verify / verify_batch   Vote ──► CommitCertificate ──► verify against ValidatorSet
//! ```
//!
//! Signatures follow ZIP-215 (cofactored verification, canonical `s`, non-canonical
//! point encodings accepted), through `ed25519-zebra` (on curve25519-dalek 4, whose
//! AVX2 field arithmetic it picks at run time) for both single and batch verification,
//! so a signature is accepted or refused the same way by every node whichever path
//! checked it. Keys and signing use `ed25519-dalek`.
//!
//! Every encoding is borsh. Every hash is blake3 over a length-prefixed domain tag
//! followed by the data, so no two kinds of object can share a hash.
#![cfg_attr(
    not(test),
    warn(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod block;
pub mod codec;
pub mod consensus;
pub mod crypto;
pub mod error;
pub mod governance;
pub mod hash;
pub mod ids;
pub mod merkle;
pub mod params;
pub mod receipt;
pub mod tx;
pub mod validator;

#[cfg(any(test, feature = "test-utils"))]
pub mod test_utils;

pub use block::{Block, Header};
pub use consensus::{
    CommitCertificate, CommitSignature, ConsensusProposal, Evidence, Vote, VoteType,
};
pub use crypto::{Keypair, PublicKey, Signature};
pub use error::{Error, Result};
pub use hash::{Domain, Hash};
pub use ids::{ChainId, Height, Nonce, ProposalId, RegionId, Round, Timestamp};
pub use receipt::{ErrorCode, Event, EventCursor, Outcome, Receipt, ReceiptSource};
pub use tx::{Payload, Transaction};
pub use validator::{QuorumRule, Validator, ValidatorSet};
