//! Errors of the p2p layer.

use accord_types::PublicKey;

use super::msg_id::MsgId;

/// What can go wrong in the p2p layer, each with what to do about it.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum P2pError {
    /// A public key that libp2p cannot use as an ed25519 identity.
    #[error("public key {key} is not a valid ed25519 point and cannot be a p2p identity; check the key in the chain spec or configuration")]
    InvalidKey {
        /// The key.
        key: PublicKey,
    },
    /// The node's own secret key was refused by libp2p.
    #[error("the node's p2p secret key was refused: {reason}; regenerate the key file with `accord key generate`")]
    InvalidSecret {
        /// libp2p's reason.
        reason: String,
    },
    /// The configuration is inconsistent.
    #[error("invalid p2p configuration: {field}: {reason}")]
    Config {
        /// The configuration field at fault.
        field: &'static str,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A multiaddress in the configuration or chain spec does not parse.
    #[error("{what} {addr:?} is not a multiaddress ({reason}); expected one such as /ip4/127.0.0.1/tcp/30301")]
    InvalidAddress {
        /// Which address.
        what: String,
        /// The text given.
        addr: String,
        /// The parser's reason.
        reason: String,
    },
    /// The transport or behaviours could not be built.
    #[error("cannot build the libp2p stack: {reason}")]
    Setup {
        /// The underlying reason.
        reason: String,
    },
    /// The listen address could not be bound.
    #[error(
        "cannot listen on {addr}: {reason}; check that the address is local and the port is free"
    )]
    Listen {
        /// The address.
        addr: String,
        /// The underlying reason.
        reason: String,
    },
    /// No peer is subscribed to the topic, so a publication would reach nobody. The
    /// message was not queued: retry once a peer is up (see `NetEvent::PeerUp`).
    #[error("no connected peer is subscribed to {topic}; the message was not sent, retry once a peer is connected")]
    NoPeers {
        /// The topic.
        topic: String,
    },
    /// The same bytes were published or received recently: gossip ids are the blake3
    /// of the data, and the network already carries this message.
    #[error("message {id} was already published or received recently; it is not sent twice")]
    Duplicate {
        /// The message id.
        id: MsgId,
    },
    /// A message exceeds the configured gossip size limit.
    #[error("message of {len} bytes exceeds the gossip limit of {max} bytes (max_message_bytes)")]
    MessageTooLarge {
        /// The message's size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Gossipsub refused the publication for another reason.
    #[error("cannot publish on {topic}: {reason}")]
    Publish {
        /// The topic.
        topic: String,
        /// gossipsub's reason.
        reason: String,
    },
    /// A request names a peer outside the allow list.
    #[error("peer {peer} is not in the allow list; only the chain spec's validators and configured observers can be reached")]
    UnknownPeer {
        /// The peer.
        peer: PublicKey,
    },
    /// A sync request is malformed (for instance an empty or too long block range).
    #[error("invalid sync request: {reason}")]
    InvalidRequest {
        /// What is wrong.
        reason: String,
    },
    /// A sync request failed on the way: the peer could not be reached, the
    /// connection closed, or no answer came in time.
    #[error("sync request to {peer} failed: {reason}")]
    Request {
        /// The peer asked.
        peer: PublicKey,
        /// What happened.
        reason: String,
    },
    /// The peer's answer was malformed, too large, or does not answer the request.
    #[error("bad sync response from {peer}: {reason}")]
    BadResponse {
        /// The peer that answered.
        peer: PublicKey,
        /// What is wrong with it.
        reason: String,
    },
    /// The peer answered with an error of its own.
    #[error("peer {peer} refused the sync request: {reason}")]
    Refused {
        /// The peer that answered.
        peer: PublicKey,
        /// The peer's message.
        reason: String,
    },
    /// The p2p task has stopped (after `shutdown`, or because it failed).
    #[error("the p2p task has stopped")]
    Stopped,
}

impl P2pError {
    /// Whether the error says only that nothing was sent because nobody would have
    /// received it or everybody already has it, which a publisher may ignore.
    pub fn is_benign(&self) -> bool {
        matches!(self, Self::NoPeers { .. } | Self::Duplicate { .. })
    }
}

/// The p2p layer's result type.
pub type Result<T, E = P2pError> = std::result::Result<T, E>;
