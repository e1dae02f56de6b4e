//! Fixtures for the node's unit tests: a real database at the runtime's test genesis,
//! with the pool, journal and status a node keeps beside it.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use accord_runtime::test_utils;
use accord_types::{Domain, Hash, Height, Round, Timestamp};
use parking_lot::{Mutex, RwLock};

use crate::mempool::{Journal, Mempool, MempoolConfig};
use crate::status::{NodeStatus, SharedStatus};
use crate::storage::Storage;

/// The genesis time the fixtures' status reports.
pub const GENESIS_TIME: Timestamp = Timestamp(1_700_000_000_000);

/// A node's stores in a temporary directory, at the test genesis.
pub struct Stores {
    /// Kept for the stores' lifetime.
    pub dir: tempfile::TempDir,
    /// RocksDB at the genesis.
    pub storage: Arc<Storage>,
    /// An empty pool with the default limits.
    pub mempool: Arc<Mutex<Mempool>>,
    /// The pool's journal.
    pub journal: Journal,
    /// The status at the genesis.
    pub status: SharedStatus,
}

/// Opens the stores at the test genesis.
pub fn stores() -> Stores {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(Storage::open(&dir.path().join("db")).unwrap());
    let genesis = test_utils::genesis();
    let commit = genesis.build(&storage.state_store()).unwrap();
    let genesis_hash = Hash::digest(Domain::GENESIS, b"node-test");
    storage
        .init_genesis(&genesis.chain_id, genesis_hash, &commit.batch, commit.root)
        .unwrap();
    let (journal, _) = Journal::open(&dir.path().join("mempool.journal")).unwrap();
    let mempool = Arc::new(Mutex::new(Mempool::new(MempoolConfig::default()).unwrap()));
    let status = Arc::new(RwLock::new(NodeStatus {
        chain_id: genesis.chain_id,
        genesis_hash,
        height: Height(0),
        hash: genesis_hash,
        timestamp: GENESIS_TIME,
        syncing: false,
        peers: 0,
        round: Round(0),
        validator: test_utils::key("validator/eu-1").public(),
        halted: false,
    }));
    Stores {
        dir,
        storage,
        mempool,
        journal,
        status,
    }
}
