use crate::test_utils::{documentation, draft, key, TestChain};
use accord_state::{MemStore, StateStore};
use accord_types::consensus::VoteType;
use accord_types::{Payload, Round, Vote};

use super::*;

fn proposer() -> PublicKey {
    key("validator/eu-1").public()
}

fn genesis_parent(chain: &TestChain) -> Parent {
    Parent {
        height: Height(0),
        hash: Hash::digest(accord_types::Domain::PAYLOAD, b"genesis"),
        timestamp: Timestamp(chain.timestamp.0 - 1),
    }
}

/// Block 1 with a proposal and a vote-less transaction, built on `chain`'s genesis.
fn block_one(chain: &mut TestChain) -> (Executed, ValidatorSet) {
    let (validators, _) = validators_at(&chain.store, Height(1)).unwrap();
    let txs = vec![chain.tx(
        "author",
        Payload::SubmitProposal {
            draft: Box::new(draft(&["eu"], documentation("ops/runbook.md"))),
        },
    )];
    let executed = build(
        &chain.store,
        Proposing {
            chain_id: &chain.chain_id,
            parent: genesis_parent(chain),
            proposer: proposer(),
            validators: &validators,
            last_commit: None,
            now: chain.timestamp,
        },
        txs,
        Vec::new(),
    )
    .unwrap();
    (executed, validators)
}

fn checking<'a>(chain: &'a TestChain, validators: &'a ValidatorSet) -> Checking<'a> {
    Checking {
        chain_id: &chain.chain_id,
        parent: genesis_parent(chain),
        validators,
        parent_validators: validators,
        evidence_sets: &NO_SETS,
        now: Some(chain.timestamp),
        limits: LIMITS,
    }
}

/// No earlier validator sets (blocks without evidence of earlier heights).
static NO_SETS: BTreeMap<Height, ValidatorSet> = BTreeMap::new();

/// Roomy limits for the tests that are not about them.
const LIMITS: BlockLimits = BlockLimits {
    max_bytes: 1 << 20,
    max_txs: 100,
};

#[test]
fn a_block_over_the_chains_limits_is_invalid() {
    let mut chain = TestChain::new();
    let (built, validators) = block_one(&mut chain);
    let len = accord_types::codec::encode(&built.block).len() as u64;
    let fits = Checking {
        limits: BlockLimits {
            max_bytes: len,
            max_txs: 1,
        },
        ..checking(&chain, &validators)
    };
    check(&chain.store, fits, &built.block).unwrap();
    for (limits, expected) in [
        (
            BlockLimits {
                max_bytes: len - 1,
                max_txs: 1,
            },
            "bytes; a block holds at most",
        ),
        (
            BlockLimits {
                max_bytes: len,
                max_txs: 0,
            },
            "1 transactions; a block holds at most 0",
        ),
    ] {
        let over = Checking {
            limits,
            ..checking(&chain, &validators)
        };
        let error = check(&chain.store, over, &built.block).unwrap_err();
        assert!(error.is_block_fault());
        assert!(error.to_string().contains(expected), "{expected}: {error}");
    }
}

#[test]
fn a_built_block_checks_and_executes_to_the_same_roots() {
    let mut chain = TestChain::new();
    let (built, validators) = block_one(&mut chain);
    let checked = check(&chain.store, checking(&chain, &validators), &built.block).unwrap();
    assert_eq!(checked.outcome.state_root, built.outcome.state_root);
    assert_eq!(checked.outcome.batch, built.outcome.batch);
    assert_eq!(built.block.header.height, Height(1));
    assert_eq!(built.block.transactions.len(), 1);
}

#[test]
fn every_header_lie_is_caught() {
    let mut chain = TestChain::new();
    let (built, validators) = block_one(&mut chain);
    type Tamper = fn(&mut Block);
    let cases: [(&str, Tamper); 10] = [
        ("chain id", |b| {
            b.header.chain_id = ChainId::new("other").unwrap();
        }),
        ("height", |b| b.header.height = Height(2)),
        ("parent hash", |b| b.header.parent_hash = Hash::ZERO),
        ("not later than the parent", |b| {
            b.header.timestamp = Timestamp(0);
        }),
        ("ahead of this node's clock", |b| {
            b.header.timestamp = Timestamp(b.header.timestamp.0 + MAX_CLOCK_DRIFT_MS + 1_000);
        }),
        ("is not a validator", |b| {
            b.header.proposer = key("author").public();
        }),
        ("validator set hash", |b| {
            b.header.validator_set_hash = Hash::ZERO;
        }),
        ("transactions root", |b| {
            b.transactions.clear();
        }),
        ("state root", |b| b.header.state_root = Hash::ZERO),
        ("receipts root", |b| b.header.receipts_root = Hash::ZERO),
    ];
    for (expected, tamper) in cases {
        let mut block = built.block.clone();
        tamper(&mut block);
        let error = check(&chain.store, checking(&chain, &validators), &block).unwrap_err();
        assert!(error.is_block_fault());
        assert!(error.to_string().contains(expected), "{expected}: {error}");
    }
}

#[test]
fn a_transaction_with_a_bad_signature_makes_the_block_invalid() {
    let mut chain = TestChain::new();
    let (validators, _) = validators_at(&chain.store, Height(1)).unwrap();
    let mut tx = chain.tx(
        "author",
        Payload::SubmitProposal {
            draft: Box::new(draft(&["eu"], documentation("ops/a.md"))),
        },
    );
    tx.signature = key("author").sign(b"something else");
    // The proposer skipped the check; the others do not.
    let built = build(
        &chain.store,
        Proposing {
            chain_id: &chain.chain_id,
            parent: genesis_parent(&chain),
            proposer: proposer(),
            validators: &validators,
            last_commit: None,
            now: chain.timestamp,
        },
        vec![tx],
        Vec::new(),
    )
    .unwrap();
    let error = check(&chain.store, checking(&chain, &validators), &built.block).unwrap_err();
    // Refused there, the submission creates no proposal: the state differs first.
    assert!(error.to_string().contains("state root"), "{error}");
}

#[test]
fn the_second_block_must_carry_a_quorum_certificate_for_the_first() {
    let mut chain = TestChain::new();
    let (built, validators) = block_one(&mut chain);
    let mut store = MemStore::new();
    // The state after block 1.
    store.write(&genesis_batch()).unwrap();
    store.write(&built.outcome.batch).unwrap();
    let parent = Parent {
        height: Height(1),
        hash: built.block.hash(),
        timestamp: built.block.header.timestamp,
    };
    let precommits: Vec<Vote> = ["eu-1", "eu-2", "us-1", "ap-1"]
        .iter()
        .map(|name| {
            Vote::sign(
                &key(&format!("validator/{name}")),
                &chain.chain_id,
                Height(1),
                Round(0),
                VoteType::Precommit,
                Some(parent.hash),
            )
        })
        .collect();
    let full = CommitCertificate::from_precommits(Height(1), Round(0), parent.hash, &precommits);
    let weak =
        CommitCertificate::from_precommits(Height(1), Round(0), parent.hash, &precommits[..2]);
    let propose = |last_commit| {
        build(
            &store,
            Proposing {
                chain_id: &chain.chain_id,
                parent,
                proposer: proposer(),
                validators: &validators,
                last_commit,
                now: Timestamp(parent.timestamp.0 + 1_000),
            },
            Vec::new(),
            Vec::new(),
        )
        .unwrap()
    };
    let checking = Checking {
        chain_id: &chain.chain_id,
        parent,
        validators: &validators,
        parent_validators: &validators,
        evidence_sets: &NO_SETS,
        now: Some(Timestamp(parent.timestamp.0 + 1_000)),
        limits: LIMITS,
    };
    let good = propose(Some(full));
    check(&store, checking, &good.block).unwrap();
    let error = check(&store, checking, &propose(Some(weak)).block).unwrap_err();
    assert!(
        error.to_string().contains("more than two thirds"),
        "{error}"
    );
    let error = check(&store, checking, &propose(None).block).unwrap_err();
    assert!(error.to_string().contains("no certificate"), "{error}");
}

fn genesis_batch() -> accord_state::WriteBatch {
    crate::test_utils::genesis()
        .build(&MemStore::new())
        .unwrap()
        .batch
}

fn double_vote(name: &str, chain_id: &ChainId, height: Height) -> Evidence {
    let key = key(&format!("validator/{name}"));
    let vote = |block: &[u8]| {
        Vote::sign(
            &key,
            chain_id,
            height,
            Round(0),
            VoteType::Prevote,
            Some(Hash::digest(accord_types::Domain::PAYLOAD, block)),
        )
    };
    Evidence::duplicate_vote(vote(b"a"), vote(b"b")).unwrap()
}

#[test]
fn evidence_is_judged_by_the_set_of_its_own_height() {
    let mut chain = TestChain::new();
    let (validators, _) = validators_at(&chain.store, Height(1)).unwrap();
    let chain_id = chain.chain_id.clone();
    let build_with = |chain: &mut TestChain, evidence: Vec<Evidence>| {
        build(
            &chain.store,
            Proposing {
                chain_id: &chain.chain_id,
                parent: genesis_parent(chain),
                proposer: proposer(),
                validators: &validators,
                last_commit: None,
                now: chain.timestamp,
            },
            Vec::new(),
            evidence,
        )
        .unwrap()
    };
    // Evidence of the block's own height is judged by the block's set.
    let own = build_with(&mut chain, vec![double_vote("eu-2", &chain_id, Height(1))]);
    check(&chain.store, checking(&chain, &validators), &own.block).unwrap();
    // Evidence of a later height cannot be.
    let later = build_with(&mut chain, vec![double_vote("eu-2", &chain_id, Height(2))]);
    let error = check(&chain.store, checking(&chain, &validators), &later.block).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("evidence of height 2 in a block of height 1"),
        "{error}"
    );
    assert!(error.is_block_fault());

    // Earlier heights are judged by their own sets: a signer of that set counts, one
    // only in the block's set does not; a height whose set is unknown is refused.
    let earlier = [double_vote("eu-2", &chain.chain_id, Height(3))];
    assert_eq!(
        evidence_heights(Height(5), &earlier),
        BTreeSet::from([Height(3)])
    );
    assert!(evidence_heights(Height(3), &earlier).is_empty());
    let with_set = |sets: &BTreeMap<Height, ValidatorSet>| -> Result<(), BlockError> {
        let checking = Checking {
            evidence_sets: sets,
            ..checking(&chain, &validators)
        };
        let set = evidence_set(&checking, Height(5), Height(3))?;
        Ok(earlier[0].verify(&chain.chain_id, set)?)
    };
    let error = with_set(&BTreeMap::new()).unwrap_err();
    assert!(
        error.to_string().contains("validator set is not known"),
        "{error}"
    );
    with_set(&BTreeMap::from([(Height(3), validators.clone())])).unwrap();
    let others = ValidatorSet::new(
        vec![crate::test_utils::validator_spec("us-9", "us", 10).to_validator()],
        accord_types::QuorumRule::Global,
    )
    .unwrap();
    assert!(with_set(&BTreeMap::from([(Height(3), others)])).is_err());
}

#[test]
fn a_signature_the_caller_knows_is_not_checked_again_and_any_other_is() {
    let mut chain = TestChain::new();
    let (validators, _) = validators_at(&chain.store, Height(1)).unwrap();
    let good = chain.tx(
        "author",
        Payload::SubmitProposal {
            draft: Box::new(draft(&["eu"], documentation("ops/one.md"))),
        },
    );
    let mut forged = chain.tx(
        "author",
        Payload::SubmitProposal {
            draft: Box::new(draft(&["eu"], documentation("ops/two.md"))),
        },
    );
    // A signature of other bytes: it does not verify.
    forged.signature = good.signature;
    // Built as a pool would after verifying both: the forged one succeeds in it.
    let built = build(
        &chain.store,
        Proposing {
            chain_id: &chain.chain_id,
            parent: genesis_parent(&chain),
            proposer: proposer(),
            validators: &validators,
            last_commit: None,
            now: chain.timestamp,
        },
        vec![good.clone(), forged.clone()],
        Vec::new(),
    )
    .unwrap();
    let block = built.block;
    let (good_hash, forged_hash) = (good.hash(), forged.hash());

    // Checked in full, the forged signature fails: another state than the header's.
    let full = check(&chain.store, checking(&chain, &validators), &block);
    assert!(
        matches!(&full, Err(BlockError::Mismatch { .. })),
        "{full:?}"
    );
    // Only the good one known: the forged one is still checked.
    let partly = check_known(&chain.store, checking(&chain, &validators), &block, &|h| {
        *h == good_hash
    });
    assert!(
        matches!(&partly, Err(BlockError::Mismatch { .. })),
        "{partly:?}"
    );
    // Both known (bytes a pool admitted): neither is checked again.
    let known = check_known(&chain.store, checking(&chain, &validators), &block, &|h| {
        *h == good_hash || *h == forged_hash
    })
    .unwrap();
    assert_eq!(known.outcome.receipts_root, block.header.receipts_root);
}
