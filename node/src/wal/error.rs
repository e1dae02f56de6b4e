//! What can go wrong with the consensus log.

use std::io;
use std::path::PathBuf;

/// Result alias with [`WalError`].
pub type Result<T, E = WalError> = std::result::Result<T, E>;

/// Everything that can go wrong opening, appending to or pruning the consensus log.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    /// A file-system operation failed.
    #[error("consensus log {}: cannot {operation}: {source}", path.display())]
    Io {
        /// The log file.
        path: PathBuf,
        /// What was being done: `"open"`, `"read"`, `"append to"`, `"sync"`…
        operation: &'static str,
        /// The operating system's error.
        source: io::Error,
    },
    /// Damage before the last record: intact records follow a bad one, so this is not a
    /// write cut short by a crash, and dropping the rest would lose inputs the node
    /// acted on.
    #[error(
        "consensus log {} is corrupt at byte {offset}: {reason}. The node will not start \
         on it. To recover, move the file aside (`mv {} {}.corrupt`) and start again: the \
         node then resumes from its stored blocks with an empty log, and the signer state \
         still prevents it from signing anything twice",
        path.display(), path.display(), path.display()
    )]
    Corrupt {
        /// The log file.
        path: PathBuf,
        /// Byte offset of the damaged record (or 0 for a bad file header).
        offset: u64,
        /// What is wrong there.
        reason: String,
    },
    /// The file is a consensus log of a format version this node does not read.
    #[error(
        "consensus log {} has format version {found}, but this node reads version \
         {supported}; run the node version that wrote it, or move the file aside",
        path.display()
    )]
    UnsupportedVersion {
        /// The log file.
        path: PathBuf,
        /// The version in the file header.
        found: u32,
        /// The version this node writes and reads.
        supported: u32,
    },
    /// A payload larger than the record cap.
    #[error("consensus log record of {len} bytes exceeds the limit of {max} bytes")]
    RecordTooLarge {
        /// The payload's length.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// An empty payload: it would be indistinguishable from a zero-filled tail.
    #[error("consensus log records must not be empty")]
    EmptyRecord,
    /// An earlier write or sync failed, so what reached the disk is unknown; the log
    /// refuses further use until the node restarts and recovers it from the file.
    #[error(
        "consensus log {} failed earlier and is unusable until the node restarts \
         (recovery on start keeps every intact record)",
        path.display()
    )]
    Failed {
        /// The log file.
        path: PathBuf,
    },
}

impl WalError {
    /// Whether the log file itself is unusable without the operator's help (as opposed
    /// to an I/O failure that a restart may clear, or a caller's mistake).
    pub fn is_corruption(&self) -> bool {
        matches!(self, Self::Corrupt { .. } | Self::UnsupportedVersion { .. })
    }
}
