//! The node's side of the API: the backend traits of `accord-rpc` over the database,
//! the pool, the network and the node's status. The methods, their parameters and
//! their answers live in `accord-rpc` (docs/RPC.md).
//!
//! Every read that touches several state keys goes through one RocksDB snapshot
//! ([`Storage::state_snapshot`]), together with the head it belongs to, so an answer is
//! never part one block and part the next, and a state proof is always against the
//! header whose root it proves.

use std::net::SocketAddr;
use std::sync::Arc;

use accord_rpc::backend::{
    BackendError, BackendResult, ChainReader, Commits, NodeInfo, Refusal, StateAt, StateReader,
    TxPool,
};
use accord_rpc::types::{NodeStatus, PeerInfo, TransactionStatus};
use accord_rpc::{Backend, Committed, Options};
use accord_state::StateStore;
use accord_types::codec::hex_decode;
use accord_types::{
    Block, ChainId, CommitCertificate, Event, EventCursor, Hash, Header, Height, PublicKey,
    Receipt, Transaction, ValidatorSet,
};
use jsonrpsee::server::ServerHandle;
use parking_lot::{Mutex, RwLock};
use tokio::sync::broadcast;

pub use accord_rpc::error::{INVALID_PARAMS, NODE_ERROR, TX_REFUSED};

use crate::mempool::gossip::TxGossip;
use crate::mempool::DroppedLog;
use crate::mempool::Mempool;
use crate::status::{SharedPeers, SharedStatus};
use crate::storage::Storage;

/// Committed blocks buffered for subscriptions; a subscription further behind reads
/// from the database instead.
pub const COMMIT_CHANNEL: usize = 256;

/// What the node's backend reads and writes.
#[derive(Clone)]
pub struct NodeBackend {
    /// The chain.
    pub chain_id: ChainId,
    /// The database.
    pub storage: Arc<Storage>,
    /// The transaction pool.
    pub mempool: Arc<Mutex<Mempool>>,
    /// Where submitted transactions are queued for gossip.
    pub gossip: TxGossip,
    /// How far behind its peers the node is: far behind, submissions are refused.
    pub lag: crate::status::Lag,
    /// The node's status.
    pub status: SharedStatus,
    /// Connected peers and their heights.
    pub peers: SharedPeers,
    /// Answers for dropped transactions.
    pub dropped: Arc<RwLock<DroppedLog>>,
    /// Commit announcements.
    pub commits: broadcast::Sender<Committed>,
    /// Where admitted transactions are recorded for a restart.
    pub journal: crate::mempool::Journal,
}

impl NodeBackend {
    /// The API's backend over this node.
    pub fn backend(self) -> Backend {
        let this = Arc::new(self);
        Backend {
            chain: this.clone(),
            state: this.clone(),
            pool: this.clone(),
            node: this.clone(),
            commits: this,
        }
    }
}

fn db<E: std::fmt::Display>(error: E) -> BackendError {
    BackendError::new(error)
}

impl ChainReader for NodeBackend {
    fn head(&self) -> BackendResult<(Height, Hash)> {
        let head = self
            .storage
            .head()
            .map_err(db)?
            .ok_or_else(|| BackendError::new("the database has no genesis"))?;
        Ok((head.height, head.hash))
    }

    fn header(&self, height: Height) -> BackendResult<Option<Header>> {
        self.storage.header(height).map_err(db)
    }

    fn block(&self, height: Height) -> BackendResult<Option<Block>> {
        self.storage.block(height).map_err(db)
    }

    fn block_height(&self, hash: &Hash) -> BackendResult<Option<Height>> {
        self.storage.block_height(hash).map_err(db)
    }

    fn certificate(&self, height: Height) -> BackendResult<Option<CommitCertificate>> {
        self.storage.certificate(height).map_err(db)
    }

    fn receipts(&self, height: Height) -> BackendResult<Vec<Receipt>> {
        self.storage.receipts(height).map_err(db)
    }

    fn receipt(&self, height: Height, index: u32) -> BackendResult<Option<Receipt>> {
        self.storage.receipt(height, index).map_err(db)
    }

    fn transaction_location(&self, hash: &Hash) -> BackendResult<Option<(Height, u32)>> {
        self.storage.transaction(hash).map_err(db)
    }

    fn events_after(
        &self,
        after: Option<EventCursor>,
        limit: usize,
    ) -> BackendResult<Vec<(EventCursor, Event)>> {
        self.storage.events_after(after, limit).map_err(db)
    }

    fn validator_set(&self, height: Height) -> BackendResult<Option<ValidatorSet>> {
        // A change approved in the next block takes effect VALIDATOR_CHANGE_DELAY
        // heights later: sets up to head + delay are settled, later ones are not.
        let (head, _) = self.head()?;
        if height > head.saturating_add(accord_runtime::VALIDATOR_CHANGE_DELAY) {
            return Ok(None);
        }
        self.storage.validator_set(height).map_err(db)
    }

    fn delivery_days(
        &self,
        from: u32,
        to: u32,
    ) -> BackendResult<(Height, Vec<accord_runtime::delivery::DayEntry>)> {
        self.storage.delivery_days(from, to).map_err(db)
    }
}

impl StateReader for NodeBackend {
    fn state(&self) -> BackendResult<StateAt<'_>> {
        let snapshot = self.storage.state_snapshot();
        let head = snapshot
            .head()
            .map_err(db)?
            .ok_or_else(|| BackendError::new("the database has no genesis"))?;
        Ok(StateAt {
            height: head.height,
            store: Box::new(snapshot),
        })
    }
}

impl TxPool for NodeBackend {
    fn submit(&self, bytes: Vec<u8>) -> Result<Hash, Refusal> {
        if let Some(heights) = self.lag.far_behind() {
            return Err(Refusal {
                code: None,
                message: format!(
                    "this node is {heights} blocks behind its peers and catching up: \
                     submit to another node, or again once it has caught up"
                ),
            });
        }
        // Checked without the pool's lock, inserted and journaled under it, as
        // gossiped transactions are.
        let admitter = crate::mempool::gossip::Admitter {
            chain_id: self.chain_id.clone(),
            storage: Arc::clone(&self.storage),
            mempool: Arc::clone(&self.mempool),
            journal: self.journal.clone(),
            status: self.status.clone(),
        };
        let result = admitter.add(&[&bytes]).pop();
        let hash = match result {
            Some(Ok(hash)) => hash,
            Some(Err(error)) => {
                return Err(Refusal {
                    code: error.code().and_then(|code| {
                        serde_json::to_value(code)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_owned))
                    }),
                    message: error.to_string(),
                })
            }
            None => {
                return Err(Refusal {
                    code: None,
                    message: "the pool answered nothing".to_owned(),
                })
            }
        };
        // Queued for gossip before answering, so one client's transactions leave in
        // order (a full queue waits). If it is not gossiped now, the pool offers it
        // again after later blocks.
        if !self.gossip.queue_blocking(bytes) {
            tracing::debug!(target: "accord::rpc", "submitted transaction not gossiped yet");
        }
        Ok(hash)
    }

    fn status(&self, hash: &Hash) -> TransactionStatus {
        if self.mempool.lock().contains(hash) {
            return TransactionStatus::Pending;
        }
        match self.dropped.read().get(hash) {
            Some(dropped) => TransactionStatus::Dropped {
                code: dropped.code,
                message: dropped.message.clone(),
                height: dropped.height,
            },
            None => TransactionStatus::Unknown,
        }
    }

    fn pending_nonce(&self, state: &dyn StateStore, account: &PublicKey) -> BackendResult<u64> {
        let pending = self
            .mempool
            .lock()
            .pending_nonce(state, account)
            .map_err(db)?;
        Ok(pending.0)
    }

    fn size(&self) -> (usize, usize) {
        let pool = self.mempool.lock();
        (pool.len(), pool.bytes())
    }
}

impl NodeInfo for NodeBackend {
    fn status(&self) -> NodeStatus {
        self.status.read().clone()
    }

    fn peers(&self) -> Vec<PeerInfo> {
        let peers = self.peers.read().clone();
        let store = self.storage.state_snapshot();
        let specs = crate::chain::validators_at(&store, Height(u64::MAX))
            .map(|(_, specs)| specs)
            .unwrap_or_default();
        peers
            .into_iter()
            .map(|(key, height)| {
                let spec = specs.iter().find(|s| s.p2p_key == key);
                PeerInfo {
                    p2p_key: key,
                    name: spec.map(|s| s.name.clone()),
                    region: spec.map(|s| s.region.clone()),
                    height,
                }
            })
            .collect()
    }

    fn highest_peer_height(&self) -> Option<Height> {
        self.peers.read().iter().filter_map(|(_, h)| *h).max()
    }
}

impl Commits for NodeBackend {
    fn subscribe(&self) -> broadcast::Receiver<Committed> {
        self.commits.subscribe()
    }
}

/// Starts the server; returns its handle and the address it listens on.
pub async fn start(
    listen: SocketAddr,
    backend: NodeBackend,
    options: Options,
) -> anyhow::Result<(ServerHandle, SocketAddr)> {
    accord_rpc::start(listen, backend.backend(), options)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen for RPC on {listen}: {e}"))
}

/// Decodes a transaction given as 0x-hex, for tools.
pub fn decode_transaction(text: &str) -> anyhow::Result<Transaction> {
    let bytes = hex_decode("transaction", text)?;
    Ok(Transaction::decode(&bytes)?)
}
