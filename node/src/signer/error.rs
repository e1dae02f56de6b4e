//! What the signer guard refuses, and why.

use std::fmt;
use std::io;
use std::path::PathBuf;

use accord_types::{Hash, Height, Round};

use super::Step;

/// Result alias with [`SignerError`].
pub type Result<T, E = SignerError> = std::result::Result<T, E>;

/// Everything the signer guard can refuse or fail at.
#[derive(Debug, thiserror::Error)]
pub enum SignerError {
    /// Reading or writing the state file failed. Nothing was approved: the message must
    /// not leave the node.
    #[error(
        "signer state {}: cannot {operation}: {source}; no message is released until \
         the signature can be recorded",
        path.display()
    )]
    Io {
        /// The state file.
        path: PathBuf,
        /// What was being done: `"open"`, `"read"`, `"write"`.
        operation: &'static str,
        /// The operating system's error.
        source: io::Error,
    },
    /// The state file lets other users read or change it.
    #[error(
        "signer state {} has mode {mode:04o}, which lets other users access it; restrict \
         it with `chmod 600 {}`",
        path.display(), path.display()
    )]
    Permissions {
        /// The state file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The state file cannot be trusted: it does not parse, its checksum does not match,
    /// or it is of an unknown version.
    #[error(
        "signer state {} is unusable: {reason}. The node will not sign without knowing \
         what it signed before: restore the file from a backup, or, only if this \
         validator certainly signed nothing at the heights the chain has not yet \
         finalized, move it aside to start with an empty record",
        path.display()
    )]
    Corrupt {
        /// The state file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Signing this message could equivocate; it must not leave the node.
    #[error(
        "refusing to sign the {step} for height {height}, round {round} (message \
         {message_hash}): {conflict}"
    )]
    DoubleSign {
        /// Height of the refused message.
        height: Height,
        /// Round of the refused message.
        round: Round,
        /// Step of the refused message.
        step: Step,
        /// Hash of the refused message.
        message_hash: Hash,
        /// What it conflicts with.
        conflict: Conflict,
    },
}

impl SignerError {
    /// Whether this is a refusal to equivocate (the engine asked for a conflicting
    /// signature), as opposed to a failure of the state file.
    pub fn is_double_sign(&self) -> bool {
        matches!(self, Self::DoubleSign { .. })
    }
}

/// What a refused message conflicts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// A different message was already signed for the same height, round and step.
    OtherMessage {
        /// The hash of the message signed before.
        signed: Hash,
    },
    /// A higher height was already signed; the guard never goes back.
    BelowSignedHeight {
        /// The latest height signed.
        signed_height: Height,
    },
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OtherMessage { signed } => write!(
                f,
                "message {signed} was already signed for this height, round and step"
            ),
            Self::BelowSignedHeight { signed_height } => write!(
                f,
                "height {signed_height} was already signed and the signer never signs \
                 for a lower height"
            ),
        }
    }
}
