//! Why the mempool refuses a transaction, why it drops one it held, and configuration errors.

use std::fmt;

use accord_types::{ChainId, ErrorCode, Hash, PublicKey};

/// Why a transaction was not admitted. The `Display` text is meant for the client that
/// sent it; [`AddError::code`] gives the machine-readable kind where one fits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddError {
    /// The encoding is larger than the mempool accepts; it was not decoded.
    #[error("transaction is {size} bytes, more than the limit of {limit} bytes per transaction")]
    TooLarge {
        /// The encoded size.
        size: usize,
        /// The cap ([`super::MempoolConfig::max_tx_bytes`]).
        limit: usize,
    },
    /// The bytes are not exactly one transaction.
    #[error("transaction does not decode: {reason}")]
    Malformed {
        /// The decoder's message.
        reason: String,
    },
    /// The transaction names another chain.
    #[error("transaction is for chain {found}, this node runs chain {expected}")]
    WrongChain {
        /// This node's chain.
        expected: ChainId,
        /// The transaction's chain.
        found: ChainId,
    },
    /// The signature does not verify for the signer's key.
    #[error("the signature does not verify for signer {signer}")]
    BadSignature {
        /// The claimed signer.
        signer: PublicKey,
    },
    /// The governance rules refuse the transaction in the current state
    /// (`accord_runtime::check_transaction`).
    #[error("{message}")]
    Refused {
        /// The runtime's code.
        code: ErrorCode,
        /// The runtime's explanation.
        message: String,
    },
    /// The same transaction (same hash) is already pooled, or came earlier in the batch
    /// and was admitted.
    #[error("transaction {hash} is already in the mempool")]
    Duplicate {
        /// Its hash.
        hash: Hash,
    },
    /// Another transaction of the same signer with the same nonce is pooled; pooled
    /// transactions are never replaced.
    #[error(
        "account {signer} already has transaction {existing} with nonce {nonce} in the mempool; \
         pooled transactions are not replaced, sign this one with a free nonce"
    )]
    NonceTaken {
        /// The signer.
        signer: PublicKey,
        /// The nonce.
        nonce: u64,
        /// The pooled transaction holding it.
        existing: Hash,
    },
    /// The nonce is beyond the window the mempool holds for an account.
    #[error(
        "nonce {nonce} is too far ahead: the account's next nonce is {next} and the mempool \
         holds nonces up to {} (max_per_account = {window})",
        next.saturating_add(*window as u64).saturating_sub(1)
    )]
    NonceTooFar {
        /// The transaction's nonce.
        nonce: u64,
        /// The account's next nonce in state.
        next: u64,
        /// The window ([`super::MempoolConfig::max_per_account`]).
        window: usize,
    },
    /// The signer already has as many pooled transactions as one account may.
    #[error(
        "account {signer} already has {limit} transactions in the mempool, the most one account \
         may have (max_per_account); wait until some are included in a block"
    )]
    AccountFull {
        /// The signer.
        signer: PublicKey,
        /// The cap.
        limit: usize,
    },
    /// The mempool is full.
    #[error("the mempool is full: {cap} = {limit} {} reached; retry later", cap.unit())]
    Full {
        /// Which cap.
        cap: Cap,
        /// Its value.
        limit: usize,
    },
    /// The node could not read its state to judge the transaction (a node fault, not the
    /// client's).
    #[error("the node could not read its state to check the transaction: {message}")]
    State {
        /// The store's error.
        message: String,
    },
}

impl AddError {
    /// The code a client can act on, where one fits. Duplicates and node faults have none.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Self::TooLarge { .. } | Self::AccountFull { .. } | Self::Full { .. } => {
                Some(ErrorCode::LimitExceeded)
            }
            Self::Malformed { .. } => Some(ErrorCode::InvalidPayload),
            Self::WrongChain { .. } => Some(ErrorCode::WrongChain),
            Self::BadSignature { .. } => Some(ErrorCode::BadSignature),
            Self::Refused { code, .. } => Some(*code),
            Self::NonceTaken { .. } | Self::NonceTooFar { .. } => Some(ErrorCode::BadNonce),
            Self::Duplicate { .. } | Self::State { .. } => None,
        }
    }

    /// Whether the transaction is already pooled: harmless for gossip, where peers send
    /// the same transaction more than once.
    pub fn is_duplicate(&self) -> bool {
        matches!(self, Self::Duplicate { .. })
    }

    /// Whether the same transaction may be admitted later without change: the pool or the
    /// account was full, or the node could not read its state.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Full { .. } | Self::AccountFull { .. } | Self::State { .. }
        )
    }
}

/// A pool-wide cap of [`super::MempoolConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cap {
    /// [`super::MempoolConfig::max_txs`].
    Transactions,
    /// [`super::MempoolConfig::max_bytes`].
    Bytes,
}

impl Cap {
    /// The unit of the cap's value.
    fn unit(self) -> &'static str {
        match self {
            Self::Transactions => "transactions",
            Self::Bytes => "bytes",
        }
    }
}

impl fmt::Display for Cap {
    /// The configuration field's name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Transactions => "max_txs",
            Self::Bytes => "max_bytes",
        })
    }
}

/// A pooled transaction the mempool let go without it being committed, and why.
///
/// The node answers the client that submitted it with this; nothing admitted leaves the
/// pool any other way than by being committed or reported as dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    /// The transaction's hash.
    pub hash: Hash,
    /// Why, as a code.
    pub code: ErrorCode,
    /// Why, for people.
    pub message: String,
}

/// Limits of a [`super::MempoolConfig`] that cannot work together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid mempool configuration: {}", problems.join("; "))]
pub struct ConfigError {
    /// Every problem found, each naming its field.
    pub problems: Vec<String>,
}
