//! The checker catches more than forks: each of its other violations, made to happen
//! either by a decision handed to it directly or by a node of the simulator carrying a
//! planted defect ([`Mutation`]), is reported alone, naming the node and height.
//! Each simulated case is first run without the defect, and that run is clean.

use std::collections::BTreeSet;

use accord_consensus::sim::{self, Behaviour, Checker, Mutation, Report, SimConfig, Violation};
use accord_consensus::Decision;
use accord_types::{
    CommitCertificate, Domain, Hash, Height, PublicKey, Round, ValidatorSet, Vote, VoteType,
};

// ---- decisions handed to the checker ------------------------------------------------

/// Four validators of power 1 in two regions, keys `sim::keypair(0..4)`.
fn validator_set() -> ValidatorSet {
    SimConfig::honest(0, 4, 2).validator_set().unwrap()
}

fn block(name: &str) -> Hash {
    Hash::digest(
        Domain::new("accord-consensus-tests/checker"),
        name.as_bytes(),
    )
}

fn precommit(signer: usize, height: u64, round: u32, block_hash: Hash) -> Vote {
    Vote::sign(
        &sim::keypair(signer),
        &sim::chain_id(),
        Height(height),
        Round(round),
        VoteType::Precommit,
        Some(block_hash),
    )
}

/// A certificate of real precommits by `signers` (sorted by key, one each).
fn certificate(signers: &[usize], height: u64, round: u32, block_hash: Hash) -> CommitCertificate {
    let votes: Vec<Vote> = signers
        .iter()
        .map(|&i| precommit(i, height, round, block_hash))
        .collect();
    CommitCertificate::from_precommits(Height(height), Round(round), block_hash, &votes)
}

fn decision(height: u64, round: u32, block_hash: Hash, certificate: CommitCertificate) -> Decision {
    Decision {
        height: Height(height),
        round: Round(round),
        block_hash,
        certificate,
    }
}

/// What the checker reports for one decision by `node`.
fn check(node: usize, decision: &Decision, proposed: bool, verify: bool) -> Vec<Violation> {
    let mut checker = Checker::default();
    let chain_id = sim::chain_id();
    checker.decision(
        node,
        decision,
        proposed,
        &validator_set(),
        verify.then_some(&chain_id),
    );
    checker.into_violations()
}

/// A decision whose block nobody proposed is `Unproposed`, naming the node, height and
/// block, even with a certificate that verifies; the same decision of a proposed block
/// is clean.
#[test]
fn a_decision_of_an_unproposed_block_is_reported() {
    let x = block("x");
    let good = decision(7, 1, x, certificate(&[0, 1, 2], 7, 1, x));
    for verify in [false, true] {
        assert_eq!(check(2, &good, true, verify), []);
        assert_eq!(
            check(2, &good, false, verify),
            [Violation::Unproposed {
                node: 2,
                height: Height(7),
                block_hash: x,
            }]
        );
    }
}

/// Every way a certificate can fail to prove its decision is `BadCertificate` alone,
/// naming the node and height and saying what is wrong.
#[test]
fn a_certificate_that_does_not_prove_its_decision_is_reported() {
    let (x, y) = (block("x"), block("y"));
    let quorum = [0, 1, 2];
    let good = certificate(&quorum, 5, 2, x);
    assert_eq!(check(3, &decision(5, 2, x, good.clone()), true, false), []);
    assert_eq!(check(3, &decision(5, 2, x, good.clone()), true, true), []);

    let mut reversed = good.clone();
    reversed.signatures.reverse();
    let mut duplicated = good.clone();
    duplicated.signatures.push(good.signatures[2].clone());
    let mut outsider = good.clone();
    outsider.signatures[2] = certificate(&[9], 5, 2, x).signatures[0].clone();
    let mut forged = good;
    forged.signatures[1].signature = precommit(1, 5, 2, y).signature;

    // (certificate, whether signatures are verified, words of the reason)
    let cases = [
        (certificate(&quorum, 5, 2, y), false, "another decision"),
        (certificate(&quorum, 4, 2, x), false, "another decision"),
        (certificate(&quorum, 5, 1, x), false, "another decision"),
        (certificate(&[0, 1], 5, 2, x), false, "2 of 4 voting power"),
        (certificate(&[0, 1], 5, 2, x), true, "2 of 4 voting power"),
        (reversed.clone(), false, "increasing order"),
        (reversed, true, "increasing signer order"),
        (duplicated.clone(), false, "increasing order"),
        (duplicated, true, "two signatures"),
        (outsider.clone(), false, "is not a validator"),
        (outsider, true, "not in the validator set"),
        (forged, true, "does not verify"),
    ];
    for (i, (certificate, verify, words)) in cases.into_iter().enumerate() {
        let violations = check(3, &decision(5, 2, x, certificate), true, verify);
        match violations.as_slice() {
            [Violation::BadCertificate {
                node: 3,
                height: Height(5),
                reason,
            }] => assert!(reason.contains(words), "case {i}: {reason}"),
            other => panic!("case {i}: {other:?}"),
        }
    }
}

// ---- nodes with a planted defect ------------------------------------------------------

/// Runs `config` as it is, which must be clean, then with `mutation` in `node`.
fn run_mutated(config: &SimConfig, node: usize, mutation: Mutation) -> (Report, Report) {
    assert!(config.mutations.is_empty());
    let clean = sim::run(config);
    assert!(
        clean.violations.is_empty(),
        "without the defect: {:?}",
        clean.violations
    );
    assert!(clean.finished, "without the defect: did not finish");
    let mut mutated = config.clone();
    mutated.mutations.insert(node, mutation);
    (clean, sim::run(&mutated))
}

/// A node that decides with a certificate short of a quorum: `BadCertificate` for its
/// every decision, nothing else.
#[test]
fn a_node_deciding_with_a_trimmed_certificate_is_reported() {
    let mut config = SimConfig::honest(1, 4, 2);
    config.target_height = 3;
    for verify in [false, true] {
        config.verify_signatures = verify;
        let (_, report) = run_mutated(&config, 2, Mutation::TrimCertificate);
        assert!(report.finished);
        let mut heights = BTreeSet::new();
        for v in &report.violations {
            match v {
                Violation::BadCertificate {
                    node: 2,
                    height,
                    reason,
                } => {
                    assert!(reason.contains("1 of 4 voting power"), "{reason}");
                    heights.insert(height.get());
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(heights.is_superset(&(1..=3).collect()), "{heights:?}");
    }
}

/// A node that drops the evidence its engine outputs, among a double voter and an
/// equivocating proposer: `MissingEvidence` naming that node and one of the two
/// equivocators, for votes of both types and for proposals, nothing else.
#[test]
fn a_node_hiding_evidence_is_reported() {
    let mut config = SimConfig::honest(3, 7, 2);
    config.validators[0].behaviour = Behaviour::DoubleVoter;
    config.validators[3].behaviour = Behaviour::EquivocatingProposer;
    config.network.jitter_ms = 20;
    config.target_height = 6;
    let equivocators: BTreeSet<PublicKey> = [0, 3]
        .into_iter()
        .map(|i| sim::keypair(i).public())
        .collect();
    let (clean, report) = run_mutated(&config, 1, Mutation::HideEvidence);
    assert!(clean.evidence > 0 && clean.conflicting_proposals > 0);
    assert!(report.finished);
    let mut kinds = BTreeSet::new();
    for v in &report.violations {
        match v {
            Violation::MissingEvidence {
                node: 1,
                validator,
                kind,
                ..
            } if equivocators.contains(validator) => {
                kinds.insert(*kind);
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        kinds,
        BTreeSet::from(["precommit", "prevote", "proposal"]),
        "{:?}",
        report.violations
    );
}

/// A node that restarts from its write-ahead log and schedules the first replayed
/// timeout 1 ms later than it did the first time: `ReplayMismatch` at the first input
/// of its log (the `StartHeight` that scheduled it), nothing else.
#[test]
fn a_replay_that_differs_from_the_first_run_is_reported() {
    let mut config = SimConfig::honest(4, 4, 2);
    config.validators[1].behaviour = Behaviour::CrashRestart {
        crash_at_ms: 130,
        restart_at_ms: Some(700),
    };
    // Far enough that the restart comes before the end: heights whose precommits are
    // all in take a few milliseconds each.
    config.target_height = 40;
    let (_, report) = run_mutated(&config, 1, Mutation::TamperReplay);
    assert!(report.finished);
    assert_eq!(
        report.violations,
        [Violation::ReplayMismatch { node: 1, index: 0 }]
    );
}

/// A node that stops deciding after height 2 of 4: `Stalled` naming it and height 2,
/// nothing else; the others reach the target.
#[test]
fn a_node_that_stops_deciding_is_reported() {
    let mut config = SimConfig::honest(5, 4, 2);
    config.target_height = 4;
    config.max_time_ms = 20_000;
    let (_, report) = run_mutated(&config, 2, Mutation::StopAfter(2));
    assert!(!report.finished);
    assert_eq!(
        report.violations,
        [Violation::Stalled {
            node: 2,
            decided: 2
        }]
    );
    for (i, node) in report.nodes.iter().enumerate() {
        let decided = node.decided.map(|(h, _)| h.get());
        if i == 2 {
            assert_eq!(decided, Some(2));
        } else {
            assert!(decided >= Some(4), "node {i}: {decided:?}");
        }
    }
}

/// With one of four validators silent, every quorum needs the other three. A node
/// that loses every proposal it sends or receives below round 5 makes each height
/// decide in round 5 or later: `SlowHeight` for every height, above the bound, and
/// nothing else (the run finishes: nobody stalls).
#[test]
fn heights_decided_late_after_gst_are_reported() {
    let mut config = SimConfig::honest(6, 4, 2);
    config.validators[3].behaviour = Behaviour::Silent;
    config.target_height = 3;
    let (clean, report) = run_mutated(&config, 1, Mutation::MissProposals(5));
    assert!(report.finished);
    let mut heights = BTreeSet::new();
    for v in &report.violations {
        match v {
            Violation::SlowHeight {
                height,
                round,
                bound,
            } => {
                assert!(round.get() >= 5 && round > bound, "{v}");
                assert!(
                    clean.max_decided_round <= bound.get(),
                    "the clean run decided within the bound"
                );
                heights.insert(height.get());
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(heights, (1..=3).collect());
}
