//! Criterion benchmarks of accord's hot paths; the benches live in `benches/`.
//!
//! # Design
//!
//! The benches measure the pure functions every node runs per block: signature
//! checks (`crypto`), Merkle roots and proofs (`merkle`) and strict borsh
//! encoding (`codec`). This library holds the sample data they share, built
//! deterministically so every run measures the same bytes:
//!
//! ```text
//!   sample_keypairs ──► sample_transaction (SubmitProposal / PipelineAction, signed)
//!                              │
//!                              ▼
//!                        sample_block (header roots match the body)
//! ```
//!
//! Run them with `cargo bench -p accord-benches`.
//!
//! The [`loadgen`] module is the other half of the crate: a load generator that signs
//! and submits governance transactions to a running network over JSON-RPC and measures
//! finalized transactions per second and submit-to-finality latency (binary `loadgen`).

pub mod loadgen;
pub mod openloop;

use accord_types::block::{evidence_root, transactions_root};
use accord_types::governance::{
    ExecutionMode, ImpactAssessment, PipelineAction, PipelineActionKind, ProposalBody,
    ProposalDraft, RiskLevel, RolloutPhase, Urgency,
};
use accord_types::{
    Block, ChainId, Domain, Hash, Header, Height, Keypair, Nonce, Payload, ProposalId, RegionId,
    Timestamp, Transaction,
};

/// The chain id every sample is signed for.
pub fn chain_id() -> ChainId {
    ChainId::new("accord-bench").unwrap_or_else(|e| panic!("bench chain id: {e}"))
}

/// `n` deterministic keypairs.
pub fn sample_keypairs(n: usize) -> Vec<Keypair> {
    accord_types::test_utils::keypairs("bench", n)
}

/// A typical proposal: a model deployment to two regions in three rollout phases.
pub fn sample_draft(index: u64) -> ProposalDraft {
    let region = |name: &str| RegionId::new(name).unwrap_or_else(|e| panic!("region: {e}"));
    ProposalDraft {
        title: format!("Deploy recommender model v{index}"),
        description: "Roll the retrained recommender out behind the feature flag, \
                      canary first, watching p99 latency and error rate."
            .into(),
        regions: vec![region("eu-west"), region("us-east")],
        impact: ImpactAssessment {
            cost: 1_200,
            downtime_minutes: 0,
            declared_risk: RiskLevel::Medium,
            analysis: "Stateless service; rollback is a redeploy of the previous digest.".into(),
        },
        dependencies: vec![ProposalId(index.saturating_sub(1))],
        payload_digest: Hash::digest(Domain::PAYLOAD, &index.to_le_bytes()),
        execution_mode: ExecutionMode::OnApproval,
        not_before: None,
        execute_by: Some(Height(10_000)),
        urgency: Urgency::Normal,
        body: ProposalBody::PipelineAction(PipelineAction {
            action: PipelineActionKind::ModelDeployment,
            pipeline: "ml/recommender".into(),
            environment: "production".into(),
            artifact_digest: Hash::digest(Domain::PAYLOAD, b"recommender-artifact"),
            phases: [10, 25, 50, 100]
                .into_iter()
                .map(|percent| RolloutPhase { percent })
                .collect(),
            rollback_plan: "Redeploy the previous artifact digest.".into(),
        }),
    }
}

/// A signed `SubmitProposal` transaction carrying [`sample_draft`].
pub fn sample_transaction(keypair: &Keypair, nonce: u64) -> Transaction {
    Transaction::sign(
        keypair,
        chain_id(),
        Nonce(nonce),
        Payload::SubmitProposal {
            draft: Box::new(sample_draft(nonce)),
        },
    )
}

/// `n` sample transactions from `n` different signers.
pub fn sample_transactions(n: usize) -> Vec<Transaction> {
    sample_keypairs(n)
        .iter()
        .enumerate()
        .map(|(i, kp)| sample_transaction(kp, i as u64))
        .collect()
}

/// A block holding `n` sample transactions, whose header roots match its body.
pub fn sample_block(n: usize) -> Block {
    let transactions = sample_transactions(n);
    let proposer = Keypair::derive_insecure("bench/proposer").public();
    Block {
        header: Header {
            chain_id: chain_id(),
            height: Height(42),
            parent_hash: Hash::digest(Domain::HEADER, b"parent"),
            timestamp: Timestamp(1_700_000_000_000),
            proposer,
            transactions_root: transactions_root(&transactions),
            evidence_root: evidence_root(&[]),
            state_root: Hash::digest(Domain::new("bench/state"), b"state"),
            receipts_root: Hash::digest(Domain::new("bench/receipts"), b"receipts"),
            validator_set_hash: Hash::digest(Domain::VALIDATOR_SET, b"validators"),
            last_commit_hash: Hash::ZERO,
        },
        transactions,
        evidence: Vec::new(),
        last_commit: None,
    }
}

/// `n` distinct hashes, as Merkle leaves.
pub fn sample_hashes(n: usize) -> Vec<Hash> {
    (0..n as u64)
        .map(|i| Hash::digest(Domain::TRANSACTION, &i.to_le_bytes()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_valid() {
        let block = sample_block(3);
        assert_eq!(block.check_body(), Ok(()));
        for tx in &block.transactions {
            assert_eq!(tx.verify_signature(), Ok(()));
            assert_eq!(Transaction::decode(&tx.encode()).as_ref(), Ok(tx));
        }
        assert_eq!(sample_hashes(10).len(), 10);
    }
}
