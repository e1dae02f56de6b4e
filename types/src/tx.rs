//! Signed transactions and the governance actions they carry.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::codec::{self, MAX_TRANSACTION_BYTES};
use crate::governance::{ExecutionReport, ProposalDraft, VoteChoice};
use crate::hash::{Domain, Hash};
use crate::{ChainId, Error, Keypair, Nonce, ProposalId, PublicKey, RegionId, Signature};

/// Every governance action an account can take.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum Payload {
    /// Submit a proposal of any kind (an emergency one when its urgency says so).
    SubmitProposal {
        /// The proposal.
        draft: Box<ProposalDraft>,
    },
    /// Vote for one region on an open proposal; a later vote replaces an earlier one.
    Vote {
        /// The proposal.
        proposal: ProposalId,
        /// The region the signer votes for.
        region: RegionId,
        /// The vote.
        choice: VoteChoice,
    },
    /// Cancel a proposal before it executes (its proposer, or a guardian).
    Cancel {
        /// The proposal.
        proposal: ProposalId,
        /// Why.
        reason: String,
    },
    /// Start a queued proposal whose execution mode is manual.
    Execute {
        /// The proposal.
        proposal: ProposalId,
    },
    /// Claim an execution request of one region and phase (agents of that region).
    ClaimExecution {
        /// The proposal.
        proposal: ProposalId,
        /// The region.
        region: RegionId,
        /// The phase.
        phase: u16,
    },
    /// Report the outcome of a claimed execution or a rollback.
    ReportExecution {
        /// The signed receipt's content.
        report: Box<ExecutionReport>,
    },
    /// Ratify, or refuse, an emergency action for one region.
    RatifyEmergency {
        /// The emergency proposal.
        proposal: ProposalId,
        /// The region the signer votes for.
        region: RegionId,
        /// Yes ratifies; no or veto refuses.
        choice: VoteChoice,
    },
}

/// A signed envelope around a [`Payload`].
///
/// The signature covers a domain tag, the chain id, the nonce and the borsh payload,
/// so it cannot be replayed on another chain or at another nonce.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
pub struct Transaction {
    /// The chain this transaction is for.
    pub chain_id: ChainId,
    /// The signing account.
    pub signer: PublicKey,
    /// The signer's nonce.
    pub nonce: Nonce,
    /// The action.
    pub payload: Payload,
    /// ed25519 signature over [`Transaction::signing_bytes`].
    pub signature: Signature,
}

impl Transaction {
    /// Builds and signs a transaction.
    pub fn sign(keypair: &Keypair, chain_id: ChainId, nonce: Nonce, payload: Payload) -> Self {
        let message = signing_bytes(&chain_id, nonce, &payload);
        Self {
            signer: keypair.public(),
            signature: keypair.sign(&message),
            chain_id,
            nonce,
            payload,
        }
    }

    /// The bytes the signature covers.
    pub fn signing_bytes(&self) -> Vec<u8> {
        signing_bytes(&self.chain_id, self.nonce, &self.payload)
    }

    /// An item of a [`crate::crypto::verify_batch`]: this transaction's signer and
    /// signature over `message`, its [`Transaction::signing_bytes`].
    pub fn signed_message<'a>(&'a self, message: &'a [u8]) -> crate::crypto::SignedMessage<'a> {
        crate::crypto::SignedMessage {
            signer: &self.signer,
            message,
            signature: &self.signature,
        }
    }

    /// Checks the signature alone (see [`crate::crypto::verify_batch`] for many).
    pub fn verify_signature(&self) -> Result<(), Error> {
        self.signer.verify(&self.signing_bytes(), &self.signature)
    }

    /// The transaction hash: the hash of its full encoding, signature included.
    pub fn hash(&self) -> Hash {
        Hash::of_borsh(Domain::TRANSACTION, self)
    }

    /// The borsh encoding.
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Decodes one transaction strictly (size cap, no trailing bytes).
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        codec::decode("transaction", bytes, MAX_TRANSACTION_BYTES)
    }
}

fn signing_bytes(chain_id: &ChainId, nonce: Nonce, payload: &Payload) -> Vec<u8> {
    let tag = Domain::TRANSACTION_SIGNING.tag().as_bytes();
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(tag);
    out.extend_from_slice(&codec::encode(chain_id));
    out.extend_from_slice(&nonce.get().to_le_bytes());
    out.extend_from_slice(&codec::encode(payload));
    out
}
