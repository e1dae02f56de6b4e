//! What the rest of the node sees of the p2p task: the handle it calls, the events it
//! receives, and the messages that carry both over channels.

use std::fmt;
use std::time::Duration;

use accord_types::PublicKey;
use libp2p::gossipsub::MessageAcceptance;
use libp2p::request_response::ResponseChannel;
use libp2p::Multiaddr;
use tokio::sync::{mpsc, oneshot};

use super::error::{P2pError, Result};
pub use super::msg_id::MsgId;
use super::sync::{SyncRequest, SyncResponse};

/// A gossip topic. Each is named after the chain id: `accord/<chain-id>/tx/2` and
/// `accord/<chain-id>/consensus/1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Topic {
    /// Signed transactions on their way to every mempool.
    Transactions,
    /// Consensus proposals, votes and evidence.
    Consensus,
}

impl Topic {
    /// Both topics.
    pub const ALL: [Topic; 2] = [Topic::Transactions, Topic::Consensus];

    /// The topic's name on the chain `chain`.
    pub fn name(self, chain: &accord_types::ChainId) -> String {
        // The version moves with the content's format: a transactions message is a
        // batch since version 2.
        let (short, version) = match self {
            Self::Transactions => ("tx", 2),
            Self::Consensus => ("consensus", 1),
        };
        format!("accord/{chain}/{short}/{version}")
    }
}

/// What the node decided about a gossip message it received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Valid: forward it to the other peers.
    Accept,
    /// Invalid: drop it and do not forward it.
    Reject,
    /// Neither forwarded nor held against the sender (for instance a transaction
    /// the mempool already holds, or a vote for a height long past).
    Ignore,
}

impl From<Verdict> for MessageAcceptance {
    fn from(verdict: Verdict) -> Self {
        match verdict {
            Verdict::Accept => Self::Accept,
            Verdict::Reject => Self::Reject,
            Verdict::Ignore => Self::Ignore,
        }
    }
}

/// What the p2p task tells the node.
#[derive(Debug)]
pub enum NetEvent {
    /// A gossip message arrived. It is forwarded to other peers only after
    /// [`P2pHandle::report`] with [`Verdict::Accept`]; every message should get a
    /// verdict (one that gets none is dropped when it leaves gossipsub's cache).
    Gossip {
        /// The topic it came on.
        topic: Topic,
        /// The peer that passed it to this node: pass it back to [`P2pHandle::report`].
        from: PublicKey,
        /// The message id, for [`P2pHandle::report`].
        id: MsgId,
        /// The message's bytes, at most `max_message_bytes`.
        data: Vec<u8>,
    },
    /// A peer asks for blocks; answer through `reply`.
    SyncRequest {
        /// The peer asking.
        from: PublicKey,
        /// The request, already checked by [`SyncRequest::check`].
        request: SyncRequest,
        /// Where the answer goes.
        reply: ReplyHandle,
    },
    /// The first connection to a peer is up.
    PeerUp(PublicKey),
    /// The last connection to a peer closed.
    PeerDown(PublicKey),
}

/// The way back to a peer that sent a sync request. Answer once with
/// [`ReplyHandle::send`]; a handle dropped unanswered sends an error response, so the
/// peer is never left waiting for its timeout.
pub struct ReplyHandle {
    channel: Option<ResponseChannel<SyncResponse>>,
    control: mpsc::UnboundedSender<Control>,
}

impl ReplyHandle {
    pub(crate) fn new(
        channel: ResponseChannel<SyncResponse>,
        control: mpsc::UnboundedSender<Control>,
    ) -> Self {
        Self {
            channel: Some(channel),
            control,
        }
    }

    /// Sends the answer. If the p2p task has stopped or the peer has gone, the answer
    /// is dropped.
    pub fn send(mut self, response: SyncResponse) {
        if let Some(channel) = self.channel.take() {
            let _ = self.control.send(Control::Reply {
                channel,
                response: Box::new(response),
            });
        }
    }
}

impl Drop for ReplyHandle {
    fn drop(&mut self) {
        if let Some(channel) = self.channel.take() {
            let response = SyncResponse::error("the node dropped the request without answering");
            let _ = self.control.send(Control::Reply {
                channel,
                response: Box::new(response),
            });
        }
    }
}

impl fmt::Debug for ReplyHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplyHandle")
            .field("answered", &self.channel.is_none())
            .finish()
    }
}

/// The dialing state of one bootstrap peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootstrapStatus {
    /// The peer.
    pub key: PublicKey,
    /// Where it is dialed.
    pub addr: Multiaddr,
    /// Whether a connection to it is up.
    pub connected: bool,
    /// Failed dials and connections that closed before they were stable, since the
    /// last stable connection.
    pub failures: u32,
    /// When the next dial is due, if one is scheduled.
    pub next_dial_in: Option<Duration>,
}

/// Requests that wait for an answer from the p2p task.
#[derive(Debug)]
pub(crate) enum Command {
    Publish {
        topic: Topic,
        data: Vec<u8>,
        done: oneshot::Sender<Result<MsgId>>,
    },
    Request {
        peer: PublicKey,
        request: SyncRequest,
        done: oneshot::Sender<Result<SyncResponse>>,
    },
    Peers {
        done: oneshot::Sender<Vec<PublicKey>>,
    },
    MeshPeers {
        topic: Topic,
        done: oneshot::Sender<Vec<PublicKey>>,
    },
    ListenAddrs {
        done: oneshot::Sender<Vec<Multiaddr>>,
    },
    Bootstrap {
        done: oneshot::Sender<Vec<BootstrapStatus>>,
    },
    SetValidators {
        peers: Vec<(PublicKey, Multiaddr)>,
        done: oneshot::Sender<Result<()>>,
    },
    Shutdown {
        done: oneshot::Sender<()>,
    },
}

/// Messages that need no answer and must be sendable from synchronous code.
#[derive(Debug)]
pub(crate) enum Control {
    Report {
        id: MsgId,
        from: PublicKey,
        verdict: Verdict,
    },
    Reply {
        channel: ResponseChannel<SyncResponse>,
        response: Box<SyncResponse>,
    },
}

/// The node's handle on the p2p task. Cheap to clone; every clone talks to the same
/// task. The task stops on [`P2pHandle::shutdown`] or when every handle is dropped.
#[derive(Debug, Clone)]
pub struct P2pHandle {
    local: PublicKey,
    commands: mpsc::Sender<Command>,
    control: mpsc::UnboundedSender<Control>,
}

impl P2pHandle {
    pub(crate) fn new(
        local: PublicKey,
        commands: mpsc::Sender<Command>,
        control: mpsc::UnboundedSender<Control>,
    ) -> Self {
        Self {
            local,
            commands,
            control,
        }
    }

    /// This node's p2p public key.
    pub fn local_key(&self) -> PublicKey {
        self.local
    }

    async fn ask<T>(&self, command: impl FnOnce(oneshot::Sender<T>) -> Command) -> Option<T> {
        let (done, answer) = oneshot::channel();
        self.commands.send(command(done)).await.ok()?;
        answer.await.ok()
    }

    /// Publishes `data` on `topic` and returns its id.
    ///
    /// Nothing is queued: when no connected peer subscribes to the topic the message
    /// is not sent and [`P2pError::NoPeers`] says so; when the same bytes went out or
    /// came in recently, [`P2pError::Duplicate`]. Both are
    /// [`is_benign`](P2pError::is_benign); the caller decides whether to retry.
    pub async fn publish(&self, topic: Topic, data: Vec<u8>) -> Result<MsgId> {
        self.ask(|done| Command::Publish { topic, data, done })
            .await
            .unwrap_or(Err(P2pError::Stopped))
    }

    /// Reports the verdict on a received gossip message; `from` is the event's `from`.
    /// Only accepted messages are forwarded.
    pub fn report(&self, id: MsgId, from: PublicKey, verdict: Verdict) {
        let _ = self.control.send(Control::Report { id, from, verdict });
    }

    /// Asks `peer` a sync question. The peer must be in the allow list; it is dialed
    /// if not connected. Errors: an invalid request, an unreachable peer, a timeout,
    /// a malformed or oversized answer, one that does not answer the question, and a
    /// [`SyncResponse::Error`] from the peer ([`P2pError::Refused`]).
    pub async fn request(&self, peer: PublicKey, request: SyncRequest) -> Result<SyncResponse> {
        request
            .check()
            .map_err(|reason| P2pError::InvalidRequest { reason })?;
        self.ask(|done| Command::Request {
            peer,
            request,
            done,
        })
        .await
        .unwrap_or(Err(P2pError::Stopped))
    }

    /// The peers with at least one open connection.
    pub async fn peers(&self) -> Vec<PublicKey> {
        self.ask(|done| Command::Peers { done })
            .await
            .unwrap_or_default()
    }

    /// The peers this node exchanges full messages with on `topic` (its gossipsub
    /// mesh); a message this node accepts is forwarded to them.
    pub async fn mesh_peers(&self, topic: Topic) -> Vec<PublicKey> {
        self.ask(|done| Command::MeshPeers { topic, done })
            .await
            .unwrap_or_default()
    }

    /// The addresses the node listens on, with the bound port when the configuration
    /// asked for port 0. Waits until the listener has reported an address; empty if
    /// the listener failed or the task has stopped.
    pub async fn listen_addrs(&self) -> Vec<Multiaddr> {
        self.ask(|done| Command::ListenAddrs { done })
            .await
            .unwrap_or_default()
    }

    /// The dialing state of every bootstrap peer.
    pub async fn bootstrap_status(&self) -> Vec<BootstrapStatus> {
        self.ask(|done| Command::Bootstrap { done })
            .await
            .unwrap_or_default()
    }

    /// Makes the allow list and the dial schedule follow a new validator set: `peers`
    /// are the validators' p2p keys and addresses (this node's own is skipped). Keys
    /// that were allowed at start without being dialed (the spec's observers) stay
    /// allowed; a validator no longer in the set is disconnected and refused, a new one
    /// is allowed and dialed, and a moved one is dialed at its new address.
    pub async fn set_validators(&self, peers: Vec<(PublicKey, Multiaddr)>) -> Result<()> {
        self.ask(|done| Command::SetValidators { peers, done })
            .await
            .unwrap_or(Err(P2pError::Stopped))
    }

    /// Stops the task, closing the listener and every connection; returns once they
    /// are closed. Later calls on any clone return [`P2pError::Stopped`] or nothing.
    pub async fn shutdown(&self) {
        let _ = self.ask(|done| Command::Shutdown { done }).await;
    }
}
