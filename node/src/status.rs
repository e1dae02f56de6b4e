//! What the node's tasks share with the RPC server and the metrics: its status and its
//! peers. Each field has one writer: the executor moves the head, the consensus actor
//! the round and `halted`, block sync `syncing` and the peers.

use std::sync::Arc;

use accord_types::{Height, PublicKey};
use parking_lot::RwLock;

pub use accord_rpc::types::NodeStatus;

/// The status, shared with the RPC server.
pub type SharedStatus = Arc<RwLock<NodeStatus>>;

/// Connected peers (p2p keys) and the height each reported last, shared with the RPC
/// server.
pub type SharedPeers = Arc<RwLock<Vec<(PublicKey, Option<Height>)>>>;
