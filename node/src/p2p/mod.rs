//! The node's network: libp2p over TCP, Noise and Yamux, with gossip for
//! transactions and consensus messages and request-response for block sync, open only
//! to the peers the chain spec allows.
//!
//! # Design
//!
//! One tokio task owns the libp2p swarm. The rest of the node talks to it through
//! channels only: a cloneable [`P2pHandle`] to publish, judge gossip, ask peers for
//! blocks and inspect the network, and one receiver of [`NetEvent`]s.
//!
//! ```text
//!  consensus task ───┐ publish / report / request        ┌──────────── p2p task ───────────┐
//!  mempool ──────────┼──────── P2pHandle ──(commands)───►│ allow list ─ connection limits   │
//!  block sync ───────┘                                   │ gossipsub (tx, consensus topics) │◄─► TCP+Noise+Yamux
//!        ▲                                               │ request-response (sync, borsh)   │    peers
//!        └────────────── NetEvent (gossip, sync          │ dialer (bootstrap, backoff)      │
//!                        requests, peer up/down) ◄───────└──────────────────────────────────┘
//! ```
//!
//! - **Identity.** The node's ed25519 p2p key ([`accord_types::Keypair`]) is its libp2p
//!   identity; at the boundary peers are [`PublicKey`]s, inside they are PeerIds
//!   ([`peer_id_of`]).
//! - **Who may connect.** An allow list holds the PeerIds of the chain spec's
//!   validators and observers; a connection from or to anyone else is refused as soon
//!   as the Noise handshake has named the peer, before gossip or sync see it.
//!   Connections are capped in total, at two per peer (one each way), and while in
//!   their handshake (`max_pending_connections` each way: more are closed at once).
//! - **Gossip.** Two gossipsub topics per chain, `accord/<chain-id>/tx/2` and
//!   `accord/<chain-id>/consensus/1` (a transactions message is a batch of them,
//!   `mempool::gossip`). Messages carry no author signature (peers are allow-listed
//!   behind Noise, and what they carry is signed by its own author); message ids are the blake3 of the data, so the same bytes are one
//!   message whoever relays them. A received message is held until the node reports
//!   a [`Verdict`]: only accepted messages are forwarded, so an invalid one stops at
//!   the first honest node. Publishing queues nothing: with no subscribed peer it
//!   fails with [`P2pError::NoPeers`] and the caller decides when to retry.
//! - **Block sync.** `/accord/<chain-id>/sync/1` carries one borsh [`SyncRequest`]
//!   and one [`SyncResponse`] per stream, decoded strictly with size caps; a response
//!   that is malformed, too large or does not answer its request is an error for
//!   that request only.
//! - **Staying connected.** Every bootstrap peer is dialed at start and, whenever it
//!   is disconnected, again after a delay that doubles from `backoff_initial` to
//!   `backoff_max` and starts over once a connection has stayed up `stable_after`.
//! - **Back-pressure.** Events wait in a bounded queue; when the node falls behind,
//!   new gossip is dropped (reported as ignored) and sync requests are answered with
//!   an error, while peer events are always delivered.
#![cfg_attr(
    not(test),
    warn(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod actor;
mod behaviour;
mod config;
mod dialer;
mod error;
mod ingress;
mod msg_id;
mod sync;

#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use accord_types::PublicKey;
use libp2p::gossipsub::IdentTopic;
use libp2p::{identity, PeerId};
use tokio::sync::mpsc;

pub use config::{P2pConfig, DEFAULT_MAX_MESSAGE_BYTES, MIN_MESSAGE_BYTES};
pub use error::{P2pError, Result};
pub use ingress::{BootstrapStatus, NetEvent, P2pHandle, ReplyHandle, Topic, Verdict};
pub use msg_id::MsgId;
pub use sync::{
    decode_request, decode_response, SyncRequest, SyncResponse, DEFAULT_MAX_RESPONSE_BYTES,
    MAX_BLOCKS_PER_REQUEST, MAX_ERROR_TEXT, MAX_REQUEST_BYTES, MIN_RESPONSE_BYTES,
};

use actor::Actor;
use dialer::{Backoff, Dialer};

/// Commands waiting for the task; callers wait when it is full.
const COMMAND_CAPACITY: usize = 256;

/// The libp2p PeerId of an ed25519 public key.
pub fn peer_id_of(key: &PublicKey) -> Result<PeerId> {
    let ed25519 = identity::ed25519::PublicKey::try_from_bytes(key.as_bytes())
        .map_err(|_| P2pError::InvalidKey { key: *key })?;
    Ok(PeerId::from_public_key(&identity::PublicKey::from(ed25519)))
}

/// The ed25519 public key a PeerId embeds, if it is one.
#[cfg(test)]
fn public_key_of(peer: &PeerId) -> Option<PublicKey> {
    let multihash: &libp2p::multihash::Multihash<64> = peer.as_ref();
    let key = identity::PublicKey::try_decode_protobuf(multihash.digest()).ok()?;
    let ed25519 = key.try_into_ed25519().ok()?;
    Some(PublicKey::from_bytes(ed25519.to_bytes()))
}

/// Starts the p2p task on the current tokio runtime: checks `config`, builds the
/// swarm, binds the listen address, subscribes both topics and starts dialing the
/// bootstrap peers. Returns the handle and the receiver of the node's events.
pub fn spawn(config: P2pConfig) -> Result<(P2pHandle, mpsc::Receiver<NetEvent>)> {
    config.check()?;
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| P2pError::Setup {
        reason: "the p2p task must be started from within a tokio runtime".into(),
    })?;

    let local_key = config.keypair.public();
    let mut secret = config.keypair.secret_bytes();
    let identity = identity::Keypair::ed25519_from_bytes(&mut secret).map_err(|e| {
        P2pError::InvalidSecret {
            reason: e.to_string(),
        }
    })?;

    let mut keys = HashMap::new();
    let mut peer_ids = HashMap::new();
    for key in &config.allowed {
        let peer = peer_id_of(key)?;
        keys.insert(peer, *key);
        peer_ids.insert(*key, peer);
    }
    let mut bootstrap = Vec::with_capacity(config.bootstrap.len());
    for (key, addr) in &config.bootstrap {
        bootstrap.push((peer_id_of(key)?, *key, addr.clone()));
    }
    // Allowed but never dialed (observers, and this node): kept across validator-set
    // changes.
    let fixed = config
        .allowed
        .iter()
        .filter(|key| !config.bootstrap.iter().any(|(b, _)| b == *key))
        .copied()
        .collect();

    let topics: Vec<(Topic, IdentTopic)> = Topic::ALL
        .iter()
        .map(|topic| (*topic, IdentTopic::new(topic.name(&config.chain_id))))
        .collect();
    let idents: Vec<IdentTopic> = topics.iter().map(|(_, ident)| ident.clone()).collect();

    let _guard = runtime.enter();
    let mut swarm = behaviour::build_swarm(&config, identity, keys.keys().copied(), &idents)?;
    let listen = config.listen.to_string();
    swarm
        .listen_on(config.listen)
        .map_err(|e| P2pError::Listen {
            addr: listen.clone(),
            reason: error_chain(&e),
        })?;
    for (peer, _, addr) in &bootstrap {
        swarm.add_peer_address(*peer, addr.clone());
    }

    let (events_tx, events_rx) = mpsc::channel(config.event_capacity);
    let (commands_tx, commands_rx) = mpsc::channel(COMMAND_CAPACITY);
    let (control_tx, control_rx) = mpsc::unbounded_channel();
    let backoff = Backoff {
        initial: config.backoff_initial,
        max: config.backoff_max,
        stable_after: config.stable_after,
    };
    let actor = Actor {
        swarm,
        topics,
        keys,
        peer_ids,
        fixed,
        dialer: Dialer::new(bootstrap, backoff, Instant::now()),
        max_message_bytes: config.max_message_bytes,
        event_capacity: config.event_capacity,
        events: events_tx,
        commands: commands_rx,
        control: control_rx,
        control_tx: control_tx.clone(),
        pending_events: VecDeque::new(),
        consumer_gone: false,
        requests: HashMap::new(),
        listen_addrs: Vec::new(),
        listening: true,
        listen_waiters: Vec::new(),
    };
    runtime.spawn(actor.run());
    tracing::info!(target: "accord::p2p", key = %local_key, %listen, "p2p task started");
    Ok((
        P2pHandle::new(local_key, commands_tx, control_tx),
        events_rx,
    ))
}

/// An error with every cause under it (libp2p's transport errors print nothing of
/// their own and keep the operating system's reason as a source).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut parts = Vec::new();
    let mut next = Some(error);
    while let Some(e) = next {
        let text = e.to_string();
        if !text.is_empty() && !parts.contains(&text) {
            parts.push(text);
        }
        next = e.source();
    }
    if parts.is_empty() {
        "no reason given".to_owned()
    } else {
        parts.join(": ")
    }
}
