//! `loadgen` against a real local network: four `accord run` processes started by
//! `accord localnet`, RocksDB on disk, libp2p on loopback.

mod slow {
    use std::collections::BTreeSet;
    use std::time::Duration;

    use accord_benches::loadgen::{self, status_name, Config, Target};
    use accord_node::client::Client;
    use accord_rpc::GovApiClient;
    use accord_tests::localnet::Localnet;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn loadgen_finalizes_every_transaction_and_its_proposals_are_approved() {
        let mut net = Localnet::start(4, 2, &[]);
        // localnet writes the home before it starts the nodes.
        net.wait_home().await;
        let target = Target::from_home(&net.home).unwrap();
        assert_eq!(target.rpc.len(), 4);
        net.wait_height(&target.rpc, 2, Duration::from_secs(120))
            .await;

        let mut config = Config::new(target.clone());
        config.warmup = Duration::from_secs(2);
        config.duration = Duration::from_secs(8);
        config.drain = Duration::from_secs(60);
        // Two regions make a medium-tier proposal: voting closes 40 blocks after it opens.
        config.await_decisions = Some(Duration::from_secs(120));
        let report = loadgen::run(&config).await.unwrap();
        println!("{report}");

        // Load went through.
        assert!(report.window.finalized > 0, "{report}");
        assert!(report.window.tx_per_s > 0.0, "{report}");
        assert!(report.latency.is_some(), "{report}");
        assert!(report.proposals_created > 0, "{report}");
        // Nothing lost: every accepted transaction was finalized; a refused one that was
        // given up is counted under its code.
        if report.lost() != 0 {
            let mut heights = Vec::new();
            for url in &target.rpc {
                let status = Client::new(url).unwrap().status().await;
                heights.push(status.map(|s| s.height.0).map_err(|e| e.to_string()));
            }
            panic!(
                "{} accepted transactions lost\n{report}\nheights now: {heights:?}\n{}",
                report.lost(),
                net.diagnostics()
            );
        }
        assert_eq!(
            report.sent_proposals + report.sent_votes,
            report.finalized_proposals + report.finalized_votes + report.unresolved.late,
            "{report}"
        );
        assert!(
            report.abandoned.keys().all(|code| !code.is_empty()),
            "{report}"
        );
        assert_eq!(report.transport_errors, 0, "{report}");
        // Every finalized proposal succeeded, every proposal got its four votes (two
        // voters in each of two regions), and every vote counts in its tally.
        assert!(report.failed_receipts.is_empty(), "{report}");
        assert_eq!(
            report.proposals_created as u64, report.finalized_proposals,
            "{report}"
        );
        assert_eq!(
            report.finalized_votes,
            4 * report.proposals_created as u64,
            "{report}"
        );
        assert_eq!(report.votes_not_counted, 0, "{report}");

        // Approved: asked of another node than the one loadgen read blocks from.
        let approved: BTreeSet<&str> = ["approved", "queued", "executing"].into();
        let other = Client::new(&target.rpc[3]).unwrap();
        let mut ids = report.proposal_ids.clone();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), report.proposals_created);
        for id in ids {
            let view = other
                .api()
                .proposal(accord_types::ProposalId(id))
                .await
                .unwrap();
            let status = status_name(view.as_ref());
            assert!(
                status.as_deref().is_some_and(|s| approved.contains(s)),
                "proposal #{id} is {status:?}: {view:?}"
            );
            let yes: u64 = view
                .iter()
                .flat_map(|v| v.tallies.iter())
                .map(|(_, tally)| u64::from(tally.yes))
                .sum();
            assert_eq!(yes, 4, "proposal #{id}: {view:?}");
        }
        let decisions = report.decisions.clone().unwrap();
        assert!(
            decisions.keys().all(|s| approved.contains(s.as_str())),
            "{report}"
        );

        let status = net.interrupt(Duration::from_secs(30));
        assert!(status.success(), "{status}\n{}", net.diagnostics());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn open_loop_load_on_a_bench_network_is_finalized_counted_and_measured() {
        use accord_benches::openloop::{self, OpenConfig};

        let mut net = Localnet::start(4, 2, &["--preset", "bench"]);
        net.wait_home().await;
        let target = Target::from_home(&net.home).unwrap();
        net.wait_height(&target.rpc, 2, Duration::from_secs(120))
            .await;

        // 100 tx/s for 10 s: one vote from each of the 1,000 voters, so every vote
        // finalized must count once in a tally.
        let mut config = OpenConfig::new(target.clone(), 100.0);
        config.home = Some(net.home.clone());
        config.warmup = Duration::from_secs(2);
        config.duration = Duration::from_secs(8);
        config.drain = Duration::from_secs(60);
        config.proposals = 4;
        let report = openloop::run(&config).await.unwrap();
        println!("{report}");

        assert_eq!(report.accounts, 1000, "{report}");
        assert_eq!(report.validators, 4, "{report}");
        assert_eq!(report.scheduled, 800, "{report}");
        assert!((report.offered_tps - 100.0).abs() < 1e-9, "{report}");
        assert_eq!(report.accepted, 1000, "{report}");
        assert!(report.refused.is_empty(), "{report}");
        assert_eq!(report.unanswered, 0, "{report}");
        assert_eq!(report.lost, 0, "{report}\n{}", net.diagnostics());
        assert_eq!(report.foreign, 0, "{report}");
        let latency = report.latency.unwrap();
        assert_eq!(latency.count, 800, "{report}");
        assert!(latency.p50_ms <= latency.p99_ms, "{report}");
        // Everything scheduled was finalized; the window's throughput is the offer's,
        // give or take the blocks at its edges.
        assert!(
            report.finalized_tps > 50.0 && report.finalized_tps < 150.0,
            "{report}"
        );
        assert!(
            report.heights > 0 && report.txs_per_block_max > 0,
            "{report}"
        );
        assert!(report.signature_limit.per_signature_us > 0.0, "{report}");
        assert!(
            report.signature_limit.limit_tps > report.finalized_tps,
            "{report}"
        );
        let names: Vec<&str> = report.node_costs.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["eu-1", "eu-2", "us-1", "us-2"], "{report}");
        for cost in &report.node_costs {
            assert!(cost.cores > 0.0 && cost.peak_rss_mib > 1.0, "{report}");
        }

        // Every vote counts once, in its proposal's tally, as read from another node.
        let other = Client::new(&target.rpc[3]).unwrap();
        let mut counted = 0u64;
        for id in 1..=4 {
            let view = other
                .api()
                .proposal(accord_types::ProposalId(id))
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("proposal #{id} of the pool"));
            assert_eq!(status_name(Some(&view)).as_deref(), Some("voting"));
            counted += view
                .tallies
                .iter()
                .map(|(_, t)| {
                    u64::from(t.yes) + u64::from(t.no) + u64::from(t.abstain) + u64::from(t.veto)
                })
                .sum::<u64>();
        }
        assert_eq!(counted, 1000, "{report}");

        let status = net.interrupt(Duration::from_secs(30));
        assert!(status.success(), "{status}\n{}", net.diagnostics());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn open_loop_load_goes_on_when_a_node_left_out_of_it_is_killed() {
        use accord_benches::openloop::{self, procstat, OpenConfig};
        use accord_tests::localnet::signal;

        let mut net = Localnet::start(4, 2, &["--preset", "bench"]);
        net.wait_home().await;
        let target = Target::from_home(&net.home).unwrap();
        net.wait_height(&target.rpc, 2, Duration::from_secs(120))
            .await;
        let victim = procstat::node_processes(&net.home)
            .into_iter()
            .find(|n| n.name == "us-2")
            .unwrap();

        // us-2 gets no submissions and is killed while the load runs; the window is
        // reported in two parts.
        let mut config = OpenConfig::new(target.clone(), 100.0);
        config.home = Some(net.home.clone());
        config.warmup = Duration::from_secs(2);
        config.duration = Duration::from_secs(16);
        config.drain = Duration::from_secs(60);
        config.proposals = 4;
        config.exclude = vec!["us-2".to_owned()];
        config.splits = vec![Duration::from_secs(8)];
        let killer = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(12)).await;
            signal(victim.pid, "-KILL");
        });
        let report = openloop::run(&config).await.unwrap();
        killer.await.unwrap();
        println!("{report}");

        assert_eq!(report.nodes, 3, "{report}");
        assert_eq!(report.excluded, ["us-2"], "{report}");
        let names: Vec<Option<&str>> = report.node_names.iter().map(Option::as_deref).collect();
        assert_eq!(
            names,
            [Some("eu-1"), Some("us-1"), Some("eu-2"), Some("us-2")],
            "{report}"
        );
        // Nothing was sent to the node that died: every transaction accepted, finalized.
        assert!(report.refused.is_empty(), "{report}");
        assert_eq!(report.unanswered, 0, "{report}");
        assert_eq!(report.lost, 0, "{report}\n{}", net.diagnostics());
        assert_eq!(report.accepted, 1800, "{report}");
        // Its subscription's end was recorded, and so was its process's.
        let lost: Vec<&str> = report.nodes_lost.iter().map(|l| l.node.as_str()).collect();
        assert_eq!(lost, ["us-2"], "{report}");
        for cost in &report.node_costs {
            assert_eq!(cost.running_at_end, cost.name != "us-2", "{report}");
        }
        // The two parts cover the window.
        assert_eq!(report.parts.len(), 2, "{report}");
        assert_eq!(
            report.parts.iter().map(|p| p.scheduled).sum::<u64>(),
            report.scheduled,
            "{report}"
        );
        assert!((report.parts[0].to_s - 8.0).abs() < 1e-9, "{report}");
        for part in &report.parts {
            assert!(part.finalized_tps > 0.0 && part.heights > 0, "{report}");
            assert!(part.latency.is_some(), "{report}");
        }
        assert!(
            net.printed().contains("us-2 exited (signal: 9"),
            "{}",
            net.diagnostics()
        );

        let status = net.interrupt(Duration::from_secs(30));
        assert!(status.success(), "{status}\n{}", net.diagnostics());
    }
}
