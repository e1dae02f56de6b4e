//! The records the runtime keeps in state (borsh-encoded under the keys of [`crate::keys`]).

use std::collections::BTreeSet;

use accord_types::governance::{
    ExecutionMode, ProposalKind, ProposalStatus, RiskLevel, Role, ValidatorSpec, VoteChoice,
};
use accord_types::params::TierParams;
use accord_types::{ChainId, Hash, Height, ProposalId, PublicKey, QuorumRule, RegionId};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

/// The chain's identity and its governance regions.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ChainConfig {
    /// Chain id every transaction must carry.
    pub chain_id: ChainId,
    /// Governance regions, sorted.
    pub regions: Vec<RegionId>,
}

/// The validator set as the runtime keeps it: full descriptions (the node needs the p2p
/// keys and addresses) and the quorum rule.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ValidatorRecord {
    /// Quorum rule of the set.
    pub rule: QuorumRule,
    /// Validators, in the order of their consensus keys.
    pub validators: Vec<ValidatorSpec>,
}

/// A validator set scheduled by an approved proposal.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct PendingValidators {
    /// The first height decided by the new set.
    pub effective_height: Height,
    /// The proposal that changed it.
    pub proposal: ProposalId,
    /// The new set.
    pub record: ValidatorRecord,
}

/// An account's roles.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub struct AccountRecord {
    /// The roles held.
    pub roles: BTreeSet<Role>,
}

/// The voter list of a region as it was when a proposal opened.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct VoterSnapshot {
    /// Region.
    pub region: RegionId,
    /// Epoch of the region's voter list.
    pub epoch: u64,
    /// How many voters the list holds.
    pub voters: u32,
}

/// Everything about a proposal that changes after submission, plus the fields every
/// transition needs (the full draft is stored apart, under [`crate::keys::draft`]).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ProposalState {
    /// Id.
    pub id: ProposalId,
    /// Who submitted it.
    pub author: PublicKey,
    /// Kind.
    pub kind: ProposalKind,
    /// Effective risk tier.
    pub tier: RiskLevel,
    /// Current status.
    pub status: ProposalStatus,
    /// Why it has that status.
    pub reason: String,
    /// Affected regions, sorted.
    pub regions: Vec<RegionId>,
    /// Voter lists per region, as snapshotted when voting opened.
    pub voters: Vec<VoterSnapshot>,
    /// The tier's thresholds as they were when voting opened.
    pub thresholds: TierParams,
    /// Height of the block that included it.
    pub submitted_at: Height,
    /// Last height at which votes (or ratification votes) count; tallied in its end-of-block step.
    pub voting_ends: Height,
    /// Whether it is an emergency (executed at once, ratified afterwards).
    pub emergency: bool,
    /// On approval, or waiting for an explicit execute.
    pub execution_mode: ExecutionMode,
    /// Proposals that must succeed first.
    pub dependencies: Vec<ProposalId>,
    /// What agents must apply.
    pub payload_digest: Hash,
    /// Execution phases (one unless a phased rollout).
    pub phases: u16,
    /// Earliest height to execute.
    pub not_before: Option<Height>,
    /// Latest height to start executing.
    pub execute_by: Option<Height>,
    /// Height at which it was approved.
    pub approved_at: Option<Height>,
    /// Height from which it may execute (enactment delay and not-before applied).
    pub eligible_at: Option<Height>,
    /// Whether every phase has been reported successful in every region.
    pub execution_complete: bool,
    /// Height of the last status change.
    pub updated_at: Height,
}

impl ProposalState {
    /// The snapshot of a region, if the proposal affects it.
    pub fn snapshot(&self, region: &RegionId) -> Option<&VoterSnapshot> {
        self.voters.iter().find(|s| &s.region == region)
    }

    /// Whether agents are running (or may still run) its phases.
    pub fn is_executing(&self) -> bool {
        matches!(
            self.status,
            ProposalStatus::Executing { .. }
                | ProposalStatus::EmergencyExecuted
                | ProposalStatus::Ratified
        ) && !self.execution_complete
    }
}

/// Votes counted in one region.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
pub struct Tally {
    /// Yes votes.
    pub yes: u32,
    /// No votes.
    pub no: u32,
    /// Abstentions.
    pub abstain: u32,
    /// Vetoes.
    pub veto: u32,
}

impl Tally {
    /// Counts one more vote of a kind (saturating).
    pub fn add(&mut self, choice: VoteChoice) {
        let slot = self.slot(choice);
        *slot = slot.saturating_add(1);
    }

    /// Counts one vote of a kind less (saturating).
    pub fn remove(&mut self, choice: VoteChoice) {
        let slot = self.slot(choice);
        *slot = slot.saturating_sub(1);
    }

    fn slot(&mut self, choice: VoteChoice) -> &mut u32 {
        match choice {
            VoteChoice::Yes => &mut self.yes,
            VoteChoice::No => &mut self.no,
            VoteChoice::Abstain => &mut self.abstain,
            VoteChoice::Veto => &mut self.veto,
        }
    }

    /// Every vote cast.
    pub fn turnout(&self) -> u64 {
        u64::from(self.yes) + u64::from(self.no) + u64::from(self.abstain) + u64::from(self.veto)
    }
}

/// Every ballot on one proposal in one region, with their tally: one record per
/// (proposal, region), so a block of many votes rewrites one record per proposal and
/// region it touched rather than one key per vote.
#[derive(Debug, Clone, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct BallotBox {
    /// The counts of `choices`, kept alongside so closing a vote reads one record.
    pub tally: Tally,
    /// One entry per voter of the region's snapshot, in the snapshot list's (sorted)
    /// order: the voter's current choice, or `None` before it votes.
    pub choices: Vec<Option<VoteChoice>>,
}

impl BallotBox {
    /// An empty box for a snapshot of `voters` voters.
    pub fn new(voters: usize) -> Self {
        Self {
            tally: Tally::default(),
            choices: vec![None; voters],
        }
    }

    /// Records the choice of the voter at `index` (a position in the snapshot list),
    /// replacing any earlier one. Returns `false`, changing nothing, when the index is
    /// outside the box.
    pub fn cast(&mut self, index: usize, choice: VoteChoice) -> bool {
        let Some(slot) = self.choices.get_mut(index) else {
            return false;
        };
        if let Some(previous) = slot.replace(choice) {
            self.tally.remove(previous);
        }
        self.tally.add(choice);
        true
    }
}

/// Where a region stands in the current phase.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum PhaseState {
    /// Requested; no agent holds it.
    Requested,
    /// An agent claimed it; its lease ends at a height.
    Claimed {
        /// The agent.
        agent: PublicKey,
        /// The lease expires in the end-of-block step of this height.
        lease_expires: Height,
    },
    /// Reported successful.
    Succeeded,
    /// Reported failed.
    Failed,
    /// No longer wanted (the proposal failed elsewhere or was not ratified).
    Withdrawn,
}

/// Where a region stands in rolling a proposal back.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RollbackState {
    /// Nothing to roll back, or not asked.
    NotRequested,
    /// Asked; waiting for the agent.
    Requested,
    /// Reported rolled back.
    RolledBack,
}

/// A proposal's execution in one region.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct RegionExecution {
    /// Current phase.
    pub phase: u16,
    /// State of the current phase.
    pub state: PhaseState,
    /// Idempotency key of the current phase's request.
    pub idempotency_key: Hash,
    /// Whether the region reported success for at least one phase (and so has something to roll back).
    pub applied: bool,
    /// Rollback progress.
    pub rollback: RollbackState,
}

/// What a timer does when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimerKind {
    /// Voting (or ratification) closes: tally.
    VotingEnds = 1,
    /// An agent's claim lease ends.
    LeaseExpires = 2,
}

/// Whether a status is final: nothing ever moves a proposal out of it.
pub fn is_terminal(status: ProposalStatus) -> bool {
    matches!(
        status,
        ProposalStatus::Succeeded
            | ProposalStatus::Rejected
            | ProposalStatus::Vetoed
            | ProposalStatus::Expired
            | ProposalStatus::Cancelled
            | ProposalStatus::RolledBack
    )
}

/// Whether a dependency in this status can no longer succeed.
pub fn has_failed(status: ProposalStatus) -> bool {
    matches!(
        status,
        ProposalStatus::Rejected
            | ProposalStatus::Vetoed
            | ProposalStatus::Expired
            | ProposalStatus::Cancelled
            | ProposalStatus::Failed
            | ProposalStatus::RollingBack
            | ProposalStatus::RolledBack
            | ProposalStatus::Unratified
    )
}

/// Every transition the runtime may make, `from → to`. Tests check each status change
/// against it.
pub fn is_allowed_transition(from: ProposalStatus, to: ProposalStatus) -> bool {
    use ProposalStatus as S;
    match (from, to) {
        (S::Voting, S::Approved | S::Rejected | S::Vetoed | S::Expired | S::Cancelled) => true,
        (S::Voting, S::Failed) => true, // a validator-set change that no longer applies
        (S::Approved, S::Queued | S::Cancelled | S::Expired) => true,
        (S::Queued, S::Executing { .. } | S::Succeeded | S::Cancelled | S::Expired | S::Failed) => {
            true
        }
        (S::Executing { phase: a }, S::Executing { phase: b }) => b > a,
        (S::Executing { .. }, S::Succeeded | S::Failed) => true,
        (S::Failed, S::RollingBack) => true,
        (S::RollingBack, S::RolledBack) => true,
        (S::EmergencyExecuted, S::Ratified | S::Unratified | S::Failed) => true,
        (S::Ratified, S::Succeeded | S::Failed) => true,
        (S::Unratified, S::RollingBack) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ballot_box_counts_the_latest_choice_of_each_voter() {
        let mut ballots = BallotBox::new(3);
        assert!(ballots.cast(0, VoteChoice::Yes));
        assert!(ballots.cast(2, VoteChoice::Veto));
        assert!(ballots.cast(0, VoteChoice::No));
        assert_eq!(
            ballots.tally,
            Tally {
                yes: 0,
                no: 1,
                abstain: 0,
                veto: 1
            }
        );
        assert_eq!(
            ballots.choices,
            vec![Some(VoteChoice::No), None, Some(VoteChoice::Veto)]
        );
        // Outside the snapshot: refused, nothing changes.
        let before = ballots.clone();
        assert!(!ballots.cast(3, VoteChoice::Yes));
        assert_eq!(ballots, before);
    }
}
