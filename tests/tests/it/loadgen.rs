//! `loadgen` against a real local network: four `accord run` processes started by
//! `accord localnet`, RocksDB on disk, libp2p on loopback.

mod slow {
    use std::collections::BTreeSet;
    use std::path::PathBuf;
    use std::process::{Child, Command, ExitStatus, Stdio};
    use std::time::{Duration, Instant};

    use accord_benches::loadgen::{self, status_name, Config, Target};
    use accord_node::client::Client;
    use accord_rpc::GovApiClient;

    use accord_tests::ports::{claim_ports, PortBlock, PORTS_PER_KIND};

    /// A running `accord localnet`; stopped with SIGINT, killed on drop if still running.
    struct Localnet {
        child: Option<Child>,
        home: PathBuf,
        output: PathBuf,
        _dir: tempfile::TempDir,
        _ports: PortBlock,
    }

    impl Localnet {
        fn start(validators: usize, regions: usize) -> Self {
            Self::start_with(validators, regions, &[])
        }

        fn start_with(validators: usize, regions: usize, extra: &[&str]) -> Self {
            let dir = tempfile::tempdir().unwrap();
            let home = dir.path().join("net");
            let output = dir.path().join("localnet.out");
            let ports = claim_ports();
            assert!(
                validators <= PORTS_PER_KIND,
                "a block of ports holds 10 nodes"
            );
            let log = std::fs::File::create(&output).unwrap();
            let child = accord_tests::accord()
                .arg("localnet")
                .arg("--home")
                .arg(&home)
                .args(["--validators", &validators.to_string()])
                .args(["--regions", &regions.to_string()])
                .args(["--base-port", &ports.node(0).0.to_string()])
                .args(["--rpc-port", &ports.node(0).1.to_string()])
                .args(extra)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap();
            Self {
                child: Some(child),
                home,
                output,
                _dir: dir,
                _ports: ports,
            }
        }

        /// What `accord localnet` printed, and the tail of the first node's log.
        fn diagnostics(&self) -> String {
            let printed = std::fs::read_to_string(&self.output).unwrap_or_default();
            let log =
                std::fs::read_to_string(self.home.join("nodes/eu-1/node.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            format!(
                "accord localnet printed:\n{printed}\neu-1's log ends:\n{}",
                tail.join("\n")
            )
        }

        /// Waits until `accord localnet` has written the home.
        async fn wait_home(&self) {
            let deadline = Instant::now() + Duration::from_secs(60);
            while !self.home.join("localnet.json").exists() {
                assert!(Instant::now() < deadline, "{}", self.diagnostics());
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }

        /// Waits until every node has finalized `height`.
        async fn wait_height(&self, rpc: &[String], height: u64, limit: Duration) {
            let deadline = Instant::now() + limit;
            for url in rpc {
                let client = Client::new(url).unwrap();
                loop {
                    let reached = client
                        .status()
                        .await
                        .ok()
                        .is_some_and(|s| s.height.0 >= height);
                    if reached {
                        break;
                    }
                    assert!(
                        Instant::now() < deadline,
                        "{url} did not reach height {height} within {limit:?}\n{}",
                        self.diagnostics()
                    );
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }

        /// SIGINT, as Ctrl-C would; returns the exit status.
        fn interrupt(&mut self, limit: Duration) -> ExitStatus {
            let mut child = self.child.take().expect("localnet runs");
            signal(&child, "-INT");
            wait_for(&mut child, limit).unwrap_or_else(|| {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "accord localnet did not stop within {limit:?} of SIGINT\n{}",
                    self.diagnostics()
                )
            })
        }
    }

    impl Drop for Localnet {
        fn drop(&mut self) {
            // A failed test: stop the nodes through localnet if it listens, else kill it.
            if let Some(mut child) = self.child.take() {
                signal(&child, "-TERM");
                if wait_for(&mut child, Duration::from_secs(20)).is_none() {
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
        }
    }

    fn signal(child: &Child, which: &str) {
        let _ = Command::new("kill")
            .arg(which)
            .arg(child.id().to_string())
            .status();
    }

    fn wait_for(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn loadgen_finalizes_every_transaction_and_its_proposals_are_approved() {
        let mut net = Localnet::start(4, 2);
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

        let mut net = Localnet::start_with(4, 2, &["--preset", "bench"]);
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
}
