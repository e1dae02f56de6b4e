//! Blocks: the header commits to the body, and receipts are provable against the
//! receipts root.

use accord_types::block::{evidence_root, transactions_root};
use accord_types::governance::{ProposalKind, ProposalStatus, RiskLevel, VoteChoice};
use accord_types::receipt::receipts_root;
use accord_types::test_utils::{keypairs, validator_set};
use accord_types::validator::QuorumRule;
use accord_types::*;
use proptest::prelude::*;

fn chain() -> ChainId {
    ChainId::new("accord-test").unwrap()
}

fn transactions(n: usize) -> Vec<Transaction> {
    let keys = keypairs("block-senders", 3);
    (0..n)
        .map(|i| {
            Transaction::sign(
                &keys[i % 3],
                chain(),
                Nonce(i as u64),
                Payload::Vote {
                    proposal: ProposalId(i as u64 + 1),
                    region: RegionId::new("eu").unwrap(),
                    choice: VoteChoice::Yes,
                },
            )
        })
        .collect()
}

/// A height-2 block with transactions, one piece of evidence and the certificate
/// of height 1, its header roots computed from the body.
fn block() -> Block {
    let keys = keypairs("block-validators", 4);
    let set = validator_set(
        &[
            (&keys[0], "eu", 1),
            (&keys[1], "eu", 1),
            (&keys[2], "us", 1),
            (&keys[3], "us", 1),
        ],
        QuorumRule::Regional,
    )
    .unwrap();
    let parent = Hash::digest(Domain::HEADER, b"block 1");
    let votes: Vec<Vote> = keys
        .iter()
        .map(|k| {
            Vote::sign(
                k,
                &chain(),
                Height(1),
                Round(0),
                VoteType::Precommit,
                Some(parent),
            )
        })
        .collect();
    let last_commit = CommitCertificate::from_precommits(Height(1), Round(0), parent, &votes);
    assert_eq!(last_commit.verify(&chain(), &set), Ok(()));
    let evidence = vec![Evidence::duplicate_vote(
        Vote::sign(
            &keys[1],
            &chain(),
            Height(1),
            Round(0),
            VoteType::Prevote,
            Some(parent),
        ),
        Vote::sign(
            &keys[1],
            &chain(),
            Height(1),
            Round(0),
            VoteType::Prevote,
            None,
        ),
    )
    .unwrap()];
    let transactions = transactions(5);
    Block {
        header: Header {
            chain_id: chain(),
            height: Height(2),
            parent_hash: parent,
            timestamp: Timestamp(1_700_000_000_000),
            proposer: keys[2].public(),
            transactions_root: transactions_root(&transactions),
            evidence_root: evidence_root(&evidence),
            state_root: Hash::digest(Domain::new("state"), b"after 2"),
            receipts_root: Hash::ZERO,
            validator_set_hash: set.hash(),
            last_commit_hash: last_commit.hash(),
        },
        transactions,
        evidence,
        last_commit: Some(last_commit),
    }
}

fn mismatch(result: Result<(), Error>) -> &'static str {
    match result {
        Err(Error::Mismatch { what, .. }) => what,
        other => panic!("expected a mismatch, got {other:?}"),
    }
}

#[test]
fn a_consistent_block_passes_check_body() {
    let block = block();
    assert_eq!(block.check_body(), Ok(()));
    let decoded = Block::decode(&block.encode(), codec::MAX_BLOCK_BYTES).unwrap();
    assert_eq!(decoded, block);
    assert_eq!(decoded.check_body(), Ok(()));
    assert_eq!(block.hash(), block.header.hash());
}

#[test]
fn an_empty_block_at_height_one_passes_check_body() {
    let mut block = block();
    block.transactions.clear();
    block.evidence.clear();
    block.last_commit = None;
    block.header.transactions_root = merkle::empty_root();
    block.header.evidence_root = merkle::empty_root();
    block.header.last_commit_hash = Hash::ZERO;
    assert_eq!(block.check_body(), Ok(()));
}

#[test]
fn check_body_catches_tampered_transactions() {
    let good = block();
    let mut changed = good.clone();
    changed.transactions[2].nonce = Nonce(99);
    assert_eq!(mismatch(changed.check_body()), "transactions root");
    let mut resigned = good.clone();
    let mut sig = *resigned.transactions[0].signature.as_bytes();
    sig[5] ^= 1;
    resigned.transactions[0].signature = Signature::from_bytes(sig);
    assert_eq!(mismatch(resigned.check_body()), "transactions root");
    let mut dropped = good.clone();
    dropped.transactions.pop();
    assert_eq!(mismatch(dropped.check_body()), "transactions root");
    let mut reordered = good.clone();
    reordered.transactions.swap(0, 1);
    assert_eq!(mismatch(reordered.check_body()), "transactions root");
    let mut added = good.clone();
    added.transactions.push(transactions(6)[5].clone());
    assert_eq!(mismatch(added.check_body()), "transactions root");
    let mut duplicated = good;
    let last = duplicated.transactions[4].clone();
    duplicated.transactions.push(last);
    assert_eq!(mismatch(duplicated.check_body()), "transactions root");
}

#[test]
fn check_body_catches_tampered_evidence_and_last_commit() {
    let good = block();
    let mut no_evidence = good.clone();
    no_evidence.evidence.clear();
    assert_eq!(mismatch(no_evidence.check_body()), "evidence root");
    let mut doubled = good.clone();
    doubled.evidence.push(doubled.evidence[0].clone());
    assert_eq!(mismatch(doubled.check_body()), "evidence root");
    let mut swapped = good.clone();
    let Evidence::DuplicateVote { first, second } = swapped.evidence[0].clone();
    swapped.evidence[0] = Evidence::DuplicateVote {
        first: second,
        second: first,
    };
    assert_eq!(mismatch(swapped.check_body()), "evidence root");

    let mut no_commit = good.clone();
    no_commit.last_commit = None;
    assert_eq!(mismatch(no_commit.check_body()), "last commit hash");
    let mut fewer = good.clone();
    fewer.last_commit.as_mut().unwrap().signatures.pop();
    assert_eq!(mismatch(fewer.check_body()), "last commit hash");
    let mut reround = good.clone();
    reround.last_commit.as_mut().unwrap().round = Round(1);
    assert_eq!(mismatch(reround.check_body()), "last commit hash");
    // A certificate where the header promises none.
    let mut unexpected = good;
    unexpected.header.last_commit_hash = Hash::ZERO;
    assert_eq!(mismatch(unexpected.check_body()), "last commit hash");
}

#[test]
fn the_block_hash_commits_to_every_header_field() {
    let base = block();
    let mut variants: Vec<Header> = Vec::new();
    let h = &base.header;
    let other = Hash::digest(Domain::new("other"), b"x");
    variants.push(Header {
        chain_id: ChainId::new("other").unwrap(),
        ..h.clone()
    });
    variants.push(Header {
        height: Height(3),
        ..h.clone()
    });
    variants.push(Header {
        parent_hash: other,
        ..h.clone()
    });
    variants.push(Header {
        timestamp: Timestamp(1),
        ..h.clone()
    });
    variants.push(Header {
        proposer: Keypair::derive_insecure("p").public(),
        ..h.clone()
    });
    variants.push(Header {
        transactions_root: other,
        ..h.clone()
    });
    variants.push(Header {
        evidence_root: other,
        ..h.clone()
    });
    variants.push(Header {
        state_root: other,
        ..h.clone()
    });
    variants.push(Header {
        receipts_root: other,
        ..h.clone()
    });
    variants.push(Header {
        validator_set_hash: other,
        ..h.clone()
    });
    variants.push(Header {
        last_commit_hash: other,
        ..h.clone()
    });
    let mut hashes: Vec<Hash> = variants.iter().map(Header::hash).collect();
    hashes.push(h.hash());
    hashes.sort_unstable();
    hashes.dedup();
    assert_eq!(hashes.len(), 12, "every field changes the hash");
}

#[test]
fn a_block_over_the_chain_limit_is_refused() {
    let block = block();
    let bytes = block.encode();
    assert!(Block::decode(&bytes, bytes.len()).is_ok());
    assert!(matches!(
        Block::decode(&bytes, bytes.len() - 1),
        Err(Error::TooLarge { .. })
    ));
}

fn receipts(block: &Block) -> Vec<Receipt> {
    let mut out: Vec<Receipt> = block
        .transactions
        .iter()
        .enumerate()
        .map(|(i, tx)| Receipt {
            source: ReceiptSource::Transaction { hash: tx.hash() },
            outcome: if i % 2 == 0 {
                Outcome::Success
            } else {
                Outcome::Failed {
                    code: ErrorCode::BadNonce,
                    message: format!("expected nonce {}", i + 1),
                }
            },
            events: vec![Event::VoteCast {
                proposal: ProposalId(i as u64 + 1),
                region: RegionId::new("eu").unwrap(),
                voter: tx.signer,
                choice: VoteChoice::Yes,
            }],
        })
        .collect();
    out.push(Receipt {
        source: ReceiptSource::EndOfBlock,
        outcome: Outcome::Success,
        events: vec![
            Event::ProposalSubmitted {
                proposal: ProposalId(9),
                kind: ProposalKind::PipelineAction,
                tier: RiskLevel::High,
                regions: vec![RegionId::new("eu").unwrap()],
                voting_ends: Height(50),
            },
            Event::StatusChanged {
                proposal: ProposalId(3),
                status: ProposalStatus::Approved,
                reason: String::new(),
            },
        ],
    });
    out
}

#[test]
fn every_receipt_is_provable_against_the_header() {
    let mut block = block();
    let receipts = receipts(&block);
    block.header.receipts_root = receipts_root(&receipts);
    let root = block.header.receipts_root;
    let leaves: Vec<Hash> = receipts.iter().map(Receipt::hash).collect();
    assert_eq!(merkle::root(&leaves), root);
    for (i, receipt) in receipts.iter().enumerate() {
        let proof = merkle::prove(&leaves, i).unwrap();
        assert!(proof.verify(&root, &receipt.hash()), "receipt {i}");
        // The proof survives encoding, as it would travel to a light client.
        let decoded: merkle::Proof = codec::decode("proof", &codec::encode(&proof), 4096).unwrap();
        assert!(decoded.verify(&root, &receipt.hash()));
        // Another receipt at this index does not verify.
        let other = &receipts[(i + 1) % receipts.len()];
        assert!(!proof.verify(&root, &other.hash()));
        // A changed receipt does not verify.
        let mut forged = receipt.clone();
        forged.outcome = Outcome::Failed {
            code: ErrorCode::Frozen,
            message: "forged".into(),
        };
        assert!(!proof.verify(&root, &forged.hash()));
        // Nor against another block's root.
        assert!(!proof.verify(&receipts_root(&receipts[..i]), &receipt.hash()));
    }
    assert!(merkle::prove(&leaves, leaves.len()).is_none());
    // Dropping a receipt changes the root.
    assert_ne!(receipts_root(&receipts[1..]), root);
    assert_eq!(receipts_root(&[]), merkle::empty_root());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Proofs arrive from untrusted peers: any proof, against any root, is answered
    /// without panicking, and a proof for a real list never verifies another item.
    #[test]
    fn arbitrary_proofs_never_panic(
        proof in any::<merkle::Proof>(),
        huge in any::<bool>(),
        root in any::<Hash>(),
        item in any::<Hash>(),
    ) {
        let mut proof = proof;
        if huge {
            proof.leaf_count = u64::MAX - (proof.leaf_count % 3);
            proof.index = proof.leaf_count - 1;
        }
        prop_assert!(!proof.verify(&root, &item));
    }
}
