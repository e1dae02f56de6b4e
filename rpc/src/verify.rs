//! Proofs checked by a client alone, trusting no node: given the chain id and the
//! validator set that decided a height, an [`EventProof`] yields its event and a
//! [`StateProofView`] its record, or the exact check that failed.
//!
//! ```text
//!   certificate ──verify_commit(chain id, validator set)──► decides header.hash() at header.height
//!   header.validator_set_hash == hash(validator set)
//!   event:  receipt ─H("accord/receipt")─► leaf ─path─► header.receipts_root
//!   state:  key, value ─H("accord/state-leaf")─► leaf ─siblings─► header.state_root
//! ```

use accord_runtime::records::{AccountRecord, ProposalState, ValidatorRecord};
use accord_types::params::GovernanceParams;
use accord_types::{ChainId, CommitCertificate, Event, Hash, Header, ValidatorSet};
use borsh::BorshDeserialize;

use crate::types::{EventProof, StateProofView, StateTarget};

/// Which check of a proof failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The header is of another chain.
    #[error("the header is of chain {found}, not {expected}")]
    WrongChain {
        /// The chain the client trusts.
        expected: ChainId,
        /// The header's.
        found: ChainId,
    },
    /// The header is not at the height the proof claims.
    #[error("the header is at height {found}, the proof claims {expected}")]
    WrongHeight {
        /// Claimed.
        expected: u64,
        /// The header's.
        found: u64,
    },
    /// The header names another validator set than the one given.
    #[error("the header names validator set {header}, not the trusted set {trusted}")]
    ValidatorSet {
        /// The header's `validator_set_hash`.
        header: Hash,
        /// The trusted set's hash.
        trusted: Hash,
    },
    /// The certificate does not decide this header under the trusted set.
    #[error("the commit certificate does not decide the header: {reason}")]
    Certificate {
        /// Why.
        reason: String,
    },
    /// The receipt's path does not lead to the header's receipts root.
    #[error("the receipt's Merkle path (index {index}) does not lead to the receipts root {root}")]
    ReceiptPath {
        /// The path's index.
        index: u64,
        /// The header's receipts root.
        root: Hash,
    },
    /// The path's position is not the cursor's receipt.
    #[error("the path proves receipt {found}, the cursor names receipt {expected}")]
    WrongReceipt {
        /// From the cursor.
        expected: u64,
        /// From the path.
        found: u64,
    },
    /// The receipt holds no event at the cursor's index.
    #[error("the receipt holds {count} events; the cursor names event {index}")]
    NoSuchEvent {
        /// The cursor's event index.
        index: u32,
        /// Events in the receipt.
        count: usize,
    },
    /// The state proof is about another key than the target's.
    #[error("the state proof is for another key than the {what} asked for")]
    WrongKey {
        /// The target.
        what: &'static str,
    },
    /// The state proof does not lead to the header's state root.
    #[error("the state proof does not lead to the state root: {reason}")]
    StatePath {
        /// Why.
        reason: String,
    },
    /// The proven value does not decode as the target's record.
    #[error("the proven value is not a {what} record: {reason}")]
    Record {
        /// The target.
        what: &'static str,
        /// Why.
        reason: String,
    },
}

/// Checks that `certificate` decides `header` on `chain_id` under `validators`.
pub fn verify_header(
    header: &Header,
    certificate: &CommitCertificate,
    chain_id: &ChainId,
    validators: &ValidatorSet,
) -> Result<(), ProofError> {
    if &header.chain_id != chain_id {
        return Err(ProofError::WrongChain {
            expected: chain_id.clone(),
            found: header.chain_id.clone(),
        });
    }
    if header.validator_set_hash != validators.hash() {
        return Err(ProofError::ValidatorSet {
            header: header.validator_set_hash,
            trusted: validators.hash(),
        });
    }
    certificate
        .verify_commit(chain_id, validators, header.height, &header.hash())
        .map_err(|e| ProofError::Certificate {
            reason: e.to_string(),
        })
}

/// Verifies an event proof; returns the event it proves.
pub fn verify_event_proof(
    proof: &EventProof,
    chain_id: &ChainId,
    validators: &ValidatorSet,
) -> Result<Event, ProofError> {
    if proof.header.height != proof.cursor.height {
        return Err(ProofError::WrongHeight {
            expected: proof.cursor.height.0,
            found: proof.header.height.0,
        });
    }
    verify_header(&proof.header, &proof.certificate, chain_id, validators)?;
    if proof.path.index != u64::from(proof.cursor.receipt) {
        return Err(ProofError::WrongReceipt {
            expected: u64::from(proof.cursor.receipt),
            found: proof.path.index,
        });
    }
    if !proof
        .path
        .verify(&proof.header.receipts_root, &proof.receipt.hash())
    {
        return Err(ProofError::ReceiptPath {
            index: proof.path.index,
            root: proof.header.receipts_root,
        });
    }
    proof
        .receipt
        .events
        .get(proof.cursor.event as usize)
        .cloned()
        .ok_or(ProofError::NoSuchEvent {
            index: proof.cursor.event,
            count: proof.receipt.events.len(),
        })
}

/// A record a state proof shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A proposal (absent: no such proposal).
    Proposal(Option<Box<ProposalState>>),
    /// An account's roles (absent: none).
    Account(Option<AccountRecord>),
    /// An account's next nonce (absent: 0).
    Nonce(u64),
    /// The governance parameters.
    Params(Option<Box<GovernanceParams>>),
    /// The current validator set.
    Validators(Option<ValidatorRecord>),
}

fn decode<T: BorshDeserialize>(
    what: &'static str,
    value: Option<&[u8]>,
) -> Result<Option<T>, ProofError> {
    value
        .map(|bytes| {
            accord_types::codec::decode::<T>(what, bytes, usize::MAX).map_err(|e| {
                ProofError::Record {
                    what,
                    reason: e.to_string(),
                }
            })
        })
        .transpose()
}

/// Verifies a state proof; returns the record it shows (or its absence).
pub fn verify_state_proof(
    view: &StateProofView,
    chain_id: &ChainId,
    validators: &ValidatorSet,
) -> Result<Record, ProofError> {
    verify_header(&view.header, &view.certificate, chain_id, validators)?;
    let what = match view.target {
        StateTarget::Proposal { .. } => "proposal",
        StateTarget::Account { .. } => "account",
        StateTarget::Nonce { .. } => "nonce",
        StateTarget::Params => "params",
        StateTarget::Validators => "validators",
    };
    let key = view.target.key();
    if view.proof.key() != key.as_slice() {
        return Err(ProofError::WrongKey { what });
    }
    let value = view.proof.value();
    view.proof
        .verify(&view.header.state_root, &key, value)
        .map_err(|e| ProofError::StatePath {
            reason: e.to_string(),
        })?;
    Ok(match view.target {
        StateTarget::Proposal { .. } => Record::Proposal(decode(what, value)?.map(Box::new)),
        StateTarget::Account { .. } => Record::Account(decode(what, value)?),
        StateTarget::Nonce { .. } => Record::Nonce(decode(what, value)?.unwrap_or(0)),
        StateTarget::Params => Record::Params(decode(what, value)?.map(Box::new)),
        StateTarget::Validators => Record::Validators(decode(what, value)?),
    })
}
