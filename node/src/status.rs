//! What the node's tasks share with the RPC server and the metrics: its status and its
//! peers. The executor moves the head, the consensus task the round and `halted`,
//! block sync `syncing` and the peer list; the peer count is set by block sync's poll
//! and by the consensus task on every peer up or down.

use std::sync::Arc;

use accord_types::{Height, PublicKey};
use parking_lot::RwLock;

pub use accord_rpc::types::NodeStatus;

/// The status, shared with the RPC server.
pub type SharedStatus = Arc<RwLock<NodeStatus>>;

/// Connected peers (p2p keys) and the height each reported last, shared with the RPC
/// server.
pub type SharedPeers = Arc<RwLock<Vec<(PublicKey, Option<Height>)>>>;
