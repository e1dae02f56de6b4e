//! The node's mempool: the pool itself is `accord-mempool` (admission, nonce order,
//! reaping, the re-check after a block); here are what the node adds around it — the
//! journal of admitted transactions, the log of dropped ones, and the admission of
//! gossiped transactions off the consensus task.

pub mod dropped;
pub mod gossip;
pub mod journal;

pub use accord_mempool::{
    prepare, prepare_raw, AddError, Cap, CheckContext, ConfigError, Dropped, Mempool,
    MempoolConfig, Prepared,
};
pub use dropped::{DroppedLog, DroppedTx};
pub use journal::Journal;
