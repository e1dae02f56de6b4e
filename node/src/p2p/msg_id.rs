//! Gossip message ids.

use std::fmt;

use libp2p::gossipsub::MessageId;

/// A gossip message id: the blake3 hash of the message's bytes, so the same bytes
/// have the same id whoever publishes them.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MsgId([u8; 32]);

impl MsgId {
    /// The id of a message with these bytes.
    pub fn of(data: &[u8]) -> Self {
        Self(*blake3::hash(data).as_bytes())
    }

    /// The hash bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// gossipsub's form of the id.
    pub(crate) fn to_gossipsub(self) -> MessageId {
        MessageId::new(&self.0)
    }

    /// Reads back gossipsub's form; `None` for ids this node did not compute.
    pub(crate) fn from_gossipsub(id: &MessageId) -> Option<Self> {
        <[u8; 32]>::try_from(id.0.as_slice()).ok().map(Self)
    }
}

impl fmt::Display for MsgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for MsgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MsgId({self})")
    }
}
