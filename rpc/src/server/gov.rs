//! `gov_*`.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use accord_runtime::records::ProposalState;
use accord_runtime::rules::{region_verdict, RegionVerdict};
use accord_runtime::{keys, ProposalView, Query};
use accord_state::{StateStore, StateView};
use accord_types::codec::hex_decode;
use accord_types::governance::ProposalKind;
use accord_types::params::Fraction;
use accord_types::{Event, EventCursor, Hash, Height, ProposalId, PublicKey};
use jsonrpsee::core::{async_trait, RpcResult, SubscriptionResult};
use jsonrpsee::PendingSubscriptionSink;

use super::RpcApi;
use crate::api::GovApiServer;
use crate::error::{invalid, node_error, not_found, refused};
use crate::types::{
    event_proposal, event_region, event_type, status_name, AccountView, DeliveryBucket,
    DeliveryFilter, DeliveryMetrics, EventFilter, EventPage, EventProof, EventView, ParamsView,
    ProposalFilter, ProposalPage, RegionTally, StateProofView, StateTarget, TallyView,
    DEFAULT_PAGE, EVENT_TYPES, MAX_PAGE, STATUS_NAMES,
};

/// How far beyond this node's head a cursor may point (a client resuming here from a
/// node that is ahead).
pub(crate) const CURSOR_AHEAD: u64 = 100;

/// Most records one list call examines before it returns a partial page with a cursor.
pub(crate) const MAX_SCAN: usize = 10_000;

fn page_limit(limit: Option<u32>) -> RpcResult<usize> {
    match limit.unwrap_or(DEFAULT_PAGE) {
        0 => Err(invalid(format!(
            "limit must be between 1 and {MAX_PAGE}, not 0"
        ))),
        n if n > MAX_PAGE => Err(invalid(format!(
            "limit must be between 1 and {MAX_PAGE}, not {n}"
        ))),
        n => Ok(n as usize),
    }
}

fn fraction(part: u64, whole: u64) -> Fraction {
    if whole == 0 {
        return Fraction::from_bps(0);
    }
    let bps = u128::from(part) * u128::from(Fraction::ONE_BPS) / u128::from(whole);
    Fraction::from_bps(u32::try_from(bps).unwrap_or(u32::MAX))
}

/// The smallest `n` with `(n · ONE) ≥ (whole · bps)`: how many of `whole` a fraction asks for.
fn needed(threshold: Fraction, whole: u64) -> u64 {
    let product = u128::from(whole) * u128::from(threshold.bps());
    let one = u128::from(Fraction::ONE_BPS);
    u64::try_from(product.div_ceil(one)).unwrap_or(u64::MAX)
}

impl EventFilter {
    /// Refuses names that mean nothing, so a typo does not silently match nothing.
    pub(crate) fn check(&self) -> RpcResult<()> {
        for name in self.types.iter().flatten() {
            if !EVENT_TYPES.contains(&name.as_str()) {
                return Err(invalid(format!(
                    "unknown event type {name:?}; the types are {}",
                    EVENT_TYPES.join(", ")
                )));
            }
        }
        Ok(())
    }
}

/// Matches events against a filter, looking up proposal kinds once each.
pub(crate) struct Matcher {
    filter: EventFilter,
    kinds: BTreeMap<ProposalId, Option<ProposalKind>>,
}

impl Matcher {
    pub(crate) fn new(filter: EventFilter) -> Self {
        Self {
            filter,
            kinds: BTreeMap::new(),
        }
    }

    /// Whether the filter needs the state (it filters by kind).
    fn needs_kinds(&self) -> bool {
        self.filter.kinds.is_some()
    }

    pub(crate) fn matches(&mut self, event: &Event, state: Option<&dyn StateStore>) -> bool {
        let filter = &self.filter;
        if let Some(types) = &filter.types {
            if !types.iter().any(|t| t == event_type(event)) {
                return false;
            }
        }
        if let Some(regions) = &filter.regions {
            if let Some(region) = event_region(event) {
                if !regions.contains(region) {
                    return false;
                }
            }
        }
        let proposal = event_proposal(event);
        if let Some(proposals) = &filter.proposals {
            if !proposal.is_some_and(|p| proposals.contains(&p)) {
                return false;
            }
        }
        if let Some(kinds) = filter.kinds.clone() {
            let Some(id) = proposal else { return false };
            let kind = match event {
                Event::ProposalSubmitted { kind, .. } => Some(*kind),
                _ => {
                    if self.kinds.len() > 100_000 {
                        self.kinds.clear();
                    }
                    *self.kinds.entry(id).or_insert_with(|| {
                        state.and_then(|s| {
                            Query::new(s)
                                .proposal_state(id)
                                .ok()
                                .flatten()
                                .map(|p| p.kind)
                        })
                    })
                }
            };
            if !kind.is_some_and(|k| kinds.contains(&k)) {
                return false;
            }
        }
        true
    }
}

impl RpcApi {
    /// The events of one page: examines at most [`MAX_SCAN`] events after `after`.
    pub(crate) fn event_page(
        &self,
        matcher: &mut Matcher,
        after: Option<EventCursor>,
        limit: usize,
    ) -> RpcResult<EventPage> {
        let state = if matcher.needs_kinds() {
            Some(self.backend.state.state()?)
        } else {
            None
        };
        let mut events = Vec::new();
        let mut next = after;
        let mut examined = 0usize;
        let mut receipts_tx: BTreeMap<(Height, u32), Option<Hash>> = BTreeMap::new();
        loop {
            let batch = self.backend.chain.events_after(next, 512)?;
            let exhausted = batch.len() < 512;
            for (cursor, event) in batch {
                next = Some(cursor);
                examined += 1;
                if matcher.matches(&event, state.as_ref().map(|s| &*s.store)) {
                    let transaction = self.transaction_of(&mut receipts_tx, cursor)?;
                    events.push(EventView {
                        cursor,
                        transaction,
                        event,
                    });
                    if events.len() >= limit {
                        let complete = self.backend.chain.events_after(next, 1)?.is_empty();
                        return Ok(EventPage {
                            events,
                            next,
                            complete,
                        });
                    }
                }
                if examined >= MAX_SCAN {
                    return Ok(EventPage {
                        events,
                        next,
                        complete: false,
                    });
                }
            }
            if exhausted {
                return Ok(EventPage {
                    events,
                    next,
                    complete: true,
                });
            }
        }
    }

    /// The transaction whose receipt holds the event at `cursor`.
    fn transaction_of(
        &self,
        cache: &mut BTreeMap<(Height, u32), Option<Hash>>,
        cursor: EventCursor,
    ) -> RpcResult<Option<Hash>> {
        let key = (cursor.height, cursor.receipt);
        if let Some(tx) = cache.get(&key) {
            return Ok(*tx);
        }
        let tx = self
            .backend
            .chain
            .receipt(cursor.height, cursor.receipt)?
            .and_then(|r| match r.source {
                accord_types::ReceiptSource::Transaction { hash } => Some(hash),
                accord_types::ReceiptSource::EndOfBlock => None,
            });
        cache.insert(key, tx);
        Ok(tx)
    }

    /// Refuses a cursor beyond the chain or naming no event.
    ///
    /// A cursor a little ahead of this node's head is accepted: a client that fails over
    /// from a node a few blocks ahead resumes here, and nothing at or before its cursor
    /// is sent again once this node catches up.
    pub(crate) fn check_cursor(&self, cursor: EventCursor) -> RpcResult<()> {
        let (head, _) = self.backend.chain.head()?;
        if cursor.height > head.saturating_add(CURSOR_AHEAD) {
            return Err(not_found(format!(
                "cursor {cursor} is beyond the chain: the head is at height {head}"
            )));
        }
        Ok(())
    }
}

fn tally_view(state: &ProposalState, query: &Query<'_>) -> RpcResult<TallyView> {
    let tier = &state.thresholds;
    let mut regions = Vec::with_capacity(state.regions.len());
    let mut passing = true;
    for region in &state.regions {
        let voters = state.snapshot(region).map_or(0, |s| s.voters);
        let tally = query.tally(state.id, region).map_err(node_error)?;
        let turnout = tally.turnout();
        let decisive = u64::from(tally.yes) + u64::from(tally.no) + u64::from(tally.veto);
        let verdict = region_verdict(tier, voters, &tally);
        passing &= verdict == RegionVerdict::Approved;
        let quorum_needed = needed(tier.quorum, u64::from(voters));
        // yes + y ≥ t·(decisive + y)  ⇔  y·(1 − t) ≥ t·decisive − yes.
        let one = u128::from(Fraction::ONE_BPS);
        let t = u128::from(tier.approval_threshold.bps());
        let lhs = t * u128::from(decisive);
        let rhs = u128::from(tally.yes) * one;
        let yes_missing = if lhs <= rhs && decisive > 0 {
            0
        } else if t >= one {
            // Unanimity: reachable only while nobody voted no or veto.
            if tally.no == 0 && tally.veto == 0 {
                1
            } else {
                u64::MAX
            }
        } else {
            let missing = (lhs.saturating_sub(rhs)).div_ceil(one - t).max(1);
            u64::try_from(missing).unwrap_or(u64::MAX)
        };
        regions.push(RegionTally {
            region: region.clone(),
            voters,
            tally,
            turnout: fraction(turnout, u64::from(voters)),
            quorum: tier.quorum,
            quorum_reached: tier.quorum.is_met(turnout, u64::from(voters)),
            approval: fraction(u64::from(tally.yes), decisive),
            threshold: tier.approval_threshold,
            threshold_reached: tier
                .approval_threshold
                .is_met(u64::from(tally.yes), decisive),
            veto: fraction(u64::from(tally.veto), turnout),
            veto_threshold: tier.veto_threshold,
            vetoed: verdict == RegionVerdict::Vetoed,
            votes_missing_for_quorum: u32::try_from(quorum_needed.saturating_sub(turnout))
                .unwrap_or(u32::MAX),
            yes_missing_for_threshold: u32::try_from(yes_missing).unwrap_or(u32::MAX),
        });
    }
    Ok(TallyView {
        proposal: state.id,
        status: state.status,
        voting_ends: state.voting_ends,
        regions,
        passing,
    })
}

impl ProposalFilter {
    fn check(&self) -> RpcResult<()> {
        if let Some(status) = &self.status {
            if !STATUS_NAMES.contains(&status.as_str()) {
                return Err(invalid(format!(
                    "unknown status {status:?}; the statuses are {}",
                    STATUS_NAMES.join(", ")
                )));
            }
        }
        Ok(())
    }

    fn matches(&self, state: &ProposalState) -> bool {
        self.kind.is_none_or(|k| k == state.kind)
            && self
                .status
                .as_ref()
                .is_none_or(|s| *s == status_name(&state.status))
            && self
                .region
                .as_ref()
                .is_none_or(|r| state.regions.contains(r))
            && self.proposer.is_none_or(|p| p == state.author)
    }
}

#[async_trait]
impl GovApiServer for RpcApi {
    fn submit_transaction(&self, transaction: String) -> RpcResult<Hash> {
        let bytes = hex_decode("transaction", &transaction)
            .map_err(|e| invalid(format!("the transaction is not 0x-hex: {e}")))?;
        self.backend
            .pool
            .submit(bytes)
            .map_err(|r| refused(r.code.as_deref(), r.message))
    }

    fn account(&self, key: PublicKey) -> RpcResult<AccountView> {
        let state = self.backend.state.state()?;
        let account = Query::new(&*state.store)
            .account(&key)
            .map_err(node_error)?;
        let pending = self.backend.pool.pending_nonce(&*state.store, &key)?;
        Ok(AccountView {
            nonce: account.nonce,
            pending_nonce: pending.max(account.nonce),
            roles: account.roles,
        })
    }

    fn proposal(&self, id: ProposalId) -> RpcResult<Option<ProposalView>> {
        let state = self.backend.state.state()?;
        Query::new(&*state.store).proposal(id).map_err(node_error)
    }

    fn list_proposals(
        &self,
        filter: Option<ProposalFilter>,
        after: Option<ProposalId>,
        limit: Option<u32>,
    ) -> RpcResult<ProposalPage> {
        let filter = filter.unwrap_or_default();
        filter.check()?;
        let limit = page_limit(limit)?;
        let state = self.backend.state.state()?;
        let view = StateView::new(&*state.store);
        let after_key = after.map(keys::proposal);
        let mut proposals = Vec::new();
        let mut examined = 0usize;
        let mut last = None;
        let mut more = false;
        let mut failure = None;
        view.scan_prefix(&keys::proposals_prefix(), &mut |key, value| {
            if after_key.as_deref().is_some_and(|a| key <= a) {
                return ControlFlow::Continue(());
            }
            if proposals.len() >= limit || examined >= MAX_SCAN {
                more = true;
                return ControlFlow::Break(());
            }
            examined += 1;
            match accord_types::codec::decode::<ProposalState>("proposal", value, usize::MAX) {
                Ok(state) => {
                    last = Some(state.id);
                    if filter.matches(&state) {
                        proposals.push(state);
                    }
                    ControlFlow::Continue(())
                }
                Err(error) => {
                    failure = Some(error);
                    ControlFlow::Break(())
                }
            }
        })
        .map_err(node_error)?;
        if let Some(error) = failure {
            return Err(node_error(error));
        }
        Ok(ProposalPage {
            proposals,
            next: if more { last } else { None },
        })
    }

    fn tally(&self, id: ProposalId) -> RpcResult<Option<TallyView>> {
        let state = self.backend.state.state()?;
        let query = Query::new(&*state.store);
        let Some(proposal) = query.proposal_state(id).map_err(node_error)? else {
            return Ok(None);
        };
        tally_view(&proposal, &query).map(Some)
    }

    fn params(&self) -> RpcResult<ParamsView> {
        let state = self.backend.state.state()?;
        let params = Query::new(&*state.store).params().map_err(node_error)?;
        Ok(ParamsView {
            height: state.height,
            params,
        })
    }

    fn events(
        &self,
        filter: Option<EventFilter>,
        after: Option<EventCursor>,
        limit: Option<u32>,
    ) -> RpcResult<EventPage> {
        let filter = filter.unwrap_or_default();
        filter.check()?;
        let limit = page_limit(limit)?;
        if let Some(cursor) = after {
            self.check_cursor(cursor)?;
        }
        self.event_page(&mut Matcher::new(filter), after, limit)
    }

    fn event_proof(&self, cursor: EventCursor) -> RpcResult<EventProof> {
        self.check_cursor(cursor)?;
        let missing = || not_found(format!("there is no event at cursor {cursor}"));
        let receipts = self.backend.chain.receipts(cursor.height)?;
        let receipt = receipts
            .get(cursor.receipt as usize)
            .cloned()
            .ok_or_else(missing)?;
        if receipt.events.get(cursor.event as usize).is_none() {
            return Err(missing());
        }
        let hashes: Vec<Hash> = receipts.iter().map(accord_types::Receipt::hash).collect();
        let path =
            accord_types::merkle::prove(&hashes, cursor.receipt as usize).ok_or_else(missing)?;
        let header = self
            .backend
            .chain
            .header(cursor.height)?
            .ok_or_else(missing)?;
        let certificate = self
            .backend
            .chain
            .certificate(cursor.height)?
            .ok_or_else(missing)?;
        Ok(EventProof {
            cursor,
            receipt,
            path,
            header,
            certificate,
        })
    }

    fn delivery_metrics(
        &self,
        filter: Option<DeliveryFilter>,
        bucket: Option<DeliveryBucket>,
    ) -> RpcResult<DeliveryMetrics> {
        self.delivery_metrics_blocking(filter, bucket)
    }

    fn state_proof(&self, target: StateTarget) -> RpcResult<StateProofView> {
        let key = target.key();
        let state = self.backend.state.state()?;
        if state.height.0 == 0 {
            return Err(not_found(
                "no block is finalized yet: the genesis state has no certificate to prove against",
            ));
        }
        let view = StateView::new(&*state.store);
        let proof = view.prove(&key).map_err(node_error)?;
        let header = self.backend.chain.header(state.height)?.ok_or_else(|| {
            node_error(format!("the header of height {} is missing", state.height))
        })?;
        let certificate = self
            .backend
            .chain
            .certificate(state.height)?
            .ok_or_else(|| {
                node_error(format!(
                    "the certificate of height {} is missing",
                    state.height
                ))
            })?;
        Ok(StateProofView {
            target,
            proof,
            header,
            certificate,
        })
    }

    async fn subscribe_events(
        &self,
        pending: PendingSubscriptionSink,
        filter: Option<EventFilter>,
        after: Option<EventCursor>,
    ) -> SubscriptionResult {
        super::subscriptions::events(self.clone(), pending, filter.unwrap_or_default(), after).await
    }
}
