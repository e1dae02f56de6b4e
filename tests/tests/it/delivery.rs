//! Delivery (DORA) metrics end to end: a real four-validator network in eu and us
//! with a deploy agent per region; a model deployment in us fails its post-check, the
//! next one of the same pipeline succeeds; every node then answers
//! `gov_getDeliveryMetrics` and serves `accord_dora_*` with those counts.

/// Multi-process (nextest group `multi-process`).
mod slow {
    use std::path::Path;
    use std::time::{Duration, Instant};

    use accord_node::client::{send, TxAction};
    use accord_rpc::types::{DeliveryBucket, DeliveryFilter};
    use accord_rpc::GovApiClient;
    use accord_tests::agent::AgentProc;
    use accord_tests::net::{tail, Net};
    use accord_types::governance::{ProposalKind, ProposalStatus, VoteChoice};
    use accord_types::ProposalId;

    const LIMIT: Duration = Duration::from_secs(240);

    /// The us agent's post-check: fails once while `fail-next` exists (and removes it).
    const SERVING: &str = "if [ -e fail-next ]; then rm fail-next; exit 1; fi; test -s deployed";

    /// A one-phase model deployment of the pipeline `recommender-release` to
    /// production, in us only, written to `dir`; returns its path.
    fn draft(dir: &Path, name: &str) -> String {
        let example = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../docs/examples/draft-model-deployment.json"
        );
        let mut draft: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(example).unwrap()).unwrap();
        draft["title"] = name.into();
        draft["regions"] = serde_json::json!(["us"]);
        draft["body"]["pipeline_action"]["phases"] = serde_json::json!([{ "percent": 100 }]);
        let path = dir.join(format!("{name}.json"));
        std::fs::write(&path, draft.to_string()).unwrap();
        path.to_string_lossy().into_owned()
    }

    /// Submits a draft through node 0 and votes yes in us; returns the proposal id.
    async fn propose_and_approve(net: &Net, draft: &str) -> ProposalId {
        let (id, _) = net.submit("author", draft).await;
        for (n, voter) in ["us-voter-1", "us-voter-2"].into_iter().enumerate() {
            let vote = TxAction::Vote {
                proposal: id.0,
                region: "us".into(),
                choice: VoteChoice::Yes,
            };
            let rpc = &net.nodes[1 + n].node.rpc;
            assert!(send(rpc, &net.key(voter), &vote, true).await.unwrap());
        }
        id
    }

    async fn wait_status(net: &Net, agent: &AgentProc, id: ProposalId, want: ProposalStatus) {
        let deadline = Instant::now() + LIMIT;
        loop {
            let view = net.client(3).api().proposal(id).await.unwrap();
            let status = view.map(|v| v.state.status);
            if status == Some(want) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "proposal {} is {status:?}, not {want:?}\n{}",
                id.0,
                tail(&agent.log(), 40)
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failure_restored_by_the_next_deployment_shows_in_the_delivery_metrics() {
        let dir = tempfile::tempdir().unwrap();
        let mut net = Net::new(4, 2);
        net.start_all();
        net.wait_height(0, 2, LIMIT).await;
        let us = (0..net.nodes.len())
            .filter(|&i| net.nodes[i].node.region == "us")
            .map(|i| net.ws(i))
            .collect::<Vec<_>>();
        let actions = format!(
            r#"
[actions.model_deployment]
command = ["/bin/sh", "deploy.sh"]
rollback = ["/bin/sh", "rollback.sh"]
post_checks = [{{ name = "serving", command = ["/bin/sh", "-c", {SERVING:?}] }}]
timeout_secs = 60
"#
        );
        let mut agent =
            AgentProc::with_rpc(&net, &dir.path().join("us"), "us", &us, None, &actions);
        agent.script(
            "deploy.sh",
            "echo \"$ACCORD_PROPOSAL_ID\" >> deployed\necho ACCORD_AFTER_DIGEST=$ACCORD_PAYLOAD_DIGEST",
        );
        agent.script("rollback.sh", "echo \"$ACCORD_PROPOSAL_ID\" >> rolled-back");
        std::fs::write(agent.path("fail-next"), "").unwrap();
        agent.start();

        // The first deployment fails its post-check; the second, of the same pipeline
        // and environment, succeeds and restores it.
        let first = propose_and_approve(&net, &draft(dir.path(), "v42")).await;
        wait_status(&net, &agent, first, ProposalStatus::Failed).await;
        let second = propose_and_approve(&net, &draft(dir.path(), "v43")).await;
        wait_status(&net, &agent, second, ProposalStatus::Succeeded).await;
        let head = net
            .client(3)
            .api()
            .proposal(second)
            .await
            .unwrap()
            .unwrap()
            .state
            .updated_at;

        // Every node counts the same, once it holds the block of the success.
        let filter = DeliveryFilter {
            region: Some("us".parse().unwrap()),
            kind: Some(ProposalKind::PipelineAction),
            ..Default::default()
        };
        for i in 0..net.nodes.len() {
            net.wait_height(i, head.0, LIMIT).await;
            let answer = net
                .client(i)
                .api()
                .delivery_metrics(Some(filter.clone()), Some(DeliveryBucket::Total))
                .await
                .unwrap();
            assert!(answer.height >= head, "node {i}: {answer:?}");
            assert_eq!(answer.series.len(), 1, "node {i}: {answer:?}");
            let total = &answer.total;
            assert_eq!(total.deployments, 1, "node {i}: {answer:?}");
            assert_eq!(total.executed, 2, "node {i}: {answer:?}");
            assert_eq!(total.failed, 1, "node {i}: {answer:?}");
            assert_eq!(total.change_failure_rate, Some(0.5), "node {i}: {answer:?}");
            assert_eq!(total.restores, 1, "node {i}: {answer:?}");
            assert!(total.lead_time_mean_seconds.unwrap() > 0.0, "{answer:?}");
            assert!(
                total.time_to_restore_mean_seconds.unwrap() > 0.0,
                "{answer:?}"
            );
            // Nothing in eu, nor of another kind.
            let eu = net
                .client(i)
                .api()
                .delivery_metrics(
                    Some(DeliveryFilter {
                        region: Some("eu".parse().unwrap()),
                        ..Default::default()
                    }),
                    None,
                )
                .await
                .unwrap();
            assert!(eu.series.is_empty(), "node {i}: {eu:?}");

            let labels = r#"{region="us",kind="pipeline_action"}"#;
            let metric = |name: &str| net.metric(i, &format!("{name}{labels}"));
            assert_eq!(metric("accord_dora_deployments_total"), 1.0, "node {i}");
            assert_eq!(
                metric("accord_dora_changes_executed_total"),
                2.0,
                "node {i}"
            );
            assert_eq!(metric("accord_dora_changes_failed_total"), 1.0, "node {i}");
            assert_eq!(
                metric("accord_dora_lead_time_seconds_count"),
                1.0,
                "node {i}"
            );
            assert_eq!(metric("accord_dora_restore_seconds_count"), 1.0, "node {i}");
            assert!(metric("accord_dora_restore_seconds_sum") > 0.0, "node {i}");
        }
        assert_eq!(
            agent.lines("deployed").len(),
            2,
            "{}",
            tail(&agent.log(), 40)
        );

        // After a restart the node serves the same figures, without rescanning.
        net.kill(3);
        net.start(3);
        net.wait_height(3, head.0, LIMIT).await;
        let labels = r#"{region="us",kind="pipeline_action"}"#;
        let deadline = Instant::now() + LIMIT;
        while net.metric(3, &format!("accord_dora_deployments_total{labels}")) != 1.0 {
            assert!(Instant::now() < deadline, "no metrics after the restart");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        assert_eq!(
            net.metric(3, &format!("accord_dora_changes_failed_total{labels}")),
            1.0
        );
        // The failed proposal's age in its status, as the restarted node reads it from
        // the header of its last status change and its stored head, dates the change to
        // the same block time as a node that never stopped and counted block by block:
        // each node's last block time minus the age, from one scrape of each.
        assert!(net.metric(3, "accord_consensus_height") >= head.0 as f64);
        let changed_at = |i: usize| {
            let addr = net.nodes[i]
                .node
                .rpc
                .trim_start_matches("http://")
                .to_owned();
            let body = accord_tests::http_get(&addr, "/metrics").unwrap();
            let value = |series: &str| {
                body.lines()
                    .find_map(|l| l.strip_prefix(&format!("{series} ")))
                    .and_then(|v| v.trim().parse::<f64>().ok())
                    .unwrap_or_else(|| panic!("node {i} has no {series}:\n{body}"))
            };
            value("accord_consensus_last_block_timestamp_seconds")
                - value(r#"accord_gov_status_age_seconds{kind="pipeline_action",status="failed"}"#)
        };
        let (kept, restarted) = (changed_at(0), changed_at(3));
        assert!(kept > 1.0e9, "{kept}");
        assert!(
            (kept - restarted).abs() < 0.01,
            "the failure dated {kept} on node 0 and {restarted} on the restarted node 3"
        );
    }
}
