//! `accord localnet` itself, in its default shape (eight `accord run` processes, four
//! per region, the regional quorum rule): it goes on when one of them dies, says who
//! signs in each region, and starts the dead one again when asked.

mod slow {
    use std::path::Path;
    use std::process::Output;
    use std::time::{Duration, Instant};

    use accord_benches::loadgen::Target;
    use accord_benches::openloop::procstat;
    use accord_node::client::Client;
    use accord_tests::localnet::{signal, Localnet};
    use accord_tests::{accord, stderr, stdout};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_killed_node_is_reported_and_the_others_keep_finalizing() {
        const ALL: [&str; 8] = [
            "eu-1", "eu-2", "eu-3", "eu-4", "us-1", "us-2", "us-3", "us-4",
        ];
        let mut net = Localnet::start(8, 2, &["--signing-every", "1"]);
        net.wait_home().await;
        let target = Target::from_home(&net.home).unwrap();
        net.wait_height(&target.rpc, 2, Duration::from_secs(120))
            .await;
        let nodes = procstat::node_processes(&net.home);
        let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ALL, "{nodes:?}");
        assert!(
            net.printed()
                .contains(&format!("explorer: {}/explorer", target.rpc[0])),
            "{}",
            net.diagnostics()
        );
        // Every region agrees on every block, and localnet says who signs.
        net.wait_printed(
            "quorum regional: more than 2/3 of all validators' power and of each region's power",
            Duration::from_secs(30),
        )
        .await;
        net.wait_printed("· eu 4/4 signing · us 4/4 signing", Duration::from_secs(30))
            .await;
        let victim = nodes.iter().find(|n| n.name == "us-2").unwrap();
        signal(victim.pid, "-KILL");

        // localnet says which node exited and how, and goes on.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !net.printed().contains("us-2 exited (signal: 9") {
            assert!(
                Instant::now() < deadline,
                "localnet did not report the kill\n{}",
                net.diagnostics()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            net.printed()
                .contains("still running: eu-1, us-1, eu-2, eu-3, us-3, eu-4, us-4"),
            "{}",
            net.diagnostics()
        );
        assert!(
            net.printed()
                .contains("start it again with: accord localnet restart us-2 --home"),
            "{}",
            net.diagnostics()
        );
        assert!(net.exited().is_none(), "{}", net.diagnostics());
        // Spec order: eu-1, us-1, eu-2, us-2, …; the fourth RPC port is us-2's.
        assert!(Client::new(&target.rpc[3]).unwrap().status().await.is_err());

        // The other seven keep finalizing heights: three of us's four are more than
        // two thirds of the region. localnet shows us-2 absent.
        let others: Vec<String> = target
            .rpc
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 3)
            .map(|(_, url)| url.clone())
            .collect();
        let others = &others[..];
        let mut head = 0;
        for url in others {
            let status = Client::new(url).unwrap().status().await.unwrap();
            head = head.max(status.height.0);
        }
        net.wait_height(others, head + 5, Duration::from_secs(60))
            .await;
        assert!(net.exited().is_none(), "{}", net.diagnostics());
        net.wait_printed(
            "· eu 4/4 signing · us 3/4 signing (us-2 absent)",
            Duration::from_secs(30),
        )
        .await;
        // eu-1's metrics name the validator: none of its last ten certificates holds
        // us-2's precommit (what AccordValidatorMissingFromCertificates alerts on).
        let eu1 = target.rpc[0].trim_start_matches("http://").to_owned();
        wait_missed(&eu1, |missed| missed == 10.0).await;

        let left: Vec<String> = procstat::node_processes(&net.home)
            .into_iter()
            .map(|n| n.name)
            .collect();
        assert_eq!(
            left,
            ["eu-1", "eu-2", "eu-3", "eu-4", "us-1", "us-3", "us-4"]
        );

        // Restarted through the running localnet, us-2 catches up with the others.
        refused(
            &restart(&net.home, "us-9"),
            "us-9 is not a node of this network; its nodes are",
        );
        let restarted = restart(&net.home, "us-2");
        assert!(restarted.status.success(), "{}", stderr(&restarted));
        assert!(stdout(&restarted).starts_with("us-2 started again: rpc http://127.0.0.1:"));
        let mut head = 0;
        for url in others {
            let status = Client::new(url).unwrap().status().await.unwrap();
            head = head.max(status.height.0);
        }
        net.wait_height(&target.rpc[3..4], head, Duration::from_secs(60))
            .await;
        assert!(net.printed().contains("us-2 started again"));
        let nodes = procstat::node_processes(&net.home);
        let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ALL, "{nodes:?}");
        // Signing again: the report after the absent one names all four of us.
        let absent_at = net.printed().rfind("(us-2 absent)").unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !net.printed()[absent_at..].contains("· us 4/4 signing") {
            assert!(
                Instant::now() < deadline,
                "us-2 not seen signing again\n{}",
                net.diagnostics()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        wait_missed(&eu1, |missed| missed < 10.0).await;

        // Once every node has exited, localnet ends by itself, with an error.
        for node in &nodes {
            signal(node.pid, "-KILL");
        }
        let status = net.wait_exit(Duration::from_secs(30));
        assert!(!status.success(), "{status}\n{}", net.diagnostics());
        assert!(
            net.printed().contains("every node has exited"),
            "{}",
            net.diagnostics()
        );
        // With no localnet running there, a restart says so.
        refused(&restart(&net.home, "us-2"), "no `accord localnet` runs on");
    }

    /// Waits until the node at `addr` counts us-2 missing from a number of its last ten
    /// certificates that satisfies `want`; the eight validators each have a series.
    async fn wait_missed(addr: &str, want: impl Fn(f64) -> bool) {
        const FAMILY: &str = "accord_consensus_validator_missed_certificates";
        let us2 = format!("{FAMILY}{{validator=\"us-2\",region=\"us\"}}");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let body = accord_tests::http_get(addr, "/metrics").unwrap_or_default();
            let series = body.lines().filter(|l| l.starts_with(FAMILY)).count();
            let missed = accord_tests::metric(addr, &us2);
            if series == 8 && want(missed) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "us-2 missed {missed} of the last 10 certificates:\n{body}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// `accord localnet restart NAME --home HOME`.
    fn restart(home: &Path, name: &str) -> Output {
        accord()
            .args(["localnet", "restart", name, "--home"])
            .arg(home)
            .output()
            .unwrap()
    }

    fn refused(output: &Output, reason: &str) {
        assert!(!output.status.success());
        assert!(stderr(output).contains(reason), "{}", stderr(output));
    }
}
