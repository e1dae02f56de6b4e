//! Column family names and key encodings. Numbers in keys are big-endian, so RocksDB's
//! byte order is numeric order and prefix scans walk heights in order.

use accord_types::Height;

/// Block headers: `height` → borsh `Header`.
pub const HEADERS: &str = "headers";
/// Blocks: `height` → borsh `Block`.
pub const BLOCKS: &str = "blocks";
/// Block hash index: `block hash` → `height`.
pub const BLOCK_HASHES: &str = "block_hashes";
/// Commit certificates: `height` → borsh `CommitCertificate`.
pub const CERTIFICATES: &str = "certificates";
/// The state store's raw keys and values (see `accord_state`).
pub const STATE: &str = "state";
/// Receipts: `height ‖ receipt index` → borsh `Receipt`.
pub const RECEIPTS: &str = "receipts";
/// Transaction index: `transaction hash` → borsh `(Height, u32)`.
pub const TX_INDEX: &str = "tx_index";
/// Events: `height ‖ receipt index ‖ event index` → borsh `Event`.
pub const EVENTS: &str = "events";
/// Chain metadata: chain id, genesis hash, head.
pub const META: &str = "meta";
/// Validator sets: `first height it decides` → borsh `ValidatorSet` (genesis at 1, then
/// one entry per change).
pub const VALIDATOR_SETS: &str = "validator_sets";

/// Delivery (DORA) metrics: the aggregate of `accord_runtime::delivery`, under its
/// own keys (day and all-time buckets, tracked proposals, open failures, its height).
pub const DELIVERY: &str = "delivery";

/// Every column family the node uses.
pub const COLUMN_FAMILIES: [&str; 11] = [
    HEADERS,
    BLOCKS,
    BLOCK_HASHES,
    CERTIFICATES,
    STATE,
    RECEIPTS,
    TX_INDEX,
    EVENTS,
    META,
    VALIDATOR_SETS,
    DELIVERY,
];

/// `meta` key of the chain id (borsh `ChainId`).
pub const META_CHAIN_ID: &[u8] = b"chain_id";
/// `meta` key of the genesis hash (32 bytes).
pub const META_GENESIS_HASH: &[u8] = b"genesis_hash";
/// `meta` key of the head (borsh `Head`).
pub const META_HEAD: &[u8] = b"head";

/// Key of everything stored by height.
pub fn height(height: Height) -> [u8; 8] {
    height.0.to_be_bytes()
}

/// Decodes a height key.
pub fn parse_height(key: &[u8]) -> Option<Height> {
    <[u8; 8]>::try_from(key)
        .ok()
        .map(|b| Height(u64::from_be_bytes(b)))
}

/// Key of a receipt: height, then its index in the block.
pub fn receipt(height: Height, index: u32) -> [u8; 12] {
    let mut key = [0u8; 12];
    let (h, i) = key.split_at_mut(8);
    h.copy_from_slice(&height.0.to_be_bytes());
    i.copy_from_slice(&index.to_be_bytes());
    key
}

/// Decodes a receipt key.
pub fn parse_receipt(key: &[u8]) -> Option<(Height, u32)> {
    let key = <[u8; 12]>::try_from(key).ok()?;
    let (h, i) = key.split_first_chunk::<8>()?;
    let i = <[u8; 4]>::try_from(i).ok()?;
    Some((Height(u64::from_be_bytes(*h)), u32::from_be_bytes(i)))
}

/// Key of an event: height, receipt index, event index.
pub fn event(height: Height, receipt: u32, event: u32) -> [u8; 16] {
    let mut key = [0u8; 16];
    let (h, rest) = key.split_at_mut(8);
    let (r, e) = rest.split_at_mut(4);
    h.copy_from_slice(&height.0.to_be_bytes());
    r.copy_from_slice(&receipt.to_be_bytes());
    e.copy_from_slice(&event.to_be_bytes());
    key
}

/// Decodes an event key.
pub fn parse_event(key: &[u8]) -> Option<(Height, u32, u32)> {
    let key = <[u8; 16]>::try_from(key).ok()?;
    let (h, rest) = key.split_first_chunk::<8>()?;
    let (r, e) = rest.split_first_chunk::<4>()?;
    let e = <[u8; 4]>::try_from(e).ok()?;
    Some((
        Height(u64::from_be_bytes(*h)),
        u32::from_be_bytes(*r),
        u32::from_be_bytes(e),
    ))
}
