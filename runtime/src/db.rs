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
    AccountRecord, ChainConfig, ProposalState, RegionExecution, Tally, ValidatorRecord,
};

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
    borsh::to_vec(value).unwrap_or_default()
}

/// The runtime's view of state during a block: an overlay plus caches of immutable records.
pub(crate) struct Db<'a> {
    overlay: Overlay<'a>,
    /// Voter lists by (region, epoch). Lists of an epoch never change once written, so
    /// the cache stays valid when a transaction's writes are reverted.
    voter_lists: BTreeMap<(RegionId, u64), Arc<Vec<PublicKey>>>,
    /// Decoded copies of the records every vote reads and writes. Written through on
    /// every put; emptied when a transaction's layer is reverted.
    cache: RecordCache,
}

/// Decoded records read or written during the block. Tallies and nonces written outside
/// any transaction layer are written back once, when the block ends
/// ([`Db::into_overlay`]); inside a layer every write goes through to the overlay, so a
/// revert never leaves a stale cached value behind.
#[derive(Default)]
struct RecordCache {
    proposals: BTreeMap<ProposalId, ProposalState>,
    tallies: BTreeMap<(ProposalId, RegionId), Tally>,
    nonces: BTreeMap<PublicKey, u64>,
    dirty_tallies: BTreeSet<(ProposalId, RegionId)>,
    dirty_nonces: BTreeSet<PublicKey>,
}

impl<'a> Db<'a> {
    pub(crate) fn new(overlay: Overlay<'a>) -> Self {
        Self {
            overlay,
            voter_lists: BTreeMap::new(),
            cache: RecordCache::default(),
        }
    }

    /// Writes back the cached tallies and nonces and hands over the overlay.
    pub(crate) fn into_overlay(mut self) -> Overlay<'a> {
        let cache = std::mem::take(&mut self.cache);
        for key in cache.dirty_nonces {
            if let Some(nonce) = cache.nonces.get(&key) {
                self.put(keys::nonce(&key), nonce);
            }
        }
        for key in cache.dirty_tallies {
            if let Some(tally) = cache.tallies.get(&key) {
                self.put(keys::tally(key.0, &key.1), tally);
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
        // Proposals written in the reverted layer may be cached; tallies and nonces
        // written inside a layer never are (see `put_tally`, `put_nonce`).
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

    pub(crate) fn tally(&mut self, id: ProposalId, region: &RegionId) -> Result<Tally> {
        let cache_key = (id, region.clone());
        if let Some(tally) = self.cache.tallies.get(&cache_key) {
            return Ok(*tally);
        }
        let tally = self
            .get("tally", &keys::tally(id, region))?
            .unwrap_or_default();
        self.cache.tallies.insert(cache_key, tally);
        Ok(tally)
    }

    pub(crate) fn put_tally(&mut self, id: ProposalId, region: &RegionId, tally: Tally) {
        let cache_key = (id, region.clone());
        if self.overlay.open_layers() > 0 {
            self.put(keys::tally(id, region), &tally);
            self.cache.tallies.remove(&cache_key);
            self.cache.dirty_tallies.remove(&cache_key);
        } else {
            self.cache.tallies.insert(cache_key.clone(), tally);
            self.cache.dirty_tallies.insert(cache_key);
        }
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
        let cache_key = (region.clone(), epoch);
        if let Some(list) = self.voter_lists.get(&cache_key) {
            return Ok(Arc::clone(list));
        }
        let list: Vec<PublicKey> = self
            .get("voter list", &keys::voter_list(region, epoch))?
            .unwrap_or_default();
        let list = Arc::new(list);
        self.voter_lists.insert(cache_key, Arc::clone(&list));
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
            .insert((region.clone(), epoch), Arc::new(voters));
        Ok(epoch)
    }
}
