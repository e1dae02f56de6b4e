//! A chain in memory for tests and benchmarks: genesis with three regions, named keys,
//! automatic nonces, and helpers that build drafts.
//!
//! Test fixtures panic with a message on failure: a broken fixture is a broken test.
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;

use accord_state::{MemStore, StateStore};
use accord_types::governance::{
    DocumentKind, DocumentationChange, ExecutionMode, ExecutionOutcome, ExecutionReport,
    ImpactAssessment, PipelineAction, PipelineActionKind, ProposalBody, ProposalDraft,
    ProposalStatus, RiskLevel, Role, RolloutPhase, Urgency, ValidatorSpec,
};
use accord_types::{
    ChainId, CommitCertificate, Hash, Height, Keypair, Nonce, Outcome, Payload, ProposalId,
    PublicKey, QuorumRule, RegionId, Round, Timestamp, Transaction, Vote, VoteType,
};

use crate::{
    execute_block, payload_digest, BlockContext, BlockOutcome, Genesis, Query, SignatureCheck,
};

/// Regions of the test chain.
pub const REGIONS: [&str; 3] = ["ap", "eu", "us"];
/// Voters per region (`eu-voter-1` …).
pub const VOTERS_PER_REGION: usize = 3;

/// A region id from a literal.
pub fn region(name: &str) -> RegionId {
    RegionId::new(name).unwrap_or_else(|e| panic!("test region {name}: {e}"))
}

/// The key of a named test account (`author`, `guardian`, `eu-voter-1`, `eu-agent`, `outsider`…).
pub fn key(name: &str) -> Keypair {
    Keypair::derive_insecure(&format!("accord-runtime-test/{name}"))
}

/// The test genesis: regions ap, eu, us; an author (proposer), a guardian, three voters and
/// one agent per region; four validators (two in eu, one each in us and ap).
pub fn genesis() -> Genesis {
    let mut accounts: Vec<(PublicKey, Vec<Role>)> = vec![
        (key("author").public(), vec![Role::Proposer]),
        (key("author-2").public(), vec![Role::Proposer]),
        (
            key("guardian").public(),
            vec![Role::Guardian, Role::Proposer],
        ),
    ];
    for r in REGIONS {
        for n in 1..=VOTERS_PER_REGION {
            accounts.push((
                key(&format!("{r}-voter-{n}")).public(),
                vec![Role::Voter(region(r))],
            ));
        }
        accounts.push((
            key(&format!("{r}-agent")).public(),
            vec![Role::Agent(region(r))],
        ));
    }
    let validators = [
        ("eu-1", "eu"),
        ("eu-2", "eu"),
        ("us-1", "us"),
        ("ap-1", "ap"),
    ]
    .into_iter()
    .map(|(name, r)| validator_spec(name, r, 10))
    .collect();
    Genesis {
        chain_id: ChainId::new("accord-test").unwrap_or_else(|e| panic!("chain id: {e}")),
        regions: REGIONS.iter().map(|r| region(r)).collect(),
        params: accord_chain_spec::default_governance(),
        accounts,
        validators,
        rule: QuorumRule::Global,
    }
}

/// The consensus keys of the test genesis's validators.
pub fn validator_keys() -> Vec<Keypair> {
    ["eu-1", "eu-2", "us-1", "ap-1"]
        .iter()
        .map(|name| key(&format!("validator/{name}")))
        .collect()
}

/// A round-0 commit certificate for block `hash` at `height`, signed by `keys`.
pub fn certify(
    keys: &[Keypair],
    chain_id: &ChainId,
    height: Height,
    hash: Hash,
) -> CommitCertificate {
    let votes: Vec<Vote> = keys
        .iter()
        .map(|k| {
            Vote::sign(
                k,
                chain_id,
                height,
                Round(0),
                VoteType::Precommit,
                Some(hash),
            )
        })
        .collect();
    CommitCertificate::from_precommits(height, Round(0), hash, &votes)
}

/// A validator description with keys derived from its name.
pub fn validator_spec(name: &str, region_name: &str, power: u64) -> ValidatorSpec {
    ValidatorSpec {
        name: name.to_owned(),
        region: region(region_name),
        consensus_key: key(&format!("validator/{name}")).public(),
        p2p_key: key(&format!("p2p/{name}")).public(),
        listen_addr: "/ip4/127.0.0.1/tcp/30300".to_owned(),
        power,
    }
}

/// A chain in memory.
pub struct TestChain {
    /// The state.
    pub store: MemStore,
    /// Chain id.
    pub chain_id: ChainId,
    /// Height of the last executed block (0 = genesis).
    pub height: Height,
    /// Timestamp of the next block.
    pub timestamp: Timestamp,
    /// State root after the last block.
    pub root: Hash,
    nonces: BTreeMap<PublicKey, u64>,
}

impl Default for TestChain {
    fn default() -> Self {
        Self::new()
    }
}

impl TestChain {
    /// A chain at the test genesis.
    pub fn new() -> Self {
        Self::from_genesis(&genesis())
    }

    /// A chain at a given genesis.
    pub fn from_genesis(genesis: &Genesis) -> Self {
        let mut store = MemStore::new();
        let commit = genesis
            .build(&store)
            .unwrap_or_else(|e| panic!("genesis: {e}"));
        store
            .write(&commit.batch)
            .unwrap_or_else(|e| panic!("genesis write: {e}"));
        Self {
            store,
            chain_id: genesis.chain_id.clone(),
            height: Height(0),
            timestamp: Timestamp(1_700_000_000_000),
            root: commit.root,
            nonces: BTreeMap::new(),
        }
    }

    /// Signs a payload as the named account with its next nonce.
    pub fn tx(&mut self, signer: &str, payload: Payload) -> Transaction {
        let keypair = key(signer);
        let nonce = self.nonces.entry(keypair.public()).or_insert(0);
        let tx = Transaction::sign(&keypair, self.chain_id.clone(), Nonce(*nonce), payload);
        *nonce += 1;
        tx
    }

    /// Forgets the nonces handed out for an account since its last successful... block:
    /// re-reads it from state (after refused transactions that did not consume one).
    pub fn resync_nonce(&mut self, signer: &str) {
        let public = key(signer).public();
        let nonce = self.query().account(&public).map(|a| a.nonce).unwrap_or(0);
        self.nonces.insert(public, nonce);
    }

    /// The context of the next block.
    pub fn context(&self) -> BlockContext {
        BlockContext {
            chain_id: self.chain_id.clone(),
            height: Height(self.height.0 + 1),
            timestamp: self.timestamp,
            proposer: key("validator/eu-1").public(),
            signatures: SignatureCheck::Verify,
            evidence: Vec::new(),
        }
    }

    /// Executes the next block and applies it.
    pub fn block(&mut self, txs: &[Transaction]) -> BlockOutcome {
        let ctx = self.context();
        self.block_with(&ctx, txs)
    }

    /// Executes a block with a given context and applies it.
    pub fn block_with(&mut self, ctx: &BlockContext, txs: &[Transaction]) -> BlockOutcome {
        let outcome =
            execute_block(&self.store, ctx, txs).unwrap_or_else(|e| panic!("execute: {e}"));
        self.store
            .write(&outcome.batch)
            .unwrap_or_else(|e| panic!("write: {e}"));
        self.height = ctx.height;
        self.timestamp = Timestamp(ctx.timestamp.0 + 1_000);
        self.root = outcome.state_root;
        outcome
    }

    /// Runs `n` empty blocks and returns their outcomes.
    pub fn empty_blocks(&mut self, n: u64) -> Vec<BlockOutcome> {
        (0..n).map(|_| self.block(&[])).collect()
    }

    /// Runs empty blocks until (and including) height `height`.
    pub fn run_to(&mut self, height: Height) -> Vec<BlockOutcome> {
        let mut out = Vec::new();
        while self.height < height {
            out.push(self.block(&[]));
        }
        out
    }

    /// Runs one transaction in its own block and panics unless it succeeded.
    pub fn ok(&mut self, signer: &str, payload: Payload) -> BlockOutcome {
        let tx = self.tx(signer, payload);
        let outcome = self.block(&[tx]);
        if let Some(receipt) = outcome.receipts.first() {
            assert_eq!(receipt.outcome, Outcome::Success, "transaction refused");
        }
        outcome
    }

    /// Runs one transaction in its own block and returns its receipt's outcome.
    pub fn try_tx(&mut self, signer: &str, payload: Payload) -> Outcome {
        let tx = self.tx(signer, payload);
        let outcome = self.block(&[tx]);
        outcome
            .receipts
            .first()
            .map(|r| r.outcome.clone())
            .unwrap_or(Outcome::Success)
    }

    /// Submits a draft as the named account and returns the new proposal's id.
    pub fn submit(&mut self, signer: &str, draft: ProposalDraft) -> ProposalId {
        let id = self
            .query()
            .next_proposal_id()
            .unwrap_or_else(|e| panic!("next id: {e}"));
        self.ok(
            signer,
            Payload::SubmitProposal {
                draft: Box::new(draft),
            },
        );
        id
    }

    /// Reads the state.
    pub fn query(&self) -> Query<'_> {
        Query::new(&self.store)
    }

    /// A proposal's status.
    pub fn status(&self, id: ProposalId) -> ProposalStatus {
        self.query()
            .proposal_state(id)
            .unwrap_or_else(|e| panic!("query: {e}"))
            .unwrap_or_else(|| panic!("no proposal #{}", id.0))
            .status
    }

    /// A proposal's voting end height.
    pub fn voting_ends(&self, id: ProposalId) -> Height {
        self.query()
            .proposal_state(id)
            .ok()
            .flatten()
            .map(|s| s.voting_ends)
            .unwrap_or_else(|| panic!("no proposal #{}", id.0))
    }

    /// Votes of every named voter, all in one block.
    pub fn votes(
        &mut self,
        id: ProposalId,
        votes: &[(&str, accord_types::governance::VoteChoice)],
    ) -> BlockOutcome {
        let txs: Vec<Transaction> = votes
            .iter()
            .map(|(voter, choice)| {
                let region_name = voter.split('-').next().unwrap_or_default();
                self.tx(
                    voter,
                    Payload::Vote {
                        proposal: id,
                        region: region(region_name),
                        choice: *choice,
                    },
                )
            })
            .collect();
        self.block(&txs)
    }

    /// An agent's report for a phase, signed by the named agent.
    pub fn report(
        &self,
        id: ProposalId,
        region_name: &str,
        phase: u16,
        outcome: ExecutionOutcome,
        applied_digest: Hash,
    ) -> Payload {
        let idempotency_key = match outcome {
            ExecutionOutcome::RolledBack => {
                crate::rollback_key(&self.chain_id, id, &region(region_name))
            }
            _ => crate::idempotency_key(&self.chain_id, id, &region(region_name), phase),
        };
        Payload::ReportExecution {
            report: Box::new(ExecutionReport {
                proposal: id,
                region: region(region_name),
                phase,
                idempotency_key,
                outcome,
                started_at: self.timestamp,
                finished_at: self.timestamp,
                applied_digest,
                before_digest: Hash::digest(accord_types::Domain::PAYLOAD, b"before"),
                after_digest: Hash::digest(accord_types::Domain::PAYLOAD, b"after"),
                pre_checks: Vec::new(),
                post_checks: Vec::new(),
                log_digest: Hash::digest(accord_types::Domain::PAYLOAD, b"log"),
            }),
        }
    }
}

/// A low-risk draft with a body, its digest filled in.
pub fn draft(regions: &[&str], body: ProposalBody) -> ProposalDraft {
    ProposalDraft {
        title: "change".to_owned(),
        description: "a change for tests".to_owned(),
        regions: regions.iter().map(|r| region(r)).collect(),
        impact: ImpactAssessment {
            cost: 0,
            downtime_minutes: 0,
            declared_risk: RiskLevel::Low,
            analysis: String::new(),
        },
        dependencies: Vec::new(),
        payload_digest: payload_digest(&body),
        execution_mode: ExecutionMode::OnApproval,
        not_before: None,
        execute_by: None,
        urgency: Urgency::Normal,
        body,
    }
}

/// A pipeline action with rollout phases (`&[]` = one phase).
pub fn pipeline(phases: &[u8]) -> ProposalBody {
    ProposalBody::PipelineAction(PipelineAction {
        action: PipelineActionKind::ModelDeployment,
        pipeline: "model-release".to_owned(),
        environment: "production".to_owned(),
        artifact_digest: Hash::digest(accord_types::Domain::PAYLOAD, b"artifact"),
        phases: phases
            .iter()
            .map(|p| RolloutPhase { percent: *p })
            .collect(),
        rollback_plan: "redeploy the previous model".to_owned(),
    })
}

/// A documentation change.
pub fn documentation(path: &str) -> ProposalBody {
    ProposalBody::DocumentationChange(DocumentationChange {
        document: DocumentKind::UserGuide,
        path: path.to_owned(),
        content_digest: Hash::digest(accord_types::Domain::PAYLOAD, path.as_bytes()),
        uri: format!("https://docs.example/{path}"),
    })
}

/// A roadmap change.
pub fn roadmap(item: &str) -> ProposalBody {
    ProposalBody::RoadmapChange(accord_types::governance::RoadmapChange {
        change: accord_types::governance::RoadmapChangeKind::TimelineChange,
        item: item.to_owned(),
        target: "2027-Q2".to_owned(),
    })
}

/// Re-fills a draft's payload digest after its body changed.
pub fn with_digest(mut draft: ProposalDraft) -> ProposalDraft {
    draft.payload_digest = payload_digest(&draft.body);
    draft
}
