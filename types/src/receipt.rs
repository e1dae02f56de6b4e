//! Receipts and the events inside them.
//!
//! Every transaction of a block gets a receipt, and the block's end-of-block step
//! (timeouts, phase advances, validator-set changes) gets one more. Events live
//! inside receipts, so the receipts root in the header commits to every event.

use std::fmt;
use std::str::FromStr;

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

/// Position of an event in the chain: block height, index of its receipt in the block,
/// index of the event in the receipt. Cursors order events as the chain emitted them;
/// written `height:receipt:event` in decimal (`"12:0:1"`), in JSON as that string.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
pub struct EventCursor {
    /// Block height.
    pub height: Height,
    /// Index of the receipt in the block.
    pub receipt: u32,
    /// Index of the event in the receipt.
    pub event: u32,
}

impl fmt::Display for EventCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.height.0, self.receipt, self.event)
    }
}

impl FromStr for EventCursor {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let malformed = |reason: &str| Error::Malformed {
            what: "event cursor",
            reason: format!(
                "{reason} in {:?}; a cursor is height:receipt:event in decimal, such as \"12:0:1\"",
                text.chars().take(64).collect::<String>()
            ),
        };
        let mut parts = text.split(':');
        let (Some(height), Some(receipt), Some(event), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed("not three parts separated by ':'"));
        };
        let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
        if !digits(height) || !digits(receipt) || !digits(event) {
            return Err(malformed("a part is not a decimal number"));
        }
        Ok(Self {
            height: Height(
                height
                    .parse()
                    .map_err(|_| malformed("the height overflows"))?,
            ),
            receipt: receipt
                .parse()
                .map_err(|_| malformed("the receipt index overflows"))?,
            event: event
                .parse()
                .map_err(|_| malformed("the event index overflows"))?,
        })
    }
}

crate::codec::serde_via_str!(EventCursor, "an event cursor \"height:receipt:event\"");

#[cfg(test)]
mod cursor_tests {
    use super::*;

    #[test]
    fn cursors_print_parse_and_order() {
        let cursor = EventCursor {
            height: Height(12),
            receipt: 0,
            event: 3,
        };
        assert_eq!(cursor.to_string(), "12:0:3");
        assert_eq!("12:0:3".parse::<EventCursor>(), Ok(cursor));
        assert_eq!(serde_json::to_string(&cursor).unwrap(), "\"12:0:3\"");
        assert!(cursor < "12:1:0".parse().unwrap());
        assert!(cursor > "11:9:9".parse().unwrap());
        for bad in [
            "",
            "12",
            "12:0",
            "12:0:3:4",
            "a:0:1",
            "-1:0:0",
            "1.5:0:0",
            " 1:0:0",
            "99999999999999999999:0:0",
            "1:4294967296:0",
            "1::0",
        ] {
            let error = bad.parse::<EventCursor>().unwrap_err().to_string();
            assert!(error.contains("event cursor"), "{bad}: {error}");
        }
    }
}
