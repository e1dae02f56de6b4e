//! The API of a running four-validator network: every method through the generated
//! client, proofs verified against the chain spec's validator set alone, an event
//! subscription resumed from its cursor while blocks commit, the REST routes and
//! `/metrics` read by a Prometheus parser.

pub mod slow {
    use std::collections::BTreeSet;
    use std::time::Duration;

    use accord_rpc::types::{BlockId, EventFilter, EventView, StateTarget, TransactionStatus};
    use accord_rpc::verify::{verify_event_proof, verify_state_proof, Record};
    use accord_rpc::{ChainApiClient, GovApiClient, MetaApiClient, SystemApiClient};
    use accord_types::governance::VoteChoice;
    use accord_types::{Event, EventCursor, Height, ProposalId};
    use jsonrpsee::ws_client::WsClientBuilder;
    use serde_json::Value;

    use accord_tests::net::Net;

    const LIMIT: Duration = Duration::from_secs(120);

    /// A proposal whose draft file lives in `home` (the network's directory, removed with it).
    fn proposal(home: &std::path::Path, n: usize) -> accord_node::client::TxAction {
        let path = home.join(format!("draft-{n}.json"));
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../docs/examples/draft-documentation.json"
        ))
        .unwrap();
        let mut draft: Value = serde_json::from_str(&text).unwrap();
        draft["title"] = Value::String(format!("change {n}"));
        std::fs::write(&path, draft.to_string()).unwrap();
        accord_node::client::TxAction::Propose { draft: path }
    }

    async fn get(addr: &str, path: &str) -> (u16, String) {
        accord_rpc::memory::http_request(addr, "GET", path, None)
            .await
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_method_proofs_subscriptions_rest_and_metrics_on_a_live_network() {
        let mut net = Net::new(4, 2);
        net.start_all();
        net.wait_height(0, 2, LIMIT).await;
        let (spec, _) = accord_node::init::read_spec(&net.home.join("spec.json")).unwrap();
        let trusted = spec.validator_set().unwrap();
        let chain_id = spec.chain_id().clone();
        let rpc = net.nodes[0].node.rpc.clone();
        let addr = rpc.trim_start_matches("http://").to_owned();
        let client = net.client(0);
        let api = client.api();

        // A proposal and two votes, through the command line's client.
        assert!(
            accord_node::client::send(&rpc, &net.key("author"), &proposal(&net.home, 0), true)
                .await
                .unwrap()
        );
        for voter in ["eu-voter-1", "us-voter-1"] {
            let region = voter.split('-').next().unwrap().to_owned();
            let vote = accord_node::client::TxAction::Vote {
                proposal: 1,
                region,
                choice: VoteChoice::Yes,
            };
            assert!(
                accord_node::client::send(&rpc, &net.key(voter), &vote, true)
                    .await
                    .unwrap()
            );
        }

        // system_* and rpc_*
        let health = api.health().await.unwrap();
        assert_eq!(health.peers, 3);
        assert_eq!(
            api.version().await.unwrap().genesis_hash,
            spec.genesis_hash()
        );
        let peers = api.peers().await.unwrap();
        assert_eq!(peers.len(), 3);
        assert!(peers.iter().all(|p| p.name.is_some() && p.region.is_some()));
        assert!(api.sync_state().await.unwrap().highest >= health.height);
        assert_eq!(
            api.methods().await.unwrap().len(),
            accord_rpc::methods::METHODS.len()
        );
        assert!(api.discover().await.unwrap()["openrpc"].is_string());

        // chain_*
        let status = api.status().await.unwrap();
        let head = status.height;
        let block = api.block(BlockId::Height(head)).await.unwrap().unwrap();
        assert_eq!(
            api.block(BlockId::Hash(block.hash)).await.unwrap().unwrap(),
            block
        );
        let range = api.block_range(Height(1), Height(200)).await;
        assert!(range.is_err(), "more than 100 blocks are refused");
        let range = api.block_range(Height(1), head).await.unwrap();
        assert_eq!(range.len() as u64, head.0);
        let header = api.header(BlockId::Height(head)).await.unwrap().unwrap();
        assert_eq!(header.hash, block.hash);
        let certificate = api
            .certificate(BlockId::Height(head))
            .await
            .unwrap()
            .unwrap();
        certificate
            .verify_commit(&chain_id, &trusted, head, &header.hash)
            .unwrap();
        let validators = api.validators(Some(Height(1))).await.unwrap();
        assert_eq!(validators.hash, trusted.hash());
        assert_eq!(validators.regions.len(), 2);

        // gov_*
        let proposal_view = api.proposal(ProposalId(1)).await.unwrap().unwrap();
        let submitted_at = proposal_view.state.submitted_at;
        let receipts = api
            .receipts(BlockId::Height(submitted_at))
            .await
            .unwrap()
            .unwrap();
        let tx_hash = match &receipts[0].receipt.source {
            accord_types::ReceiptSource::Transaction { hash } => *hash,
            other => panic!("{other:?}"),
        };
        match api.transaction(tx_hash).await.unwrap() {
            TransactionStatus::Finalized { height, index, .. } => {
                assert_eq!((height, index), (submitted_at, 0));
            }
            other => panic!("{other:?}"),
        }
        let account = api
            .account(
                accord_node::keyfile::read(&net.key("author"))
                    .unwrap()
                    .public(),
            )
            .await
            .unwrap();
        assert_eq!(account.nonce, 1);
        let listed = api.list_proposals(None, None, None).await.unwrap();
        assert_eq!(listed.proposals.len(), 1);
        let tally = api.tally(ProposalId(1)).await.unwrap().unwrap();
        assert_eq!(tally.regions.iter().map(|r| r.tally.yes).sum::<u32>(), 2);
        assert!(api.params().await.unwrap().height >= submitted_at);
        let votes = EventFilter {
            types: Some(vec!["vote_cast".into()]),
            ..Default::default()
        };
        let page = api.events(Some(votes), None, None).await.unwrap();
        assert_eq!(page.events.len(), 2);

        // Proofs, against the spec's validator set alone.
        let proof = api.event_proof(page.events[1].cursor).await.unwrap();
        let event = verify_event_proof(&proof, &chain_id, &trusted).unwrap();
        assert_eq!(event, page.events[1].event);
        let mut tampered = proof.clone();
        tampered.header.timestamp.0 += 1;
        assert!(verify_event_proof(&tampered, &chain_id, &trusted).is_err());
        let state = api
            .state_proof(StateTarget::Proposal { id: ProposalId(1) })
            .await
            .unwrap();
        match verify_state_proof(&state, &chain_id, &trusted).unwrap() {
            Record::Proposal(Some(p)) => assert_eq!(p.id, ProposalId(1)),
            other => panic!("{other:?}"),
        }
        let mut tampered = state.clone();
        tampered.certificate.round.0 += 1;
        assert!(verify_state_proof(&tampered, &chain_id, &trusted).is_err());

        // A subscription from the start, cut off mid-stream and resumed from its cursor,
        // while proposals keep committing.
        let author = net.key("author");
        let writer_rpc = net.nodes[1].node.rpc.clone();
        let home = net.home.clone();
        let writer = tokio::spawn(async move {
            for n in 1..=12 {
                assert!(accord_node::client::send(
                    &writer_rpc,
                    &author,
                    &proposal(&home, n),
                    false
                )
                .await
                .unwrap());
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
        });
        let ws_url = rpc.replace("http://", "ws://");
        let mut seen: Vec<EventView> = Vec::new();
        {
            let ws = WsClientBuilder::default().build(&ws_url).await.unwrap();
            let mut sub = ws.subscribe_events(None, None).await.unwrap();
            while seen.len() < 6 {
                let view = tokio::time::timeout(LIMIT, sub.next())
                    .await
                    .unwrap()
                    .unwrap()
                    .unwrap();
                seen.push(view);
            }
        }
        let resume: EventCursor = seen.last().unwrap().cursor;
        let ws = WsClientBuilder::default()
            .build(net.nodes[2].node.rpc.replace("http://", "ws://"))
            .await
            .unwrap();
        let mut sub = ws.subscribe_events(None, Some(resume)).await.unwrap();
        let submitted = |seen: &[EventView]| {
            seen.iter()
                .filter(|v| matches!(v.event, Event::ProposalSubmitted { .. }))
                .count()
        };
        while submitted(&seen) < 13 {
            let view = tokio::time::timeout(LIMIT, sub.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            seen.push(view);
        }
        writer.await.unwrap();
        let last = seen.last().unwrap().cursor;
        // The same stretch of the log, read from a third node once it holds it:
        // identical, in order.
        net.wait_height(3, last.height.0, LIMIT).await;
        let mut stored = Vec::new();
        let mut after = None;
        loop {
            let page = net
                .client(3)
                .api()
                .events(None, after, Some(1000))
                .await
                .unwrap();
            stored.extend(page.events.into_iter().filter(|e| e.cursor <= last));
            if page.complete || stored.last().is_some_and(|e| e.cursor >= last) {
                break;
            }
            after = page.next;
        }
        assert_eq!(seen, stored, "no gap and no duplicate across the resume");
        let distinct: BTreeSet<EventCursor> = seen.iter().map(|v| v.cursor).collect();
        assert_eq!(distinct.len(), seen.len());

        // Finalized blocks, live.
        let mut blocks = ws.subscribe_finalized_blocks().await.unwrap();
        let first = tokio::time::timeout(LIMIT, blocks.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let second = tokio::time::timeout(LIMIT, blocks.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(second.header.height.0, first.header.height.0 + 1);
        assert!(second.signers.len() >= 3);

        // REST.
        let (status, body) = get(&addr, "/api/devops/documentation-changes?limit=5").await;
        assert_eq!(status, 200, "{body}");
        let page: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(page["proposals"].as_array().unwrap().len(), 5);
        assert_eq!(page["next"], 5);
        assert_eq!(
            get(&addr, "/api/devops/documentation-changes/1").await.0,
            200
        );
        assert_eq!(
            get(&addr, "/api/devops/documentation-changes/999").await.0,
            404
        );
        assert_eq!(get(&addr, "/api/devops/pipeline-actions/1").await.0, 404);
        assert_eq!(
            get(&addr, "/api/devops/documentation-changes/one").await.0,
            400
        );
        assert_eq!(get(&addr, "/health").await.0, 200);
        let (status, body) = get(&addr, "/ready").await;
        assert_eq!(status, 200, "{body}");

        // Metrics, read by a Prometheus parser.
        let (status, text) = get(&addr, "/metrics").await;
        assert_eq!(status, 200);
        let scrape =
            prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
        let names: BTreeSet<&str> = scrape.samples.iter().map(|s| s.metric.as_str()).collect();
        for family in [
            "accord_consensus_height",
            "accord_consensus_round",
            "accord_consensus_block_interval_seconds_count",
            "accord_consensus_validators",
            "accord_consensus_missing_validators",
            "accord_consensus_validator_missed_certificates",
            "accord_consensus_byzantine_validators",
            "accord_p2p_peers",
            "accord_mempool_size",
            "accord_mempool_bytes",
            "accord_mempool_max_size",
            "accord_mempool_max_bytes",
            "accord_rpc_requests_total",
            "accord_rpc_connections",
            "accord_rpc_subscriptions",
            "accord_gov_proposals",
            "accord_gov_status_age_seconds",
            "accord_gov_receipts_total",
            "accord_storage_commit_seconds_count",
            "accord_consensus_height_phase_seconds_count",
            "accord_storage_sst_bytes",
            "accord_storage_memtable_bytes",
            "accord_storage_keys",
            "accord_storage_block_cache_bytes",
            "accord_consensus_last_block_timestamp_seconds",
        ] {
            assert!(
                names.contains(family),
                "{family} missing from /metrics:\n{text}"
            );
        }
        let value = |name: &str, label: Option<(&str, &str)>| -> f64 {
            scrape
                .samples
                .iter()
                .filter(|s| s.metric == name)
                .filter(|s| label.is_none_or(|(k, v)| s.labels.get(k) == Some(v)))
                .map(|s| match s.value {
                    prometheus_parse::Value::Counter(v)
                    | prometheus_parse::Value::Gauge(v)
                    | prometheus_parse::Value::Untyped(v) => v,
                    _ => 0.0,
                })
                .sum()
        };
        assert!(value("accord_consensus_height", None) >= head.0 as f64);
        assert_eq!(
            value("accord_consensus_validators", Some(("region", "eu"))),
            2.0
        );
        assert_eq!(value("accord_p2p_peers", None), 3.0);
        assert_eq!(
            value(
                "accord_gov_proposals",
                Some(("kind", "documentation_change"))
            ),
            13.0
        );
        assert!(
            value(
                "accord_rpc_requests_total",
                Some(("method", "gov_getEvents"))
            ) >= 1.0
        );
        // The pool's limits are the configured ones (the defaults here).
        let defaults = accord_node::mempool::MempoolConfig::default();
        assert_eq!(
            value("accord_mempool_max_size", None),
            defaults.max_txs as f64
        );
        assert_eq!(
            value("accord_mempool_max_bytes", None),
            defaults.max_bytes as f64
        );
        // One series per validator of the set, each counting at most the window.
        let missed: Vec<_> = scrape
            .samples
            .iter()
            .filter(|s| s.metric == "accord_consensus_validator_missed_certificates")
            .collect();
        assert_eq!(missed.len(), 4, "{text}");
        for sample in missed {
            assert!(sample.labels.get("validator").is_some(), "{text}");
            match sample.value {
                prometheus_parse::Value::Gauge(v) => assert!((0.0..=10.0).contains(&v), "{text}"),
                _ => panic!("not a gauge:\n{text}"),
            }
        }
        // Every status holding proposals has an age unless no proposal leaves it.
        let statuses = |name: &str| -> BTreeSet<String> {
            scrape
                .samples
                .iter()
                .filter(|s| s.metric == name)
                .filter(|s| !matches!(s.value, prometheus_parse::Value::Gauge(v) if v == 0.0))
                .filter_map(|s| s.labels.get("status").map(str::to_owned))
                .collect()
        };
        let held = statuses("accord_gov_proposals");
        let aged = statuses("accord_gov_status_age_seconds");
        // The statuses nothing moves a proposal out of (accord_runtime::records::is_terminal).
        let last = [
            "succeeded",
            "rejected",
            "vetoed",
            "expired",
            "cancelled",
            "rolled_back",
        ];
        let open: BTreeSet<String> = held
            .iter()
            .filter(|s| !last.contains(&s.as_str()))
            .cloned()
            .collect();
        assert!(!open.is_empty(), "{text}");
        for status in &open {
            let age = value("accord_gov_status_age_seconds", Some(("status", status)));
            assert!((0.0..3600.0).contains(&age), "{status}: {age}\n{text}");
            assert!(aged.contains(status) || age == 0.0, "{status}\n{text}");
        }
        assert!(aged.iter().all(|s| !last.contains(&s.as_str())), "{text}");
        assert!(value("accord_storage_commit_seconds_count", None) >= 1.0);
        // Every committed height was decided, paused for and committed; some validator
        // proposed each block, so this one built or checked some of them.
        for phase in ["decide", "pause", "commit"] {
            assert!(
                value(
                    "accord_consensus_height_phase_seconds_count",
                    Some(("phase", phase))
                ) >= 1.0,
                "no {phase} phase timed:\n{text}"
            );
        }
        assert!(
            value(
                "accord_consensus_height_phase_seconds_count",
                Some(("phase", "build"))
            ) + value(
                "accord_consensus_height_phase_seconds_count",
                Some(("phase", "check"))
            ) >= 1.0
        );
        // Thirteen proposals' blocks are in the database, in memory or on disk.
        let blocks_cf = Some(("column_family", "blocks"));
        assert!(
            value("accord_storage_memtable_bytes", blocks_cf)
                + value("accord_storage_sst_bytes", blocks_cf)
                > 13.0 * 200.0
        );
        // Node 2 serves the two subscriptions still open, on one connection.
        let node2 = net.nodes[2]
            .node
            .rpc
            .trim_start_matches("http://")
            .to_owned();
        let (_, text) = get(&node2, "/metrics").await;
        let scrape =
            prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
        let gauge = |name: &str| {
            scrape
                .samples
                .iter()
                .find(|s| s.metric == name)
                .and_then(|s| match s.value {
                    prometheus_parse::Value::Gauge(v) | prometheus_parse::Value::Untyped(v) => {
                        Some(v)
                    }
                    _ => None,
                })
        };
        assert_eq!(gauge("accord_rpc_subscriptions"), Some(2.0), "{text}");
        assert!(
            gauge("accord_rpc_connections").is_some_and(|c| c >= 1.0),
            "{text}"
        );
        drop(blocks);
        drop(sub);
    }
}
