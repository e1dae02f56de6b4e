//! Property tests: arbitrary transaction sequences against the runtime's invariants.

use std::collections::BTreeMap;

use accord_runtime::records::{is_allowed_transition, is_terminal, Tally};
use accord_runtime::test_utils::{self, draft, pipeline, region, TestChain, REGIONS};
use accord_runtime::{check_transaction, check_transactions, CheckContext, Genesis, Query};
use accord_types::governance::{
    ExecutionMode, ExecutionOutcome, GovernanceChange, ProposalBody, ProposalStatus, RiskLevel,
    RoadmapChange, RoadmapChangeKind, Role, Urgency, VoteChoice,
};
use accord_types::params::TierParams;
use accord_types::{Event, Height, Payload, ProposalId, PublicKey, RegionId, Transaction};
use proptest::prelude::*;

/// The test genesis with short periods, so that proposals live and die within a few blocks.
fn fast_genesis() -> Genesis {
    let mut genesis = test_utils::genesis();
    for tier in RiskLevel::ALL {
        let params = genesis.params.tiers.get_mut(tier);
        params.voting_period = 3;
        params.enactment_delay = 1;
    }
    genesis.params.execution.claim_lease_blocks = 2;
    genesis.params.execution.emergency_ratification_blocks = 4;
    genesis
}

const SIGNERS: [&str; 9] = [
    "author",
    "guardian",
    "eu-voter-1",
    "eu-voter-2",
    "us-voter-1",
    "ap-voter-1",
    "eu-agent",
    "us-agent",
    "outsider",
];

#[derive(Debug, Clone)]
enum Action {
    Submit {
        regions: Vec<usize>,
        kind: u8,
        emergency: bool,
        manual: bool,
        dependency: Option<u64>,
    },
    Vote {
        proposal: u64,
        region: usize,
        choice: VoteChoice,
        ratify: bool,
    },
    Cancel {
        proposal: u64,
    },
    Execute {
        proposal: u64,
    },
    Claim {
        proposal: u64,
        region: usize,
        phase: u16,
    },
    Report {
        proposal: u64,
        region: usize,
        phase: u16,
        outcome: u8,
        right_digest: bool,
    },
    Garbage(Box<Transaction>),
}

fn choice() -> impl Strategy<Value = VoteChoice> {
    prop_oneof![
        4 => Just(VoteChoice::Yes),
        2 => Just(VoteChoice::No),
        1 => Just(VoteChoice::Abstain),
        1 => Just(VoteChoice::Veto),
    ]
}

fn action() -> impl Strategy<Value = Action> {
    let proposal = 1u64..8;
    prop_oneof![
        3 => (proptest::collection::vec(0usize..3, 1..3), 0u8..4, proptest::bool::weighted(0.15), any::<bool>(), proptest::option::of(1u64..6))
            .prop_map(|(regions, kind, emergency, manual, dependency)| Action::Submit { regions, kind, emergency, manual, dependency }),
        8 => (proposal.clone(), 0usize..3, choice(), proptest::bool::weighted(0.2))
            .prop_map(|(proposal, region, choice, ratify)| Action::Vote { proposal, region, choice, ratify }),
        1 => proposal.clone().prop_map(|proposal| Action::Cancel { proposal }),
        1 => proposal.clone().prop_map(|proposal| Action::Execute { proposal }),
        3 => (proposal.clone(), 0usize..3, 0u16..3).prop_map(|(proposal, region, phase)| Action::Claim { proposal, region, phase }),
        3 => (proposal, 0usize..3, 0u16..3, 0u8..4, proptest::bool::weighted(0.9))
            .prop_map(|(proposal, region, phase, outcome, right_digest)| Action::Report { proposal, region, phase, outcome, right_digest }),
        1 => any::<Transaction>().prop_map(|tx| Action::Garbage(Box::new(tx))),
    ]
}

fn blocks() -> impl Strategy<Value = Vec<Vec<(usize, Action)>>> {
    proptest::collection::vec(
        proptest::collection::vec((0usize..SIGNERS.len(), action()), 0..6),
        1..24,
    )
}

fn region_at(i: usize) -> RegionId {
    region(REGIONS[i % REGIONS.len()])
}

/// Turns an action into a payload, picking a signer that can plausibly send it.
fn to_tx(chain: &mut TestChain, signer: usize, action: &Action) -> Transaction {
    let (name, payload) = match action {
        Action::Submit {
            regions,
            kind,
            emergency,
            manual,
            dependency,
        } => {
            let names: Vec<&str> = regions
                .iter()
                .map(|r| REGIONS[*r])
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            let body = match kind {
                0 => pipeline(&[]),
                1 => pipeline(&[50, 100]),
                2 => ProposalBody::RoadmapChange(RoadmapChange {
                    change: RoadmapChangeKind::FeatureAddition,
                    item: "item".into(),
                    target: "q3".into(),
                }),
                _ => ProposalBody::GovernanceChange(vec![GovernanceChange::GrantRole {
                    account: test_utils::key("eu-voter-9").public(),
                    role: Role::Voter(region("eu")),
                }]),
            };
            let mut d = draft(&names, body);
            if *emergency {
                d.urgency = Urgency::Emergency {
                    justification: "now".into(),
                };
            }
            if *manual {
                d.execution_mode = ExecutionMode::ManualExecute;
            }
            if let Some(dep) = dependency {
                if !*emergency {
                    d.dependencies = vec![ProposalId(*dep)];
                }
            }
            let name = if *emergency {
                "guardian"
            } else {
                SIGNERS[signer % 2]
            };
            (
                name.to_owned(),
                Payload::SubmitProposal { draft: Box::new(d) },
            )
        }
        Action::Vote {
            proposal,
            region: r,
            choice,
            ratify,
        } => {
            let r = REGIONS[*r];
            let name = format!("{r}-voter-{}", 1 + signer % 3);
            let region = region(r);
            let payload = if *ratify {
                Payload::RatifyEmergency {
                    proposal: ProposalId(*proposal),
                    region,
                    choice: *choice,
                }
            } else {
                Payload::Vote {
                    proposal: ProposalId(*proposal),
                    region,
                    choice: *choice,
                }
            };
            (name, payload)
        }
        Action::Cancel { proposal } => (
            SIGNERS[signer % 2].to_owned(),
            Payload::Cancel {
                proposal: ProposalId(*proposal),
                reason: "changed plans".into(),
            },
        ),
        Action::Execute { proposal } => (
            SIGNERS[signer % 2].to_owned(),
            Payload::Execute {
                proposal: ProposalId(*proposal),
            },
        ),
        Action::Claim {
            proposal,
            region: r,
            phase,
        } => (
            format!("{}-agent", REGIONS[*r]),
            Payload::ClaimExecution {
                proposal: ProposalId(*proposal),
                region: region_at(*r),
                phase: *phase,
            },
        ),
        Action::Report {
            proposal,
            region: r,
            phase,
            outcome,
            right_digest,
        } => {
            let id = ProposalId(*proposal);
            let digest = chain
                .query()
                .proposal_state(id)
                .ok()
                .flatten()
                .map(|s| s.payload_digest)
                .filter(|_| *right_digest)
                .unwrap_or(accord_types::Hash::ZERO);
            let outcome = match outcome {
                0 | 1 => ExecutionOutcome::Succeeded,
                2 => ExecutionOutcome::Failed {
                    reason: "broke".into(),
                },
                _ => ExecutionOutcome::RolledBack,
            };
            (
                format!("{}-agent", REGIONS[*r]),
                chain.report(id, REGIONS[*r], *phase, outcome, digest),
            )
        }
        Action::Garbage(tx) => return (**tx).clone(),
    };
    chain.tx(&name, payload)
}

/// The verdict of one region, computed independently from the ballots with plain
/// cross-multiplication.
fn reference_region(t: &TierParams, voters: u32, tally: &Tally) -> u8 {
    let (yes, no, abstain, veto) = (
        tally.yes as u128,
        tally.no as u128,
        tally.abstain as u128,
        tally.veto as u128,
    );
    let turnout = yes + no + abstain + veto;
    let bps = |f: accord_types::params::Fraction| f.bps() as u128;
    if voters == 0 || turnout * 10_000 < voters as u128 * bps(t.quorum) {
        return 1; // no quorum
    }
    if veto * 10_000 >= turnout * bps(t.veto_threshold) {
        return 0; // veto
    }
    let decisive = yes + no + veto;
    if decisive > 0 && yes * 10_000 >= decisive * bps(t.approval_threshold) {
        3 // approve
    } else {
        2 // reject
    }
}

fn reference_decision(t: &TierParams, regions: &[(u32, Tally)]) -> ProposalStatus {
    let verdicts: Vec<u8> = regions
        .iter()
        .map(|(v, tally)| reference_region(t, *v, tally))
        .collect();
    if verdicts.contains(&0) {
        ProposalStatus::Vetoed
    } else if verdicts.contains(&1) {
        ProposalStatus::Expired
    } else if verdicts.contains(&2) {
        ProposalStatus::Rejected
    } else {
        ProposalStatus::Approved
    }
}

#[derive(Default)]
struct Model {
    /// Last status seen in events.
    status: BTreeMap<ProposalId, ProposalStatus>,
    /// Ballots from the vote transactions that succeeded (the last one of each voter
    /// counts), not from the runtime's own events.
    ballots: BTreeMap<(ProposalId, RegionId, PublicKey), VoteChoice>,
    /// Voting decisions checked against the reference.
    decisions: usize,
}

impl Model {
    /// Records the votes (and ratification ballots) among `txs` whose receipts say they
    /// succeeded.
    fn votes(&mut self, txs: &[Transaction], receipts: &[accord_types::Receipt]) {
        for (tx, receipt) in txs.iter().zip(receipts) {
            // Ratification ballots of an emergency are counted like votes.
            if let (
                Payload::Vote {
                    proposal,
                    region,
                    choice,
                }
                | Payload::RatifyEmergency {
                    proposal,
                    region,
                    choice,
                },
                accord_types::Outcome::Success,
            ) = (&tx.payload, &receipt.outcome)
            {
                self.ballots
                    .insert((*proposal, region.clone(), tx.signer), *choice);
            }
        }
    }

    fn observe(&mut self, query: &Query<'_>, events: &[Event]) {
        for event in events {
            if let Event::StatusChanged {
                proposal, status, ..
            } = event
            {
                match self.status.get(proposal) {
                    None => assert!(
                        matches!(
                            status,
                            ProposalStatus::Voting | ProposalStatus::EmergencyExecuted
                        ),
                        "proposal #{} starts as {status:?}",
                        proposal.0
                    ),
                    Some(from) => {
                        assert!(
                            !is_terminal(*from),
                            "#{} left terminal {from:?} for {status:?}",
                            proposal.0
                        );
                        assert!(
                            is_allowed_transition(*from, *status),
                            "#{}: {from:?} -> {status:?}",
                            proposal.0
                        );
                    }
                }
                if let (
                    Some(ProposalStatus::Voting),
                    ProposalStatus::Approved
                    | ProposalStatus::Rejected
                    | ProposalStatus::Vetoed
                    | ProposalStatus::Expired,
                ) = (self.status.get(proposal), status)
                {
                    let state = query.proposal_state(*proposal).unwrap().unwrap();
                    let regions: Vec<(u32, Tally)> = state
                        .voters
                        .iter()
                        .map(|s| (s.voters, self.tally(*proposal, &s.region)))
                        .collect();
                    assert_eq!(
                        reference_decision(&state.thresholds, &regions),
                        *status,
                        "decision of #{}",
                        proposal.0
                    );
                    self.decisions += 1;
                }
                self.status.insert(*proposal, *status);
            }
        }
    }

    fn tally(&self, id: ProposalId, region: &RegionId) -> Tally {
        let mut tally = Tally::default();
        for ((p, r, _), choice) in &self.ballots {
            if *p == id && r == region {
                tally.add(*choice);
            }
        }
        tally
    }

    fn check_state(&self, query: &Query<'_>) {
        let proposals = query.proposals(None, usize::MAX).unwrap();
        assert_eq!(
            proposals.len(),
            self.status.len(),
            "every proposal has exactly one record"
        );
        for state in proposals {
            assert_eq!(
                Some(&state.status),
                self.status.get(&state.id),
                "stored status of #{}",
                state.id.0
            );
            for region in &state.regions {
                assert_eq!(
                    query.tally(state.id, region).unwrap(),
                    self.tally(state.id, region),
                    "tally of #{} in {}",
                    state.id.0,
                    region.as_str()
                );
                let ballots = query.ballots(state.id, region).unwrap();
                let expected: Vec<(PublicKey, VoteChoice)> = self
                    .ballots
                    .iter()
                    .filter(|((p, r, _), _)| *p == state.id && r == region)
                    .map(|((_, _, voter), choice)| (*voter, *choice))
                    .collect();
                assert_eq!(
                    ballots,
                    expected,
                    "ballots of #{} in {}",
                    state.id.0,
                    region.as_str()
                );
            }
        }
    }
}

/// Never panics; two runtimes agree block by block; tallies and decisions match a
/// reference built from the vote transactions that succeeded; every status change is an
/// allowed transition and terminal states stay. Counts the decisions it checked, so that
/// a generator that stops producing them fails the test.
#[test]
fn arbitrary_blocks_keep_every_invariant() {
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 48,
        // A failure prints its minimal input; there is no source file to record it in.
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let decisions = std::cell::Cell::new(0usize);
    let result = runner.run(&blocks(), |blocks| {
        let genesis = fast_genesis();
        let mut a = TestChain::from_genesis(&genesis);
        let mut b = TestChain::from_genesis(&genesis);
        prop_assert_eq!(a.root, b.root);
        let mut model = Model::default();
        for block in &blocks {
            let txs: Vec<Transaction> = block
                .iter()
                .map(|(signer, action)| to_tx(&mut a, *signer, action))
                .collect();
            let out_a = a.block(&txs);
            let out_b = b.block(&txs);
            prop_assert_eq!(out_a.state_root, out_b.state_root);
            prop_assert_eq!(&out_a.receipts, &out_b.receipts);
            prop_assert_eq!(&out_a.batch, &out_b.batch);
            prop_assert_eq!(out_a.receipts.len(), txs.len() + 1);
            model.votes(&txs, &out_a.receipts);
            let events: Vec<Event> = out_a.events().cloned().collect();
            model.observe(&a.query(), &events);
            model.check_state(&a.query());
            prop_assert_eq!(a.query().state_root().unwrap(), out_a.state_root);
        }
        // Let every timer run out, then check again.
        for _ in 0..12 {
            let out = a.block(&[]);
            let events: Vec<Event> = out.events().cloned().collect();
            model.observe(&a.query(), &events);
        }
        model.check_state(&a.query());
        decisions.set(decisions.get() + model.decisions);
        Ok(())
    });
    if let Err(error) = result {
        panic!("{error}");
    }
    assert!(
        decisions.get() >= 24,
        "only {} voting decisions were checked over 48 cases",
        decisions.get()
    );
}

/// A batch check gives every transaction the verdict a check of it alone gives (the
/// same code and message), whatever else the batch holds, and writes nothing; over
/// arbitrary blocks, each checked before it runs. Counts acceptances and refusals, so a
/// generator that stops producing either fails the test.
#[test]
fn batch_checks_judge_each_transaction_as_its_own_check_does() {
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let verdicts = std::cell::Cell::new((0usize, 0usize));
    let result = runner.run(&blocks(), |blocks| {
        let mut chain = TestChain::from_genesis(&fast_genesis());
        for block in &blocks {
            let txs: Vec<Transaction> = block
                .iter()
                .map(|(signer, action)| to_tx(&mut chain, *signer, action))
                .collect();
            let ctx = CheckContext {
                chain_id: chain.chain_id.clone(),
                height: Height(chain.height.0 + 1),
                timestamp: chain.timestamp,
            };
            let refs: Vec<&Transaction> = txs.iter().collect();
            let batch: Vec<Result<(), String>> = check_transactions(&chain.store, &ctx, &refs)
                .into_iter()
                .map(|v| v.map_err(|e| format!("{e:?}")))
                .collect();
            let alone: Vec<Result<(), String>> = txs
                .iter()
                .map(|tx| check_transaction(&chain.store, &ctx, tx).map_err(|e| format!("{e:?}")))
                .collect();
            prop_assert_eq!(&batch, &alone);
            let (ok, refused) = verdicts.get();
            let accepted = batch.iter().filter(|v| v.is_ok()).count();
            verdicts.set((ok + accepted, refused + batch.len() - accepted));
            prop_assert_eq!(chain.query().state_root().unwrap(), chain.root);
            chain.block(&txs);
        }
        Ok(())
    });
    if let Err(error) = result {
        panic!("{error}");
    }
    let (ok, refused) = verdicts.get();
    assert!(
        ok >= 48 && refused >= 48,
        "{ok} accepted, {refused} refused"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Proofs from the runtime's state verify against the root, for present and absent
    /// keys, and fail when the value or the root is changed.
    #[test]
    fn proofs_verify_and_fail_when_tampered(votes in proptest::collection::vec((0usize..3, choice()), 1..10), probe in 0u64..6) {
        let mut chain = TestChain::from_genesis(&fast_genesis());
        let id = chain.submit("author", draft(&["eu"], pipeline(&[])));
        let votes: Vec<(String, VoteChoice)> = votes.into_iter().map(|(v, c)| (format!("eu-voter-{}", 1 + v), c)).collect();
        let named: Vec<(&str, VoteChoice)> = votes.iter().map(|(v, c)| (v.as_str(), *c)).collect();
        chain.votes(id, &named);
        let root = chain.root;
        let query = chain.query();
        let keys = [
            accord_runtime::keys::proposal(id),
            accord_runtime::keys::proposal(ProposalId(probe + 2)),
            accord_runtime::keys::ballots(id, &region("eu")),
            accord_runtime::keys::nonce(&test_utils::key("eu-voter-1").public()),
            accord_runtime::keys::account(&test_utils::key("nobody").public()),
            accord_runtime::keys::params(),
        ];
        for key in keys {
            let proof = query.prove(&key).unwrap();
            let value = proof.value().map(<[u8]>::to_vec);
            prop_assert!(proof.verify(&root, &key, value.as_deref()).is_ok());
            let other = match &value {
                Some(v) => { let mut v = v.clone(); v.push(1); Some(v) }
                None => Some(vec![1]),
            };
            prop_assert!(proof.verify(&root, &key, other.as_deref()).is_err(), "tampered value");
            let mut bad_root = root.to_bytes();
            bad_root[0] ^= 1;
            prop_assert!(proof.verify(&accord_types::Hash::from_bytes(bad_root), &key, value.as_deref()).is_err(), "tampered root");
            if value.is_some() {
                prop_assert!(proof.verify(&root, &key, None).is_err(), "claiming absence of a present key");
            }
        }
    }
}
