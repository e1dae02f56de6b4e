//! A Byzantine validator beside a [`crate::net::Net`]: a libp2p peer in the test process
//! with one validator's p2p and consensus keys (its own `accord run` not started), that
//! speaks the nodes' protocol and says what the test tells it: proposals out of turn or
//! over the chain's limits, votes of any kind, any gossip, and lies in answer to block
//! sync. The honest nodes must keep finalizing and must not relay what they refuse.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use accord_node::consensus::wire::ConsensusWire;
use accord_node::p2p::{NetEvent, P2pConfig, P2pHandle, SyncRequest, SyncResponse, Topic, Verdict};
use accord_types::block::Header;
use accord_types::consensus::VoteType;
use accord_types::{
    Block, ChainId, CommitCertificate, ConsensusProposal, Hash, Height, Keypair, PublicKey, Round,
    Timestamp, Vote,
};
use tokio::sync::watch;

use crate::net::Net;

/// How the Byzantine peer answers block-sync requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncLie {
    /// Claims a height of `u64::MAX` and answers every range with nothing.
    HugeHeight,
    /// Claims to be `ahead` blocks past the highest height it has seen votes of, and
    /// never answers a range.
    Silent {
        /// How far ahead it claims to be.
        ahead: u64,
    },
    /// Answers nothing at all (every request times out on the asker's side).
    Mute,
    /// Claims to be two blocks past the highest height it has seen votes of, and answers
    /// a range with a block of its own under a certificate only it signed.
    Forged,
}

/// One signed step of a validator: its key, height, round and step.
pub type SignedStep = (PublicKey, Height, Round, &'static str);

/// Every consensus message heard on gossip (those whose signatures verify), by signed step,
/// with the values signed for it: an honest validator signs one value per step.
#[derive(Debug, Clone, Default)]
pub struct Heard {
    steps: BTreeMap<SignedStep, BTreeSet<Option<Hash>>>,
}

/// Signed steps remembered at most (a test's worth).
const MAX_HEARD: usize = 1 << 20;

impl Heard {
    fn note(&mut self, step: SignedStep, value: Option<Hash>) {
        if self.steps.len() < MAX_HEARD || self.steps.contains_key(&step) {
            self.steps.entry(step).or_default().insert(value);
        }
    }

    fn vote(&mut self, vote: &Vote) {
        let step = match vote.vote_type {
            VoteType::Prevote => "prevote",
            VoteType::Precommit => "precommit",
        };
        self.note(
            (vote.validator, vote.height, vote.round, step),
            vote.block_hash,
        );
    }

    fn proposal(&mut self, proposal: &ConsensusProposal) {
        self.note(
            (
                proposal.proposer,
                proposal.height,
                proposal.round,
                "proposal",
            ),
            Some(proposal.block_hash),
        );
    }

    /// How many steps `key` was heard signing.
    pub fn steps_of(&self, key: &PublicKey) -> usize {
        self.steps.keys().filter(|(k, ..)| k == key).count()
    }

    /// The steps heard signed with more than one value: equivocations.
    pub fn conflicts(&self) -> Vec<(SignedStep, BTreeSet<Option<Hash>>)> {
        self.steps
            .iter()
            .filter(|(_, values)| values.len() > 1)
            .map(|(step, values)| (*step, values.clone()))
            .collect()
    }
}

/// A Byzantine validator.
pub struct Byzantine {
    /// Its network handle.
    pub p2p: P2pHandle,
    /// Its consensus key.
    pub key: Keypair,
    /// The chain.
    pub chain_id: ChainId,
    stamp: u64,
    lie: watch::Sender<Option<SyncLie>>,
    echo: watch::Sender<bool>,
    heard: Arc<Mutex<Heard>>,
    events: tokio::task::JoinHandle<()>,
}

impl Drop for Byzantine {
    fn drop(&mut self) {
        self.events.abort();
    }
}

impl Byzantine {
    /// Joins `net` as validator `index` (whose process must not run), free to send
    /// gossip up to `cap` bytes. Sync requests are answered with nothing until
    /// [`Byzantine::lie_in_sync`] says otherwise.
    pub fn join(net: &Net, index: usize, cap: usize) -> Self {
        Self::join_toward(net, index, cap, None)
    }

    /// As [`Byzantine::join`], but connected to the nodes in `only` alone (when given):
    /// it dials no other node and refuses the others' connections. Two of them with
    /// the same validator's keys, toward disjoint sets of nodes, can tell each set
    /// something different, as one validator that sends each peer its own version does.
    pub fn join_toward(net: &Net, index: usize, cap: usize, only: Option<&[usize]>) -> Self {
        let (spec, _) = accord_node::init::read_spec(&net.home.join("spec.json")).unwrap();
        let home = &net.nodes[index].node.home;
        let p2p_key = accord_node::keyfile::read(&home.join("keys/p2p.key")).unwrap();
        let key = accord_node::keyfile::read(&home.join("keys/consensus.key")).unwrap();
        let listen = "/ip4/127.0.0.1/tcp/0".parse().unwrap();
        let mut config = P2pConfig::from_chain_spec(&spec, p2p_key, listen).unwrap();
        if let Some(only) = only {
            let keep: BTreeSet<PublicKey> = only
                .iter()
                .map(|&i| {
                    let home = &net.nodes[i].node.home;
                    accord_node::keyfile::read(&home.join("keys/p2p.key"))
                        .unwrap()
                        .public()
                })
                .collect();
            config.bootstrap.retain(|(peer, _)| keep.contains(peer));
            config.allowed = keep;
        }
        config.max_message_bytes = cap;
        config.max_response_bytes = config.max_response_bytes.max(cap);
        let (p2p, mut events) = accord_node::p2p::spawn(config).unwrap();
        let (lie, lies) = watch::channel(None);
        let (echo, echoing) = watch::channel(false);
        let p2p_events = p2p.clone();
        let forger = key.clone();
        let chain_id = spec.chain_id().clone();
        let heard = Arc::new(Mutex::new(Heard::default()));
        let hearing = Arc::clone(&heard);
        let events = tokio::spawn(async move {
            // Requests left unanswered stay open until the asker gives up.
            let mut held = std::collections::VecDeque::new();
            // The highest height of the consensus gossip it has seen.
            let mut seen = 0u64;
            // The (height, round) it precommitted in as an echo, and its stamps.
            let mut echoed = BTreeSet::new();
            let mut stamp = 1u64 << 62;
            while let Some(event) = events.recv().await {
                if let NetEvent::Gossip {
                    topic: Topic::Consensus,
                    data,
                    ..
                } = &event
                {
                    match ConsensusWire::decode_stamped(data) {
                        Ok(ConsensusWire::Vote(vote)) if vote.verify(&chain_id).is_ok() => {
                            seen = seen.max(vote.height.0);
                            hearing.lock().unwrap().vote(&vote);
                            let echo = *echoing.borrow()
                                && vote.vote_type == VoteType::Precommit
                                && vote.block_hash.is_some()
                                && vote.validator != forger.public()
                                && echoed.insert((vote.height, vote.round));
                            if echo {
                                let mine = Vote::sign(
                                    &forger,
                                    &chain_id,
                                    vote.height,
                                    vote.round,
                                    VoteType::Precommit,
                                    vote.block_hash,
                                );
                                stamp += 1;
                                let data = ConsensusWire::Vote(mine).encode_stamped(stamp);
                                let _ = p2p_events.publish(Topic::Consensus, data).await;
                                if echoed.len() > 64 {
                                    echoed.pop_first();
                                }
                            }
                        }
                        Ok(ConsensusWire::Proposal { proposal, .. })
                            if proposal.verify(&chain_id).is_ok() =>
                        {
                            hearing.lock().unwrap().proposal(&proposal);
                        }
                        _ => {}
                    }
                }
                if let NetEvent::Gossip { from, id, .. } = &event {
                    // It forwards nothing.
                    p2p_events.report(*id, *from, Verdict::Ignore);
                    continue;
                }
                if let NetEvent::SyncRequest { request, reply, .. } = event {
                    let status = |height| SyncResponse::Status {
                        height: Height(height),
                        hash: Hash::ZERO,
                    };
                    let lie = *lies.borrow();
                    let answer = match (lie, &request) {
                        (Some(SyncLie::HugeHeight), SyncRequest::Status) => Some(status(u64::MAX)),
                        (Some(SyncLie::Silent { ahead }), SyncRequest::Status) => {
                            Some(status(seen.saturating_add(ahead)))
                        }
                        (Some(SyncLie::Forged), SyncRequest::Status) => {
                            Some(status(seen.saturating_add(2)))
                        }
                        (Some(SyncLie::Forged), SyncRequest::Blocks { from, .. }) => Some(
                            SyncResponse::Blocks(vec![forged(&forger, &chain_id, *from)]),
                        ),
                        (Some(SyncLie::Silent { .. } | SyncLie::Mute), _) => None,
                        (_, SyncRequest::Blocks { .. }) => Some(SyncResponse::Blocks(Vec::new())),
                        (_, SyncRequest::BlockByHash(_)) => Some(SyncResponse::Block(None)),
                        (_, SyncRequest::Status) => Some(status(0)),
                    };
                    match answer {
                        Some(answer) => reply.send(answer),
                        None => {
                            held.push_back(reply);
                            if held.len() > 1024 {
                                held.pop_front();
                            }
                        }
                    }
                }
            }
        });
        Self {
            p2p,
            key,
            chain_id: spec.chain_id().clone(),
            stamp: 0,
            lie,
            echo,
            heard,
            events,
        }
    }

    /// What it has heard signed so far.
    pub fn heard(&self) -> Heard {
        self.heard.lock().unwrap().clone()
    }

    /// From now on (`true`) or no longer, precommits each block it hears another
    /// validator precommit, once per height and round: it then signs the certificates
    /// the others gather, so proposer selection counts it present and gives it round 0
    /// of its heights.
    pub fn echo_precommits(&self, on: bool) {
        let _ = self.echo.send(on);
    }

    /// From now on, answers block sync with `lie`.
    pub fn lie_in_sync(&self, lie: SyncLie) {
        let _ = self.lie.send(Some(lie));
    }

    /// Waits until at least `peers` nodes are in its mesh on both topics, so that what
    /// it publishes reaches each of them directly.
    pub async fn wait_for_mesh(&self, peers: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        for topic in Topic::ALL {
            while self.p2p.mesh_peers(topic).await.len() < peers {
                assert!(
                    Instant::now() < deadline,
                    "the Byzantine peer's {topic:?} mesh: {:?}",
                    self.p2p.mesh_peers(topic).await
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    /// Publishes `data` on `topic`, waiting up to 30 s for subscribed peers.
    pub async fn publish(&self, topic: Topic, data: Vec<u8>) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match self.p2p.publish(topic, data.clone()).await {
                Ok(_) => return Ok(()),
                Err(error) if Instant::now() < deadline && error.is_benign() => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(error) => return Err(error.to_string()),
            }
        }
    }

    /// Gossips a consensus message with a fresh stamp.
    pub async fn send(&mut self, message: &ConsensusWire) -> Result<(), String> {
        self.stamp += 1;
        self.publish(Topic::Consensus, message.encode_stamped(self.stamp))
            .await
    }

    /// A proposal of `block` for `round` of its height, signed by this validator.
    pub fn proposal(&self, round: Round, block: Block) -> ConsensusWire {
        let proposal = ConsensusProposal::sign(
            &self.key,
            &self.chain_id,
            block.header.height,
            round,
            None,
            block.hash(),
        );
        ConsensusWire::Proposal {
            proposal,
            block: Some(block),
        }
    }

    /// A vote signed by this validator.
    pub fn vote(
        &self,
        height: Height,
        round: Round,
        vote_type: VoteType,
        block_hash: Option<Hash>,
    ) -> ConsensusWire {
        ConsensusWire::Vote(Vote::sign(
            &self.key,
            &self.chain_id,
            height,
            round,
            vote_type,
            block_hash,
        ))
    }
}

/// A block of `height` by `key` with made-up roots, under a commit certificate that only
/// `key` signed (a quarter of the power at most: no quorum).
fn forged(key: &Keypair, chain_id: &ChainId, height: Height) -> (Block, CommitCertificate) {
    let block = Block {
        header: Header {
            chain_id: chain_id.clone(),
            height,
            parent_hash: Hash::ZERO,
            timestamp: Timestamp(1),
            proposer: key.public(),
            transactions_root: accord_types::block::transactions_root(&[]),
            evidence_root: Hash::ZERO,
            state_root: Hash::ZERO,
            receipts_root: Hash::ZERO,
            validator_set_hash: Hash::ZERO,
            last_commit_hash: Hash::ZERO,
        },
        transactions: Vec::new(),
        evidence: Vec::new(),
        last_commit: None,
    };
    let hash = block.hash();
    let vote = Vote::sign(
        key,
        chain_id,
        height,
        Round(0),
        VoteType::Precommit,
        Some(hash),
    );
    let certificate = CommitCertificate::from_precommits(height, Round(0), hash, &[vote]);
    (block, certificate)
}
