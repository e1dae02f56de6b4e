//! One request, from verification to a final report: the payload check, the claim
//! and its renewal, the run, the report, and the journal entry at every step.

use std::path::PathBuf;
use std::time::Duration;

use accord_rpc::types::{EventFilter, EventView, StateTarget, TransactionStatus};
use accord_rpc::verify::Record;
use accord_runtime::records::{PhaseState, ProposalState, RegionExecution, RollbackState};
use accord_types::governance::{ExecutionOutcome, ExecutionReport, ProposalBody, ProposalStatus};
use accord_types::{
    Event, EventCursor, Hash, Height, Outcome, Payload, ProposalId, RegionId, Timestamp,
};

use super::Agent;
use crate::config::{Action, BodyKind};
use crate::durable;
use crate::error::{Error, Refusal, Result};
use crate::journal::{Entry, State, Task};
use crate::node::{Included, Node};
use crate::runner::{self, Environment, Execution, HealthCheck, Plan, Step};
use crate::trust::ProofSource;

/// The reason reported for a command that may have run when the agent stopped.
pub const RESTART_REASON: &str = "agent restarted during execution; outcome unknown";

/// Pages of events read when looking for this agent's own report.
const MAX_REPORT_PAGES: usize = 100;

/// Whether a claim is this agent's.
enum Claim {
    Held(Height),
    Lost(String),
}

/// Everything about the execution being handled.
#[derive(Clone)]
struct Job {
    task: Task,
    proposal: ProposalId,
    region: RegionId,
    phase: u16,
    phases: u16,
    key: Hash,
    payload_digest: Hash,
    /// The cursor of the event being handled.
    cursor: EventCursor,
    /// The cursor under which the journal first recorded this execution.
    first_seen: EventCursor,
    /// The requesting block's timestamp.
    requested_at: Timestamp,
    kind: BodyKind,
    entry_name: String,
    action: Action,
    body: ProposalBody,
}

/// Aborts a task when dropped, so an agent stopped mid-command kills its child.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Agent {
    /// The proposal's body, checked against the proven payload digest, and its state,
    /// proven against the node's head.
    async fn proposal(
        &mut self,
        node: &Node,
        id: ProposalId,
        digest: Option<Hash>,
    ) -> Result<(ProposalBody, ProposalState, Option<RegionExecution>)> {
        let what = format!("proposal #{}", id.0);
        let refused = |refusal| Error::Refused {
            endpoint: node.url().to_owned(),
            what: what.clone(),
            refusal,
        };
        let (record, _) = self
            .trust
            .verify_state(node, StateTarget::Proposal { id })
            .await?;
        let Record::Proposal(Some(state)) = record else {
            return Err(refused(Refusal::Inconsistent {
                reason: format!(
                    "the node proves that no proposal #{} exists, which a proven event names",
                    id.0
                ),
            }));
        };
        let expected = digest.unwrap_or(state.payload_digest);
        if state.payload_digest != expected {
            return Err(refused(Refusal::Inconsistent {
                reason: format!(
                    "the proven proposal's payload digest {} is not the request's {expected}",
                    state.payload_digest
                ),
            }));
        }
        let Some(view) = node.proposal(id).await? else {
            return Err(refused(Refusal::Inconsistent {
                reason: format!(
                    "the node has no proposal #{} to read, but proves it exists",
                    id.0
                ),
            }));
        };
        let found = accord_runtime::payload_digest(&view.draft.body);
        if found != expected {
            return Err(refused(Refusal::PayloadDigest { expected, found }));
        }
        let region = &self.config.region;
        let execution = view
            .executions
            .into_iter()
            .find(|(r, _)| r == region)
            .map(|(_, e)| e);
        Ok((view.draft.body, *state, execution))
    }

    fn job(
        &self,
        task: Task,
        view: &EventView,
        requested_at: Timestamp,
        (proposal, phase, key, payload_digest): (ProposalId, u16, Hash, Hash),
        state: &ProposalState,
        body: ProposalBody,
    ) -> std::result::Result<Job, (String, String)> {
        let Some(kind) = BodyKind::of(&body) else {
            return Err((
                "governance_change".into(),
                "governance changes are enacted on chain".into(),
            ));
        };
        let Some((entry_name, action)) = self.config.action(&kind.action) else {
            return Err((
                kind.action.clone(),
                format!(
                    "no [actions.{}] or [actions.default] is configured",
                    kind.action
                ),
            ));
        };
        let first_seen = self.journal.get(&key).map_or(view.cursor, |e| e.request);
        Ok(Job {
            task,
            proposal,
            region: self.config.region.clone(),
            phase,
            phases: state.phases,
            key,
            payload_digest,
            cursor: view.cursor,
            first_seen,
            requested_at,
            entry_name: entry_name.to_owned(),
            action: action.clone(),
            kind,
            body,
        })
    }

    pub(super) async fn on_request(&mut self, node: &Node, view: &EventView) -> Result<()> {
        let Event::ExecutionRequested {
            proposal,
            phase,
            payload_digest,
            idempotency_key,
            ..
        } = view.event
        else {
            return Ok(());
        };
        let existing = self.journal.get(&idempotency_key).map(|e| e.state.clone());
        if existing.as_ref().is_some_and(State::is_final) {
            tracing::debug!(target: "accord::agent", cursor = %view.cursor, "already done");
            return Ok(());
        }
        let proven = self
            .trust
            .verify_event(node, view.cursor, &view.event)
            .await?;
        let (body, state, execution) = self.proposal(node, proposal, Some(payload_digest)).await?;
        let job = match self.job(
            Task::Apply,
            view,
            proven.header.timestamp,
            (proposal, phase, idempotency_key, payload_digest),
            &state,
            body,
        ) {
            Ok(job) => job,
            Err((kind, why)) => {
                tracing::warn!(target: "accord::agent", proposal = proposal.0, phase, why, "not running the request; another agent of the region may");
                self.metrics.execution(&kind, "no_action");
                return Ok(());
            }
        };
        if self.config.dry_run {
            self.print_plan(&job);
            return Ok(());
        }
        match existing {
            None | Some(State::Claimed { .. }) => {
                if let Err(why) = still_wanted(&state, phase, execution.as_ref().map(|e| &e.state))
                {
                    tracing::info!(target: "accord::agent", proposal = proposal.0, phase, why, "the request is no longer wanted");
                    return self.drop_entry(&job, "not_wanted").await;
                }
                match self.claim(node, &job).await? {
                    Claim::Lost(why) => {
                        tracing::info!(target: "accord::agent", proposal = proposal.0, phase, why, "not claimed");
                        self.drop_entry(&job, "not_claimed").await
                    }
                    Claim::Held(lease) => {
                        self.record(
                            &job,
                            State::Claimed {
                                lease_expires: lease,
                            },
                        )
                        .await?;
                        self.run_and_report(node, &job, lease).await
                    }
                }
            }
            Some(State::Running { started_at }) => {
                if let Some(outcome) = self.own_report(node, &job).await? {
                    return self
                        .finish(&job, Some(outcome), "the report was already final")
                        .await;
                }
                let lease = match self.claim(node, &job).await? {
                    Claim::Held(lease) => lease,
                    Claim::Lost(why) => {
                        let note = format!("interrupted by a restart, and the claim is no longer this agent's: {why}");
                        tracing::error!(target: "accord::agent", proposal = proposal.0, phase, note, "execution abandoned");
                        return self.finish(&job, None, &note).await;
                    }
                };
                if job.action.idempotent {
                    tracing::warn!(target: "accord::agent", proposal = proposal.0, phase, "the agent stopped during the command; running it again (the action is idempotent)");
                    self.run_and_report(node, &job, lease).await
                } else {
                    tracing::warn!(target: "accord::agent", proposal = proposal.0, phase, "the agent stopped during the command; reporting it failed");
                    let log = format!("{RESTART_REASON}\n").into_bytes();
                    let execution = Execution {
                        outcome: ExecutionOutcome::Failed {
                            reason: RESTART_REASON.to_owned(),
                        },
                        pre_checks: Vec::new(),
                        post_checks: Vec::new(),
                        before_digest: None,
                        after_digest: None,
                        log,
                        started_at,
                        finished_at: runner::now().max(started_at),
                    };
                    self.save_log(&job, &execution).await;
                    let report = self.report(&job, &execution);
                    self.record(
                        &job,
                        State::Ran {
                            report: Box::new(report.clone()),
                        },
                    )
                    .await?;
                    self.submit_report(node, &job, report).await
                }
            }
            Some(State::Ran { report }) => self.resume_report(node, &job, *report, None).await,
            Some(State::Reported {
                report,
                transaction,
            }) => {
                self.resume_report(node, &job, *report, Some(transaction))
                    .await
            }
            Some(State::Final { .. }) => Ok(()),
        }
    }

    pub(super) async fn on_rollback(&mut self, node: &Node, view: &EventView) -> Result<()> {
        let Event::RollbackRequested {
            proposal,
            idempotency_key,
            ..
        } = view.event
        else {
            return Ok(());
        };
        let existing = self.journal.get(&idempotency_key).map(|e| e.state.clone());
        if existing.as_ref().is_some_and(State::is_final) {
            return Ok(());
        }
        let proven = self
            .trust
            .verify_event(node, view.cursor, &view.event)
            .await?;
        let (body, state, execution) = self.proposal(node, proposal, None).await?;
        // The phase the region reached (read without proof: the chain does not check it).
        let phase = execution.as_ref().map_or(0, |e| e.phase);
        let rollback = execution.map(|e| e.rollback);
        let digest = state.payload_digest;
        let job = match self.job(
            Task::Rollback,
            view,
            proven.header.timestamp,
            (proposal, phase, idempotency_key, digest),
            &state,
            body,
        ) {
            Ok(job) => job,
            Err((kind, why)) => {
                tracing::error!(target: "accord::agent", proposal = proposal.0, why, "cannot serve the rollback request");
                self.metrics.execution(&kind, "no_action");
                return Ok(());
            }
        };
        let Some(argv) = job.action.rollback.clone() else {
            tracing::error!(
                target: "accord::agent",
                proposal = proposal.0,
                action = job.entry_name,
                "a rollback is requested but the action has no `rollback` command; the proposal stays rolling back until one is reported"
            );
            self.metrics.execution(&job.kind.action, "no_rollback");
            return Ok(());
        };
        let step = Step {
            label: "rollback".into(),
            argv,
            timeout: job.action.timeout(),
        };
        if self.config.dry_run {
            println!(
                "dry run: roll back proposal #{} in {} (request {})\n{}",
                proposal.0,
                job.region,
                view.cursor,
                runner::describe(&[&step], &self.environment(&job))
            );
            return Ok(());
        }
        match existing {
            None | Some(State::Claimed { .. }) => {
                if state.status != ProposalStatus::RollingBack
                    || rollback != Some(RollbackState::Requested)
                {
                    tracing::info!(target: "accord::agent", proposal = proposal.0, status = ?state.status, "no rollback is waiting in the region");
                    return self.drop_entry(&job, "not_wanted").await;
                }
                self.run_rollback(node, &job, &step).await
            }
            Some(State::Running { .. }) => {
                if let Some(outcome) = self.own_report(node, &job).await? {
                    return self
                        .finish(&job, Some(outcome), "the report was already final")
                        .await;
                }
                if job.action.idempotent {
                    tracing::warn!(target: "accord::agent", proposal = proposal.0, "the agent stopped during the rollback; running it again (the action is idempotent)");
                    self.run_rollback(node, &job, &step).await
                } else {
                    let note = "the agent stopped during the rollback; outcome unknown; not reported: roll back by hand and report it, or declare the action idempotent";
                    tracing::error!(target: "accord::agent", proposal = proposal.0, note);
                    self.finish(&job, None, note).await
                }
            }
            Some(State::Ran { report }) => self.resume_report(node, &job, *report, None).await,
            Some(State::Reported {
                report,
                transaction,
            }) => {
                self.resume_report(node, &job, *report, Some(transaction))
                    .await
            }
            Some(State::Final { .. }) => Ok(()),
        }
    }

    fn print_plan(&self, job: &Job) {
        let plan = self.plan(job);
        println!(
            "dry run: proposal #{} phase {} of {} in {} ({}, action [actions.{}]), request {}\n{}",
            job.proposal.0,
            job.phase.saturating_add(1),
            job.phases,
            job.region,
            job.kind.sub_kind,
            job.entry_name,
            job.cursor,
            runner::describe_plan(&plan, &self.environment(job))
        );
    }

    fn plan(&self, job: &Job) -> Plan {
        let action = &job.action;
        let checks = |list: &[crate::config::CheckConfig], what: &str| {
            list.iter()
                .map(|c| {
                    (
                        c.name.clone(),
                        Step {
                            label: format!("{what} {:?}", c.name),
                            argv: c.command.clone(),
                            timeout: action.check_timeout(c),
                        },
                    )
                })
                .collect()
        };
        Plan {
            pre_checks: checks(&action.pre_checks, "pre-check"),
            command: Step {
                label: "command".into(),
                argv: action.command.clone(),
                timeout: action.timeout(),
            },
            post_checks: checks(&action.post_checks, "post-check"),
            health: action.health.as_ref().map(|h| HealthCheck {
                name: h.name.clone(),
                step: Step {
                    label: format!("health check {:?}", h.name),
                    argv: h.command.clone(),
                    timeout: action.health_timeout(h),
                },
                interval: h.interval(),
                runs: h.runs,
                max_consecutive_failures: h.max_consecutive_failures,
            }),
            // The chain asks a region for a rollback when it applied an earlier phase
            // (phases advance only once every region succeeded), so the rollback runs
            // here at once only for a failure in the first phase: otherwise it would
            // run twice.
            rollback_on_failure: action
                .rollback
                .clone()
                .filter(|_| action.rollback_on_failure && job.phase == 0)
                .map(|argv| Step {
                    label: "rollback".into(),
                    argv,
                    timeout: action.timeout(),
                }),
        }
    }

    fn environment(&self, job: &Job) -> Environment {
        let percentage = match &job.body {
            ProposalBody::PipelineAction(action) => action
                .phases
                .get(usize::from(job.phase))
                .map_or(100, |p| p.percent),
            _ => 100,
        };
        let mut vars = job.action.env.clone();
        let mut set = |k: &str, v: String| {
            vars.insert(k.to_owned(), v);
        };
        set("ACCORD_CHAIN_ID", self.trust.chain_id().to_string());
        set(
            "ACCORD_TASK",
            match job.task {
                Task::Apply => "apply".into(),
                Task::Rollback => "rollback".into(),
            },
        );
        set("ACCORD_ACTION", job.entry_name.clone());
        set("ACCORD_PROPOSAL_ID", job.proposal.0.to_string());
        set("ACCORD_KIND", job.kind.kind.clone());
        set("ACCORD_SUB_KIND", job.kind.sub_kind.clone());
        set("ACCORD_PHASE", job.phase.to_string());
        set("ACCORD_PHASES", job.phases.to_string());
        set("ACCORD_PERCENTAGE", percentage.to_string());
        set("ACCORD_REGION", job.region.to_string());
        set("ACCORD_PAYLOAD_DIGEST", job.payload_digest.to_string());
        set("ACCORD_IDEMPOTENCY_KEY", job.key.to_string());
        set(
            "ACCORD_PAYLOAD_JSON",
            serde_json::to_string(&job.body).unwrap_or_default(),
        );
        Environment {
            vars,
            work_dir: self.config.work_dir.clone(),
            log_bytes: self.config.log_bytes,
        }
    }

    async fn record(&mut self, job: &Job, state: State) -> Result<()> {
        let entry = Entry {
            task: job.task,
            proposal: job.proposal,
            region: job.region.clone(),
            phase: job.phase,
            request: job.first_seen,
            state,
            updated_at: runner::now(),
        };
        self.journal.put(job.key, entry).await
    }

    /// Ends an execution this agent did not run (not claimed, no longer wanted): an
    /// entry that only recorded a claim is dropped, so a later request may be claimed.
    async fn drop_entry(&mut self, job: &Job, outcome: &str) -> Result<()> {
        self.metrics.execution(&job.kind.action, outcome);
        self.journal.remove(&job.key).await
    }

    async fn finish(
        &mut self,
        job: &Job,
        outcome: Option<ExecutionOutcome>,
        note: &str,
    ) -> Result<()> {
        let label = match &outcome {
            Some(ExecutionOutcome::Succeeded) => "succeeded",
            Some(ExecutionOutcome::Failed { .. }) => "failed",
            Some(ExecutionOutcome::RolledBack) => "rolled_back",
            None => "unreported",
        };
        self.metrics.execution(&job.kind.action, label);
        tracing::info!(
            target: "accord::agent",
            proposal = job.proposal.0,
            phase = job.phase,
            task = ?job.task,
            outcome = label,
            note,
            "execution finished"
        );
        self.record(
            job,
            State::Final {
                outcome,
                note: note.to_owned(),
            },
        )
        .await
    }

    /// The event of a successful transaction's receipt that `wanted` picks, proven
    /// against the trusted validator set; a receipt without it is inconsistent.
    async fn prove_in_receipt(
        &mut self,
        node: &Node,
        included: &Included,
        tx: &str,
        kind: &str,
        wanted: impl Fn(&Event) -> bool,
    ) -> Result<Event> {
        let found = included
            .receipt
            .events
            .iter()
            .enumerate()
            .find(|(_, e)| wanted(e));
        let Some((i, event)) = found else {
            return Err(Error::Refused {
                endpoint: node.url().to_owned(),
                what: format!("the receipt of {tx}"),
                refusal: Refusal::Inconsistent {
                    reason: format!("a successful transaction's receipt holds no {kind} event"),
                },
            });
        };
        let proven = self
            .trust
            .verify_event(node, included.cursor(i), event)
            .await?;
        Ok(proven.event)
    }

    /// Claims (or renews the claim of) the job's phase and proves whose claim it is.
    async fn claim(&mut self, node: &Node, job: &Job) -> Result<Claim> {
        let payload = Payload::ClaimExecution {
            proposal: job.proposal,
            region: job.region.clone(),
            phase: job.phase,
        };
        let chain_id = self.trust.chain_id().clone();
        let hash = match node.submit(&self.keypair, &chain_id, payload).await {
            Ok(hash) => hash,
            Err(Error::TxRefused { code, message, .. }) if !transient(&code) => {
                return Ok(Claim::Lost(format!("refused ({code}): {message}")))
            }
            Err(error) => return Err(error),
        };
        let included = node
            .wait_finalized(hash, self.config.tx_timeout, self.config.poll_interval)
            .await?;
        if let Outcome::Failed { code, message } = &included.receipt.outcome {
            return Ok(Claim::Lost(format!(
                "refused on chain ({code:?}): {message}"
            )));
        }
        let event = self
            .prove_in_receipt(
                node,
                &included,
                &format!("claim {hash}"),
                "ExecutionClaimed",
                |e| {
                    matches!(e, Event::ExecutionClaimed { proposal, region, phase, .. }
                    if *proposal == job.proposal && region == &job.region && *phase == job.phase)
                },
            )
            .await?;
        match event {
            Event::ExecutionClaimed {
                agent,
                lease_expires,
                ..
            } if agent == self.me => Ok(Claim::Held(lease_expires)),
            Event::ExecutionClaimed { agent, .. } => Ok(Claim::Lost(format!("claimed by {agent}"))),
            _ => Ok(Claim::Lost("the claim's event is not a claim".into())),
        }
    }

    /// Renews the claim when its lease is within the margin of lapsing.
    async fn renew(&mut self, node: &Node, job: &Job, lease: Height) -> Height {
        let Ok(status) = node.status().await else {
            return lease;
        };
        self.metrics.set_head(status.height);
        if status.height.saturating_add(self.config.lease_margin) < lease {
            return lease;
        }
        match self.claim(node, job).await {
            Ok(Claim::Held(renewed)) => {
                tracing::info!(target: "accord::agent", proposal = job.proposal.0, phase = job.phase, lease_expires = renewed.0, "claim renewed");
                renewed
            }
            Ok(Claim::Lost(why)) => {
                tracing::error!(target: "accord::agent", proposal = job.proposal.0, phase = job.phase, why, "the claim could not be renewed; the report will be refused");
                lease
            }
            Err(error) => {
                tracing::warn!(target: "accord::agent", proposal = job.proposal.0, %error, "renewing the claim failed; retrying");
                lease
            }
        }
    }

    async fn run_and_report(&mut self, node: &Node, job: &Job, lease: Height) -> Result<()> {
        let plan = self.plan(job);
        let env = self.environment(job);
        self.record(
            job,
            State::Running {
                started_at: runner::now(),
            },
        )
        .await?;
        tracing::info!(target: "accord::agent", proposal = job.proposal.0, phase = job.phase, action = job.entry_name, "running");
        let task = AbortOnDrop(tokio::spawn(
            async move { runner::execute(&plan, &env).await },
        ));
        let execution = self.await_with_renewal(node, job, lease, task).await;
        self.save_log(job, &execution).await;
        let report = self.report(job, &execution);
        self.record(
            job,
            State::Ran {
                report: Box::new(report.clone()),
            },
        )
        .await?;
        self.submit_report(node, job, report).await
    }

    async fn run_rollback(&mut self, node: &Node, job: &Job, step: &Step) -> Result<()> {
        let env = self.environment(job);
        self.record(
            job,
            State::Running {
                started_at: runner::now(),
            },
        )
        .await?;
        tracing::info!(target: "accord::agent", proposal = job.proposal.0, "rolling back");
        let step = step.clone();
        let mut task = AbortOnDrop(tokio::spawn(
            async move { runner::roll_back(&step, &env).await },
        ));
        let execution = match (&mut task.0).await {
            Ok(execution) => execution,
            Err(e) => failed_execution(format!("the rollback task failed: {e}")),
        };
        self.save_log(job, &execution).await;
        if let ExecutionOutcome::Failed { reason } = &execution.outcome {
            let note = format!("{reason}; not reported: the region stays rolling back until a rollback is reported");
            tracing::error!(target: "accord::agent", proposal = job.proposal.0, note);
            self.metrics.execution(&job.kind.action, "rollback_failed");
            return self
                .record(
                    job,
                    State::Final {
                        outcome: None,
                        note,
                    },
                )
                .await;
        }
        let report = self.report(job, &execution);
        self.record(
            job,
            State::Ran {
                report: Box::new(report.clone()),
            },
        )
        .await?;
        self.submit_report(node, job, report).await
    }

    async fn await_with_renewal(
        &mut self,
        node: &Node,
        job: &Job,
        mut lease: Height,
        mut task: AbortOnDrop<Execution>,
    ) -> Execution {
        let mut ticker =
            tokio::time::interval(self.config.poll_interval.max(Duration::from_millis(100)));
        loop {
            tokio::select! {
                result = &mut task.0 => {
                    return result.unwrap_or_else(|e| failed_execution(format!("the runner task failed: {e}")));
                }
                _ = ticker.tick() => {
                    lease = self.renew(node, job, lease).await;
                }
            }
        }
    }

    async fn save_log(&self, job: &Job, execution: &Execution) {
        let Some(journal) = self.journal.path() else {
            return;
        };
        let Some(dir) = journal.parent().map(|d| d.join("logs")) else {
            return;
        };
        let name = format!(
            "{}-{}.log",
            job.key.to_string().trim_start_matches("0x"),
            match job.task {
                Task::Apply => "apply",
                Task::Rollback => "rollback",
            }
        );
        let path: PathBuf = dir.join(name);
        let bytes = execution.log.clone();
        let written = tokio::task::spawn_blocking(move || {
            durable::create_dir_blocking(&dir)?;
            durable::write_blocking(&path, &bytes)
        })
        .await;
        if !matches!(written, Ok(Ok(()))) {
            tracing::warn!(target: "accord::agent", proposal = job.proposal.0, "the execution log could not be saved");
        }
    }

    fn report(&self, job: &Job, execution: &Execution) -> ExecutionReport {
        ExecutionReport {
            proposal: job.proposal,
            region: job.region.clone(),
            phase: job.phase,
            idempotency_key: job.key,
            outcome: execution.outcome.clone(),
            started_at: execution.started_at,
            finished_at: execution.finished_at.max(execution.started_at),
            applied_digest: job.payload_digest,
            before_digest: execution.before_digest.unwrap_or(Hash::ZERO),
            after_digest: execution.after_digest.unwrap_or(Hash::ZERO),
            pre_checks: execution.pre_checks.clone(),
            post_checks: execution.post_checks.clone(),
            log_digest: execution.log_digest(),
        }
    }

    /// Continues from a built report: done if this agent's report is final; waits for
    /// a submitted one; otherwise renews the claim (applies only) and submits it again.
    async fn resume_report(
        &mut self,
        node: &Node,
        job: &Job,
        report: ExecutionReport,
        submitted: Option<Hash>,
    ) -> Result<()> {
        if let Some(outcome) = self.own_report(node, job).await? {
            return self
                .finish(job, Some(outcome), "the report was already final")
                .await;
        }
        if let Some(hash) = submitted {
            if matches!(
                node.transaction(hash).await?,
                TransactionStatus::Pending | TransactionStatus::Finalized { .. }
            ) {
                let refusal = self.await_report(node, job, hash).await?;
                return self.conclude(node, job, &report, refusal).await;
            }
        }
        if job.task == Task::Apply {
            if let Claim::Lost(why) = self.claim(node, job).await? {
                let note = format!(
                    "the report was not final, and the claim is no longer this agent's: {why}"
                );
                tracing::error!(target: "accord::agent", proposal = job.proposal.0, phase = job.phase, note);
                return self.finish(job, None, &note).await;
            }
        }
        self.submit_report(node, job, report).await
    }

    /// Submits the report and waits until it is final.
    async fn submit_report(
        &mut self,
        node: &Node,
        job: &Job,
        report: ExecutionReport,
    ) -> Result<()> {
        let refusal = self.send_report(node, job, &report).await?;
        self.conclude(node, job, &report, refusal).await
    }

    /// Ends a report's submission. A report refused because the claim lapsed before it
    /// landed (the chain re-requests the phase) claims the phase again and reports what
    /// ran, once; any other refusal ends the execution unreported.
    async fn conclude(
        &mut self,
        node: &Node,
        job: &Job,
        report: &ExecutionReport,
        mut refusal: Option<(String, String)>,
    ) -> Result<()> {
        if job.task == Task::Apply
            && refusal
                .as_ref()
                .is_some_and(|(code, _)| code == "not_claimed")
        {
            tracing::warn!(target: "accord::agent", proposal = job.proposal.0, phase = job.phase, "the claim lapsed before the report landed; claiming again");
            refusal = match self.claim(node, job).await? {
                Claim::Held(_) => self.send_report(node, job, report).await?,
                Claim::Lost(why) => Some(("not_claimed".into(), why)),
            };
        }
        let Some((code, message)) = refusal else {
            return Ok(());
        };
        let note = format!("the report was refused ({code}): {message}");
        tracing::error!(target: "accord::agent", proposal = job.proposal.0, phase = job.phase, note);
        self.finish(job, None, &note).await
    }

    /// Submits a report and waits for it: `None` once it is final and proven (the
    /// execution is then finished), or the refusal's code and message.
    async fn send_report(
        &mut self,
        node: &Node,
        job: &Job,
        report: &ExecutionReport,
    ) -> Result<Option<(String, String)>> {
        let chain_id = self.trust.chain_id().clone();
        let payload = Payload::ReportExecution {
            report: Box::new(report.clone()),
        };
        let hash = match node.submit(&self.keypair, &chain_id, payload).await {
            Ok(hash) => hash,
            Err(Error::TxRefused { code, message, .. }) if !transient(&code) => {
                return Ok(Some((code, message)))
            }
            Err(error) => return Err(error),
        };
        self.record(
            job,
            State::Reported {
                report: Box::new(report.clone()),
                transaction: hash,
            },
        )
        .await?;
        self.await_report(node, job, hash).await
    }

    async fn await_report(
        &mut self,
        node: &Node,
        job: &Job,
        hash: Hash,
    ) -> Result<Option<(String, String)>> {
        let included: Included = node
            .wait_finalized(hash, self.config.tx_timeout, self.config.poll_interval)
            .await?;
        if let Outcome::Failed { code, message } = &included.receipt.outcome {
            let code = serde_json::to_value(code)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_else(|| format!("{code:?}"));
            return Ok(Some((code, format!("on chain: {message}"))));
        }
        let me = self.me;
        let event = self
            .prove_in_receipt(node, &included, &format!("report {hash}"), "ExecutionReported", |e| {
                matches!(e, Event::ExecutionReported { proposal, region, phase, agent, .. }
                    if *proposal == job.proposal && region == &job.region && *phase == job.phase && *agent == me)
            })
            .await?;
        let Event::ExecutionReported { outcome, .. } = event else {
            return Err(Error::Refused {
                endpoint: node.url().to_owned(),
                what: format!("the receipt of report {hash}"),
                refusal: Refusal::Inconsistent {
                    reason: "the proven event is not a report".into(),
                },
            });
        };
        let now_ms = runner::now().0;
        let seconds = now_ms.saturating_sub(job.requested_at.0) as f64 / 1000.0;
        self.metrics.request_to_final(seconds);
        self.finish(job, Some(outcome), "reported").await?;
        Ok(None)
    }

    /// This agent's final report of the job, found in the event log and proven.
    async fn own_report(&mut self, node: &Node, job: &Job) -> Result<Option<ExecutionOutcome>> {
        let filter = EventFilter {
            types: Some(vec!["execution_reported".into()]),
            proposals: Some(vec![job.proposal]),
            regions: Some(vec![job.region.clone()]),
            ..EventFilter::default()
        };
        let mut after = job
            .first_seen
            .min(job.cursor)
            .height
            .checked_prev()
            .map(|height| EventCursor {
                height,
                receipt: u32::MAX,
                event: u32::MAX,
            });
        for _ in 0..MAX_REPORT_PAGES {
            let page = node.events(filter.clone(), after, 100).await?;
            for view in &page.events {
                let Event::ExecutionReported {
                    phase,
                    agent,
                    outcome,
                    ..
                } = &view.event
                else {
                    continue;
                };
                let rollback = *outcome == ExecutionOutcome::RolledBack;
                let mine = *agent == self.me
                    && (rollback == (job.task == Task::Rollback))
                    && (job.task == Task::Rollback || *phase == job.phase);
                if mine {
                    let proven = self
                        .trust
                        .verify_event(node, view.cursor, &view.event)
                        .await?;
                    if let Event::ExecutionReported { outcome, .. } = proven.event {
                        return Ok(Some(outcome));
                    }
                }
            }
            match page.next {
                Some(next) if !page.complete && after.is_none_or(|a| a < next) => {
                    after = Some(next);
                }
                _ => break,
            }
        }
        Ok(None)
    }
}

/// Whether a request is still waiting for an agent, from the proven state and the
/// region's execution (read without proof: it can only make the agent skip).
fn still_wanted(
    state: &ProposalState,
    phase: u16,
    region: Option<&PhaseState>,
) -> std::result::Result<(), String> {
    if !state.is_executing() {
        return Err(format!("the proposal is {:?}, not executing", state.status));
    }
    if let ProposalStatus::Executing { phase: current } = state.status {
        if current != phase {
            return Err(format!("the proposal is at phase {current}, not {phase}"));
        }
    }
    match region {
        Some(PhaseState::Succeeded | PhaseState::Failed | PhaseState::Withdrawn) => {
            Err("the region's phase is no longer waiting for an agent".into())
        }
        _ => Ok(()),
    }
}

fn failed_execution(reason: String) -> Execution {
    let now = runner::now();
    Execution {
        outcome: ExecutionOutcome::Failed {
            reason: reason.clone(),
        },
        pre_checks: Vec::new(),
        post_checks: Vec::new(),
        before_digest: None,
        after_digest: None,
        log: reason.into_bytes(),
        started_at: now,
        finished_at: now,
    }
}

/// Refusal codes a later attempt may not get: the pool was full or busy, the nonce
/// raced another transaction of the account.
fn transient(code: &str) -> bool {
    matches!(code, "unknown" | "bad_nonce" | "limit_exceeded")
}
