//! The executor over a real database: build, check, commit, and what it refuses.

use std::sync::Arc;

use accord_runtime::test_utils;
use accord_types::{
    CommitCertificate, Hash, Height, Keypair, Nonce, Payload, Round, Timestamp, Transaction,
};
use parking_lot::{Mutex, RwLock};
use tokio::sync::{broadcast, mpsc};

use super::*;
use crate::mempool::{CheckContext, MempoolConfig};
use crate::status::NodeStatus;
use crate::test_support::{stores, Stores, GENESIS_TIME};

struct Node {
    _dir: tempfile::TempDir,
    storage: Arc<Storage>,
    mempool: Arc<Mutex<Mempool>>,
    status: SharedStatus,
    commits: broadcast::Receiver<accord_rpc::Committed>,
    executor: Executor,
    tip: Tip,
    thread: ExecutorThread,
}

async fn start() -> Node {
    let Stores {
        dir,
        storage,
        mempool,
        journal,
        status,
    } = stores();
    let genesis = test_utils::genesis();
    let (commits, commits_rx) = broadcast::channel(16);
    let (regossip, _) = mpsc::channel(4);
    let (executor, tip, thread) = Executor::spawn(ExecutorParts {
        chain_id: genesis.chain_id.clone(),
        params: accord_chain_spec::default_consensus(false),
        storage: Arc::clone(&storage),
        mempool: Arc::clone(&mempool),
        journal,
        dropped: Arc::new(RwLock::new(DroppedLog::default())),
        commits,
        metrics: Arc::new(Metrics::new()),
        status: Arc::clone(&status),
        regossip,
    })
    .await
    .unwrap();
    Node {
        _dir: dir,
        storage,
        mempool,
        status,
        commits: commits_rx,
        executor,
        tip,
        thread,
    }
}

fn proposer() -> Keypair {
    test_utils::key("validator/eu-1")
}

/// A certificate signed by every test validator.
fn certify(chain_id: &ChainId, block: &Block) -> CommitCertificate {
    let keys = test_utils::validator_keys();
    test_utils::certify(&keys, chain_id, block.header.height, block.hash())
}

fn request(now: Timestamp) -> BuildRequest {
    BuildRequest {
        proposer: proposer().public(),
        now,
        evidence: Vec::new(),
    }
}

#[tokio::test]
async fn a_built_block_checks_commits_and_moves_the_tip_the_status_and_the_pool() {
    let mut node = start().await;
    assert_eq!(node.tip.parent.height, Height(0));
    assert_eq!(node.tip.validators.len(), 4);
    let chain_id = test_utils::genesis().chain_id;

    // A transaction in the pool goes into the block and leaves the pool with it.
    let author = test_utils::key("author");
    let draft = test_utils::draft(&["eu"], test_utils::documentation("guide.md"));
    let tx = Transaction::sign(
        &author,
        chain_id.clone(),
        Nonce(0),
        Payload::SubmitProposal {
            draft: Box::new(draft),
        },
    );
    let ctx = CheckContext {
        chain_id: chain_id.clone(),
        height: Height(1),
        timestamp: GENESIS_TIME,
    };
    let added = node
        .mempool
        .lock()
        .add(&node.storage.state_store(), &ctx, vec![tx.clone()]);
    assert!(added[0].is_ok(), "{added:?}");

    let now = Timestamp(GENESIS_TIME.0 + 1_000);
    let built = node.executor.build(request(now)).await.unwrap();
    assert_eq!(built.block.header.height, Height(1));
    assert_eq!(built.block.header.parent_hash, node.tip.parent.hash);
    assert_eq!(built.block.transactions, vec![tx.clone()]);

    // Another node's executor would accept it; this one does too.
    let checked = node
        .executor
        .check(built.block.clone(), Some(now))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(checked.outcome.state_root, built.outcome.state_root);

    let certificate = certify(&chain_id, &built.block);
    let tip = node
        .executor
        .commit(checked, certificate.clone())
        .await
        .unwrap();
    assert_eq!(tip.parent.height, Height(1));
    assert_eq!(tip.parent.hash, built.block.hash());
    assert_eq!(tip.history.len(), 1);
    assert!(!tip.set_changed);
    assert_eq!(node.status.read().height, Height(1));
    assert_eq!(node.status.read().hash, built.block.hash());
    assert_eq!(node.storage.head().unwrap().unwrap().height, Height(1));
    assert_eq!(
        node.storage.certificate(Height(1)).unwrap(),
        Some(certificate)
    );
    assert!(!node.mempool.lock().contains(&tx.hash()));
    let announced = node.commits.recv().await.unwrap();
    assert_eq!(announced.block.hash(), built.block.hash());

    // The same block again no longer extends the head.
    let again = node
        .executor
        .commit(built.clone(), certify(&chain_id, &built.block))
        .await
        .unwrap_err();
    assert!(
        again.to_string().contains("does not extend the head"),
        "{again}"
    );
    let stale = node.executor.check(built.block, None).await.unwrap();
    assert!(stale.unwrap_err().is_block_fault());

    drop(node.executor);
    node.thread.join().unwrap();
}

#[tokio::test]
async fn a_block_from_a_non_validator_or_from_the_future_is_a_block_fault() {
    let node = start().await;
    let now = Timestamp(GENESIS_TIME.0 + 1_000);
    let mut outsider = request(now);
    outsider.proposer = test_utils::key("nobody").public();
    let built = node.executor.build(outsider).await.unwrap();
    let refused = node
        .executor
        .check(built.block, Some(now))
        .await
        .unwrap()
        .unwrap_err();
    assert!(refused.is_block_fault());
    assert!(refused.to_string().contains("not a validator"), "{refused}");

    let ahead = Timestamp(now.0 + 3_600_000);
    let built = node.executor.build(request(ahead)).await.unwrap();
    let refused = node
        .executor
        .check(built.block.clone(), Some(now))
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        refused.to_string().contains("ahead of this node's clock"),
        "{refused}"
    );
    // A decided block is not judged by this node's clock.
    assert!(node
        .executor
        .check(built.block, None)
        .await
        .unwrap()
        .is_ok());
    // The thread lets go of the database before the test process exits.
    drop(node.executor);
    node.thread.join().unwrap();
}

#[tokio::test]
async fn an_executor_without_a_database_head_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(Storage::open(&dir.path().join("db")).unwrap());
    let (journal, _) = Journal::open(&dir.path().join("mempool.journal")).unwrap();
    let (commits, _) = broadcast::channel(1);
    let (regossip, _) = mpsc::channel(1);
    let genesis = test_utils::genesis();
    let result = Executor::spawn(ExecutorParts {
        chain_id: genesis.chain_id.clone(),
        params: accord_chain_spec::default_consensus(false),
        storage,
        mempool: Arc::new(Mutex::new(Mempool::new(MempoolConfig::default()).unwrap())),
        journal,
        dropped: Arc::new(RwLock::new(DroppedLog::default())),
        commits,
        metrics: Arc::new(Metrics::new()),
        status: Arc::new(RwLock::new(NodeStatus {
            chain_id: genesis.chain_id,
            genesis_hash: Hash::ZERO,
            height: Height(0),
            hash: Hash::ZERO,
            timestamp: GENESIS_TIME,
            syncing: false,
            peers: 0,
            round: Round(0),
            validator: proposer().public(),
            halted: false,
        })),
        regossip,
    })
    .await;
    let error = result.err().unwrap();
    assert!(error.to_string().contains("no genesis"), "{error}");
}
