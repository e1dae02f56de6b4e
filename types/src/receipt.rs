//! Receipts and the events inside them.
//!
//! Every transaction of a block gets a receipt, and the block's end-of-block step
//! (timeouts, phase advances, validator-set changes) gets one more. Events live
//! inside receipts, so the receipts root in the header commits to every event.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::codec::{self, MAX_RECEIPT_BYTES};
use crate::governance::{ExecutionOutcome, ProposalKind, ProposalStatus, RiskLevel, VoteChoice};
use crate::hash::{Domain, Hash};
use crate::{Error, Height, ProposalId, PublicKey, RegionId};

/// Why a transaction failed, in a form clients can act on.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The transaction is for another chain.
    WrongChain,
    /// The signature does not verify.
    BadSignature,
    /// The nonce is not the signer's next nonce.
    BadNonce,
    /// The signer lacks the role the action needs.
    Unauthorized,
    /// No proposal has that id.
    UnknownProposal,
    /// The proposal is not in a status that allows the action.
    InvalidStatus,
    /// A field is malformed or out of range.
    InvalidPayload,
    /// The region is not part of the chain or of the proposal.
    UnknownRegion,
    /// A dependency is unknown or has failed.
    DependencyFailed,
    /// The execution was not claimed, or is claimed by another agent.
    NotClaimed,
    /// The reported digest does not match the payload digest.
    DigestMismatch,
    /// The idempotency key does not match the execution request.
    IdempotencyMismatch,
    /// A freeze window forbids the action now.
    Frozen,
    /// A limit (size, count) was exceeded.
    LimitExceeded,
}

/// What happened to a transaction.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
#[serde(rename_all = "snake_case", tag = "result")]
pub enum Outcome {
    /// Applied.
    Success,
    /// Rejected; nothing changed but the signer's nonce.
    Failed {
        /// What went wrong.
        code: ErrorCode,
        /// A readable explanation.
        message: String,
    },
}

/// What a receipt is for.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum ReceiptSource {
    /// A transaction of the block.
    Transaction {
        /// Its hash.
        hash: Hash,
    },
    /// The end-of-block step.
    EndOfBlock,
}

/// Something that happened, for subscribers such as deploy agents and explorers.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Event {
    /// A proposal was submitted and voting opened.
    ProposalSubmitted {
        /// The proposal.
        proposal: ProposalId,
        /// Its kind.
        kind: ProposalKind,
        /// Its effective risk tier.
        tier: RiskLevel,
        /// Affected regions.
        regions: Vec<RegionId>,
        /// Last height of voting.
        voting_ends: Height,
    },
    /// A vote was cast or changed.
    VoteCast {
        /// The proposal.
        proposal: ProposalId,
        /// The region voted for.
        region: RegionId,
        /// The voter.
        voter: PublicKey,
        /// The vote.
        choice: VoteChoice,
    },
    /// A proposal changed status.
    StatusChanged {
        /// The proposal.
        proposal: ProposalId,
        /// The new status.
        status: ProposalStatus,
        /// Why, when not obvious.
        reason: String,
    },
    /// A region should execute a phase of a proposal.
    ExecutionRequested {
        /// The proposal.
        proposal: ProposalId,
        /// The region.
        region: RegionId,
        /// The phase.
        phase: u16,
        /// The digest the agent must apply.
        payload_digest: Hash,
        /// Key that makes a repeated execution harmless.
        idempotency_key: Hash,
    },
    /// An agent claimed an execution request.
    ExecutionClaimed {
        /// The proposal.
        proposal: ProposalId,
        /// The region.
        region: RegionId,
        /// The phase.
        phase: u16,
        /// The agent.
        agent: PublicKey,
        /// Height at which the claim lapses.
        lease_expires: Height,
    },
    /// An agent reported an outcome.
    ExecutionReported {
        /// The proposal.
        proposal: ProposalId,
        /// The region.
        region: RegionId,
        /// The phase.
        phase: u16,
        /// The agent.
        agent: PublicKey,
        /// The outcome.
        outcome: ExecutionOutcome,
    },
    /// A region should roll back what it applied.
    RollbackRequested {
        /// The proposal.
        proposal: ProposalId,
        /// The region.
        region: RegionId,
        /// Key for the rollback.
        idempotency_key: Hash,
    },
    /// Governance parameters, roles or freeze windows changed.
    GovernanceChanged {
        /// The proposal that changed them.
        proposal: ProposalId,
    },
    /// A validator-set change was approved and takes effect at a later height.
    ValidatorSetChangeScheduled {
        /// The proposal.
        proposal: ProposalId,
        /// First height decided by the new set.
        effective_height: Height,
    },
    /// Evidence of misbehaviour was recorded.
    EvidenceRecorded {
        /// The offender.
        validator: PublicKey,
        /// Height of the offence.
        height: Height,
    },
}

/// The result of one transaction, or of the end-of-block step.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
pub struct Receipt {
    /// What it is for.
    pub source: ReceiptSource,
    /// What happened.
    pub outcome: Outcome,
    /// Events, in order.
    pub events: Vec<Event>,
}

impl Receipt {
    /// The receipt hash (leaf of the receipts root).
    pub fn hash(&self) -> Hash {
        Hash::of_borsh(Domain::RECEIPT, self)
    }

    /// Decodes one receipt strictly.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        codec::decode("receipt", bytes, MAX_RECEIPT_BYTES)
    }
}

/// The Merkle root of receipt hashes.
pub fn receipts_root(receipts: &[Receipt]) -> Hash {
    crate::merkle::root(&receipts.iter().map(Receipt::hash).collect::<Vec<_>>())
}
