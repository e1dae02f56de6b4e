//! Nodes that lie about what they stream (`accord_rpc::proxy`): the agent refuses each
//! lie by its proof, fails over to the honest endpoint, and executes the request once.

use accord_rpc::proxy::{Lie, LyingProxy};
use accord_rpc::GovApiClient;
use accord_runtime::test_utils;
use accord_types::governance::ProposalStatus;

use crate::{Fixture, Running};

/// An agent whose first endpoint is `proxy` and second the honest server, with a deploy
/// script that appends "ran" to `marker`.
async fn start_behind(fixture: &Fixture, proxy: &LyingProxy) -> Running {
    fixture.script("deploy.sh", "echo ran >> marker");
    let config = fixture.config(
        &[proxy.url().to_owned(), fixture.url()],
        "[actions.default]\ncommand = [\"/bin/sh\", \"deploy.sh\"]\n",
    );
    Running::start(config).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_altered_digest_is_refused_and_the_honest_endpoint_serves_the_request() {
    let fixture = Fixture::new().await;
    let proxy = LyingProxy::start(&fixture.url(), Lie::AlterDigest)
        .await
        .unwrap();
    let agent = start_behind(&fixture, &proxy).await;
    let id = fixture.approve(test_utils::pipeline(&[]), &["eu"]);

    fixture.wait_status(id, ProposalStatus::Succeeded).await;
    assert!(proxy.told() >= 1, "the proxy altered nothing");
    assert!(agent.metrics.refused_count("event_mismatch") >= 1);
    assert_eq!(
        std::fs::read_to_string(fixture.path("marker")).unwrap(),
        "ran\n"
    );
    let health = agent.metrics.health();
    assert_eq!(health.endpoint.as_deref(), Some(fixture.url().as_str()));
    assert!(health
        .last_error
        .unwrap_or_default()
        .contains("differs from the one streamed"));
    agent.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_approval_is_refused_and_nothing_runs_until_the_chain_approves() {
    let fixture = Fixture::new().await;
    let (id, voting_ends) = fixture.submit(test_utils::pipeline(&[]), &["eu"]);
    let proxy = LyingProxy::start(
        &fixture.url(),
        Lie::ForgeApproval {
            proposal: id,
            region: test_utils::region("eu"),
        },
    )
    .await
    .unwrap();
    let agent = start_behind(&fixture, &proxy).await;

    // The forged request is refused: its receipt is not the one the header commits to.
    let deadline = std::time::Instant::now() + crate::DEADLINE;
    while agent.metrics.refused_count("receipt_path") == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the forged approval was not refused: {:?}",
            agent.metrics.health()
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(proxy.told() >= 1);
    assert!(
        !fixture.path("marker").exists(),
        "a change ran on a forged approval"
    );
    assert_eq!(
        fixture
            .client()
            .await
            .proposal(id)
            .await
            .unwrap()
            .unwrap()
            .state
            .status,
        ProposalStatus::Voting,
        "the proposal is still being voted on"
    );

    // Once the chain approves it, the agent runs it once, from the honest endpoint.
    fixture.vote_yes(id, &["eu"], voting_ends);
    fixture.wait_status(id, ProposalStatus::Succeeded).await;
    assert_eq!(
        std::fs::read_to_string(fixture.path("marker")).unwrap(),
        "ran\n"
    );
    agent.stop().await.unwrap();
}
