//! Block execution throughput: one block of 10,000 votes over 1,000 proposals in three
//! regions, including the state-root update; signatures are excluded (the mempool and
//! block validation verify them in batches before execution).

#![allow(missing_docs)] // criterion's macros generate undocumented functions

use accord_runtime::test_utils::{self, draft, key, pipeline, region, TestChain, REGIONS};
use accord_runtime::{execute_block, BlockContext, SignatureCheck};
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
    let mut genesis = test_utils::genesis();
    for r in REGIONS {
        for n in 4..=VOTERS_PER_REGION {
            genesis.accounts.push((
                key(&format!("{r}-voter-{n}")).public(),
                vec![Role::Voter(region(r))],
            ));
        }
    }
    let mut chain = TestChain::from_genesis(&genesis);
    for batch in 0..4 {
        let txs: Vec<Transaction> = (0..PROPOSALS / 4)
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
        .flat_map(|r| (1..=VOTERS_PER_REGION).map(move |n| (format!("{r}-voter-{n}"), *r)))
        .collect();
    let mut votes = Vec::with_capacity(VOTES);
    for i in 0..VOTES {
        let proposal = ProposalId(1 + (i as u64 % PROPOSALS));
        let (voter, r) = &voters[(i / PROPOSALS as usize + i) % voters.len()];
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

criterion_group!(benches, votes);
criterion_main!(benches);
