//! The measured scenarios. Each prepares its input, runs the measured work once inside
//! [`measured`], then checks the result, so a scenario that stops doing its work fails
//! instead of measuring less. Keys, seeds and timestamps are fixed: two runs of a
//! scenario execute the same instructions.

use std::collections::BTreeMap;

use accord_chain_spec::default_consensus;
use accord_consensus::sim::{self, NetworkConfig, SimConfig};
use accord_runtime::chain::{self, BlockLimits, Checking, Parent, Proposing};
use accord_runtime::test_utils::{
    self, certify, documentation, draft, key, pipeline, region, validator_keys, TestChain, REGIONS,
};
use accord_runtime::{execute_block, BlockContext, CheckContext, SignatureCheck};
use accord_types::governance::{Role, VoteChoice};
use accord_types::{Domain, Hash, Height, Outcome, Payload, ProposalId, Timestamp, Transaction};

use crate::measured;
use accord_mempool::{Mempool, MempoolConfig};

/// One scenario.
pub struct Scenario {
    /// Its name in the baseline.
    pub name: &'static str,
    /// What its measured work is.
    pub what: &'static str,
    /// Prepares, measures and checks; returns a line on what was measured.
    pub run: fn() -> String,
}

/// Every scenario, in the order of the gate's table.
pub static ALL: [Scenario; 4] = [
    Scenario {
        name: "execute_block_1000_txs",
        what: "execute_block: 900 votes and 100 proposals, signatures already verified",
        run: execute,
    },
    Scenario {
        name: "check_block_1000_txs",
        what: "chain::check of that block: header, parent certificate, 1,000 signatures \
               in batches, execution, roots",
        run: check,
    },
    Scenario {
        name: "consensus_10_heights_7_validators",
        what: "sim::run: 7 honest validators in 3 regions, reliable links, to height 10",
        run: consensus,
    },
    Scenario {
        name: "mempool_admit_256_txs",
        what: "Mempool::add_raw of one gossip batch: 256 encoded transactions",
        run: mempool,
    },
];

/// The scenario called `name`.
pub fn find(name: &str) -> Result<&'static Scenario, String> {
    ALL.iter().find(|s| s.name == name).ok_or_else(|| {
        let names: Vec<&str> = ALL.iter().map(|s| s.name).collect();
        format!("no scenario {name:?}; there are {}", names.join(", "))
    })
}

/// Voters per region of the fixture's chain (the test genesis has three).
const VOTERS_PER_REGION: usize = 10;
/// Proposals open for voting before the measured block.
const OPEN_PROPOSALS: u64 = 100;
/// Transactions of the measured block.
const BLOCK_TXS: usize = 1_000;
/// Transactions of the mempool batch: one gossip batch.
const MEMPOOL_BATCH: usize = 256;

/// A chain with [`OPEN_PROPOSALS`] proposals open in every region and the next block's
/// transactions: one new proposal in ten, the rest votes of the 30 voters, each on
/// proposals of its own choosing, one vote in seven a "no".
struct Fixture {
    chain: TestChain,
    block: Vec<Transaction>,
}

impl Fixture {
    fn new() -> Self {
        let mut genesis = test_utils::genesis();
        for r in REGIONS {
            for n in test_utils::VOTERS_PER_REGION + 1..=VOTERS_PER_REGION {
                genesis.accounts.push((
                    key(&format!("{r}-voter-{n}")).public(),
                    vec![Role::Voter(region(r))],
                ));
            }
        }
        let mut chain = TestChain::from_genesis(&genesis);
        let submissions: Vec<Transaction> = (0..OPEN_PROPOSALS)
            .map(|i| {
                let mut d = draft(&REGIONS, pipeline(&[]));
                d.title = format!("open change {i}");
                chain.tx("author", Payload::SubmitProposal { draft: Box::new(d) })
            })
            .collect();
        let ctx = BlockContext {
            signatures: SignatureCheck::Verified,
            ..chain.context()
        };
        let outcome = chain.block_with(&ctx, &submissions);
        assert_all_succeeded("the proposals", &outcome.receipts);

        let voters: Vec<(String, &str)> = REGIONS
            .iter()
            .flat_map(|r| (1..=VOTERS_PER_REGION).map(move |n| (format!("{r}-voter-{n}"), *r)))
            .collect();
        let mut block = Vec::with_capacity(BLOCK_TXS);
        let mut votes = 0;
        for i in 0..BLOCK_TXS {
            let tx = if i % 10 == 9 {
                let d = draft(&REGIONS, documentation(&format!("guides/{i}.md")));
                chain.tx("author-2", Payload::SubmitProposal { draft: Box::new(d) })
            } else {
                // Voter `v` votes in rounds; round `r` takes proposal 3v + r, so no voter
                // votes twice on one proposal.
                let v = votes % voters.len();
                let round = votes / voters.len();
                let (voter, r) = &voters[v];
                let proposal = ProposalId(1 + (3 * v + round) as u64 % OPEN_PROPOSALS);
                let choice = if votes % 7 == 0 {
                    VoteChoice::No
                } else {
                    VoteChoice::Yes
                };
                votes += 1;
                chain.tx(
                    voter,
                    Payload::Vote {
                        proposal,
                        region: region(r),
                        choice,
                    },
                )
            };
            block.push(tx);
        }
        Self { chain, block }
    }

    /// The parent of the measured block: the chain's last block, under a hash of its
    /// own (the test chain keeps no headers) that its commit certificate signs.
    fn parent(&self) -> Parent {
        Parent {
            height: self.chain.height,
            hash: Hash::digest(Domain::PAYLOAD, b"the parent block"),
            timestamp: Timestamp(self.chain.timestamp.0 - 1_000),
        }
    }
}

fn assert_all_succeeded(what: &str, receipts: &[accord_types::Receipt]) {
    let refused: Vec<&Outcome> = receipts
        .iter()
        .map(|r| &r.outcome)
        .filter(|o| **o != Outcome::Success)
        .collect();
    assert!(refused.is_empty(), "{what}: refused {refused:?}");
}

fn execute() -> String {
    let fixture = Fixture::new();
    let ctx = BlockContext {
        signatures: SignatureCheck::Verified,
        ..fixture.chain.context()
    };
    let mut result = None;
    measured(&mut || result = Some(execute_block(&fixture.chain.store, &ctx, &fixture.block)));
    let outcome = result
        .expect("measured ran")
        .unwrap_or_else(|e| panic!("execute: {e}"));
    assert_all_succeeded("the block", &outcome.receipts);
    format!(
        "{} transactions executed, {} keys touched, {} raw writes",
        fixture.block.len(),
        outcome.touched,
        outcome.batch.len()
    )
}

fn check() -> String {
    let fixture = Fixture::new();
    let chain = &fixture.chain;
    let parent = fixture.parent();
    let height = Height(parent.height.0 + 1);
    let (validators, _) =
        chain::validators_at(&chain.store, height).unwrap_or_else(|e| panic!("validators: {e}"));
    let built = chain::build(
        &chain.store,
        Proposing {
            chain_id: &chain.chain_id,
            parent,
            proposer: key("validator/eu-1").public(),
            validators: &validators,
            last_commit: Some(certify(
                &validator_keys(),
                &chain.chain_id,
                parent.height,
                parent.hash,
            )),
            now: chain.timestamp,
        },
        fixture.block.clone(),
        Vec::new(),
    )
    .unwrap_or_else(|e| panic!("build: {e}"));
    let no_evidence = BTreeMap::new();
    let checking = Checking {
        chain_id: &chain.chain_id,
        parent,
        validators: &validators,
        parent_validators: &validators,
        evidence_sets: &no_evidence,
        now: Some(chain.timestamp),
        limits: BlockLimits::of(&default_consensus(false)),
    };
    let mut result = None;
    measured(&mut || result = Some(chain::check(&chain.store, checking, &built.block)));
    let checked = result
        .expect("measured ran")
        .unwrap_or_else(|e| panic!("check: {e}"));
    assert_eq!(checked.outcome.state_root, built.outcome.state_root);
    assert_all_succeeded("the checked block", &checked.outcome.receipts);
    format!(
        "block {} of {} transactions checked, signatures included",
        height.0,
        built.block.transactions.len()
    )
}

fn consensus() -> String {
    let mut config = SimConfig::honest(1, 7, 3);
    config.network = NetworkConfig::reliable(5, 30);
    config.target_height = 10;
    let mut result = None;
    measured(&mut || result = Some(sim::run(&config)));
    let report = result.expect("measured ran");
    assert!(
        report.finished && report.violations.is_empty(),
        "the simulation did not reach height 10 cleanly: {:?}",
        report.violations
    );
    format!(
        "{} heights decided, {} messages, {} engine inputs",
        config.target_height, report.messages_sent, report.inputs
    )
}

fn mempool() -> String {
    let fixture = Fixture::new();
    let chain = &fixture.chain;
    let raw: Vec<Vec<u8>> = fixture
        .block
        .iter()
        .take(MEMPOOL_BATCH)
        .map(Transaction::encode)
        .collect();
    let ctx = CheckContext {
        chain_id: chain.chain_id.clone(),
        height: Height(chain.height.0 + 1),
        timestamp: fixture.parent().timestamp,
    };
    let mut pool = Mempool::new(MempoolConfig::default()).unwrap_or_else(|e| panic!("{e}"));
    let mut result = None;
    measured(&mut || result = Some(pool.add_raw(&chain.store, &ctx, &raw)));
    let results = result.expect("measured ran");
    let refused: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().err().map(ToString::to_string))
        .collect();
    assert!(refused.is_empty(), "the pool refused {refused:?}");
    format!("{} transactions admitted, {} pooled", raw.len(), pool.len())
}
