//! What the node's tasks share with the RPC server and the metrics: its status and its
//! peers. The executor moves the head, the consensus task the round and `halted`,
//! block sync `syncing`, the peer list and the [`Lag`]; the peer count is set by block
//! sync's poll and by the consensus task on every peer up or down.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use accord_types::{Height, PublicKey};
use parking_lot::RwLock;

pub use accord_rpc::types::NodeStatus;

/// The status, shared with the RPC server.
pub type SharedStatus = Arc<RwLock<NodeStatus>>;

/// Connected peers (p2p keys) and the height each reported last, shared with the RPC
/// server.
pub type SharedPeers = Arc<RwLock<Vec<(PublicKey, Option<Height>)>>>;

/// Heights between a node this far behind its peers and them: it neither admits
/// gossiped transactions nor accepts submissions. Its state is too old to judge them,
/// and every block it syncs would re-check a pool filling at the network's rate;
/// peers re-gossip what they hold, and clients can submit elsewhere.
pub const FAR_BEHIND: u64 = 32;

/// How many heights the best peer block sync believes is ahead of this node (0 when
/// none is), shared by block sync (which writes it) with transaction admission.
#[derive(Debug, Clone, Default)]
pub struct Lag(Arc<AtomicU64>);

impl Lag {
    /// Records the distance to the best peer.
    pub fn set(&self, heights: u64) {
        self.0.store(heights, Ordering::Relaxed);
    }

    /// The distance last recorded.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Whether the node is more than [`FAR_BEHIND`] heights behind: `Some(heights)`.
    pub fn far_behind(&self) -> Option<u64> {
        let heights = self.get();
        (heights > FAR_BEHIND).then_some(heights)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_is_far_behind_past_the_threshold_only() {
        let lag = Lag::default();
        assert_eq!(lag.far_behind(), None);
        let shared = lag.clone();
        shared.set(FAR_BEHIND);
        assert_eq!(lag.far_behind(), None);
        shared.set(FAR_BEHIND + 1);
        assert_eq!(lag.far_behind(), Some(FAR_BEHIND + 1));
        shared.set(0);
        assert_eq!((lag.get(), lag.far_behind()), (0, None));
    }
}
