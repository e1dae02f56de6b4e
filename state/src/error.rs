//! The error types of this crate: [`Error`] for reading and committing state,
//! [`ProofError`] for checking a [`crate::StateProof`].

use accord_types::Hash;

/// Result alias with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong reading or committing state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The underlying store failed (an I/O error in a disk-backed store).
    #[error("state store failed to {operation}: {reason}")]
    Store {
        /// What the store was doing: `"read"`, `"scan"`, `"write"`.
        operation: &'static str,
        /// The store's message.
        reason: String,
    },
    /// Bytes the tree needs are missing from the store or do not decode, or the tree
    /// does not agree with the stored values or root.
    #[error("corrupt state: {what} at raw key {key}: {reason}")]
    Corrupt {
        /// What was being read: `"tree page"`, `"state root"`, `"value"`.
        what: &'static str,
        /// The raw store key, `0x`-hex.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An application key is longer than [`crate::MAX_KEY_BYTES`].
    #[error("state key of {len} bytes is longer than the limit of {max}")]
    KeyTooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A value is longer than [`crate::MAX_VALUE_BYTES`].
    #[error("value of {len} bytes under key {key} is longer than the limit of {max}")]
    ValueTooLarge {
        /// The application key, `0x`-hex (the first 64 bytes).
        key: String,
        /// The value's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// `commit_layer` or `revert_layer` was called with no nested layer open.
    #[error("no nested overlay layer is open to {operation}")]
    NoOpenLayer {
        /// `"commit"` or `"revert"`.
        operation: &'static str,
    },
    /// Two different keys written in one commit hash to the same tree path (a blake3
    /// collision).
    #[error("two keys have the same tree path {path}")]
    PathCollision {
        /// The shared path.
        path: Hash,
    },
}

impl Error {
    /// Whether the stored state is unusable (as opposed to a store failure that may
    /// pass, or a caller's mistake).
    pub fn is_corruption(&self) -> bool {
        matches!(self, Self::Corrupt { .. })
    }

    pub(crate) fn corrupt(what: &'static str, raw_key: &[u8], reason: impl Into<String>) -> Self {
        Self::Corrupt {
            what,
            key: accord_types::codec::hex_encode(raw_key),
            reason: reason.into(),
        }
    }
}

/// Why a [`crate::StateProof`] does not show what it was checked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The proof is about another key.
    #[error("proof is for key {found}, not {expected}")]
    KeyMismatch {
        /// The key asked about, `0x`-hex (the first 64 bytes).
        expected: String,
        /// The key in the proof, `0x`-hex (the first 64 bytes).
        found: String,
    },
    /// The proof shows another value (or presence where absence was expected, or the
    /// reverse). Values are named by their hashes; `None` is absence.
    #[error("proof shows value {found:?}, not {expected:?}")]
    ValueMismatch {
        /// Hash of the value asked about.
        expected: Option<Hash>,
        /// Hash of the value in the proof.
        found: Option<Hash>,
    },
    /// The proof has more siblings than the tree has levels.
    #[error("proof has {depth} siblings, more than the {max} levels of the tree")]
    TooDeep {
        /// Number of siblings.
        depth: usize,
        /// The tree's depth.
        max: usize,
    },
    /// The proof is not well formed for its claim.
    #[error("malformed state proof: {reason}")]
    Malformed {
        /// What is wrong.
        reason: &'static str,
    },
    /// The proof's path hashes to another root.
    #[error("proof leads to root {computed}, not {expected}")]
    RootMismatch {
        /// The root checked against.
        expected: Hash,
        /// The root the proof leads to.
        computed: Hash,
    },
}

/// `0x`-hex of at most the first 64 bytes of `bytes`, with `…` when cut.
pub(crate) fn short_hex(bytes: &[u8]) -> String {
    const SHOWN: usize = 64;
    match bytes.get(..SHOWN) {
        Some(head) if bytes.len() > SHOWN => {
            let mut text = accord_types::codec::hex_encode(head);
            text.push('…');
            text
        }
        _ => accord_types::codec::hex_encode(bytes),
    }
}
