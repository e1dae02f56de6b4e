//! One scenario per path of the proposal lifecycle.

use accord_runtime::records::{PhaseState, RollbackState};
use accord_runtime::test_utils::{
    documentation, draft, key, pipeline, region, roadmap, validator_spec, with_digest, TestChain,
};
use accord_runtime::{BlockOutcome, VALIDATOR_CHANGE_DELAY};
use accord_types::governance::{
    ExecutionMode, ExecutionOutcome, GovernanceChange, InfrastructureChange,
    InfrastructureChangeKind, ProposalBody, ProposalStatus, Role, Urgency, ValidatorChange,
    ValidatorSpec,
    VoteChoice::{Abstain, No, Veto, Yes},
};
use accord_types::params::FreezeWindow;
use accord_types::{ErrorCode, Event, Height, Outcome, Payload, ProposalId, Timestamp};

fn statuses(outcomes: &[BlockOutcome], id: ProposalId) -> Vec<ProposalStatus> {
    outcomes
        .iter()
        .flat_map(|o| o.events())
        .filter_map(|e| match e {
            Event::StatusChanged {
                proposal, status, ..
            } if *proposal == id => Some(*status),
            _ => None,
        })
        .collect()
}

fn refused(outcome: &Outcome) -> ErrorCode {
    match outcome {
        Outcome::Failed { code, .. } => *code,
        Outcome::Success => panic!("expected a refusal, got success"),
    }
}

/// Claims and reports success for a phase in every listed region, one block each step.
fn run_phase(
    chain: &mut TestChain,
    id: ProposalId,
    regions: &[&str],
    phase: u16,
) -> Vec<BlockOutcome> {
    let digest = chain
        .query()
        .proposal_state(id)
        .unwrap()
        .unwrap()
        .payload_digest;
    let mut out = Vec::new();
    for r in regions {
        let agent = format!("{r}-agent");
        out.push(chain.ok(
            &agent,
            Payload::ClaimExecution {
                proposal: id,
                region: region(r),
                phase,
            },
        ));
        let report = chain.report(id, r, phase, ExecutionOutcome::Succeeded, digest);
        out.push(chain.ok(&agent, report));
    }
    out
}

fn close_voting(chain: &mut TestChain, id: ProposalId) -> Vec<BlockOutcome> {
    let end = chain.voting_ends(id);
    chain.run_to(end)
}

#[test]
fn cross_region_approval_runs_to_success() {
    let mut chain = TestChain::new();
    let id = chain.submit("author", draft(&["eu", "us"], pipeline(&[])));
    assert_eq!(chain.status(id), ProposalStatus::Voting);
    let mut log = vec![chain.votes(
        id,
        &[
            ("eu-voter-1", Yes),
            ("eu-voter-2", Yes),
            ("us-voter-1", Yes),
            ("us-voter-2", Abstain),
            ("us-voter-3", Yes),
        ],
    )];
    log.extend(close_voting(&mut chain, id));
    assert_eq!(
        chain.status(id),
        ProposalStatus::Queued,
        "two regions: medium tier, 5-block delay"
    );
    log.extend(chain.empty_blocks(5));
    assert_eq!(chain.status(id), ProposalStatus::Executing { phase: 0 });
    let requested: Vec<_> = log
        .iter()
        .flat_map(|o| o.events())
        .filter(|e| matches!(e, Event::ExecutionRequested { proposal, .. } if *proposal == id))
        .collect();
    assert_eq!(requested.len(), 2, "one request per affected region");
    log.extend(run_phase(&mut chain, id, &["eu", "us"], 0));
    assert_eq!(chain.status(id), ProposalStatus::Succeeded);
    assert_eq!(
        statuses(&log, id),
        [
            ProposalStatus::Approved,
            ProposalStatus::Queued,
            ProposalStatus::Executing { phase: 0 },
            ProposalStatus::Succeeded
        ]
    );
}

#[test]
fn documentation_and_roadmap_changes_are_run_by_the_agents_of_each_region() {
    for body in [
        documentation("ops/failover.md"),
        roadmap("regional failover"),
    ] {
        let mut chain = TestChain::new();
        let id = chain.submit("author", draft(&["eu", "us"], body));
        let mut log = vec![chain.votes(
            id,
            &[
                ("eu-voter-1", Yes),
                ("eu-voter-2", Yes),
                ("us-voter-1", Yes),
                ("us-voter-2", Yes),
            ],
        )];
        log.extend(close_voting(&mut chain, id));
        log.extend(chain.empty_blocks(5));
        assert_eq!(chain.status(id), ProposalStatus::Executing { phase: 0 });
        let regions: Vec<String> = log
            .iter()
            .flat_map(|o| o.events())
            .filter_map(|e| match e {
                Event::ExecutionRequested {
                    proposal, region, ..
                } if *proposal == id => Some(region.to_string()),
                _ => None,
            })
            .collect();
        assert_eq!(regions, ["eu", "us"], "one request per affected region");
        run_phase(&mut chain, id, &["eu", "us"], 0);
        assert_eq!(chain.status(id), ProposalStatus::Succeeded);
    }
}

#[test]
fn one_region_yes_and_another_no_is_rejected() {
    let mut chain = TestChain::new();
    let id = chain.submit("author", draft(&["eu", "us"], pipeline(&[])));
    chain.votes(
        id,
        &[
            ("eu-voter-1", Yes),
            ("eu-voter-2", Yes),
            ("eu-voter-3", Yes),
            ("us-voter-1", No),
            ("us-voter-2", No),
            ("us-voter-3", Yes),
        ],
    );
    let log = close_voting(&mut chain, id);
    assert_eq!(chain.status(id), ProposalStatus::Rejected);
    let reason = chain.query().proposal_state(id).unwrap().unwrap().reason;
    assert!(
        reason.contains("us"),
        "the reason names the region: {reason}"
    );
    assert_eq!(statuses(&log, id), [ProposalStatus::Rejected]);
}

#[test]
fn a_veto_in_one_region_wins_over_approval_elsewhere() {
    let mut chain = TestChain::new();
    let id = chain.submit("author", draft(&["eu", "us"], pipeline(&[])));
    chain.votes(
        id,
        &[
            ("eu-voter-1", Yes),
            ("eu-voter-2", Yes),
            ("us-voter-1", Yes),
            ("us-voter-2", Veto),
            ("us-voter-3", Veto),
        ],
    );
    close_voting(&mut chain, id);
    assert_eq!(chain.status(id), ProposalStatus::Vetoed);
}

#[test]
fn no_quorum_expires_at_the_voting_deadline() {
    let mut chain = TestChain::new();
    let id = chain.submit("author", draft(&["eu"], pipeline(&[])));
    let end = chain.voting_ends(id);
    chain.run_to(Height(end.0 - 1));
    assert_eq!(
        chain.status(id),
        ProposalStatus::Voting,
        "nothing happens before the deadline"
    );
    chain.block(&[]);
    assert_eq!(chain.status(id), ProposalStatus::Expired);
    // Voting is closed now.
    let late = chain.try_tx(
        "eu-voter-1",
        Payload::Vote {
            proposal: id,
            region: region("eu"),
            choice: Yes,
        },
    );
    assert_eq!(refused(&late), ErrorCode::InvalidStatus);
}

#[test]
fn a_voter_may_change_its_vote_until_voting_closes() {
    let mut chain = TestChain::new();
    let id = chain.submit("author", draft(&["eu"], pipeline(&[])));
    chain.votes(id, &[("eu-voter-1", No), ("eu-voter-2", No)]);
    chain.votes(id, &[("eu-voter-1", Yes), ("eu-voter-2", Yes)]);
    let tally = chain.query().tally(id, &region("eu")).unwrap();
    assert_eq!((tally.yes, tally.no), (2, 0));
    close_voting(&mut chain, id);
    assert_eq!(
        chain.status(id),
        ProposalStatus::Executing { phase: 0 },
        "one region: low tier, no enactment delay"
    );
}

#[test]
fn a_cancelled_dependency_fails_its_dependent() {
    let mut chain = TestChain::new();
    let base = chain.submit("author", draft(&["eu"], pipeline(&[])));
    let mut dependent = draft(&["eu"], documentation("guide/deploy.md"));
    dependent.dependencies = vec![base];
    let dependent = chain.submit("author-2", dependent);
    chain.ok(
        "guardian",
        Payload::Cancel {
            proposal: base,
            reason: "superseded".into(),
        },
    );
    assert_eq!(chain.status(base), ProposalStatus::Cancelled);
    chain.votes(dependent, &[("eu-voter-1", Yes), ("eu-voter-2", Yes)]);
    close_voting(&mut chain, dependent);
    assert_eq!(chain.status(dependent), ProposalStatus::Failed);
    let reason = chain
        .query()
        .proposal_state(dependent)
        .unwrap()
        .unwrap()
        .reason;
    assert!(
        reason.contains(&format!("#{}", base.0)) && reason.contains("Cancelled"),
        "{reason}"
    );
}

#[test]
fn a_dependent_waits_for_its_dependency_to_succeed() {
    let mut chain = TestChain::new();
    let base = chain.submit("author", draft(&["eu"], pipeline(&[])));
    let mut dependent = draft(&["eu"], documentation("guide/deploy.md"));
    dependent.dependencies = vec![base];
    let dependent = chain.submit("author", dependent);
    chain.votes(base, &[("eu-voter-1", Yes), ("eu-voter-2", Yes)]);
    chain.votes(dependent, &[("eu-voter-1", Yes), ("eu-voter-2", Yes)]);
    close_voting(&mut chain, dependent);
    assert_eq!(chain.status(base), ProposalStatus::Executing { phase: 0 });
    assert_eq!(
        chain.status(dependent),
        ProposalStatus::Queued,
        "waits while its dependency runs"
    );
    run_phase(&mut chain, base, &["eu"], 0);
    assert_eq!(chain.status(base), ProposalStatus::Succeeded);
    chain.block(&[]);
    assert_eq!(
        chain.status(dependent),
        ProposalStatus::Executing { phase: 0 }
    );
}

#[test]
fn a_freeze_window_holds_execution_until_it_ends() {
    let mut genesis = accord_runtime::test_utils::genesis();
    let start = Timestamp(1_700_000_000_000);
    let end = Timestamp(start.0 + 60_000);
    genesis.params.freeze_windows = vec![FreezeWindow {
        name: "release freeze".into(),
        start,
        end,
        regions: vec![region("eu")],
    }];
    let mut chain = TestChain::from_genesis(&genesis);
    let frozen = chain.submit("author", draft(&["eu"], pipeline(&[])));
    let free = chain.submit("author", draft(&["us"], pipeline(&[])));
    chain.votes(frozen, &[("eu-voter-1", Yes), ("eu-voter-2", Yes)]);
    chain.votes(free, &[("us-voter-1", Yes), ("us-voter-2", Yes)]);
    close_voting(&mut chain, free);
    assert!(chain.timestamp < end);
    assert_eq!(
        chain.status(free),
        ProposalStatus::Executing { phase: 0 },
        "us is not frozen"
    );
    assert_eq!(chain.status(frozen), ProposalStatus::Queued, "eu is frozen");
    while chain.timestamp < end {
        chain.block(&[]);
        assert_eq!(chain.status(frozen), ProposalStatus::Queued);
    }
    chain.block(&[]);
    assert_eq!(chain.status(frozen), ProposalStatus::Executing { phase: 0 });
}

#[test]
fn a_phased_rollout_that_fails_in_phase_two_rolls_back() {
    let mut chain = TestChain::new();
    let id = chain.submit("author", draft(&["eu", "us"], pipeline(&[10, 50, 100])));
    chain.votes(
        id,
        &[
            ("eu-voter-1", Yes),
            ("eu-voter-2", Yes),
            ("us-voter-1", Yes),
            ("us-voter-2", Yes),
        ],
    );
    close_voting(&mut chain, id);
    chain.empty_blocks(5);
    let mut log = run_phase(&mut chain, id, &["eu", "us"], 0);
    assert_eq!(chain.status(id), ProposalStatus::Executing { phase: 1 });
    // Phase two: eu succeeds, us fails.
    log.extend(run_phase(&mut chain, id, &["eu"], 1));
    log.push(chain.ok(
        "us-agent",
        Payload::ClaimExecution {
            proposal: id,
            region: region("us"),
            phase: 1,
        },
    ));
    let digest = chain
        .query()
        .proposal_state(id)
        .unwrap()
        .unwrap()
        .payload_digest;
    let failure = chain.report(
        id,
        "us",
        1,
        ExecutionOutcome::Failed {
            reason: "health check failed".into(),
        },
        digest,
    );
    let failed = chain.ok("us-agent", failure);
    let rollbacks: Vec<_> = failed
        .events()
        .filter_map(|e| match e {
            Event::RollbackRequested { region, .. } => Some(region.as_str().to_owned()),
            _ => None,
        })
        .collect();
    assert_eq!(rollbacks, ["eu", "us"], "both regions applied phase one");
    assert_eq!(chain.status(id), ProposalStatus::RollingBack);
    log.push(failed);
    let rollback = chain.report(id, "eu", 0, ExecutionOutcome::RolledBack, digest);
    log.push(chain.ok("eu-agent", rollback));
    assert_eq!(
        chain.status(id),
        ProposalStatus::RollingBack,
        "us has not rolled back yet"
    );
    let rollback = chain.report(id, "us", 0, ExecutionOutcome::RolledBack, digest);
    log.push(chain.ok("us-agent", rollback));
    assert_eq!(chain.status(id), ProposalStatus::RolledBack);
    assert_eq!(
        statuses(&log, id),
        [
            ProposalStatus::Executing { phase: 1 },
            ProposalStatus::Failed,
            ProposalStatus::RollingBack,
            ProposalStatus::RolledBack
        ]
    );
    let view = chain.query().proposal(id).unwrap().unwrap();
    assert!(view
        .executions
        .iter()
        .all(|(_, e)| e.rollback == RollbackState::RolledBack));
}

#[test]
fn a_failure_in_the_first_phase_needs_no_rollback() {
    let mut chain = TestChain::new();
    let id = chain.submit("author", draft(&["eu"], pipeline(&[])));
    chain.votes(id, &[("eu-voter-1", Yes), ("eu-voter-2", Yes)]);
    close_voting(&mut chain, id);
    chain.ok(
        "eu-agent",
        Payload::ClaimExecution {
            proposal: id,
            region: region("eu"),
            phase: 0,
        },
    );
    let digest = chain
        .query()
        .proposal_state(id)
        .unwrap()
        .unwrap()
        .payload_digest;
    let failure = chain.report(
        id,
        "eu",
        0,
        ExecutionOutcome::Failed {
            reason: "quota".into(),
        },
        digest,
    );
    let outcome = chain.ok("eu-agent", failure);
    assert_eq!(chain.status(id), ProposalStatus::Failed);
    assert!(!outcome
        .events()
        .any(|e| matches!(e, Event::RollbackRequested { .. })));
}

#[test]
fn an_emergency_that_is_not_ratified_is_rolled_back() {
    let mut chain = TestChain::new();
    let mut emergency = draft(&["eu"], pipeline(&[]));
    emergency.urgency = Urgency::Emergency {
        justification: "CVE under active exploitation".into(),
    };
    let id = chain.submit("guardian", emergency);
    assert_eq!(chain.status(id), ProposalStatus::EmergencyExecuted);
    run_phase(&mut chain, id, &["eu"], 0);
    assert_eq!(
        chain.status(id),
        ProposalStatus::EmergencyExecuted,
        "waits for ratification"
    );
    let ratify = |choice| Payload::RatifyEmergency {
        proposal: id,
        region: region("eu"),
        choice,
    };
    chain.ok("eu-voter-1", ratify(No));
    chain.ok("eu-voter-2", ratify(No));
    let log = close_voting(&mut chain, id);
    assert_eq!(
        statuses(&log, id),
        [ProposalStatus::Unratified, ProposalStatus::RollingBack]
    );
    let digest = chain
        .query()
        .proposal_state(id)
        .unwrap()
        .unwrap()
        .payload_digest;
    let rollback = chain.report(id, "eu", 0, ExecutionOutcome::RolledBack, digest);
    chain.ok("eu-agent", rollback);
    assert_eq!(chain.status(id), ProposalStatus::RolledBack);
}

#[test]
fn a_ratified_emergency_succeeds() {
    let mut chain = TestChain::new();
    let mut emergency = draft(&["eu"], pipeline(&[]));
    emergency.urgency = Urgency::Emergency {
        justification: "outage".into(),
    };
    let id = chain.submit("guardian", emergency);
    let ratify = |choice| Payload::RatifyEmergency {
        proposal: id,
        region: region("eu"),
        choice,
    };
    chain.ok("eu-voter-1", ratify(Yes));
    chain.ok("eu-voter-2", ratify(Yes));
    close_voting(&mut chain, id);
    assert_eq!(
        chain.status(id),
        ProposalStatus::Ratified,
        "ratified; execution still running"
    );
    run_phase(&mut chain, id, &["eu"], 0);
    assert_eq!(chain.status(id), ProposalStatus::Succeeded);
}

#[test]
fn only_guardians_start_emergencies_and_freeze_windows_do_not_hold_them() {
    let mut genesis = accord_runtime::test_utils::genesis();
    genesis.params.freeze_windows = vec![FreezeWindow {
        name: "all".into(),
        start: Timestamp(0),
        end: Timestamp(u64::MAX),
        regions: vec![],
    }];
    let mut chain = TestChain::from_genesis(&genesis);
    let mut emergency = draft(&["eu"], pipeline(&[]));
    emergency.urgency = Urgency::Emergency {
        justification: "outage".into(),
    };
    let refused_outcome = chain.try_tx(
        "author",
        Payload::SubmitProposal {
            draft: Box::new(emergency.clone()),
        },
    );
    assert_eq!(refused(&refused_outcome), ErrorCode::Unauthorized);
    let id = chain.submit("guardian", emergency);
    let view = chain.query().proposal(id).unwrap().unwrap();
    assert_eq!(
        view.executions.len(),
        1,
        "requested at once despite the freeze"
    );
}

#[test]
fn manual_execute_waits_for_an_execute_and_expires_after_execute_by() {
    let mut chain = TestChain::new();
    let mut manual = draft(&["eu"], pipeline(&[]));
    manual.execution_mode = ExecutionMode::ManualExecute;
    let released = chain.submit("author", manual.clone());
    manual.execute_by = Some(Height(40));
    let forgotten = chain.submit("author", manual);
    chain.votes(released, &[("eu-voter-1", Yes), ("eu-voter-2", Yes)]);
    chain.votes(forgotten, &[("eu-voter-1", Yes), ("eu-voter-2", Yes)]);
    close_voting(&mut chain, forgotten);
    assert_eq!(chain.status(released), ProposalStatus::Approved);
    assert_eq!(chain.status(forgotten), ProposalStatus::Approved);
    let not_author = chain.try_tx("author-2", Payload::Execute { proposal: released });
    assert_eq!(refused(&not_author), ErrorCode::Unauthorized);
    chain.ok("author", Payload::Execute { proposal: released });
    assert_eq!(
        chain.status(released),
        ProposalStatus::Executing { phase: 0 }
    );
    chain.run_to(Height(41));
    assert_eq!(chain.status(forgotten), ProposalStatus::Expired);
}

#[test]
fn an_expired_lease_returns_the_request_to_other_agents() {
    let mut genesis = accord_runtime::test_utils::genesis();
    genesis
        .accounts
        .push((key("eu-agent-2").public(), vec![Role::Agent(region("eu"))]));
    let mut chain = TestChain::from_genesis(&genesis);
    let id = chain.submit("author", draft(&["eu"], pipeline(&[])));
    chain.votes(id, &[("eu-voter-1", Yes), ("eu-voter-2", Yes)]);
    close_voting(&mut chain, id);
    let claim = Payload::ClaimExecution {
        proposal: id,
        region: region("eu"),
        phase: 0,
    };
    let claimed = chain.ok("eu-agent", claim.clone());
    let lease = claimed
        .events()
        .find_map(|e| match e {
            Event::ExecutionClaimed { lease_expires, .. } => Some(*lease_expires),
            _ => None,
        })
        .unwrap();
    let taken = chain.try_tx("eu-agent-2", claim.clone());
    assert_eq!(
        refused(&taken),
        ErrorCode::InvalidStatus,
        "held by the first agent"
    );
    let expiry = chain.run_to(lease);
    assert!(expiry
        .last()
        .unwrap()
        .events()
        .any(|e| matches!(e, Event::ExecutionRequested { proposal, .. } if *proposal == id)));
    chain.ok("eu-agent-2", claim);
    let digest = chain
        .query()
        .proposal_state(id)
        .unwrap()
        .unwrap()
        .payload_digest;
    let stale = chain.report(id, "eu", 0, ExecutionOutcome::Succeeded, digest);
    assert_eq!(
        refused(&chain.try_tx("eu-agent", stale.clone())),
        ErrorCode::NotClaimed
    );
    chain.ok("eu-agent-2", stale);
    assert_eq!(chain.status(id), ProposalStatus::Succeeded);
}

#[test]
fn reports_must_carry_the_payload_digest_and_idempotency_key() {
    let mut chain = TestChain::new();
    let id = chain.submit("author", draft(&["eu"], pipeline(&[])));
    chain.votes(id, &[("eu-voter-1", Yes), ("eu-voter-2", Yes)]);
    close_voting(&mut chain, id);
    let digest = chain
        .query()
        .proposal_state(id)
        .unwrap()
        .unwrap()
        .payload_digest;
    let early = chain.report(id, "eu", 0, ExecutionOutcome::Succeeded, digest);
    assert_eq!(
        refused(&chain.try_tx("eu-agent", early)),
        ErrorCode::NotClaimed
    );
    chain.ok(
        "eu-agent",
        Payload::ClaimExecution {
            proposal: id,
            region: region("eu"),
            phase: 0,
        },
    );
    let wrong_digest = chain.report(
        id,
        "eu",
        0,
        ExecutionOutcome::Succeeded,
        accord_types::Hash::ZERO,
    );
    assert_eq!(
        refused(&chain.try_tx("eu-agent", wrong_digest)),
        ErrorCode::DigestMismatch
    );
    let mut wrong_key = chain.report(id, "eu", 0, ExecutionOutcome::Succeeded, digest);
    if let Payload::ReportExecution { report } = &mut wrong_key {
        report.idempotency_key = accord_types::Hash::ZERO;
    }
    assert_eq!(
        refused(&chain.try_tx("eu-agent", wrong_key)),
        ErrorCode::IdempotencyMismatch
    );
    let other_region = chain.report(id, "eu", 0, ExecutionOutcome::Succeeded, digest);
    assert_eq!(
        refused(&chain.try_tx("us-agent", other_region)),
        ErrorCode::Unauthorized
    );
    assert_eq!(chain.status(id), ProposalStatus::Executing { phase: 0 });
    let view = chain.query().proposal(id).unwrap().unwrap();
    assert!(matches!(
        view.executions[0].1.state,
        PhaseState::Claimed { .. }
    ));
}

#[test]
fn governance_changes_roles_and_voter_lists_through_a_proposal() {
    let mut chain = TestChain::new();
    let newcomer = key("eu-voter-4");
    let before = chain.submit("author", draft(&["eu"], pipeline(&[])));
    let grant = ProposalBody::GovernanceChange(vec![GovernanceChange::GrantRole {
        account: newcomer.public(),
        role: Role::Voter(region("eu")),
    }]);
    let change = chain.submit("author", draft(&["eu"], grant));
    let state = chain.query().proposal_state(change).unwrap().unwrap();
    assert_eq!(
        state.tier,
        accord_types::governance::RiskLevel::High,
        "governance floor"
    );
    chain.votes(
        change,
        &[
            ("eu-voter-1", Yes),
            ("eu-voter-2", Yes),
            ("eu-voter-3", Yes),
        ],
    );
    let log = close_voting(&mut chain, change);
    assert_eq!(
        chain.status(change),
        ProposalStatus::Queued,
        "enactment delay"
    );
    let enacted = chain.empty_blocks(10);
    assert_eq!(chain.status(change), ProposalStatus::Succeeded);
    assert!(enacted
        .iter()
        .chain(&log)
        .flat_map(|o| o.events())
        .any(|e| matches!(e, Event::GovernanceChanged { .. })));
    assert!(chain
        .query()
        .account(&newcomer.public())
        .unwrap()
        .roles
        .contains(&Role::Voter(region("eu"))));
    // The older proposal keeps the voter list it opened with (if still open).
    if chain.status(before) == ProposalStatus::Voting {
        let vote = chain.try_tx(
            "eu-voter-4",
            Payload::Vote {
                proposal: before,
                region: region("eu"),
                choice: Yes,
            },
        );
        assert_eq!(refused(&vote), ErrorCode::Unauthorized);
    }
    let after = chain.submit("author", draft(&["eu"], pipeline(&[])));
    let vote = chain.try_tx(
        "eu-voter-4",
        Payload::Vote {
            proposal: after,
            region: region("eu"),
            choice: Yes,
        },
    );
    assert_eq!(vote, Outcome::Success);
    assert_eq!(
        chain.query().proposal_state(after).unwrap().unwrap().voters[0].voters,
        4
    );
}

#[test]
fn governance_changes_that_break_parameter_rules_are_refused() {
    let mut chain = TestChain::new();
    let mut params = accord_chain_spec::default_governance().tiers.low;
    params.quorum = accord_types::params::Fraction::from_bps(0);
    let body = ProposalBody::GovernanceChange(vec![GovernanceChange::SetTierParams {
        tier: accord_types::governance::RiskLevel::Low,
        params,
    }]);
    let outcome = chain.try_tx(
        "author",
        Payload::SubmitProposal {
            draft: Box::new(draft(&["eu"], body)),
        },
    );
    assert_eq!(refused(&outcome), ErrorCode::InvalidPayload);
    // A weak key cannot be granted a role.
    let weak = accord_types::PublicKey::from_bytes([0; 32]);
    let mut identity = [0u8; 32];
    identity[0] = 1;
    for account in [weak, accord_types::PublicKey::from_bytes(identity)] {
        let body = ProposalBody::GovernanceChange(vec![GovernanceChange::GrantRole {
            account,
            role: Role::Guardian,
        }]);
        let outcome = chain.try_tx(
            "author",
            Payload::SubmitProposal {
                draft: Box::new(draft(&["eu"], body)),
            },
        );
        assert_eq!(refused(&outcome), ErrorCode::InvalidPayload);
    }
}

#[test]
fn a_validator_set_change_takes_effect_two_heights_after_approval() {
    let mut chain = TestChain::new();
    let body = ProposalBody::InfrastructureChange(InfrastructureChange {
        change: InfrastructureChangeKind::ArchitectureChange,
        resources: vec!["validator sa-1".into()],
        validator_updates: vec![ValidatorChange::Add {
            validator: validator_spec("sa-1", "sa", 10),
        }],
    });
    let id = chain.submit("author", draft(&["eu", "us", "ap"], body));
    chain.votes(
        id,
        &[
            ("eu-voter-1", Yes),
            ("eu-voter-2", Yes),
            ("eu-voter-3", Yes),
            ("us-voter-1", Yes),
            ("us-voter-2", Yes),
            ("us-voter-3", Yes),
            ("ap-voter-1", Yes),
            ("ap-voter-2", Yes),
            ("ap-voter-3", Yes),
        ],
    );
    let log = close_voting(&mut chain, id);
    let approval = log.last().unwrap();
    let update = approval
        .validator_update
        .clone()
        .expect("the block returns the new set");
    assert_eq!(
        update.effective_height,
        Height(chain.height.0 + VALIDATOR_CHANGE_DELAY)
    );
    assert_eq!(update.validators.len(), 5);
    assert_eq!(
        chain.query().validators().unwrap().validators.len(),
        4,
        "not yet"
    );
    assert!(
        chain
            .query()
            .chain()
            .unwrap()
            .regions
            .contains(&region("sa")),
        "the new region joins governance"
    );
    chain.block(&[]);
    assert_eq!(chain.query().validators().unwrap().validators.len(), 4);
    chain.block(&[]);
    assert_eq!(chain.query().validators().unwrap().validators.len(), 5);
    assert!(chain.query().pending_validators().unwrap().is_none());
}

#[test]
fn validator_updates_that_break_the_set_are_refused() {
    let mut chain = TestChain::new();
    let all_gone = ["eu-1", "eu-2", "us-1", "ap-1"]
        .iter()
        .map(|n| ValidatorChange::Remove {
            consensus_key: validator_spec(n, "eu", 10).consensus_key,
        })
        .collect();
    for updates in [
        all_gone,
        vec![ValidatorChange::SetPower {
            consensus_key: validator_spec("eu-1", "eu", 10).consensus_key,
            power: 0,
        }],
        vec![ValidatorChange::Add {
            validator: validator_spec("eu-1", "eu", 10),
        }],
        // A new validator with a member's p2p key.
        vec![ValidatorChange::Add {
            validator: ValidatorSpec {
                p2p_key: validator_spec("eu-1", "eu", 10).p2p_key,
                ..validator_spec("eu-9", "eu", 10)
            },
        }],
    ] {
        let body = ProposalBody::InfrastructureChange(InfrastructureChange {
            change: InfrastructureChangeKind::ArchitectureChange,
            resources: vec![],
            validator_updates: updates,
        });
        let outcome = chain.try_tx(
            "author",
            Payload::SubmitProposal {
                draft: Box::new(draft(&["eu"], body)),
            },
        );
        assert_eq!(refused(&outcome), ErrorCode::InvalidPayload);
    }
}

#[test]
fn roles_regions_and_nonces_are_enforced() {
    let mut chain = TestChain::new();
    let submit = |d| Payload::SubmitProposal { draft: Box::new(d) };
    assert_eq!(
        refused(&chain.try_tx("eu-voter-1", submit(draft(&["eu"], pipeline(&[]))))),
        ErrorCode::Unauthorized
    );
    assert_eq!(
        refused(&chain.try_tx("author", submit(draft(&["mars"], pipeline(&[]))))),
        ErrorCode::UnknownRegion
    );
    let mut bad_digest = draft(&["eu"], pipeline(&[]));
    bad_digest.payload_digest = accord_types::Hash::ZERO;
    assert_eq!(
        refused(&chain.try_tx("author", submit(bad_digest))),
        ErrorCode::InvalidPayload
    );
    let bad_phases = with_digest({
        let mut d = draft(&["eu"], pipeline(&[50, 20, 100]));
        d.body = pipeline(&[50, 20, 100]);
        d
    });
    assert_eq!(
        refused(&chain.try_tx("author", submit(bad_phases))),
        ErrorCode::InvalidPayload
    );
    let id = chain.submit("author", draft(&["eu"], pipeline(&[])));
    let vote = |r: &str| Payload::Vote {
        proposal: id,
        region: region(r),
        choice: Yes,
    };
    assert_eq!(
        refused(&chain.try_tx("us-voter-1", vote("eu"))),
        ErrorCode::Unauthorized
    );
    assert_eq!(
        refused(&chain.try_tx("us-voter-1", vote("us"))),
        ErrorCode::UnknownRegion
    );
    let missing = Payload::Vote {
        proposal: ProposalId(999),
        region: region("eu"),
        choice: Yes,
    };
    assert_eq!(
        refused(&chain.try_tx("eu-voter-1", missing)),
        ErrorCode::UnknownProposal
    );
    assert_eq!(
        refused(&chain.try_tx(
            "author-2",
            Payload::Cancel {
                proposal: id,
                reason: String::new()
            }
        )),
        ErrorCode::Unauthorized
    );

    // Replay: the same signed transaction twice; the second is refused and changes nothing.
    let tx = chain.tx("eu-voter-1", vote("eu"));
    let first = chain.block(std::slice::from_ref(&tx));
    assert_eq!(first.receipts[0].outcome, Outcome::Success);
    let root = chain.root;
    let replay = chain.block(&[tx]);
    assert_eq!(refused(&replay.receipts[0].outcome), ErrorCode::BadNonce);
    assert_eq!(
        chain
            .query()
            .account(&key("eu-voter-1").public())
            .unwrap()
            .nonce,
        3
    );
    assert_eq!(chain.root, root, "a replayed transaction changes no state");

    // Another chain's transaction, and a forged signature.
    let mut foreign = chain.tx("eu-voter-2", vote("eu"));
    foreign.chain_id = accord_types::ChainId::new("other-chain").unwrap();
    let mut forged = chain.tx("eu-voter-3", vote("eu"));
    forged.signature = key("outsider").sign(b"something else");
    chase_refusals(
        &mut chain,
        &[foreign, forged],
        &[ErrorCode::WrongChain, ErrorCode::BadSignature],
    );
}

fn chase_refusals(chain: &mut TestChain, txs: &[accord_types::Transaction], codes: &[ErrorCode]) {
    let outcome = chain.block(txs);
    let got: Vec<ErrorCode> = outcome.receipts[..txs.len()]
        .iter()
        .map(|r| refused(&r.outcome))
        .collect();
    assert_eq!(got, codes);
}

#[test]
fn a_refused_transaction_changes_nothing_but_its_nonce() {
    let mut chain = TestChain::new();
    let id = chain.submit("author", draft(&["eu"], pipeline(&[])));
    let before = chain.query().proposal(id).unwrap();
    // A cancel by someone else fails after passing the nonce check.
    let outcome = chain.try_tx(
        "author-2",
        Payload::Cancel {
            proposal: id,
            reason: String::new(),
        },
    );
    assert_eq!(refused(&outcome), ErrorCode::Unauthorized);
    assert_eq!(chain.query().proposal(id).unwrap(), before);
    assert_eq!(
        chain
            .query()
            .account(&key("author-2").public())
            .unwrap()
            .nonce,
        1
    );
}

#[test]
fn evidence_is_recorded_once() {
    use accord_types::{Evidence, Round, Vote, VoteType};
    let mut chain = TestChain::new();
    let validator = key("validator/eu-1");
    let a = Vote::sign(
        &validator,
        &chain.chain_id,
        Height(1),
        Round(0),
        VoteType::Prevote,
        Some(accord_types::Hash::ZERO),
    );
    let b = Vote::sign(
        &validator,
        &chain.chain_id,
        Height(1),
        Round(0),
        VoteType::Prevote,
        None,
    );
    let evidence = Evidence::duplicate_vote(a, b).unwrap();
    let mut ctx = chain.context();
    ctx.evidence = vec![evidence.clone()];
    let first = chain.block_with(&ctx, &[]);
    assert_eq!(
        first
            .events()
            .filter(|e| matches!(e, Event::EvidenceRecorded { .. }))
            .count(),
        1
    );
    let mut ctx = chain.context();
    ctx.evidence = vec![evidence];
    let second = chain.block_with(&ctx, &[]);
    assert_eq!(second.events().count(), 0);
}
