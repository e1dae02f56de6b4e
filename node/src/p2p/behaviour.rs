//! The libp2p stack: transport, behaviours and their settings.

use std::time::Duration;

use libp2p::gossipsub::{self, IdentTopic, MessageAuthenticity, ValidationMode};
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::NetworkBehaviour;
use libp2p::{allow_block_list, connection_limits, identity, noise, tcp, yamux, PeerId, Swarm};

use super::config::P2pConfig;
use super::error::{P2pError, Result};
use super::msg_id::MsgId;
use super::sync::{protocol_name, SyncCodec};

/// Room on top of `max_message_bytes` for gossipsub's framing of one message (topic,
/// sequence number, author key and signature) and for control messages.
const GOSSIP_FRAME_OVERHEAD: usize = 64 * 1024;

/// Connections kept to one peer: one it dialed and one this node dialed, since both
/// sides dial their bootstrap peers.
const MAX_CONNECTIONS_PER_PEER: u32 = 2;

/// How long a connection without traffic stays open. Validators keep connections to
/// each other, so idle ones are kept for long; the dialer reconnects those that close.
const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(3600);

/// The behaviours, in the order they see each new connection: the allow list and the
/// limits first, so a refused connection never reaches gossip or sync.
#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    pub(crate) allow: allow_block_list::Behaviour<allow_block_list::AllowedPeers>,
    pub(crate) limits: connection_limits::Behaviour,
    pub(crate) gossipsub: gossipsub::Behaviour,
    pub(crate) sync: request_response::Behaviour<SyncCodec>,
}

fn setup(reason: &impl ToString) -> P2pError {
    P2pError::Setup {
        reason: reason.to_string(),
    }
}

fn gossipsub_config(config: &P2pConfig) -> Result<gossipsub::Config> {
    gossipsub::ConfigBuilder::default()
        // No author, signature or sequence number on a message: every peer is on the
        // allow list and its connection authenticated by Noise, and what gossip
        // carries signs itself (a transaction by its account, a proposal or vote by
        // its validator, evidence by both offences). A libp2p signature would cost a
        // signing per message published and a check per copy received, and prove
        // nothing the content does not.
        .validation_mode(ValidationMode::Anonymous)
        // Nothing is forwarded before the node reports it valid.
        .validate_messages()
        // Content-addressed ids: the same bytes are one message, whoever relays them.
        .message_id_fn(|message: &gossipsub::Message| MsgId::of(&message.data).to_gossipsub())
        .max_transmit_size(
            config
                .max_message_bytes
                .saturating_add(GOSSIP_FRAME_OVERHEAD),
        )
        .build()
        .map_err(|e| setup(&e))
}

/// Builds the swarm for `config` with the identity `local`, the allow list of
/// `allowed` peers, and both topics subscribed.
pub(crate) fn build_swarm(
    config: &P2pConfig,
    local: identity::Keypair,
    allowed: impl IntoIterator<Item = PeerId>,
    topics: &[IdentTopic],
) -> Result<Swarm<Behaviour>> {
    let mut allow = allow_block_list::Behaviour::<allow_block_list::AllowedPeers>::default();
    for peer in allowed {
        allow.allow_peer(peer);
    }
    let limits = connection_limits::Behaviour::new(
        connection_limits::ConnectionLimits::default()
            .with_max_established(Some(config.max_connections))
            .with_max_pending_incoming(Some(config.max_pending_connections))
            .with_max_pending_outgoing(Some(config.max_pending_connections))
            .with_max_established_per_peer(Some(MAX_CONNECTIONS_PER_PEER)),
    );
    let mut gossipsub =
        gossipsub::Behaviour::new(MessageAuthenticity::Anonymous, gossipsub_config(config)?)
            .map_err(|e| setup(&e))?;
    for topic in topics {
        gossipsub.subscribe(topic).map_err(|e| setup(&e))?;
    }
    let protocol = protocol_name(&config.chain_id).map_err(|e| setup(&e))?;
    let sync = request_response::Behaviour::with_codec(
        SyncCodec {
            max_response_bytes: config.max_response_bytes,
        },
        [(protocol, ProtocolSupport::Full)],
        request_response::Config::default().with_request_timeout(config.request_timeout),
    );
    let behaviour = Behaviour {
        allow,
        limits,
        gossipsub,
        sync,
    };
    let transport = libp2p::SwarmBuilder::with_existing_identity(local)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| setup(&e))?
        // `/dns4/…`, `/dns6/…` and `/dns/…` addresses (peers named by DNS in containers
        // and clusters), resolved with the system's resolver configuration.
        .with_dns()
        .map_err(|e| setup(&e))?;
    let builder = match transport.with_behaviour(move |_| behaviour) {
        Ok(builder) => builder,
        Err(never) => match never {},
    };
    Ok(builder
        .with_swarm_config(|swarm| swarm.with_idle_connection_timeout(IDLE_CONNECTION_TIMEOUT))
        .build())
}
