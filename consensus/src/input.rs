//! What goes into the engine and what comes out: [`Input`], [`Output`], [`Message`].
//!
//! Every input and output is borsh-encodable, so the node can write inputs to its
//! write-ahead log before processing them and replay them after a crash.

use std::collections::BTreeSet;

use accord_types::{
    Block, CommitCertificate, ConsensusProposal, Evidence, Hash, Height, PublicKey, Round,
    ValidatorSet, Vote,
};
use borsh::{BorshDeserialize, BorshSerialize};

/// A consensus message between validators.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Message {
    /// A signed proposal; the block it names travels separately.
    Proposal(ConsensusProposal),
    /// A signed prevote or precommit.
    Vote(Vote),
}

impl Message {
    /// The message's height.
    pub fn height(&self) -> Height {
        match self {
            Self::Proposal(p) => p.height,
            Self::Vote(v) => v.height,
        }
    }

    /// The message's round.
    pub fn round(&self) -> Round {
        match self {
            Self::Proposal(p) => p.round,
            Self::Vote(v) => v.round,
        }
    }

    /// Who signed it.
    pub fn signer(&self) -> &PublicKey {
        match self {
            Self::Proposal(p) => &p.proposer,
            Self::Vote(v) => &v.validator,
        }
    }
}

/// Who checks a received message's signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum SignatureCheck {
    /// The engine verifies it (`Vote::verify`, `ConsensusProposal::verify`) after
    /// checking that the signer belongs to the height's validator set.
    Required,
    /// The caller has verified it already, for instance many messages at once with
    /// `accord_types::crypto::verify_batch`; the engine trusts it. A node may only pass
    /// this for signatures it verified over the same chain id.
    Verified,
}

/// The node's verdict on a proposed block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Validity {
    /// The block is well formed and executes (the paper's `valid(v)`).
    Valid,
    /// The block must not be voted for.
    Invalid,
}

impl Validity {
    /// Whether the verdict is [`Validity::Valid`].
    pub fn is_valid(self) -> bool {
        self == Self::Valid
    }
}

/// The timers the engine asks for.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
pub enum TimeoutStep {
    /// Waiting for a proposal (L21, L57).
    Propose,
    /// Waiting for more prevotes after a quorum of any prevotes (L35, L61).
    Prevote,
    /// Waiting for more precommits after a quorum of any precommits (L48, L65).
    Precommit,
    /// A round that makes no progress re-sends this validator's own messages of the
    /// round, so messages lost before the network stabilised are replaced.
    Rebroadcast,
}

/// A finalized block, as far as proposer selection needs it.
///
/// All honest nodes hold the same finalized blocks, so they derive the same
/// [`CommittedBlock`]s and choose the same proposers.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct CommittedBlock {
    /// Its height.
    pub height: Height,
    /// The validator that built it (`Header::proposer`).
    pub proposer: PublicKey,
    /// Who signed the certificate it carries for the previous block (`Block::last_commit`);
    /// empty at height 1.
    pub last_commit_signers: BTreeSet<PublicKey>,
}

impl CommittedBlock {
    /// The summary of a finalized block.
    pub fn from_block(block: &Block) -> Self {
        Self {
            height: block.header.height,
            proposer: block.header.proposer,
            last_commit_signers: block
                .last_commit
                .iter()
                .flat_map(|c| c.signatures.iter().map(|s| s.validator))
                .collect(),
        }
    }
}

/// An input to [`Engine::process`](crate::Engine::process).
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Input {
    /// Start deciding `height` (after the previous height was decided and its block
    /// executed, or at boot). `validators` decide this height; its rule must match the
    /// chain's `regional_quorum`. `history` holds the finalized blocks just below
    /// `height` (at least the last [`ABSENCE_WINDOW`](crate::proposer::ABSENCE_WINDOW),
    /// in increasing height order); proposer selection uses it to skip absent validators.
    StartHeight {
        /// The height to decide.
        height: Height,
        /// The validator set of that height.
        validators: ValidatorSet,
        /// Recent finalized blocks, oldest first.
        history: Vec<CommittedBlock>,
    },
    /// A proposal received from the network.
    Proposal {
        /// The proposal.
        proposal: ConsensusProposal,
        /// Whether the engine must verify its signature.
        check: SignatureCheck,
    },
    /// A vote received from the network.
    Vote {
        /// The vote.
        vote: Vote,
        /// Whether the engine must verify its signature.
        check: SignatureCheck,
    },
    /// A commit certificate for the current height, obtained apart from the consensus
    /// messages (block sync, or a peer that has moved on). It proves a quorum
    /// precommitted its block, so the engine decides that block once it is known valid,
    /// even if the precommits it counted itself do not form a quorum (for instance
    /// because an equivocating validator sent it another precommit first).
    Commit {
        /// The certificate.
        certificate: CommitCertificate,
        /// Whether the engine must verify its signatures (membership and quorum are
        /// always checked).
        check: SignatureCheck,
    },
    /// The block to propose, answering [`Output::RequestValue`] (the paper's `getValue()`).
    ProposeValue {
        /// The height of the request.
        height: Height,
        /// The round of the request.
        round: Round,
        /// The hash of the block built.
        block_hash: Hash,
    },
    /// The verdict on a block, answering [`Output::RequestValidation`].
    Validity {
        /// The block's height.
        height: Height,
        /// The block's hash.
        block_hash: Hash,
        /// Whether it may be voted for.
        verdict: Validity,
    },
    /// A timer scheduled by [`Output::ScheduleTimeout`] went off.
    TimeoutElapsed {
        /// The timer's height.
        height: Height,
        /// The timer's round.
        round: Round,
        /// Which timer.
        step: TimeoutStep,
    },
}

impl Input {
    /// The input for a message received from the network.
    pub fn received(message: Message, check: SignatureCheck) -> Self {
        match message {
            Message::Proposal(proposal) => Self::Proposal { proposal, check },
            Message::Vote(vote) => Self::Vote { vote, check },
        }
    }
}

/// A decided block.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Decision {
    /// The height decided.
    pub height: Height,
    /// The round in which it was decided.
    pub round: Round,
    /// The decided block's hash.
    pub block_hash: Hash,
    /// The precommits that decided it, verifiable against the height's validator set.
    pub certificate: CommitCertificate,
}

/// What the engine asks the node to do.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Output {
    /// Send this message to every validator. Every broadcast is signed by this
    /// engine's own key; a vote may be broadcast again unchanged, never a different
    /// one for the same height, round and type. The node records the last signed
    /// height, round and step before releasing a vote.
    Broadcast(Message),
    /// Start a timer; when it goes off, feed [`Input::TimeoutElapsed`] back.
    ScheduleTimeout {
        /// The timer's height.
        height: Height,
        /// The timer's round.
        round: Round,
        /// Which timer.
        step: TimeoutStep,
        /// Its duration in milliseconds: the step's base plus its delta per round.
        duration_ms: u64,
    },
    /// Build a block for this height and round and answer with [`Input::ProposeValue`].
    RequestValue {
        /// The height.
        height: Height,
        /// The round.
        round: Round,
    },
    /// Obtain the block with this hash (it travels beside its proposal, or is fetched
    /// by hash), check it, and answer with [`Input::Validity`].
    RequestValidation {
        /// The height it is proposed for.
        height: Height,
        /// The round in which it was proposed or decided.
        round: Round,
        /// The block's hash.
        block_hash: Hash,
    },
    /// The height is decided.
    Decide(Decision),
    /// A validator signed two different votes of one type for one height and round.
    Evidence(Evidence),
    /// A proposer signed two different proposals for one height and round.
    /// (`accord_types::Evidence` has no variant for this yet.)
    ConflictingProposals {
        /// The proposal kept.
        first: ConsensusProposal,
        /// The conflicting one.
        second: ConsensusProposal,
    },
    /// Send another validator's signed message to every validator: the prevotes that
    /// justify a proposal's valid round go out with the proposal, so validators that
    /// missed them can accept it (L28).
    Relay(Message),
    /// A message that arrived early, for the height now started; feed it back as an
    /// input with [`SignatureCheck::Verified`] (its signature was checked on arrival).
    /// Because it goes through the write-ahead log like any input, the engine's state
    /// after `StartHeight` depends on nothing that happened before it.
    Requeue(Message),
}
