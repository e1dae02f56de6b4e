//! Execution by regional agents: requests, claims with leases, reports, phases, rollback.

use accord_types::governance::{ExecutionOutcome, ExecutionReport, ProposalStatus, Role};
use accord_types::{ChainId, Domain, ErrorCode, Event, Hash, ProposalId, PublicKey, RegionId};

use super::Exec;
use crate::error::{refuse, Fail, Result};
use crate::keys;
use crate::records::{PhaseState, ProposalState, RegionExecution, RollbackState, TimerKind};
use crate::validate::{self, MAX_LIST, MAX_TEXT_BYTES};

/// The idempotency key of a phase's execution request in a region: an agent that sees
/// the same key twice runs the change once.
pub fn idempotency_key(chain_id: &ChainId, id: ProposalId, region: &RegionId, phase: u16) -> Hash {
    let phase = phase.to_be_bytes();
    request_key(chain_id, id, region, &[b"apply", &phase])
}

/// The idempotency key of a rollback request in a region.
pub fn rollback_key(chain_id: &ChainId, id: ProposalId, region: &RegionId) -> Hash {
    request_key(chain_id, id, region, &[b"rollback"])
}

fn request_key(chain_id: &ChainId, id: ProposalId, region: &RegionId, what: &[&[u8]]) -> Hash {
    let id = id.0.to_be_bytes();
    let mut parts: Vec<&[u8]> = vec![
        chain_id.as_str().as_bytes(),
        &[0],
        &id,
        region.as_str().as_bytes(),
        &[0],
    ];
    parts.extend_from_slice(what);
    Hash::digest_parts(Domain::IDEMPOTENCY, &parts)
}

impl Exec<'_, '_> {
    /// Requests a phase in every affected region.
    pub(crate) fn start_phase(&mut self, state: &mut ProposalState, phase: u16) -> Result<()> {
        if !state.emergency {
            let reason = format!(
                "phase {} of {} requested in every region",
                phase.saturating_add(1),
                state.phases
            );
            self.set_status(state, ProposalStatus::Executing { phase }, reason);
        }
        for region in state.regions.clone() {
            let applied = self
                .db
                .execution(state.id, &region)?
                .is_some_and(|e| e.applied);
            let key = idempotency_key(&self.ctx.chain_id, state.id, &region, phase);
            self.db.put(
                keys::execution(state.id, &region),
                &RegionExecution {
                    phase,
                    state: PhaseState::Requested,
                    idempotency_key: key,
                    applied,
                    rollback: RollbackState::NotRequested,
                },
            );
            self.emit(Event::ExecutionRequested {
                proposal: state.id,
                region,
                phase,
                payload_digest: state.payload_digest,
                idempotency_key: key,
            });
        }
        Ok(())
    }

    pub(super) fn claim(
        &mut self,
        signer: PublicKey,
        id: ProposalId,
        region: &RegionId,
        phase: u16,
    ) -> Result<(), Fail> {
        let state = self.load(id)?;
        Self::require_region(&state, region)?;
        self.require_role(&signer, &Role::Agent(region.clone()))?;
        let mut execution = self.current_execution(&state, region, phase)?;
        let height = self.height();
        match &execution.state {
            PhaseState::Requested => {}
            PhaseState::Claimed { agent, .. } if *agent == signer => {}
            PhaseState::Claimed {
                agent,
                lease_expires,
            } if *lease_expires < height => {
                let _ = agent;
            }
            PhaseState::Claimed {
                agent,
                lease_expires,
            } => {
                return refuse(
                    ErrorCode::InvalidStatus,
                    format!(
                        "phase {phase} of proposal #{} in {} is claimed by {agent} until height {}",
                        id.0,
                        region.as_str(),
                        lease_expires.0
                    ),
                )
            }
            PhaseState::Succeeded | PhaseState::Failed | PhaseState::Withdrawn => {
                return refuse(
                    ErrorCode::InvalidStatus,
                    format!(
                        "phase {phase} of proposal #{} in {} is no longer waiting for an agent",
                        id.0,
                        region.as_str()
                    ),
                )
            }
        }
        let lease_expires = height.saturating_add(self.params.execution.claim_lease_blocks);
        execution.state = PhaseState::Claimed {
            agent: signer,
            lease_expires,
        };
        self.db.put(keys::execution(id, region), &execution);
        self.set_timer(lease_expires, id, TimerKind::LeaseExpires, Some(region));
        self.emit(Event::ExecutionClaimed {
            proposal: id,
            region: region.clone(),
            phase,
            agent: signer,
            lease_expires,
        });
        Ok(())
    }

    /// The region's execution record for the phase the proposal is running.
    fn current_execution(
        &self,
        state: &ProposalState,
        region: &RegionId,
        phase: u16,
    ) -> Result<RegionExecution, Fail> {
        if !state.is_executing() {
            return refuse(
                ErrorCode::InvalidStatus,
                format!(
                    "proposal #{} is {:?}, not executing",
                    state.id.0, state.status
                ),
            );
        }
        let Some(execution) = self.db.execution(state.id, region)? else {
            return refuse(
                ErrorCode::InvalidStatus,
                "no execution was requested in the region",
            );
        };
        if execution.phase != phase {
            return refuse(
                ErrorCode::InvalidStatus,
                format!(
                    "proposal #{} is at phase {} in {}, not phase {phase}",
                    state.id.0,
                    execution.phase,
                    region.as_str()
                ),
            );
        }
        Ok(execution)
    }

    pub(super) fn report(
        &mut self,
        signer: PublicKey,
        report: &ExecutionReport,
    ) -> Result<(), Fail> {
        let id = report.proposal;
        let region = &report.region;
        let mut state = self.load(id)?;
        Self::require_region(&state, region)?;
        self.require_role(&signer, &Role::Agent(region.clone()))?;
        check_report(report)?;
        if report.outcome == ExecutionOutcome::RolledBack {
            return self.report_rollback(signer, &mut state, report);
        }
        let mut execution = self.current_execution(&state, region, report.phase)?;
        match &execution.state {
            PhaseState::Claimed { agent, .. } if *agent == signer => {}
            _ => {
                return refuse(
                    ErrorCode::NotClaimed,
                    format!(
                        "phase {} of proposal #{} in {} is not claimed by {signer}",
                        report.phase,
                        id.0,
                        region.as_str()
                    ),
                )
            }
        }
        if report.idempotency_key != execution.idempotency_key {
            return refuse(
                ErrorCode::IdempotencyMismatch,
                format!(
                    "idempotency key {} is not the request's {}",
                    report.idempotency_key, execution.idempotency_key
                ),
            );
        }
        match &report.outcome {
            ExecutionOutcome::Succeeded => {
                if report.applied_digest != state.payload_digest {
                    return refuse(
                        ErrorCode::DigestMismatch,
                        format!(
                            "applied digest {} is not the proposal's payload digest {}",
                            report.applied_digest, state.payload_digest
                        ),
                    );
                }
                execution.state = PhaseState::Succeeded;
                execution.applied = true;
                self.db.put(keys::execution(id, region), &execution);
                self.emit_reported(signer, report);
                self.advance_if_phase_done(&mut state, report.phase)?;
            }
            ExecutionOutcome::Failed { reason } => {
                execution.state = PhaseState::Failed;
                self.db.put(keys::execution(id, region), &execution);
                self.emit_reported(signer, report);
                let reason = format!(
                    "{} failed phase {}: {reason}",
                    region.as_str(),
                    report.phase.saturating_add(1)
                );
                self.fail_execution(&mut state, reason)?;
            }
            ExecutionOutcome::RolledBack => {}
        }
        self.db.put_proposal(&state);
        Ok(())
    }

    fn emit_reported(&mut self, agent: PublicKey, report: &ExecutionReport) {
        self.emit(Event::ExecutionReported {
            proposal: report.proposal,
            region: report.region.clone(),
            phase: report.phase,
            agent,
            outcome: report.outcome.clone(),
        });
    }

    fn report_rollback(
        &mut self,
        signer: PublicKey,
        state: &mut ProposalState,
        report: &ExecutionReport,
    ) -> Result<(), Fail> {
        let region = &report.region;
        let execution = self.db.execution(state.id, region)?;
        let Some(mut execution) = execution.filter(|e| {
            state.status == ProposalStatus::RollingBack && e.rollback == RollbackState::Requested
        }) else {
            return refuse(
                ErrorCode::InvalidStatus,
                format!(
                    "no rollback of proposal #{} is waiting in {}",
                    state.id.0,
                    region.as_str()
                ),
            );
        };
        let expected = rollback_key(&self.ctx.chain_id, state.id, region);
        if report.idempotency_key != expected {
            return refuse(
                ErrorCode::IdempotencyMismatch,
                format!(
                    "idempotency key {} is not the rollback request's {expected}",
                    report.idempotency_key
                ),
            );
        }
        execution.rollback = RollbackState::RolledBack;
        self.db.put(keys::execution(state.id, region), &execution);
        self.emit_reported(signer, report);
        let mut waiting = false;
        for other in &state.regions {
            if let Some(e) = self.db.execution(state.id, other)? {
                waiting |= e.rollback == RollbackState::Requested;
            }
        }
        if !waiting {
            self.set_status(
                state,
                ProposalStatus::RolledBack,
                "rolled back in every region that had applied it",
            );
        }
        self.db.put_proposal(state);
        Ok(())
    }

    /// Moves to the next phase, or completes, once every region succeeded in `phase`.
    fn advance_if_phase_done(&mut self, state: &mut ProposalState, phase: u16) -> Result<()> {
        for region in &state.regions {
            let done = self
                .db
                .execution(state.id, region)?
                .is_some_and(|e| e.phase == phase && e.state == PhaseState::Succeeded);
            if !done {
                return Ok(());
            }
        }
        let next = phase.saturating_add(1);
        if next < state.phases {
            return self.start_phase(state, next);
        }
        state.execution_complete = true;
        match state.status {
            ProposalStatus::EmergencyExecuted => {
                // Stays until ratification closes; the status reason tells the story.
                state.reason = format!(
                    "executed in every region; ratification closes at height {}",
                    state.voting_ends.0
                );
            }
            _ => self.set_status(
                state,
                ProposalStatus::Succeeded,
                "every phase succeeded in every region",
            ),
        }
        Ok(())
    }

    /// Fails a proposal that was executing: withdraws outstanding requests and asks the
    /// regions that applied anything to roll back.
    pub(crate) fn fail_execution(
        &mut self,
        state: &mut ProposalState,
        reason: String,
    ) -> Result<()> {
        self.set_status(state, ProposalStatus::Failed, reason);
        self.roll_back(state)
    }

    /// Withdraws outstanding requests and requests rollback where something was applied.
    /// Moves to `RollingBack` when there is anything to roll back.
    pub(crate) fn roll_back(&mut self, state: &mut ProposalState) -> Result<()> {
        let mut any = false;
        for region in state.regions.clone() {
            let Some(mut execution) = self.db.execution(state.id, &region)? else {
                continue;
            };
            if matches!(
                execution.state,
                PhaseState::Requested | PhaseState::Claimed { .. }
            ) {
                execution.state = PhaseState::Withdrawn;
            }
            if execution.applied {
                execution.rollback = RollbackState::Requested;
                any = true;
                self.emit(Event::RollbackRequested {
                    proposal: state.id,
                    region: region.clone(),
                    idempotency_key: rollback_key(&self.ctx.chain_id, state.id, &region),
                });
            }
            self.db.put(keys::execution(state.id, &region), &execution);
        }
        if any {
            self.set_status(
                state,
                ProposalStatus::RollingBack,
                "rollback requested in every region that applied it",
            );
        }
        Ok(())
    }

    /// A claim whose lease ran out returns to the pool of requests.
    pub(super) fn lease_expired(&mut self, id: ProposalId, region: &RegionId) -> Result<()> {
        let Some(state) = self.db.proposal(id)? else {
            return Ok(());
        };
        if !state.is_executing() {
            return Ok(());
        }
        let Some(mut execution) = self.db.execution(id, region)? else {
            return Ok(());
        };
        let height = self.height();
        if !matches!(execution.state, PhaseState::Claimed { lease_expires, .. } if lease_expires == height)
        {
            return Ok(());
        }
        execution.state = PhaseState::Requested;
        self.db.put(keys::execution(id, region), &execution);
        self.emit(Event::ExecutionRequested {
            proposal: id,
            region: region.clone(),
            phase: execution.phase,
            payload_digest: state.payload_digest,
            idempotency_key: execution.idempotency_key,
        });
        Ok(())
    }
}

fn check_report(report: &ExecutionReport) -> Result<(), Fail> {
    if report.finished_at < report.started_at {
        return refuse(
            ErrorCode::InvalidPayload,
            format!(
                "finished at {} before it started at {}",
                report.finished_at.0, report.started_at.0
            ),
        );
    }
    for (field, list) in [
        ("pre-checks", &report.pre_checks),
        ("post-checks", &report.post_checks),
    ] {
        if list.len() > MAX_LIST {
            return refuse(
                ErrorCode::LimitExceeded,
                format!(
                    "{field} has {} entries, more than the limit of {MAX_LIST}",
                    list.len()
                ),
            );
        }
        for check in list {
            validate::check_text("check name", &check.name, validate::MAX_NAME_BYTES, true)
                .map_err(Fail::Tx)?;
        }
    }
    if let ExecutionOutcome::Failed { reason } = &report.outcome {
        validate::check_text("failure reason", reason, MAX_TEXT_BYTES, false).map_err(Fail::Tx)?;
    }
    Ok(())
}
