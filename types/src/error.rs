//! The error type of this crate.

use crate::{Height, PublicKey, RegionId, Round};

/// Result alias with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong when decoding, verifying or building shared types.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The input is larger than the cap for its kind; it was not decoded.
    #[error("{what} is {len} bytes, more than the limit of {max}")]
    TooLarge {
        /// What was being decoded.
        what: &'static str,
        /// Its size.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// The bytes are not a valid encoding.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// What was being decoded.
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
    /// A textual identifier (region, chain id) breaks its syntax rules.
    #[error("invalid {what} {value:?}: {reason}")]
    InvalidIdentifier {
        /// Which kind of identifier.
        what: &'static str,
        /// The offending value (truncated to 64 characters).
        value: String,
        /// The rule it breaks.
        reason: &'static str,
    },
    /// Hex text could not be parsed.
    #[error("invalid hex for {what}: {reason}")]
    InvalidHex {
        /// What was being parsed.
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
    /// A public key does not decode to a curve point.
    #[error("public key {key} is not a valid ed25519 point")]
    InvalidPublicKey {
        /// The key.
        key: PublicKey,
    },
    /// A signature does not verify under the ZIP-215 rules.
    #[error("signature by {signer} does not verify")]
    InvalidSignature {
        /// The claimed signer.
        signer: PublicKey,
    },
    /// A batch contained signatures that do not verify.
    #[error("{} of {total} signatures in the batch do not verify (first at index {})", invalid.len(), invalid.first().copied().unwrap_or_default())]
    BatchInvalid {
        /// Indices of the failing items, ascending.
        invalid: Vec<usize>,
        /// Size of the batch.
        total: usize,
    },
    /// A validator set breaks a structural rule.
    #[error("invalid validator set: {reason}")]
    InvalidValidatorSet {
        /// The rule it breaks.
        reason: String,
    },
    /// A certificate names a signer outside the validator set.
    #[error("certificate signer {signer} is not in the validator set")]
    UnknownSigner {
        /// The stranger.
        signer: PublicKey,
    },
    /// A certificate names the same signer twice.
    #[error("certificate has two signatures from {signer}")]
    DuplicateSigner {
        /// The repeated signer.
        signer: PublicKey,
    },
    /// Not enough voting power signed.
    #[error(
        "certificate carries {signed} of {total} voting power; more than two thirds is required"
    )]
    InsufficientPower {
        /// Power that signed.
        signed: u64,
        /// Total power of the set.
        total: u64,
    },
    /// Under the regional quorum rule, one region did not reach its quorum.
    #[error("region {region} signed {signed} of its {total} voting power; more than two thirds is required")]
    RegionWithoutQuorum {
        /// The region.
        region: RegionId,
        /// Power of that region that signed.
        signed: u64,
        /// Total power of that region.
        total: u64,
    },
    /// A certificate or evidence is for a different height, round or block than expected.
    #[error("{what} mismatch: expected {expected}, found {found}")]
    Mismatch {
        /// The field that differs.
        what: &'static str,
        /// The expected value.
        expected: String,
        /// The value found.
        found: String,
    },
    /// Evidence that does not prove equivocation.
    #[error("invalid evidence at height {height} round {round}: {reason}")]
    InvalidEvidence {
        /// Height of the votes.
        height: Height,
        /// Round of the votes.
        round: Round,
        /// Why it is not evidence.
        reason: &'static str,
    },
    /// An arithmetic result does not fit its type.
    #[error("overflow computing {what}")]
    Overflow {
        /// What was being computed.
        what: &'static str,
    },
}
