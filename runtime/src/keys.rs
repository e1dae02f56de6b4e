//! The layout of the runtime's keys in the authenticated state.
//!
//! Every key starts with a one-letter table name and a `/`; numbers are big-endian so
//! that prefix scans walk them in order; region ids are length-prefixed so no region can
//! be a prefix of another. Clients use these functions to ask for proofs
//! (`StateView::prove(&keys::proposal(id))`).
//!
//! ```text
//! c/chain                         ChainConfig (chain id, regions)
//! c/params                        GovernanceParams
//! c/next-proposal                 u64
//! c/validators                    ValidatorRecord (current set)
//! c/pending-validators            PendingValidators (scheduled set)
//! a/<key>                         AccountRecord (roles)
//! n/<key>                         u64 next nonce
//! v/<region>                      u64 current voter-list epoch of a region
//! l/<region><epoch>               Vec<PublicKey> voter list of an epoch (immutable)
//! p/<id>                          ProposalState
//! d/<id>                          ProposalDraft (immutable)
//! b/<id><region>                  BallotBox (every ballot and their tally)
//! x/<id><region>                  RegionExecution
//! q/<id>                          ()  approved or queued, waiting to execute
//! t/<height><id><kind><region>    Timer
//! e/<evidence hash>               Height at which it was recorded
//! ```

use accord_types::{Hash, Height, ProposalId, PublicKey, RegionId};

fn key(table: u8, parts: &[&[u8]]) -> Vec<u8> {
    let len = parts.iter().map(|p| p.len()).sum::<usize>();
    let mut out = Vec::with_capacity(2 + len);
    out.push(table);
    out.push(b'/');
    for part in parts {
        out.extend_from_slice(part);
    }
    out
}

fn region_part(region: &RegionId) -> Vec<u8> {
    let bytes = region.as_str().as_bytes();
    let mut out = Vec::with_capacity(1 + bytes.len());
    // Region ids are at most 64 bytes (a validated label), so the length fits a byte.
    out.push(u8::try_from(bytes.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(bytes);
    out
}

/// Chain configuration: chain id and regions.
pub fn chain() -> Vec<u8> {
    key(b'c', &[b"chain"])
}

/// Governance parameters.
pub fn params() -> Vec<u8> {
    key(b'c', &[b"params"])
}

/// The next proposal id.
pub fn next_proposal() -> Vec<u8> {
    key(b'c', &[b"next-proposal"])
}

/// The current validator set.
pub fn validators() -> Vec<u8> {
    key(b'c', &[b"validators"])
}

/// A validator set scheduled to take effect.
pub fn pending_validators() -> Vec<u8> {
    key(b'c', &[b"pending-validators"])
}

/// An account's roles.
pub fn account(account: &PublicKey) -> Vec<u8> {
    key(b'a', &[account.as_bytes()])
}

/// Prefix of every account record.
pub fn accounts_prefix() -> Vec<u8> {
    key(b'a', &[])
}

/// An account's next nonce.
pub fn nonce(account: &PublicKey) -> Vec<u8> {
    key(b'n', &[account.as_bytes()])
}

/// A region's current voter-list epoch.
pub fn voter_epoch(region: &RegionId) -> Vec<u8> {
    key(b'v', &[&region_part(region)])
}

/// The voter list of a region at an epoch.
pub fn voter_list(region: &RegionId, epoch: u64) -> Vec<u8> {
    key(b'l', &[&region_part(region), &epoch.to_be_bytes()])
}

/// A proposal's mutable state.
pub fn proposal(id: ProposalId) -> Vec<u8> {
    key(b'p', &[&id.0.to_be_bytes()])
}

/// Prefix of every proposal state record.
pub fn proposals_prefix() -> Vec<u8> {
    key(b'p', &[])
}

/// A proposal's draft as submitted.
pub fn draft(id: ProposalId) -> Vec<u8> {
    key(b'd', &[&id.0.to_be_bytes()])
}

/// The ballots and tally of a proposal in a region.
pub fn ballots(id: ProposalId, region: &RegionId) -> Vec<u8> {
    key(b'b', &[&id.0.to_be_bytes(), &region_part(region)])
}

/// A proposal's execution progress in a region.
pub fn execution(id: ProposalId, region: &RegionId) -> Vec<u8> {
    key(b'x', &[&id.0.to_be_bytes(), &region_part(region)])
}

/// Marks a proposal waiting to execute.
pub fn queued(id: ProposalId) -> Vec<u8> {
    key(b'q', &[&id.0.to_be_bytes()])
}

/// Prefix of the queue.
pub fn queue_prefix() -> Vec<u8> {
    key(b'q', &[])
}

/// A timer that fires in the end-of-block step of `height`.
pub fn timer(height: Height, id: ProposalId, kind: u8, region: Option<&RegionId>) -> Vec<u8> {
    let region = region.map(region_part).unwrap_or_default();
    key(
        b't',
        &[
            &height.0.to_be_bytes(),
            &id.0.to_be_bytes(),
            &[kind],
            &region,
        ],
    )
}

/// Prefix of the timers of one height.
pub fn timers_at(height: Height) -> Vec<u8> {
    key(b't', &[&height.0.to_be_bytes()])
}

/// Evidence recorded on chain.
pub fn evidence(hash: &Hash) -> Vec<u8> {
    key(b'e', &[hash.as_bytes()])
}
