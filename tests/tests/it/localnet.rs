//! `accord localnet` itself: a network of four `accord run` processes that goes on when
//! one of them dies.

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
        let mut net = Localnet::start(4, 2, &[]);
        net.wait_home().await;
        let target = Target::from_home(&net.home).unwrap();
        net.wait_height(&target.rpc, 2, Duration::from_secs(120))
            .await;
        let nodes = procstat::node_processes(&net.home);
        let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["eu-1", "eu-2", "us-1", "us-2"], "{nodes:?}");
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
        assert!(net.printed().contains("still running: eu-1, us-1, eu-2"));
        assert!(
            net.printed()
                .contains("start it again with: accord localnet restart us-2 --home"),
            "{}",
            net.diagnostics()
        );
        assert!(net.exited().is_none(), "{}", net.diagnostics());
        // Spec order: eu-1, us-1, eu-2, us-2; the last RPC port was us-2's.
        assert!(Client::new(&target.rpc[3]).unwrap().status().await.is_err());

        // The other three keep finalizing heights.
        let others = &target.rpc[..3];
        let mut head = 0;
        for url in others {
            let status = Client::new(url).unwrap().status().await.unwrap();
            head = head.max(status.height.0);
        }
        net.wait_height(others, head + 5, Duration::from_secs(60))
            .await;
        assert!(net.exited().is_none(), "{}", net.diagnostics());
        let left: Vec<String> = procstat::node_processes(&net.home)
            .into_iter()
            .map(|n| n.name)
            .collect();
        assert_eq!(left, ["eu-1", "eu-2", "us-1"]);

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
        net.wait_height(&target.rpc[3..], head, Duration::from_secs(60))
            .await;
        assert!(net.printed().contains("us-2 started again"));
        let nodes = procstat::node_processes(&net.home);
        let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["eu-1", "eu-2", "us-1", "us-2"], "{nodes:?}");

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
