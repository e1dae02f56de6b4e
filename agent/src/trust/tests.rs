//! The trust store against a chain built here block by block: headers certified by
//! chosen keys, a validator-set change whose draft is submitted in a real transaction,
//! blocks of the new era, and blocks certified by keys nobody trusts.

use std::sync::Mutex;

use accord_rpc::types::{event_proposal, event_type};
use accord_types::consensus::VoteType;
use accord_types::governance::{
    InfrastructureChange, InfrastructureChangeKind, ProposalKind, RiskLevel, ValidatorSpec,
};
use accord_types::{
    merkle, CommitCertificate, Keypair, Nonce, Outcome, RegionId, Round, Timestamp, Transaction,
    Vote,
};

use super::*;
use crate::error::Error;

struct Block {
    header: Header,
    transactions: Vec<Transaction>,
    receipts: Vec<Receipt>,
    certificate: CommitCertificate,
}

type Tamper = fn(&mut EventProof);

struct FakeChain {
    chain_id: ChainId,
    blocks: Vec<Block>,
    tamper: Mutex<Option<Tamper>>,
}

fn eu() -> RegionId {
    RegionId::new("eu").unwrap()
}

fn keys(prefix: &str, n: usize) -> Vec<Keypair> {
    (1..=n)
        .map(|i| Keypair::derive_insecure(&format!("trust-test/{prefix}{i}")))
        .collect()
}

fn set_of(names: &[(&str, &Keypair)]) -> ValidatorSet {
    ValidatorSet::new(
        names
            .iter()
            .map(|(name, key)| Validator {
                name: (*name).to_owned(),
                region: eu(),
                key: key.public(),
                power: 10,
            })
            .collect(),
        QuorumRule::Global,
    )
    .unwrap()
}

impl FakeChain {
    fn new() -> Self {
        Self {
            chain_id: ChainId::new("trust-test").unwrap(),
            blocks: Vec::new(),
            tamper: Mutex::new(None),
        }
    }

    fn push(
        &mut self,
        signers: &[Keypair],
        set: &ValidatorSet,
        transactions: Vec<Transaction>,
        receipts: Vec<Receipt>,
    ) -> Height {
        let height = Height(self.blocks.len() as u64 + 1);
        let header = Header {
            chain_id: self.chain_id.clone(),
            height,
            parent_hash: self.blocks.last().map_or(Hash::ZERO, |b| b.header.hash()),
            timestamp: Timestamp(1_000 * height.0),
            proposer: signers[0].public(),
            transactions_root: accord_types::block::transactions_root(&transactions),
            evidence_root: accord_types::block::evidence_root(&[]),
            state_root: Hash::ZERO,
            receipts_root: accord_types::receipt::receipts_root(&receipts),
            validator_set_hash: set.hash(),
            last_commit_hash: Hash::ZERO,
        };
        let hash = header.hash();
        let votes: Vec<Vote> = signers
            .iter()
            .map(|k| {
                Vote::sign(
                    k,
                    &self.chain_id,
                    height,
                    Round(0),
                    VoteType::Precommit,
                    Some(hash),
                )
            })
            .collect();
        let certificate = CommitCertificate::from_precommits(height, Round(0), hash, &votes);
        self.blocks.push(Block {
            header,
            transactions,
            receipts,
            certificate,
        });
        height
    }

    fn end_of_block(events: Vec<Event>) -> Receipt {
        Receipt {
            source: ReceiptSource::EndOfBlock,
            outcome: Outcome::Success,
            events,
        }
    }

    fn events_after(&self, after: Option<EventCursor>) -> Vec<(EventCursor, Event)> {
        let mut out = Vec::new();
        for block in &self.blocks {
            for (r, receipt) in block.receipts.iter().enumerate() {
                for (e, event) in receipt.events.iter().enumerate() {
                    let cursor = EventCursor {
                        height: block.header.height,
                        receipt: r as u32,
                        event: e as u32,
                    };
                    if after.is_none_or(|a| cursor > a) {
                        out.push((cursor, event.clone()));
                    }
                }
            }
        }
        out
    }
}

fn error<T>(result: Result<T>) -> String {
    result.err().map(|e| e.to_string()).unwrap_or_default()
}

impl ProofSource for FakeChain {
    fn endpoint(&self) -> &str {
        "fake://chain"
    }

    async fn event_proof(&self, cursor: EventCursor) -> Result<EventProof> {
        let block = &self.blocks[cursor.height.0 as usize - 1];
        let hashes: Vec<Hash> = block.receipts.iter().map(Receipt::hash).collect();
        let mut proof = EventProof {
            cursor,
            receipt: block.receipts[cursor.receipt as usize].clone(),
            path: merkle::prove(&hashes, cursor.receipt as usize).unwrap(),
            header: block.header.clone(),
            certificate: block.certificate.clone(),
        };
        if let Some(tamper) = *self.tamper.lock().unwrap() {
            tamper(&mut proof);
        }
        Ok(proof)
    }

    async fn state_proof(&self, _target: StateTarget) -> Result<StateProofView> {
        Err(Error::Rpc {
            endpoint: "fake://chain".into(),
            method: "gov_getStateProof",
            code: None,
            message: "not served".into(),
        })
    }

    async fn events(
        &self,
        filter: EventFilter,
        after: Option<EventCursor>,
        limit: u32,
    ) -> Result<EventPage> {
        let all = self.events_after(after);
        let mut events = Vec::new();
        let mut next = after;
        for (cursor, event) in all.iter().cloned() {
            next = Some(cursor);
            let type_ok = filter
                .types
                .as_ref()
                .is_none_or(|t| t.iter().any(|t| t == event_type(&event)));
            let proposal_ok = filter
                .proposals
                .as_ref()
                .is_none_or(|p| event_proposal(&event).is_some_and(|id| p.contains(&id)));
            if type_ok && proposal_ok {
                events.push(accord_rpc::types::EventView {
                    cursor,
                    transaction: None,
                    event,
                });
                if events.len() as u32 >= limit {
                    break;
                }
            }
        }
        let complete = next == all.last().map(|(c, _)| *c) || all.is_empty();
        Ok(EventPage {
            events,
            next,
            complete,
        })
    }

    async fn transaction(&self, hash: Hash) -> Result<TransactionStatus> {
        for block in &self.blocks {
            if let Some(index) = block.transactions.iter().position(|t| t.hash() == hash) {
                return Ok(TransactionStatus::Finalized {
                    height: block.header.height,
                    index: index as u32,
                    transaction: Box::new(block.transactions[index].clone()),
                    receipt: Box::new(block.receipts[index].clone()),
                });
            }
        }
        Ok(TransactionStatus::Unknown)
    }

    async fn proposal(&self, _id: ProposalId) -> Result<Option<ProposalView>> {
        Ok(None)
    }
}

/// Heights: 1 submits proposal #1 (adds validator b5), 2 schedules the change for
/// height 4, 3 is quiet, 4 and 5 are decided by the new set, 6 by keys nobody trusts.
struct World {
    chain: FakeChain,
    old: ValidatorSet,
    new: ValidatorSet,
}

fn request(proposal: u64) -> Event {
    Event::ExecutionRequested {
        proposal: ProposalId(proposal),
        region: eu(),
        phase: 0,
        payload_digest: Hash::digest(accord_types::Domain::PAYLOAD, b"body"),
        idempotency_key: Hash::digest(accord_types::Domain::IDEMPOTENCY, b"key"),
    }
}

fn cursor(height: u64) -> EventCursor {
    EventCursor {
        height: Height(height),
        receipt: 0,
        event: 0,
    }
}

fn world() -> World {
    let a = keys("a", 4);
    let b5 = Keypair::derive_insecure("trust-test/b5");
    let evil = keys("evil", 4);
    let old = set_of(&[("a1", &a[0]), ("a2", &a[1]), ("a3", &a[2]), ("a4", &a[3])]);
    let new = set_of(&[
        ("a1", &a[0]),
        ("a2", &a[1]),
        ("a3", &a[2]),
        ("a4", &a[3]),
        ("b5", &b5),
    ]);
    let forged = set_of(&[
        ("e1", &evil[0]),
        ("e2", &evil[1]),
        ("e3", &evil[2]),
        ("e4", &evil[3]),
    ]);
    let body = ProposalBody::InfrastructureChange(InfrastructureChange {
        change: InfrastructureChangeKind::ArchitectureChange,
        resources: vec!["validators".into()],
        validator_updates: vec![ValidatorChange::Add {
            validator: ValidatorSpec {
                name: "b5".into(),
                region: eu(),
                consensus_key: b5.public(),
                p2p_key: Keypair::derive_insecure("trust-test/p2p-b5").public(),
                listen_addr: "/ip4/127.0.0.1/tcp/30305".into(),
                power: 10,
            },
        }],
    });
    let draft = accord_runtime::test_utils::draft(&["eu"], body);
    let author = Keypair::derive_insecure("trust-test/author");
    let mut chain = FakeChain::new();
    let submit = Transaction::sign(
        &author,
        chain.chain_id.clone(),
        Nonce(0),
        Payload::SubmitProposal {
            draft: Box::new(draft),
        },
    );
    let submitted = Receipt {
        source: ReceiptSource::Transaction {
            hash: submit.hash(),
        },
        outcome: Outcome::Success,
        events: vec![Event::ProposalSubmitted {
            proposal: ProposalId(1),
            kind: ProposalKind::InfrastructureChange,
            tier: RiskLevel::Medium,
            regions: vec![eu()],
            voting_ends: Height(2),
        }],
    };
    chain.push(
        &a,
        &old,
        vec![submit],
        vec![submitted, FakeChain::end_of_block(vec![])],
    );
    chain.push(
        &a,
        &old,
        vec![],
        vec![FakeChain::end_of_block(vec![
            Event::ValidatorSetChangeScheduled {
                proposal: ProposalId(1),
                effective_height: Height(4),
            },
        ])],
    );
    chain.push(
        &a,
        &old,
        vec![],
        vec![FakeChain::end_of_block(vec![Event::GovernanceChanged {
            proposal: ProposalId(9),
        }])],
    );
    let mut all = a.clone();
    all.push(b5);
    chain.push(
        &all,
        &new,
        vec![],
        vec![FakeChain::end_of_block(vec![request(2)])],
    );
    chain.push(
        &all,
        &new,
        vec![],
        vec![FakeChain::end_of_block(vec![request(3)])],
    );
    chain.push(
        &evil,
        &forged,
        vec![],
        vec![FakeChain::end_of_block(vec![request(4)])],
    );
    World { chain, old, new }
}

#[tokio::test]
async fn a_proof_from_the_new_era_makes_the_agent_adopt_the_proven_change() {
    let w = world();
    let mut trust = Trust::open(w.chain.chain_id.clone(), w.old.clone(), None).unwrap();
    let proven = trust
        .verify_event(&w.chain, cursor(4), &request(2))
        .await
        .unwrap();
    assert_eq!(proven.event, request(2));
    assert_eq!(proven.header.height, Height(4));
    assert_eq!(trust.set_at(Height(3)).unwrap().hash(), w.old.hash());
    assert_eq!(trust.set_at(Height(4)).unwrap().hash(), w.new.hash());
    assert_eq!(trust.set_at(Height(900)).unwrap().hash(), w.new.hash());
    // Older heights still verify with their own set.
    let governance = Event::GovernanceChanged {
        proposal: ProposalId(9),
    };
    trust
        .verify_event(&w.chain, cursor(3), &governance)
        .await
        .unwrap();
    trust
        .verify_event(&w.chain, cursor(5), &request(3))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_change_seen_in_the_stream_is_adopted_and_kept_across_restarts() {
    let w = world();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trust.json");
    {
        let mut trust =
            Trust::open(w.chain.chain_id.clone(), w.old.clone(), Some(path.clone())).unwrap();
        let change = Event::ValidatorSetChangeScheduled {
            proposal: ProposalId(1),
            effective_height: Height(4),
        };
        trust
            .verify_event(&w.chain, cursor(2), &change)
            .await
            .unwrap();
        trust
            .adopt_change(&w.chain, cursor(2), ProposalId(1), Height(4))
            .await
            .unwrap();
        // Adopting it again changes nothing.
        trust
            .adopt_change(&w.chain, cursor(2), ProposalId(1), Height(4))
            .await
            .unwrap();
        assert_eq!(trust.history().count(), 2);
    }
    let trust = Trust::open(w.chain.chain_id.clone(), w.old.clone(), Some(path.clone())).unwrap();
    assert_eq!(trust.set_at(Height(4)).unwrap().hash(), w.new.hash());
    // A store of another genesis is refused rather than trusted.
    let other = set_of(&[("x", &Keypair::derive_insecure("trust-test/x"))]);
    let refused = error(Trust::open(w.chain.chain_id.clone(), other, Some(path)));
    assert!(refused.contains("another chain spec"), "{refused}");
}

fn refusal(result: Result<Proven>) -> Refusal {
    match result {
        Err(Error::Refused { refusal, .. }) => refusal,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn forged_and_tampered_proofs_are_refused_with_the_check_that_failed() {
    let w = world();
    let mut trust = Trust::open(w.chain.chain_id.clone(), w.old.clone(), None).unwrap();
    // Certified by keys nobody trusts: even after catching up, the header names an unknown set.
    let forged = refusal(trust.verify_event(&w.chain, cursor(6), &request(4)).await);
    assert!(
        matches!(forged, Refusal::Proof(ProofError::ValidatorSet { .. })),
        "{forged}"
    );
    assert_eq!(forged.label(), "validator_set");

    // A receipt altered after the fact no longer leads to the receipts root.
    *w.chain.tamper.lock().unwrap() = Some(|proof| {
        proof.receipt.events[0] = Event::GovernanceChanged {
            proposal: ProposalId(10),
        }
    });
    let tampered = refusal(
        trust
            .verify_event(
                &w.chain,
                cursor(3),
                &Event::GovernanceChanged {
                    proposal: ProposalId(10),
                },
            )
            .await,
    );
    assert!(
        matches!(tampered, Refusal::Proof(ProofError::ReceiptPath { .. })),
        "{tampered}"
    );

    // A proof of another position than asked.
    *w.chain.tamper.lock().unwrap() = Some(|proof| proof.cursor.event = 1);
    let moved = refusal(trust.verify_event(&w.chain, cursor(3), &request(1)).await);
    assert_eq!(moved.label(), "wrong_target");

    // A streamed event that is not the proven one.
    *w.chain.tamper.lock().unwrap() = None;
    let streamed = Event::GovernanceChanged {
        proposal: ProposalId(10),
    };
    let mismatch = refusal(trust.verify_event(&w.chain, cursor(3), &streamed).await);
    assert_eq!(mismatch.label(), "event_mismatch");
    assert!(
        mismatch.to_string().contains("\"proposal\":9"),
        "{mismatch}"
    );
}

#[test]
fn updates_apply_as_the_runtime_applies_them() {
    let a = keys("a", 2);
    let base = set_of(&[("a1", &a[0]), ("a2", &a[1])]);
    let outsider = Keypair::derive_insecure("trust-test/outsider").public();
    let removed = apply_updates(
        &base,
        &[ValidatorChange::Remove {
            consensus_key: a[1].public(),
        }],
    )
    .unwrap();
    assert_eq!(removed.len(), 1);
    let repowered = apply_updates(
        &base,
        &[ValidatorChange::SetPower {
            consensus_key: a[0].public(),
            power: 30,
        }],
    )
    .unwrap();
    assert_eq!(repowered.total_power(), 40);
    let unknown = apply_updates(
        &base,
        &[ValidatorChange::Remove {
            consensus_key: outsider,
        }],
    )
    .unwrap_err();
    assert!(unknown.contains("not in the set"), "{unknown}");
    let everyone = apply_updates(
        &base,
        &[
            ValidatorChange::Remove {
                consensus_key: a[0].public(),
            },
            ValidatorChange::Remove {
                consensus_key: a[1].public(),
            },
        ],
    )
    .unwrap_err();
    assert!(everyone.contains("no validators"), "{everyone}");
}
