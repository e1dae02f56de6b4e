//! Malformed, out-of-set and flooding messages: errors, never panics, bounded memory.

use accord_consensus::engine::MAX_EARLY_PER_VALIDATOR;
use accord_consensus::vote_keeper::{MAX_FUTURE_ROUNDS, MAX_VALUES_PER_VALIDATOR};
use accord_consensus::{Engine, EngineConfig, Error, Input, SignatureCheck};
use accord_types::{
    ChainId, CommitCertificate, ConsensusProposal, Height, Keypair, QuorumRule, Round, Signature,
    Vote, VoteType,
};
use proptest::prelude::*;

use crate::fixture::{block, Fixture};

/// Refuses the input and leaves the engine exactly as it was.
fn refused(e: &mut Engine, input: Input) -> Error {
    let (state, stored) = (e.state().cloned(), e.stored_messages());
    let err = e.process(input).expect_err("input accepted");
    assert_eq!(e.state().cloned(), state);
    assert_eq!(e.stored_messages(), stored);
    err
}

#[test]
fn bad_messages_are_errors() {
    let f = Fixture::new(4);
    let b = block("B");
    let stranger = Keypair::derive_insecure("stranger");
    let mut e = f.engine(0);

    // Before any height.
    assert_eq!(
        refused(&mut e, f.prevote_in(1, 1, 0, Some(b))),
        Error::NotStarted
    );
    e.process(f.start(1)).unwrap();

    // A stranger's vote and proposal.
    let vote = Vote::sign(
        &stranger,
        &f.chain,
        Height(1),
        Round(0),
        VoteType::Prevote,
        Some(b),
    );
    let err = refused(&mut e, f.vote_in(vote));
    assert!(matches!(err, Error::UnknownValidator { .. }) && err.is_peer_fault());
    let proposal = ConsensusProposal::sign(&stranger, &f.chain, Height(1), Round(0), None, b);
    let input = Input::Proposal {
        proposal,
        check: SignatureCheck::Required,
    };
    assert!(matches!(
        refused(&mut e, input),
        Error::UnknownValidator { .. }
    ));

    // A tampered signature, and a signature for another chain.
    let mut vote = f.prevote(1, 1, 0, Some(b));
    vote.block_hash = None;
    assert!(matches!(
        refused(&mut e, f.vote_in(vote)),
        Error::InvalidSignature { .. }
    ));
    let other_chain = ChainId::new("another-chain").unwrap();
    let vote = Vote::sign(
        &f.keys[1],
        &other_chain,
        Height(1),
        Round(0),
        VoteType::Prevote,
        Some(b),
    );
    assert!(matches!(
        refused(&mut e, f.vote_in(vote)),
        Error::InvalidSignature { .. }
    ));
    let mut vote = f.prevote(1, 1, 0, Some(b));
    vote.signature = Signature::from_bytes([0xff; 64]);
    assert!(matches!(
        refused(&mut e, f.vote_in(vote)),
        Error::InvalidSignature { .. }
    ));

    // Proposals out of turn or with an impossible valid round.
    let err = refused(&mut e, f.proposal_in(2, 1, 0, None, b));
    assert!(matches!(err, Error::WrongProposer { .. }) && err.is_peer_fault());
    let err = refused(&mut e, f.proposal_in(1, 1, 0, Some(0), b));
    assert!(matches!(err, Error::InvalidValidRound { .. }));
    let err = refused(&mut e, f.proposal_in(2, 1, 1, Some(5), b));
    assert!(matches!(err, Error::InvalidValidRound { .. }));

    // Certificates that prove nothing.
    let two: Vec<Vote> = (1..3).map(|i| f.precommit(i, 1, 0, Some(b))).collect();
    let short = CommitCertificate::from_precommits(Height(1), Round(0), b, &two);
    for check in [SignatureCheck::Required, SignatureCheck::Verified] {
        let input = Input::Commit {
            certificate: short.clone(),
            check,
        };
        assert!(matches!(
            refused(&mut e, input),
            Error::InvalidCertificate { .. }
        ));
    }
    let three: Vec<Vote> = (1..4).map(|i| f.precommit(i, 1, 0, Some(b))).collect();
    let mut forged = CommitCertificate::from_precommits(Height(1), Round(0), b, &three);
    forged.signatures[0].signature = Signature::from_bytes([7; 64]);
    let input = Input::Commit {
        certificate: forged,
        check: SignatureCheck::Required,
    };
    assert!(matches!(
        refused(&mut e, input),
        Error::InvalidCertificate { .. }
    ));

    // Node mistakes: not peer faults.
    let err = refused(&mut e, f.start(1));
    assert!(matches!(err, Error::HeightNotIncreasing { .. }) && !err.is_peer_fault());
    let regional = Fixture::with_regions(&["eu", "eu", "us", "us"], QuorumRule::Regional);
    let input = Input::StartHeight {
        height: Height(2),
        validators: regional.validators,
        history: vec![],
    };
    assert!(matches!(
        refused(&mut e, input),
        Error::QuorumRuleMismatch { .. }
    ));
}

#[test]
fn late_repeated_and_far_messages_are_ignored() {
    let f = Fixture::new(4);
    let b = block("B");
    let mut e = f.engine(0);
    e.process(f.start(5)).unwrap();
    for input in [
        f.prevote_in(1, 4, 0, Some(b)), // a past height
        f.prevote_in(1, 9, 0, Some(b)), // too far ahead
        f.timeout_in(4, 0, accord_consensus::TimeoutStep::Propose),
        f.valid(5, b), // never asked for
        f.valid(4, b),
    ] {
        assert_eq!(e.process(input).unwrap(), vec![]);
    }
    assert_eq!(e.stored_messages(), 0);
}

#[test]
fn a_flood_of_future_rounds_stays_bounded() {
    let f = Fixture::new(4);
    let b = block("B");
    let mut e = f.engine(0);
    e.process(f.start(1)).unwrap();
    // Validator 3 votes in ten thousand future rounds, both types, three values each.
    for r in 1..10_000u32 {
        for value in [Some(b), None, Some(block(&r.to_string()))] {
            for t in [VoteType::Prevote, VoteType::Precommit] {
                let input = Input::Vote {
                    vote: f.vote(3, 1, r, t, value),
                    check: SignatureCheck::Verified,
                };
                e.process(input).unwrap();
            }
        }
    }
    // And proposes in every future round it owns.
    for r in (2..10_000u32).step_by(4) {
        let input = Input::Proposal {
            proposal: f.proposal(3, 1, r, None, b),
            check: SignatureCheck::Verified,
        };
        e.process(input).unwrap();
    }
    let bound = MAX_FUTURE_ROUNDS * 2 * MAX_VALUES_PER_VALIDATOR + MAX_FUTURE_ROUNDS;
    assert!(
        e.stored_messages() <= bound,
        "{} stored",
        e.stored_messages()
    );
    assert_eq!(
        e.state().unwrap().round,
        Round(0),
        "one validator cannot move us"
    );
    // The height still decides.
    e.process(f.proposal_in(1, 1, 0, None, b)).unwrap();
    e.process(f.valid(1, b)).unwrap();
    for i in 1..3 {
        e.process(f.prevote_in(i, 1, 0, Some(b))).unwrap();
    }
    let mut decided = false;
    for i in 1..3 {
        decided |= e
            .process(f.precommit_in(i, 1, 0, Some(b)))
            .unwrap()
            .iter()
            .any(|o| matches!(o, accord_consensus::Output::Decide(_)));
    }
    assert!(decided);
}

#[test]
fn a_flood_of_next_height_messages_stays_bounded() {
    let f = Fixture::new(4);
    let mut e = f.engine(0);
    e.process(f.start(1)).unwrap();
    for i in 1..4 {
        for r in 0..1_000u32 {
            e.process(f.prevote_in(i, 2, r, Some(block("X")))).unwrap();
        }
    }
    assert_eq!(e.stored_messages(), 3 * MAX_EARLY_PER_VALIDATOR);
}

fn engine_config(f: &Fixture, me: usize) -> EngineConfig {
    EngineConfig {
        chain_id: f.chain.clone(),
        params: f.params.clone(),
        keypair: Some(f.keys[me].clone()),
    }
}

/// A random input near the engine's height: votes and proposals from members or
/// strangers, for nearby or absurd heights and rounds, signed or garbage; values;
/// verdicts; timeouts; certificates.
fn arbitrary_input(f: &'static Fixture) -> impl Strategy<Value = Input> {
    let height = prop_oneof![Just(1u64), Just(2), Just(3), any::<u64>()];
    let round = prop_oneof![0u32..4, any::<u32>()];
    let value = prop_oneof![
        Just(None),
        (0u8..3).prop_map(|i| Some(block(&i.to_string())))
    ];
    let signer = 0usize..5; // 4 is a stranger
    let check = prop_oneof![
        Just(SignatureCheck::Verified),
        Just(SignatureCheck::Required)
    ];
    let key = move |i: usize| {
        f.keys
            .get(i)
            .cloned()
            .unwrap_or_else(|| Keypair::derive_insecure("stranger"))
    };
    prop_oneof![
        (
            signer.clone(),
            height.clone(),
            round.clone(),
            any::<bool>(),
            value.clone(),
            check.clone()
        )
            .prop_map(move |(i, h, r, pre, v, check)| {
                let t = if pre {
                    VoteType::Prevote
                } else {
                    VoteType::Precommit
                };
                Input::Vote {
                    vote: Vote::sign(&key(i), &f.chain, Height(h), Round(r), t, v),
                    check,
                }
            }),
        (
            signer,
            height.clone(),
            round.clone(),
            prop::option::of(round.clone()),
            check
        )
            .prop_map(move |(i, h, r, vr, check)| Input::Proposal {
                proposal: ConsensusProposal::sign(
                    &key(i),
                    &f.chain,
                    Height(h),
                    Round(r),
                    vr.map(Round),
                    block("P")
                ),
                check,
            }),
        any::<Vote>().prop_map(|vote| Input::Vote {
            vote,
            check: SignatureCheck::Required
        }),
        any::<CommitCertificate>().prop_map(|certificate| Input::Commit {
            certificate,
            check: SignatureCheck::Required
        }),
        (height.clone(), round.clone(), value.clone()).prop_map(|(h, r, v)| Input::ProposeValue {
            height: Height(h),
            round: Round(r),
            block_hash: v.unwrap_or_default(),
        }),
        (height.clone(), value, any::<bool>()).prop_map(|(h, v, ok)| Input::Validity {
            height: Height(h),
            block_hash: v.unwrap_or_default(),
            verdict: if ok {
                accord_consensus::Validity::Valid
            } else {
                accord_consensus::Validity::Invalid
            },
        }),
        (height, round, 0u8..4).prop_map(|(h, r, s)| Input::TimeoutElapsed {
            height: Height(h),
            round: Round(r),
            step: [
                accord_consensus::TimeoutStep::Propose,
                accord_consensus::TimeoutStep::Prevote,
                accord_consensus::TimeoutStep::Precommit,
                accord_consensus::TimeoutStep::Rebroadcast,
            ][s as usize],
        }),
    ]
}

fn fixture() -> &'static Fixture {
    use std::sync::OnceLock;
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| Fixture::new(4))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any input sequence: no panic, errors leave the state alone, memory stays within
    /// the documented bounds.
    #[test]
    fn random_inputs_never_panic(inputs in prop::collection::vec(arbitrary_input(fixture()), 1..120)) {
        let f = fixture();
        let mut e = Engine::new(engine_config(f, 0));
        e.process(f.start(1)).unwrap();
        for input in inputs {
            let (state, stored) = (e.state().cloned(), e.stored_messages());
            if e.process(input).is_err() {
                prop_assert_eq!(e.state().cloned(), state);
                prop_assert_eq!(e.stored_messages(), stored);
            }
            let rounds = e.state().map_or(0, |s| s.round.get() as usize) + 1 + MAX_FUTURE_ROUNDS;
            let bound = 4 * (rounds * 2 * MAX_VALUES_PER_VALIDATOR + MAX_EARLY_PER_VALIDATOR) + rounds;
            prop_assert!(e.stored_messages() <= bound);
        }
    }
}
