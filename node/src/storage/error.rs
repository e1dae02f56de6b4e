//! What can go wrong with the node's database.

use std::fmt;
use std::path::PathBuf;

use accord_types::{ChainId, Hash, Height};

/// Result alias with [`StorageError`].
pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// Everything that can go wrong opening, reading or writing the node's database.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// Another process holds the database's lock.
    #[error(
        "the database at {} is in use by another process ({reason}); stop the other \
         accord node using this data directory, or start this one with another data \
         directory",
        path.display()
    )]
    Locked {
        /// The database directory.
        path: PathBuf,
        /// RocksDB's message.
        reason: String,
    },
    /// RocksDB could not open the database.
    #[error(
        "cannot open the database at {}: {reason}; check that the directory is writable \
         by the node's user and that the disk is not full",
        path.display()
    )]
    Open {
        /// The database directory.
        path: PathBuf,
        /// RocksDB's message.
        reason: String,
    },
    /// A read or write failed in RocksDB.
    #[error("database {operation} failed: {reason}")]
    Database {
        /// What was being done, e.g. `"read of headers"`, `"write of block 12"`.
        operation: String,
        /// RocksDB's message.
        reason: String,
    },
    /// A stored value does not decode.
    #[error(
        "corrupt database: column family {cf}, key {key}: {reason}; restore the data \
         directory from a backup or resync the node into an empty one"
    )]
    Corrupt {
        /// The column family.
        cf: &'static str,
        /// The key, `0x`-hex.
        key: String,
        /// What is wrong with the value.
        reason: String,
    },
    /// The stored head, blocks, certificates and state disagree.
    #[error(
        "the database at {} is inconsistent: {detail}; the node will not run on it. \
         Restore the data directory from a backup or resync the node into an empty one",
        path.display()
    )]
    Inconsistent {
        /// The database directory.
        path: PathBuf,
        /// Exactly what disagrees, with heights and hashes.
        detail: String,
    },
    /// The database has no genesis yet.
    #[error(
        "the database at {} holds no chain yet; initialise it with the genesis first",
        path.display()
    )]
    NotInitialised {
        /// The database directory.
        path: PathBuf,
    },
    /// Genesis was written before.
    #[error("the database at {} already holds {stored}", path.display())]
    AlreadyInitialised {
        /// The database directory.
        path: PathBuf,
        /// The chain it holds.
        stored: ChainIdentity,
    },
    /// The genesis handed to [`super::Storage::init_genesis`] does not hold together.
    #[error("invalid genesis: {reason}")]
    InvalidGenesis {
        /// What is wrong.
        reason: String,
    },
    /// The database belongs to another chain than the one the node was started for.
    #[error(
        "the database at {} holds {stored}, but the node was started for {expected}; \
         point the node at the data directory of this chain, or at an empty one",
        path.display()
    )]
    WrongChain {
        /// The database directory.
        path: PathBuf,
        /// The chain the database holds.
        stored: Box<ChainIdentity>,
        /// The chain the node expects.
        expected: Box<ChainIdentity>,
    },
    /// A block that does not extend the stored head.
    #[error("block {found} cannot be committed: the next height is {expected}")]
    WrongHeight {
        /// The height that can be committed (head + 1).
        expected: Height,
        /// The block's height.
        found: Height,
    },
    /// A block whose parent is not the stored head.
    #[error(
        "block {height} cannot be committed: its parent is {found}, but the block at the \
         head is {expected}"
    )]
    WrongParent {
        /// The block's height.
        height: Height,
        /// The head's hash.
        expected: Hash,
        /// The block's parent hash.
        found: Hash,
    },
    /// A block, its certificate and its execution outcome do not belong together.
    #[error("block {height} cannot be committed: {what} is {found}, expected {expected}")]
    Mismatch {
        /// The block's height.
        height: Height,
        /// What differs, e.g. `"the certificate's block hash"`.
        what: &'static str,
        /// The value it should have.
        expected: String,
        /// The value it has.
        found: String,
    },
}

impl StorageError {
    /// Whether the stored data itself is unusable (corrupt or inconsistent), as opposed
    /// to a refused call, a lock or an I/O failure.
    pub fn is_corruption(&self) -> bool {
        matches!(self, Self::Corrupt { .. } | Self::Inconsistent { .. })
    }

    pub(crate) fn database(operation: impl Into<String>, error: &rocksdb::Error) -> Self {
        Self::Database {
            operation: operation.into(),
            reason: error.to_string(),
        }
    }
}

/// Which chain a database holds: its id and genesis hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainIdentity {
    /// The chain id.
    pub chain_id: ChainId,
    /// The genesis hash.
    pub genesis_hash: Hash,
}

impl fmt::Display for ChainIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "chain {} with genesis {}",
            self.chain_id, self.genesis_hash
        )
    }
}
