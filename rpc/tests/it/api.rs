//! Every method over HTTP with the generated client, and bad parameters by hand.

use accord_rpc::methods::METHODS;
use accord_rpc::types::{BlockId, EventFilter, ProposalFilter, TransactionStatus, MAX_BLOCK_RANGE};
use accord_rpc::{ChainApiClient, GovApiClient, MetaApiClient, RpcApi, SystemApiClient};
use accord_runtime::test_utils::{documentation, draft, key, region};
use accord_types::codec::hex_encode;
use accord_types::governance::{ProposalKind, VoteChoice};
use accord_types::{Event, Hash, Height, Payload, ProposalId};
use serde_json::json;

use crate::{raw, Fixture};

/// A documentation proposal for eu.
pub fn submit_payload(path: &str) -> Payload {
    submit(path, &["eu"])
}

fn submit(path: &str, regions: &[&str]) -> Payload {
    Payload::SubmitProposal {
        draft: Box::new(draft(regions, documentation(path))),
    }
}

fn vote(id: u64, voter: &str, choice: VoteChoice) -> (String, Payload) {
    let region_name = voter.split('-').next().unwrap();
    (
        voter.to_owned(),
        Payload::Vote {
            proposal: ProposalId(id),
            region: region(region_name),
            choice,
        },
    )
}

/// Two proposals (eu+us, then ap) and some votes on the first.
pub fn history(fixture: &Fixture) {
    let node = &fixture.node;
    let a = node.tx("author", submit("/docs/a.md", &["eu", "us"]));
    let b = node.tx("author", submit("/docs/b.md", &["ap"]));
    node.commit(&[a, b]);
    let votes: Vec<_> = [
        vote(1, "eu-voter-1", VoteChoice::Yes),
        vote(1, "eu-voter-2", VoteChoice::No),
        vote(1, "us-voter-1", VoteChoice::Yes),
    ]
    .into_iter()
    .map(|(voter, payload)| node.tx(&voter, payload))
    .collect();
    node.commit(&votes);
    node.commit(&[]);
}

#[test]
fn the_method_table_is_what_the_server_registers() {
    let fixture_node = accord_rpc::memory::MemoryNode::new(4);
    let module = RpcApi::new(fixture_node.backend(), Default::default()).into_module();
    let mut registered: Vec<&str> = module.method_names().collect();
    registered.sort_unstable();
    let mut table: Vec<&str> = METHODS.iter().map(|m| m.name).collect();
    table.sort_unstable();
    assert_eq!(registered, table);
}

#[test]
fn the_openrpc_document_in_docs_is_the_one_served() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openrpc.json");
    let served = serde_json::to_string_pretty(&accord_rpc::methods::openrpc()).unwrap() + "\n";
    if std::env::var_os("ACCORD_WRITE_OPENRPC").is_some() {
        std::fs::write(path, &served).unwrap();
    }
    let stored = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        stored == served,
        "docs/openrpc.json differs from the served document; \
         ACCORD_WRITE_OPENRPC=1 cargo test -p accord-rpc writes it"
    );
}

#[tokio::test]
async fn every_read_method_answers_over_http() {
    let fixture = Fixture::new().await;
    history(&fixture);
    let client = fixture.http();

    // system_* and rpc_*
    let health = client.health().await.unwrap();
    assert!(health.healthy);
    assert_eq!(health.height, Height(3));
    let version = client.version().await.unwrap();
    assert_eq!(version.chain_id, fixture.node.chain_id());
    assert!(client.peers().await.unwrap().is_empty());
    let sync = client.sync_state().await.unwrap();
    assert_eq!((sync.current, sync.highest), (Height(3), Height(3)));
    let methods = client.methods().await.unwrap();
    assert_eq!(methods.len(), METHODS.len());
    assert!(methods.contains(&"gov_subscribeEvents".to_owned()));
    let document = client.discover().await.unwrap();
    assert_eq!(document["methods"].as_array().unwrap().len(), METHODS.len());

    // chain_*
    let status = client.status().await.unwrap();
    assert_eq!(status.height, Height(3));
    let by_height = client
        .block(BlockId::Height(Height(1)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_height.block.transactions.len(), 2);
    let by_hash = client
        .block(BlockId::Hash(by_height.hash))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_hash, by_height);
    assert_eq!(
        client.block(BlockId::Height(Height(4))).await.unwrap(),
        None
    );
    assert_eq!(
        client.block(BlockId::Height(Height(0))).await.unwrap(),
        None
    );
    assert_eq!(client.block(BlockId::Hash(Hash::ZERO)).await.unwrap(), None);
    let range = client.block_range(Height(2), Height(9)).await.unwrap();
    assert_eq!(
        range
            .iter()
            .map(|b| b.block.header.height)
            .collect::<Vec<_>>(),
        vec![Height(2), Height(3)]
    );
    let header = client
        .header(BlockId::Height(Height(2)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(header.hash, range[0].hash);
    let certificate = client
        .certificate(BlockId::Height(Height(2)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(certificate.block_hash, header.hash);
    certificate
        .verify_commit(
            &fixture.node.chain_id(),
            fixture.node.validators(),
            Height(2),
            &header.hash,
        )
        .unwrap();
    let receipts = client
        .receipts(BlockId::Height(Height(2)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(receipts.len(), 4, "three votes and the end of the block");
    let tx = &by_height.block.transactions[1];
    match client.transaction(tx.hash()).await.unwrap() {
        TransactionStatus::Finalized {
            height,
            index,
            transaction,
            receipt,
        } => {
            assert_eq!((height, index), (Height(1), 1));
            assert_eq!(&*transaction, tx);
            assert!(matches!(receipt.outcome, accord_types::Outcome::Success));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        client.transaction(Hash::ZERO).await.unwrap(),
        TransactionStatus::Unknown
    );
    let validators = client.validators(None).await.unwrap();
    assert_eq!(validators.height, Height(4));
    assert_eq!(validators.hash, fixture.node.validators().hash());
    let names: Vec<&str> = validators
        .regions
        .iter()
        .map(|r| r.region.as_str())
        .collect();
    assert_eq!(names, ["ap", "eu", "us"]);
    assert_eq!(validators.regions[1].validators.len(), 2);
    assert_eq!(validators.total_power.0, 40);
    assert!(client.validators(Some(Height(10))).await.is_err());

    // gov_*
    let account = client.account(key("eu-voter-1").public()).await.unwrap();
    assert_eq!((account.nonce, account.pending_nonce), (1, 1));
    let proposal = client.proposal(ProposalId(1)).await.unwrap().unwrap();
    assert_eq!(proposal.state.regions, vec![region("eu"), region("us")]);
    assert_eq!(client.proposal(ProposalId(9)).await.unwrap(), None);
    let all = client.list_proposals(None, None, None).await.unwrap();
    assert_eq!(all.proposals.len(), 2);
    assert_eq!(all.next, None);
    let first = client.list_proposals(None, None, Some(1)).await.unwrap();
    assert_eq!(first.proposals[0].id, ProposalId(1));
    assert_eq!(first.next, Some(ProposalId(1)));
    let second = client
        .list_proposals(None, first.next, Some(1))
        .await
        .unwrap();
    assert_eq!(second.proposals[0].id, ProposalId(2));
    let ap = ProposalFilter {
        region: Some(region("ap")),
        ..Default::default()
    };
    let only_ap = client.list_proposals(Some(ap), None, None).await.unwrap();
    assert_eq!(
        only_ap.proposals.iter().map(|p| p.id).collect::<Vec<_>>(),
        [ProposalId(2)]
    );
    let roadmaps = ProposalFilter {
        kind: Some(ProposalKind::RoadmapChange),
        ..Default::default()
    };
    assert!(client
        .list_proposals(Some(roadmaps), None, None)
        .await
        .unwrap()
        .proposals
        .is_empty());
    let tally = client.tally(ProposalId(1)).await.unwrap().unwrap();
    let eu = &tally
        .regions
        .iter()
        .find(|r| r.region == region("eu"))
        .unwrap();
    assert_eq!((eu.tally.yes, eu.tally.no, eu.voters), (1, 1, 3));
    assert!(!tally.passing);
    assert!(eu.quorum_reached || eu.votes_missing_for_quorum > 0);
    let params = client.params().await.unwrap();
    assert_eq!(params.height, Height(3));

    let events = client.events(None, None, Some(1000)).await.unwrap();
    assert!(events.complete);
    let votes: Vec<_> = events
        .events
        .iter()
        .filter(|e| matches!(e.event, Event::VoteCast { .. }))
        .collect();
    assert_eq!(votes.len(), 3);
    assert!(votes.iter().all(|v| v.transaction.is_some()));
    let eu_votes = EventFilter {
        types: Some(vec!["vote_cast".into()]),
        regions: Some(vec![region("eu")]),
        ..Default::default()
    };
    let page = client
        .events(Some(eu_votes.clone()), None, Some(1))
        .await
        .unwrap();
    assert_eq!(page.events.len(), 1);
    assert!(!page.complete);
    let rest = client
        .events(Some(eu_votes), page.next, None)
        .await
        .unwrap();
    assert_eq!(rest.events.len(), 1);
    assert!(rest.complete);
    assert!(rest.events[0].cursor > page.events[0].cursor);
}

#[tokio::test]
async fn a_submitted_transaction_is_pending_and_then_finalized() {
    let fixture = Fixture::new().await;
    let client = fixture.http();
    let tx = fixture.node.tx("author", submit("/docs/c.md", &["eu"]));
    let hash = client
        .submit_transaction(hex_encode(&tx.encode()))
        .await
        .unwrap();
    assert_eq!(hash, tx.hash());
    assert_eq!(
        client.transaction(hash).await.unwrap(),
        TransactionStatus::Pending
    );
    let account = client.account(key("author").public()).await.unwrap();
    assert_eq!((account.nonce, account.pending_nonce), (0, 1));
    fixture.node.commit(&[]);
    assert!(matches!(
        client.transaction(hash).await.unwrap(),
        TransactionStatus::Finalized {
            height: Height(1),
            index: 0,
            ..
        }
    ));
}

/// Bad parameters: each answer's code and the words its message must hold.
#[tokio::test]
async fn bad_parameters_are_refused_with_what_was_wrong() {
    let fixture = Fixture::new().await;
    history(&fixture);
    let addr = fixture.addr;
    let cases: Vec<(&str, String, i64, &[&str])> = vec![
        (
            "chain_getBlock",
            json!([-1]).to_string(),
            -32602,
            &["non-negative"],
        ),
        (
            "chain_getBlock",
            json!([1.5]).to_string(),
            -32602,
            &["non-negative"],
        ),
        (
            "chain_getBlock",
            json!([true]).to_string(),
            -32602,
            &["height", "block hash"],
        ),
        (
            "chain_getBlock",
            json!(["0x12"]).to_string(),
            -32602,
            &["not a block hash"],
        ),
        (
            "chain_getBlock",
            json!([1, 2]).to_string(),
            -32602,
            &["takes 1 parameter"],
        ),
        (
            "chain_getBlock",
            json!([]).to_string(),
            -32602,
            &["missing parameter id"],
        ),
        (
            "chain_getBlock",
            json!({"height": 1}).to_string(),
            -32602,
            &["no parameter \"height\""],
        ),
        (
            "chain_getBlock",
            "[18446744073709551616]".to_owned(),
            -32602,
            &["chain_getBlock"],
        ),
        (
            "chain_getBlockRange",
            json!([5, 2]).to_string(),
            -32602,
            &["reversed"],
        ),
        (
            "chain_getBlockRange",
            format!("[1, {}]", 1 + MAX_BLOCK_RANGE),
            -32602,
            &["at most 100"],
        ),
        (
            "chain_getBlockRange",
            json!([0, 3]).to_string(),
            -32602,
            &["start at 1"],
        ),
        (
            "chain_getTransaction",
            json!(["xyz"]).to_string(),
            -32602,
            &["chain_getTransaction"],
        ),
        (
            "chain_getValidators",
            json!([0]).to_string(),
            -32602,
            &["start at 1"],
        ),
        (
            "chain_getValidators",
            json!([99]).to_string(),
            -32021,
            &["no validator set"],
        ),
        (
            "gov_getAccount",
            json!(["not a key"]).to_string(),
            -32602,
            &["gov_getAccount"],
        ),
        (
            "gov_getProposal",
            json!(["one"]).to_string(),
            -32602,
            &["gov_getProposal"],
        ),
        (
            "gov_getProposal",
            json!([-1]).to_string(),
            -32602,
            &["gov_getProposal"],
        ),
        (
            "gov_listProposals",
            json!([{"status": "sleeping"}]).to_string(),
            -32602,
            &["unknown status"],
        ),
        (
            "gov_listProposals",
            json!([{"colour": "red"}]).to_string(),
            -32602,
            &["colour"],
        ),
        (
            "gov_listProposals",
            json!([null, null, 0]).to_string(),
            -32602,
            &["between 1 and 1000"],
        ),
        (
            "gov_listProposals",
            json!([null, null, 1001]).to_string(),
            -32602,
            &["between 1 and 1000"],
        ),
        (
            "gov_getEvents",
            json!([{"types": ["exploded"]}]).to_string(),
            -32602,
            &["unknown event type"],
        ),
        (
            "gov_getEvents",
            json!([null, "12"]).to_string(),
            -32602,
            &["cursor"],
        ),
        (
            "gov_getEvents",
            json!([null, "a:b:c"]).to_string(),
            -32602,
            &["cursor"],
        ),
        (
            "gov_getEvents",
            json!([null, "999:0:0"]).to_string(),
            -32021,
            &["beyond the chain"],
        ),
        (
            "gov_getEventProof",
            json!(["1:0:9"]).to_string(),
            -32021,
            &["no event at cursor"],
        ),
        (
            "gov_getEventProof",
            json!(["1:7:0"]).to_string(),
            -32021,
            &["no event at cursor"],
        ),
        (
            "gov_getStateProof",
            json!([{"record": "treasure"}]).to_string(),
            -32602,
            &["gov_getStateProof"],
        ),
        (
            "gov_submitTransaction",
            json!(["zz"]).to_string(),
            -32602,
            &["not 0x-hex"],
        ),
        (
            "gov_submitTransaction",
            json!([42]).to_string(),
            -32602,
            &["gov_submitTransaction"],
        ),
        (
            "system_health",
            json!([1]).to_string(),
            -32602,
            &["takes 0 parameter"],
        ),
        (
            "chain_frobnicate",
            json!([]).to_string(),
            -32601,
            &["not found"],
        ),
    ];
    let mut bad = Vec::new();
    for (method, params, code, words) in &cases {
        match raw(addr, method, Some(params)).await {
            Ok(result) => bad.push(format!("{method} {params}: accepted: {result}")),
            Err(error) => {
                let message = error["message"].as_str().unwrap_or_default();
                if error["code"] != json!(code) || !words.iter().all(|w| message.contains(w)) {
                    bad.push(format!("{method} {params}: {error}"));
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {} cases wrong:\n{}",
        bad.len(),
        cases.len(),
        bad.join("\n")
    );
}
