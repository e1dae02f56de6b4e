//! The start- and end-of-block steps: validator-set activation, evidence, timers and the
//! execution queue. Every timeout of the governance process fires here.

use accord_types::governance::{
    ExecutionMode, GovernanceChange, ProposalBody, ProposalKind, ProposalStatus, Role,
};
use accord_types::{Event, ProposalId, RegionId, ValidatorSet};

use super::{Exec, ValidatorUpdate};
use crate::error::{Error, Result};
use crate::keys;
use crate::records::{
    has_failed, AccountRecord, PendingValidators, ProposalState, TimerKind, ValidatorRecord,
};
use crate::rules::{decide, Decision};
use crate::validate::{self, apply_params};

/// Heights between a validator-set change's approval and the first height the new set decides.
pub const VALIDATOR_CHANGE_DELAY: u64 = 2;

impl Exec<'_, '_> {
    /// Makes a scheduled validator set current once its height has come.
    pub(super) fn begin_block(&mut self) -> Result<()> {
        let pending: Option<PendingValidators> = self
            .db
            .get("pending validator set", &keys::pending_validators())?;
        if let Some(pending) = pending {
            if pending.effective_height <= self.height() {
                self.db.put(keys::validators(), &pending.record);
                self.db.delete(keys::pending_validators());
            }
        }
        Ok(())
    }

    /// The validator set that will be current once every scheduled change applies.
    pub(crate) fn scheduled_validators(&self) -> Result<ValidatorRecord> {
        let pending: Option<PendingValidators> = self
            .db
            .get("pending validator set", &keys::pending_validators())?;
        match pending {
            Some(pending) => Ok(pending.record),
            None => self.db.validators(),
        }
    }

    pub(super) fn end_block(&mut self) -> Result<()> {
        self.record_evidence()?;
        let timers = self.db.keys_under(&keys::timers_at(self.height()))?;
        for key in timers {
            self.db.delete(key.clone());
            let (id, kind, region) = parse_timer(&key)?;
            match kind {
                k if k == TimerKind::VotingEnds as u8 => self.close_voting(id)?,
                k if k == TimerKind::LeaseExpires as u8 => {
                    if let Some(region) = region {
                        self.lease_expired(id, &region)?;
                    }
                }
                _ => {
                    return Err(Error::Corrupt {
                        what: "timer",
                        key: hex::encode(&key),
                        reason: format!("unknown timer kind {kind}"),
                    })
                }
            }
        }
        self.process_queue()
    }

    fn record_evidence(&mut self) -> Result<()> {
        for evidence in &self.ctx.evidence {
            let key = keys::evidence(&evidence.hash());
            if self.db.get::<u64>("evidence", &key)?.is_some() {
                continue;
            }
            self.db.put(key, &self.ctx.height.0);
            self.events.push(Event::EvidenceRecorded {
                validator: *evidence.offender(),
                height: evidence.height(),
            });
        }
        Ok(())
    }

    fn close_voting(&mut self, id: ProposalId) -> Result<()> {
        let Some(mut state) = self.db.proposal(id)? else {
            return Ok(());
        };
        let mut tallies = Vec::with_capacity(state.voters.len());
        for snapshot in &state.voters {
            tallies.push((
                &snapshot.region,
                snapshot.voters,
                self.db.tally(id, &snapshot.region)?,
            ));
        }
        let decision = decide(&state.thresholds, tallies);
        match state.status {
            ProposalStatus::Voting if !state.emergency => {
                self.conclude_vote(&mut state, decision)?;
            }
            ProposalStatus::EmergencyExecuted if state.emergency => {
                self.conclude_ratification(&mut state, decision)?;
            }
            _ => return Ok(()),
        }
        self.db.put_proposal(&state);
        Ok(())
    }

    fn conclude_vote(&mut self, state: &mut ProposalState, decision: Decision) -> Result<()> {
        match decision {
            Decision::Approved => {}
            Decision::Vetoed { region } => {
                self.set_status(
                    state,
                    ProposalStatus::Vetoed,
                    format!("vetoed in {}", region.as_str()),
                );
                return Ok(());
            }
            Decision::Expired { region } => {
                self.set_status(
                    state,
                    ProposalStatus::Expired,
                    format!("voting closed without a quorum in {}", region.as_str()),
                );
                return Ok(());
            }
            Decision::Rejected { region } => {
                self.set_status(
                    state,
                    ProposalStatus::Rejected,
                    format!("rejected in {}", region.as_str()),
                );
                return Ok(());
            }
        }
        if state.kind == ProposalKind::InfrastructureChange {
            if let ProposalBody::InfrastructureChange(change) = self.db.draft(state.id)?.body {
                if !change.validator_updates.is_empty() {
                    let current = self.scheduled_validators()?;
                    match validate::apply_validator_changes(&current, &change.validator_updates) {
                        Ok(record) => self.schedule_validators(state.id, record)?,
                        Err(refusal) => {
                            self.set_status(
                                state,
                                ProposalStatus::Failed,
                                format!(
                                    "approved, but the validator-set update no longer applies: {}",
                                    refusal.message
                                ),
                            );
                            return Ok(());
                        }
                    }
                }
            }
        }
        let height = self.height();
        state.approved_at = Some(height);
        self.set_status(
            state,
            ProposalStatus::Approved,
            "approved in every affected region",
        );
        match state.execution_mode {
            ExecutionMode::OnApproval => self.enqueue(state, "queued on approval"),
            ExecutionMode::ManualExecute => {
                // Waits for an execute; the queue still watches its execute-by height.
                self.db.put(keys::queued(state.id), &());
            }
        }
        Ok(())
    }

    fn schedule_validators(&mut self, proposal: ProposalId, record: ValidatorRecord) -> Result<()> {
        let effective_height = self.height().saturating_add(VALIDATOR_CHANGE_DELAY);
        let validators = ValidatorSet::new(
            record.validators.iter().map(|v| v.to_validator()).collect(),
            record.rule,
        )
        .map_err(|e| Error::Corrupt {
            what: "validator set",
            key: hex::encode(keys::pending_validators()),
            reason: e.to_string(),
        })?;
        // A validator in a new region brings the region into governance.
        let mut regions_changed = false;
        for spec in &record.validators {
            if let Err(position) = self.chain.regions.binary_search(&spec.region) {
                self.chain.regions.insert(position, spec.region.clone());
                regions_changed = true;
            }
        }
        if regions_changed {
            self.db.put(keys::chain(), &self.chain);
        }
        self.db.put(
            keys::pending_validators(),
            &PendingValidators {
                effective_height,
                proposal,
                record: record.clone(),
            },
        );
        self.emit(Event::ValidatorSetChangeScheduled {
            proposal,
            effective_height,
        });
        self.validator_update = Some(ValidatorUpdate {
            effective_height,
            proposal,
            validators,
            specs: record.validators,
        });
        Ok(())
    }

    fn conclude_ratification(
        &mut self,
        state: &mut ProposalState,
        decision: Decision,
    ) -> Result<()> {
        if decision == Decision::Approved {
            self.set_status(
                state,
                ProposalStatus::Ratified,
                "ratified in every affected region",
            );
            if state.execution_complete {
                self.set_status(
                    state,
                    ProposalStatus::Succeeded,
                    "executed in every region and ratified",
                );
            }
            return Ok(());
        }
        let why = match decision {
            Decision::Vetoed { region } => format!("vetoed in {}", region.as_str()),
            Decision::Expired { region } => format!("no quorum in {}", region.as_str()),
            Decision::Rejected { region } => format!("rejected in {}", region.as_str()),
            Decision::Approved => String::new(),
        };
        self.set_status(
            state,
            ProposalStatus::Unratified,
            format!("emergency not ratified: {why}"),
        );
        self.roll_back(state)
    }

    /// Puts an approved proposal in the execution queue.
    pub(crate) fn enqueue(&mut self, state: &mut ProposalState, reason: &str) {
        let height = self.height();
        let delay_end = state
            .approved_at
            .unwrap_or(height)
            .saturating_add(state.thresholds.enactment_delay);
        let eligible = [Some(delay_end), state.not_before, Some(height)]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(height);
        state.eligible_at = Some(eligible);
        self.set_status(
            state,
            ProposalStatus::Queued,
            format!("{reason}; may execute from height {}", eligible.0),
        );
        self.db.put(keys::queued(state.id), &());
    }

    fn process_queue(&mut self) -> Result<()> {
        let queued = self.db.keys_under(&keys::queue_prefix())?;
        for key in queued {
            let id = parse_id(&key, 2)?;
            let Some(mut state) = self.db.proposal(id)? else {
                self.db.delete(key);
                continue;
            };
            let keep = self.advance_queued(&mut state)?;
            if !keep {
                self.db.delete(key);
            }
            self.db.put_proposal(&state);
        }
        Ok(())
    }

    /// One queue step for one proposal; returns whether it stays queued.
    fn advance_queued(&mut self, state: &mut ProposalState) -> Result<bool> {
        let height = self.height();
        if !matches!(
            state.status,
            ProposalStatus::Approved | ProposalStatus::Queued
        ) {
            return Ok(false);
        }
        if let Some(execute_by) = state.execute_by {
            if height > execute_by {
                self.set_status(
                    state,
                    ProposalStatus::Expired,
                    format!("not executed by height {}", execute_by.0),
                );
                return Ok(false);
            }
        }
        if state.status == ProposalStatus::Approved {
            return Ok(true);
        }
        let mut waiting = false;
        for dependency in state.dependencies.clone() {
            let status = self.db.proposal(dependency)?.map(|d| d.status);
            match status {
                Some(ProposalStatus::Succeeded) => {}
                Some(status) if has_failed(status) => {
                    self.set_status(
                        state,
                        ProposalStatus::Failed,
                        format!("dependency #{} is {status:?}", dependency.0),
                    );
                    return Ok(false);
                }
                _ => waiting = true,
            }
        }
        if waiting || state.eligible_at.is_some_and(|at| height < at) {
            return Ok(true);
        }
        let now = self.ctx.timestamp;
        let frozen = self.params.freeze_windows.iter().any(|window| {
            state
                .regions
                .iter()
                .any(|region| window.freezes(region, now))
        });
        if frozen {
            return Ok(true);
        }
        match state.kind {
            ProposalKind::GovernanceChange => {
                self.enact_on_chain(state)?;
            }
            _ => self.start_phase(state, 0)?,
        }
        Ok(false)
    }

    /// Proposals that need no agent take effect in the state itself.
    fn enact_on_chain(&mut self, state: &mut ProposalState) -> Result<()> {
        if let ProposalBody::GovernanceChange(changes) = self.db.draft(state.id)?.body {
            apply_params(&mut self.params, &changes);
            self.db.put(keys::params(), &self.params);
            let mut voter_regions: Vec<RegionId> = Vec::new();
            for change in &changes {
                let (account, role, grant) = match change {
                    GovernanceChange::GrantRole { account, role } => (account, role, true),
                    GovernanceChange::RevokeRole { account, role } => (account, role, false),
                    _ => continue,
                };
                let mut record: AccountRecord = self.db.account(account)?;
                let changed = if grant {
                    record.roles.insert(role.clone())
                } else {
                    record.roles.remove(role)
                };
                if record.roles.is_empty() {
                    self.db.delete(keys::account(account));
                } else {
                    self.db.put(keys::account(account), &record);
                }
                if let (Role::Voter(region), true) = (role, changed) {
                    if !voter_regions.contains(region) {
                        voter_regions.push(region.clone());
                    }
                }
            }
            for region in voter_regions {
                self.rebuild_voter_list(&region)?;
            }
            self.emit(Event::GovernanceChanged { proposal: state.id });
        }
        self.set_status(state, ProposalStatus::Succeeded, "enacted on chain");
        Ok(())
    }

    /// Writes a new epoch of a region's voter list from the accounts' roles.
    pub(crate) fn rebuild_voter_list(&mut self, region: &RegionId) -> Result<()> {
        let role = Role::Voter(region.clone());
        let accounts: Vec<(Vec<u8>, AccountRecord)> =
            self.db.entries_under("account", &keys::accounts_prefix())?;
        let mut voters = Vec::new();
        for (key, record) in accounts {
            if record.roles.contains(&role) {
                voters.push(parse_account(&key)?);
            }
        }
        self.db.set_voter_list(region, voters)?;
        Ok(())
    }
}

fn corrupt_key(key: &[u8], reason: &str) -> Error {
    Error::Corrupt {
        what: "index key",
        key: hex::encode(key),
        reason: reason.to_owned(),
    }
}

fn parse_id(key: &[u8], offset: usize) -> Result<ProposalId> {
    let bytes: [u8; 8] = key
        .get(offset..offset.saturating_add(8))
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| corrupt_key(key, "too short for a proposal id"))?;
    Ok(ProposalId(u64::from_be_bytes(bytes)))
}

fn parse_account(key: &[u8]) -> Result<accord_types::PublicKey> {
    let bytes: [u8; 32] = key
        .get(2..34)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| corrupt_key(key, "too short for an account key"))?;
    Ok(accord_types::PublicKey::from_bytes(bytes))
}

/// Splits `t/<height 8><id 8><kind 1>[<len 1><region>]`.
fn parse_timer(key: &[u8]) -> Result<(ProposalId, u8, Option<RegionId>)> {
    let id = parse_id(key, 10)?;
    let kind = *key
        .get(18)
        .ok_or_else(|| corrupt_key(key, "timer key has no kind"))?;
    let region = match key.get(19..) {
        Some(rest) if !rest.is_empty() => {
            let text = rest
                .get(1..)
                .and_then(|b| std::str::from_utf8(b).ok())
                .ok_or_else(|| corrupt_key(key, "timer region is not text"))?;
            Some(RegionId::new(text).map_err(|e| corrupt_key(key, &e.to_string()))?)
        }
        _ => None,
    };
    Ok((id, kind, region))
}
