//! The canary rule: a health check run over a bake window after the post-checks pass;
//! failed runs in a row fail the phase, which rolls back locally like a failed post-check.

use accord_runtime::test_utils;
use accord_types::governance::{CheckStatus, ExecutionOutcome, ProposalStatus};
use accord_types::Event;

use crate::{Fixture, Running};

const ACTIONS: &str = r#"
    [actions.model_deployment]
    command = ["/bin/sh", "-c", "echo deployed >> marker"]
    rollback = ["/bin/sh", "-c", "echo \"$ACCORD_TASK $ACCORD_PHASE\" >> rolled-back"]
    post_checks = [{ name = "serving", command = ["/bin/sh", "-c", "test -s marker"] }]

    [actions.model_deployment.health]
    command = ["/bin/sh", "health.sh"]
    interval_ms = 100
    runs = 5
    max_consecutive_failures = 2
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_health_runs_in_a_row_fail_the_first_phase_and_roll_it_back() {
    let fixture = Fixture::new().await;
    // Passes its first run, fails from the second on.
    fixture.script(
        "health.sh",
        "n=$(( $(cat count 2>/dev/null || echo 0) + 1 )); echo $n > count\n\
         echo \"$ACCORD_TASK $ACCORD_PHASE $ACCORD_HEALTH_RUN\" >> health-runs\n\
         test $n -lt 2",
    );
    let agent = Running::start(fixture.config(&[fixture.url()], ACTIONS)).await;
    let id = fixture.approve(test_utils::pipeline(&[50, 100]), &["eu"]);

    fixture.wait_status(id, ProposalStatus::Failed).await;
    let reason = "health check \"health\" failed 2 times in a row (runs 2 to 3 of 5; last: exit status 1); rolled back locally";
    let reported: Vec<(u16, ExecutionOutcome)> = fixture
        .events(id, &["execution_reported"])
        .await
        .into_iter()
        .filter_map(|v| match v.event {
            Event::ExecutionReported { phase, outcome, .. } => Some((phase, outcome)),
            _ => None,
        })
        .collect();
    assert_eq!(
        reported,
        vec![(
            0,
            ExecutionOutcome::Failed {
                reason: reason.into()
            }
        )]
    );
    // The report on chain lists the health check after the post-checks.
    let reports = fixture.reports(agent.key).await;
    assert_eq!(reports.len(), 1);
    let checks: Vec<(&str, CheckStatus)> = reports[0]
        .post_checks
        .iter()
        .map(|c| (c.name.as_str(), c.status))
        .collect();
    assert_eq!(
        checks,
        vec![
            ("serving", CheckStatus::Passed),
            ("health", CheckStatus::Failed)
        ]
    );
    // It stopped at the second failure in a row, each run numbered, with the phase's
    // environment; the first phase rolled back at once, in the apply task.
    assert_eq!(
        std::fs::read_to_string(fixture.path("health-runs")).unwrap(),
        "apply 0 1\napply 0 2\napply 0 3\n"
    );
    assert_eq!(
        std::fs::read_to_string(fixture.path("rolled-back")).unwrap(),
        "apply 0\n"
    );
    assert!(fixture.events(id, &["rollback_requested"]).await.is_empty());
    let metrics = agent.metrics.clone();
    agent.stop().await.unwrap();
    assert_eq!(metrics.execution_count("model_deployment", "failed"), 1);
}
