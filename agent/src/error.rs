//! The agent's errors, and how the loop reacts to each kind ([`Error::is_fatal`]).

use std::path::PathBuf;

use accord_rpc::verify::ProofError;
use accord_types::{ChainId, Event, EventCursor, Hash, Height};

use crate::config::ConfigError;

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the agent.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The key file is unusable.
    #[error("key file {path}: {reason}")]
    Key {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the fix when there is one.
        reason: String,
    },
    /// The chain spec is unusable.
    #[error("chain spec {path}: {reason}")]
    Spec {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A file of the state directory could not be read or written.
    #[error("{what} {path}: {source}")]
    Io {
        /// Which file (`journal`, `trust store`, `execution log`).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A file of the state directory holds something the agent did not write.
    #[error("{what} {path} is corrupt: {reason}")]
    Corrupt {
        /// Which file.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A call to a node failed (connection, timeout, or an error answer).
    #[error("{endpoint}: {method} failed: {message}")]
    Rpc {
        /// The node's URL.
        endpoint: String,
        /// The JSON-RPC method.
        method: &'static str,
        /// The JSON-RPC error code, when the node answered with one.
        code: Option<i32>,
        /// What went wrong.
        message: String,
    },
    /// The node refused a transaction before including it.
    #[error("{endpoint} refused the transaction ({code}): {message}")]
    TxRefused {
        /// The node's URL.
        endpoint: String,
        /// The refusal's code (`bad_nonce`, `invalid_status`, …), `unknown` when absent.
        code: String,
        /// The node's explanation.
        message: String,
    },
    /// A transaction was not finalized in time, or left the pool without being included.
    #[error("transaction {hash} was not finalized: {reason}")]
    NotFinalized {
        /// The transaction.
        hash: Hash,
        /// Why the wait ended.
        reason: String,
    },
    /// The node serves another chain than the spec's.
    #[error("{endpoint} serves chain {found}, not {expected}")]
    WrongChain {
        /// The node's URL.
        endpoint: String,
        /// The chain of the spec.
        expected: ChainId,
        /// The chain the node reports.
        found: ChainId,
    },
    /// What a node sent failed verification; nothing was acted on.
    #[error("{endpoint}: refused {what}: {refusal}")]
    Refused {
        /// The node's URL.
        endpoint: String,
        /// What was being verified (`event 12:0:1`, `state proof of proposal #3`).
        what: String,
        /// The check that failed.
        refusal: Refusal,
    },
    /// The trusted validator set cannot follow a change the chain proved.
    #[error("the trusted validator set cannot follow the chain: {reason}")]
    Trust {
        /// What is inconsistent.
        reason: String,
    },
}

impl Error {
    /// Whether the agent must stop: its configuration, keys or state directory are
    /// unusable, or its trusted validator set cannot follow the chain. Every other
    /// error concerns one node or one attempt: the agent reconnects, fails over to the
    /// next endpoint, and resumes from its journal.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Self::Config(_)
                | Self::Key { .. }
                | Self::Spec { .. }
                | Self::Io { .. }
                | Self::Corrupt { .. }
                | Self::Trust { .. }
        )
    }

    /// The refusal, when this error is one.
    pub fn refusal(&self) -> Option<&Refusal> {
        match self {
            Self::Refused { refusal, .. } => Some(refusal),
            _ => None,
        }
    }
}

/// Why something a node sent was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// A proof failed one of its checks.
    #[error("{0}")]
    Proof(#[from] ProofError),
    /// The node answered with a proof of another position or record than asked.
    #[error("the node proved {found} when asked for {asked}")]
    WrongTarget {
        /// What was asked.
        asked: String,
        /// What the proof is about.
        found: String,
    },
    /// The proven event is not the one the subscription delivered.
    #[error("the proven event at {cursor} differs from the one streamed: streamed {streamed}, proven {proven}")]
    EventMismatch {
        /// The position.
        cursor: EventCursor,
        /// The streamed event, as JSON.
        streamed: String,
        /// The proven event, as JSON.
        proven: String,
    },
    /// No trusted validator set covers the height.
    #[error("no trusted validator set covers height {height}")]
    NoValidatorSet {
        /// The height.
        height: Height,
    },
    /// The proposal body the node sent does not hash to the proven payload digest.
    #[error("the proposal body hashes to {found}, not the proven payload digest {expected}")]
    PayloadDigest {
        /// The proven digest.
        expected: Hash,
        /// The digest of the body the node sent.
        found: Hash,
    },
    /// The proven record contradicts a proven event.
    #[error("{reason}")]
    Inconsistent {
        /// What contradicts what.
        reason: String,
    },
}

impl Refusal {
    /// A short label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Proof(e) => match e {
                ProofError::WrongChain { .. } => "wrong_chain",
                ProofError::WrongHeight { .. } => "wrong_height",
                ProofError::ValidatorSet { .. } => "validator_set",
                ProofError::Certificate { .. } => "certificate",
                ProofError::ReceiptPath { .. } => "receipt_path",
                ProofError::WrongReceipt { .. } => "wrong_receipt",
                ProofError::NoSuchEvent { .. } => "no_such_event",
                ProofError::WrongKey { .. } => "wrong_key",
                ProofError::StatePath { .. } => "state_path",
                ProofError::Record { .. } => "record",
            },
            Self::WrongTarget { .. } => "wrong_target",
            Self::EventMismatch { .. } => "event_mismatch",
            Self::NoValidatorSet { .. } => "no_validator_set",
            Self::PayloadDigest { .. } => "payload_digest",
            Self::Inconsistent { .. } => "inconsistent",
        }
    }

    /// An event mismatch between what was streamed and what was proven.
    pub(crate) fn mismatch(cursor: EventCursor, streamed: &Event, proven: &Event) -> Self {
        let json = |e: &Event| serde_json::to_string(e).unwrap_or_else(|_| format!("{e:?}"));
        Self::EventMismatch {
            cursor,
            streamed: json(streamed),
            proven: json(proven),
        }
    }
}
