//! The explorer (`/explorer`) in a real browser against a running network.

mod slow {
    //! A network of real `accord` processes with a deploy agent per region, a proposal
    //! voted through and executed in both regions, then `tests/browser/explorer.py`
    //! driving headless Chromium over the explorer's pages.

    use std::process::Command;
    use std::time::{Duration, Instant};

    use accord_rpc::GovApiClient;
    use accord_types::{Domain, Hash};

    use accord_tests::agent::AgentProc;
    use accord_tests::net::Net;

    /// BLAKE3 vectors the page's own implementation must reproduce: domain-separated
    /// hashes (as the proofs use them) of inputs `i % 251` of lengths around the block and
    /// chunk boundaries, computed here by the `blake3` crate.
    fn vectors() -> serde_json::Value {
        let lengths = [
            0usize, 1, 63, 64, 65, 1023, 1024, 1025, 2048, 3073, 8193, 70_000,
        ];
        let vectors: Vec<serde_json::Value> = lengths
            .iter()
            .flat_map(|&len| {
                let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
                ["accord/receipt", "accord/merkle-node", ""].map(|tag| {
                    serde_json::json!({
                        "tag": tag,
                        "len": len,
                        "hash": Hash::digest(Domain::new(tag), &data).to_string(),
                    })
                })
            })
            .collect();
        serde_json::Value::Array(vectors)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_explorer_shows_the_chain_live_and_verifies_proofs_in_a_browser() {
        let started = Instant::now();
        let mut net = Net::new(4, 2);
        net.start_all();
        net.wait_height(0, 2, Duration::from_secs(120)).await;
        // Each region's agent runs the change: it writes a file and reports success.
        let action = r#"
[actions.default]
command = ["/bin/sh", "-c", "echo $ACCORD_REGION phase $ACCORD_PHASE >> deployed"]
"#;
        let mut agents: Vec<AgentProc> = [("eu", 0), ("us", 1)]
            .into_iter()
            .map(|(region, node)| {
                AgentProc::new(&net, &net.home.join(region), region, &[node], action)
            })
            .collect();
        for agent in &mut agents {
            agent.start();
        }

        // The README's example draft, proposed and voted through by every voter.
        let draft = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../docs/examples/draft-documentation.json"
        );
        net.propose_with_cli("author", draft);
        for (voter, region) in [
            ("eu-voter-1", "eu"),
            ("eu-voter-2", "eu"),
            ("us-voter-1", "us"),
            ("us-voter-2", "us"),
        ] {
            let vote = accord_node::client::TxAction::Vote {
                proposal: 1,
                region: region.into(),
                choice: accord_types::governance::VoteChoice::Yes,
            };
            assert!(accord_node::client::send(
                &net.nodes[0].node.rpc,
                &net.key(voter),
                &vote,
                true
            )
            .await
            .unwrap());
        }
        // Approved, then executed in both regions.
        let deadline = Instant::now() + Duration::from_secs(240);
        loop {
            let view = net
                .client(0)
                .api()
                .proposal(accord_types::ProposalId(1))
                .await
                .unwrap();
            let view = serde_json::to_value(view).unwrap();
            let status = view["state"]["status"]["status"].as_str().unwrap_or("?");
            if status == "succeeded" {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "not executed: {view}\neu agent:\n{}",
                accord_tests::net::tail(&agents[0].log(), 20)
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }

        let screenshots = accord_tests::target_dir().join("explorer-screenshots");
        let vectors_file = net.home.join("blake3-vectors.json");
        std::fs::write(&vectors_file, vectors().to_string()).unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/browser/explorer.py");
        let browser = Command::new(accord_tests::tool("python"))
            .arg(script)
            .args(["--url", &net.nodes[0].node.rpc, "--proposal", "1"])
            .arg("--screenshots")
            .arg(&screenshots)
            .arg("--vectors")
            .arg(&vectors_file)
            .output()
            .unwrap();
        let printed = accord_tests::stdout(&browser);
        println!("{printed}");
        assert!(
            browser.status.success(),
            "the browser checks failed:\n{printed}{}\nnode log:\n{}",
            accord_tests::stderr(&browser),
            accord_tests::net::tail(&net.log(0), 20)
        );
        assert!(printed.contains("every check passed"), "{printed}");
        println!(
            "the explorer's screenshots are in {} ({:.0} s in all)",
            screenshots.display(),
            started.elapsed().as_secs_f64()
        );
    }
}
