//! Writes a seed corpus of valid encodings to `seeds/<target>/`, so the fuzzer starts
//! from values that pass the decoders instead of discovering borsh from scratch, and a
//! call of every JSON-RPC method (plus a few malformed requests) to `seeds/rpc_request/`,
//! naming the real hashes, keys and cursors of the target's chain.
//!
//! `cargo run --example seeds` (from `fuzz/`).

use std::fs;
use std::path::Path;

use accord_fuzz::{chain_id, keypairs, validators};
use accord_types::codec;
use accord_types::governance::*;
use accord_types::merkle;
use accord_types::*;

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("seeds")
        .join(target);
    fs::create_dir_all(&dir).expect("create seed dir");
    fs::write(dir.join(name), bytes).expect("write seed");
}

fn draft() -> ProposalDraft {
    ProposalDraft {
        title: "Roll out model v7".into(),
        description: "Canary first, then everyone".into(),
        regions: vec![RegionId::new("eu").unwrap(), RegionId::new("us").unwrap()],
        impact: ImpactAssessment {
            cost: 1200,
            downtime_minutes: 5,
            declared_risk: RiskLevel::Medium,
            analysis: "stateless service".into(),
        },
        dependencies: vec![ProposalId(3)],
        payload_digest: Hash::digest(Domain::PAYLOAD, b"model v7"),
        execution_mode: ExecutionMode::OnApproval,
        not_before: Some(Height(10)),
        execute_by: None,
        urgency: Urgency::Normal,
        body: ProposalBody::PipelineAction(PipelineAction {
            action: PipelineActionKind::ModelDeployment,
            pipeline: "models".into(),
            environment: "production".into(),
            artifact_digest: Hash::digest(Domain::PAYLOAD, b"artifact"),
            phases: [10, 50, 100]
                .map(|percent| RolloutPhase { percent })
                .to_vec(),
            rollback_plan: "redeploy v6".into(),
        }),
    }
}

fn main() {
    let keys = keypairs();
    let chain = chain_id();
    let eu = RegionId::new("eu").unwrap();

    let payloads = vec![
        Payload::SubmitProposal {
            draft: Box::new(draft()),
        },
        Payload::Vote {
            proposal: ProposalId(1),
            region: eu.clone(),
            choice: VoteChoice::Yes,
        },
        Payload::Cancel {
            proposal: ProposalId(2),
            reason: "superseded".into(),
        },
        Payload::Execute {
            proposal: ProposalId(1),
        },
        Payload::ClaimExecution {
            proposal: ProposalId(1),
            region: eu.clone(),
            phase: 0,
        },
        Payload::RatifyEmergency {
            proposal: ProposalId(4),
            region: eu.clone(),
            choice: VoteChoice::Veto,
        },
    ];
    let txs: Vec<Transaction> = payloads
        .into_iter()
        .enumerate()
        .map(|(i, p)| Transaction::sign(&keys[i % keys.len()], chain.clone(), Nonce(i as u64), p))
        .collect();
    for (i, tx) in txs.iter().enumerate() {
        write("transaction", &format!("tx{i}"), &tx.encode());
    }

    let block_hash = Hash::digest(Domain::HEADER, b"parent");
    let votes: Vec<Vote> = keys
        .iter()
        .map(|k| {
            Vote::sign(
                k,
                chain,
                Height(7),
                Round(1),
                VoteType::Precommit,
                Some(block_hash),
            )
        })
        .collect();
    for (i, v) in votes.iter().enumerate() {
        write("vote", &format!("vote{i}"), &codec::encode(v));
    }
    let nil = Vote::sign(
        &keys[0],
        chain,
        Height(7),
        Round(1),
        VoteType::Precommit,
        None,
    );
    write("vote", "nil", &codec::encode(&nil));

    let proposal = ConsensusProposal::sign(
        &keys[1],
        chain,
        Height(8),
        Round(2),
        Some(Round(1)),
        block_hash,
    );
    write(
        "consensus_proposal",
        "valid_round",
        &codec::encode(&proposal),
    );
    let proposal = ConsensusProposal::sign(&keys[2], chain, Height(8), Round(0), None, block_hash);
    write(
        "consensus_proposal",
        "first_round",
        &codec::encode(&proposal),
    );

    let cert = CommitCertificate::from_precommits(Height(7), Round(1), block_hash, &votes);
    assert_eq!(cert.verify(chain, validators()), Ok(()));
    write("commit_certificate", "quorum", &codec::encode(&cert));

    let evidence = Evidence::duplicate_vote(votes[0].clone(), nil.clone()).unwrap();
    assert_eq!(evidence.verify(chain, validators()), Ok(()));
    write("evidence", "duplicate", &codec::encode(&evidence));

    let mut block = Block {
        header: Header {
            chain_id: chain.clone(),
            height: Height(8),
            parent_hash: block_hash,
            timestamp: Timestamp(1_700_000_000_000),
            proposer: keys[1].public(),
            transactions_root: block::transactions_root(&txs),
            evidence_root: block::evidence_root(std::slice::from_ref(&evidence)),
            state_root: Hash::ZERO,
            receipts_root: Hash::ZERO,
            validator_set_hash: validators().hash(),
            last_commit_hash: cert.hash(),
        },
        transactions: txs.clone(),
        evidence: vec![evidence],
        last_commit: Some(cert),
    };
    assert_eq!(block.check_body(), Ok(()));
    write("block", "full", &block.encode());
    block.transactions.clear();
    block.evidence.clear();
    block.last_commit = None;
    write("block", "empty", &block.encode());

    let receipt = Receipt {
        source: ReceiptSource::Transaction {
            hash: txs[0].hash(),
        },
        outcome: Outcome::Success,
        events: vec![
            Event::ProposalSubmitted {
                proposal: ProposalId(1),
                kind: ProposalKind::PipelineAction,
                tier: RiskLevel::High,
                regions: vec![eu.clone()],
                voting_ends: Height(100),
            },
            Event::StatusChanged {
                proposal: ProposalId(1),
                status: ProposalStatus::Executing { phase: 1 },
                reason: "phase advanced".into(),
            },
        ],
    };
    write("receipt", "submitted", &codec::encode(&receipt));
    let failed = Receipt {
        source: ReceiptSource::EndOfBlock,
        outcome: Outcome::Failed {
            code: receipt::ErrorCode::Frozen,
            message: "freeze".into(),
        },
        events: vec![],
    };
    write("receipt", "failed", &codec::encode(&failed));
    let _ = merkle::root(&[receipt.hash(), failed.hash()]);

    write("validator_set", "four", &codec::encode(validators()));

    rpc_requests();
}

/// One request per method over the `rpc_request` target's chain (`src/rpc.rs`), a
/// batch, and requests the server refuses.
fn rpc_requests() {
    use accord_rpc::backend::ChainReader;
    use serde_json::json;

    let node = accord_fuzz::rpc::node();
    let first = node.block(Height(1)).unwrap().unwrap();
    let block = first.hash();
    let tx = first.transactions[1].hash();
    let author = accord_runtime::test_utils::key("author").public();
    // The author's next nonce: accepted into the pool.
    let submit = node.tx("author", accord_fuzz::rpc::submit("/docs/c.md", &["eu"]));
    let call = |id: u64, method: &str, params: serde_json::Value| json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
    let seeds = [
        (
            "system_health",
            json!({ "jsonrpc": "2.0", "id": 1, "method": "system_health" }),
        ),
        ("system_version", call(2, "system_version", json!([]))),
        ("system_peers", call(3, "system_peers", json!([]))),
        ("system_syncState", call(4, "system_syncState", json!(null))),
        ("rpc_methods", call(5, "rpc_methods", json!([]))),
        ("rpc.discover", call(6, "rpc.discover", json!([]))),
        ("chain_getStatus", call(7, "chain_getStatus", json!([]))),
        ("chain_getBlock", call(8, "chain_getBlock", json!([1]))),
        (
            "chain_getBlock_hash",
            call(9, "chain_getBlock", json!({ "id": block })),
        ),
        (
            "chain_getBlockRange",
            call(10, "chain_getBlockRange", json!([1, 3])),
        ),
        (
            "chain_getHeader",
            call(11, "chain_getHeader", json!([block])),
        ),
        (
            "chain_getCertificate",
            call(12, "chain_getCertificate", json!([2])),
        ),
        (
            "chain_getReceipts",
            call(13, "chain_getReceipts", json!([2])),
        ),
        (
            "chain_getTransaction",
            call(14, "chain_getTransaction", json!([tx])),
        ),
        (
            "chain_getValidators",
            call(15, "chain_getValidators", json!([2])),
        ),
        (
            "chain_subscribeFinalizedBlocks",
            call(16, "chain_subscribeFinalizedBlocks", json!([])),
        ),
        (
            "chain_unsubscribeFinalizedBlocks",
            call(17, "chain_unsubscribeFinalizedBlocks", json!([1])),
        ),
        (
            "gov_submitTransaction",
            call(
                18,
                "gov_submitTransaction",
                json!([codec::hex_encode(&submit.encode())]),
            ),
        ),
        (
            "gov_getAccount",
            call(19, "gov_getAccount", json!([author])),
        ),
        ("gov_getProposal", call(20, "gov_getProposal", json!([1]))),
        (
            "gov_listProposals",
            call(
                21,
                "gov_listProposals",
                json!([{ "status": "voting", "region": "eu", "proposer": author }, null, 10]),
            ),
        ),
        ("gov_getTally", call(22, "gov_getTally", json!({ "id": 1 }))),
        ("gov_getParams", call(23, "gov_getParams", json!([]))),
        (
            "gov_getEvents",
            call(
                24,
                "gov_getEvents",
                json!([{ "types": ["vote_cast"], "regions": ["eu"], "proposals": [1] }, "1:0:0", 5]),
            ),
        ),
        (
            "gov_getEventProof",
            call(25, "gov_getEventProof", json!(["3:0:1"])),
        ),
        (
            "gov_getStateProof",
            call(
                26,
                "gov_getStateProof",
                json!([{ "record": "account", "key": author }]),
            ),
        ),
        (
            "gov_subscribeEvents",
            call(
                27,
                "gov_subscribeEvents",
                json!([{ "kinds": ["documentation_change"] }, "2:0:0"]),
            ),
        ),
        (
            "gov_unsubscribeEvents",
            call(28, "gov_unsubscribeEvents", json!(["x"])),
        ),
        (
            "batch",
            json!([
                call(29, "gov_getProposal", json!([2])),
                call(
                    30,
                    "gov_getStateProof",
                    json!({ "target": { "record": "proposal", "id": 2 } })
                )
            ]),
        ),
        (
            "unknown_method",
            json!({ "jsonrpc": "2.0", "id": "a", "method": "chain_frobnicate" }),
        ),
        (
            "wrong_shape",
            call(31, "chain_getBlock", json!({ "height": 1 })),
        ),
        (
            "bad_value",
            call(32, "gov_getEvents", json!([null, "a:b:c"])),
        ),
    ];
    for (name, request) in seeds {
        write(
            "rpc_request",
            &format!("{name}.json"),
            request.to_string().as_bytes(),
        );
    }
    write(
        "rpc_request",
        "truncated.json",
        br#"{"jsonrpc":"2.0","id":33,"method":"chain_getBlock","params":[1"#,
    );
}
