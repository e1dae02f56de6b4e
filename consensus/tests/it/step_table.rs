//! Step tables for every rule of Algorithm 1 of "The latest gossip on BFT consensus".
//!
//! Two levels: the engine (`{desc, input, expected_outputs, new_state}`, signatures and
//! vote counting included) and the pure state machine (`{desc, state, event, action,
//! new_state}`), where every branch of the locking rules is reached directly.
//!
//! Four validators of power 1; the proposer of height 1, round r is validator (1 + r) mod 4.

use accord_consensus::state_machine::{self, Action, Event, Role};
use accord_consensus::{
    Decision, Engine, Input, Message, Output, RoundState, SignatureCheck, Step, TimeoutStep,
    Validity,
};
use accord_types::{CommitCertificate, Hash, Height, Round, Vote};

use crate::fixture::{block, state, Fixture};

/// One row of an engine step table.
struct Row {
    desc: &'static str,
    input: Input,
    expected_outputs: Vec<Output>,
    new_state: RoundState,
}

fn row(
    desc: &'static str,
    input: Input,
    expected_outputs: Vec<Output>,
    new_state: RoundState,
) -> Row {
    Row {
        desc,
        input,
        expected_outputs,
        new_state,
    }
}

fn run(engine: &mut Engine, rows: Vec<Row>) {
    for row in rows {
        let outputs = engine
            .process(row.input)
            .unwrap_or_else(|e| panic!("{}: refused: {e}", row.desc));
        assert_eq!(outputs, row.expected_outputs, "{}: outputs", row.desc);
        assert_eq!(engine.state(), Some(&row.new_state), "{}: state", row.desc);
    }
}

fn decide(h: u64, r: u32, v: Hash, precommits: &[Vote]) -> Output {
    Output::Decide(Decision {
        height: Height(h),
        round: Round(r),
        block_hash: v,
        certificate: CommitCertificate::from_precommits(Height(h), Round(r), v, precommits),
    })
}

use Step::{Commit, Precommit, Prevote, Propose};

#[test]
fn proposer_proposes_locks_and_decides_in_round_zero() {
    let f = Fixture::new(4);
    let b = block("B");
    let mut e = f.engine(1);
    run(
        &mut e,
        vec![
            row(
                "L11-L18: starting height 1 as proposer of round 0 asks for a value",
                f.start(1),
                vec![
                    Output::RequestValue {
                        height: Height(1),
                        round: Round(0),
                    },
                    f.schedule(1, 0, TimeoutStep::Propose),
                    f.schedule(1, 0, TimeoutStep::Rebroadcast),
                ],
                state(1, 0, Propose, None, None, None),
            ),
            row(
                "L19 then L22-L24: the value is proposed, and prevoted on receipt",
                Input::ProposeValue {
                    height: Height(1),
                    round: Round(0),
                    block_hash: b,
                },
                vec![
                    Output::Broadcast(Message::Proposal(f.proposal(1, 1, 0, None, b))),
                    f.send_prevote(1, 1, 0, Some(b)),
                ],
                state(1, 0, Prevote, None, None, None),
            ),
            row(
                "two prevotes for B: no quorum yet",
                f.prevote_in(0, 1, 0, Some(b)),
                vec![],
                state(1, 0, Prevote, None, None, None),
            ),
            row(
                "L36-L43: a polka for the valid proposal locks it and precommits it",
                f.prevote_in(2, 1, 0, Some(b)),
                vec![f.send_precommit(1, 1, 0, Some(b))],
                state(1, 0, Precommit, Some((0, b)), Some((0, b)), None),
            ),
            row(
                "two precommits for B: no quorum yet",
                f.precommit_in(0, 1, 0, Some(b)),
                vec![],
                state(1, 0, Precommit, Some((0, b)), Some((0, b)), None),
            ),
            row(
                "L49-L51: a quorum of precommits decides B with its certificate",
                f.precommit_in(2, 1, 0, Some(b)),
                vec![decide(
                    1,
                    0,
                    b,
                    &[
                        f.precommit(0, 1, 0, Some(b)),
                        f.precommit(1, 1, 0, Some(b)),
                        f.precommit(2, 1, 0, Some(b)),
                    ],
                )],
                state(1, 0, Commit, Some((0, b)), Some((0, b)), Some((0, b))),
            ),
            row(
                "L49: nothing happens at a decided height",
                f.timeout_in(1, 0, TimeoutStep::Propose),
                vec![],
                state(1, 0, Commit, Some((0, b)), Some((0, b)), Some((0, b))),
            ),
        ],
    );
    let certificate = e.certificate().unwrap();
    certificate
        .verify_commit(&f.chain, &f.validators, Height(1), &b)
        .unwrap();
    // A late precommit joins the certificate the node stores after the commit pause.
    e.process(f.precommit_in(3, 1, 0, Some(b))).unwrap();
    assert_eq!(e.certificate().unwrap().signatures.len(), 4);
}

#[test]
fn fresh_proposal_l22() {
    let f = Fixture::new(4);
    let b = block("B");
    let start = |e: &mut Engine| {
        run(
            e,
            vec![
                row(
                    "L21: a non-proposer starts round 0 with a propose timeout",
                    f.start(1),
                    f.round_start(1, 0),
                    state(1, 0, Propose, None, None, None),
                ),
                row(
                    "the proposal's block goes to the node for validation",
                    f.proposal_in(1, 1, 0, None, b),
                    vec![f.request_validation(1, 0, b)],
                    state(1, 0, Propose, None, None, None),
                ),
            ],
        );
    };
    let mut e = f.engine(0);
    start(&mut e);
    run(
        &mut e,
        vec![row(
            "L22-L24: valid and not locked: prevote it",
            f.valid(1, b),
            vec![f.send_prevote(0, 1, 0, Some(b))],
            state(1, 0, Prevote, None, None, None),
        )],
    );
    let mut e = f.engine(0);
    start(&mut e);
    run(
        &mut e,
        vec![row(
            "L22, L26: invalid: prevote nil",
            f.invalid(1, b),
            vec![f.send_prevote(0, 1, 0, None)],
            state(1, 0, Prevote, None, None, None),
        )],
    );
}

#[test]
fn timeouts_and_nil_quorums_move_rounds() {
    let f = Fixture::new(4);
    let b = block("B");
    let mut e = f.engine(0);
    run(
        &mut e,
        vec![
            row(
                "start",
                f.start(1),
                f.round_start(1, 0),
                state(1, 0, Propose, None, None, None),
            ),
            row(
                "proposal",
                f.proposal_in(1, 1, 0, None, b),
                vec![f.request_validation(1, 0, b)],
                state(1, 0, Propose, None, None, None),
            ),
            row(
                "L22-L24: prevote B",
                f.valid(1, b),
                vec![f.send_prevote(0, 1, 0, Some(b))],
                state(1, 0, Prevote, None, None, None),
            ),
            row(
                "two prevotes for B",
                f.prevote_in(1, 1, 0, Some(b)),
                vec![],
                state(1, 0, Prevote, None, None, None),
            ),
            row(
                "L34-L35: a quorum of mixed prevotes schedules the prevote timeout",
                f.prevote_in(2, 1, 0, None),
                vec![f.schedule(1, 0, TimeoutStep::Prevote)],
                state(1, 0, Prevote, None, None, None),
            ),
            row(
                "L34: only the first time",
                f.prevote_in(3, 1, 0, None),
                vec![],
                state(1, 0, Prevote, None, None, None),
            ),
            row(
                "L61-L64: no polka in time: precommit nil",
                f.timeout_in(1, 0, TimeoutStep::Prevote),
                vec![f.send_precommit(0, 1, 0, None)],
                state(1, 0, Precommit, None, None, None),
            ),
            row(
                "L62: the prevote timeout does nothing after the prevote step",
                f.timeout_in(1, 0, TimeoutStep::Prevote),
                vec![],
                state(1, 0, Precommit, None, None, None),
            ),
            row(
                "two precommits",
                f.precommit_in(1, 1, 0, None),
                vec![],
                state(1, 0, Precommit, None, None, None),
            ),
            row(
                "L47-L48: a quorum of precommits schedules the precommit timeout",
                f.precommit_in(2, 1, 0, None),
                vec![f.schedule(1, 0, TimeoutStep::Precommit)],
                state(1, 0, Precommit, None, None, None),
            ),
            row(
                "L47: only the first time",
                f.precommit_in(3, 1, 0, None),
                vec![],
                state(1, 0, Precommit, None, None, None),
            ),
            row(
                "L65-L67: no decision in time: round 1",
                f.timeout_in(1, 0, TimeoutStep::Precommit),
                f.round_start(1, 1),
                state(1, 1, Propose, None, None, None),
            ),
            row(
                "L58: a timeout of a round already left does nothing",
                f.timeout_in(1, 0, TimeoutStep::Propose),
                vec![],
                state(1, 1, Propose, None, None, None),
            ),
            row(
                "a timer of another height does nothing",
                f.timeout_in(7, 1, TimeoutStep::Propose),
                vec![],
                state(1, 1, Propose, None, None, None),
            ),
            row(
                "L57-L60: no proposal in time: prevote nil",
                f.timeout_in(1, 1, TimeoutStep::Propose),
                vec![f.send_prevote(0, 1, 1, None)],
                state(1, 1, Prevote, None, None, None),
            ),
            row(
                "two nil prevotes",
                f.prevote_in(1, 1, 1, None),
                vec![],
                state(1, 1, Prevote, None, None, None),
            ),
            row(
                "L44-L46: a polka for nil: precommit nil",
                f.prevote_in(2, 1, 1, None),
                vec![f.send_precommit(0, 1, 1, None)],
                state(1, 1, Precommit, None, None, None),
            ),
        ],
    );
}

/// Validator 0 locks B in round 0 while the others precommit nil, and reaches round 1.
fn locked_in_round_zero(f: &Fixture, me: usize, b: Hash) -> Engine {
    let mut e = f.engine(me);
    let others: Vec<usize> = (0..4).filter(|i| *i != me && *i != 1).collect();
    e.process(f.start(1)).unwrap();
    e.process(f.proposal_in(1, 1, 0, None, b)).unwrap();
    e.process(f.valid(1, b)).unwrap();
    e.process(f.prevote_in(1, 1, 0, Some(b))).unwrap();
    e.process(f.prevote_in(others[0], 1, 0, Some(b))).unwrap();
    assert_eq!(e.state().unwrap().locked.unwrap().value, b);
    e.process(f.precommit_in(1, 1, 0, None)).unwrap();
    e.process(f.precommit_in(others[0], 1, 0, None)).unwrap();
    e
}

#[test]
fn locked_validator_rejects_other_values_until_a_newer_polka() {
    let f = Fixture::new(4);
    let (b, c) = (block("B"), block("C"));
    let mut e = locked_in_round_zero(&f, 0, b);
    let locked_b = Some((0, b));
    run(
        &mut e,
        vec![
            row(
                "L65-L67: round 1, still locked on B",
                f.timeout_in(1, 0, TimeoutStep::Precommit),
                f.round_start(1, 1),
                state(1, 1, Propose, locked_b, locked_b, None),
            ),
            row(
                "round 1's proposer proposes C",
                f.proposal_in(2, 1, 1, None, c),
                vec![f.request_validation(1, 1, c)],
                state(1, 1, Propose, locked_b, locked_b, None),
            ),
            row(
                "L22-L23, L26: C is valid but we are locked on B: prevote nil",
                f.valid(1, c),
                vec![f.send_prevote(0, 1, 1, None)],
                state(1, 1, Prevote, locked_b, locked_b, None),
            ),
            row(
                "one prevote for C",
                f.prevote_in(1, 1, 1, Some(c)),
                vec![],
                state(1, 1, Prevote, locked_b, locked_b, None),
            ),
            row(
                "L34: mixed quorum",
                f.prevote_in(2, 1, 1, Some(c)),
                vec![f.schedule(1, 1, TimeoutStep::Prevote)],
                state(1, 1, Prevote, locked_b, locked_b, None),
            ),
            row(
                "L36-L43: a polka for C in this round moves the lock to C",
                f.prevote_in(3, 1, 1, Some(c)),
                vec![f.send_precommit(0, 1, 1, Some(c))],
                state(1, 1, Precommit, Some((1, c)), Some((1, c)), None),
            ),
        ],
    );
}

#[test]
fn locked_validator_accepts_its_own_value_again() {
    let f = Fixture::new(4);
    let b = block("B");
    let mut e = locked_in_round_zero(&f, 0, b);
    let locked_b = Some((0, b));
    e.process(f.timeout_in(1, 0, TimeoutStep::Precommit))
        .unwrap();
    run(
        &mut e,
        vec![row(
            "L22-L24: a fresh proposal of the locked value is prevoted",
            f.proposal_in(2, 1, 1, None, b),
            vec![f.send_prevote(0, 1, 1, Some(b))],
            state(1, 1, Prevote, locked_b, locked_b, None),
        )],
    );
}

#[test]
fn reproposal_with_a_newer_polka_unlocks_l28() {
    let f = Fixture::new(4);
    let (b, c) = (block("B"), block("C"));
    let mut e = locked_in_round_zero(&f, 0, b);
    let locked_b = Some((0, b));
    e.process(f.timeout_in(1, 0, TimeoutStep::Precommit))
        .unwrap();
    run(
        &mut e,
        vec![
            row(
                "two prevotes for C in round 1",
                f.prevote_in(1, 1, 1, Some(c)),
                vec![],
                state(1, 1, Propose, locked_b, locked_b, None),
            ),
            row(
                "two prevotes for C",
                f.prevote_in(2, 1, 1, Some(c)),
                vec![],
                state(1, 1, Propose, locked_b, locked_b, None),
            ),
            row(
                "a polka for C in round 1 (still in the propose step): C is sent for validation",
                f.prevote_in(3, 1, 1, Some(c)),
                vec![f.request_validation(1, 1, c)],
                state(1, 1, Propose, locked_b, locked_b, None),
            ),
            row(
                "one validator in round 2",
                f.prevote_in(1, 1, 2, Some(c)),
                vec![],
                state(1, 1, Propose, locked_b, locked_b, None),
            ),
            row(
                "L55-L56: f + 1 validators in round 2: join them",
                f.prevote_in(2, 1, 2, Some(c)),
                f.round_start(1, 2),
                state(1, 2, Propose, locked_b, locked_b, None),
            ),
            row(
                "round 2's proposer re-proposes C with valid round 1",
                f.proposal_in(3, 1, 2, Some(1), c),
                vec![],
                state(1, 2, Propose, locked_b, locked_b, None),
            ),
            row(
                "L28-L30: C valid, polka in round 1 ≥ our lock's round 0: prevote C; \
                 then L36: with validators 1 and 2 that is a polka in round 2",
                f.valid(1, c),
                vec![
                    f.send_prevote(0, 1, 2, Some(c)),
                    f.send_precommit(0, 1, 2, Some(c)),
                ],
                state(1, 2, Precommit, Some((2, c)), Some((2, c)), None),
            ),
        ],
    );
}

#[test]
fn proposer_reproposes_its_valid_value_l15() {
    let f = Fixture::new(4);
    let b = block("B");
    // Validator 2 proposes round 1. It locks B in round 0 with validators 1 and 0.
    let mut e = locked_in_round_zero(&f, 2, b);
    let locked_b = Some((0, b));
    let mut outputs = vec![Output::Broadcast(Message::Proposal(f.proposal(
        2,
        1,
        1,
        Some(0),
        b,
    )))];
    // The polka of round 0 goes along, in key order: validators 0, 1, 2 (ours).
    outputs.push(Output::Relay(Message::Vote(f.prevote(0, 1, 0, Some(b)))));
    outputs.push(Output::Relay(Message::Vote(f.prevote(1, 1, 0, Some(b)))));
    outputs.push(Output::Broadcast(Message::Vote(f.prevote(
        2,
        1,
        0,
        Some(b),
    ))));
    outputs.push(f.schedule(1, 1, TimeoutStep::Propose));
    outputs.push(f.schedule(1, 1, TimeoutStep::Rebroadcast));
    // L28-L30 on our own proposal.
    outputs.push(f.send_prevote(2, 1, 1, Some(b)));
    run(
        &mut e,
        vec![row(
            "L14-L16, L19: round 1's proposer proposes its valid value with its round",
            f.timeout_in(1, 0, TimeoutStep::Precommit),
            outputs,
            state(1, 1, Prevote, locked_b, locked_b, None),
        )],
    );
}

#[test]
fn late_polka_after_precommitting_updates_the_valid_value() {
    let f = Fixture::new(4);
    let b = block("B");
    let mut e = f.engine(0);
    e.process(f.start(1)).unwrap();
    e.process(f.proposal_in(1, 1, 0, None, b)).unwrap();
    e.process(f.valid(1, b)).unwrap();
    e.process(f.prevote_in(1, 1, 0, None)).unwrap();
    e.process(f.prevote_in(2, 1, 0, None)).unwrap();
    e.process(f.timeout_in(1, 0, TimeoutStep::Prevote)).unwrap();
    run(
        &mut e,
        vec![
            row(
                "precommitted nil; validator 3 prevotes B",
                f.prevote_in(3, 1, 0, Some(b)),
                vec![],
                state(1, 0, Precommit, None, None, None),
            ),
            row(
                "validator 2's second, conflicting prevote is evidence",
                f.prevote_in(2, 1, 0, Some(b)),
                vec![Output::Evidence(
                    accord_types::Evidence::duplicate_vote(
                        f.prevote(2, 1, 0, None),
                        f.prevote(2, 1, 0, Some(b)),
                    )
                    .unwrap(),
                )],
                state(1, 0, Precommit, None, Some((0, b)), None),
            ),
        ],
    );
}

#[test]
fn decision_in_an_earlier_round_l49() {
    let f = Fixture::new(4);
    let b = block("B");
    let mut e = f.engine(0);
    e.process(f.start(1)).unwrap();
    e.process(f.prevote_in(1, 1, 2, None)).unwrap();
    e.process(f.prevote_in(2, 1, 2, None)).unwrap();
    assert_eq!(e.state().unwrap().round, Round(2));
    let precommits: Vec<Vote> = (1..4).map(|i| f.precommit(i, 1, 0, Some(b))).collect();
    run(
        &mut e,
        vec![
            row(
                "precommits of round 0",
                f.vote_in(precommits[0].clone()),
                vec![],
                state(1, 2, Propose, None, None, None),
            ),
            row(
                "precommits of round 0",
                f.vote_in(precommits[1].clone()),
                vec![],
                state(1, 2, Propose, None, None, None),
            ),
            row(
                "a quorum of precommits for an unseen block: validate it first",
                f.vote_in(precommits[2].clone()),
                vec![f.request_validation(1, 0, b)],
                state(1, 2, Propose, None, None, None),
            ),
            row(
                "L49: decide B in round 0 while in round 2",
                f.valid(1, b),
                vec![decide(1, 0, b, &precommits)],
                state(1, 2, Commit, None, None, Some((0, b))),
            ),
        ],
    );
}

#[test]
fn decision_from_a_certificate() {
    let f = Fixture::new(4);
    let b = block("B");
    let precommits: Vec<Vote> = (1..4).map(|i| f.precommit(i, 1, 0, Some(b))).collect();
    let certificate = CommitCertificate::from_precommits(Height(1), Round(0), b, &precommits);
    let mut e = f.engine(0);
    e.process(f.start(1)).unwrap();
    run(
        &mut e,
        vec![
            row(
                "a certificate from block sync: validate its block",
                Input::Commit {
                    certificate,
                    check: SignatureCheck::Required,
                },
                vec![f.request_validation(1, 0, b)],
                state(1, 0, Propose, None, None, None),
            ),
            row(
                "L49: decide with it",
                f.valid(1, b),
                vec![decide(1, 0, b, &precommits)],
                state(1, 0, Commit, None, None, Some((0, b))),
            ),
        ],
    );
}

#[test]
fn round_skip_needs_more_than_f_l55() {
    let f = Fixture::new(4);
    let d = block("D");
    let mut e = f.engine(0);
    e.process(f.start(1)).unwrap();
    run(
        &mut e,
        vec![
            row(
                "one validator (f) in round 3 is not enough",
                f.prevote_in(1, 1, 3, None),
                vec![],
                state(1, 0, Propose, None, None, None),
            ),
            row(
                "L55-L56, L14-L18: f + 1 in round 3: we join, and propose it",
                f.prevote_in(2, 1, 3, None),
                vec![
                    Output::RequestValue {
                        height: Height(1),
                        round: Round(3),
                    },
                    f.schedule(1, 3, TimeoutStep::Propose),
                    f.schedule(1, 3, TimeoutStep::Rebroadcast),
                ],
                state(1, 3, Propose, None, None, None),
            ),
            row(
                "L19, L22-L24, then L34 with the two nil prevotes",
                Input::ProposeValue {
                    height: Height(1),
                    round: Round(3),
                    block_hash: d,
                },
                vec![
                    Output::Broadcast(Message::Proposal(f.proposal(0, 1, 3, None, d))),
                    f.send_prevote(0, 1, 3, Some(d)),
                    f.schedule(1, 3, TimeoutStep::Prevote),
                ],
                state(1, 3, Prevote, None, None, None),
            ),
            row(
                "a value for a round already left is ignored",
                Input::ProposeValue {
                    height: Height(1),
                    round: Round(0),
                    block_hash: d,
                },
                vec![],
                state(1, 3, Prevote, None, None, None),
            ),
        ],
    );
}

#[test]
fn equivocations_become_evidence_once() {
    let f = Fixture::new(4);
    let (b, c) = (block("B"), block("C"));
    let mut e = f.engine(0);
    e.process(f.start(1)).unwrap();
    let s = state(1, 0, Propose, None, None, None);
    let first = f.proposal(1, 1, 0, None, b);
    let second = f.proposal(1, 1, 0, None, c);
    run(
        &mut e,
        vec![
            row(
                "a prevote",
                f.prevote_in(3, 1, 0, Some(b)),
                vec![],
                s.clone(),
            ),
            row(
                "the same prevote again: nothing",
                f.prevote_in(3, 1, 0, Some(b)),
                vec![],
                s.clone(),
            ),
            row(
                "a different prevote of the same validator, round and type: evidence",
                f.prevote_in(3, 1, 0, Some(c)),
                vec![Output::Evidence(
                    accord_types::Evidence::duplicate_vote(
                        f.prevote(3, 1, 0, Some(b)),
                        f.prevote(3, 1, 0, Some(c)),
                    )
                    .unwrap(),
                )],
                s.clone(),
            ),
            row(
                "a third value: no second evidence",
                f.prevote_in(3, 1, 0, None),
                vec![],
                s.clone(),
            ),
            row(
                "a precommit of the same round is another step: no evidence",
                f.precommit_in(3, 1, 0, None),
                vec![],
                s.clone(),
            ),
            row(
                "the proposal",
                Input::Proposal {
                    proposal: first.clone(),
                    check: SignatureCheck::Required,
                },
                vec![f.request_validation(1, 0, b)],
                s.clone(),
            ),
            row(
                "a second proposal of the same proposer and round",
                Input::Proposal {
                    proposal: second.clone(),
                    check: SignatureCheck::Required,
                },
                vec![Output::ConflictingProposals { first, second }],
                s,
            ),
        ],
    );
}

#[test]
fn early_messages_are_requeued_when_their_height_starts() {
    let f = Fixture::new(4);
    let b = block("B");
    let mut e = f.engine(0);
    e.process(f.start(1)).unwrap();
    let early = f.prevote(1, 2, 0, Some(b));
    run(
        &mut e,
        vec![
            row(
                "a prevote of height 2 while at height 1 is kept",
                f.vote_in(early.clone()),
                vec![],
                state(1, 0, Propose, None, None, None),
            ),
            row(
                "a prevote of height 3 is dropped",
                f.prevote_in(1, 3, 0, Some(b)),
                vec![],
                state(1, 0, Propose, None, None, None),
            ),
        ],
    );
    assert_eq!(e.stored_messages(), 1);
    let mut outputs = f.round_start(2, 0);
    outputs.push(Output::Requeue(Message::Vote(early.clone())));
    run(
        &mut e,
        vec![
            row(
                "height 2 starts: the early prevote comes back",
                f.start(2),
                outputs,
                state(2, 0, Propose, None, None, None),
            ),
            row(
                "fed back, it counts",
                Input::Vote {
                    vote: early.clone(),
                    check: SignatureCheck::Verified,
                },
                vec![],
                state(2, 0, Propose, None, None, None),
            ),
        ],
    );
    assert_eq!(
        e.vote(Height(2), Round(0), early.vote_type, &early.validator),
        Some(&early)
    );
}

#[test]
fn an_observer_follows_and_decides_without_signing() {
    let f = Fixture::new(4);
    let b = block("B");
    let mut e = f.observer();
    let mut outputs = Vec::new();
    outputs.extend(e.process(f.start(1)).unwrap());
    outputs.extend(e.process(f.proposal_in(1, 1, 0, None, b)).unwrap());
    outputs.extend(e.process(f.valid(1, b)).unwrap());
    for i in 0..3 {
        outputs.extend(e.process(f.prevote_in(i, 1, 0, Some(b))).unwrap());
    }
    for i in 0..3 {
        outputs.extend(e.process(f.precommit_in(i, 1, 0, Some(b))).unwrap());
    }
    assert!(outputs.iter().all(|o| !matches!(o, Output::Broadcast(_))));
    assert!(matches!(outputs.last(), Some(Output::Decide(d)) if d.block_hash == b));
}

// ---- the state machine alone -------------------------------------------------------

struct SmRow {
    desc: &'static str,
    state: RoundState,
    event: Event,
    action: Option<Action>,
    new_state: RoundState,
}

#[test]
fn state_machine_step_table() {
    let (b, c) = (block("B"), block("C"));
    let r = |n| Round(n);
    let valid = Validity::Valid;
    let rows = vec![
        SmRow {
            desc: "L11-L13, L18: new round as proposer without a valid value: getValue()",
            state: state(1, 0, Step::Unstarted, None, None, None),
            event: Event::NewRound {
                round: r(0),
                role: Role::Proposer,
            },
            action: Some(Action::GetValue),
            new_state: state(1, 0, Propose, None, None, None),
        },
        SmRow {
            desc: "L15-L16: new round as proposer with a valid value: propose it with its round",
            state: state(1, 0, Precommit, Some((0, b)), Some((0, b)), None),
            event: Event::NewRound {
                round: r(1),
                role: Role::Proposer,
            },
            action: Some(Action::Propose {
                value: b,
                valid_round: Some(r(0)),
            }),
            new_state: state(1, 1, Propose, Some((0, b)), Some((0, b)), None),
        },
        SmRow {
            desc: "L21: new round as another's: propose timeout",
            state: state(1, 0, Precommit, None, None, None),
            event: Event::NewRound {
                round: r(1),
                role: Role::Other,
            },
            action: Some(Action::ScheduleTimeout(TimeoutStep::Propose)),
            new_state: state(1, 1, Propose, None, None, None),
        },
        SmRow {
            desc: "L11: a round not above the current one does not restart",
            state: state(1, 2, Prevote, None, None, None),
            event: Event::NewRound {
                round: r(1),
                role: Role::Other,
            },
            action: None,
            new_state: state(1, 2, Prevote, None, None, None),
        },
        SmRow {
            desc: "L19: getValue() returned",
            state: state(1, 0, Propose, None, None, None),
            event: Event::ProposeValue { value: b },
            action: Some(Action::Propose {
                value: b,
                valid_round: None,
            }),
            new_state: state(1, 0, Propose, None, None, None),
        },
        SmRow {
            desc: "L24: valid, unlocked",
            state: state(1, 0, Propose, None, None, None),
            event: Event::Proposal {
                value: b,
                validity: valid,
            },
            action: Some(Action::Prevote(Some(b))),
            new_state: state(1, 0, Prevote, None, None, None),
        },
        SmRow {
            desc: "L24: valid, locked on the same value",
            state: state(1, 1, Propose, Some((0, b)), Some((0, b)), None),
            event: Event::Proposal {
                value: b,
                validity: valid,
            },
            action: Some(Action::Prevote(Some(b))),
            new_state: state(1, 1, Prevote, Some((0, b)), Some((0, b)), None),
        },
        SmRow {
            desc: "L26: valid, locked on another value",
            state: state(1, 1, Propose, Some((0, c)), Some((0, c)), None),
            event: Event::Proposal {
                value: b,
                validity: valid,
            },
            action: Some(Action::Prevote(None)),
            new_state: state(1, 1, Prevote, Some((0, c)), Some((0, c)), None),
        },
        SmRow {
            desc: "L26: invalid",
            state: state(1, 0, Propose, None, None, None),
            event: Event::Proposal {
                value: b,
                validity: Validity::Invalid,
            },
            action: Some(Action::Prevote(None)),
            new_state: state(1, 0, Prevote, None, None, None),
        },
        SmRow {
            desc: "L22: only in the propose step",
            state: state(1, 0, Prevote, None, None, None),
            event: Event::Proposal {
                value: b,
                validity: valid,
            },
            action: None,
            new_state: state(1, 0, Prevote, None, None, None),
        },
        SmRow {
            desc: "L30: polka round ≥ locked round",
            state: state(1, 3, Propose, Some((1, c)), Some((1, c)), None),
            event: Event::ProposalAndPolkaPrevious {
                value: b,
                valid_round: r(2),
                validity: valid,
            },
            action: Some(Action::Prevote(Some(b))),
            new_state: state(1, 3, Prevote, Some((1, c)), Some((1, c)), None),
        },
        SmRow {
            desc: "L30: polka round = locked round",
            state: state(1, 3, Propose, Some((2, c)), Some((2, c)), None),
            event: Event::ProposalAndPolkaPrevious {
                value: b,
                valid_round: r(2),
                validity: valid,
            },
            action: Some(Action::Prevote(Some(b))),
            new_state: state(1, 3, Prevote, Some((2, c)), Some((2, c)), None),
        },
        SmRow {
            desc: "L30: older polka but the locked value",
            state: state(1, 3, Propose, Some((2, b)), Some((2, b)), None),
            event: Event::ProposalAndPolkaPrevious {
                value: b,
                valid_round: r(1),
                validity: valid,
            },
            action: Some(Action::Prevote(Some(b))),
            new_state: state(1, 3, Prevote, Some((2, b)), Some((2, b)), None),
        },
        SmRow {
            desc: "L32: older polka for another value than the lock",
            state: state(1, 3, Propose, Some((2, c)), Some((2, c)), None),
            event: Event::ProposalAndPolkaPrevious {
                value: b,
                valid_round: r(1),
                validity: valid,
            },
            action: Some(Action::Prevote(None)),
            new_state: state(1, 3, Prevote, Some((2, c)), Some((2, c)), None),
        },
        SmRow {
            desc: "L32: invalid",
            state: state(1, 3, Propose, None, None, None),
            event: Event::ProposalAndPolkaPrevious {
                value: b,
                valid_round: r(1),
                validity: Validity::Invalid,
            },
            action: Some(Action::Prevote(None)),
            new_state: state(1, 3, Prevote, None, None, None),
        },
        SmRow {
            desc: "L35: any polka in the prevote step",
            state: state(1, 0, Prevote, None, None, None),
            event: Event::PolkaAny,
            action: Some(Action::ScheduleTimeout(TimeoutStep::Prevote)),
            new_state: state(1, 0, Prevote, None, None, None),
        },
        SmRow {
            desc: "L34: not in the propose step",
            state: state(1, 0, Propose, None, None, None),
            event: Event::PolkaAny,
            action: None,
            new_state: state(1, 0, Propose, None, None, None),
        },
        SmRow {
            desc: "L37-L43: polka for the proposal while prevoting: lock and precommit",
            state: state(1, 1, Prevote, Some((0, c)), Some((0, c)), None),
            event: Event::ProposalAndPolkaCurrent { value: b },
            action: Some(Action::Precommit(Some(b))),
            new_state: state(1, 1, Precommit, Some((1, b)), Some((1, b)), None),
        },
        SmRow {
            desc: "L42-L43: the same after precommitting: valid value only",
            state: state(1, 1, Precommit, Some((0, c)), Some((0, c)), None),
            event: Event::ProposalAndPolkaCurrent { value: b },
            action: None,
            new_state: state(1, 1, Precommit, Some((0, c)), Some((1, b)), None),
        },
        SmRow {
            desc: "L36: not in the propose step",
            state: state(1, 1, Propose, None, None, None),
            event: Event::ProposalAndPolkaCurrent { value: b },
            action: None,
            new_state: state(1, 1, Propose, None, None, None),
        },
        SmRow {
            desc: "L45-L46: polka for nil",
            state: state(1, 0, Prevote, None, None, None),
            event: Event::PolkaNil,
            action: Some(Action::Precommit(None)),
            new_state: state(1, 0, Precommit, None, None, None),
        },
        SmRow {
            desc: "L44: only in the prevote step",
            state: state(1, 0, Precommit, None, None, None),
            event: Event::PolkaNil,
            action: None,
            new_state: state(1, 0, Precommit, None, None, None),
        },
        SmRow {
            desc: "L48: any precommit quorum, at any step",
            state: state(1, 0, Propose, None, None, None),
            event: Event::PrecommitAny,
            action: Some(Action::ScheduleTimeout(TimeoutStep::Precommit)),
            new_state: state(1, 0, Propose, None, None, None),
        },
        SmRow {
            desc: "L49-L51: decide, in any round",
            state: state(1, 3, Prevote, Some((1, c)), Some((1, c)), None),
            event: Event::ProposalAndPrecommitValue {
                round: r(1),
                value: c,
            },
            action: Some(Action::Decide {
                round: r(1),
                value: c,
            }),
            new_state: state(1, 3, Commit, Some((1, c)), Some((1, c)), Some((1, c))),
        },
        SmRow {
            desc: "L49: not twice",
            state: state(1, 3, Commit, None, None, Some((1, c))),
            event: Event::ProposalAndPrecommitValue {
                round: r(2),
                value: b,
            },
            action: None,
            new_state: state(1, 3, Commit, None, None, Some((1, c))),
        },
        SmRow {
            desc: "L55-L56: skip to a later round",
            state: state(1, 1, Precommit, None, None, None),
            event: Event::SkipRound { round: r(4) },
            action: Some(Action::StartRound(r(4))),
            new_state: state(1, 1, Precommit, None, None, None),
        },
        SmRow {
            desc: "L55: not to an earlier round",
            state: state(1, 4, Precommit, None, None, None),
            event: Event::SkipRound { round: r(4) },
            action: None,
            new_state: state(1, 4, Precommit, None, None, None),
        },
        SmRow {
            desc: "L57-L60: propose timeout",
            state: state(1, 2, Propose, None, None, None),
            event: Event::TimeoutPropose { round: r(2) },
            action: Some(Action::Prevote(None)),
            new_state: state(1, 2, Prevote, None, None, None),
        },
        SmRow {
            desc: "L58: stale propose timeout",
            state: state(1, 2, Propose, None, None, None),
            event: Event::TimeoutPropose { round: r(1) },
            action: None,
            new_state: state(1, 2, Propose, None, None, None),
        },
        SmRow {
            desc: "L61-L64: prevote timeout",
            state: state(1, 2, Prevote, None, None, None),
            event: Event::TimeoutPrevote { round: r(2) },
            action: Some(Action::Precommit(None)),
            new_state: state(1, 2, Precommit, None, None, None),
        },
        SmRow {
            desc: "L62: prevote timeout outside the prevote step",
            state: state(1, 2, Precommit, None, None, None),
            event: Event::TimeoutPrevote { round: r(2) },
            action: None,
            new_state: state(1, 2, Precommit, None, None, None),
        },
        SmRow {
            desc: "L65-L67: precommit timeout, at any step",
            state: state(1, 2, Prevote, None, None, None),
            event: Event::TimeoutPrecommit { round: r(2) },
            action: Some(Action::StartRound(r(3))),
            new_state: state(1, 2, Prevote, None, None, None),
        },
        SmRow {
            desc: "L66: stale precommit timeout",
            state: state(1, 2, Prevote, None, None, None),
            event: Event::TimeoutPrecommit { round: r(1) },
            action: None,
            new_state: state(1, 2, Prevote, None, None, None),
        },
    ];
    for row in rows {
        let mut s = row.state.clone();
        let action = state_machine::apply(&mut s, row.event);
        assert_eq!(action, row.action, "{}: action", row.desc);
        assert_eq!(s, row.new_state, "{}: state", row.desc);
    }
}
