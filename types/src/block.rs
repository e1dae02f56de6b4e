//! Block headers and blocks.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

use crate::codec::{self, MAX_BLOCK_BYTES};
use crate::hash::{Domain, Hash};
use crate::{
    merkle, ChainId, CommitCertificate, Error, Evidence, Height, PublicKey, Timestamp, Transaction,
};

/// A block header. Its hash is the block hash.
///
/// The roots are of the state after this block's transactions and end-of-block step,
/// of this block's transactions, and of this block's receipts, so any of them can be
/// proven against a finalized header.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
pub struct Header {
    /// The chain.
    pub chain_id: ChainId,
    /// Height, from 1.
    pub height: Height,
    /// Hash of the previous block; for height 1, the chain spec's genesis hash.
    pub parent_hash: Hash,
    /// Proposer's timestamp, later than the parent's.
    pub timestamp: Timestamp,
    /// The proposing validator.
    pub proposer: PublicKey,
    /// Merkle root of the transaction hashes.
    pub transactions_root: Hash,
    /// Merkle root of the evidence hashes.
    pub evidence_root: Hash,
    /// State root after executing this block.
    pub state_root: Hash,
    /// Merkle root of the receipt hashes.
    pub receipts_root: Hash,
    /// Hash of the validator set that decides this block.
    pub validator_set_hash: Hash,
    /// Hash of the commit certificate of the previous block (zero at height 1).
    pub last_commit_hash: Hash,
}

impl Header {
    /// The block hash.
    pub fn hash(&self) -> Hash {
        Hash::of_borsh(Domain::HEADER, self)
    }
}

/// A block: header, transactions, evidence, and the previous block's certificate.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
pub struct Block {
    /// The header.
    pub header: Header,
    /// Transactions, in execution order.
    pub transactions: Vec<Transaction>,
    /// Evidence of misbehaviour to record.
    pub evidence: Vec<Evidence>,
    /// Certificate of the previous block; absent at height 1.
    pub last_commit: Option<CommitCertificate>,
}

/// The Merkle root of transaction hashes.
pub fn transactions_root(transactions: &[Transaction]) -> Hash {
    merkle::root(
        &transactions
            .iter()
            .map(Transaction::hash)
            .collect::<Vec<_>>(),
    )
}

/// The Merkle root of evidence hashes.
pub fn evidence_root(evidence: &[Evidence]) -> Hash {
    merkle::root(&evidence.iter().map(Evidence::hash).collect::<Vec<_>>())
}

impl Block {
    /// The block hash (the header's hash).
    pub fn hash(&self) -> Hash {
        self.header.hash()
    }

    /// Checks that the header's transactions root, evidence root and last-commit hash
    /// match the body. The state and receipts roots need execution and are checked there.
    pub fn check_body(&self) -> Result<(), Error> {
        let mismatch = |what, expected: Hash, found: Hash| Error::Mismatch {
            what,
            expected: expected.to_string(),
            found: found.to_string(),
        };
        let txs = transactions_root(&self.transactions);
        if txs != self.header.transactions_root {
            return Err(mismatch(
                "transactions root",
                self.header.transactions_root,
                txs,
            ));
        }
        let evidence = evidence_root(&self.evidence);
        if evidence != self.header.evidence_root {
            return Err(mismatch(
                "evidence root",
                self.header.evidence_root,
                evidence,
            ));
        }
        let last_commit = self
            .last_commit
            .as_ref()
            .map_or(Hash::ZERO, CommitCertificate::hash);
        if last_commit != self.header.last_commit_hash {
            return Err(mismatch(
                "last commit hash",
                self.header.last_commit_hash,
                last_commit,
            ));
        }
        Ok(())
    }

    /// The borsh encoding.
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Decodes one block strictly; `max` is the chain's block size limit (at most [`MAX_BLOCK_BYTES`]).
    pub fn decode(bytes: &[u8], max: usize) -> Result<Self, Error> {
        codec::decode("block", bytes, max.min(MAX_BLOCK_BYTES))
    }
}
