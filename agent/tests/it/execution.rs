//! Approved proposals executed end to end: every phase claimed, run and reported; a
//! failed phase rolled back where an earlier phase applied; a dry run.

use std::time::{Duration, Instant};

use accord_agent::journal::{Journal, State};
use accord_agent::runner::LOG_DOMAIN;
use accord_rpc::types::EventFilter;
use accord_rpc::GovApiClient;
use accord_runtime::test_utils;
use accord_types::governance::{CheckStatus, ExecutionOutcome, ProposalStatus};
use accord_types::{Domain, Event, Hash};

use crate::{Fixture, Running, DEADLINE};

const ACTIONS: &str = r#"
    [actions.model_deployment]
    command = ["/bin/sh", "deploy.sh"]
    rollback = ["/bin/sh", "rollback.sh"]
    env = { TARGET = "blue" }
    pre_checks = [{ name = "capacity", command = ["/bin/sh", "-c", "test \"$ACCORD_TASK\" = apply"] }]
    post_checks = [{ name = "serving", command = ["/bin/sh", "-c", "test -s marker"] }]
"#;

fn after_digest() -> Hash {
    Hash::digest(Domain::PAYLOAD, b"deployed")
}

fn scripts(fixture: &Fixture, fail_phase: Option<u16>) {
    let fail = fail_phase.map_or(String::new(), |p| {
        format!("if [ \"$ACCORD_PHASE\" = {p} ]; then echo 'phase {p} broke' >&2; exit 7; fi")
    });
    fixture.script(
        "deploy.sh",
        &format!(
            "{fail}\necho \"$ACCORD_PHASE $ACCORD_PERCENTAGE $ACCORD_REGION $ACCORD_SUB_KIND $TARGET $ACCORD_IDEMPOTENCY_KEY\" >> marker\n\
             echo ACCORD_BEFORE_DIGEST=0x{}\necho ACCORD_AFTER_DIGEST={}",
            "00".repeat(31) + "01",
            after_digest()
        ),
    );
    fixture.script(
        "rollback.sh",
        "echo \"$ACCORD_TASK $ACCORD_PROPOSAL_ID $ACCORD_IDEMPOTENCY_KEY\" >> rolled-back",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_rollout_is_claimed_run_and_reported_phase_by_phase() {
    let fixture = Fixture::new().await;
    scripts(&fixture, None);
    let agent = Running::start(fixture.config(&[fixture.url()], ACTIONS)).await;
    let id = fixture.approve(test_utils::pipeline(&[50, 100]), &["eu"]);
    let chain_id = fixture.node.chain_id();
    let key =
        |phase| accord_runtime::idempotency_key(&chain_id, id, &test_utils::region("eu"), phase);

    let state = fixture.wait_status(id, ProposalStatus::Succeeded).await;
    assert!(state.execution_complete);

    // The command ran once per phase, with the phase's percentage and the action's env.
    let marker = std::fs::read_to_string(fixture.path("marker")).unwrap();
    assert_eq!(
        marker,
        format!(
            "0 50 eu model_deployment blue {}\n1 100 eu model_deployment blue {}\n",
            key(0),
            key(1)
        )
    );
    assert!(!fixture.path("rolled-back").exists());

    // Claims and reports are the agent's, and the reports carry what the command printed.
    let claims = fixture.events(id, &["execution_claimed"]).await;
    assert_eq!(claims.len(), 2);
    assert!(claims
        .iter()
        .all(|v| matches!(v.event, Event::ExecutionClaimed { agent: a, .. } if a == agent.key)));
    let reports = fixture.reports(agent.key).await;
    assert_eq!(reports.len(), 2);
    let digest = accord_runtime::payload_digest(&test_utils::pipeline(&[50, 100]));
    let state_dir = fixture.path("state");
    for (phase, report) in reports.iter().enumerate() {
        assert_eq!(report.phase, phase as u16);
        assert_eq!(report.outcome, ExecutionOutcome::Succeeded);
        assert_eq!(report.idempotency_key, key(phase as u16));
        assert_eq!(report.applied_digest, digest);
        assert_eq!(report.after_digest, after_digest());
        assert_eq!(report.before_digest.as_bytes()[31], 1);
        assert_eq!(report.pre_checks[0].name, "capacity");
        assert_eq!(report.pre_checks[0].status, CheckStatus::Passed);
        assert_eq!(report.post_checks[0].status, CheckStatus::Passed);
        assert!(report.finished_at >= report.started_at);
        // The log kept in the state directory is the one whose digest was reported.
        let name = format!(
            "{}-apply.log",
            report.idempotency_key.to_string().trim_start_matches("0x")
        );
        let log = std::fs::read(state_dir.join("logs").join(name)).unwrap();
        assert_eq!(report.log_digest, Hash::digest(LOG_DOMAIN, &log));
    }
    // The agent counts an execution once it has proven its report final, just after
    // the status changed: stopping it (between events) waits for that.
    let metrics = agent.metrics.clone();
    agent.stop().await.unwrap();
    assert_eq!(metrics.execution_count("model_deployment", "succeeded"), 2);
    // The journal says both are final and the cursor is past the last request.
    let journal = Journal::open(&state_dir).unwrap();
    for phase in 0..2 {
        let entry = journal.get(&key(phase)).unwrap();
        assert_eq!(
            entry.state,
            State::Final {
                outcome: Some(ExecutionOutcome::Succeeded),
                note: "reported".into()
            }
        );
    }
    let requests = fixture.events(id, &["execution_requested"]).await;
    assert_eq!(journal.cursor(), Some(requests.last().unwrap().cursor));
    assert_eq!(journal.unfinished().count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_phase_is_reported_and_rolled_back_where_an_earlier_phase_applied() {
    let fixture = Fixture::new().await;
    scripts(&fixture, Some(1));
    let agent = Running::start(fixture.config(&[fixture.url()], ACTIONS)).await;
    let id = fixture.approve(test_utils::pipeline(&[50, 100]), &["eu"]);

    fixture.wait_status(id, ProposalStatus::RolledBack).await;
    let reported: Vec<ExecutionOutcome> = fixture
        .events(id, &["execution_reported"])
        .await
        .into_iter()
        .filter_map(|v| match v.event {
            Event::ExecutionReported { outcome, .. } => Some(outcome),
            _ => None,
        })
        .collect();
    assert_eq!(
        reported,
        vec![
            ExecutionOutcome::Succeeded,
            ExecutionOutcome::Failed {
                reason: "command failed: exit status 7".into()
            },
            ExecutionOutcome::RolledBack,
        ]
    );
    let chain_id = fixture.node.chain_id();
    let rollback_key = accord_runtime::rollback_key(&chain_id, id, &test_utils::region("eu"));
    let rolled = std::fs::read_to_string(fixture.path("rolled-back")).unwrap();
    assert_eq!(rolled, format!("rollback {} {rollback_key}\n", id.0));
    // The failed phase's post-check did not run.
    let failed = &fixture.reports(agent.key).await[1];
    assert_eq!(failed.post_checks[0].status, CheckStatus::Skipped);
    let metrics = agent.metrics.clone();
    agent.stop().await.unwrap();
    assert_eq!(
        metrics.execution_count("model_deployment", "rolled_back"),
        1
    );
    assert_eq!(metrics.execution_count("model_deployment", "failed"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_first_phase_rolls_back_at_once_as_the_chain_asks_no_region_that_applied_nothing()
{
    let fixture = Fixture::new().await;
    scripts(&fixture, Some(0));
    let _agent = Running::start(fixture.config(&[fixture.url()], ACTIONS)).await;
    let id = fixture.approve(test_utils::pipeline(&[50, 100]), &["eu"]);

    let state = fixture.wait_status(id, ProposalStatus::Failed).await;
    assert_eq!(state.status, ProposalStatus::Failed);
    assert!(fixture.events(id, &["rollback_requested"]).await.is_empty());
    // The command was tried, so the action's rollback ran, once, in the apply task
    // with the phase's key.
    let chain_id = fixture.node.chain_id();
    let key = accord_runtime::idempotency_key(&chain_id, id, &test_utils::region("eu"), 0);
    let rolled = std::fs::read_to_string(fixture.path("rolled-back")).unwrap();
    assert_eq!(rolled, format!("apply {} {key}\n", id.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_verifies_and_prints_but_claims_runs_and_writes_nothing() {
    let fixture = Fixture::new().await;
    scripts(&fixture, None);
    let config = fixture.config(&[fixture.url()], &format!("dry_run = true\n{ACTIONS}"));
    let agent = Running::start(config).await;
    let id = fixture.approve(test_utils::pipeline(&[]), &["eu"]);
    let request = fixture.events(id, &["execution_requested"]).await[0].cursor;
    // The agent has handled the request once its cursor is past it.
    let deadline = Instant::now() + DEADLINE;
    while agent.metrics.health().cursor < Some(request) {
        assert!(
            Instant::now() < deadline,
            "the dry run did not handle the request"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let client = fixture.client().await;
    let claims = client
        .events(
            Some(EventFilter {
                types: Some(vec!["execution_claimed".into()]),
                ..EventFilter::default()
            }),
            None,
            None,
        )
        .await
        .unwrap();
    assert!(claims.events.is_empty());
    assert!(!fixture.path("marker").exists());
    assert!(!fixture.path("state").join("journal.json").exists());
    assert!(agent.metrics.health().dry_run);
    agent.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_longer_than_the_lease_keeps_its_claim_by_renewing_it() {
    let fixture = Fixture::new().await;
    // Six seconds at a block every 100 ms: 60 blocks, three times the 20-block lease.
    // Renewing 15 blocks ahead leaves 1.5 s (more when a loaded machine makes blocks
    // slower) for a renewal to land before the lease would lapse.
    fixture.script("deploy.sh", "sleep 6; echo ran >> marker");
    let config = fixture.config(
        &[fixture.url()],
        "lease_margin = 15\n[actions.default]\ncommand = [\"/bin/sh\", \"deploy.sh\"]\n",
    );
    let agent = Running::start(config).await;
    let id = fixture.approve(test_utils::pipeline(&[]), &["eu"]);
    let node = fixture.node.clone();
    let blocks = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let n = node.clone();
            let _ = tokio::task::spawn_blocking(move || n.commit(&[])).await;
        }
    });
    fixture.wait_status(id, ProposalStatus::Succeeded).await;
    blocks.abort();
    let claims = fixture.events(id, &["execution_claimed"]).await;
    assert!(
        claims.len() >= 3,
        "{} claims: the lease was not renewed",
        claims.len()
    );
    assert!(claims
        .iter()
        .all(|v| matches!(v.event, Event::ExecutionClaimed { agent: a, .. } if a == agent.key)));
    // No lease lapsed: the request was never emitted again.
    assert_eq!(fixture.events(id, &["execution_requested"]).await.len(), 1);
    assert_eq!(
        std::fs::read_to_string(fixture.path("marker")).unwrap(),
        "ran\n"
    );
    agent.stop().await.unwrap();
}
