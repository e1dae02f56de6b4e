//! The p2p task: one loop that owns the swarm and turns its events into
//! [`NetEvent`]s and the handle's commands into swarm calls.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::Instant;

use accord_types::PublicKey;
use futures::StreamExt;
use libp2p::gossipsub::{self, IdentTopic, MessageAcceptance, PublishError, TopicHash};
use libp2p::request_response::{self, OutboundFailure, OutboundRequestId, ResponseChannel};
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{DialError, SwarmEvent};
use libp2p::{Multiaddr, PeerId, Swarm};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, trace, warn};

use super::behaviour::{Behaviour, BehaviourEvent};
use super::dialer::Dialer;
use super::error::{P2pError, Result};
use super::ingress::{Command, Control, MsgId, NetEvent, ReplyHandle, Topic};
use super::peer_id_of;
use super::sync::{SyncRequest, SyncResponse};

const TARGET: &str = "accord::p2p";

/// A sync request on its way, and who waits for its answer.
pub(crate) struct Pending {
    peer: PublicKey,
    request: SyncRequest,
    done: oneshot::Sender<Result<SyncResponse>>,
}

/// Everything the task owns.
pub(crate) struct Actor {
    pub(crate) swarm: Swarm<Behaviour>,
    pub(crate) topics: Vec<(Topic, IdentTopic)>,
    /// The allowed peers' PeerIds and keys.
    pub(crate) keys: HashMap<PeerId, PublicKey>,
    pub(crate) peer_ids: HashMap<PublicKey, PeerId>,
    /// Allowed keys that no validator-set change removes (observers, this node).
    pub(crate) fixed: BTreeSet<PublicKey>,
    pub(crate) dialer: Dialer,
    pub(crate) max_message_bytes: usize,
    pub(crate) event_capacity: usize,
    pub(crate) events: mpsc::Sender<NetEvent>,
    pub(crate) commands: mpsc::Receiver<Command>,
    pub(crate) control: mpsc::UnboundedReceiver<Control>,
    /// Kept to hand out with each [`ReplyHandle`].
    pub(crate) control_tx: mpsc::UnboundedSender<Control>,
    pub(crate) pending_events: VecDeque<NetEvent>,
    pub(crate) consumer_gone: bool,
    pub(crate) requests: HashMap<OutboundRequestId, Pending>,
    pub(crate) listen_addrs: Vec<Multiaddr>,
    pub(crate) listening: bool,
    pub(crate) listen_waiters: Vec<oneshot::Sender<Vec<Multiaddr>>>,
}

impl Actor {
    /// Runs until [`Command::Shutdown`] or until every handle is dropped.
    pub(crate) async fn run(mut self) {
        let mut shutdown = None;
        self.dial_due();
        loop {
            let next_due = self.dialer.next_due();
            let dial_timer = async move {
                match next_due {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => futures::future::pending().await,
                }
            };
            let flush = !self.pending_events.is_empty() && !self.consumer_gone;
            // An owned permit, so that no borrow of `self` outlives the select.
            let events = self.events.clone();
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                command = self.commands.recv() => match command {
                    Some(Command::Shutdown { done }) => {
                        shutdown = Some(done);
                        break;
                    }
                    Some(command) => self.on_command(command),
                    None => break,
                },
                Some(control) = self.control.recv() => self.on_control(control),
                permit = events.reserve_owned(), if flush => match permit {
                    Ok(permit) => {
                        if let Some(event) = self.pending_events.pop_front() {
                            permit.send(event);
                        }
                    }
                    Err(_) => {
                        debug!(target: TARGET, "the node dropped its event receiver; events are discarded");
                        self.consumer_gone = true;
                        self.pending_events.clear();
                    }
                },
                () = dial_timer => self.dial_due(),
            }
        }
        info!(target: TARGET, "p2p task stopping");
        let Self { swarm, .. } = self;
        // Dropping the swarm closes the listener and every connection.
        drop(swarm);
        if let Some(done) = shutdown {
            let _ = done.send(());
        }
    }

    fn key_of(&self, peer: &PeerId) -> Option<PublicKey> {
        self.keys.get(peer).copied()
    }

    fn topic_of(&self, hash: &TopicHash) -> Option<Topic> {
        self.topics
            .iter()
            .find(|(_, topic)| topic.hash() == *hash)
            .map(|(topic, _)| *topic)
    }

    fn topic_hash(&self, topic: Topic) -> Option<TopicHash> {
        self.topics
            .iter()
            .find(|(t, _)| *t == topic)
            .map(|(_, ident)| ident.hash())
    }

    /// Queues an event that must reach the node (peer events).
    fn emit(&mut self, event: NetEvent) {
        if !self.consumer_gone {
            self.pending_events.push_back(event);
        }
    }

    /// Whether an event that may be dropped (gossip, a sync request) finds room.
    fn has_room(&self) -> bool {
        !self.consumer_gone && self.pending_events.len() < self.event_capacity
    }

    fn dial_due(&mut self) {
        let now = Instant::now();
        for (peer, addr) in self.dialer.take_due(now) {
            debug!(target: TARGET, %peer, %addr, "dialing bootstrap peer");
            let opts = DialOpts::peer_id(peer)
                .addresses(vec![addr])
                .condition(PeerCondition::DisconnectedAndNotDialing)
                // Each side dials the other; separate ports keep the two connections apart.
                .allocate_new_port()
                .build();
            match self.swarm.dial(opts) {
                Ok(()) => {}
                Err(DialError::DialPeerConditionFalse(_)) => {
                    // Connected already, or a dial is in flight whose outcome will be reported.
                    if self.swarm.is_connected(&peer) {
                        self.dialer.connected(&peer, now);
                    }
                }
                Err(error) => {
                    debug!(target: TARGET, %peer, %error, "cannot dial bootstrap peer");
                    self.dialer.dial_failed(&peer, now);
                }
            }
        }
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(event)) => self.on_gossip(event),
            SwarmEvent::Behaviour(BehaviourEvent::Sync(event)) => self.on_sync(event),
            SwarmEvent::ConnectionEstablished {
                peer_id,
                endpoint,
                num_established,
                ..
            } => {
                debug!(target: TARGET, peer = %peer_id, addr = %endpoint.get_remote_address(), "connection established");
                self.dialer.connected(&peer_id, Instant::now());
                if num_established.get() == 1 {
                    if let Some(key) = self.key_of(&peer_id) {
                        info!(target: TARGET, peer = %key, "peer up");
                        self.emit(NetEvent::PeerUp(key));
                    }
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established,
                cause,
                ..
            } => {
                debug!(target: TARGET, peer = %peer_id, cause = ?cause, "connection closed");
                if num_established == 0 {
                    self.dialer.disconnected(&peer_id, Instant::now());
                    if let Some(key) = self.key_of(&peer_id) {
                        info!(target: TARGET, peer = %key, "peer down");
                        self.emit(NetEvent::PeerDown(key));
                    }
                }
            }
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                debug!(target: TARGET, peer = ?peer_id, %error, "dial failed");
                if let Some(peer) = peer_id {
                    self.dialer.dial_failed(&peer, Instant::now());
                }
            }
            SwarmEvent::IncomingConnectionError {
                send_back_addr,
                error,
                peer_id,
                ..
            } => {
                debug!(target: TARGET, addr = %send_back_addr, peer = ?peer_id, %error, "incoming connection refused or failed");
            }
            SwarmEvent::NewListenAddr { address, .. } => {
                info!(target: TARGET, %address, "listening");
                self.listen_addrs.push(address);
                self.answer_listen_waiters();
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                self.listen_addrs.retain(|a| *a != address);
            }
            SwarmEvent::ListenerClosed { reason, .. } => {
                warn!(target: TARGET, reason = ?reason, "listener closed");
                self.listening = false;
                self.listen_addrs.clear();
                self.answer_listen_waiters();
            }
            SwarmEvent::ListenerError { error, .. } => {
                warn!(target: TARGET, %error, "listener error");
            }
            other => trace!(target: TARGET, event = ?other, "swarm event"),
        }
    }

    fn answer_listen_waiters(&mut self) {
        if !self.listen_addrs.is_empty() || !self.listening {
            for waiter in self.listen_waiters.drain(..) {
                let _ = waiter.send(self.listen_addrs.clone());
            }
        }
    }

    fn report(&mut self, id: &gossipsub::MessageId, from: &PeerId, verdict: MessageAcceptance) {
        self.swarm
            .behaviour_mut()
            .gossipsub
            .report_message_validation_result(id, from, verdict);
    }

    fn on_gossip(&mut self, event: gossipsub::Event) {
        match event {
            gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            } => {
                let topic = self.topic_of(&message.topic);
                let id = MsgId::from_gossipsub(&message_id);
                let from = self.key_of(&propagation_source);
                let (Some(topic), Some(id), Some(from)) = (topic, id, from) else {
                    debug!(target: TARGET, peer = %propagation_source, "gossip without a known topic, id or sender; rejected");
                    self.report(&message_id, &propagation_source, MessageAcceptance::Reject);
                    return;
                };
                if message.data.len() > self.max_message_bytes {
                    debug!(target: TARGET, peer = %from, len = message.data.len(), "oversized gossip rejected");
                    self.report(&message_id, &propagation_source, MessageAcceptance::Reject);
                    return;
                }
                if !self.has_room() {
                    warn!(target: TARGET, %id, "event queue full; gossip message dropped");
                    self.report(&message_id, &propagation_source, MessageAcceptance::Ignore);
                    return;
                }
                trace!(target: TARGET, %id, peer = %from, ?topic, "gossip received");
                self.pending_events.push_back(NetEvent::Gossip {
                    topic,
                    from,
                    id,
                    data: message.data,
                });
            }
            gossipsub::Event::Subscribed { peer_id, topic } => {
                debug!(target: TARGET, peer = %peer_id, %topic, "peer subscribed");
            }
            gossipsub::Event::Unsubscribed { peer_id, topic } => {
                debug!(target: TARGET, peer = %peer_id, %topic, "peer unsubscribed");
            }
            gossipsub::Event::GossipsubNotSupported { peer_id } => {
                warn!(target: TARGET, peer = %peer_id, "peer does not speak gossipsub");
            }
            gossipsub::Event::SlowPeer {
                peer_id,
                failed_messages,
            } => {
                warn!(target: TARGET, peer = %peer_id, ?failed_messages, "peer is too slow to take our messages");
            }
        }
    }

    fn respond(&mut self, channel: ResponseChannel<SyncResponse>, response: SyncResponse) {
        if self
            .swarm
            .behaviour_mut()
            .sync
            .send_response(channel, response)
            .is_err()
        {
            debug!(target: TARGET, "sync response not sent: the request timed out or its connection closed");
        }
    }

    fn on_sync(&mut self, event: request_response::Event<SyncRequest, SyncResponse>) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => self.on_sync_request(peer, request, channel),
                request_response::Message::Response {
                    request_id,
                    response,
                } => {
                    let Some(pending) = self.requests.remove(&request_id) else {
                        return;
                    };
                    let result = match response {
                        SyncResponse::Error(reason) => Err(P2pError::Refused {
                            peer: pending.peer,
                            reason,
                        }),
                        response => match pending.request.check_response(&response) {
                            Ok(()) => Ok(response),
                            Err(reason) => Err(P2pError::BadResponse {
                                peer: pending.peer,
                                reason,
                            }),
                        },
                    };
                    let _ = pending.done.send(result);
                }
            },
            request_response::Event::OutboundFailure {
                request_id, error, ..
            } => {
                let Some(pending) = self.requests.remove(&request_id) else {
                    return;
                };
                debug!(target: TARGET, peer = %pending.peer, %error, "sync request failed");
                let error = match error {
                    OutboundFailure::Io(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                        P2pError::BadResponse {
                            peer: pending.peer,
                            reason: e.to_string(),
                        }
                    }
                    other => P2pError::Request {
                        peer: pending.peer,
                        reason: other.to_string(),
                    },
                };
                let _ = pending.done.send(Err(error));
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                debug!(target: TARGET, %peer, %error, "inbound sync request failed");
            }
            request_response::Event::ResponseSent { peer, .. } => {
                trace!(target: TARGET, %peer, "sync response sent");
            }
        }
    }

    fn on_sync_request(
        &mut self,
        peer: PeerId,
        request: SyncRequest,
        channel: ResponseChannel<SyncResponse>,
    ) {
        let Some(from) = self.key_of(&peer) else {
            // The allow list admits only known peers; answer nothing to anyone else.
            return;
        };
        if let Err(reason) = request.check() {
            self.respond(channel, SyncResponse::error(reason));
            return;
        }
        if !self.has_room() {
            warn!(target: TARGET, peer = %from, "event queue full; sync request refused");
            self.respond(
                channel,
                SyncResponse::error("the node is busy; retry the request later"),
            );
            return;
        }
        let reply = ReplyHandle::new(channel, self.control_tx.clone());
        self.pending_events.push_back(NetEvent::SyncRequest {
            from,
            request,
            reply,
        });
    }

    fn on_control(&mut self, control: Control) {
        match control {
            Control::Report { id, from, verdict } => {
                let Some(peer) = self.peer_ids.get(&from).copied() else {
                    debug!(target: TARGET, peer = %from, %id, "verdict for a message from an unknown peer ignored");
                    return;
                };
                self.report(&id.to_gossipsub(), &peer, verdict.into());
            }
            Control::Reply { channel, response } => self.respond(channel, *response),
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Publish { topic, data, done } => {
                let _ = done.send(self.publish(topic, data));
            }
            Command::Request {
                peer,
                request,
                done,
            } => {
                let Some(peer_id) = self.peer_ids.get(&peer).copied() else {
                    let _ = done.send(Err(P2pError::UnknownPeer { peer }));
                    return;
                };
                let request_id = self
                    .swarm
                    .behaviour_mut()
                    .sync
                    .send_request(&peer_id, request.clone());
                self.requests.insert(
                    request_id,
                    Pending {
                        peer,
                        request,
                        done,
                    },
                );
            }
            Command::Peers { done } => {
                let peers = self
                    .swarm
                    .connected_peers()
                    .filter_map(|p| self.key_of(p))
                    .collect();
                let _ = done.send(peers);
            }
            Command::MeshPeers { topic, done } => {
                let peers = match self.topic_hash(topic) {
                    Some(hash) => self
                        .swarm
                        .behaviour()
                        .gossipsub
                        .mesh_peers(&hash)
                        .filter_map(|p| self.key_of(p))
                        .collect(),
                    None => Vec::new(),
                };
                let _ = done.send(peers);
            }
            Command::ListenAddrs { done } => {
                self.listen_waiters.push(done);
                self.answer_listen_waiters();
            }
            Command::Bootstrap { done } => {
                let _ = done.send(self.dialer.status(Instant::now()));
            }
            Command::SetValidators { peers, done } => {
                let _ = done.send(self.set_validators(peers));
            }
            Command::Shutdown { done } => {
                // Handled by the loop; answered here only if it ever arrives otherwise.
                let _ = done.send(());
            }
        }
    }

    fn set_validators(&mut self, peers: Vec<(PublicKey, Multiaddr)>) -> Result<()> {
        let local = *self.swarm.local_peer_id();
        let mut wanted: BTreeMap<PublicKey, (PeerId, Option<Multiaddr>)> = BTreeMap::new();
        for key in &self.fixed {
            wanted.insert(*key, (peer_id_of(key)?, None));
        }
        for (key, addr) in peers {
            let peer = peer_id_of(&key)?;
            if peer != local {
                wanted.insert(key, (peer, Some(addr)));
            }
        }
        let gone: Vec<(PublicKey, PeerId)> = self
            .peer_ids
            .iter()
            .filter(|(key, _)| !wanted.contains_key(key))
            .map(|(key, peer)| (*key, *peer))
            .collect();
        for (key, peer) in gone {
            info!(target: TARGET, peer = %key, "no longer a validator: disconnected and refused");
            self.swarm.behaviour_mut().allow.disallow_peer(peer);
            self.keys.remove(&peer);
            self.peer_ids.remove(&key);
            self.dialer.remove(&peer);
        }
        let now = Instant::now();
        for (key, (peer, addr)) in wanted {
            if self.peer_ids.insert(key, peer).is_none() {
                info!(target: TARGET, peer = %key, "a new validator: allowed");
                self.keys.insert(peer, key);
                self.swarm.behaviour_mut().allow.allow_peer(peer);
            }
            if let Some(addr) = addr {
                if self.dialer.upsert(peer, key, addr.clone(), now) {
                    self.swarm.add_peer_address(peer, addr);
                }
            }
        }
        self.dial_due();
        Ok(())
    }

    fn publish(&mut self, topic: Topic, data: Vec<u8>) -> Result<MsgId> {
        let max = self.max_message_bytes;
        if data.len() > max {
            return Err(P2pError::MessageTooLarge {
                len: data.len(),
                max,
            });
        }
        let Some(hash) = self.topic_hash(topic) else {
            return Err(P2pError::Publish {
                topic: format!("{topic:?}"),
                reason: "the topic is not subscribed".into(),
            });
        };
        let id = MsgId::of(&data);
        let len = data.len();
        match self
            .swarm
            .behaviour_mut()
            .gossipsub
            .publish(hash.clone(), data)
        {
            Ok(_) => {
                trace!(target: TARGET, %id, ?topic, "published");
                Ok(id)
            }
            Err(PublishError::NoPeersSubscribedToTopic) => Err(P2pError::NoPeers {
                topic: hash.to_string(),
            }),
            Err(PublishError::Duplicate) => Err(P2pError::Duplicate { id }),
            Err(PublishError::MessageTooLarge) => Err(P2pError::MessageTooLarge { len, max }),
            Err(PublishError::AllQueuesFull(peers)) => Err(P2pError::Publish {
                topic: hash.to_string(),
                reason: format!("the send queues of all {peers} peers are full; retry later"),
            }),
            Err(other) => Err(P2pError::Publish {
                topic: hash.to_string(),
                reason: other.to_string(),
            }),
        }
    }
}
