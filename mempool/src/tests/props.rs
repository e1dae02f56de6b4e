//! Property: for arbitrary sequences of admissions, blocks and updates, every transaction
//! ever admitted is at the end exactly one of: pooled, committed, or reported dropped.

use std::collections::BTreeSet;

use accord_types::governance::VoteChoice;
use accord_types::{Hash, Outcome};
use proptest::prelude::*;

use super::super::MempoolConfig;
use super::{corrupt, voters, Fixture};

/// One vote to offer the pool.
#[derive(Debug, Clone)]
struct Offer {
    voter: usize,
    /// Added to the voter's next nonce in state (so gaps, repeats and conflicts occur).
    ahead: u64,
    choice: u8,
    corrupt: bool,
}

#[derive(Debug, Clone)]
enum Op {
    /// Offer a batch, as encoded bytes; `repeat` offers its first item twice more.
    Add { offers: Vec<Offer>, repeat: bool },
    /// Reap up to `take` transactions, execute them as a block, and update.
    Block { take: usize },
    /// A block holding one vote this pool never saw, at the voter's next nonce.
    Outside { voter: usize, choice: u8 },
    /// Empty blocks, each followed by an update (voting eventually closes).
    Empty { blocks: u64 },
}

fn offer() -> impl Strategy<Value = Offer> {
    (0..9usize, 0..5u64, 0..4u8, proptest::bool::weighted(0.1)).prop_map(
        |(voter, ahead, choice, corrupt)| Offer {
            voter,
            ahead,
            choice,
            corrupt,
        },
    )
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (proptest::collection::vec(offer(), 1..6), any::<bool>())
            .prop_map(|(offers, repeat)| Op::Add { offers, repeat }),
        3 => (0..8usize).prop_map(|take| Op::Block { take }),
        1 => (0..9usize, 0..4u8).prop_map(|(voter, choice)| Op::Outside { voter, choice }),
        1 => (1..40u64).prop_map(|blocks| Op::Empty { blocks }),
    ]
}

fn choice(n: u8) -> VoteChoice {
    match n % 4 {
        0 => VoteChoice::Yes,
        1 => VoteChoice::No,
        2 => VoteChoice::Abstain,
        _ => VoteChoice::Veto,
    }
}

/// What the test knows happened to admitted transactions.
#[derive(Default)]
struct Ledger {
    admitted: BTreeSet<Hash>,
    committed: BTreeSet<Hash>,
    dropped: BTreeSet<Hash>,
}

impl Ledger {
    fn record_drops(&mut self, dropped: &[super::super::Dropped]) {
        for drop in dropped {
            assert!(
                self.admitted.contains(&drop.hash),
                "dropped unknown {drop:?}"
            );
            assert!(
                !self.committed.contains(&drop.hash),
                "dropped committed {drop:?}"
            );
            assert!(self.dropped.insert(drop.hash), "dropped twice {drop:?}");
            assert!(!drop.message.is_empty());
        }
    }
}

fn next_nonce(f: &Fixture, voter: &str) -> u64 {
    f.chain
        .query()
        .account(&accord_runtime::test_utils::key(voter).public())
        .unwrap()
        .nonce
}

fn run(ops: Vec<Op>) -> (Fixture, Ledger) {
    let mut f = Fixture::with_config(MempoolConfig {
        max_txs: 16,
        max_per_account: 4,
        ..MempoolConfig::default()
    });
    let voters = voters();
    let mut ledger = Ledger::default();
    for op in ops {
        match op {
            Op::Add { offers, repeat } => {
                let mut raw: Vec<Vec<u8>> = offers
                    .iter()
                    .map(|o| {
                        let voter = &voters[o.voter];
                        let nonce = next_nonce(&f, voter) + o.ahead;
                        let tx = f.vote(voter, nonce, choice(o.choice));
                        if o.corrupt {
                            corrupt(tx).encode()
                        } else {
                            tx.encode()
                        }
                    })
                    .collect();
                if repeat {
                    raw.push(raw[0].clone());
                    raw.push(raw[0].clone());
                }
                let results = f.add_raw(&raw);
                assert_eq!(results.len(), raw.len());
                for hash in results.into_iter().flatten() {
                    assert!(ledger.admitted.insert(hash), "admitted twice");
                    assert!(f.pool.contains(&hash));
                }
            }
            Op::Block { take } => {
                let reaped = f.reap(take, usize::MAX);
                assert!(reaped.len() <= take);
                for tx in &reaped {
                    assert!(ledger.committed.insert(tx.hash()), "reaped twice");
                }
                let (outcome, dropped) = f.commit(&reaped);
                // Reaped transactions are runnable: every one executes.
                for receipt in &outcome.receipts[..reaped.len()] {
                    assert_eq!(receipt.outcome, Outcome::Success);
                }
                ledger.record_drops(&dropped);
            }
            Op::Outside { voter, choice: c } => {
                let voter = &voters[voter];
                let tx = f.vote(voter, next_nonce(&f, voter), choice(c));
                let (_, dropped) = f.commit(std::slice::from_ref(&tx));
                // Equal to a pooled one, it counts as committed; otherwise it is foreign.
                if ledger.admitted.contains(&tx.hash()) && !ledger.dropped.contains(&tx.hash()) {
                    ledger.committed.insert(tx.hash());
                }
                ledger.record_drops(&dropped);
            }
            Op::Empty { blocks } => {
                for _ in 0..blocks {
                    let (_, dropped) = f.commit(&[]);
                    ledger.record_drops(&dropped);
                }
            }
        }
    }
    // Exactly one fate each.
    for hash in &ledger.admitted {
        let fates = [
            f.pool.contains(hash),
            ledger.committed.contains(hash),
            ledger.dropped.contains(hash),
        ];
        assert_eq!(
            fates.iter().filter(|&&fate| fate).count(),
            1,
            "{hash}: pooled, committed, dropped = {fates:?}"
        );
    }
    assert_eq!(
        f.pool.len(),
        ledger.admitted.len() - ledger.committed.len() - ledger.dropped.len()
    );
    (f, ledger)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_admitted_transaction_is_pooled_committed_or_dropped(
        ops in proptest::collection::vec(op(), 1..24)
    ) {
        run(ops);
    }
}

#[test]
fn pooled_votes_are_dropped_when_voting_closes() {
    // A fixed sequence that reaches the end of voting with votes pooled.
    let offers = (0..9)
        .map(|voter| Offer {
            voter,
            ahead: 1,
            choice: 0,
            corrupt: false,
        })
        .collect();
    let (f, ledger) = run(vec![
        Op::Add {
            offers,
            repeat: true,
        },
        Op::Empty { blocks: 70 },
    ]);
    assert_eq!(ledger.admitted.len(), 9);
    assert_eq!(ledger.dropped, ledger.admitted);
    assert!(f.pool.is_empty());
}
