//! The API, declared once: one jsonrpsee trait per namespace. The server implements
//! the `…Server` traits ([`crate::server`]); the generated `…Client` traits are what
//! every client calls (with the `client` feature), so no method name is written twice.

use accord_types::{EventCursor, Hash, Height, ProposalId, PublicKey};
use jsonrpsee::core::{RpcResult, SubscriptionResult};
use jsonrpsee::proc_macros::rpc;

// The subscriptions' item types appear only in the generated client.
use crate::types::{
    AccountView, BlockId, BlockView, DeliveryBucket, DeliveryFilter, DeliveryMetrics, EventFilter,
    EventPage, EventProof, HeaderView, Health, NodeStatus, ParamsView, PeerInfo, ProposalFilter,
    ProposalPage, ReceiptView, StateProofView, StateTarget, SyncState, TallyView,
    TransactionStatus, ValidatorsView, Version,
};
#[cfg(feature = "client")]
use crate::types::{EventView, FinalizedBlock};
use accord_runtime::ProposalView;
use accord_types::CommitCertificate;

/// `system_*`: the node itself.
#[cfg_attr(not(feature = "client"), rpc(server, namespace = "system"))]
#[cfg_attr(feature = "client", rpc(server, client, namespace = "system"))]
pub trait SystemApi {
    /// Whether the node is healthy: not syncing, with peers, not halted.
    #[method(name = "health")]
    fn health(&self) -> RpcResult<Health>;

    /// Software version and the chain it serves.
    #[method(name = "version")]
    fn version(&self) -> RpcResult<Version>;

    /// Connected peers, with the validator and region of each when known.
    #[method(name = "peers", blocking)]
    fn peers(&self) -> RpcResult<Vec<PeerInfo>>;

    /// Whether the node is catching up, its head and the best height a peer reported.
    #[method(name = "syncState")]
    fn sync_state(&self) -> RpcResult<SyncState>;
}

/// `rpc_methods` and `rpc.discover`: what the server offers.
#[cfg_attr(not(feature = "client"), rpc(server))]
#[cfg_attr(feature = "client", rpc(server, client))]
pub trait MetaApi {
    /// The names of every method, sorted.
    #[method(name = "rpc_methods")]
    fn methods(&self) -> RpcResult<Vec<String>>;

    /// The OpenRPC document of this API.
    #[method(name = "rpc.discover")]
    fn discover(&self) -> RpcResult<serde_json::Value>;
}

/// `chain_*`: finalized blocks and what they hold.
#[cfg_attr(not(feature = "client"), rpc(server, namespace = "chain"))]
#[cfg_attr(feature = "client", rpc(server, client, namespace = "chain"))]
pub trait ChainApi {
    /// The node's status: chain, head, round, peers, syncing.
    #[method(name = "getStatus")]
    fn status(&self) -> RpcResult<NodeStatus>;

    /// A block by height or hash; `null` when there is none.
    #[method(name = "getBlock", blocking)]
    fn block(&self, id: BlockId) -> RpcResult<Option<BlockView>>;

    /// Blocks `from..=to` (at most 100), stopping at the head.
    #[method(name = "getBlockRange", blocking)]
    fn block_range(&self, from: Height, to: Height) -> RpcResult<Vec<BlockView>>;

    /// A header by height or hash; `null` when there is none.
    #[method(name = "getHeader", blocking)]
    fn header(&self, id: BlockId) -> RpcResult<Option<HeaderView>>;

    /// The commit certificate of a block by height or hash; `null` when there is none.
    #[method(name = "getCertificate", blocking)]
    fn certificate(&self, id: BlockId) -> RpcResult<Option<CommitCertificate>>;

    /// Every receipt of a block by height or hash; `null` when there is no such block.
    #[method(name = "getReceipts", blocking)]
    fn receipts(&self, id: BlockId) -> RpcResult<Option<Vec<ReceiptView>>>;

    /// A transaction by hash: finalized (with its receipt), pending, dropped or unknown.
    #[method(name = "getTransaction", blocking)]
    fn transaction(&self, hash: Hash) -> RpcResult<TransactionStatus>;

    /// The validator set deciding a height (the next one when omitted), by region.
    #[method(name = "getValidators", blocking)]
    fn validators(&self, height: Option<Height>) -> RpcResult<ValidatorsView>;

    /// Every block finalized from now on: header, certificate summary, counts.
    #[subscription(
        name = "subscribeFinalizedBlocks" => "finalizedBlock",
        unsubscribe = "unsubscribeFinalizedBlocks",
        item = FinalizedBlock
    )]
    async fn subscribe_finalized_blocks(&self) -> SubscriptionResult;
}

/// `gov_*`: governance.
#[cfg_attr(not(feature = "client"), rpc(server, namespace = "gov"))]
#[cfg_attr(feature = "client", rpc(server, client, namespace = "gov"))]
pub trait GovApi {
    /// Submits a signed transaction (0x-hex of its borsh encoding); returns its hash.
    #[method(name = "submitTransaction", blocking)]
    fn submit_transaction(&self, transaction: String) -> RpcResult<Hash>;

    /// An account's nonces and roles.
    #[method(name = "getAccount", blocking)]
    fn account(&self, key: PublicKey) -> RpcResult<AccountView>;

    /// A proposal with its draft, tallies and executions; `null` when unknown.
    #[method(name = "getProposal", blocking)]
    fn proposal(&self, id: ProposalId) -> RpcResult<Option<ProposalView>>;

    /// Proposals by id after `after`, filtered, at most `limit` (default 100, at most 1,000).
    #[method(name = "listProposals", blocking)]
    fn list_proposals(
        &self,
        filter: Option<ProposalFilter>,
        after: Option<ProposalId>,
        limit: Option<u32>,
    ) -> RpcResult<ProposalPage>;

    /// A proposal's tally in every affected region against its quorum and thresholds.
    #[method(name = "getTally", blocking)]
    fn tally(&self, id: ProposalId) -> RpcResult<Option<TallyView>>;

    /// The governance parameters in force.
    #[method(name = "getParams", blocking)]
    fn params(&self) -> RpcResult<ParamsView>;

    /// Events after the cursor `after` (from the first when omitted), filtered, at most
    /// `limit` (default 100, at most 1,000).
    #[method(name = "getEvents", blocking)]
    fn events(
        &self,
        filter: Option<EventFilter>,
        after: Option<EventCursor>,
        limit: Option<u32>,
    ) -> RpcResult<EventPage>;

    /// The event at a cursor with its receipt, Merkle path, header and certificate.
    #[method(name = "getEventProof", blocking)]
    fn event_proof(&self, cursor: EventCursor) -> RpcResult<EventProof>;

    /// A state record with its path to the state root of the head's header.
    #[method(name = "getStateProof", blocking)]
    fn state_proof(&self, target: StateTarget) -> RpcResult<StateProofView>;

    /// Delivery (DORA) metrics of a period from finalized events: deployments and
    /// their frequency, lead time, change failure rate and time to restore, by region
    /// and kind, per day, week or the whole period.
    #[method(name = "getDeliveryMetrics", blocking)]
    fn delivery_metrics(
        &self,
        filter: Option<DeliveryFilter>,
        bucket: Option<DeliveryBucket>,
    ) -> RpcResult<DeliveryMetrics>;

    /// Governance events, filtered; with `after`, first every stored event behind that
    /// cursor, then live ones, with no gap and no duplicate. A subscriber that stops
    /// reading is closed with an error whose data holds the last cursor it was sent.
    #[subscription(
        name = "subscribeEvents" => "event",
        unsubscribe = "unsubscribeEvents",
        item = EventView
    )]
    async fn subscribe_events(
        &self,
        filter: Option<EventFilter>,
        after: Option<EventCursor>,
    ) -> SubscriptionResult;
}
