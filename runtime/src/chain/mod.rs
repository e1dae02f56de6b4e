//! Blocks: building one to propose and checking one that was proposed or fetched, each
//! against the state after its parent.
//!
//! A block is checked in two parts. What the header says about the block itself
//! (body roots, chain, height, parent, proposer, validator set, the parent's commit
//! certificate) is checked first and cheaply; then the transactions are executed, with
//! their signatures verified in one batch, and the header's state and receipts roots must
//! equal the execution's. The execution is kept ([`Executed`]) so a block that is
//! decided is committed without running it again.

use std::collections::{BTreeMap, BTreeSet};

use crate::records::ValidatorRecord;
use crate::{execute_block, BlockContext, BlockOutcome, Query, SignatureCheck};
use accord_state::StateStore;
use accord_types::block::{evidence_root, transactions_root};
use accord_types::governance::ValidatorSpec;
use accord_types::{
    Block, ChainId, CommitCertificate, Evidence, Hash, Header, Height, PublicKey, Timestamp,
    Transaction, ValidatorSet,
};

/// How far ahead of this node's clock a proposed block's timestamp may be.
pub const MAX_CLOCK_DRIFT_MS: u64 = 15_000;

/// Most evidence items in one block.
pub const MAX_BLOCK_EVIDENCE: usize = 64;

/// The block a new block builds on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parent {
    /// Its height (0 for the genesis).
    pub height: Height,
    /// Its hash (the genesis hash for the genesis).
    pub hash: Hash,
    /// Its timestamp (the genesis time for the genesis).
    pub timestamp: Timestamp,
}

/// A block with the result of executing it on its parent's state.
#[derive(Debug, Clone)]
pub struct Executed {
    /// The block.
    pub block: Block,
    /// What executing it produced; the node commits `outcome.batch` with the block.
    pub outcome: BlockOutcome,
}

/// Why a block is not acceptable.
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    /// A header field disagrees with what it must be.
    #[error("{what}: expected {expected}, found {found}")]
    Mismatch {
        /// The field.
        what: &'static str,
        /// What it must be.
        expected: String,
        /// What the block says.
        found: String,
    },
    /// The block breaks a rule.
    #[error("{0}")]
    Invalid(String),
    /// The body does not match the header's roots, or an item does not verify.
    #[error(transparent)]
    Types(#[from] accord_types::Error),
    /// The state could not be read: a node failure, not the block's fault.
    #[error("state: {0}")]
    State(#[from] crate::Error),
}

impl BlockError {
    /// Whether the block is at fault (as opposed to this node's state).
    pub fn is_block_fault(&self) -> bool {
        !matches!(self, Self::State(_))
    }
}

fn mismatch(
    what: &'static str,
    expected: impl std::fmt::Display,
    found: impl std::fmt::Display,
) -> BlockError {
    BlockError::Mismatch {
        what,
        expected: expected.to_string(),
        found: found.to_string(),
    }
}

/// The validator set that decides `height`, read from the state after `height - 1`,
/// with the full descriptions of its members (p2p keys and addresses).
pub fn validators_at(
    store: &dyn StateStore,
    height: Height,
) -> Result<(ValidatorSet, Vec<ValidatorSpec>), BlockError> {
    let query = Query::new(store);
    let record = match query.pending_validators()? {
        Some(pending) if pending.effective_height <= height => pending.record,
        _ => query.validators()?,
    };
    let set = validator_set(&record)?;
    Ok((set, record.validators))
}

/// The consensus view of a stored validator record.
pub fn validator_set(record: &ValidatorRecord) -> Result<ValidatorSet, BlockError> {
    let validators = record
        .validators
        .iter()
        .map(ValidatorSpec::to_validator)
        .collect();
    Ok(ValidatorSet::new(validators, record.rule)?)
}

/// What a proposer puts in a block besides its transactions.
#[derive(Debug, Clone)]
pub struct Proposing<'a> {
    /// The chain.
    pub chain_id: &'a ChainId,
    /// The parent.
    pub parent: Parent,
    /// This validator's consensus key.
    pub proposer: PublicKey,
    /// The set deciding the new block.
    pub validators: &'a ValidatorSet,
    /// The parent's commit certificate (`None` at height 1).
    pub last_commit: Option<CommitCertificate>,
    /// This node's clock, in milliseconds since the epoch.
    pub now: Timestamp,
}

/// Builds and executes a block of `transactions` (already verified by the pool) and
/// `evidence` (already verified against `validators`).
pub fn build(
    store: &dyn StateStore,
    proposing: Proposing<'_>,
    transactions: Vec<Transaction>,
    evidence: Vec<Evidence>,
) -> Result<Executed, BlockError> {
    let parent = proposing.parent;
    let height = parent.height.saturating_add(1);
    // Strictly later than the parent, whatever this node's clock says.
    let timestamp = Timestamp(proposing.now.0.max(parent.timestamp.0.saturating_add(1)));
    let ctx = BlockContext {
        chain_id: proposing.chain_id.clone(),
        height,
        timestamp,
        proposer: proposing.proposer,
        signatures: SignatureCheck::Verified,
        evidence: evidence.clone(),
    };
    let outcome = execute_block(store, &ctx, &transactions)?;
    let header = Header {
        chain_id: proposing.chain_id.clone(),
        height,
        parent_hash: parent.hash,
        timestamp,
        proposer: proposing.proposer,
        transactions_root: transactions_root(&transactions),
        evidence_root: evidence_root(&evidence),
        state_root: outcome.state_root,
        receipts_root: outcome.receipts_root,
        validator_set_hash: proposing.validators.hash(),
        last_commit_hash: proposing
            .last_commit
            .as_ref()
            .map_or(Hash::ZERO, CommitCertificate::hash),
    };
    Ok(Executed {
        block: Block {
            header,
            transactions,
            evidence,
            last_commit: proposing.last_commit,
        },
        outcome,
    })
}

/// What a block is checked against.
#[derive(Debug, Clone, Copy)]
pub struct Checking<'a> {
    /// The chain.
    pub chain_id: &'a ChainId,
    /// The parent the block must extend.
    pub parent: Parent,
    /// The set deciding the block's height.
    pub validators: &'a ValidatorSet,
    /// The set that decided the parent (for the parent's certificate); unused at height 1.
    pub parent_validators: &'a ValidatorSet,
    /// The sets that decided the earlier heights the block's evidence is of (each item
    /// is judged by the set of its own height; one of the block's height by
    /// `validators`). The caller reads them with [`evidence_heights`].
    pub evidence_sets: &'a BTreeMap<Height, ValidatorSet>,
    /// This node's clock, to refuse timestamps too far ahead; `None` for blocks that
    /// come with a commit certificate (already decided: the network accepted them).
    pub now: Option<Timestamp>,
    /// The chain's block limits.
    pub limits: BlockLimits,
}

/// How large a block may be: the chain spec's `max_block_bytes` and `max_block_txs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockLimits {
    /// Largest encoded block.
    pub max_bytes: u64,
    /// Most transactions in a block.
    pub max_txs: u32,
}

impl BlockLimits {
    /// The limits of a chain's consensus parameters.
    pub fn of(params: &accord_types::params::ConsensusParams) -> Self {
        Self {
            max_bytes: params.max_block_bytes,
            max_txs: params.max_block_txs,
        }
    }

    /// Refuses a block over either limit. `encoded_len`, when known, saves encoding
    /// the block again.
    pub fn check(&self, block: &Block, encoded_len: Option<usize>) -> Result<(), BlockError> {
        let txs = block.transactions.len();
        if u64::try_from(txs).unwrap_or(u64::MAX) > u64::from(self.max_txs) {
            return Err(BlockError::Invalid(format!(
                "{txs} transactions; a block holds at most {}",
                self.max_txs
            )));
        }
        let len = encoded_len.unwrap_or_else(|| accord_types::codec::encode(block).len());
        if u64::try_from(len).unwrap_or(u64::MAX) > self.max_bytes {
            return Err(BlockError::Invalid(format!(
                "{len} bytes; a block holds at most {}",
                self.max_bytes
            )));
        }
        Ok(())
    }
}

/// Checks a block and executes it on `store` (the parent's state).
pub fn check(
    store: &dyn StateStore,
    checking: Checking<'_>,
    block: &Block,
) -> Result<Executed, BlockError> {
    check_known(store, checking, block, &|_| false)
}

/// [`check`], taking as verified the signature of every transaction whose hash
/// `verified` knows (a validator passes the hashes its pool holds: it checked those
/// bytes when it admitted them); the others are verified in one batch.
pub fn check_known(
    store: &dyn StateStore,
    checking: Checking<'_>,
    block: &Block,
    verified: &dyn Fn(&Hash) -> bool,
) -> Result<Executed, BlockError> {
    check_header(&checking, block)?;
    let known: Vec<bool> = block
        .transactions
        .iter()
        .map(|tx| verified(&tx.hash()))
        .collect();
    let header = &block.header;
    let ctx = BlockContext {
        chain_id: checking.chain_id.clone(),
        height: header.height,
        timestamp: header.timestamp,
        proposer: header.proposer,
        signatures: if known.iter().any(|k| *k) {
            SignatureCheck::VerifyUnknown(known)
        } else {
            SignatureCheck::Verify
        },
        evidence: block.evidence.clone(),
    };
    let outcome = execute_block(store, &ctx, &block.transactions)?;
    if outcome.state_root != header.state_root {
        return Err(mismatch(
            "state root",
            outcome.state_root,
            header.state_root,
        ));
    }
    if outcome.receipts_root != header.receipts_root {
        return Err(mismatch(
            "receipts root",
            outcome.receipts_root,
            header.receipts_root,
        ));
    }
    Ok(Executed {
        block: block.clone(),
        outcome,
    })
}

/// The checks that need no execution.
pub fn check_header(checking: &Checking<'_>, block: &Block) -> Result<(), BlockError> {
    let header = &block.header;
    let parent = checking.parent;
    checking.limits.check(block, None)?;
    if header.chain_id != *checking.chain_id {
        return Err(mismatch("chain id", checking.chain_id, &header.chain_id));
    }
    let height = parent.height.saturating_add(1);
    if header.height != height {
        return Err(mismatch("height", height, header.height));
    }
    if header.parent_hash != parent.hash {
        return Err(mismatch("parent hash", parent.hash, header.parent_hash));
    }
    if header.timestamp <= parent.timestamp {
        return Err(BlockError::Invalid(format!(
            "timestamp {} is not later than the parent's {}",
            header.timestamp.0, parent.timestamp.0
        )));
    }
    if let Some(now) = checking.now {
        let limit = now.0.saturating_add(MAX_CLOCK_DRIFT_MS);
        if header.timestamp.0 > limit {
            return Err(BlockError::Invalid(format!(
                "timestamp {} is more than {MAX_CLOCK_DRIFT_MS} ms ahead of this node's clock ({})",
                header.timestamp.0, now.0
            )));
        }
    }
    if checking.validators.get(&header.proposer).is_none() {
        return Err(BlockError::Invalid(format!(
            "proposer {} is not a validator at height {}",
            header.proposer, header.height.0
        )));
    }
    let set_hash = checking.validators.hash();
    if header.validator_set_hash != set_hash {
        return Err(mismatch(
            "validator set hash",
            set_hash,
            header.validator_set_hash,
        ));
    }
    block.check_body()?;
    match (&block.last_commit, parent.height.0) {
        (None, 0) => {}
        (Some(_), 0) => {
            return Err(BlockError::Invalid(
                "the first block carries no parent certificate".into(),
            ))
        }
        (None, _) => {
            return Err(BlockError::Invalid(format!(
                "block {} carries no certificate for its parent",
                header.height.0
            )))
        }
        (Some(certificate), _) => certificate.verify_commit(
            checking.chain_id,
            checking.parent_validators,
            parent.height,
            &parent.hash,
        )?,
    }
    if block.evidence.len() > MAX_BLOCK_EVIDENCE {
        return Err(BlockError::Invalid(format!(
            "{} evidence items; a block holds at most {MAX_BLOCK_EVIDENCE}",
            block.evidence.len()
        )));
    }
    let mut seen = BTreeSet::new();
    for evidence in &block.evidence {
        if !seen.insert(evidence.hash()) {
            return Err(BlockError::Invalid("the same evidence twice".into()));
        }
        let set = evidence_set(checking, header.height, evidence.height())?;
        evidence.verify(checking.chain_id, set)?;
    }
    Ok(())
}

/// The earlier heights whose validator sets judge `evidence` in a block of `height`.
pub fn evidence_heights(height: Height, evidence: &[Evidence]) -> BTreeSet<Height> {
    evidence
        .iter()
        .map(Evidence::height)
        .filter(|h| h.0 > 0 && *h < height)
        .collect()
}

/// The set that judges evidence of `of` in a block of `height`.
fn evidence_set<'a>(
    checking: &Checking<'a>,
    height: Height,
    of: Height,
) -> Result<&'a ValidatorSet, BlockError> {
    if of == height {
        return Ok(checking.validators);
    }
    if of > height {
        return Err(BlockError::Invalid(format!(
            "evidence of height {} in a block of height {}",
            of.0, height.0
        )));
    }
    checking.evidence_sets.get(&of).ok_or_else(|| {
        BlockError::Invalid(format!(
            "evidence of height {}, whose validator set is not known",
            of.0
        ))
    })
}

#[cfg(test)]
mod tests;
