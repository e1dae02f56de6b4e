//! The pure rules of governance: effective risk tier and the verdict of a tally.

use accord_types::governance::ImpactAssessment;
use accord_types::governance::{ProposalBody, ProposalKind, RiskLevel};
use accord_types::params::{RiskRules, TierParams};
use accord_types::RegionId;

use crate::records::Tally;

/// The effective risk tier: the highest of the declared risk, the tiers the impact's
/// downtime, cost and number of regions fall in, and the floor of the proposal's kind.
/// A validator-set update is held to the governance floor as well: it changes who
/// decides blocks.
pub fn effective_tier(
    rules: &RiskRules,
    impact: &ImpactAssessment,
    regions: usize,
    body: &ProposalBody,
) -> RiskLevel {
    let floors = &rules.kind_floor;
    let kind_floor = match body.kind() {
        ProposalKind::PipelineAction => floors.pipeline_action,
        ProposalKind::InfrastructureChange => floors.infrastructure_change,
        ProposalKind::DocumentationChange => floors.documentation_change,
        ProposalKind::RoadmapChange => floors.roadmap_change,
        ProposalKind::GovernanceChange => floors.governance_change,
    };
    let validator_floor = match body {
        ProposalBody::InfrastructureChange(change) if !change.validator_updates.is_empty() => {
            floors.governance_change
        }
        _ => RiskLevel::Low,
    };
    let regions = u64::try_from(regions).unwrap_or(u64::MAX);
    [
        impact.declared_risk,
        rules.downtime_minutes.tier_of(impact.downtime_minutes),
        rules.cost.tier_of(impact.cost),
        rules.regions.tier_of(regions),
        kind_floor,
        validator_floor,
    ]
    .into_iter()
    .max()
    .unwrap_or(RiskLevel::Critical)
}

/// How one region voted, judged against its tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionVerdict {
    /// Fewer voters took part than the quorum.
    NoQuorum,
    /// Quorum met and the vetoes reach the veto threshold of the votes cast.
    Vetoed,
    /// Quorum met, not vetoed, and yes reaches the approval threshold of yes + no + veto.
    Approved,
    /// Quorum met, not vetoed, approval threshold not reached.
    Rejected,
}

/// Judges one region's tally over a voter list of `voters` members.
///
/// - quorum: `turnout / voters ≥ quorum` (abstentions count towards turnout);
/// - veto: `veto / turnout ≥ veto_threshold`, only once the quorum is met, so a lone
///   vetoer cannot block a proposal nobody else looked at;
/// - approval: `yes / (yes + no + veto) ≥ approval_threshold` (abstentions are neutral).
pub fn region_verdict(tier: &TierParams, voters: u32, tally: &Tally) -> RegionVerdict {
    let turnout = tally.turnout();
    if !tier.quorum.is_met(turnout, u64::from(voters)) {
        return RegionVerdict::NoQuorum;
    }
    if tier.veto_threshold.is_met(u64::from(tally.veto), turnout) {
        return RegionVerdict::Vetoed;
    }
    let decisive = u64::from(tally.yes) + u64::from(tally.no) + u64::from(tally.veto);
    if tier
        .approval_threshold
        .is_met(u64::from(tally.yes), decisive)
    {
        RegionVerdict::Approved
    } else {
        RegionVerdict::Rejected
    }
}

/// The verdict over every affected region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Every region approved.
    Approved,
    /// A region vetoed (the first such region).
    Vetoed {
        /// Region.
        region: RegionId,
    },
    /// Some region did not reach its quorum (the first such region) and none vetoed.
    Expired {
        /// Region.
        region: RegionId,
    },
    /// Every region reached its quorum, none vetoed, and a region rejected (the first one).
    Rejected {
        /// Region.
        region: RegionId,
    },
}

/// Decides a proposal from the verdicts of its regions: a veto anywhere wins, then a
/// missing quorum, then a rejection; only unanimity of regions approves.
pub fn decide<'a>(
    tier: &TierParams,
    regions: impl IntoIterator<Item = (&'a RegionId, u32, Tally)>,
) -> Decision {
    let mut no_quorum = None;
    let mut rejected = None;
    for (region, voters, tally) in regions {
        match region_verdict(tier, voters, &tally) {
            RegionVerdict::Vetoed => {
                return Decision::Vetoed {
                    region: region.clone(),
                }
            }
            RegionVerdict::NoQuorum => {
                no_quorum.get_or_insert_with(|| region.clone());
            }
            RegionVerdict::Rejected => {
                rejected.get_or_insert_with(|| region.clone());
            }
            RegionVerdict::Approved => {}
        }
    }
    if let Some(region) = no_quorum {
        Decision::Expired { region }
    } else if let Some(region) = rejected {
        Decision::Rejected { region }
    } else {
        Decision::Approved
    }
}
