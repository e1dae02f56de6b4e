//! The governance domain: proposal kinds and their payloads, impact, roles, votes,
//! execution reports and proposal status.

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

pub use crate::params::RiskLevel;
use crate::params::{FreezeWindow, TierParams};
use crate::{Hash, Height, ProposalId, PublicKey, RegionId, Timestamp, Validator};

/// What the author expects a change to cost.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct ImpactAssessment {
    /// Expected cost in the chain's cost unit.
    pub cost: u64,
    /// Expected downtime in minutes.
    pub downtime_minutes: u64,
    /// The risk the author declares.
    pub declared_risk: RiskLevel,
    /// Free-text analysis.
    pub analysis: String,
}

/// When an approved proposal executes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
#[serde(rename_all = "snake_case")]
pub enum ExecutionMode {
    /// As soon as it is executable.
    OnApproval,
    /// When someone sends an `Execute` transaction.
    ManualExecute,
}

/// Normal proposals are voted first; emergencies (guardians only) execute at once and are ratified after.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Urgency {
    /// Vote, then execute.
    Normal,
    /// Execute now, ratify afterwards.
    Emergency {
        /// Why it cannot wait.
        justification: String,
    },
}

/// Sub-kinds of pipeline actions.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
#[serde(rename_all = "snake_case")]
pub enum PipelineActionKind {
    /// Deploy infrastructure.
    InfrastructureDeployment,
    /// Deploy a model, usually across regions.
    ModelDeployment,
    /// Roll out a security upgrade.
    SecurityUpgrade,
    /// Scale an application.
    ApplicationScaling,
}

/// One step of a phased rollout.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct RolloutPhase {
    /// Share of the fleet covered once this phase is done, 1 to 100.
    pub percent: u8,
}

/// A CI/CD pipeline action.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct PipelineAction {
    /// Sub-kind.
    pub action: PipelineActionKind,
    /// Pipeline name.
    pub pipeline: String,
    /// Target environment (`production`, `staging`, …).
    pub environment: String,
    /// Digest of the artifact to deploy.
    pub artifact_digest: Hash,
    /// Rollout phases, increasing, ending at 100.
    pub phases: Vec<RolloutPhase>,
    /// How to undo it.
    pub rollback_plan: String,
}

/// Sub-kinds of infrastructure changes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
#[serde(rename_all = "snake_case")]
pub enum InfrastructureChangeKind {
    /// Add resources.
    ResourceAddition,
    /// Modify resources.
    ResourceModification,
    /// Remove resources.
    ResourceRemoval,
    /// Change the architecture, including the validator set.
    ArchitectureChange,
}

/// A validator as the chain spec and validator-set updates describe it.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct ValidatorSpec {
    /// Operator-chosen name.
    pub name: String,
    /// Region it belongs to.
    pub region: RegionId,
    /// Consensus (vote-signing) key.
    pub consensus_key: PublicKey,
    /// ed25519 public key of its p2p identity.
    pub p2p_key: PublicKey,
    /// Address its peers dial, as a multiaddr (`/ip4/10.0.0.5/tcp/30300`).
    pub listen_addr: String,
    /// Voting power.
    pub power: u64,
}

impl ValidatorSpec {
    /// The validator as consensus sees it (its p2p identity and address stay with the node).
    pub fn to_validator(&self) -> Validator {
        Validator {
            name: self.name.clone(),
            region: self.region.clone(),
            key: self.consensus_key,
            power: self.power,
        }
    }
}

/// One change to the validator set.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
#[serde(rename_all = "snake_case", tag = "op")]
pub enum ValidatorChange {
    /// Add a validator (a new region is added by adding its first validator).
    Add {
        /// The validator.
        validator: ValidatorSpec,
    },
    /// Remove a validator.
    Remove {
        /// Its consensus key.
        consensus_key: PublicKey,
    },
    /// Change a validator's power.
    SetPower {
        /// Its consensus key.
        consensus_key: PublicKey,
        /// The new power.
        power: u64,
    },
}

/// An infrastructure change.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct InfrastructureChange {
    /// Sub-kind.
    pub change: InfrastructureChangeKind,
    /// Resources touched.
    pub resources: Vec<String>,
    /// Validator-set changes; only for architecture changes. They take effect two heights after approval.
    #[serde(default)]
    pub validator_updates: Vec<ValidatorChange>,
}

/// Sub-kinds of documentation changes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// The whitepaper.
    Whitepaper,
    /// API documentation.
    ApiDocs,
    /// User guide.
    UserGuide,
    /// Architecture documentation.
    ArchitectureDocs,
    /// Roadmap documents.
    RoadmapDocs,
}

/// A documentation change.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct DocumentationChange {
    /// Sub-kind.
    pub document: DocumentKind,
    /// Path of the document.
    pub path: String,
    /// Digest of the new version.
    pub content_digest: Hash,
    /// Where the new version can be read.
    pub uri: String,
}

/// Sub-kinds of roadmap changes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
#[serde(rename_all = "snake_case")]
pub enum RoadmapChangeKind {
    /// Add a feature.
    FeatureAddition,
    /// Move a timeline.
    TimelineChange,
    /// Change priorities.
    PriorityAdjustment,
    /// Change scope.
    ScopeChange,
}

/// A roadmap change.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct RoadmapChange {
    /// Sub-kind.
    pub change: RoadmapChangeKind,
    /// The roadmap item.
    pub item: String,
    /// The new target quarter, milestone or priority, as text.
    pub target: String,
}

/// A role an account can hold.
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// May submit proposals.
    Proposer,
    /// May vote for one region.
    Voter(RegionId),
    /// May claim and report executions in one region.
    Agent(RegionId),
    /// May cancel any proposal before execution and start emergencies.
    Guardian,
}

/// A change to governance itself.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
#[serde(rename_all = "snake_case", tag = "op")]
pub enum GovernanceChange {
    /// Replace one tier's parameters.
    SetTierParams {
        /// The tier.
        tier: RiskLevel,
        /// Its new parameters.
        params: TierParams,
    },
    /// Replace the freeze windows.
    SetFreezeWindows {
        /// The new windows.
        windows: Vec<FreezeWindow>,
    },
    /// Give an account a role.
    GrantRole {
        /// The account.
        account: PublicKey,
        /// The role.
        role: Role,
    },
    /// Take a role from an account.
    RevokeRole {
        /// The account.
        account: PublicKey,
        /// The role.
        role: Role,
    },
}

/// What a proposal asks for.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
#[serde(rename_all = "snake_case")]
pub enum ProposalBody {
    /// A CI/CD pipeline action.
    PipelineAction(PipelineAction),
    /// An infrastructure change.
    InfrastructureChange(InfrastructureChange),
    /// A documentation change.
    DocumentationChange(DocumentationChange),
    /// A roadmap change.
    RoadmapChange(RoadmapChange),
    /// Changes to governance parameters, roles or freeze windows.
    GovernanceChange(Vec<GovernanceChange>),
}

/// The kind of a proposal, without its payload.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
#[serde(rename_all = "snake_case")]
pub enum ProposalKind {
    /// A CI/CD pipeline action.
    PipelineAction,
    /// An infrastructure change.
    InfrastructureChange,
    /// A documentation change.
    DocumentationChange,
    /// A roadmap change.
    RoadmapChange,
    /// A change to governance itself.
    GovernanceChange,
}

impl ProposalBody {
    /// The kind of this body.
    pub fn kind(&self) -> ProposalKind {
        match self {
            Self::PipelineAction(_) => ProposalKind::PipelineAction,
            Self::InfrastructureChange(_) => ProposalKind::InfrastructureChange,
            Self::DocumentationChange(_) => ProposalKind::DocumentationChange,
            Self::RoadmapChange(_) => ProposalKind::RoadmapChange,
            Self::GovernanceChange(_) => ProposalKind::GovernanceChange,
        }
    }
}

/// A proposal as its author submits it.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct ProposalDraft {
    /// Short title.
    pub title: String,
    /// Longer description.
    pub description: String,
    /// Regions that must each approve; the change runs in each.
    pub regions: Vec<RegionId>,
    /// Impact assessment.
    pub impact: ImpactAssessment,
    /// Proposals that must succeed before this one executes.
    #[serde(default)]
    pub dependencies: Vec<ProposalId>,
    /// Digest of the full change payload; receipts must report it as applied.
    pub payload_digest: Hash,
    /// When it executes once approved.
    pub execution_mode: ExecutionMode,
    /// Earliest height at which it may execute.
    #[serde(default)]
    pub not_before: Option<Height>,
    /// Latest height by which it must have started executing, or it expires.
    #[serde(default)]
    pub execute_by: Option<Height>,
    /// Normal or emergency.
    pub urgency: Urgency,
    /// What it changes.
    pub body: ProposalBody,
}

/// A vote.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
#[serde(rename_all = "snake_case")]
pub enum VoteChoice {
    /// In favour.
    Yes,
    /// Against.
    No,
    /// Counts for quorum only.
    Abstain,
    /// Against, and blocking when enough vetoes are cast.
    Veto,
}

/// Result of one pre- or post-execution check.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// The check passed.
    Passed,
    /// The check failed.
    Failed,
    /// The check did not run.
    Skipped,
}

/// One pre- or post-execution check.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct CheckResult {
    /// Check name.
    pub name: String,
    /// Result.
    pub status: CheckStatus,
}

/// What an agent reports for one region and phase.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum ExecutionOutcome {
    /// The phase was applied.
    Succeeded,
    /// The phase failed.
    Failed {
        /// Why.
        reason: String,
    },
    /// A requested rollback was completed.
    RolledBack,
}

/// A signed execution receipt, as sent by a deploy agent.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
#[serde(deny_unknown_fields)]
pub struct ExecutionReport {
    /// The proposal.
    pub proposal: ProposalId,
    /// The region it ran in.
    pub region: RegionId,
    /// The phase (0-based).
    pub phase: u16,
    /// The idempotency key from the execution request.
    pub idempotency_key: Hash,
    /// What happened.
    pub outcome: ExecutionOutcome,
    /// When the agent started (its clock).
    pub started_at: Timestamp,
    /// When the agent finished (its clock).
    pub finished_at: Timestamp,
    /// Digest of what was applied; must equal the proposal's payload digest.
    pub applied_digest: Hash,
    /// Digest of the target's state before.
    pub before_digest: Hash,
    /// Digest of the target's state after.
    pub after_digest: Hash,
    /// Checks run before applying.
    pub pre_checks: Vec<CheckResult>,
    /// Checks run after applying.
    pub post_checks: Vec<CheckResult>,
    /// Digest of the execution log.
    pub log_digest: Hash,
}

/// Where a proposal is in its lifecycle.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
#[cfg_attr(any(test, feature = "test-utils"), derive(proptest_derive::Arbitrary))]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum ProposalStatus {
    /// Open for votes.
    Voting,
    /// Every region approved.
    Approved,
    /// Waiting for its enactment delay, dependencies, freeze windows or a manual execute.
    Queued,
    /// Running a rollout phase.
    Executing {
        /// The phase (0-based).
        phase: u16,
    },
    /// Every region succeeded in every phase.
    Succeeded,
    /// Some region did not approve.
    Rejected,
    /// Some region vetoed.
    Vetoed,
    /// Voting or execution ran out of time.
    Expired,
    /// Cancelled by its proposer or a guardian.
    Cancelled,
    /// A region failed, or a dependency failed.
    Failed,
    /// Rolling back in the regions that applied it.
    RollingBack,
    /// Every region that applied it has rolled back.
    RolledBack,
    /// An emergency action executing before ratification.
    EmergencyExecuted,
    /// An emergency action the regions ratified.
    Ratified,
    /// An emergency action the regions did not ratify; a rollback follows.
    Unratified,
}
