//! Size-bounded strategies for the types whose derived `Arbitrary` nests collections.
//!
//! proptest gives every `Vec` field 0..100 elements. Through the governance tree
//! (a transaction carries a draft, whose body may hold governance changes, which
//! may hold freeze windows, which hold regions) that multiplies into encodings of
//! megabytes, and each case then takes seconds without exercising anything new. These
//! strategies build the same types from the derived leaf strategies with at most a
//! few elements per collection, and every enum variant stays reachable.

use accord_types::governance::*;
use accord_types::params::*;
use accord_types::*;
use proptest::collection::vec;
use proptest::prelude::*;

/// Up to three elements.
fn few<T: Arbitrary>() -> impl Strategy<Value = Vec<T>> {
    vec(any::<T>(), 0..4)
}

/// A freeze window with at most three regions.
pub fn freeze_window() -> impl Strategy<Value = FreezeWindow> {
    (
        any::<String>(),
        any::<Timestamp>(),
        any::<Timestamp>(),
        few::<RegionId>(),
    )
        .prop_map(|(name, start, end, regions)| FreezeWindow {
            name,
            start,
            end,
            regions,
        })
}

/// Any governance change, with small collections.
pub fn governance_change() -> impl Strategy<Value = GovernanceChange> {
    prop_oneof![
        (any::<RiskLevel>(), any::<TierParams>())
            .prop_map(|(tier, params)| GovernanceChange::SetTierParams { tier, params }),
        vec(freeze_window(), 0..4)
            .prop_map(|windows| GovernanceChange::SetFreezeWindows { windows }),
        (any::<PublicKey>(), any::<Role>())
            .prop_map(|(account, role)| GovernanceChange::GrantRole { account, role }),
        (any::<PublicKey>(), any::<Role>())
            .prop_map(|(account, role)| GovernanceChange::RevokeRole { account, role }),
    ]
}

/// Governance parameters with at most three freeze windows.
pub fn governance_params() -> impl Strategy<Value = GovernanceParams> {
    (
        any::<TierTable>(),
        any::<RiskRules>(),
        vec(freeze_window(), 0..4),
        any::<ExecutionParams>(),
    )
        .prop_map(
            |(tiers, risk_rules, freeze_windows, execution)| GovernanceParams {
                tiers,
                risk_rules,
                freeze_windows,
                execution,
            },
        )
}

/// An infrastructure change with few resources and validator updates.
pub fn infrastructure_change() -> impl Strategy<Value = InfrastructureChange> {
    (
        any::<InfrastructureChangeKind>(),
        few::<String>(),
        few::<ValidatorChange>(),
    )
        .prop_map(
            |(change, resources, validator_updates)| InfrastructureChange {
                change,
                resources,
                validator_updates,
            },
        )
}

/// Any proposal body.
pub fn proposal_body() -> impl Strategy<Value = ProposalBody> {
    prop_oneof![
        any::<PipelineAction>().prop_map(ProposalBody::PipelineAction),
        infrastructure_change().prop_map(ProposalBody::InfrastructureChange),
        any::<DocumentationChange>().prop_map(ProposalBody::DocumentationChange),
        any::<RoadmapChange>().prop_map(ProposalBody::RoadmapChange),
        vec(governance_change(), 0..4).prop_map(ProposalBody::GovernanceChange),
    ]
}

/// A proposal draft with few regions and dependencies.
pub fn proposal_draft() -> impl Strategy<Value = ProposalDraft> {
    (
        (any::<String>(), any::<String>(), few::<RegionId>()),
        (
            any::<ImpactAssessment>(),
            few::<ProposalId>(),
            any::<Hash>(),
        ),
        (
            any::<ExecutionMode>(),
            any::<Option<Height>>(),
            any::<Option<Height>>(),
        ),
        (any::<Urgency>(), proposal_body()),
    )
        .prop_map(
            |(
                (title, description, regions),
                (impact, dependencies, payload_digest),
                (execution_mode, not_before, execute_by),
                (urgency, body),
            )| ProposalDraft {
                title,
                description,
                regions,
                impact,
                dependencies,
                payload_digest,
                execution_mode,
                not_before,
                execute_by,
                urgency,
                body,
            },
        )
}

/// An execution report with few checks.
pub fn execution_report() -> impl Strategy<Value = ExecutionReport> {
    (
        (
            any::<ProposalId>(),
            any::<RegionId>(),
            any::<u16>(),
            any::<Hash>(),
        ),
        (
            any::<ExecutionOutcome>(),
            any::<Timestamp>(),
            any::<Timestamp>(),
        ),
        (any::<Hash>(), any::<Hash>(), any::<Hash>(), any::<Hash>()),
        (few::<CheckResult>(), few::<CheckResult>()),
    )
        .prop_map(
            |(
                (proposal, region, phase, idempotency_key),
                (outcome, started_at, finished_at),
                (applied_digest, before_digest, after_digest, log_digest),
                (pre_checks, post_checks),
            )| ExecutionReport {
                proposal,
                region,
                phase,
                idempotency_key,
                outcome,
                started_at,
                finished_at,
                applied_digest,
                before_digest,
                after_digest,
                pre_checks,
                post_checks,
                log_digest,
            },
        )
}

/// Any payload.
pub fn payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        proposal_draft().prop_map(|draft| Payload::SubmitProposal {
            draft: Box::new(draft)
        }),
        (any::<ProposalId>(), any::<RegionId>(), any::<VoteChoice>()).prop_map(
            |(proposal, region, choice)| Payload::Vote {
                proposal,
                region,
                choice
            }
        ),
        (any::<ProposalId>(), any::<String>())
            .prop_map(|(proposal, reason)| Payload::Cancel { proposal, reason }),
        any::<ProposalId>().prop_map(|proposal| Payload::Execute { proposal }),
        (any::<ProposalId>(), any::<RegionId>(), any::<u16>()).prop_map(
            |(proposal, region, phase)| Payload::ClaimExecution {
                proposal,
                region,
                phase
            }
        ),
        execution_report().prop_map(|report| Payload::ReportExecution {
            report: Box::new(report)
        }),
        (any::<ProposalId>(), any::<RegionId>(), any::<VoteChoice>()).prop_map(
            |(proposal, region, choice)| Payload::RatifyEmergency {
                proposal,
                region,
                choice
            }
        ),
    ]
}

/// Any transaction (the signature is arbitrary bytes, not a valid signature).
pub fn transaction() -> impl Strategy<Value = Transaction> {
    (
        any::<ChainId>(),
        any::<PublicKey>(),
        any::<Nonce>(),
        payload(),
        any::<Signature>(),
    )
        .prop_map(
            |(chain_id, signer, nonce, payload, signature)| Transaction {
                chain_id,
                signer,
                nonce,
                payload,
                signature,
            },
        )
}

/// Any event, with at most three regions in a submission.
pub fn event() -> impl Strategy<Value = Event> {
    any::<Event>().prop_map(|mut event| {
        if let Event::ProposalSubmitted { regions, .. } = &mut event {
            regions.truncate(3);
        }
        event
    })
}

/// A receipt with at most five events.
pub fn receipt() -> impl Strategy<Value = Receipt> {
    (any::<ReceiptSource>(), any::<Outcome>(), vec(event(), 0..6)).prop_map(
        |(source, outcome, events)| Receipt {
            source,
            outcome,
            events,
        },
    )
}

/// A block with a handful of transactions and evidence.
pub fn block() -> impl Strategy<Value = Block> {
    (
        any::<Header>(),
        vec(transaction(), 0..4),
        vec(any::<Evidence>(), 0..3),
        any::<Option<CommitCertificate>>(),
    )
        .prop_map(|(header, transactions, evidence, last_commit)| Block {
            header,
            transactions,
            evidence,
            last_commit,
        })
}
