//! The key layout of the aggregate's key-value space and the codec of its values.

use accord_types::governance::ProposalKind;
use accord_types::{Hash, ProposalId, RegionId, Timestamp};
use borsh::BorshDeserialize;
use serde::Serialize;

use super::{Bucket, DeliveryError, DAY_MS};

/// Largest stored value read back (a tracked proposal with 32 regions is under 1 KiB).
const MAX_VALUE_BYTES: usize = 64 * 1024;

pub(super) const META_KEY: &[u8] = b"m";
const DAY_TABLE: u8 = b'd';
const TOTAL_TABLE: u8 = b't';
const PROPOSAL_TABLE: u8 = b'p';
const FAILURE_TABLE: u8 = b'f';

/// One day's bucket of a region and kind, as read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayEntry {
    /// The UTC day (days since 1970-01-01).
    pub day: u32,
    /// The region.
    pub region: RegionId,
    /// The proposals' kind.
    pub kind: ProposalKind,
    /// The figures.
    pub bucket: Bucket,
}

/// The all-time bucket of a region and kind, as read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TotalEntry {
    /// The region.
    pub region: RegionId,
    /// The proposals' kind.
    pub kind: ProposalKind,
    /// The figures.
    pub bucket: Bucket,
}

/// The code of a kind in keys.
pub fn kind_code(kind: ProposalKind) -> u8 {
    match kind {
        ProposalKind::PipelineAction => 0,
        ProposalKind::InfrastructureChange => 1,
        ProposalKind::DocumentationChange => 2,
        ProposalKind::RoadmapChange => 3,
        ProposalKind::GovernanceChange => 4,
    }
}

fn kind_of(code: u8) -> Option<ProposalKind> {
    Some(match code {
        0 => ProposalKind::PipelineAction,
        1 => ProposalKind::InfrastructureChange,
        2 => ProposalKind::DocumentationChange,
        3 => ProposalKind::RoadmapChange,
        4 => ProposalKind::GovernanceChange,
        _ => return None,
    })
}

/// The UTC day of a timestamp.
pub fn day_of(timestamp: Timestamp) -> u32 {
    u32::try_from(timestamp.0 / DAY_MS).unwrap_or(u32::MAX)
}

/// Key of a day bucket.
pub fn day_key(day: u32, kind: ProposalKind, region: &RegionId) -> Vec<u8> {
    let mut key = Vec::with_capacity(6 + region.as_str().len());
    key.push(DAY_TABLE);
    key.extend_from_slice(&day.to_be_bytes());
    key.push(kind_code(kind));
    key.extend_from_slice(region.as_str().as_bytes());
    key
}

/// Key of an all-time bucket.
pub fn total_key(kind: ProposalKind, region: &RegionId) -> Vec<u8> {
    let mut key = Vec::with_capacity(2 + region.as_str().len());
    key.push(TOTAL_TABLE);
    key.push(kind_code(kind));
    key.extend_from_slice(region.as_str().as_bytes());
    key
}

/// The key range `[start, end)` holding the day buckets of days `from..=to`.
pub fn day_range(from: u32, to: u32) -> (Vec<u8>, Vec<u8>) {
    let mut start = vec![DAY_TABLE];
    start.extend_from_slice(&from.to_be_bytes());
    let end = match to.checked_add(1) {
        Some(next) => {
            let mut end = vec![DAY_TABLE];
            end.extend_from_slice(&next.to_be_bytes());
            end
        }
        None => vec![DAY_TABLE.saturating_add(1)],
    };
    (start, end)
}

/// The key range `[start, end)` holding the all-time buckets.
pub fn total_range() -> (Vec<u8>, Vec<u8>) {
    (vec![TOTAL_TABLE], vec![TOTAL_TABLE.saturating_add(1)])
}

/// The key of the meta record.
pub fn meta_key() -> &'static [u8] {
    META_KEY
}

pub(super) fn proposal_key(id: ProposalId) -> Vec<u8> {
    let mut key = vec![PROPOSAL_TABLE];
    key.extend_from_slice(&id.0.to_be_bytes());
    key
}

pub(super) fn failure_key(region: &RegionId, target: &Hash) -> Vec<u8> {
    let region = region.as_str().as_bytes();
    let mut key = Vec::with_capacity(2 + region.len() + 32);
    key.push(FAILURE_TABLE);
    key.push(u8::try_from(region.len()).unwrap_or(u8::MAX));
    key.extend_from_slice(region);
    key.extend_from_slice(target.as_bytes());
    key
}

fn corrupt(key: &[u8], reason: impl Into<String>) -> DeliveryError {
    DeliveryError::Corrupt {
        key: hex::encode(key),
        reason: reason.into(),
    }
}

pub(super) fn decode<T: BorshDeserialize>(key: &[u8], bytes: &[u8]) -> Result<T, DeliveryError> {
    accord_types::codec::decode("delivery metrics entry", bytes, MAX_VALUE_BYTES)
        .map_err(|e| corrupt(key, e.to_string()))
}

fn region_of(key: &[u8], bytes: &[u8]) -> Result<RegionId, DeliveryError> {
    let text = std::str::from_utf8(bytes).map_err(|_| corrupt(key, "the region is not UTF-8"))?;
    RegionId::new(text).map_err(|e| corrupt(key, e.to_string()))
}

/// Decodes a day bucket read back from [`day_range`].
pub fn decode_day(key: &[u8], value: &[u8]) -> Result<DayEntry, DeliveryError> {
    let Some((&DAY_TABLE, rest)) = key.split_first() else {
        return Err(corrupt(key, "not a day bucket key"));
    };
    let Some((day, rest)) = rest.split_first_chunk::<4>() else {
        return Err(corrupt(key, "the key has no day"));
    };
    let Some((&code, region)) = rest.split_first() else {
        return Err(corrupt(key, "the key has no kind"));
    };
    let kind = kind_of(code).ok_or_else(|| corrupt(key, format!("unknown kind {code}")))?;
    Ok(DayEntry {
        day: u32::from_be_bytes(*day),
        region: region_of(key, region)?,
        kind,
        bucket: decode(key, value)?,
    })
}

/// Decodes an all-time bucket read back from [`total_range`].
pub fn decode_total(key: &[u8], value: &[u8]) -> Result<TotalEntry, DeliveryError> {
    let Some((&TOTAL_TABLE, rest)) = key.split_first() else {
        return Err(corrupt(key, "not a total bucket key"));
    };
    let Some((&code, region)) = rest.split_first() else {
        return Err(corrupt(key, "the key has no kind"));
    };
    let kind = kind_of(code).ok_or_else(|| corrupt(key, format!("unknown kind {code}")))?;
    Ok(TotalEntry {
        region: region_of(key, region)?,
        kind,
        bucket: decode(key, value)?,
    })
}
