//! The error type of the consensus engine.
//!
//! An error means the input was refused and the engine's state did not change. Inputs
//! that are merely late, early or repeated (a vote for a past height, a timeout of a
//! round already left, a duplicate) are not errors: they are ignored with no outputs.

use accord_types::{Height, PublicKey, QuorumRule, Round};

/// Result alias with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why the engine refused an input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A message or request arrived before the first [`Input::StartHeight`](crate::Input::StartHeight).
    #[error("no height has been started yet")]
    NotStarted,
    /// `StartHeight` named a height that is not above the current one.
    #[error("cannot start height {height}: the engine is already at height {current}")]
    HeightNotIncreasing {
        /// The height asked for.
        height: Height,
        /// The engine's height.
        current: Height,
    },
    /// The validator set's quorum rule disagrees with the chain's `regional_quorum` parameter.
    #[error(
        "the validator set uses the {found:?} quorum rule, but the chain requires {expected:?}"
    )]
    QuorumRuleMismatch {
        /// The rule the consensus parameters require.
        expected: QuorumRule,
        /// The rule of the validator set given.
        found: QuorumRule,
    },
    /// The committed history given with `StartHeight` is not a list of earlier blocks in
    /// increasing height order.
    #[error("committed history for height {height} is malformed: {reason}")]
    InvalidHistory {
        /// The height being started.
        height: Height,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A vote or proposal is signed by a key outside the validator set of its height.
    #[error("{signer} is not a validator at height {height}")]
    UnknownValidator {
        /// The message's height.
        height: Height,
        /// The signer.
        signer: PublicKey,
    },
    /// A vote or proposal whose signature does not verify.
    #[error("{what} signed by {signer} does not verify: {source}")]
    InvalidSignature {
        /// `"vote"` or `"proposal"`.
        what: &'static str,
        /// The claimed signer.
        signer: PublicKey,
        /// The verifier's error.
        source: accord_types::Error,
    },
    /// A commit certificate that does not prove a decision under the height's validator set.
    #[error("commit certificate for height {height} is invalid: {source}")]
    InvalidCertificate {
        /// The certificate's height.
        height: Height,
        /// Why it fails.
        source: accord_types::Error,
    },
    /// A proposal signed by a validator that is not the proposer of its round.
    #[error("proposal for height {height} round {round} is signed by {found}, but the proposer is {expected}")]
    WrongProposer {
        /// The proposal's height.
        height: Height,
        /// The proposal's round.
        round: Round,
        /// The round's proposer.
        expected: PublicKey,
        /// The signer.
        found: PublicKey,
    },
    /// A proposal whose valid round is not earlier than its round.
    #[error("proposal for height {height} round {round} names valid round {valid_round}, which is not earlier")]
    InvalidValidRound {
        /// The proposal's height.
        height: Height,
        /// The proposal's round.
        round: Round,
        /// The valid round it names.
        valid_round: Round,
    },
}

impl Error {
    /// Whether the input could only come from a faulty or malicious peer (a bad
    /// signature, a stranger's key, a proposal out of turn or with an impossible valid
    /// round, a certificate that proves nothing), so the node may penalise whoever relayed it. The other errors are
    /// mistakes of the node driving the engine.
    pub fn is_peer_fault(&self) -> bool {
        matches!(
            self,
            Self::UnknownValidator { .. }
                | Self::InvalidSignature { .. }
                | Self::InvalidCertificate { .. }
                | Self::WrongProposer { .. }
                | Self::InvalidValidRound { .. }
        )
    }
}
