//! Tests of the mempool against a real runtime state (`accord_runtime::test_utils`).

mod admission;
mod faults;
mod lifecycle;
mod props;

use accord_runtime::test_utils::{draft, key, pipeline, region, TestChain, REGIONS};
use accord_runtime::{BlockOutcome, CheckContext};
use accord_types::governance::VoteChoice;
use accord_types::{Hash, Height, Nonce, Payload, ProposalId, Signature, Transaction};

use super::{Dropped, Mempool, MempoolConfig};

/// Every voter of the test genesis (`ap-voter-1` … `us-voter-3`).
fn voters() -> Vec<String> {
    REGIONS
        .iter()
        .flat_map(|r| (1..=3).map(move |n| format!("{r}-voter-{n}")))
        .collect()
}

/// A test chain with one open proposal affecting every region.
struct Fixture {
    chain: TestChain,
    pool: Mempool,
    proposal: ProposalId,
}

impl Fixture {
    fn new() -> Self {
        Self::with_config(MempoolConfig::default())
    }

    fn with_config(config: MempoolConfig) -> Self {
        let mut chain = TestChain::new();
        let proposal = chain.submit("author", draft(&REGIONS, pipeline(&[])));
        Self {
            chain,
            pool: Mempool::new(config).unwrap(),
            proposal,
        }
    }

    /// The context of the next block.
    fn ctx(&self) -> CheckContext {
        CheckContext {
            chain_id: self.chain.chain_id.clone(),
            height: Height(self.chain.height.0 + 1),
            timestamp: self.chain.timestamp,
        }
    }

    /// A vote on the fixture's proposal by a named voter, for the voter's region.
    fn vote(&self, voter: &str, nonce: u64, choice: VoteChoice) -> Transaction {
        vote_on(&self.chain, self.proposal, voter, nonce, choice)
    }

    fn add(&mut self, txs: Vec<Transaction>) -> Vec<Result<Hash, super::AddError>> {
        let ctx = self.ctx();
        let results = self.pool.add(&self.chain.store, &ctx, txs);
        self.pool.check_invariants();
        results
    }

    fn add_raw(&mut self, raw: &[Vec<u8>]) -> Vec<Result<Hash, super::AddError>> {
        let ctx = self.ctx();
        let results = self.pool.add_raw(&self.chain.store, &ctx, raw);
        self.pool.check_invariants();
        results
    }

    fn reap(&self, max_txs: usize, max_bytes: usize) -> Vec<Transaction> {
        self.pool
            .reap(&self.chain.store, max_txs, max_bytes)
            .unwrap()
    }

    /// Executes a block of `txs`, then updates the pool with them as committed.
    fn commit(&mut self, txs: &[Transaction]) -> (BlockOutcome, Vec<Dropped>) {
        let outcome = self.chain.block(txs);
        let hashes: Vec<Hash> = txs.iter().map(Transaction::hash).collect();
        let ctx = self.ctx();
        let dropped = self.pool.update(&self.chain.store, &ctx, &hashes);
        self.pool.check_invariants();
        (outcome, dropped)
    }

    fn pending_nonce(&self, account: &str) -> u64 {
        self.pool
            .pending_nonce(&self.chain.store, &key(account).public())
            .unwrap()
            .get()
    }
}

/// A vote by a named voter (`eu-voter-1` votes for `eu`).
fn vote_on(
    chain: &TestChain,
    proposal: ProposalId,
    voter: &str,
    nonce: u64,
    choice: VoteChoice,
) -> Transaction {
    let region_name = voter.split('-').next().unwrap();
    Transaction::sign(
        &key(voter),
        chain.chain_id.clone(),
        Nonce(nonce),
        Payload::Vote {
            proposal,
            region: region(region_name),
            choice,
        },
    )
}

/// The same transaction with a signature that does not verify.
fn corrupt(mut tx: Transaction) -> Transaction {
    let mut bytes = *tx.signature.as_bytes();
    bytes[40] ^= 0x01;
    tx.signature = Signature::from_bytes(bytes);
    tx
}

fn hashes(txs: &[Transaction]) -> Vec<Hash> {
    txs.iter().map(Transaction::hash).collect()
}
