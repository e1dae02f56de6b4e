//! Nonce ordering, reaping and updates after committed blocks.

use accord_runtime::test_utils::{draft, key, pipeline};
use accord_types::governance::VoteChoice;
use accord_types::{ErrorCode, Height, Nonce, Outcome, Payload, Transaction};

use super::{hashes, Fixture};

#[test]
fn a_nonce_gap_holds_transactions_back_until_it_is_filled() {
    let mut f = Fixture::new();
    let txs: Vec<Transaction> = (0..4)
        .map(|n| f.vote("eu-voter-1", n, VoteChoice::Yes))
        .collect();
    // Nonces 0, 2 and 3 arrive; 1 is missing.
    let results = f.add(vec![txs[3].clone(), txs[0].clone(), txs[2].clone()]);
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(f.pool.len(), 3);
    assert_eq!(f.reap(100, usize::MAX), vec![txs[0].clone()]);
    assert_eq!(f.pending_nonce("eu-voter-1"), 1);
    assert_eq!(f.pending_nonce("eu-voter-2"), 0);

    // Nonce 0 is committed; 2 and 3 still wait for 1.
    let (_, dropped) = f.commit(&txs[..1]);
    assert!(dropped.is_empty());
    assert!(f.reap(100, usize::MAX).is_empty());
    assert_eq!(f.pending_nonce("eu-voter-1"), 1);

    // Filling the gap releases the whole run, in nonce order.
    assert_eq!(f.add(vec![txs[1].clone()]), vec![Ok(txs[1].hash())]);
    let reaped = f.reap(100, usize::MAX);
    assert_eq!(reaped, txs[1..].to_vec());
    assert_eq!(f.pending_nonce("eu-voter-1"), 4);
    let (outcome, dropped) = f.commit(&reaped);
    assert!(dropped.is_empty());
    assert!(outcome.receipts[..3]
        .iter()
        .all(|r| r.outcome == Outcome::Success));
    assert!(f.pool.is_empty());
    assert_eq!(f.pool.bytes(), 0);
}

#[test]
fn reap_takes_turns_across_accounts_in_arrival_order() {
    let mut f = Fixture::new();
    let a: Vec<Transaction> = (0..3)
        .map(|n| f.vote("eu-voter-1", n, VoteChoice::Yes))
        .collect();
    let b: Vec<Transaction> = (0..2)
        .map(|n| f.vote("us-voter-1", n, VoteChoice::No))
        .collect();
    let c = f.vote("ap-voter-1", 0, VoteChoice::Abstain);
    // Arrival: A0; B1 and B0 (out of nonce order); C0; then A1 and A2.
    f.add(vec![a[0].clone()]);
    f.add(vec![b[1].clone(), b[0].clone()]);
    f.add(vec![c.clone()]);
    f.add(a[1..].to_vec());

    let all = f.reap(usize::MAX, usize::MAX);
    // Round 0: A0, B0, C0 by arrival; round 1: B1 arrived before A1; round 2: A2.
    let expected = vec![
        a[0].clone(),
        b[0].clone(),
        c,
        b[1].clone(),
        a[1].clone(),
        a[2].clone(),
    ];
    assert_eq!(all, expected);
    assert_eq!(f.reap(4, usize::MAX), expected[..4].to_vec());
    assert!(f.reap(0, usize::MAX).is_empty());

    // Byte cap: room for two votes.
    let size = a[0].encode().len();
    assert_eq!(f.reap(usize::MAX, 2 * size + 1), expected[..2].to_vec());
    assert!(f.reap(usize::MAX, size - 1).is_empty());
    // Reaping changes nothing.
    assert_eq!(f.pool.len(), 6);

    let (outcome, dropped) = f.commit(&all);
    assert!(dropped.is_empty());
    assert!(outcome.receipts[..6]
        .iter()
        .all(|r| r.outcome == Outcome::Success));
    assert!(f.pool.is_empty());
}

#[test]
fn reap_skips_an_account_whose_next_transaction_does_not_fit() {
    let mut f = Fixture::new();
    // The author's large proposal arrives first, then its small follow-up and a vote.
    let mut big = draft(&["eu"], pipeline(&[]));
    big.description = "d".repeat(4_000);
    let author = |nonce, draft| {
        Transaction::sign(
            &key("author"),
            f.chain.chain_id.clone(),
            Nonce(nonce),
            Payload::SubmitProposal {
                draft: Box::new(draft),
            },
        )
    };
    let large = author(1, big);
    let small = author(2, draft(&["eu"], pipeline(&[])));
    let vote = f.vote("eu-voter-1", 0, VoteChoice::Yes);
    let results = f.add(vec![large.clone(), small, vote.clone()]);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let room = large.encode().len() - 1;
    // The large one does not fit and the author's next one must wait for it.
    assert_eq!(f.reap(usize::MAX, room), vec![vote]);
    assert_eq!(f.reap(usize::MAX, usize::MAX).len(), 3);
}

#[test]
fn update_removes_committed_and_drops_what_the_block_invalidated() {
    let mut f = Fixture::new();
    let v1: Vec<Transaction> = (0..2)
        .map(|n| f.vote("eu-voter-1", n, VoteChoice::Yes))
        .collect();
    let v2 = f.vote("eu-voter-2", 0, VoteChoice::Yes);
    let conflicting = f.vote("us-voter-1", 0, VoteChoice::Yes);
    // ap-voter-1 leaves a gap: its nonce 1 waits.
    let waiting = f.vote("ap-voter-1", 1, VoteChoice::No);
    let pooled = vec![
        v1[0].clone(),
        v1[1].clone(),
        v2.clone(),
        conflicting.clone(),
        waiting.clone(),
    ];
    assert!(f.add(pooled).iter().all(Result::is_ok));

    // A block from another proposer: two pooled votes, and us-voter-1's nonce 0 used
    // by a vote this pool never saw.
    let outside = f.vote("us-voter-1", 0, VoteChoice::No);
    let block = vec![v1[0].clone(), v2.clone(), outside];
    let (outcome, dropped) = f.commit(&block);
    assert!(outcome.receipts[..3]
        .iter()
        .all(|r| r.outcome == Outcome::Success));
    assert_eq!(dropped.len(), 1, "{dropped:?}");
    assert_eq!(dropped[0].hash, conflicting.hash());
    assert_eq!(dropped[0].code, ErrorCode::BadNonce);
    assert_eq!(
        dropped[0].message,
        "nonce 0 was used by another transaction: the account's next nonce is now 1"
    );
    assert!(!f.pool.contains(&v1[0].hash()) && !f.pool.contains(&v2.hash()));
    assert!(f.pool.contains(&v1[1].hash()) && f.pool.contains(&waiting.hash()));
    assert_eq!(f.pool.len(), 2);
    assert_eq!(
        f.pool.bytes(),
        v1[1].encode().len() + waiting.encode().len()
    );

    // Voting closes: the votes still pooled are dropped with the runtime's reason.
    let voting_ends = f.chain.voting_ends(f.proposal);
    f.chain.run_to(Height(voting_ends.0 - 1));
    let ctx = f.ctx();
    assert!(f.pool.update(&f.chain.store, &ctx, &[]).is_empty());
    assert_eq!(f.pool.len(), 2);
    let (_, dropped) = f.commit(&[]);
    assert_eq!(dropped.len(), 2, "{dropped:?}");
    // In arrival order.
    assert_eq!(dropped[0].hash, v1[1].hash());
    assert_eq!(dropped[1].hash, waiting.hash());
    for drop in &dropped {
        assert_eq!(drop.code, ErrorCode::InvalidStatus, "{drop:?}");
        assert!(drop.message.contains("voting"), "{}", drop.message);
    }
    assert!(f.pool.is_empty());
    assert_eq!(f.pool.bytes(), 0);

    // Committed hashes the pool never held are ignored.
    let ctx = f.ctx();
    assert!(f
        .pool
        .update(&f.chain.store, &ctx, &hashes(&block))
        .is_empty());
}

#[test]
fn a_transaction_that_waits_too_long_is_dropped_with_its_reason() {
    let mut f = Fixture::with_config(super::super::MempoolConfig {
        max_pending_blocks: 3,
        ..Default::default()
    });
    // eu-voter-1's nonce 2 waits for a nonce 1 that never comes; us-voter-1's nonce 0
    // is runnable but never included (blocks here are empty).
    let waiting = f.vote("eu-voter-1", 2, VoteChoice::Yes);
    let runnable = f.vote("us-voter-1", 0, VoteChoice::No);
    f.add(vec![waiting.clone(), runnable.clone()]);
    for _ in 0..3 {
        let (_, dropped) = f.commit(&[]);
        assert!(dropped.is_empty(), "{dropped:?}");
    }
    let (_, dropped) = f.commit(&[]);
    let gone: Vec<_> = dropped.iter().map(|d| d.hash).collect();
    assert_eq!(gone, [waiting.hash(), runnable.hash()]);
    assert_eq!(dropped[0].code, ErrorCode::BadNonce);
    assert!(
        dropped[0]
            .message
            .contains("waited 3 blocks for the account's nonce 0"),
        "{}",
        dropped[0].message
    );
    assert_eq!(dropped[1].code, ErrorCode::LimitExceeded);
    assert!(dropped[1].message.contains("waited 3 blocks"));
    assert!(f.pool.is_empty());
}

#[test]
fn pooled_transactions_are_gossiped_again_until_they_leave() {
    let mut f = Fixture::with_config(super::super::MempoolConfig {
        regossip_blocks: 2,
        ..Default::default()
    });
    let tx = f.vote("eu-voter-1", 5, VoteChoice::Yes);
    f.add(vec![tx.clone()]);
    let admitted = f.ctx().height.get();
    assert!(f.pool.regossip(admitted + 1, 10).is_empty(), "too soon");
    let again = f.pool.regossip(admitted + 2, 10);
    assert_eq!(again, vec![accord_types::codec::encode(&tx)]);
    assert!(f.pool.regossip(admitted + 3, 10).is_empty(), "just sent");
    assert_eq!(f.pool.regossip(admitted + 4, 10).len(), 1);
    assert!(f.pool.regossip(admitted + 100, 0).is_empty(), "capped");
}
