//! What travels on the consensus gossip topic, and what the consensus log records.

use accord_consensus::Input;
use accord_types::codec::{self, MAX_BLOCK_BYTES};
use accord_types::{Block, ConsensusProposal, Evidence, Vote};
use borsh::{BorshDeserialize, BorshSerialize};

/// One message on the consensus topic. (A proposal with its block is far larger than a
/// vote; messages are decoded, handled and dropped one at a time, so no boxing.)
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum ConsensusWire {
    /// A signed proposal, with the block it names when the sender has it.
    Proposal {
        /// The proposal.
        proposal: ConsensusProposal,
        /// The proposed block.
        block: Option<Block>,
    },
    /// A signed prevote or precommit.
    Vote(Vote),
    /// Equivocation evidence, for the next proposer to include.
    Evidence(Evidence),
}

impl ConsensusWire {
    /// Largest encoded message: a block plus a proposal.
    pub const MAX_BYTES: usize = MAX_BLOCK_BYTES + 4096;

    /// The gossip encoding: the message behind a sender's stamp. Gossip drops bytes it
    /// has seen recently, and the engine re-sends its messages unchanged when a round
    /// makes no progress (to reach peers that were away when they first went out); the
    /// stamp makes each sending distinct while the message itself stays the same.
    pub fn encode_stamped(&self, stamp: u64) -> Vec<u8> {
        codec::encode(&(stamp, self))
    }

    /// Decodes a gossip message, dropping its stamp.
    pub fn decode_stamped(bytes: &[u8]) -> Result<Self, accord_types::Error> {
        let (_, message): (u64, Self) = codec::decode(
            "consensus message",
            bytes,
            Self::MAX_BYTES.saturating_add(8),
        )?;
        Ok(message)
    }
}

/// One record of the consensus log: an input to the engine, or a block that a later
/// input refers to by hash (so that replaying the log finds it).
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum WalEntry {
    /// An engine input, in the order it was processed.
    Input(Input),
    /// A block proposed by this node or received with a proposal.
    Block(Block),
}

impl WalEntry {
    /// Largest encoded entry.
    pub const MAX_BYTES: usize = MAX_BLOCK_BYTES + 4096;

    /// The borsh encoding.
    pub fn encode(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Decodes one entry strictly.
    pub fn decode(bytes: &[u8]) -> Result<Self, accord_types::Error> {
        codec::decode("consensus log entry", bytes, Self::MAX_BYTES)
    }
}
