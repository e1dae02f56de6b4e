//! Submitting, voting on, cancelling and releasing proposals.

use accord_types::governance::{
    ExecutionMode, ProposalBody, ProposalDraft, ProposalStatus, Role, Urgency, VoteChoice,
};
use accord_types::{ErrorCode, Event, ProposalId, PublicKey, RegionId};

use super::Exec;
use crate::error::{refuse, Fail};
use crate::keys;
use crate::records::{ProposalState, TimerKind, VoterSnapshot};
use crate::rules::effective_tier;
use crate::validate::{self, check_draft, MAX_NAME_BYTES};

impl Exec<'_, '_> {
    pub(super) fn submit(&mut self, signer: PublicKey, draft: &ProposalDraft) -> Result<(), Fail> {
        let emergency = matches!(draft.urgency, Urgency::Emergency { .. });
        let role = if emergency {
            Role::Guardian
        } else {
            Role::Proposer
        };
        self.require_role(&signer, &role)?;
        let height = self.height();
        let phases = check_draft(&self.chain, &self.params, height, draft)?;
        for dependency in &draft.dependencies {
            if self.db.proposal(*dependency)?.is_none() {
                return refuse(
                    ErrorCode::UnknownProposal,
                    format!("dependency #{} does not exist", dependency.0),
                );
            }
        }
        if let ProposalBody::InfrastructureChange(change) = &draft.body {
            if !change.validator_updates.is_empty() {
                // A dry run against today's set: the same check runs again at approval.
                let current = self.scheduled_validators()?;
                validate::apply_validator_changes(&current, &change.validator_updates)?;
            }
        }

        let id = ProposalId(
            self.db
                .get("next proposal id", &keys::next_proposal())?
                .unwrap_or(1),
        );
        self.db.put(keys::next_proposal(), &id.0.saturating_add(1));
        let tier = effective_tier(
            &self.params.risk_rules,
            &draft.impact,
            draft.regions.len(),
            &draft.body,
        );
        let thresholds = self.params.tiers.get(tier).clone();
        let mut regions = draft.regions.clone();
        regions.sort();
        let mut voters = Vec::with_capacity(regions.len());
        for region in &regions {
            let epoch = self.db.voter_epoch(region)?;
            let list = self.db.voter_list(region, epoch)?;
            voters.push(VoterSnapshot {
                region: region.clone(),
                epoch,
                voters: u32::try_from(list.len()).unwrap_or(u32::MAX),
            });
        }
        let voting_ends = if emergency {
            height.saturating_add(self.params.execution.emergency_ratification_blocks)
        } else {
            height.saturating_add(thresholds.voting_period)
        };
        let mut state = ProposalState {
            id,
            author: signer,
            kind: draft.body.kind(),
            tier,
            status: ProposalStatus::Voting,
            reason: String::new(),
            regions: regions.clone(),
            voters,
            thresholds,
            submitted_at: height,
            voting_ends,
            emergency,
            execution_mode: draft.execution_mode,
            dependencies: draft.dependencies.clone(),
            payload_digest: draft.payload_digest,
            phases,
            not_before: draft.not_before,
            execute_by: draft.execute_by,
            approved_at: None,
            eligible_at: None,
            execution_complete: false,
            updated_at: height,
        };
        self.db.put(keys::draft(id), draft);
        self.emit(Event::ProposalSubmitted {
            proposal: id,
            kind: state.kind,
            tier,
            regions,
            voting_ends,
        });
        self.set_timer(voting_ends, id, TimerKind::VotingEnds, None);
        if let Urgency::Emergency { justification } = &draft.urgency {
            self.set_status(
                &mut state,
                ProposalStatus::EmergencyExecuted,
                format!(
                    "emergency executed at once; ratification closes at height {}: {justification}",
                    voting_ends.0
                ),
            );
            self.start_phase(&mut state, 0)?;
        } else {
            self.set_status(
                &mut state,
                ProposalStatus::Voting,
                format!("voting open until height {}", voting_ends.0),
            );
        }
        self.db.put_proposal(&state);
        Ok(())
    }

    /// A vote, or a ratification vote on an emergency. Every check comes before the
    /// first write: [`Exec::transaction`] runs votes without a revert layer.
    pub(super) fn vote(
        &mut self,
        signer: PublicKey,
        id: ProposalId,
        region: &RegionId,
        choice: VoteChoice,
        ratification: bool,
    ) -> Result<(), Fail> {
        let facts = self.db.with_proposal(id, |state| {
            let open = if ratification {
                state.emergency && state.status == ProposalStatus::EmergencyExecuted
            } else {
                !state.emergency && state.status == ProposalStatus::Voting
            };
            (
                open,
                state.emergency,
                state.status,
                state.voting_ends,
                state.snapshot(region).map(|s| s.epoch),
            )
        })?;
        let Some((open, emergency, status, voting_ends, epoch)) = facts else {
            return refuse(
                ErrorCode::UnknownProposal,
                format!("there is no proposal #{}", id.0),
            );
        };
        if !open {
            let what = if ratification {
                "ratification votes are for emergencies awaiting ratification"
            } else if emergency {
                "an emergency is ratified with ratify-emergency, not voted on"
            } else {
                "votes are taken only while voting is open"
            };
            return refuse(
                ErrorCode::InvalidStatus,
                format!("proposal #{} is {status:?}: {what}", id.0),
            );
        }
        if self.height() > voting_ends {
            return refuse(
                ErrorCode::InvalidStatus,
                format!(
                    "voting on proposal #{} closed at height {}",
                    id.0, voting_ends.0
                ),
            );
        }
        let Some(epoch) = epoch else {
            return refuse(
                ErrorCode::UnknownRegion,
                format!(
                    "proposal #{} does not affect region {}",
                    id.0,
                    region.as_str()
                ),
            );
        };
        let list = self.db.voter_list(region, epoch)?;
        let Ok(index) = list.binary_search(&signer) else {
            return refuse(
                ErrorCode::Unauthorized,
                format!(
                    "account {signer} was not a voter in {} when proposal #{} opened",
                    region.as_str(),
                    id.0
                ),
            );
        };
        self.db.cast(id, region, (index, list.len()), choice)?;
        self.emit(Event::VoteCast {
            proposal: id,
            region: region.clone(),
            voter: signer,
            choice,
        });
        Ok(())
    }

    pub(super) fn cancel(
        &mut self,
        signer: PublicKey,
        id: ProposalId,
        reason: &str,
    ) -> Result<(), Fail> {
        validate::check_text("cancel reason", reason, MAX_NAME_BYTES, false).map_err(Fail::Tx)?;
        let mut state = self.load(id)?;
        if state.author != signer && !self.has_role(&signer, &Role::Guardian)? {
            return refuse(
                ErrorCode::Unauthorized,
                format!(
                    "only the author of proposal #{} or a guardian may cancel it",
                    id.0
                ),
            );
        }
        if !matches!(
            state.status,
            ProposalStatus::Voting | ProposalStatus::Approved | ProposalStatus::Queued
        ) {
            return refuse(
                ErrorCode::InvalidStatus,
                format!(
                    "proposal #{} is {:?}: only proposals that have not started executing can be cancelled",
                    id.0, state.status
                ),
            );
        }
        let by = if state.author == signer {
            "its author"
        } else {
            "a guardian"
        };
        let reason = if reason.is_empty() {
            format!("cancelled by {by}")
        } else {
            format!("cancelled by {by}: {reason}")
        };
        self.set_status(&mut state, ProposalStatus::Cancelled, reason);
        self.db.delete(keys::queued(id));
        self.db.put_proposal(&state);
        Ok(())
    }

    /// Releases an approved manual-execute proposal into the queue.
    pub(super) fn execute(&mut self, signer: PublicKey, id: ProposalId) -> Result<(), Fail> {
        let mut state = self.load(id)?;
        if state.author != signer && !self.has_role(&signer, &Role::Guardian)? {
            return refuse(
                ErrorCode::Unauthorized,
                format!(
                    "only the author of proposal #{} or a guardian may execute it",
                    id.0
                ),
            );
        }
        if state.status != ProposalStatus::Approved
            || state.execution_mode != ExecutionMode::ManualExecute
        {
            return refuse(
                ErrorCode::InvalidStatus,
                format!(
                    "proposal #{} is {:?}: only approved proposals in manual-execute mode wait for an execute",
                    id.0, state.status
                ),
            );
        }
        self.enqueue(&mut state, "released by execute");
        self.db.put_proposal(&state);
        Ok(())
    }
}
