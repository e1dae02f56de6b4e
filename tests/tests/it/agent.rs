//! Deploy agents end to end: a real four-validator network in two regions, one
//! `accord-agent` process per region, commands that are small scripts writing marker
//! files (the witnesses of what ran, and how often).

/// Multi-process (nextest group `multi-process`).
mod slow {
    use std::collections::BTreeSet;
    use std::path::Path;
    use std::time::{Duration, Instant};

    use accord_node::client::{send, TxAction};
    use accord_rpc::memory::MemoryNode;
    use accord_rpc::proxy::{Lie, LyingProxy};
    use accord_rpc::types::{EventFilter, EventProof, EventView};
    use accord_rpc::verify::verify_event_proof;
    use accord_rpc::GovApiClient;
    use accord_runtime::test_utils;
    use accord_tests::agent::AgentProc;
    use accord_tests::net::{tail, Net};
    use accord_types::governance::{ExecutionOutcome, ProposalStatus, VoteChoice};
    use accord_types::{Domain, Event, Hash, ProposalId, PublicKey};
    use jsonrpsee::ws_client::WsClientBuilder;

    const LIMIT: Duration = Duration::from_secs(240);

    /// The example draft of `docs/examples`: a model deployment to eu and us in three
    /// phases (10, 50, 100 %).
    const MODEL_DEPLOYMENT: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/examples/draft-model-deployment.json"
    );

    /// The agents' actions; `serving` is the post-check, a shell condition.
    fn actions(serving: &str, extra: &str) -> String {
        format!(
            r#"
[actions.model_deployment]
command = ["/bin/sh", "deploy.sh"]
rollback = ["/bin/sh", "rollback.sh"]
post_checks = [{{ name = "serving", command = ["/bin/sh", "-c", {serving:?}] }}]
timeout_secs = 60
{extra}
"#
        )
    }

    /// The README's documentation draft (eu and us).
    const DOCUMENTATION: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/examples/draft-documentation.json"
    );

    /// A roadmap change (eu and us).
    const ROADMAP: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/examples/draft-roadmap.json"
    );

    /// The post-check that passes once the command has written its marker.
    const SERVING: &str = "test -s deployed";

    /// A network of four validators in eu and us, with an agent per region that talks
    /// to its region's two nodes; `serving(region)` is that agent's post-check, `extra`
    /// more settings of its action.
    async fn network(
        dir: &Path,
        serving: impl Fn(&str) -> String,
        extra: &str,
    ) -> (Net, Vec<AgentProc>) {
        let net = validators().await;
        let agents = agents(&net, dir, serving, extra, |_, honest| (honest, None));
        (net, agents)
    }

    /// Four validators in eu and us, started, past their first blocks.
    async fn validators() -> Net {
        let mut net = Net::new(4, 2);
        net.start_all();
        net.wait_height(0, 2, LIMIT).await;
        net
    }

    /// Starts an agent per region of `net`. `endpoints(region, honest)` gives an
    /// agent's RPC endpoints and where it serves metrics, from its region's nodes.
    fn agents(
        net: &Net,
        dir: &Path,
        serving: impl Fn(&str) -> String,
        extra: &str,
        endpoints: impl Fn(&str, Vec<String>) -> (Vec<String>, Option<String>),
    ) -> Vec<AgentProc> {
        ["eu", "us"]
            .iter()
            .map(|region| {
                let honest = (0..net.nodes.len())
                    .filter(|&i| net.nodes[i].node.region == *region)
                    .map(|i| net.ws(i))
                    .collect();
                let (rpc, metrics) = endpoints(region, honest);
                let actions = actions(&serving(region), extra);
                let mut agent =
                    AgentProc::with_rpc(net, &dir.join(region), region, &rpc, metrics, &actions);
                agent.script(
                    "deploy.sh",
                    "echo \"$ACCORD_REGION $ACCORD_PHASE $ACCORD_PERCENTAGE $ACCORD_IDEMPOTENCY_KEY\" >> deployed\n\
                     echo ACCORD_AFTER_DIGEST=$ACCORD_PAYLOAD_DIGEST",
                );
                agent.script(
                    "rollback.sh",
                    "echo \"$ACCORD_REGION $ACCORD_PROPOSAL_ID\" >> rolled-back",
                );
                agent.start();
                agent
            })
            .collect()
    }

    /// Submits a draft through node 0 and votes yes for it in every region, each voter
    /// through another node; returns the proposal's id.
    async fn propose_and_approve(net: &Net, draft: &str) -> ProposalId {
        let id = propose(net, draft).await;
        approve(net, id).await;
        id
    }

    /// Submits a draft through node 0 and waits until every node holds it; returns the
    /// proposal's id.
    async fn propose(net: &Net, draft: &str) -> ProposalId {
        let (id, submitted) = net.submit("author", draft).await;
        for i in 1..net.nodes.len() {
            net.wait_height(i, submitted.0, LIMIT).await;
        }
        id
    }

    /// Votes yes for `id` in every region, each voter through another node.
    async fn approve(net: &Net, id: ProposalId) {
        for (n, (voter, region)) in [
            ("eu-voter-1", "eu"),
            ("eu-voter-2", "eu"),
            ("us-voter-1", "us"),
            ("us-voter-2", "us"),
        ]
        .into_iter()
        .enumerate()
        {
            let vote = TxAction::Vote {
                proposal: id.0,
                region: region.into(),
                choice: VoteChoice::Yes,
            };
            let rpc = &net.nodes[1 + n % 3].node.rpc;
            assert!(send(rpc, &net.key(voter), &vote, true).await.unwrap());
        }
    }

    /// Waits for the proposal to reach `want` on node `i`; panics with the agents' logs
    /// when it ends elsewhere or takes longer than `LIMIT`.
    async fn wait_status(
        net: &Net,
        agents: &[AgentProc],
        i: usize,
        id: ProposalId,
        want: ProposalStatus,
    ) {
        let deadline = Instant::now() + LIMIT;
        let mut last = None;
        loop {
            let view = net.client(i).api().proposal(id).await.unwrap();
            let status = view.map(|v| v.state.status);
            if status == Some(want) {
                return;
            }
            let terminal = matches!(
                status,
                Some(
                    ProposalStatus::Succeeded
                        | ProposalStatus::RolledBack
                        | ProposalStatus::Rejected
                        | ProposalStatus::Expired
                        | ProposalStatus::Cancelled
                )
            );
            if terminal || Instant::now() > deadline {
                let logs: Vec<String> = agents
                    .iter()
                    .map(|a| format!("{} agent:\n{}", a.region, tail(&a.log(), 40)))
                    .collect();
                panic!(
                    "proposal {} is {status:?} (last seen {last:?}), not {want:?}\n{}",
                    id.0,
                    logs.join("\n")
                );
            }
            last = status;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// The `execution_reported` events of a proposal, read from node `i`, each proven
    /// against the chain spec's validator set alone: (region, phase, agent, outcome).
    async fn proven_reports(
        net: &Net,
        i: usize,
        id: ProposalId,
    ) -> Vec<(String, u16, PublicKey, ExecutionOutcome)> {
        let (spec, _) = accord_node::init::read_spec(&net.home.join("spec.json")).unwrap();
        let trusted = spec.validator_set().unwrap();
        let filter = EventFilter {
            types: Some(vec!["execution_reported".into()]),
            proposals: Some(vec![id]),
            ..Default::default()
        };
        let api = net.client(i);
        let page = api
            .api()
            .events(Some(filter), None, Some(1000))
            .await
            .unwrap();
        let mut reports = Vec::new();
        for view in page.events {
            let proof = api.api().event_proof(view.cursor).await.unwrap();
            let event = verify_event_proof(&proof, spec.chain_id(), &trusted).unwrap();
            assert_eq!(event, view.event, "the proven event is the listed one");
            if let Event::ExecutionReported {
                region,
                phase,
                agent,
                outcome,
                ..
            } = event
            {
                reports.push((region.to_string(), phase, agent, outcome));
            }
        }
        reports
    }

    fn agent_key(net: &Net, region: &str) -> PublicKey {
        accord_node::keyfile::read(&net.key(&format!("{region}-agent")))
            .unwrap()
            .public()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_phased_cross_region_rollout_runs_in_both_regions_and_succeeds_with_proven_receipts()
    {
        let dir = tempfile::tempdir().unwrap();
        let (net, mut agents) = network(dir.path(), |_| SERVING.to_owned(), "").await;
        let id = propose_and_approve(&net, MODEL_DEPLOYMENT).await;
        wait_status(&net, &agents, 3, id, ProposalStatus::Succeeded).await;

        // Each region ran each phase once, in order, with its percentage.
        for agent in &mut agents {
            let ran: Vec<String> = agent
                .lines("deployed")
                .iter()
                .map(|l| l.split(' ').take(3).collect::<Vec<_>>().join(" "))
                .collect();
            let r = &agent.region;
            assert_eq!(
                ran,
                [
                    format!("{r} 0 10"),
                    format!("{r} 1 50"),
                    format!("{r} 2 100")
                ],
                "{}",
                tail(&agent.log(), 40)
            );
            assert!(agent.lines("rolled-back").is_empty());
            assert!(agent.running(), "{}", tail(&agent.log(), 40));
        }

        // The receipts on chain, proven against the spec's validators: one success per
        // region and phase, each by that region's agent.
        let reports = proven_reports(&net, 2, id).await;
        let mut seen = BTreeSet::new();
        for (region, phase, agent, outcome) in &reports {
            assert_eq!(*outcome, ExecutionOutcome::Succeeded, "{reports:?}");
            assert_eq!(*agent, agent_key(&net, region), "{reports:?}");
            assert!(seen.insert((region.clone(), *phase)), "{reports:?}");
        }
        let expected: BTreeSet<(String, u16)> = ["eu", "us"]
            .iter()
            .flat_map(|r| (0..3).map(move |p| ((*r).to_owned(), p)))
            .collect();
        assert_eq!(seen, expected);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_post_check_failing_in_phase_two_fails_the_rollout_and_both_regions_roll_back() {
        let dir = tempfile::tempdir().unwrap();
        // us's post-check fails in the second phase (0-based 1).
        let (net, mut agents) = network(
            dir.path(),
            |region| {
                if region == "us" {
                    format!("{SERVING} && test \"$ACCORD_PHASE\" != 1")
                } else {
                    SERVING.to_owned()
                }
            },
            "",
        )
        .await;
        let id = propose_and_approve(&net, MODEL_DEPLOYMENT).await;
        wait_status(&net, &agents, 3, id, ProposalStatus::RolledBack).await;

        // us applied phases 0 and 1; eu applied phase 0 and, when it got there before
        // us failed, phase 1; phase 2 never ran; each rolled back once, when the chain
        // asked (us's failure in a later phase runs no rollback of its own).
        for agent in &mut agents {
            let r = agent.region.clone();
            let ran: Vec<String> = agent
                .lines("deployed")
                .iter()
                .map(|l| l.split(' ').take(2).collect::<Vec<_>>().join(" "))
                .collect();
            let full = vec![format!("{r} 0"), format!("{r} 1")];
            let ok = if r == "us" {
                ran == full
            } else {
                ran == full || ran == full[..1]
            };
            assert!(ok, "{ran:?}\n{}", tail(&agent.log(), 40));
            assert_eq!(
                agent.lines("rolled-back"),
                [format!("{r} {}", id.0)],
                "{}",
                tail(&agent.log(), 40)
            );
        }

        // The proven receipts: successes for phase 0 in both regions, us's failure of
        // phase 1 naming the post-check, and a rollback from each region. eu's report of
        // phase 1 counts only if it landed before us's failure, which withdrew the
        // phase; it is left out of the comparison.
        let reports = proven_reports(&net, 1, id).await;
        let mut outcomes: Vec<(String, String)> = reports
            .iter()
            .map(|(region, phase, agent, outcome)| {
                assert_eq!(*agent, agent_key(&net, region), "{reports:?}");
                let what = match outcome {
                    ExecutionOutcome::Succeeded => format!("phase {phase} succeeded"),
                    ExecutionOutcome::Failed { reason } => {
                        assert!(reason.contains("serving"), "{reason}");
                        format!("phase {phase} failed")
                    }
                    ExecutionOutcome::RolledBack => "rolled back".to_owned(),
                };
                (region.clone(), what)
            })
            .collect();
        outcomes.retain(|(r, w)| !(r == "eu" && w == "phase 1 succeeded"));
        outcomes.sort();
        let expected: Vec<(String, String)> = [
            ("eu", "phase 0 succeeded"),
            ("eu", "rolled back"),
            ("us", "phase 0 succeeded"),
            ("us", "phase 1 failed"),
            ("us", "rolled back"),
        ]
        .iter()
        .map(|(r, w)| ((*r).to_owned(), (*w).to_owned()))
        .collect();
        assert_eq!(outcomes, expected, "{reports:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_agent_killed_mid_command_with_its_node_restarts_on_another_and_runs_each_change_once(
    ) {
        let dir = tempfile::tempdir().unwrap();
        // Commands declared idempotent: a rerun with the same key changes nothing.
        let (mut net, mut agents) =
            network(dir.path(), |_| SERVING.to_owned(), "idempotent = true").await;
        let eu = agents.iter().position(|a| a.region == "eu").unwrap();
        // Every invocation is logged; the change itself is applied once per key. Phase
        // 1 takes 3 s, the window in which the agent dies.
        agents[eu].script(
            "deploy.sh",
            "echo \"$ACCORD_REGION $ACCORD_PHASE $ACCORD_IDEMPOTENCY_KEY\" >> invocations\n\
             if [ \"$ACCORD_PHASE\" = 1 ]; then sleep 3; fi\n\
             grep -q \"$ACCORD_IDEMPOTENCY_KEY\" deployed 2>/dev/null || \
             echo \"$ACCORD_REGION $ACCORD_PHASE $ACCORD_PERCENTAGE $ACCORD_IDEMPOTENCY_KEY\" >> deployed",
        );
        let id = propose_and_approve(&net, MODEL_DEPLOYMENT).await;

        // Phase 1's command is running: kill -9 the agent and the node it talks to.
        let invoked = agents[eu].wait_lines("invocations", 2, LIMIT);
        assert!(invoked[1].starts_with("eu 1 "), "{invoked:?}");
        agents[eu].kill();
        let eu_nodes: Vec<usize> = (0..net.nodes.len())
            .filter(|&i| net.nodes[i].node.region == "eu")
            .collect();
        net.kill(eu_nodes[0]);
        agents[eu].start();
        wait_status(&net, &agents, 3, id, ProposalStatus::Succeeded).await;

        // The interrupted phase was run again with the same key; every phase of every
        // region was applied exactly once, none missed.
        let invocations = agents[eu].lines("invocations");
        let phase_one: Vec<&String> = invocations
            .iter()
            .filter(|l| l.starts_with("eu 1 "))
            .collect();
        assert_eq!(phase_one.len(), 2, "{invocations:?}");
        assert_eq!(phase_one[0], phase_one[1], "the same idempotency key");
        for agent in &agents {
            let r = &agent.region;
            let applied: Vec<String> = agent
                .lines("deployed")
                .iter()
                .map(|l| l.split(' ').take(3).collect::<Vec<_>>().join(" "))
                .collect();
            assert_eq!(
                applied,
                [
                    format!("{r} 0 10"),
                    format!("{r} 1 50"),
                    format!("{r} 2 100")
                ],
                "{}",
                tail(&agent.log(), 40)
            );
        }
        let reports = proven_reports(&net, 2, id).await;
        let succeeded: BTreeSet<(String, u16)> = reports
            .iter()
            .filter(|(_, _, _, o)| *o == ExecutionOutcome::Succeeded)
            .map(|(r, p, _, _)| (r.clone(), *p))
            .collect();
        assert_eq!(succeeded.len(), 6, "{reports:?}");
        let second = format!("subscribed endpoint=\"{}\"", net.ws(eu_nodes[1]));
        assert!(
            agents[eu].log().contains(&second),
            "the restarted agent used its second endpoint:\n{}",
            tail(&agents[eu].log(), 40)
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn documentation_and_roadmap_changes_go_through_their_own_commands_in_both_regions() {
        let dir = tempfile::tempdir().unwrap();
        let own = "\n[actions.documentation]\ncommand = [\"/bin/sh\", \"publish.sh\"]\n\
                   \n[actions.roadmap]\ncommand = [\"/bin/sh\", \"plan.sh\"]\n";
        let (net, agents) = network(dir.path(), |_| SERVING.to_owned(), own).await;
        for agent in &agents {
            agent.script(
                "publish.sh",
                "echo \"$ACCORD_REGION $ACCORD_KIND $ACCORD_SUB_KIND $ACCORD_ACTION\" >> published",
            );
            agent.script(
                "plan.sh",
                "echo \"$ACCORD_REGION $ACCORD_KIND $ACCORD_SUB_KIND $ACCORD_ACTION\" >> planned",
            );
        }
        let documentation = propose_and_approve(&net, DOCUMENTATION).await;
        let roadmap = propose_and_approve(&net, ROADMAP).await;
        wait_status(&net, &agents, 3, documentation, ProposalStatus::Succeeded).await;
        wait_status(&net, &agents, 3, roadmap, ProposalStatus::Succeeded).await;
        for agent in &agents {
            let r = &agent.region;
            assert_eq!(
                agent.lines("published"),
                [format!("{r} documentation_change user_guide documentation")],
                "{}",
                tail(&agent.log(), 40)
            );
            assert_eq!(
                agent.lines("planned"),
                [format!("{r} roadmap_change timeline_change roadmap")],
                "{}",
                tail(&agent.log(), 40)
            );
            assert!(
                agent.lines("deployed").is_empty(),
                "the deploy command did not run"
            );
        }
        for id in [documentation, roadmap] {
            let reports = proven_reports(&net, 1, id).await;
            let regions: BTreeSet<String> = reports
                .iter()
                .map(|(region, phase, agent, outcome)| {
                    assert_eq!(
                        (*phase, outcome),
                        (0, &ExecutionOutcome::Succeeded),
                        "{reports:?}"
                    );
                    assert_eq!(*agent, agent_key(&net, region));
                    region.clone()
                })
                .collect();
            assert_eq!(reports.len(), 2, "{reports:?}");
            assert_eq!(regions, ["eu".to_owned(), "us".to_owned()].into());
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_emergency_change_runs_at_once_and_is_rolled_back_when_nobody_ratifies_it() {
        let dir = tempfile::tempdir().unwrap();
        let (net, mut agents) = network(dir.path(), |_| SERVING.to_owned(), "").await;
        // The model deployment as an emergency in one phase, submitted by the guardian.
        let mut draft: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(MODEL_DEPLOYMENT).unwrap()).unwrap();
        draft["urgency"] = serde_json::json!({
            "type": "emergency",
            "justification": "the serving fleet answers wrong recommendations"
        });
        draft["body"]["pipeline_action"]["phases"] = serde_json::json!([{ "percent": 100 }]);
        let path = dir.path().join("emergency.json");
        std::fs::write(&path, draft.to_string()).unwrap();
        let (id, _) = net.submit("guardian", path).await;

        // Both regions run it at once, without a vote; nobody ratifies it before the
        // window closes, so the chain asks both for a rollback.
        for agent in &mut agents {
            agent.wait_lines("deployed", 1, LIMIT);
        }
        wait_status(&net, &agents, 3, id, ProposalStatus::RolledBack).await;
        for agent in &agents {
            let r = &agent.region;
            assert_eq!(
                agent.lines("deployed").len(),
                1,
                "{}",
                tail(&agent.log(), 40)
            );
            assert_eq!(
                agent.lines("rolled-back"),
                [format!("{r} {}", id.0)],
                "{}",
                tail(&agent.log(), 40)
            );
        }
        let mut outcomes: Vec<(String, ExecutionOutcome)> = proven_reports(&net, 2, id)
            .await
            .into_iter()
            .map(|(region, _, agent, outcome)| {
                assert_eq!(agent, agent_key(&net, &region));
                (region, outcome)
            })
            .collect();
        outcomes.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
        // Executed at once, then not ratified, then rolled back.
        let filter = EventFilter {
            types: Some(vec!["status_changed".into()]),
            proposals: Some(vec![id]),
            ..Default::default()
        };
        let page = net
            .client(1)
            .api()
            .events(Some(filter), None, None)
            .await
            .unwrap();
        let statuses: Vec<ProposalStatus> = page
            .events
            .into_iter()
            .filter_map(|v| match v.event {
                Event::StatusChanged { status, .. } => Some(status),
                _ => None,
            })
            .collect();
        assert_eq!(
            statuses,
            [
                ProposalStatus::EmergencyExecuted,
                ProposalStatus::Unratified,
                ProposalStatus::RollingBack,
                ProposalStatus::RolledBack
            ],
            "{statuses:?}"
        );
        assert_eq!(
            outcomes,
            [
                ("eu".to_owned(), ExecutionOutcome::RolledBack),
                ("eu".to_owned(), ExecutionOutcome::Succeeded),
                ("us".to_owned(), ExecutionOutcome::RolledBack),
                ("us".to_owned(), ExecutionOutcome::Succeeded),
            ]
        );
    }

    /// An execution request of another chain (the in-memory test chain: its own chain
    /// id and validators), with that chain's valid proof.
    async fn other_chain_request() -> (EventView, EventProof) {
        let other = MemoryNode::new(64);
        other.commit(&[]);
        other.commit_events(vec![Event::ExecutionRequested {
            proposal: ProposalId(1),
            region: test_utils::region("eu"),
            phase: 0,
            payload_digest: Hash::digest(Domain::PAYLOAD, b"a change of another chain"),
            idempotency_key: Hash::digest(Domain::PAYLOAD, b"its key"),
        }]);
        let (_server, addr) = accord_rpc::start(
            "127.0.0.1:0".parse().unwrap(),
            other.backend(),
            accord_rpc::Options::default(),
        )
        .await
        .unwrap();
        let client = WsClientBuilder::default()
            .build(format!("ws://{addr}"))
            .await
            .unwrap();
        let filter = EventFilter {
            types: Some(vec!["execution_requested".into()]),
            ..EventFilter::default()
        };
        let view = client
            .events(Some(filter), None, Some(1))
            .await
            .unwrap()
            .events
            .remove(0);
        let proof = client.event_proof(view.cursor).await.unwrap();
        (view, proof)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lying_endpoints_are_refused_and_the_agent_goes_on_with_an_honest_one() {
        let dir = tempfile::tempdir().unwrap();
        let net = validators().await;
        let id = propose(&net, MODEL_DEPLOYMENT).await;

        // eu's agent tries three liars before its honest nodes: one replays a request
        // of another chain, one presents the submitted proposal as approved, one alters
        // the digest of every request.
        let upstream = net.ws(0);
        let (view, proof) = other_chain_request().await;
        let replay = LyingProxy::start(
            &upstream,
            Lie::Replay {
                view: Box::new(view),
                proof: Box::new(proof),
            },
        )
        .await
        .unwrap();
        let forge = LyingProxy::start(
            &upstream,
            Lie::ForgeApproval {
                proposal: id,
                region: test_utils::region("eu"),
            },
        )
        .await
        .unwrap();
        let alter = LyingProxy::start(&upstream, Lie::AlterDigest)
            .await
            .unwrap();
        let metrics = format!("127.0.0.1:{}", net.spare_port(0));
        let liars = [replay.url(), forge.url(), alter.url()].map(str::to_owned);
        let agents = agents(
            &net,
            dir.path(),
            |_| SERVING.to_owned(),
            "",
            |region, honest| {
                if region == "eu" {
                    (
                        liars.iter().cloned().chain(honest).collect(),
                        Some(metrics.clone()),
                    )
                } else {
                    (honest, None)
                }
            },
        );
        let eu = &agents[0];

        // The replay and the forged approval are refused before anyone votes, by the
        // proofs: the replayed header is another chain's, the forged receipt is not the
        // one the header commits to. Nothing ran.
        let deadline = Instant::now() + LIMIT;
        while eu.refused("wrong_chain") == 0 || eu.refused("receipt_path") == 0 {
            assert!(
                Instant::now() < deadline,
                "the liars were not refused:\n{}",
                tail(&eu.log(), 40)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(replay.told() >= 1 && forge.told() >= 1);
        assert!(eu.lines("deployed").is_empty(), "a change ran on a lie");

        // The chain approves it: the altered request is refused, and the agent runs
        // every phase once from an honest node.
        approve(&net, id).await;
        wait_status(&net, &agents, 3, id, ProposalStatus::Succeeded).await;
        assert!(alter.told() >= 1, "the altering proxy saw no request");
        assert!(eu.refused("event_mismatch") >= 1, "{}", tail(&eu.log(), 40));
        for agent in &agents {
            let phases: Vec<String> = agent
                .lines("deployed")
                .iter()
                .map(|l| l.split(' ').take(2).collect::<Vec<_>>().join(" "))
                .collect();
            let r = &agent.region;
            assert_eq!(
                phases,
                [format!("{r} 0"), format!("{r} 1"), format!("{r} 2")],
                "{}",
                tail(&agent.log(), 40)
            );
        }
        let reports = proven_reports(&net, 1, id).await;
        assert_eq!(reports.len(), 6, "{reports:?}");
        assert!(reports.iter().all(|(region, _, agent, outcome)| *outcome
            == ExecutionOutcome::Succeeded
            && *agent == agent_key(&net, region)));
    }
}
