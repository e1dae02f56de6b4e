//! An agent that died while its command ran: the journal says `running`, the claim is
//! on chain, nothing was reported. On restart it must not run the command blindly.

use accord_agent::agent::RESTART_REASON;
use accord_agent::journal::{Entry, Journal, State, Task};
use accord_runtime::test_utils;
use accord_types::governance::{ExecutionOutcome, ProposalStatus};
use accord_types::{Event, Payload, ProposalId, Timestamp};

use crate::{Fixture, Running};

/// Approves a one-phase rollout, claims it as the agent's key, and leaves a journal
/// that says the command was running: the state after a crash mid-command.
async fn crashed_mid_command(fixture: &Fixture) -> (ProposalId, accord_types::Hash) {
    crashed(fixture, |_, _| State::Running {
        started_at: Timestamp(1_700_000_000_000),
    })
    .await
}

/// Like [`crashed_mid_command`], with the journal entry in the state `state` builds
/// from the proposal and its idempotency key.
async fn crashed(
    fixture: &Fixture,
    state: impl Fn(ProposalId, accord_types::Hash) -> State,
) -> (ProposalId, accord_types::Hash) {
    fixture.script("deploy.sh", "echo ran >> marker");
    let id = fixture.approve(test_utils::pipeline(&[]), &["eu"]);
    let requests = fixture.events(id, &["execution_requested"]).await;
    let Event::ExecutionRequested {
        idempotency_key, ..
    } = requests[0].event
    else {
        panic!("not a request: {:?}", requests[0].event)
    };
    let claim = fixture.node.tx(
        "eu-agent",
        Payload::ClaimExecution {
            proposal: id,
            region: test_utils::region("eu"),
            phase: 0,
        },
    );
    fixture.node.commit(&[claim]);
    assert_eq!(fixture.events(id, &["execution_claimed"]).await.len(), 1);
    let mut journal = Journal::open(&fixture.path("state")).unwrap();
    journal
        .put(
            idempotency_key,
            Entry {
                task: Task::Apply,
                proposal: id,
                region: test_utils::region("eu"),
                phase: 0,
                request: requests[0].cursor,
                state: state(id, idempotency_key),
                updated_at: Timestamp(1_700_000_000_000),
            },
        )
        .await
        .unwrap();
    (id, idempotency_key)
}

const ACTION: &str = r#"
    [actions.default]
    command = ["/bin/sh", "deploy.sh"]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_interrupted_by_a_crash_is_reported_failed_not_run_again() {
    let fixture = Fixture::new().await;
    let (id, key) = crashed_mid_command(&fixture).await;
    let agent = Running::start(fixture.config(&[fixture.url()], ACTION)).await;

    let state = fixture.wait_status(id, ProposalStatus::Failed).await;
    assert!(state.reason.contains(RESTART_REASON), "{}", state.reason);
    assert!(!fixture.path("marker").exists(), "the command ran again");
    let reports = fixture.reports(agent.key).await;
    assert_eq!(reports.len(), 1);
    assert_eq!(
        reports[0].outcome,
        ExecutionOutcome::Failed {
            reason: RESTART_REASON.into()
        }
    );
    assert_eq!(reports[0].started_at, Timestamp(1_700_000_000_000));
    agent.stop().await.unwrap();
    let journal = Journal::open(&fixture.path("state")).unwrap();
    assert!(matches!(
        &journal.get(&key).unwrap().state,
        State::Final { outcome: Some(ExecutionOutcome::Failed { reason }), .. } if reason == RESTART_REASON
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotent_command_interrupted_by_a_crash_runs_again_with_the_same_key() {
    let fixture = Fixture::new().await;
    let (id, key) = crashed_mid_command(&fixture).await;
    fixture.script(
        "deploy.sh",
        "echo \"ran $ACCORD_IDEMPOTENCY_KEY\" >> marker",
    );
    let config = fixture.config(&[fixture.url()], &format!("{ACTION}idempotent = true\n"));
    let agent = Running::start(config).await;

    fixture.wait_status(id, ProposalStatus::Succeeded).await;
    let marker = std::fs::read_to_string(fixture.path("marker")).unwrap();
    assert_eq!(marker, format!("ran {key}\n"));
    agent.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_built_before_a_crash_is_submitted_without_running_again() {
    let fixture = Fixture::new().await;
    let after = accord_types::Hash::digest(accord_types::Domain::PAYLOAD, b"after the crash");
    let (id, key) = crashed(&fixture, |id, key| State::Ran {
        report: Box::new(accord_types::governance::ExecutionReport {
            proposal: id,
            region: test_utils::region("eu"),
            phase: 0,
            idempotency_key: key,
            outcome: ExecutionOutcome::Succeeded,
            started_at: Timestamp(1_700_000_000_000),
            finished_at: Timestamp(1_700_000_001_000),
            applied_digest: accord_runtime::payload_digest(&test_utils::pipeline(&[])),
            before_digest: accord_types::Hash::ZERO,
            after_digest: after,
            pre_checks: Vec::new(),
            post_checks: Vec::new(),
            log_digest: accord_types::Hash::ZERO,
        }),
    })
    .await;
    let agent = Running::start(fixture.config(&[fixture.url()], ACTION)).await;

    fixture.wait_status(id, ProposalStatus::Succeeded).await;
    assert!(!fixture.path("marker").exists(), "the command ran again");
    let reports = fixture.reports(agent.key).await;
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].after_digest, after, "the stored report was sent");
    agent.stop().await.unwrap();
    let journal = Journal::open(&fixture.path("state")).unwrap();
    assert!(matches!(
        &journal.get(&key).unwrap().state,
        State::Final {
            outcome: Some(ExecutionOutcome::Succeeded),
            ..
        }
    ));
}
