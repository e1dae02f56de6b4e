//! Admission: every refusal kind, its code and its message.

use std::time::Instant;

use accord_runtime::test_utils::{draft, key, pipeline};
use accord_types::codec::MAX_TRANSACTION_BYTES;
use accord_types::governance::VoteChoice;
use accord_types::{ChainId, ErrorCode, Nonce, Payload, ProposalId, Transaction};

use super::super::{prepare_raw, AddError, Cap, Mempool, MempoolConfig};
use super::{corrupt, hashes, voters, Fixture};

#[test]
fn config_defaults_and_validation() {
    let config = MempoolConfig::default();
    assert_eq!(config.max_txs, 10_000);
    assert_eq!(config.max_bytes, 32 * 1024 * 1024);
    assert_eq!(config.max_tx_bytes, MAX_TRANSACTION_BYTES);
    assert_eq!(config.max_per_account, 64);
    assert_eq!(config.validate(), Ok(()));

    let bad = MempoolConfig {
        max_txs: 0,
        max_bytes: 10,
        max_tx_bytes: MAX_TRANSACTION_BYTES + 1,
        max_per_account: 0,
        max_pending_blocks: 0,
        regossip_blocks: 0,
    };
    let error = bad.validate().unwrap_err();
    assert_eq!(error.problems.len(), 6, "{error}");
    let text = error.to_string();
    for field in [
        "max_txs",
        "max_per_account",
        "max_tx_bytes",
        "max_bytes",
        "max_pending_blocks",
        "regossip_blocks",
    ] {
        assert!(text.contains(field), "{text}");
    }
    assert!(Mempool::new(bad).is_err());

    // Missing fields take their defaults; unknown fields are refused.
    let partial: MempoolConfig = serde_json::from_str(r#"{"max_txs": 5}"#).unwrap();
    assert_eq!(partial.max_txs, 5);
    assert_eq!(partial.max_per_account, 64);
    assert!(serde_json::from_str::<MempoolConfig>(r#"{"max_tx": 5}"#).is_err());
}

#[test]
fn refuses_bytes_that_do_not_decode() {
    let mut f = Fixture::new();
    let tx = f.vote("eu-voter-1", 0, VoteChoice::Yes);
    let mut trailing = tx.encode();
    trailing.push(0);
    let truncated = tx.encode()[..20].to_vec();
    let results = f.add_raw(&[vec![0xff; 10], trailing, truncated, tx.encode()]);
    for result in &results[..3] {
        let error = result.clone().unwrap_err();
        assert!(matches!(error, AddError::Malformed { .. }), "{error:?}");
        assert_eq!(error.code(), Some(ErrorCode::InvalidPayload));
        assert!(error.to_string().starts_with("transaction does not decode"));
    }
    assert_eq!(results[3], Ok(tx.hash()));
    assert_eq!(f.pool.len(), 1);
}

#[test]
fn refuses_transactions_over_the_size_cap() {
    let config = MempoolConfig {
        max_tx_bytes: 1_000,
        ..MempoolConfig::default()
    };
    let mut f = Fixture::with_config(config);
    let mut big = draft(&["eu"], pipeline(&[]));
    big.description = "x".repeat(2_000);
    let tx = Transaction::sign(
        &key("author"),
        f.chain.chain_id.clone(),
        Nonce(1),
        Payload::SubmitProposal {
            draft: Box::new(big),
        },
    );
    let size = tx.encode().len();
    let expected = AddError::TooLarge { size, limit: 1_000 };
    // Encoded, decoded, and beyond the codec's own cap.
    assert_eq!(f.add_raw(&[tx.encode()]), vec![Err(expected.clone())]);
    assert_eq!(f.add(vec![tx]), vec![Err(expected.clone())]);
    let huge = vec![0u8; MAX_TRANSACTION_BYTES + 1];
    assert_eq!(
        f.add_raw(&[huge]),
        vec![Err(AddError::TooLarge {
            size: MAX_TRANSACTION_BYTES + 1,
            limit: 1_000
        })]
    );
    assert_eq!(expected.code(), Some(ErrorCode::LimitExceeded));
    assert_eq!(
        expected.to_string(),
        format!("transaction is {size} bytes, more than the limit of 1000 bytes per transaction")
    );
    assert!(f.pool.is_empty());
}

#[test]
fn refuses_wrong_chain_and_bad_signatures() {
    let mut f = Fixture::new();
    let other = ChainId::new("other-chain").unwrap();
    let foreign = Transaction::sign(
        &key("eu-voter-1"),
        other.clone(),
        Nonce(0),
        Payload::Vote {
            proposal: f.proposal,
            region: accord_runtime::test_utils::region("eu"),
            choice: VoteChoice::Yes,
        },
    );
    let forged = corrupt(f.vote("eu-voter-2", 0, VoteChoice::Yes));
    // A signature by another key over the same content.
    let mut stolen = f.vote("eu-voter-3", 0, VoteChoice::Yes);
    stolen.signer = key("us-voter-1").public();
    let results = f.add(vec![foreign, forged, stolen]);

    let wrong_chain = results[0].clone().unwrap_err();
    assert_eq!(
        wrong_chain,
        AddError::WrongChain {
            expected: f.chain.chain_id.clone(),
            found: other,
        }
    );
    assert_eq!(wrong_chain.code(), Some(ErrorCode::WrongChain));
    assert_eq!(
        wrong_chain.to_string(),
        "transaction is for chain other-chain, this node runs chain accord-test"
    );
    for (result, signer) in results[1..].iter().zip(["eu-voter-2", "us-voter-1"]) {
        let error = result.clone().unwrap_err();
        assert_eq!(
            error,
            AddError::BadSignature {
                signer: key(signer).public()
            }
        );
        assert_eq!(error.code(), Some(ErrorCode::BadSignature));
    }
    assert!(f.pool.is_empty());
}

#[test]
fn refuses_what_the_runtime_refuses() {
    let mut f = Fixture::new();
    // eu-voter-1 uses nonce 0 in a block.
    let first = f.vote("eu-voter-1", 0, VoteChoice::Yes);
    f.commit(&[first]);
    let outsider = Transaction::sign(
        &key("outsider"),
        f.chain.chain_id.clone(),
        Nonce(0),
        Payload::Vote {
            proposal: f.proposal,
            region: accord_runtime::test_utils::region("eu"),
            choice: VoteChoice::Yes,
        },
    );
    let unknown = super::vote_on(&f.chain, ProposalId(99), "eu-voter-2", 0, VoteChoice::Yes);
    let stale = f.vote("eu-voter-1", 0, VoteChoice::No);
    let results = f.add(vec![outsider, unknown, stale]);
    let codes: Vec<Option<ErrorCode>> = results
        .iter()
        .map(|r| r.clone().unwrap_err().code())
        .collect();
    assert_eq!(
        codes,
        vec![
            Some(ErrorCode::Unauthorized),
            Some(ErrorCode::UnknownProposal),
            Some(ErrorCode::BadNonce),
        ]
    );
    for result in &results {
        assert!(matches!(result, Err(AddError::Refused { .. })));
    }
    assert_eq!(
        results[1].clone().unwrap_err().to_string(),
        "there is no proposal #99"
    );
    assert_eq!(
        results[2].clone().unwrap_err().to_string(),
        "nonce 0 but the account's next nonce is 1"
    );
    assert!(f.pool.is_empty());
}

#[test]
fn refuses_duplicates_and_taken_nonces() {
    let mut f = Fixture::new();
    let yes = f.vote("eu-voter-1", 0, VoteChoice::Yes);
    let no = f.vote("eu-voter-1", 0, VoteChoice::No);
    let bad = corrupt(f.vote("eu-voter-2", 0, VoteChoice::Yes));
    // Within one batch: a copy of an admitted item, and copies of a refused one.
    let results = f.add_raw(&[yes.encode(), yes.encode(), bad.encode(), bad.encode()]);
    assert_eq!(results[0], Ok(yes.hash()));
    assert_eq!(results[1], Err(AddError::Duplicate { hash: yes.hash() }));
    let refused = AddError::BadSignature {
        signer: key("eu-voter-2").public(),
    };
    assert_eq!(results[2], Err(refused.clone()));
    assert_eq!(results[3], Err(refused));

    // Against the pool.
    let again = f.add(vec![yes.clone()]);
    let duplicate = again[0].clone().unwrap_err();
    assert!(duplicate.is_duplicate());
    assert_eq!(duplicate.code(), None);
    assert_eq!(
        duplicate.to_string(),
        format!("transaction {} is already in the mempool", yes.hash())
    );

    // Same signer and nonce, other content: not replaced.
    let taken = f.add(vec![no])[0].clone().unwrap_err();
    assert_eq!(
        taken,
        AddError::NonceTaken {
            signer: key("eu-voter-1").public(),
            nonce: 0,
            existing: yes.hash(),
        }
    );
    assert_eq!(taken.code(), Some(ErrorCode::BadNonce));
    assert!(taken.to_string().contains("not replaced"), "{taken}");
    assert_eq!(f.pool.len(), 1);
    assert_eq!(f.pool.get(&yes.hash()), Some(&yes));
}

#[test]
fn nonce_window_and_account_cap() {
    let config = MempoolConfig {
        max_per_account: 3,
        ..MempoolConfig::default()
    };
    let mut f = Fixture::with_config(config);
    let txs: Vec<Transaction> = (0..4)
        .map(|n| f.vote("eu-voter-1", n, VoteChoice::Yes))
        .collect();
    let results = f.add(txs.clone());
    assert_eq!(
        results[..3],
        hashes(&txs[..3])
            .into_iter()
            .map(Ok::<_, AddError>)
            .collect::<Vec<_>>()
    );
    let full = results[3].clone().unwrap_err();
    assert_eq!(
        full,
        AddError::AccountFull {
            signer: key("eu-voter-1").public(),
            limit: 3
        }
    );
    assert_eq!(full.code(), Some(ErrorCode::LimitExceeded));
    assert!(full.is_retryable());

    // Another account's nonce 3 is outside the window [0, 3).
    let far = f.add(vec![f.vote("eu-voter-2", 3, VoteChoice::Yes)])[0]
        .clone()
        .unwrap_err();
    assert_eq!(
        far,
        AddError::NonceTooFar {
            nonce: 3,
            next: 0,
            window: 3
        }
    );
    assert_eq!(far.code(), Some(ErrorCode::BadNonce));
    assert_eq!(
        far.to_string(),
        "nonce 3 is too far ahead: the account's next nonce is 0 and the mempool holds \
         nonces up to 2 (max_per_account = 3)"
    );
    // Once nonce 0 is committed, the window moves and the account has room again.
    let (_, dropped) = f.commit(&txs[..1]);
    assert!(dropped.is_empty());
    assert_eq!(f.add(vec![txs[3].clone()]), vec![Ok(txs[3].hash())]);
}

#[test]
fn full_pool_names_the_cap_and_its_value() {
    let mut f = Fixture::with_config(MempoolConfig {
        max_txs: 2,
        ..MempoolConfig::default()
    });
    let txs: Vec<Transaction> = ["eu-voter-1", "eu-voter-2", "eu-voter-3"]
        .iter()
        .map(|v| f.vote(v, 0, VoteChoice::Yes))
        .collect();
    let results = f.add(txs.clone());
    let full = results[2].clone().unwrap_err();
    assert_eq!(
        full,
        AddError::Full {
            cap: Cap::Transactions,
            limit: 2
        }
    );
    assert_eq!(full.code(), Some(ErrorCode::LimitExceeded));
    assert_eq!(
        full.to_string(),
        "the mempool is full: max_txs = 2 transactions reached; retry later"
    );

    // Room for two votes and a little more, but not three.
    let size = txs[0].encode().len();
    let limit = 2 * size + size / 2;
    let mut f = Fixture::with_config(MempoolConfig {
        max_bytes: limit,
        max_tx_bytes: limit,
        ..MempoolConfig::default()
    });
    let results = f.add(txs);
    assert!(results[0].is_ok() && results[1].is_ok());
    let full = results[2].clone().unwrap_err();
    assert_eq!(
        full,
        AddError::Full {
            cap: Cap::Bytes,
            limit
        }
    );
    assert_eq!(
        full.to_string(),
        format!("the mempool is full: max_bytes = {limit} bytes reached; retry later")
    );
    assert!(full.is_retryable());
    assert_eq!(f.pool.bytes(), 2 * size);
}

#[test]
fn a_batch_of_a_thousand_with_three_bad_signatures() {
    let mut f = Fixture::with_config(MempoolConfig {
        max_per_account: 128,
        ..MempoolConfig::default()
    });
    let voters = voters();
    let bad = [3usize, 500, 998];
    let raw: Vec<Vec<u8>> = (0..1000usize)
        .map(|i| {
            let voter = &voters[i % voters.len()];
            let choice = if i % 2 == 0 {
                VoteChoice::Yes
            } else {
                VoteChoice::No
            };
            let tx = f.vote(voter, (i / voters.len()) as u64, choice);
            if bad.contains(&i) {
                corrupt(tx).encode()
            } else {
                tx.encode()
            }
        })
        .collect();
    let ctx = f.ctx();
    let started = Instant::now();
    let results = f.pool.add_raw(&f.chain.store, &ctx, &raw);
    let elapsed = started.elapsed();
    eprintln!("admitted a batch of 1000 votes in {elapsed:?}");
    f.pool.check_invariants();

    let refused: Vec<usize> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_err())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(refused, bad);
    for i in bad {
        assert!(matches!(results[i], Err(AddError::BadSignature { .. })));
    }
    assert_eq!(f.pool.len(), 997);

    // A refused vote leaves a gap: the voter's later votes wait.
    let runnable: usize = voters
        .iter()
        .enumerate()
        .map(|(v, _)| {
            let first_bad = bad
                .iter()
                .filter(|&&i| i % voters.len() == v)
                .map(|&i| i / voters.len())
                .min();
            let total = (0..1000).filter(|i| i % voters.len() == v).count();
            first_bad.unwrap_or(total)
        })
        .sum();
    let reaped = f.reap(usize::MAX, usize::MAX);
    assert_eq!(reaped.len(), runnable);
    let (outcome, dropped) = f.commit(&reaped);
    assert!(dropped.is_empty());
    assert!(outcome.receipts[..reaped.len()]
        .iter()
        .all(|r| r.outcome == accord_types::Outcome::Success));
    assert_eq!(f.pool.len(), 997 - runnable);
}

#[test]
fn a_prepared_batch_is_checked_again_when_the_state_moves() {
    let mut f = Fixture::new();
    let pooled = f.vote("eu-voter-1", 0, VoteChoice::Yes);
    let ctx = f.ctx();
    let prepared = prepare_raw(
        f.pool.config(),
        &f.chain.store,
        &ctx,
        &[
            pooled.encode(),
            f.vote("eu-voter-2", 0, VoteChoice::Yes).encode(),
        ],
    );
    assert_eq!(prepared.len(), 2);
    // Meanwhile a block uses eu-voter-1's nonce 0 for another vote.
    let (_, dropped) = f.commit(&[f.vote("eu-voter-1", 0, VoteChoice::No)]);
    assert!(dropped.is_empty());
    let ctx = f.ctx();
    let results = f.pool.insert(&f.chain.store, &ctx, prepared);
    let stale = results[0].clone().unwrap_err();
    assert_eq!(stale.code(), Some(ErrorCode::BadNonce));
    assert!(results[1].is_ok());
    assert_eq!(f.pool.len(), 1);
}
