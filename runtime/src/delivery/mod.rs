//! Delivery (DORA) metrics from finalized events: deployment frequency, lead time for
//! changes, change failure rate and time to restore, per region, proposal kind and UTC
//! day.
//!
//! # Definitions
//!
//! Every figure is computed from the events of committed (finalized) blocks, in chain
//! order, and timed by the **block timestamp** of the block holding the event (never an
//! agent's clock). A figure is filed under the UTC day of that timestamp, the region of
//! the event and the kind of the proposal.
//!
//! - A **change execution** is one proposal's execution in one of its regions.
//! - A **deployment** in a region: the proposal's last phase (`phases − 1`; a proposal
//!   without a phased rollout has one phase) reported `succeeded` in that region
//!   (`ExecutionReported{outcome: succeeded}`). One per (proposal, region) at most.
//! - A change execution is **executed** once, at the first of: its deployment, a phase
//!   reported `failed` in the region, a rollback requested in the region. Regions whose
//!   outstanding requests were withdrawn before their agents applied anything are not
//!   executed.
//! - A change execution **failed** once, at the first of: a phase reported `failed` in
//!   the region (`ExecutionReported{outcome: failed}`), a rollback requested in the
//!   region (`RollbackRequested`: the change failed elsewhere, or an emergency was not
//!   ratified, after this region applied some of it). A deployment rolled back later is
//!   a deployment, executed once, and a failure.
//! - **Lead time** of a deployment: its block timestamp minus the block timestamp of the
//!   proposal's `ProposalSubmitted`.
//! - **Change failure rate**: failed ÷ executed.
//! - **Time to restore**: a failure opens the pair (region, target) at its block
//!   timestamp, unless it is open already; the next deployment in that region of any
//!   proposal with the same target closes it, and the time between is one restore,
//!   filed under the day, region and kind of the restoring deployment.
//! - **Target** (see [`target`]): pipeline actions name theirs (`pipeline` and
//!   `environment`); an infrastructure change is identified by its resources, a
//!   documentation change by the document's path, a roadmap change by its item; a
//!   governance change targets the governance configuration as a whole (they take
//!   effect in the state, never run on agents, and so never count).
//!
//! # Storage
//!
//! The node keeps the aggregate in a key-value space of its own, written with each
//! block in the block's commit batch ([`apply_block`] returns the writes):
//!
//! ```text
//!   m                                  Meta: height counted up to, tracked counts
//!   d ‖ day u32 ‖ kind u8 ‖ region     Bucket of one UTC day (day = ms / 86 400 000)
//!   t ‖ kind u8 ‖ region               Bucket of all time (what /metrics reads)
//!   p ‖ proposal id u64                Tracked: a live proposal's kind, submission
//!                                      time, phases, target and per-region flags
//!   f ‖ len u8 ‖ region ‖ target hash  open failure: timestamp (ms) it opened
//! ```
//!
//! Numbers are big-endian, so the day buckets of a period are one range scan and a
//! read never walks more than the days it asks for.
//!
//! # Bounds
//!
//! A proposal is tracked from its submission until its last status change ends it
//! (succeeded, rejected, vetoed, expired, cancelled, failed with nothing to roll back,
//! rolled back, unratified with nothing to roll back, or ratified once executed in every
//! region): at most the proposals alive in the state, and never more than
//! [`MAX_TRACKED`]; proposals submitted while that many are tracked are not counted.
//! Open failures are at most one per (region, target) that failed and has not been
//! deployed since, never more than [`MAX_OPEN_FAILURES`]; failures beyond that open no
//! restore clock. A block's work is a few point reads per execution, rollback, status
//! and submission event.

use std::collections::{BTreeMap, BTreeSet};

use accord_types::governance::{ExecutionOutcome, ProposalBody, ProposalKind, ProposalStatus};
use accord_types::{
    Event, Hash, Height, Payload, ProposalId, Receipt, RegionId, Timestamp, Transaction,
};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::Serialize;

mod keys;
mod memory;
mod target;

pub use keys::{
    day_key, day_of, day_range, decode_day, decode_total, kind_code, meta_key, total_key,
    total_range, DayEntry, TotalEntry,
};
pub use memory::MemDelivery;
pub use target::{target, target_id};

use keys::{decode, failure_key, proposal_key, META_KEY};
use target::{own_target, phases};

/// Milliseconds in a UTC day.
pub const DAY_MS: u64 = 86_400_000;
/// Most proposals tracked at once.
pub const MAX_TRACKED: u64 = 100_000;
/// Most open failures (region, target) at once.
pub const MAX_OPEN_FAILURES: u64 = 100_000;

/// Flags of a (proposal, region) pair.
const EXECUTED: u8 = 1;
const FAILED: u8 = 2;
const DEPLOYED: u8 = 4;

/// The figures of one (region, kind) over one day, or over all time. Times in
/// milliseconds; every counter saturates.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize,
)]
pub struct Bucket {
    /// Deployments (last phase succeeded in the region).
    pub deployments: u64,
    /// Change executions concluded (deployed, failed or rolled back), each once.
    pub executed: u64,
    /// Change executions that failed or were rolled back, each once.
    pub failed: u64,
    /// Sum of the deployments' lead times (one per deployment).
    pub lead_time_ms_sum: u64,
    /// Longest lead time.
    pub lead_time_ms_max: u64,
    /// Sum of the restore times.
    pub restore_ms_sum: u64,
    /// Restores counted.
    pub restore_count: u64,
    /// Longest restore time.
    pub restore_ms_max: u64,
}

impl Bucket {
    /// Adds another bucket's figures to this one (maxima take the larger).
    pub fn merge(&mut self, other: &Bucket) {
        self.deployments = self.deployments.saturating_add(other.deployments);
        self.executed = self.executed.saturating_add(other.executed);
        self.failed = self.failed.saturating_add(other.failed);
        self.lead_time_ms_sum = self.lead_time_ms_sum.saturating_add(other.lead_time_ms_sum);
        self.lead_time_ms_max = self.lead_time_ms_max.max(other.lead_time_ms_max);
        self.restore_ms_sum = self.restore_ms_sum.saturating_add(other.restore_ms_sum);
        self.restore_count = self.restore_count.saturating_add(other.restore_count);
        self.restore_ms_max = self.restore_ms_max.max(other.restore_ms_max);
    }

    fn lead_time(&mut self, ms: u64) {
        self.lead_time_ms_sum = self.lead_time_ms_sum.saturating_add(ms);
        self.lead_time_ms_max = self.lead_time_ms_max.max(ms);
    }

    fn restore(&mut self, ms: u64) {
        self.restore_ms_sum = self.restore_ms_sum.saturating_add(ms);
        self.restore_count = self.restore_count.saturating_add(1);
        self.restore_ms_max = self.restore_ms_max.max(ms);
    }
}

/// What the aggregate has counted: the last block and how much it tracks.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize,
)]
pub struct Meta {
    /// The last block counted (0: none).
    pub height: Height,
    /// Proposals tracked.
    pub tracked: u64,
    /// Open failures.
    pub open_failures: u64,
}

/// What the aggregate remembers of a live proposal.
#[derive(Debug, Clone, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
struct Tracked {
    kind: ProposalKind,
    submitted_ms: u64,
    phases: u16,
    target: Hash,
    ratified: bool,
    /// Each affected region with its flags (`EXECUTED`, `FAILED`, `DEPLOYED`).
    regions: Vec<(RegionId, u8)>,
}

impl Tracked {
    fn flags(&mut self, region: &RegionId) -> Option<&mut u8> {
        self.regions
            .iter_mut()
            .find(|(r, _)| r == region)
            .map(|(_, flags)| flags)
    }

    fn deployed_everywhere(&self) -> bool {
        self.regions.iter().all(|(_, f)| f & DEPLOYED != 0)
    }
}

/// Why the aggregate could not be read or updated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// The store failed.
    #[error("delivery metrics store: {0}")]
    Store(String),
    /// A stored value or key does not decode.
    #[error("delivery metrics entry {key} is corrupt: {reason}")]
    Corrupt {
        /// The key, hex.
        key: String,
        /// Why.
        reason: String,
    },
}

/// Point reads of the aggregate's key-value space.
pub trait DeliveryStore {
    /// The value under `key`.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, DeliveryError>;
}

/// A write: a value, or `None` to delete the key.
pub type Write = (Vec<u8>, Option<Vec<u8>>);

/// Reads the meta record.
pub fn read_meta(store: &dyn DeliveryStore) -> Result<Meta, DeliveryError> {
    match store.get(META_KEY)? {
        Some(bytes) => decode(META_KEY, &bytes),
        None => Ok(Meta::default()),
    }
}

/// The records one block reads and changes, written back once at its end.
struct Working<'a> {
    store: &'a dyn DeliveryStore,
    meta: Meta,
    buckets: BTreeMap<Vec<u8>, Bucket>,
    tracked: BTreeMap<ProposalId, Option<Tracked>>,
    dirty_tracked: BTreeSet<ProposalId>,
    failures: BTreeMap<Vec<u8>, Option<u64>>,
    dirty_failures: BTreeSet<Vec<u8>>,
    /// Proposals whose last status in this block may end their tracking.
    ended: BTreeMap<ProposalId, ProposalStatus>,
}

impl Working<'_> {
    fn bucket(&mut self, key: Vec<u8>) -> Result<&mut Bucket, DeliveryError> {
        if !self.buckets.contains_key(&key) {
            let stored = match self.store.get(&key)? {
                Some(bytes) => decode(&key, &bytes)?,
                None => Bucket::default(),
            };
            self.buckets.insert(key.clone(), stored);
        }
        Ok(self.buckets.entry(key).or_default())
    }

    /// Applies `f` to the day and all-time buckets of (region, kind).
    fn count(
        &mut self,
        day: u32,
        kind: ProposalKind,
        region: &RegionId,
        f: impl Fn(&mut Bucket),
    ) -> Result<(), DeliveryError> {
        f(self.bucket(day_key(day, kind, region))?);
        f(self.bucket(total_key(kind, region))?);
        Ok(())
    }

    fn tracked(&mut self, id: ProposalId) -> Result<Option<Tracked>, DeliveryError> {
        if let Some(cached) = self.tracked.get(&id) {
            return Ok(cached.clone());
        }
        let key = proposal_key(id);
        let stored = match self.store.get(&key)? {
            Some(bytes) => Some(decode(&key, &bytes)?),
            None => None,
        };
        self.tracked.insert(id, stored.clone());
        Ok(stored)
    }

    fn put_tracked(&mut self, id: ProposalId, value: Option<Tracked>) -> Result<(), DeliveryError> {
        let before = self.tracked(id)?.is_some();
        match (before, value.is_some()) {
            (false, true) => self.meta.tracked = self.meta.tracked.saturating_add(1),
            (true, false) => self.meta.tracked = self.meta.tracked.saturating_sub(1),
            _ => {}
        }
        self.tracked.insert(id, value);
        self.dirty_tracked.insert(id);
        Ok(())
    }

    fn failure(&mut self, key: &[u8]) -> Result<Option<u64>, DeliveryError> {
        if let Some(cached) = self.failures.get(key) {
            return Ok(*cached);
        }
        let stored = match self.store.get(key)? {
            Some(bytes) => Some(decode(key, &bytes)?),
            None => None,
        };
        self.failures.insert(key.to_vec(), stored);
        Ok(stored)
    }

    fn put_failure(&mut self, key: Vec<u8>, value: Option<u64>) -> Result<(), DeliveryError> {
        let before = self.failure(&key)?.is_some();
        match (before, value.is_some()) {
            (false, true) => self.meta.open_failures = self.meta.open_failures.saturating_add(1),
            (true, false) => self.meta.open_failures = self.meta.open_failures.saturating_sub(1),
            _ => {}
        }
        self.failures.insert(key.clone(), value);
        self.dirty_failures.insert(key);
        Ok(())
    }

    fn submitted(
        &mut self,
        id: ProposalId,
        kind: ProposalKind,
        regions: &[RegionId],
        body: Option<&ProposalBody>,
        now: u64,
    ) -> Result<(), DeliveryError> {
        if self.tracked(id)?.is_some() || self.meta.tracked >= MAX_TRACKED {
            return Ok(());
        }
        let (phases, target) = match body {
            Some(body) => (phases(body), target_id(body)),
            // Not from a submission transaction (no such block is valid): its own target.
            None => (1, own_target(id)),
        };
        let mut seen = BTreeSet::new();
        let regions = regions
            .iter()
            .filter(|r| seen.insert(*r))
            .map(|r| (r.clone(), 0u8))
            .collect();
        self.put_tracked(
            id,
            Some(Tracked {
                kind,
                submitted_ms: now,
                phases,
                target,
                ratified: false,
                regions,
            }),
        )
    }

    fn succeeded(
        &mut self,
        id: ProposalId,
        region: &RegionId,
        phase: u16,
        now: u64,
        day: u32,
    ) -> Result<(), DeliveryError> {
        let Some(mut tracked) = self.tracked(id)? else {
            return Ok(());
        };
        if phase.saturating_add(1) < tracked.phases {
            return Ok(());
        }
        let Some(flags) = tracked.flags(region) else {
            return Ok(());
        };
        if *flags & (DEPLOYED | FAILED) != 0 {
            return Ok(());
        }
        let first = *flags & EXECUTED == 0;
        *flags |= DEPLOYED | EXECUTED;
        let lead = now.saturating_sub(tracked.submitted_ms);
        self.count(day, tracked.kind, region, |b| {
            b.deployments = b.deployments.saturating_add(1);
            if first {
                b.executed = b.executed.saturating_add(1);
            }
            b.lead_time(lead);
        })?;
        let key = failure_key(region, &tracked.target);
        if let Some(since) = self.failure(&key)? {
            let restore = now.saturating_sub(since);
            self.count(day, tracked.kind, region, |b| b.restore(restore))?;
            self.put_failure(key, None)?;
        }
        let done = tracked.ratified && tracked.deployed_everywhere();
        self.put_tracked(id, if done { None } else { Some(tracked) })
    }

    fn failed(
        &mut self,
        id: ProposalId,
        region: &RegionId,
        now: u64,
        day: u32,
    ) -> Result<(), DeliveryError> {
        let Some(mut tracked) = self.tracked(id)? else {
            return Ok(());
        };
        let Some(flags) = tracked.flags(region) else {
            return Ok(());
        };
        if *flags & FAILED != 0 {
            return Ok(());
        }
        let first = *flags & EXECUTED == 0;
        *flags |= FAILED | EXECUTED;
        self.count(day, tracked.kind, region, |b| {
            b.failed = b.failed.saturating_add(1);
            if first {
                b.executed = b.executed.saturating_add(1);
            }
        })?;
        let key = failure_key(region, &tracked.target);
        if self.failure(&key)?.is_none() && self.meta.open_failures < MAX_OPEN_FAILURES {
            self.put_failure(key, Some(now))?;
        }
        self.put_tracked(id, Some(tracked))
    }

    /// Ends the tracking of proposals whose last status in the block ends them.
    fn finish(&mut self) -> Result<(), DeliveryError> {
        for (id, status) in std::mem::take(&mut self.ended) {
            let Some(mut tracked) = self.tracked(id)? else {
                continue;
            };
            let end = match status {
                ProposalStatus::Succeeded
                | ProposalStatus::Rejected
                | ProposalStatus::Vetoed
                | ProposalStatus::Expired
                | ProposalStatus::Cancelled
                | ProposalStatus::Failed
                | ProposalStatus::RolledBack
                | ProposalStatus::Unratified => true,
                ProposalStatus::Ratified => {
                    tracked.ratified = true;
                    tracked.deployed_everywhere()
                }
                _ => false,
            };
            if end {
                self.put_tracked(id, None)?;
            } else if status == ProposalStatus::Ratified {
                self.put_tracked(id, Some(tracked))?;
            }
        }
        Ok(())
    }

    fn into_writes(self, height: Height) -> Vec<Write> {
        let mut writes: Vec<Write> = Vec::new();
        for (key, bucket) in self.buckets {
            writes.push((key, Some(accord_types::codec::encode(&bucket))));
        }
        for id in self.dirty_tracked {
            let value = self
                .tracked
                .get(&id)
                .and_then(Option::as_ref)
                .map(accord_types::codec::encode);
            writes.push((proposal_key(id), value));
        }
        for key in self.dirty_failures {
            let value = self
                .failures
                .get(&key)
                .copied()
                .flatten()
                .map(|since| accord_types::codec::encode(&since));
            writes.push((key, value));
        }
        let meta = Meta {
            height,
            ..self.meta
        };
        writes.push((META_KEY.to_vec(), Some(accord_types::codec::encode(&meta))));
        writes
    }
}

/// Counts one committed block: `receipts` are its receipts in order (one per
/// transaction of `transactions`, then the end-of-block one). Returns the writes that
/// bring the aggregate in `store` to this block, the meta record's height included;
/// the caller writes them with the block. Never panics; reads at most a few records
/// per relevant event.
pub fn apply_block(
    store: &dyn DeliveryStore,
    height: Height,
    timestamp: Timestamp,
    transactions: &[Transaction],
    receipts: &[Receipt],
) -> Result<Vec<Write>, DeliveryError> {
    let mut work = Working {
        store,
        meta: read_meta(store)?,
        buckets: BTreeMap::new(),
        tracked: BTreeMap::new(),
        dirty_tracked: BTreeSet::new(),
        failures: BTreeMap::new(),
        dirty_failures: BTreeSet::new(),
        ended: BTreeMap::new(),
    };
    let now = timestamp.0;
    let day = day_of(timestamp);
    for (index, receipt) in receipts.iter().enumerate() {
        for event in &receipt.events {
            match event {
                Event::ProposalSubmitted {
                    proposal,
                    kind,
                    regions,
                    ..
                } => {
                    let body = transactions.get(index).and_then(|tx| match &tx.payload {
                        Payload::SubmitProposal { draft } => Some(&draft.body),
                        _ => None,
                    });
                    work.submitted(*proposal, *kind, regions, body, now)?;
                }
                Event::ExecutionReported {
                    proposal,
                    region,
                    phase,
                    outcome,
                    ..
                } => match outcome {
                    ExecutionOutcome::Succeeded => {
                        work.succeeded(*proposal, region, *phase, now, day)?;
                    }
                    ExecutionOutcome::Failed { .. } => work.failed(*proposal, region, now, day)?,
                    ExecutionOutcome::RolledBack => {}
                },
                Event::RollbackRequested {
                    proposal, region, ..
                } => work.failed(*proposal, region, now, day)?,
                Event::StatusChanged {
                    proposal, status, ..
                } => {
                    work.ended.insert(*proposal, *status);
                }
                _ => {}
            }
        }
    }
    work.finish()?;
    Ok(work.into_writes(height))
}

#[cfg(test)]
mod tests;
