//! Block execution throughput: one block of 10,000 votes over 1,000 proposals in three
//! regions, including the state-root update; signatures are excluded (the mempool and
//! block validation verify them in batches before execution). And the pool's check of
//! 1,024 votes with 500 voters per region, one transaction at a time and in batches.

#![allow(missing_docs)] // criterion's macros generate undocumented functions

use accord_runtime::test_utils::{self, draft, key, pipeline, region, TestChain, REGIONS};
use accord_runtime::{
    check_transaction, check_transactions, execute_block, BlockContext, CheckContext,
    SignatureCheck,
};
use accord_state::{Overlay, StateView};
use accord_types::governance::{Role, VoteChoice};
use accord_types::{Payload, ProposalId, Transaction};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

const PROPOSALS: u64 = 1_000;
const VOTES: usize = 10_000;
const VOTERS_PER_REGION: usize = 5;

struct Setup {
    chain: TestChain,
    ctx: BlockContext,
    votes: Vec<Transaction>,
}

fn setup() -> Setup {
    setup_with(PROPOSALS, VOTES, VOTERS_PER_REGION)
}

fn setup_with(proposals: u64, count: usize, voters_per_region: usize) -> Setup {
    let mut genesis = test_utils::genesis();
    for r in REGIONS {
        for n in 4..=voters_per_region {
            genesis.accounts.push((
                key(&format!("{r}-voter-{n}")).public(),
                vec![Role::Voter(region(r))],
            ));
        }
    }
    let mut chain = TestChain::from_genesis(&genesis);
    for batch in 0..4 {
        let txs: Vec<Transaction> = (0..proposals / 4)
            .map(|i| {
                let mut d = draft(&REGIONS, pipeline(&[]));
                d.title = format!("change {batch}-{i}");
                chain.tx("author", Payload::SubmitProposal { draft: Box::new(d) })
            })
            .collect();
        let mut ctx = chain.context();
        ctx.signatures = SignatureCheck::Verified;
        let outcome = chain.block_with(&ctx, &txs);
        assert!(outcome
            .receipts
            .iter()
            .all(|r| r.outcome == accord_types::Outcome::Success));
    }
    // 10 votes per proposal, spread over the regions' voters.
    let voters: Vec<(String, &str)> = REGIONS
        .iter()
        .flat_map(|r| (1..=voters_per_region).map(move |n| (format!("{r}-voter-{n}"), *r)))
        .collect();
    let mut votes = Vec::with_capacity(count);
    for i in 0..count {
        let proposal = ProposalId(1 + (i as u64 % proposals));
        let (voter, r) = &voters[(i / proposals as usize + i) % voters.len()];
        let choice = if i % 7 == 0 {
            VoteChoice::No
        } else {
            VoteChoice::Yes
        };
        votes.push(chain.tx(
            voter,
            Payload::Vote {
                proposal,
                region: region(r),
                choice,
            },
        ));
    }
    let mut ctx = chain.context();
    ctx.signatures = SignatureCheck::Verified;
    Setup { chain, ctx, votes }
}

fn votes(c: &mut Criterion) {
    let setup = setup();
    let outcome = execute_block(&setup.chain.store, &setup.ctx, &setup.votes).unwrap();
    let refused = outcome
        .receipts
        .iter()
        .filter(|r| r.outcome != accord_types::Outcome::Success)
        .count();
    assert_eq!(refused, 0, "every vote is valid");
    eprintln!(
        "block of {VOTES} votes: {} keys touched, {} raw writes",
        outcome.touched,
        outcome.batch.len()
    );

    let mut group = c.benchmark_group("runtime");
    group.throughput(Throughput::Elements(VOTES as u64));
    group.sample_size(10);
    group.bench_function("block_10k_votes_1k_proposals_3_regions", |b| {
        b.iter_batched(
            || (),
            |()| execute_block(&setup.chain.store, &setup.ctx, &setup.votes).unwrap(),
            BatchSize::PerIteration,
        );
    });
    // The same block's state writes alone, committed into the same pre-block state: the
    // share of the block's time spent on the authenticated state update.
    let writes: Vec<(Vec<u8>, Option<Vec<u8>>)> = outcome
        .batch
        .iter()
        .filter_map(|(key, value)| {
            let app_key = key.strip_prefix(&[accord_state::VALUE_PREFIX])?;
            Some((app_key.to_vec(), value.map(<[u8]>::to_vec)))
        })
        .collect();
    group.throughput(Throughput::Elements(writes.len() as u64));
    group.bench_function("state_commit_of_that_block", |b| {
        b.iter_batched(
            || writes.clone(),
            |writes| {
                let mut overlay = Overlay::new(StateView::new(&setup.chain.store));
                for (key, value) in writes {
                    match value {
                        Some(value) => overlay.put(key, value),
                        None => overlay.delete(key),
                    }
                }
                overlay.commit().unwrap()
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

/// The pool's check of votes, as admission and the re-check after a block run it: one
/// `check_transaction` per vote, or `check_transactions` over chunks of 64 (as the pool
/// does), with voter lists of 500 per region.
fn checks(c: &mut Criterion) {
    const CHECKED: usize = 1_024;
    let setup = setup_with(64, CHECKED, 500);
    let ctx = CheckContext {
        chain_id: setup.ctx.chain_id.clone(),
        height: setup.ctx.height,
        timestamp: setup.chain.timestamp,
    };
    let refs: Vec<&Transaction> = setup.votes.iter().collect();
    assert!(check_transactions(&setup.chain.store, &ctx, &refs)
        .iter()
        .all(Result::is_ok));
    let mut group = c.benchmark_group("runtime/check_1024_votes_500_voters_per_region");
    group.throughput(Throughput::Elements(CHECKED as u64));
    group.bench_function("one_at_a_time", |b| {
        b.iter(|| {
            for tx in &setup.votes {
                check_transaction(&setup.chain.store, &ctx, tx).unwrap();
            }
        });
    });
    group.bench_function("chunks_of_64", |b| {
        b.iter(|| {
            for chunk in refs.chunks(64) {
                for verdict in check_transactions(&setup.chain.store, &ctx, chunk) {
                    verdict.unwrap();
                }
            }
        });
    });
    group.finish();
}

criterion_group!(benches, votes, checks);
criterion_main!(benches);
