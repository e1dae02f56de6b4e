//! Multi-process tests: real `accord run` processes, RocksDB on disk, libp2p over
//! loopback. They run one at a time (nextest group `multi-process`).

use std::time::Duration;

use accord_rpc::{ChainApiClient, GovApiClient};

use accord_tests::net::Net;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_validators_in_two_regions_finalize_the_same_chain() {
    let mut net = Net::new(4, 2);
    net.start_all();
    for i in 0..4 {
        net.wait_height(i, 50, Duration::from_secs(240)).await;
    }
    for height in 1..=50 {
        let first = net.block(0, height).await;
        for i in 1..4 {
            assert_eq!(
                net.block(i, height).await,
                first,
                "node {i} at height {height}"
            );
        }
    }
    // Each says that its keys are the local network's public ones.
    for i in 0..4 {
        let log = net.log(i);
        for purpose in ["consensus", "p2p"] {
            assert!(
                log.contains(&format!(
                    "the {purpose} key is the localnet preset's, derived from a public label"
                )),
                "node {i} did not warn about its public {purpose} key"
            );
        }
    }
    // A graceful stop exits cleanly.
    for i in 0..4 {
        assert!(
            net.stop(i).success(),
            "node {i}:\n{}",
            accord_tests::net::tail(&net.log(i), 30)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_region_proposal_is_approved_by_votes_through_every_node() {
    let mut net = Net::new(4, 2);
    net.start_all();
    net.wait_height(0, 2, Duration::from_secs(120)).await;
    // The example draft of the README, through the real command line (which fills in
    // the payload digest the example leaves out).
    let draft = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/examples/draft-documentation.json"
    );
    // A node admits a vote only once it holds the proposal: the voters' nodes are
    // waited for, as a client failing over to another node would.
    let proposed_at = net.propose_with_cli("author", draft);
    for i in 1..4 {
        net.wait_height(i, proposed_at, Duration::from_secs(60))
            .await;
    }
    // Votes through the other nodes, each voter through a different one.
    for (i, (voter, region)) in [
        ("eu-voter-1", "eu"),
        ("eu-voter-2", "eu"),
        ("us-voter-1", "us"),
        ("us-voter-2", "us"),
    ]
    .into_iter()
    .enumerate()
    {
        let rpc = net.nodes[1 + i % 3].node.rpc.clone();
        let vote = accord_node::client::TxAction::Vote {
            proposal: 1,
            region: region.into(),
            choice: accord_types::governance::VoteChoice::Yes,
        };
        assert!(
            accord_node::client::send(&rpc, &net.key(voter), &vote, true)
                .await
                .unwrap()
        );
    }
    // Every node reports the same status once voting has closed.
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    loop {
        let mut statuses = Vec::new();
        for i in 0..4 {
            let view = net
                .client(i)
                .api()
                .proposal(accord_types::ProposalId(1))
                .await
                .unwrap();
            let view = serde_json::to_value(view).unwrap();
            statuses.push(
                view["state"]["status"]["status"]
                    .as_str()
                    .unwrap_or("?")
                    .to_owned(),
            );
        }
        let first = statuses[0].clone();
        if first != "voting" && statuses.iter().all(|s| *s == first) {
            // Approved, then queued for execution once the (zero) enactment delay passes.
            assert!(
                ["approved", "queued", "executing"].contains(&first.as_str()),
                "{statuses:?}"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "statuses did not settle: {statuses:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Submits `count` proposals through `rpc`, one after another, without waiting.
pub(crate) async fn load(
    rpc: String,
    key: std::path::PathBuf,
    draft: std::path::PathBuf,
    count: usize,
) -> usize {
    let mut accepted = 0;
    for _ in 0..count {
        let propose = accord_node::client::TxAction::Propose {
            draft: draft.clone(),
        };
        if accord_node::client::send(&rpc, &key, &propose, false)
            .await
            .unwrap_or(false)
        {
            accepted += 1;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    accepted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_validator_killed_under_load_restarts_and_catches_up_without_double_signing() {
    let mut net = Net::new(4, 2);
    net.start_all();
    net.wait_height(0, 3, Duration::from_secs(120)).await;
    let draft = net.home.join("draft.json");
    let body = accord_runtime::test_utils::documentation("ops/load.md");
    let proposal = accord_runtime::test_utils::draft(&["eu", "us"], body);
    std::fs::write(&draft, serde_json::to_string_pretty(&proposal).unwrap()).unwrap();
    let load = tokio::spawn(load(
        net.nodes[0].node.rpc.clone(),
        net.key("author"),
        draft,
        40,
    ));
    tokio::time::sleep(Duration::from_millis(500)).await;
    net.kill(3);
    // The other three keep finalizing.
    let at_kill = net.height(0).await.unwrap();
    for i in 0..3 {
        net.wait_height(i, at_kill + 15, Duration::from_secs(120))
            .await;
    }
    assert!(load.await.unwrap() > 0, "no transaction was accepted");
    // The killed node restarts, catches up and follows.
    net.start(3);
    let target = net.height(0).await.unwrap() + 5;
    net.wait_height(3, target, Duration::from_secs(120)).await;
    for height in [at_kill, at_kill + 10, target] {
        assert_eq!(
            net.block(3, height).await,
            net.block(0, height).await,
            "height {height}"
        );
    }
    // Nobody saw two different votes from one validator, and the restarted one never
    // tried to sign one.
    for i in 0..4 {
        net.assert_no_double_signing(i);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_two_of_four_stopped_the_chain_halts_and_resumes_after_restart() {
    let mut net = Net::new(4, 2);
    net.start_all();
    net.wait_height(0, 3, Duration::from_secs(120)).await;
    assert!(net.stop(2).success());
    assert!(net.stop(3).success());
    // Let the survivors finish what was in flight, then they must stand still.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let halted = net.height(0).await.unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(net.height(0).await.unwrap(), halted, "no quorum, no blocks");
    assert_eq!(net.height(1).await.unwrap(), halted);
    net.start(2);
    net.start(3);
    for i in 0..4 {
        net.wait_height(i, halted + 5, Duration::from_secs(120))
            .await;
    }
    for height in 1..=halted + 5 {
        let first = net.block(0, height).await;
        for i in 1..4 {
            assert_eq!(
                net.block(i, height).await,
                first,
                "node {i} at height {height}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_validator_added_by_governance_joins_and_votes() {
    use accord_types::governance::{
        InfrastructureChange, InfrastructureChangeKind, ProposalBody, ValidatorChange, VoteChoice,
    };
    let limit = Duration::from_secs(180);
    let mut net = Net::new(4, 2);
    net.start_all();
    net.wait_height(0, 2, limit).await;

    // A fifth validator, not in the spec: `init --join` generates its keys.
    let (p2p_port, rpc_port) = net.ports_for(4);
    let home = net.home.join("nodes").join("eu-3");
    let out = accord_tests::accord()
        .args(["init", "--spec"])
        .arg(net.home.join("spec.json"))
        .args(["--validator", "eu-3", "--home"])
        .arg(&home)
        .args(["--join", "--region", "eu", "--p2p-listen"])
        .arg(format!("/ip4/127.0.0.1/tcp/{p2p_port}"))
        .arg("--rpc-listen")
        .arg(format!("127.0.0.1:{rpc_port}"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", accord_tests::stderr(&out));
    assert!(accord_tests::stdout(&out).contains("joins through governance"));
    let validator: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(home.join("validator.json")).unwrap())
            .unwrap();
    let key = validator["consensus_key"].as_str().unwrap().to_owned();
    let joiner = net.add(accord_node::localnet::LocalNode {
        name: "eu-3".into(),
        region: "eu".into(),
        home: home.clone(),
        rpc: format!("http://127.0.0.1:{rpc_port}"),
    });
    net.start(joiner);
    // Not a validator yet: it runs, but nobody lets it in, while the others finalize.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while net.height(joiner).await.is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the joiner's RPC never answered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let now = net.height(0).await.unwrap();
    net.wait_height(0, now + 5, Duration::from_secs(120)).await;
    assert_eq!(net.height(joiner).await, Some(0));
    assert_eq!(net.client(joiner).status().await.unwrap().peers, 0);

    // The architecture change that adds it, approved by both regions' voters.
    let body = ProposalBody::InfrastructureChange(InfrastructureChange {
        change: InfrastructureChangeKind::ArchitectureChange,
        resources: vec!["validator eu-3".into()],
        validator_updates: vec![ValidatorChange::Add {
            validator: serde_json::from_value(validator).unwrap(),
        }],
    });
    let draft = net.home.join("add-eu-3.json");
    let proposal = accord_runtime::test_utils::draft(&["eu", "us"], body);
    std::fs::write(&draft, serde_json::to_string_pretty(&proposal).unwrap()).unwrap();
    let rpc = net.nodes[0].node.rpc.clone();
    let propose = accord_node::client::TxAction::Propose { draft };
    assert!(
        accord_node::client::send(&rpc, &net.key("author"), &propose, true)
            .await
            .unwrap()
    );
    for voter in ["eu-voter-1", "eu-voter-2", "us-voter-1", "us-voter-2"] {
        let vote = accord_node::client::TxAction::Vote {
            proposal: 1,
            region: voter[..2].into(),
            choice: VoteChoice::Yes,
        };
        assert!(
            accord_node::client::send(&rpc, &net.key(voter), &vote, true)
                .await
                .unwrap()
        );
    }

    // Once the change takes effect the others let it in; it catches up and its
    // precommits appear in the certificates.
    let deadline = std::time::Instant::now() + limit;
    let signed_at = loop {
        assert!(
            std::time::Instant::now() < deadline,
            "the new validator never signed a certificate; its log:\n{}",
            accord_tests::net::tail(&net.log(joiner), 40)
        );
        let height = net.height(0).await.unwrap();
        let block = net
            .client(0)
            .api()
            .block(accord_types::Height(height).into())
            .await
            .unwrap();
        let block = serde_json::to_value(block).unwrap();
        let signers: Vec<&str> = block["block"]["last_commit"]["signatures"]
            .as_array()
            .map(|s| s.iter().filter_map(|s| s["validator"].as_str()).collect())
            .unwrap_or_default();
        if signers.contains(&key.as_str()) {
            break height;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    // It takes the live height within a few blocks of joining the set: block sync
    // brings it to the head and, once consensus hears the chain past it, the last
    // block too, rather than leaving it a block or two behind for good.
    let mut joined = signed_at;
    while joined > 1 {
        let set = net
            .client(0)
            .api()
            .validators(Some(accord_types::Height(joined - 1)))
            .await
            .unwrap();
        let keys = serde_json::to_string(&set).unwrap();
        if !keys.contains(&key) {
            break;
        }
        joined -= 1;
    }
    assert!(
        signed_at - joined <= 20,
        "in the set from height {joined}, first in a certificate at {signed_at}"
    );
    net.wait_height(joiner, signed_at + 3, limit).await;
    for height in [1, signed_at - 1, signed_at, signed_at + 3] {
        assert_eq!(
            net.block(joiner, height).await,
            net.block(0, height).await,
            "height {height}"
        );
    }
    for i in 0..5 {
        net.assert_no_double_signing(i);
    }
}

/// A block that carries transactions is followed at once when all four precommits are
/// in; an empty one waits out the commit pause (5 s here), so an idle chain keeps its
/// pace. Read from the blocks' timestamps, which their proposers set as they build.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_with_transactions_skips_the_commit_pause_and_an_empty_one_keeps_it() {
    const PAUSE: u64 = 5_000;
    let mut net = Net::new(4, 2);
    net.edit_spec(|spec| spec["consensus"]["timeouts"]["commit_ms"] = PAUSE.into());
    net.start_all();
    net.wait_height(0, 2, Duration::from_secs(120)).await;
    let draft = net.home.join("draft.json");
    let proposal = accord_runtime::test_utils::draft(
        &["eu"],
        accord_runtime::test_utils::documentation("ops/pause.md"),
    );
    std::fs::write(&draft, serde_json::to_string_pretty(&proposal).unwrap()).unwrap();
    let propose = accord_node::client::TxAction::Propose { draft };
    let rpc = net.nodes[0].node.rpc.clone();
    assert!(
        accord_node::client::send(&rpc, &net.key("author"), &propose, true)
            .await
            .unwrap()
    );
    let api = net.client(0);
    let block = |height: u64| {
        let api = &api;
        async move {
            api.api()
                .block(accord_types::Height(height).into())
                .await
                .unwrap()
                .unwrap()
                .block
        }
    };
    let head = net.height(0).await.unwrap();
    let mut busy = None;
    for height in 1..=head {
        if !block(height).await.transactions.is_empty() {
            busy = Some(height);
        }
    }
    let busy = busy.expect("the proposal's block");
    net.wait_height(0, busy + 3, Duration::from_secs(120)).await;
    let gap = |a: &accord_types::Block, b: &accord_types::Block| {
        b.header.timestamp.0 - a.header.timestamp.0
    };
    let (with_txs, after) = (block(busy).await, block(busy + 1).await);
    assert!(
        gap(&with_txs, &after) < PAUSE,
        "height {} came {} ms after the block with transactions",
        busy + 1,
        gap(&with_txs, &after)
    );
    // The blocks after it are empty: each waits the pause out.
    let next = block(busy + 2).await;
    assert!(after.transactions.is_empty());
    assert!(
        gap(&after, &next) >= PAUSE,
        "height {} came {} ms after an empty block",
        busy + 2,
        gap(&after, &next)
    );
    for height in busy - 1..=busy + 2 {
        let signers = block(height + 1)
            .await
            .last_commit
            .map_or(0, |c| c.signatures.len());
        assert_eq!(signers, 4, "the certificate of height {height}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_stuck_behind_a_nonce_gap_is_answered_with_the_reason() {
    let mut net = Net::new(4, 2);
    for node in &net.nodes {
        let config = node.node.home.join("config.toml");
        let text = std::fs::read_to_string(&config).unwrap();
        let edited = text.replace("max_pending_blocks = 1000", "max_pending_blocks = 20");
        assert_ne!(edited, text, "{text}");
        std::fs::write(&config, edited).unwrap();
    }
    net.start_all();
    net.wait_height(0, 2, Duration::from_secs(120)).await;

    // The author's next nonce is n; a proposal signed with n + 3 waits for n + 1 and
    // n + 2, which never come.
    let author = accord_node::keyfile::read(&net.key("author")).unwrap();
    let api = net.client(0);
    let status = api.api().status().await.unwrap();
    let next = api.api().account(author.public()).await.unwrap().nonce;
    let mut draft = accord_runtime::test_utils::draft(
        &["eu"],
        accord_runtime::test_utils::documentation("ops/gap.md"),
    );
    draft.description = "waits for nonces that never come".into();
    let tx = accord_types::Transaction::sign(
        &author,
        status.chain_id,
        accord_types::Nonce(next + 3),
        accord_types::Payload::SubmitProposal {
            draft: Box::new(draft),
        },
    );
    let hex = accord_types::codec::hex_encode(&tx.encode());
    let hash = api.api().submit_transaction(hex).await.unwrap();
    assert_eq!(hash, tx.hash());

    // Pending at first; after 20 blocks, dropped with its reason on every node.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        match api.api().transaction(hash).await.unwrap() {
            accord_rpc::types::TransactionStatus::Pending => {}
            accord_rpc::types::TransactionStatus::Dropped { code, message, .. } => {
                assert_eq!(code, accord_types::ErrorCode::BadNonce);
                assert!(
                    message.contains(&format!("for the account's nonce {next}")),
                    "{message}"
                );
                break;
            }
            other => panic!("the transaction is {other:?}"),
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still pending after 120 s"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// A proposal by `author` of `net` with nonce `nonce`, encoded for `submitTransaction`.
fn proposal_with_nonce(
    net: &Net,
    chain_id: accord_types::ChainId,
    nonce: u64,
    path: &str,
) -> (String, accord_types::Hash) {
    let author = accord_node::keyfile::read(&net.key("author")).unwrap();
    let mut draft =
        accord_runtime::test_utils::draft(&["eu"], accord_runtime::test_utils::documentation(path));
    draft.description = format!("documents {path}");
    let tx = accord_types::Transaction::sign(
        &author,
        chain_id,
        accord_types::Nonce(nonce),
        accord_types::Payload::SubmitProposal {
            draft: Box::new(draft),
        },
    );
    (accord_types::codec::hex_encode(&tx.encode()), tx.hash())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_transaction_survives_a_restart_of_its_node() {
    let mut net = Net::new(4, 2);
    net.start_all();
    net.wait_height(0, 2, Duration::from_secs(120)).await;
    let api = net.client(0);
    let chain_id = api.api().status().await.unwrap().chain_id;
    let author = accord_node::keyfile::read(&net.key("author"))
        .unwrap()
        .public();
    let next = api.api().account(author).await.unwrap().nonce;

    // Nonce next + 1 waits in the pool for nonce next.
    let (later, later_hash) = proposal_with_nonce(&net, chain_id.clone(), next + 1, "ops/later.md");
    api.api().submit_transaction(later).await.unwrap();
    assert_eq!(
        api.api().transaction(later_hash).await.unwrap(),
        accord_rpc::types::TransactionStatus::Pending
    );

    // The node stops and starts again: it still holds the transaction.
    assert!(
        net.stop(0).success(),
        "{}",
        accord_tests::net::tail(&net.log(0), 30)
    );
    net.start(0);
    let height = net.height(1).await.unwrap();
    net.wait_height(0, height, Duration::from_secs(120)).await;
    assert_eq!(
        net.client(0).api().transaction(later_hash).await.unwrap(),
        accord_rpc::types::TransactionStatus::Pending,
        "{}",
        accord_tests::net::tail(&net.log(0), 30)
    );
    assert!(net.log(0).contains("mempool restored from its journal"));

    // The missing nonce arrives: both are finalized.
    let (first, first_hash) = proposal_with_nonce(&net, chain_id, next, "ops/first.md");
    net.client(0).api().submit_transaction(first).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    for hash in [first_hash, later_hash] {
        loop {
            let status = net.client(0).api().transaction(hash).await.unwrap();
            if matches!(
                status,
                accord_rpc::types::TransactionStatus::Finalized { .. }
            ) {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{status:?}");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
}
