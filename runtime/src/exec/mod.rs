//! Block execution: transactions in order, then the end-of-block step.
//!
//! ```text
//!  execute_block(store, ctx, txs)
//!     │  begin: a scheduled validator set whose height has come becomes current
//!     │  for each tx:  chain id ─ signature ─ nonce ─┬─ layer ─ payload handler ─ commit layer
//!     │                (refused: receipt, no change)  └─ refused: revert layer, bump nonce
//!     │  end of block: evidence, timers of this height (voting closes, leases expire),
//!     │                the queue (enactment delay, dependencies, freeze windows)
//!     ▼
//!  overlay.commit() ──► state root + raw write batch + receipts (+ validator update)
//! ```

pub(crate) mod end_block;
pub(crate) mod execution;
mod proposals;

use accord_state::{Overlay, StateStore, StateView, WriteBatch};
use accord_types::crypto::{verify_batch, SignedMessage};
use accord_types::governance::{ProposalStatus, Role, ValidatorSpec};
use accord_types::params::GovernanceParams;
use accord_types::{
    ChainId, Error as TypesError, ErrorCode, Event, Evidence, Hash, Height, Outcome, ProposalId,
    PublicKey, Receipt, ReceiptSource, Timestamp, Transaction, ValidatorSet,
};
use accord_types::{Payload, RegionId};

use crate::db::Db;
use crate::error::{refuse, Error, Fail, Result, TxError};
use crate::keys;
use crate::records::{ChainConfig, ProposalState, TimerKind};

/// What the runtime needs to know about the block it executes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockContext {
    /// The chain's id; transactions for another chain are refused.
    pub chain_id: ChainId,
    /// Height of the block.
    pub height: Height,
    /// The block's timestamp: the only clock the runtime reads.
    pub timestamp: Timestamp,
    /// The block's proposer.
    pub proposer: PublicKey,
    /// Whether transaction signatures still need checking.
    pub signatures: SignatureCheck,
    /// Equivocation evidence carried by the block, already verified against the
    /// validator set of its height by the node; recorded once each.
    pub evidence: Vec<Evidence>,
}

/// Whether [`crate::execute_block`] verifies transaction signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureCheck {
    /// Verify every signature (in one batch); a bad one gets a `BadSignature` receipt.
    Verify,
    /// The caller verified every signature already (the proposer's own mempool did).
    Verified,
    /// Verify the signatures of the transactions not marked: `known[i]` says the
    /// caller verified transaction `i`'s already (a validator's pool holds a
    /// transaction of the same hash, which covers the signature, so the same bytes,
    /// checked when they were admitted). The rest are verified in one batch.
    VerifyUnknown(Vec<bool>),
}

/// A validator set that an approved proposal scheduled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatorUpdate {
    /// The first height the new set decides.
    pub effective_height: Height,
    /// The proposal that changed it (the last one, when several did in one block).
    pub proposal: ProposalId,
    /// The new set.
    pub validators: ValidatorSet,
    /// Full descriptions of the new set (p2p keys and addresses), in the set's order.
    pub specs: Vec<ValidatorSpec>,
}

/// Everything a block produced.
#[derive(Debug, Clone)]
pub struct BlockOutcome {
    /// The state root after the block.
    pub state_root: Hash,
    /// One receipt per transaction, in order, then the end-of-block receipt.
    pub receipts: Vec<Receipt>,
    /// Merkle root of the receipts.
    pub receipts_root: Hash,
    /// The raw writes that turn the pre-block store into the post-block store; the node
    /// writes them atomically with the block.
    pub batch: WriteBatch,
    /// How many state keys the block wrote.
    pub touched: usize,
    /// A validator set scheduled by this block, if any.
    pub validator_update: Option<ValidatorUpdate>,
}

impl BlockOutcome {
    /// Every event of the block, in order.
    pub fn events(&self) -> impl Iterator<Item = &Event> + '_ {
        self.receipts.iter().flat_map(|r| r.events.iter())
    }
}

/// Executes a block against the state in `store` (which it only reads).
///
/// Refused transactions get failed receipts and change nothing but their signer's
/// nonce; only a store failure or corrupt state is an `Err`.
pub fn execute_block(
    store: &dyn StateStore,
    ctx: &BlockContext,
    txs: &[Transaction],
) -> Result<BlockOutcome> {
    let signatures_ok = match &ctx.signatures {
        SignatureCheck::Verified => vec![true; txs.len()],
        SignatureCheck::Verify => check_signatures(txs, &[]),
        SignatureCheck::VerifyUnknown(known) => check_signatures(txs, known),
    };
    let mut exec = Exec::new(Db::new(Overlay::new(StateView::new(store))), ctx)?;
    exec.begin_block()?;
    let mut receipts = Vec::with_capacity(txs.len().saturating_add(1));
    for (tx, signature_ok) in txs.iter().zip(signatures_ok) {
        let outcome = exec.transaction(tx, signature_ok, NonceRule::Exact)?;
        receipts.push(Receipt {
            source: ReceiptSource::Transaction { hash: tx.hash() },
            outcome,
            events: exec.take_events(),
        });
    }
    exec.end_block()?;
    receipts.push(Receipt {
        source: ReceiptSource::EndOfBlock,
        outcome: Outcome::Success,
        events: exec.take_events(),
    });
    let validator_update = exec.validator_update.take();
    let commit = exec.db.into_overlay().commit()?;
    let receipts_root = accord_types::receipt::receipts_root(&receipts);
    Ok(BlockOutcome {
        state_root: commit.root,
        receipts,
        receipts_root,
        batch: commit.batch,
        touched: commit.touched,
        validator_update,
    })
}

/// Whether each transaction's signature holds: those marked in `known` are taken as
/// verified, the others checked in one batch.
fn check_signatures(txs: &[Transaction], known: &[bool]) -> Vec<bool> {
    let unknown: Vec<usize> = (0..txs.len())
        .filter(|&i| !known.get(i).copied().unwrap_or(false))
        .collect();
    let mut ok = vec![true; txs.len()];
    if unknown.is_empty() {
        return ok;
    }
    let messages: Vec<Vec<u8>> = unknown
        .iter()
        .filter_map(|&i| txs.get(i).map(Transaction::signing_bytes))
        .collect();
    let items: Vec<SignedMessage<'_>> = unknown
        .iter()
        .filter_map(|&i| txs.get(i))
        .zip(&messages)
        .map(|(tx, message)| tx.signed_message(message))
        .collect();
    if let Err(TypesError::BatchInvalid { invalid, .. }) = verify_batch(&items) {
        for position in invalid {
            if let Some(slot) = unknown.get(position).and_then(|&i| ok.get_mut(i)) {
                *slot = false;
            }
        }
    }
    ok
}

/// What a pool-side check knows about the block the transaction would go into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckContext {
    /// The chain's id.
    pub chain_id: ChainId,
    /// Height of the next block.
    pub height: Height,
    /// Timestamp of the last block.
    pub timestamp: Timestamp,
}

/// Why [`check_transaction`] did not accept a transaction.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The rules refuse it now; a client can act on the code.
    #[error("{0}")]
    Refused(TxError),
    /// The node's state failed.
    #[error("{0}")]
    State(Error),
}

/// The stateful checks of the mempool, without executing: chain id, nonce (not below the
/// account's next nonce; the pool orders and gap-checks nonces itself), roles, regions
/// and proposal status, as the transaction would be judged first in the next block.
/// Signatures are not checked here (the pool verifies them in batches).
pub fn check_transaction(
    store: &dyn StateStore,
    ctx: &CheckContext,
    tx: &Transaction,
) -> std::result::Result<(), CheckError> {
    check_transactions(store, ctx, &[tx])
        .pop()
        .unwrap_or(Err(CheckError::State(Error::Missing {
            what: "check verdict",
        })))
}

/// [`check_transaction`] for many transactions at once, one verdict each, in order.
///
/// Each transaction is judged alone against `store`, exactly as [`check_transaction`]
/// judges it: a check writes nothing (a vote's ballot is not cast, every other handler's
/// layer is reverted), so no transaction of the batch sees another's effects. What the
/// batch shares is what those checks only read: the chain configuration, the governance
/// parameters, voter lists, ballot boxes and nonces, each decoded once per batch instead
/// of once per transaction.
pub fn check_transactions(
    store: &dyn StateStore,
    ctx: &CheckContext,
    txs: &[&Transaction],
) -> Vec<std::result::Result<(), CheckError>> {
    let Some(first) = txs.first() else {
        return Vec::new();
    };
    let block = BlockContext {
        chain_id: ctx.chain_id.clone(),
        height: ctx.height,
        timestamp: ctx.timestamp,
        // No transaction handler reads the proposer.
        proposer: first.signer,
        signatures: SignatureCheck::Verified,
        evidence: Vec::new(),
    };
    let mut db = Db::new(Overlay::new(StateView::new(store)));
    db.set_dry_run();
    let mut exec = match Exec::new(db, &block) {
        Ok(exec) => exec,
        Err(error) => {
            return txs
                .iter()
                .map(|_| Err(CheckError::State(error.clone())))
                .collect()
        }
    };
    txs.iter()
        .map(|tx| match exec.transaction(tx, true, NonceRule::AtLeast) {
            Ok(Outcome::Success) => Ok(()),
            Ok(Outcome::Failed { code, message }) => {
                Err(CheckError::Refused(TxError { code, message }))
            }
            Err(error) => Err(CheckError::State(error)),
        })
        .collect()
}

/// How a transaction's nonce is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NonceRule {
    /// In a block: exactly the account's next nonce.
    Exact,
    /// In the pool: the account's next nonce or later.
    AtLeast,
}

/// One block's execution in progress.
pub(crate) struct Exec<'a, 'c> {
    pub(crate) db: Db<'a>,
    pub(crate) ctx: &'c BlockContext,
    pub(crate) chain: ChainConfig,
    pub(crate) params: GovernanceParams,
    events: Vec<Event>,
    pub(crate) validator_update: Option<ValidatorUpdate>,
}

impl<'a, 'c> Exec<'a, 'c> {
    pub(crate) fn new(db: Db<'a>, ctx: &'c BlockContext) -> Result<Self> {
        let chain = db.chain()?;
        let params = db.params()?;
        Ok(Self {
            db,
            ctx,
            chain,
            params,
            events: Vec::new(),
            validator_update: None,
        })
    }

    pub(crate) fn height(&self) -> Height {
        self.ctx.height
    }

    pub(crate) fn emit(&mut self, event: Event) {
        self.events.push(event);
    }

    fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// Runs one transaction; a refusal is an `Ok(Outcome::Failed)`.
    pub(crate) fn transaction(
        &mut self,
        tx: &Transaction,
        signature_ok: bool,
        nonce_rule: NonceRule,
    ) -> Result<Outcome> {
        if tx.chain_id != self.ctx.chain_id {
            return Ok(failed(
                ErrorCode::WrongChain,
                format!(
                    "transaction is for chain {}, this is {}",
                    tx.chain_id.as_str(),
                    self.ctx.chain_id.as_str()
                ),
            ));
        }
        if !signature_ok {
            return Ok(failed(
                ErrorCode::BadSignature,
                "the signature does not verify for the signer's key",
            ));
        }
        let expected = self.db.nonce(&tx.signer)?;
        let nonce_ok = match nonce_rule {
            NonceRule::Exact => tx.nonce.0 == expected,
            NonceRule::AtLeast => tx.nonce.0 >= expected,
        };
        if !nonce_ok {
            return Ok(failed(
                ErrorCode::BadNonce,
                format!(
                    "nonce {} but the account's next nonce is {expected}",
                    tx.nonce.0
                ),
            ));
        }
        let mark = self.events.len();
        // Votes write only after every check has passed, so a refused vote has written
        // nothing and needs no layer to revert; every other handler gets one.
        let layered = !matches!(
            tx.payload,
            Payload::Vote { .. } | Payload::RatifyEmergency { .. }
        );
        if layered {
            self.db.begin();
        }
        let outcome = match self.dispatch(tx) {
            Ok(()) => {
                if layered && self.db.dry_run() {
                    // A check writes nothing: what the transaction did is dropped.
                    self.db.revert()?;
                } else if layered {
                    self.db.commit()?;
                }
                Outcome::Success
            }
            Err(Fail::Tx(refusal)) => {
                if layered {
                    self.db.revert()?;
                }
                self.events.truncate(mark);
                Outcome::Failed {
                    code: refusal.code,
                    message: refusal.message,
                }
            }
            Err(Fail::Node(error)) => return Err(error),
        };
        if self.db.dry_run() {
            self.events.truncate(mark);
        }
        if nonce_rule == NonceRule::Exact {
            self.db.put_nonce(&tx.signer, expected.saturating_add(1));
        }
        Ok(outcome)
    }

    fn dispatch(&mut self, tx: &Transaction) -> Result<(), Fail> {
        let signer = tx.signer;
        match &tx.payload {
            Payload::SubmitProposal { draft } => self.submit(signer, draft),
            Payload::Vote {
                proposal,
                region,
                choice,
            } => self.vote(signer, *proposal, region, *choice, false),
            Payload::RatifyEmergency {
                proposal,
                region,
                choice,
            } => self.vote(signer, *proposal, region, *choice, true),
            Payload::Cancel { proposal, reason } => self.cancel(signer, *proposal, reason),
            Payload::Execute { proposal } => self.execute(signer, *proposal),
            Payload::ClaimExecution {
                proposal,
                region,
                phase,
            } => self.claim(signer, *proposal, region, *phase),
            Payload::ReportExecution { report } => self.report(signer, report),
        }
    }

    // Shared helpers of the handlers.

    pub(crate) fn has_role(&self, account: &PublicKey, role: &Role) -> Result<bool> {
        Ok(self.db.account(account)?.roles.contains(role))
    }

    pub(crate) fn require_role(&self, account: &PublicKey, role: &Role) -> Result<(), Fail> {
        if self.has_role(account, role)? {
            Ok(())
        } else {
            refuse(
                ErrorCode::Unauthorized,
                format!(
                    "account {account} does not hold the role {}",
                    role_name(role)
                ),
            )
        }
    }

    pub(crate) fn load(&mut self, id: ProposalId) -> Result<ProposalState, Fail> {
        match self.db.proposal(id)? {
            Some(state) => Ok(state),
            None => refuse(
                ErrorCode::UnknownProposal,
                format!("there is no proposal #{}", id.0),
            ),
        }
    }

    pub(crate) fn require_region(state: &ProposalState, region: &RegionId) -> Result<(), Fail> {
        if state.regions.contains(region) {
            Ok(())
        } else {
            refuse(
                ErrorCode::UnknownRegion,
                format!(
                    "proposal #{} does not affect region {}",
                    state.id.0,
                    region.as_str()
                ),
            )
        }
    }

    /// Moves a proposal to a new status, emitting the event.
    pub(crate) fn set_status(
        &mut self,
        state: &mut ProposalState,
        status: ProposalStatus,
        reason: impl Into<String>,
    ) {
        let reason = reason.into();
        state.status = status;
        state.reason.clone_from(&reason);
        state.updated_at = self.height();
        self.emit(Event::StatusChanged {
            proposal: state.id,
            status,
            reason,
        });
    }

    /// Schedules a timer for the end-of-block step of `height` (never earlier than this block).
    pub(crate) fn set_timer(
        &mut self,
        height: Height,
        id: ProposalId,
        kind: TimerKind,
        region: Option<&RegionId>,
    ) {
        let height = height.max(self.height());
        self.db
            .put(keys::timer(height, id, kind as u8, region), &(kind as u8));
    }
}

fn failed(code: ErrorCode, message: impl Into<String>) -> Outcome {
    Outcome::Failed {
        code,
        message: message.into(),
    }
}

/// A role as people write it.
pub(crate) fn role_name(role: &Role) -> String {
    match role {
        Role::Proposer => "proposer".to_owned(),
        Role::Guardian => "guardian".to_owned(),
        Role::Voter(region) => format!("voter in {}", region.as_str()),
        Role::Agent(region) => format!("agent in {}", region.as_str()),
    }
}
