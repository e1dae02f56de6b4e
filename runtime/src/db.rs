//! Typed access to the runtime's records over a state overlay.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;
use std::sync::Arc;

use accord_state::Overlay;
use accord_types::governance::ProposalDraft;
use accord_types::params::GovernanceParams;
use accord_types::{ProposalId, PublicKey, RegionId};
use borsh::{BorshDeserialize, BorshSerialize};

use crate::error::{Error, Result};
use crate::keys;
use crate::records::{
    AccountRecord, BallotBox, ChainConfig, ProposalState, RegionExecution, Tally, ValidatorRecord,
};
use accord_types::governance::VoteChoice;

/// Decodes a stored record, naming it and its key when it does not decode.
pub(crate) fn decode<T: BorshDeserialize>(
    what: &'static str,
    key: &[u8],
    bytes: &[u8],
) -> Result<T> {
    borsh::from_slice(bytes).map_err(|e| Error::Corrupt {
        what,
        key: hex::encode(key),
        reason: e.to_string(),
    })
}

/// Borsh encoding of a record. Encoding into a vector cannot fail for these types.
pub(crate) fn encode<T: BorshSerialize>(value: &T) -> Vec<u8> {
    accord_types::codec::encode(value)
}

/// The runtime's view of state during a block: an overlay plus caches of immutable records.
pub(crate) struct Db<'a> {
    overlay: Overlay<'a>,
    /// Voter lists by (region, epoch). Lists of an epoch never change once written, so
    /// the cache stays valid when a transaction's writes are reverted.
    voter_lists: BTreeMap<RegionId, BTreeMap<u64, Arc<Vec<PublicKey>>>>,
    /// Decoded copies of the records every vote reads and writes. Written through on
    /// every put; emptied when a transaction's layer is reverted.
    cache: RecordCache,
    /// Checks only: a vote's ballot is judged but not cast (see [`Db::cast`]).
    dry_run: bool,
}

/// Decoded records read or written during the block. Ballot boxes and nonces written
/// outside any transaction layer are written back once, when the block ends
/// ([`Db::into_overlay`]); inside a layer every write goes through to the overlay, so a
/// revert never leaves a stale cached value behind.
#[derive(Default)]
struct RecordCache {
    proposals: BTreeMap<ProposalId, ProposalState>,
    boxes: BTreeMap<ProposalId, BTreeMap<RegionId, CachedBox>>,
    nonces: BTreeMap<PublicKey, u64>,
    dirty_nonces: BTreeSet<PublicKey>,
}

/// A ballot box read (or created) during the block.
struct CachedBox {
    /// `None`: no box is stored yet and nobody has voted in this block.
    ballots: Option<BallotBox>,
    /// Changed since it was read: written back at the end of the block.
    dirty: bool,
}

impl<'a> Db<'a> {
    pub(crate) fn new(overlay: Overlay<'a>) -> Self {
        Self {
            overlay,
            voter_lists: BTreeMap::new(),
            cache: RecordCache::default(),
            dry_run: false,
        }
    }

    /// Makes this a check's view: votes are judged without being cast, and the
    /// executor reverts every transaction's layer instead of committing it.
    pub(crate) fn set_dry_run(&mut self) {
        self.dry_run = true;
    }

    /// Whether this is a check's view ([`Db::set_dry_run`]).
    pub(crate) fn dry_run(&self) -> bool {
        self.dry_run
    }

    /// Writes back the cached tallies and nonces and hands over the overlay.
    pub(crate) fn into_overlay(mut self) -> Overlay<'a> {
        let cache = std::mem::take(&mut self.cache);
        for key in cache.dirty_nonces {
            if let Some(nonce) = cache.nonces.get(&key) {
                self.put(keys::nonce(&key), nonce);
            }
        }
        for (id, regions) in cache.boxes {
            for (region, cached) in regions {
                if let (true, Some(ballots)) = (cached.dirty, &cached.ballots) {
                    self.put(keys::ballots(id, &region), ballots);
                }
            }
        }
        self.overlay
    }

    pub(crate) fn get<T: BorshDeserialize>(
        &self,
        what: &'static str,
        key: &[u8],
    ) -> Result<Option<T>> {
        match self.overlay.get(key)? {
            Some(bytes) => decode(what, key, &bytes).map(Some),
            None => Ok(None),
        }
    }

    pub(crate) fn require<T: BorshDeserialize>(&self, what: &'static str, key: &[u8]) -> Result<T> {
        self.get(what, key)?.ok_or(Error::Missing { what })
    }

    pub(crate) fn put<T: BorshSerialize>(&mut self, key: Vec<u8>, value: &T) {
        self.overlay.put(key, encode(value));
    }

    pub(crate) fn delete(&mut self, key: Vec<u8>) {
        self.overlay.delete(key);
    }

    /// Keys (whole) under a prefix, in order.
    pub(crate) fn keys_under(&self, prefix: &[u8]) -> Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        self.overlay.scan_prefix(prefix, &mut |k, _| {
            out.push(k.to_vec());
            ControlFlow::Continue(())
        })?;
        Ok(out)
    }

    /// Entries under a prefix, decoded, in key order.
    pub(crate) fn entries_under<T: BorshDeserialize>(
        &self,
        what: &'static str,
        prefix: &[u8],
    ) -> Result<Vec<(Vec<u8>, T)>> {
        let mut raw = Vec::new();
        self.overlay.scan_prefix(prefix, &mut |k, v| {
            raw.push((k.to_vec(), v.to_vec()));
            ControlFlow::Continue(())
        })?;
        raw.into_iter()
            .map(|(k, v)| decode(what, &k, &v).map(|t| (k, t)))
            .collect()
    }

    pub(crate) fn begin(&mut self) {
        self.overlay.begin_layer();
    }

    pub(crate) fn commit(&mut self) -> Result<()> {
        Ok(self.overlay.commit_layer()?)
    }

    pub(crate) fn revert(&mut self) -> Result<()> {
        // Proposals written in the reverted layer may be cached; ballot boxes and nonces
        // written inside a layer never are (see `cast`, `put_nonce`).
        self.cache.proposals.clear();
        Ok(self.overlay.revert_layer()?)
    }

    // Typed records.

    pub(crate) fn chain(&self) -> Result<ChainConfig> {
        self.require("chain config", &keys::chain())
    }

    pub(crate) fn params(&self) -> Result<GovernanceParams> {
        self.require("governance parameters", &keys::params())
    }

    pub(crate) fn validators(&self) -> Result<ValidatorRecord> {
        self.require("validator set", &keys::validators())
    }

    pub(crate) fn account(&self, key: &PublicKey) -> Result<AccountRecord> {
        Ok(self
            .get("account", &keys::account(key))?
            .unwrap_or_default())
    }

    pub(crate) fn nonce(&mut self, key: &PublicKey) -> Result<u64> {
        if let Some(nonce) = self.cache.nonces.get(key) {
            return Ok(*nonce);
        }
        let nonce = self.get("nonce", &keys::nonce(key))?.unwrap_or(0);
        self.cache.nonces.insert(*key, nonce);
        Ok(nonce)
    }

    pub(crate) fn put_nonce(&mut self, key: &PublicKey, nonce: u64) {
        if self.overlay.open_layers() > 0 {
            self.put(keys::nonce(key), &nonce);
            self.cache.nonces.remove(key);
            self.cache.dirty_nonces.remove(key);
        } else {
            self.cache.nonces.insert(*key, nonce);
            self.cache.dirty_nonces.insert(*key);
        }
    }

    pub(crate) fn proposal(&mut self, id: ProposalId) -> Result<Option<ProposalState>> {
        if let Some(state) = self.cache.proposals.get(&id) {
            return Ok(Some(state.clone()));
        }
        let state: Option<ProposalState> = self.get("proposal", &keys::proposal(id))?;
        if let Some(state) = &state {
            self.cache.proposals.insert(id, state.clone());
        }
        Ok(state)
    }

    /// Reads a proposal's state without copying it.
    pub(crate) fn with_proposal<R>(
        &mut self,
        id: ProposalId,
        f: impl FnOnce(&ProposalState) -> R,
    ) -> Result<Option<R>> {
        if !self.cache.proposals.contains_key(&id) {
            let Some(state) = self.get::<ProposalState>("proposal", &keys::proposal(id))? else {
                return Ok(None);
            };
            self.cache.proposals.insert(id, state);
        }
        Ok(self.cache.proposals.get(&id).map(f))
    }

    pub(crate) fn put_proposal(&mut self, state: &ProposalState) {
        self.put(keys::proposal(state.id), state);
        self.cache.proposals.insert(state.id, state.clone());
    }

    pub(crate) fn draft(&self, id: ProposalId) -> Result<ProposalDraft> {
        self.require("proposal draft", &keys::draft(id))
    }

    /// The tally of a proposal in a region (empty before the first vote).
    pub(crate) fn tally(&mut self, id: ProposalId, region: &RegionId) -> Result<Tally> {
        Ok(self
            .ballot_box(id, region)?
            .ballots
            .as_ref()
            .map(|b| b.tally)
            .unwrap_or_default())
    }

    /// The cached ballot box of a proposal in a region, read on first use.
    fn ballot_box(&mut self, id: ProposalId, region: &RegionId) -> Result<&mut CachedBox> {
        let cached = self
            .cache
            .boxes
            .get(&id)
            .is_some_and(|regions| regions.contains_key(region));
        if !cached {
            let key = keys::ballots(id, region);
            let ballots: Option<BallotBox> = match self.overlay.get(&key)? {
                Some(bytes) => Some(decode("ballot box", &key, &bytes)?),
                None => None,
            };
            let fresh = CachedBox {
                ballots,
                dirty: false,
            };
            self.cache
                .boxes
                .entry(id)
                .or_default()
                .insert(region.clone(), fresh);
        }
        self.cache
            .boxes
            .get_mut(&id)
            .and_then(|regions| regions.get_mut(region))
            .ok_or(Error::Missing { what: "ballot box" })
    }

    /// Records the choice of the voter at `index` of a snapshot of `voters` voters.
    /// Returns whether anything changed (a repeated identical vote changes nothing).
    pub(crate) fn cast(
        &mut self,
        id: ProposalId,
        region: &RegionId,
        (index, voters): (usize, usize),
        choice: VoteChoice,
    ) -> Result<bool> {
        let write_through = self.overlay.open_layers() > 0;
        let dry_run = self.dry_run;
        let cached = self.ballot_box(id, region)?;
        if let Some(ballots) = &cached.ballots {
            if ballots.choices.len() != voters {
                return Err(Error::Corrupt {
                    what: "ballot box",
                    key: hex::encode(keys::ballots(id, region)),
                    reason: format!(
                        "{} entries for a snapshot of {voters} voters",
                        ballots.choices.len()
                    ),
                });
            }
            if ballots.choices.get(index).copied().flatten() == Some(choice) {
                return Ok(false);
            }
        }
        if dry_run {
            // A check judges the ballot and leaves the box as it was.
            return Ok(true);
        }
        let ballots = cached.ballots.get_or_insert_with(|| BallotBox::new(voters));
        ballots.cast(index, choice);
        if write_through {
            let bytes = encode(&*ballots);
            if let Some(regions) = self.cache.boxes.get_mut(&id) {
                regions.remove(region);
            }
            self.overlay.put(keys::ballots(id, region), bytes);
        } else {
            cached.dirty = true;
        }
        Ok(true)
    }

    pub(crate) fn execution(
        &self,
        id: ProposalId,
        region: &RegionId,
    ) -> Result<Option<RegionExecution>> {
        self.get("execution", &keys::execution(id, region))
    }

    pub(crate) fn voter_epoch(&self, region: &RegionId) -> Result<u64> {
        Ok(self
            .get("voter epoch", &keys::voter_epoch(region))?
            .unwrap_or(0))
    }

    /// The voter list of a region at an epoch (empty when none was written).
    pub(crate) fn voter_list(
        &mut self,
        region: &RegionId,
        epoch: u64,
    ) -> Result<Arc<Vec<PublicKey>>> {
        if let Some(list) = self.voter_lists.get(region).and_then(|l| l.get(&epoch)) {
            return Ok(Arc::clone(list));
        }
        let list: Vec<PublicKey> = self
            .get("voter list", &keys::voter_list(region, epoch))?
            .unwrap_or_default();
        let list = Arc::new(list);
        self.voter_lists
            .entry(region.clone())
            .or_default()
            .insert(epoch, Arc::clone(&list));
        Ok(list)
    }

    /// Writes a region's voter list as a new epoch and makes it current.
    pub(crate) fn set_voter_list(
        &mut self,
        region: &RegionId,
        mut voters: Vec<PublicKey>,
    ) -> Result<u64> {
        voters.sort();
        voters.dedup();
        let epoch = match self.overlay.get(&keys::voter_epoch(region))? {
            Some(_) => self.voter_epoch(region)?.saturating_add(1),
            None => 0,
        };
        self.put(keys::voter_list(region, epoch), &voters);
        self.put(keys::voter_epoch(region), &epoch);
        self.voter_lists
            .entry(region.clone())
            .or_default()
            .insert(epoch, Arc::new(voters));
        Ok(epoch)
    }
}
