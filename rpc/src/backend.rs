//! What the API reads and writes, as narrow traits the node implements.
//!
//! ```text
//!   ChainReader   blocks, headers, certificates, receipts, the event log, validator sets,
//!                 the delivery metrics' day buckets
//!   StateReader   the state at the head, as one consistent snapshot
//!   TxPool        submission and the fate of pending transactions
//!   NodeInfo      status, peers, sync
//!   Commits       a notification per committed block (subscriptions)
//! ```
//!
//! Every method may block on disk: the server calls them on blocking threads, never on
//! a tokio worker.

use std::sync::Arc;

use accord_runtime::delivery::DayEntry;
use accord_state::StateStore;
use accord_types::{
    Block, CommitCertificate, Event, EventCursor, Hash, Header, Height, PublicKey, Receipt,
    ValidatorSet,
};
use tokio::sync::broadcast;

use crate::types::{NodeStatus, PeerInfo, TransactionStatus};

/// A failure of the node behind the API (its database); the request may be retried.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BackendError(pub String);

impl BackendError {
    /// An error from anything displayable.
    pub fn new(error: impl std::fmt::Display) -> Self {
        Self(error.to_string())
    }
}

/// Result of backend calls.
pub type BackendResult<T> = Result<T, BackendError>;

/// Finalized chain data.
pub trait ChainReader: Send + Sync + 'static {
    /// The last committed height and its hash (height 0: the genesis hash).
    fn head(&self) -> BackendResult<(Height, Hash)>;
    /// The header at `height`.
    fn header(&self, height: Height) -> BackendResult<Option<Header>>;
    /// The block at `height`.
    fn block(&self, height: Height) -> BackendResult<Option<Block>>;
    /// The height of the block with this hash.
    fn block_height(&self, hash: &Hash) -> BackendResult<Option<Height>>;
    /// The commit certificate of `height`.
    fn certificate(&self, height: Height) -> BackendResult<Option<CommitCertificate>>;
    /// Every receipt of `height`, in order (empty when not stored).
    fn receipts(&self, height: Height) -> BackendResult<Vec<Receipt>>;
    /// One receipt, by a point read.
    fn receipt(&self, height: Height, index: u32) -> BackendResult<Option<Receipt>>;
    /// Where a transaction was first included: height and index.
    fn transaction_location(&self, hash: &Hash) -> BackendResult<Option<(Height, u32)>>;
    /// Up to `limit` events after `after` (from the first when `None`), in chain order.
    fn events_after(
        &self,
        after: Option<EventCursor>,
        limit: usize,
    ) -> BackendResult<Vec<(EventCursor, Event)>>;
    /// The validator set that decides `height`, when known.
    fn validator_set(&self, height: Height) -> BackendResult<Option<ValidatorSet>>;
    /// The delivery metrics' day buckets of UTC days `from..=to` (days since
    /// 1970-01-01) and the last height they count, read together.
    fn delivery_days(&self, from: u32, to: u32) -> BackendResult<(Height, Vec<DayEntry>)>;
}

/// A consistent read of the state at one committed block.
pub struct StateAt<'a> {
    /// The height whose post-state this is.
    pub height: Height,
    /// The state.
    pub store: Box<dyn StateStore + 'a>,
}

/// The authenticated state.
pub trait StateReader: Send + Sync + 'static {
    /// The state after the head block, read from one snapshot that later commits do
    /// not change, with that block's height.
    fn state(&self) -> BackendResult<StateAt<'_>>;
}

/// Why a submitted transaction was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// What a client can act on (`bad_nonce`, `bad_signature`, `limit_exceeded`, …);
    /// `None` when there is nothing to act on (a duplicate, a node fault).
    pub code: Option<String>,
    /// Why, in words.
    pub message: String,
}

/// The transaction pool.
pub trait TxPool: Send + Sync + 'static {
    /// Admits a borsh-encoded signed transaction and gossips it; its hash, or why not.
    fn submit(&self, bytes: Vec<u8>) -> Result<Hash, Refusal>;
    /// Pending, dropped or unknown (finalized transactions are found in the chain).
    fn status(&self, hash: &Hash) -> TransactionStatus;
    /// The nonce the account's next transaction should carry, counting the pool.
    fn pending_nonce(&self, state: &dyn StateStore, account: &PublicKey) -> BackendResult<u64>;
    /// Transactions in the pool and their bytes.
    fn size(&self) -> (usize, usize);
}

/// The node itself.
pub trait NodeInfo: Send + Sync + 'static {
    /// Its status now.
    fn status(&self) -> NodeStatus;
    /// Connected peers with what is known of them.
    fn peers(&self) -> Vec<PeerInfo>;
    /// The highest height a peer reported.
    fn highest_peer_height(&self) -> Option<Height>;
}

/// A committed block, as the node announces it once it is durable.
#[derive(Debug, Clone)]
pub struct Committed {
    /// The block.
    pub block: Arc<Block>,
    /// Its certificate.
    pub certificate: CommitCertificate,
    /// Its receipts.
    pub receipts: Arc<Vec<Receipt>>,
}

impl Committed {
    /// The block's height.
    pub fn height(&self) -> Height {
        self.block.header.height
    }

    /// Every event of the block with its cursor and transaction, in order.
    pub fn events(&self) -> impl Iterator<Item = (EventCursor, Option<Hash>, &Event)> + '_ {
        let height = self.height();
        self.receipts
            .iter()
            .enumerate()
            .flat_map(move |(r, receipt)| {
                let tx = match &receipt.source {
                    accord_types::ReceiptSource::Transaction { hash } => Some(*hash),
                    accord_types::ReceiptSource::EndOfBlock => None,
                };
                receipt.events.iter().enumerate().map(move |(e, event)| {
                    (
                        EventCursor {
                            height,
                            receipt: u32::try_from(r).unwrap_or(u32::MAX),
                            event: u32::try_from(e).unwrap_or(u32::MAX),
                        },
                        tx,
                        event,
                    )
                })
            })
    }
}

/// Notifications of committed blocks.
pub trait Commits: Send + Sync + 'static {
    /// A receiver of every block committed from now on. A receiver that falls behind
    /// the channel's capacity sees `Lagged` and reads what it missed from the chain.
    fn subscribe(&self) -> broadcast::Receiver<Committed>;
}

/// Everything the server reads and writes.
#[derive(Clone)]
pub struct Backend {
    /// Finalized chain data.
    pub chain: Arc<dyn ChainReader>,
    /// The state.
    pub state: Arc<dyn StateReader>,
    /// The pool.
    pub pool: Arc<dyn TxPool>,
    /// The node.
    pub node: Arc<dyn NodeInfo>,
    /// Commit notifications.
    pub commits: Arc<dyn Commits>,
}
