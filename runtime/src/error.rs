//! Errors of the runtime.
//!
//! Two families: [`Error`] is a fault of the node (its store failed or holds bytes that
//! do not decode) and stops block execution; [`TxError`] is a transaction the rules
//! refuse, which becomes a failed receipt and never aborts a block.

use accord_types::ErrorCode;

/// A fault that stops block execution: the store failed or is corrupt.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The state store failed.
    #[error("state store: {source}")]
    State {
        /// The store's error.
        #[from]
        source: accord_state::Error,
    },
    /// A stored record does not decode.
    #[error("corrupt state: {what} at key 0x{key} does not decode: {reason}")]
    Corrupt {
        /// The record kind.
        what: &'static str,
        /// The key, hex.
        key: String,
        /// The decoder's message.
        reason: String,
    },
    /// A record the state must hold is missing (the state was not initialised from a genesis).
    #[error("state has no {what}: was it initialised from a genesis?")]
    Missing {
        /// The record kind.
        what: &'static str,
    },
    /// The genesis description breaks a rule.
    #[error("invalid genesis: {reason}")]
    InvalidGenesis {
        /// Which rule.
        reason: String,
    },
}

impl Error {
    /// Whether the error means the stored state is unusable (as opposed to a transient store failure).
    pub fn is_corruption(&self) -> bool {
        matches!(self, Self::Corrupt { .. } | Self::Missing { .. })
    }
}

/// Result alias of the runtime.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why the rules refuse a transaction: a code a client can act on and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct TxError {
    /// What kind of refusal.
    pub code: ErrorCode,
    /// The details.
    pub message: String,
}

impl TxError {
    /// A refusal with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// A transaction refusal, or a node fault that stops execution.
#[derive(Debug)]
pub(crate) enum Fail {
    /// The rules refuse the transaction.
    Tx(TxError),
    /// The node's state failed.
    Node(Error),
}

impl From<Error> for Fail {
    fn from(error: Error) -> Self {
        Self::Node(error)
    }
}

impl From<TxError> for Fail {
    fn from(error: TxError) -> Self {
        Self::Tx(error)
    }
}

impl From<accord_state::Error> for Fail {
    fn from(error: accord_state::Error) -> Self {
        Self::Node(error.into())
    }
}

/// Shorthand for refusing a transaction.
pub(crate) fn refuse<T>(code: ErrorCode, message: impl Into<String>) -> Result<T, Fail> {
    Err(Fail::Tx(TxError::new(code, message)))
}
