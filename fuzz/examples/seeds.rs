//! Writes a seed corpus of valid encodings to `seeds/<target>/`, so the fuzzer starts
//! from values that pass the decoders instead of discovering borsh from scratch.
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
}
