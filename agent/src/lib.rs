//! The accord deploy agent: runs approved changes of its region, proven against the validator set, and reports signed receipts.
//!
//! # Design
//!
//! ```text
//!  node (ws) ── gov_subscribeEvents{region, types}, after = cursor ──► agent loop (one event at a time)
//!     ▲                                                                   │
//!     │ gov_getEventProof ◄── verify against the trusted set of its height┤ trust.rs
//!     │ gov_getStateProof ◄── the proposal at the head, proven            │
//!     │ gov_getProposal   ◄── its body, hashed = the proven payload digest│
//!     │ ClaimExecution ──────► final? ExecutionClaimed{agent = me}, proven│
//!     │                          journal: claimed ─► running ─► ran       │ journal.rs
//!     │                          runner: pre-checks, command, post-checks │ runner.rs
//!     │ ReportExecution ─────► final? ExecutionReported, proven           │
//!     │                          journal: reported ─► final; cursor moves │
//!     └── on failure: reconnect with capped exponential backoff, next endpoint, same cursor
//! ```
//!
//! | module | what it does |
//! |---|---|
//! | [`config`] | `agent.toml`, flags and `ACCORD_AGENT_*` variables |
//! | [`trust`] | the validator sets by height; event and state proofs checked against them |
//! | [`node`] | one node over the typed WebSocket client: calls, submissions, finality |
//! | [`journal`] | the cursor and one entry per execution, written durably |
//! | [`runner`] | child processes with time limits, bounded output, the execution log |
//! | [`agent`] | the loop |
//! | [`metrics`] | Prometheus metrics, `/metrics` and `/health` |
//!
//! # Running it
//!
//! ```text
//! accord-agent --config agent.toml [--dry-run]
//! ```
//!
//! Every setting of the file can also be given as a flag or an `ACCORD_AGENT_*`
//! variable (`--rpc` / `ACCORD_AGENT_RPC`, `--key`, `--region`, `--chain-spec`,
//! `--state-dir`, `--metrics-listen`, `--lease-margin`, …); a flag wins over its
//! variable, which wins over the file. Paths in the file are relative to the file's
//! directory, and commands run there. See [`config`] for the format:
//!
//! ```toml
//! rpc = ["ws://10.0.0.5:9944", "ws://10.0.0.6:9944"]
//! key = "keys/eu-agent.key"          # the key file `accord` writes (mode 0600)
//! region = "eu"
//! chain_spec = "spec.json"           # chain id and genesis validator set
//! state_dir = "agent-state"
//!
//! [actions.model_deployment]
//! command = ["./deploy-model.sh"]
//! rollback = ["./rollback-model.sh"]
//! pre_checks = [{ name = "capacity", command = ["./check-capacity.sh"] }]
//! post_checks = [{ name = "serving", command = ["./probe.sh"] }]
//! timeout_secs = 900
//!
//! [actions.default]
//! command = ["./apply.sh"]
//! ```
//!
//! A command receives the agent's environment plus `ACCORD_PROPOSAL_ID`, `ACCORD_KIND`
//! (`pipeline_action`, …), `ACCORD_SUB_KIND` (`model_deployment`, …), `ACCORD_PHASE`
//! (0-based), `ACCORD_PHASES`, `ACCORD_PERCENTAGE` (the rollout phase's percentage; 100
//! without phases), `ACCORD_REGION`, `ACCORD_PAYLOAD_DIGEST`, `ACCORD_IDEMPOTENCY_KEY`,
//! `ACCORD_PAYLOAD_JSON` (the proposal body), `ACCORD_TASK` (`apply` or `rollback`),
//! `ACCORD_ACTION` (the `[actions.*]` entry used), `ACCORD_CHAIN_ID`, and the action's
//! `env`. Lines `ACCORD_BEFORE_DIGEST=<hex>` and `ACCORD_AFTER_DIGEST=<hex>` on its
//! standard output become the report's before and after digests (zero otherwise). A
//! step's exit status 0 is success; a step past its time limit is killed with its
//! process group. A dry run verifies everything, then prints the steps and their
//! environment instead of claiming; it writes nothing to the state directory.
//!
//! The state directory (mode 0700) holds `journal.json`, `trust.json` and, under
//! `logs/`, each execution's log as `<idempotency key>-apply.log` or
//! `…-rollback.log`: the bytes whose digest the report carries.
//!
//! # Verification
//!
//! The agent trusts nothing a node says that it can prove instead. It starts from the
//! chain spec's chain id and validator set, and follows validator-set changes on chain
//! (see [`trust`]: each change is proven and the new set derived from the proposal's
//! authenticated draft, then used from its effective height; the history is kept so
//! older heights verify with their own set).
//!
//! - Every `ExecutionRequested`, `RollbackRequested` and `ValidatorSetChangeScheduled`
//!   event it acts on is fetched again with `gov_getEventProof`, checked with
//!   [`accord_rpc::verify::verify_event_proof`] against the set of its height, and
//!   must equal the event streamed.
//! - Before running, the proposal's state is proven against the head
//!   (`gov_getStateProof`), its payload digest must equal the request's, and the body
//!   read with `gov_getProposal` must hash (`accord_runtime::payload_digest`) to it: the
//!   command receives exactly the approved body.
//! - The agent's own claim and report count only once their events are proven in a
//!   finalized block.
//!
//! A new validator set is derived rather than read from a state proof: proofs are
//! against the head only, and the head holds a new set only from the height where
//! headers are already decided by it. The proposal's draft, authenticated through the
//! hash of its submitting transaction in a proven receipt, gives the updates; every
//! header of the new era must then name the derived set, so a wrong derivation makes
//! proofs fail rather than pass.
//!
//! Anything that fails verification is refused — logged with the exact check that
//! failed, counted in `accord_agent_events_refused_total{reason}` — and the agent
//! moves to the next endpoint, resuming from the same cursor. A node can withhold
//! events or refuse transactions (the agent then depends on its other endpoints), but
//! it cannot make the agent run something that was not approved.
//!
//! # Guarantees
//!
//! Delivery is at least once, and execution is exactly once in effect:
//!
//! - **No approval is lost.** The cursor stored in the journal moves past an event
//!   only when everything it asked for is final on chain (the claim lost to another
//!   agent, or this agent's report in a finalized block). After a crash, a disconnect
//!   or a fail-over the subscription resumes from the cursor and the event is
//!   delivered again. A subscription the node closes because the agent fell behind
//!   (`-32022`, whose `data.cursor` is the last event sent) ends the session the same
//!   way: the typed client reports only that the subscription ended, and the agent
//!   resumes from the last event it handled, which is never past the last one sent.
//! - **Nothing runs twice because of the agent.** Each execution has a journal entry
//!   keyed by the request's idempotency key, written durably (temporary file, fsync,
//!   rename, fsync of the directory) before each step: `claimed` (the claim is final
//!   and this agent's), `running` (written before the first process starts), `ran`
//!   (the report is built), `reported` (submitted), `final`. A request whose entry is
//!   final is skipped. The chain refuses a second claim of a phase another agent holds,
//!   so of the agents of a region one runs each phase.
//! - **After a restart**, the re-delivered request continues from its entry:
//!   `claimed` runs normally; `ran` and `reported` submit (or wait for) the stored
//!   report; `running` means the command may have run. Then, if this agent's report
//!   is already final on chain, the entry is final; otherwise the command is not run
//!   blindly again: the agent re-claims the phase and reports it **failed** with the
//!   reason "agent restarted during execution; outcome unknown" — unless the action
//!   declares `idempotent = true`, in which case it runs again with the same
//!   `ACCORD_IDEMPOTENCY_KEY`. A rollback interrupted the same way runs again only when
//!   idempotent; otherwise it is left unreported for an operator.
//! - **Leases.** A claim lasts `claim_lease_blocks`; while a command runs the agent
//!   renews its claim when the head comes within `lease_margin` blocks of the lease's
//!   end (a claim by its holder renews it), so a long command keeps its claim. If the
//!   lease lapses anyway before the report lands, the chain refuses the report as not
//!   claimed and asks for the phase again; the agent claims it once more and reports
//!   what ran, without running it again.
//! - **Failures.** The first failed pre-check, the command's failure or a failed
//!   post-check fails the execution with a reason naming the step. The chain then
//!   fails the proposal and asks every region that applied a phase (reported it
//!   succeeded) for a rollback, which the agent runs and reports as `RolledBack`. A
//!   region failing its first phase applied none and is not asked: there, with
//!   `rollback_on_failure` (the default), the action's rollback runs at once after the
//!   command was tried. In a later phase the chain's request covers it, so the rollback
//!   runs once either way. A failed rollback is not reported (the chain has no outcome for it);
//!   the region stays rolling back until a rollback is reported.
//! - **Requests the agent does not serve** — no action configured for the kind, no
//!   `rollback` command — are logged and left to other agents of the region.
//!
//! One agent process per state directory: two processes sharing one would each trust
//! their own copy of the journal.

pub mod agent;
pub mod config;
mod durable;
pub mod error;
pub mod journal;
pub mod keyfile;
pub mod metrics;
pub mod node;
pub mod runner;
pub mod trust;

pub use agent::Agent;
pub use config::{Config, ConfigError, Overrides};
pub use error::{Error, Refusal, Result};
