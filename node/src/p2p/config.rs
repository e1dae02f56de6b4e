//! Configuration of the p2p task.

use std::collections::BTreeSet;
use std::time::Duration;

use accord_chain_spec::ChainSpec;
use accord_types::{ChainId, Keypair, PublicKey};
use libp2p::Multiaddr;

use super::error::{P2pError, Result};
use super::sync::{DEFAULT_MAX_RESPONSE_BYTES, MIN_RESPONSE_BYTES};

/// Default cap on one gossip message: a consensus proposal carries a whole block.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = accord_types::codec::MAX_BLOCK_BYTES;

/// Smallest gossip cap accepted, so that a vote always fits.
pub const MIN_MESSAGE_BYTES: usize = 1024;

/// Everything the p2p task needs. Build one with [`P2pConfig::new`] or
/// [`P2pConfig::from_chain_spec`] and adjust the public fields.
#[derive(Debug, Clone)]
pub struct P2pConfig {
    /// The node's p2p key; its public key is the node's identity on the network.
    pub keypair: Keypair,
    /// Where to listen, such as `/ip4/0.0.0.0/tcp/30301` (port 0 picks a free port).
    pub listen: Multiaddr,
    /// Peers to keep connections to: dialed at start and again, with backoff,
    /// whenever disconnected. Each must be in `allowed`.
    pub bootstrap: Vec<(PublicKey, Multiaddr)>,
    /// The only peers that may connect, in either direction: the chain spec's
    /// validators and observers.
    pub allowed: BTreeSet<PublicKey>,
    /// The chain; it names the gossip topics and the sync protocol.
    pub chain_id: ChainId,
    /// Most established connections in total.
    pub max_connections: u32,
    /// Most connections still in their handshake (each way): a connection over it is
    /// closed at once, so half-open connections cannot take the node's descriptors.
    pub max_pending_connections: u32,
    /// Largest gossip message, in bytes (published and received).
    pub max_message_bytes: usize,
    /// Largest sync response, in bytes (sent and received).
    pub max_response_bytes: usize,
    /// How long a sync request may take before it fails.
    pub request_timeout: Duration,
    /// First delay before re-dialing a bootstrap peer.
    pub backoff_initial: Duration,
    /// Longest delay between dials of a bootstrap peer; the delay doubles up to it.
    pub backoff_max: Duration,
    /// A connection that stays up this long resets the dial delay to
    /// `backoff_initial`; one that closes sooner counts as a failure, so a peer that
    /// accepts and at once drops connections is dialed ever more rarely.
    pub stable_after: Duration,
    /// Capacity of the event channel to the node. Gossip and sync requests that find
    /// it full are dropped (gossip as [`Verdict::Ignore`](super::Verdict::Ignore),
    /// requests with an error answer); peer events always wait their turn.
    pub event_capacity: usize,
}

impl P2pConfig {
    /// A configuration with the defaults: no bootstrap peers and an empty allow
    /// list (so nobody may connect until keys are added).
    pub fn new(keypair: Keypair, listen: Multiaddr, chain_id: ChainId) -> Self {
        Self {
            keypair,
            listen,
            bootstrap: Vec::new(),
            allowed: BTreeSet::new(),
            chain_id,
            max_connections: 128,
            max_pending_connections: 32,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            request_timeout: Duration::from_secs(10),
            backoff_initial: Duration::from_millis(250),
            backoff_max: Duration::from_secs(30),
            stable_after: Duration::from_secs(5),
            event_capacity: 1024,
        }
    }

    /// A configuration for a node of `spec`: every validator's and observer's p2p key
    /// is allowed, every other validator is a bootstrap peer at its `listen_addr`.
    pub fn from_chain_spec(spec: &ChainSpec, keypair: Keypair, listen: Multiaddr) -> Result<Self> {
        let own = keypair.public();
        let mut config = Self::new(keypair, listen, spec.chain_id().clone());
        config.allowed = spec.peer_keys().copied().collect();
        for validator in spec.validators() {
            if validator.p2p_key == own {
                continue;
            }
            let addr = validator.listen_addr.parse::<Multiaddr>().map_err(|e| {
                P2pError::InvalidAddress {
                    what: format!("listen_addr of validator {}", validator.name),
                    addr: validator.listen_addr.clone(),
                    reason: e.to_string(),
                }
            })?;
            config.bootstrap.push((validator.p2p_key, addr));
        }
        Ok(config)
    }

    /// Checks the configuration, naming the field at fault.
    pub fn check(&self) -> Result<()> {
        let own = self.keypair.public();
        let mut seen = BTreeSet::new();
        for (key, addr) in &self.bootstrap {
            if *key == own {
                return Err(P2pError::Config {
                    field: "bootstrap",
                    reason: format!("lists this node's own key {key} (at {addr}); remove it"),
                });
            }
            if !self.allowed.contains(key) {
                return Err(P2pError::Config {
                    field: "bootstrap",
                    reason: format!(
                        "peer {key} at {addr} is not in the allow list; add it to `allowed` or remove it"
                    ),
                });
            }
            if !seen.insert(*key) {
                return Err(P2pError::Config {
                    field: "bootstrap",
                    reason: format!("peer {key} is listed twice; keep one address per peer"),
                });
            }
        }
        if self.max_connections == 0 {
            return Err(P2pError::Config {
                field: "max_connections",
                reason: "must be at least 1".into(),
            });
        }
        if self.max_pending_connections == 0 {
            return Err(P2pError::Config {
                field: "max_pending_connections",
                reason: "must be at least 1".into(),
            });
        }
        if self.max_message_bytes < MIN_MESSAGE_BYTES {
            return Err(P2pError::Config {
                field: "max_message_bytes",
                reason: format!(
                    "{} is below the minimum of {MIN_MESSAGE_BYTES}",
                    self.max_message_bytes
                ),
            });
        }
        if self.max_response_bytes < MIN_RESPONSE_BYTES {
            return Err(P2pError::Config {
                field: "max_response_bytes",
                reason: format!(
                    "{} is below the minimum of {MIN_RESPONSE_BYTES}",
                    self.max_response_bytes
                ),
            });
        }
        if self.backoff_initial.is_zero() || self.backoff_initial > self.backoff_max {
            return Err(P2pError::Config {
                field: "backoff_initial",
                reason: "must be positive and at most backoff_max".into(),
            });
        }
        if self.request_timeout.is_zero() {
            return Err(P2pError::Config {
                field: "request_timeout",
                reason: "must be positive".into(),
            });
        }
        if self.event_capacity == 0 {
            return Err(P2pError::Config {
                field: "event_capacity",
                reason: "must be at least 1".into(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(label: &str) -> Keypair {
        Keypair::derive_insecure(label)
    }

    fn config() -> P2pConfig {
        P2pConfig::new(
            key("me"),
            "/ip4/127.0.0.1/tcp/0".parse().unwrap(),
            ChainId::new("test").unwrap(),
        )
    }

    #[test]
    fn bootstrap_peers_must_be_allowed_distinct_and_not_self() {
        let other = key("other").public();
        let addr: Multiaddr = "/ip4/127.0.0.1/tcp/1".parse().unwrap();
        let mut c = config();
        c.bootstrap.push((other, addr.clone()));
        assert!(matches!(
            c.check(),
            Err(P2pError::Config { field: "bootstrap", reason }) if reason.contains("allow list")
        ));
        c.allowed.insert(other);
        assert_eq!(c.check(), Ok(()));
        c.bootstrap.push((other, addr.clone()));
        assert!(c.check().unwrap_err().to_string().contains("twice"));
        let mut c = config();
        let own = c.keypair.public();
        c.allowed.insert(own);
        c.bootstrap.push((own, addr));
        assert!(c.check().unwrap_err().to_string().contains("own key"));
    }

    #[test]
    fn limits_are_checked() {
        let mut c = config();
        c.max_message_bytes = 10;
        assert!(c
            .check()
            .unwrap_err()
            .to_string()
            .contains("max_message_bytes"));
        let mut c = config();
        c.max_connections = 0;
        assert!(c
            .check()
            .unwrap_err()
            .to_string()
            .contains("max_connections"));
        let mut c = config();
        c.backoff_initial = c.backoff_max + Duration::from_secs(1);
        assert!(c.check().is_err());
    }

    #[test]
    fn chain_spec_gives_allow_list_and_bootstrap() {
        let preset = accord_chain_spec::preset("local").unwrap();
        let spec = preset.spec;
        let keys: Vec<PublicKey> = spec.validators().iter().map(|v| v.p2p_key).collect();
        let first = &spec.validators()[0];
        let own =
            accord_chain_spec::preset_key("local", accord_chain_spec::KeyPurpose::P2p, &first.name);
        assert_eq!(own.public(), first.p2p_key);
        let c = P2pConfig::from_chain_spec(&spec, own, "/ip4/127.0.0.1/tcp/0".parse().unwrap())
            .unwrap();
        assert_eq!(c.check(), Ok(()));
        assert_eq!(c.bootstrap.len(), keys.len() - 1);
        assert!(keys.iter().all(|k| c.allowed.contains(k)));
        assert!(c.bootstrap.iter().all(|(k, _)| *k != first.p2p_key));
    }
}
