//! What the API answers and accepts: JSON views with named fields, `0x` hex for hashes
//! and bytes, and decimal strings for the u64 quantities (voting power, cost) that
//! JavaScript cannot hold exactly. Heights, indexes, counts and millisecond timestamps
//! stay JSON numbers: they stay far below 2^53.

use std::fmt;

use accord_runtime::records::{ProposalState, Tally};
use accord_state::StateProof;
use accord_types::governance::{ProposalKind, Role};
use accord_types::merkle;
use accord_types::params::{Fraction, GovernanceParams};
use accord_types::{
    Block, ChainId, CommitCertificate, ErrorCode, Event, EventCursor, Hash, Header, Height,
    ProposalId, PublicKey, QuorumRule, Receipt, RegionId, Round, Timestamp, Transaction,
};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Most blocks one `chain_getBlockRange` returns.
pub const MAX_BLOCK_RANGE: u64 = 100;
/// Most items one page of a list returns.
pub const MAX_PAGE: u32 = 1_000;
/// Items in a page when the caller names no limit.
pub const DEFAULT_PAGE: u32 = 100;

/// A u64 written as a decimal string in JSON (`"18446744073709551615"`); read from a
/// string or a JSON integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct U64(pub u64);

impl Serialize for U64 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for U64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = U64;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative integer as a decimal string")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<U64, E> {
                Ok(U64(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<U64, E> {
                if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(E::custom(format!("{v:?} is not a decimal number")));
                }
                v.parse()
                    .map(U64)
                    .map_err(|_| E::custom(format!("{v} does not fit 64 bits")))
            }
        }
        d.deserialize_any(V)
    }
}

/// A block named by its height (a JSON integer) or its hash (`"0x…"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockId {
    /// By height.
    Height(Height),
    /// By hash.
    Hash(Hash),
}

impl Serialize for BlockId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Height(h) => s.serialize_u64(h.0),
            Self::Hash(hash) => hash.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for BlockId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = BlockId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a height (a non-negative integer) or a block hash (0x and 64 hex digits)",
                )
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<BlockId, E> {
                Ok(BlockId::Height(Height(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<BlockId, E> {
                u64::try_from(v)
                    .map(|v| BlockId::Height(Height(v)))
                    .map_err(|_| E::custom(format!("a height is a non-negative integer, not {v}")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<BlockId, E> {
                Err(E::custom(format!(
                    "a height is a non-negative integer, not {v}"
                )))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<BlockId, E> {
                Hash::from_hex(v).map(BlockId::Hash).map_err(|e| {
                    E::custom(format!(
                        "not a block hash ({e}); expected 0x and 64 hex digits"
                    ))
                })
            }
        }
        d.deserialize_any(V)
    }
}

impl From<Height> for BlockId {
    fn from(h: Height) -> Self {
        Self::Height(h)
    }
}

impl From<Hash> for BlockId {
    fn from(h: Hash) -> Self {
        Self::Hash(h)
    }
}

/// The node's view of itself (`chain_getStatus`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// The chain.
    pub chain_id: ChainId,
    /// The genesis hash.
    pub genesis_hash: Hash,
    /// Height of the last committed block (0: only the genesis).
    pub height: Height,
    /// Hash of the last committed block (the genesis hash at height 0).
    pub hash: Hash,
    /// Its timestamp.
    pub timestamp: Timestamp,
    /// Whether the node is catching up through block sync.
    pub syncing: bool,
    /// Connected peers.
    pub peers: usize,
    /// The round of the height being decided.
    pub round: Round,
    /// This validator's consensus key.
    pub validator: PublicKey,
    /// Whether the node has stopped deciding (a fatal error; it then answers reads only)
    /// or cannot vote (its signer guard cannot record what it signs).
    #[serde(default)]
    pub halted: bool,
}

/// `system_health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// Not syncing, at least one peer, not halted.
    pub healthy: bool,
    /// Catching up.
    pub syncing: bool,
    /// Connected peers.
    pub peers: usize,
    /// Head height.
    pub height: Height,
}

/// `system_version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    /// The node software.
    pub name: String,
    /// Its version.
    pub version: String,
    /// The chain.
    pub chain_id: ChainId,
    /// The genesis hash.
    pub genesis_hash: Hash,
}

/// A connected peer (`system_peers`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerInfo {
    /// Its p2p key.
    pub p2p_key: PublicKey,
    /// The validator's name, when the peer is a validator.
    pub name: Option<String>,
    /// Its region, when it is a validator.
    pub region: Option<RegionId>,
    /// The height it reported last, if it answered.
    pub height: Option<Height>,
}

/// `system_syncState`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncState {
    /// Catching up now.
    pub syncing: bool,
    /// This node's head.
    pub current: Height,
    /// The highest height a peer reported.
    pub highest: Height,
}

/// A block with its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockView {
    /// The block hash.
    pub hash: Hash,
    /// The block.
    pub block: Block,
}

/// A header with its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeaderView {
    /// The block hash.
    pub hash: Hash,
    /// The header.
    pub header: Header,
}

/// One receipt of a block with where it sits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptView {
    /// Height of the block.
    pub height: Height,
    /// Index in the block (transactions first, then the end-of-block receipt).
    pub index: u32,
    /// The receipt.
    pub receipt: Receipt,
}

/// Where a transaction stands (`chain_getTransaction`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum TransactionStatus {
    /// In a finalized block.
    Finalized {
        /// Block height.
        height: Height,
        /// Index in the block (also its receipt's index).
        index: u32,
        /// The transaction.
        transaction: Box<Transaction>,
        /// Its receipt.
        receipt: Box<Receipt>,
    },
    /// In this node's pool.
    Pending,
    /// Accepted, then left the pool without being included.
    Dropped {
        /// What a client can act on.
        code: ErrorCode,
        /// Why.
        message: String,
        /// The height after which it was dropped.
        height: Height,
    },
    /// Never seen, or forgotten.
    Unknown,
}

/// A validator as `chain_getValidators` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatorView {
    /// Name.
    pub name: String,
    /// Consensus key.
    pub key: PublicKey,
    /// Voting power.
    pub power: U64,
}

/// The validators of one region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionValidators {
    /// The region.
    pub region: RegionId,
    /// Its power.
    pub power: U64,
    /// Its validators, by key.
    pub validators: Vec<ValidatorView>,
}

/// The set that decides a height, grouped by region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatorsView {
    /// The height it decides.
    pub height: Height,
    /// Hash of the set (the header's `validator_set_hash`).
    pub hash: Hash,
    /// Quorum rule.
    pub rule: QuorumRule,
    /// Total power.
    pub total_power: U64,
    /// Regions in order.
    pub regions: Vec<RegionValidators>,
}

/// An account (`gov_getAccount`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountView {
    /// The nonce its next finalized transaction must carry.
    pub nonce: u64,
    /// The nonce to sign the next transaction with, counting those in the pool.
    pub pending_nonce: u64,
    /// Roles held.
    pub roles: Vec<Role>,
}

/// Filter of `gov_listProposals`; every field set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProposalFilter {
    /// Only this kind.
    #[serde(default)]
    pub kind: Option<ProposalKind>,
    /// Only this status name (`voting`, `executing`, `succeeded`, …).
    #[serde(default)]
    pub status: Option<String>,
    /// Only proposals affecting this region.
    #[serde(default)]
    pub region: Option<RegionId>,
    /// Only proposals by this author.
    #[serde(default)]
    pub proposer: Option<PublicKey>,
}

/// A page of proposals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalPage {
    /// Matching proposals, by id.
    pub proposals: Vec<ProposalState>,
    /// Pass as `after` to continue; `null` when the list is complete.
    pub next: Option<ProposalId>,
}

/// A region's tally against its thresholds (`gov_getTally`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionTally {
    /// The region.
    pub region: RegionId,
    /// Voters in the snapshot taken when voting opened.
    pub voters: u32,
    /// Votes counted.
    pub tally: Tally,
    /// Turnout ÷ voters.
    pub turnout: Fraction,
    /// Quorum required.
    pub quorum: Fraction,
    /// Whether the quorum is reached.
    pub quorum_reached: bool,
    /// yes ÷ (yes + no + veto).
    pub approval: Fraction,
    /// Approval threshold.
    pub threshold: Fraction,
    /// Whether the threshold is reached.
    pub threshold_reached: bool,
    /// veto ÷ turnout.
    pub veto: Fraction,
    /// Veto threshold.
    pub veto_threshold: Fraction,
    /// Whether a veto would carry (once quorum is met).
    pub vetoed: bool,
    /// More voters needed for quorum.
    pub votes_missing_for_quorum: u32,
    /// More yes votes needed to reach the threshold (with no vote changing).
    pub yes_missing_for_threshold: u32,
}

/// Every affected region's tally (`gov_getTally`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TallyView {
    /// The proposal.
    pub proposal: ProposalId,
    /// Its status.
    pub status: accord_types::governance::ProposalStatus,
    /// Last height at which votes count.
    pub voting_ends: Height,
    /// Per region.
    pub regions: Vec<RegionTally>,
    /// Whether every region has reached quorum and threshold with no veto.
    pub passing: bool,
}

/// `gov_getParams`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamsView {
    /// Head height the parameters were read at.
    pub height: Height,
    /// The governance parameters in force.
    pub params: GovernanceParams,
}

/// Filter of `gov_getEvents` and `gov_subscribeEvents`; every field set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventFilter {
    /// Event types (`execution_requested`, `status_changed`, …); any of them.
    #[serde(default)]
    pub types: Option<Vec<String>>,
    /// Kinds of the proposal the event is about; any of them.
    #[serde(default)]
    pub kinds: Option<Vec<ProposalKind>>,
    /// Regions the event is about; any of them (events without a region match).
    #[serde(default)]
    pub regions: Option<Vec<RegionId>>,
    /// Proposals the event is about; any of them.
    #[serde(default)]
    pub proposals: Option<Vec<ProposalId>>,
}

/// An event with where it sits in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventView {
    /// Its position; pass it as `after` to resume behind it.
    pub cursor: EventCursor,
    /// The transaction whose receipt holds it (`null`: the end-of-block step).
    pub transaction: Option<Hash>,
    /// The event.
    pub event: Event,
}

/// A page of events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventPage {
    /// Matching events, in chain order.
    pub events: Vec<EventView>,
    /// The cursor to continue from (the last event examined, which a filter may have
    /// skipped); `null` when nothing was examined.
    pub next: Option<EventCursor>,
    /// Whether the log ends here (at the time of the read).
    pub complete: bool,
}

/// A finalized block as `chain_subscribeFinalizedBlocks` delivers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinalizedBlock {
    /// The block hash.
    pub hash: Hash,
    /// The header.
    pub header: Header,
    /// Round of the decision.
    pub round: Round,
    /// Hash of the commit certificate.
    pub certificate_hash: Hash,
    /// Validators that signed it.
    pub signers: Vec<PublicKey>,
    /// Transactions in the block.
    pub transactions: u32,
    /// Events the block emitted.
    pub events: u32,
}

/// Proof that an event is in a finalized block (`gov_getEventProof`): the receipt
/// holding it, its Merkle path to the header's receipts root, the header and the commit
/// certificate of that height.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventProof {
    /// The event's position.
    pub cursor: EventCursor,
    /// The receipt at `cursor.receipt` of the block.
    pub receipt: Receipt,
    /// Path from the receipt's hash to `header.receipts_root`.
    pub path: merkle::Proof,
    /// The block's header.
    pub header: Header,
    /// Its commit certificate.
    pub certificate: CommitCertificate,
}

/// What `gov_getStateProof` proves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "record", deny_unknown_fields)]
pub enum StateTarget {
    /// A proposal's state record.
    Proposal {
        /// The proposal.
        id: ProposalId,
    },
    /// An account's roles.
    Account {
        /// The account.
        key: PublicKey,
    },
    /// An account's next nonce.
    Nonce {
        /// The account.
        key: PublicKey,
    },
    /// The governance parameters.
    Params,
    /// The current validator set.
    Validators,
}

/// Proof of a state record against the state root of a finalized header
/// (`gov_getStateProof`; `eth_getProof` is the model). The proof carries the raw key
/// and, when present, the raw borsh value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateProofView {
    /// What was asked.
    pub target: StateTarget,
    /// The path from the key to `header.state_root`.
    pub proof: StateProof,
    /// The header whose state root the proof is against (the head when read).
    pub header: Header,
    /// Its commit certificate.
    pub certificate: CommitCertificate,
}

impl StateTarget {
    /// The raw state key of the record.
    pub fn key(&self) -> Vec<u8> {
        use accord_runtime::keys;
        match self {
            Self::Proposal { id } => keys::proposal(*id),
            Self::Account { key } => keys::account(key),
            Self::Nonce { key } => keys::nonce(key),
            Self::Params => keys::params(),
            Self::Validators => keys::validators(),
        }
    }
}

/// `0x` hex for byte strings.
pub mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `0x…`.
    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&accord_types::codec::hex_encode(bytes))
    }

    /// Reads `0x…`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        accord_types::codec::hex_decode("bytes", &text).map_err(serde::de::Error::custom)
    }
}

/// `0x` hex or `null`.
pub mod hex_opt_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `0x…` or `null`.
    pub fn serialize<S: Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(b) => super::hex_bytes::serialize(b, s),
            None => s.serialize_none(),
        }
    }

    /// Reads `0x…` or `null`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        text.map(|t| accord_types::codec::hex_decode("bytes", &t))
            .transpose()
            .map_err(serde::de::Error::custom)
    }
}

/// The snake_case name of an event's type, as filters name it.
pub fn event_type(event: &Event) -> &'static str {
    match event {
        Event::ProposalSubmitted { .. } => "proposal_submitted",
        Event::VoteCast { .. } => "vote_cast",
        Event::StatusChanged { .. } => "status_changed",
        Event::ExecutionRequested { .. } => "execution_requested",
        Event::ExecutionClaimed { .. } => "execution_claimed",
        Event::ExecutionReported { .. } => "execution_reported",
        Event::RollbackRequested { .. } => "rollback_requested",
        Event::GovernanceChanged { .. } => "governance_changed",
        Event::ValidatorSetChangeScheduled { .. } => "validator_set_change_scheduled",
        Event::EvidenceRecorded { .. } => "evidence_recorded",
    }
}

/// Every event type name.
pub const EVENT_TYPES: [&str; 10] = [
    "proposal_submitted",
    "vote_cast",
    "status_changed",
    "execution_requested",
    "execution_claimed",
    "execution_reported",
    "rollback_requested",
    "governance_changed",
    "validator_set_change_scheduled",
    "evidence_recorded",
];

/// The proposal an event is about.
pub fn event_proposal(event: &Event) -> Option<ProposalId> {
    match event {
        Event::ProposalSubmitted { proposal, .. }
        | Event::VoteCast { proposal, .. }
        | Event::StatusChanged { proposal, .. }
        | Event::ExecutionRequested { proposal, .. }
        | Event::ExecutionClaimed { proposal, .. }
        | Event::ExecutionReported { proposal, .. }
        | Event::RollbackRequested { proposal, .. }
        | Event::GovernanceChanged { proposal }
        | Event::ValidatorSetChangeScheduled { proposal, .. } => Some(*proposal),
        Event::EvidenceRecorded { .. } => None,
    }
}

/// The region an event is about, when it names one.
pub fn event_region(event: &Event) -> Option<&RegionId> {
    match event {
        Event::VoteCast { region, .. }
        | Event::ExecutionRequested { region, .. }
        | Event::ExecutionClaimed { region, .. }
        | Event::ExecutionReported { region, .. }
        | Event::RollbackRequested { region, .. } => Some(region),
        _ => None,
    }
}

/// The snake_case name of a proposal status, as filters name it.
pub fn status_name(status: &accord_types::governance::ProposalStatus) -> String {
    serde_json::to_value(status)
        .ok()
        .and_then(|v| v.get("status").and_then(|s| s.as_str()).map(str::to_owned))
        .unwrap_or_default()
}

/// Every proposal status name.
pub const STATUS_NAMES: [&str; 15] = [
    "voting",
    "approved",
    "queued",
    "executing",
    "succeeded",
    "rejected",
    "vetoed",
    "expired",
    "cancelled",
    "failed",
    "rolling_back",
    "rolled_back",
    "emergency_executed",
    "ratified",
    "unratified",
];

/// Longest period `gov_getDeliveryMetrics` answers for, in days.
pub const MAX_DELIVERY_DAYS: u32 = 366;

/// What `gov_getDeliveryMetrics` counts: one region and one kind, or all; UTC dates
/// `from` and `to` (`YYYY-MM-DD`, both included; by default the 30 days ending on the
/// day of the head block).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryFilter {
    /// Only this region.
    #[serde(default)]
    pub region: Option<RegionId>,
    /// Only this kind of proposal.
    #[serde(default)]
    pub kind: Option<ProposalKind>,
    /// First UTC day, `YYYY-MM-DD`.
    #[serde(default)]
    pub from: Option<String>,
    /// Last UTC day, `YYYY-MM-DD`.
    #[serde(default)]
    pub to: Option<String>,
}

/// How `gov_getDeliveryMetrics` divides the period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryBucket {
    /// One bucket per UTC day that has figures.
    Day,
    /// Seven-day buckets from `from` (the last one cut at `to`), those with figures.
    Week,
    /// One bucket: the whole period.
    #[default]
    Total,
}

/// The delivery (DORA) figures of one bucket. Times in seconds; a mean or a rate is
/// `null` when there is nothing to divide by.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeliveryFigures {
    /// Deployments: a proposal's last phase reported succeeded in the region.
    pub deployments: u64,
    /// Deployments per day of the bucket.
    pub deployments_per_day: f64,
    /// Change executions concluded (deployed, failed or rolled back), each once.
    pub executed: u64,
    /// Change executions that failed or were rolled back, each once.
    pub failed: u64,
    /// `failed ÷ executed`.
    pub change_failure_rate: Option<f64>,
    /// Mean lead time (submission to deployment).
    pub lead_time_mean_seconds: Option<f64>,
    /// Longest lead time.
    pub lead_time_max_seconds: Option<f64>,
    /// Failures restored (the same target deployed again in the region).
    pub restores: u64,
    /// Mean time to restore.
    pub time_to_restore_mean_seconds: Option<f64>,
    /// Longest time to restore.
    pub time_to_restore_max_seconds: Option<f64>,
}

/// One bucket of a series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryPeriod {
    /// First UTC day.
    pub from: String,
    /// Last UTC day.
    pub to: String,
    /// Days in it.
    pub days: u32,
    /// Its figures.
    #[serde(flatten)]
    pub figures: DeliveryFigures,
}

/// The figures of one region and kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliverySeries {
    /// The region.
    pub region: RegionId,
    /// The kind of proposal.
    pub kind: ProposalKind,
    /// Its buckets, in order.
    pub buckets: Vec<DeliveryPeriod>,
    /// The whole period.
    pub total: DeliveryFigures,
}

/// The answer of `gov_getDeliveryMetrics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryMetrics {
    /// The last block counted.
    pub height: Height,
    /// First UTC day of the period.
    pub from: String,
    /// Last UTC day of the period.
    pub to: String,
    /// Days in the period.
    pub days: u32,
    /// How the period is divided.
    pub bucket: DeliveryBucket,
    /// One series per region and kind with figures in the period.
    pub series: Vec<DeliverySeries>,
    /// Every series together.
    pub total: DeliveryFigures,
}
