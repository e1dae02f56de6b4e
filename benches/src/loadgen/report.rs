//! What a run reports, as plain text or JSON.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use serde::Serialize;

use super::stats::SummaryMs;

/// A run's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// RPC URLs; blocks were read from the first.
    pub nodes: Vec<String>,
    /// The chain.
    pub chain_id: String,
    /// Signing accounts, the author first.
    pub accounts: Vec<String>,
    /// Regions every proposal touched.
    pub regions: Vec<String>,
    /// Most unconfirmed transactions per account.
    pub in_flight: usize,
    /// Warm-up.
    pub warmup_s: f64,
    /// Measured window.
    pub duration_s: f64,
    /// What the blocks seen inside the window held.
    pub window: WindowFigures,
    /// Submit-to-finality latency of the transactions first sent inside the window.
    pub latency: Option<SummaryMs>,
    /// Duration of accepted or refused `gov_submitTransaction` calls.
    pub submit_call: Option<SummaryMs>,
    /// Proposals a node accepted.
    pub sent_proposals: u64,
    /// Votes a node accepted.
    pub sent_votes: u64,
    /// Proposals seen finalized.
    pub finalized_proposals: u64,
    /// Votes seen finalized.
    pub finalized_votes: u64,
    /// Refused sends by error code (each attempt; transient ones were sent again).
    pub refusals: BTreeMap<String, u64>,
    /// Transactions given up after refusals, by the last code; their nonces were reused.
    pub abandoned: BTreeMap<String, u64>,
    /// Finalized proposals whose receipt is a failure, by code.
    pub failed_receipts: BTreeMap<String, u64>,
    /// Finalized yes votes that the proposals' tallies do not count (failed votes).
    pub votes_not_counted: u64,
    /// Sends that got no answer (connection refused, timeout).
    pub transport_errors: u64,
    /// Accepted transactions not seen finalized after the drain.
    pub unresolved: Unresolved,
    /// Proposals created (ids learnt from their receipts).
    pub proposals_created: usize,
    /// Their ids.
    #[serde(skip)]
    pub proposal_ids: Vec<u64>,
    /// With `--await-decisions`: the proposals by status at the end.
    pub decisions: Option<BTreeMap<String, u64>>,
}

/// Blocks and transactions seen inside the measured window.
#[derive(Debug, Clone, Serialize)]
pub struct WindowFigures {
    /// First height seen inside it.
    pub first_height: Option<u64>,
    /// Last height seen inside it.
    pub last_height: Option<u64>,
    /// Blocks seen.
    pub blocks: u64,
    /// Blocks per second.
    pub heights_per_s: f64,
    /// Transactions per block (anyone's).
    pub txs_per_block_mean: f64,
    /// Largest block, in transactions.
    pub txs_per_block_max: usize,
    /// The run's transactions finalized.
    pub finalized: u64,
    /// Other transactions finalized.
    pub foreign: u64,
    /// The run's finalized transactions per second.
    pub tx_per_s: f64,
}

/// Accepted transactions not seen finalized, by what the watched node says of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Unresolved {
    /// Finalized after the walker's last pass (not lost, only late).
    pub late: u64,
    /// Still in the node's pool.
    pub pending: u64,
    /// Dropped by the pool, by code.
    pub dropped: BTreeMap<String, u64>,
    /// Unknown to the node.
    pub unknown: u64,
}

impl Unresolved {
    /// Transactions accepted and neither finalized nor on their way.
    pub fn lost(&self) -> u64 {
        self.pending + self.unknown + self.dropped.values().sum::<u64>()
    }
}

impl Report {
    /// Accepted transactions that were not finalized: pending, dropped or unknown.
    pub fn lost(&self) -> u64 {
        self.unresolved.lost()
    }

    /// Transactions given up after refusals.
    pub fn abandoned_total(&self) -> u64 {
        self.abandoned.values().sum()
    }
}

fn counts(map: &BTreeMap<String, u64>) -> String {
    if map.is_empty() {
        return "none".into();
    }
    map.iter()
        .map(|(code, n)| format!("{code} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn latency(summary: Option<&SummaryMs>) -> String {
    match summary {
        None => "no samples".into(),
        Some(s) => format!(
            "p50 {:.0} ms, p90 {:.0} ms, p99 {:.0} ms, max {:.0} ms (mean {:.0} ms, {} transactions)",
            s.p50_ms, s.p90_ms, s.p99_ms, s.max_ms, s.mean_ms, s.count
        ),
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = &self.window;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "loadgen on {} ({} nodes, blocks read from {})",
            self.chain_id,
            self.nodes.len(),
            self.nodes.first().map_or("", String::as_str)
        );
        let _ = writeln!(
            out,
            "  load        {} accounts ({}), proposals in {}, {} in flight per account",
            self.accounts.len(),
            self.accounts.join(", "),
            self.regions.join(", "),
            self.in_flight
        );
        let _ = writeln!(
            out,
            "  window      {:.0} s after {:.0} s of warm-up: heights {}..{} ({} blocks, {:.2}/s), {:.1} txs per block (max {})",
            self.duration_s,
            self.warmup_s,
            w.first_height.map_or("-".into(), |h| h.to_string()),
            w.last_height.map_or("-".into(), |h| h.to_string()),
            w.blocks,
            w.heights_per_s,
            w.txs_per_block_mean,
            w.txs_per_block_max
        );
        let _ = writeln!(
            out,
            "  throughput  {:.1} finalized tx/s ({} of the run's transactions in the window, {} others)",
            w.tx_per_s, w.finalized, w.foreign
        );
        let _ = writeln!(out, "  latency     {}", latency(self.latency.as_ref()));
        let _ = writeln!(out, "  submit call {}", latency(self.submit_call.as_ref()));
        let _ = writeln!(
            out,
            "  sent        {} proposals, {} votes; finalized {} proposals, {} votes",
            self.sent_proposals, self.sent_votes, self.finalized_proposals, self.finalized_votes
        );
        let _ = writeln!(
            out,
            "  refusals    {} (given up: {})",
            counts(&self.refusals),
            counts(&self.abandoned)
        );
        let _ = writeln!(
            out,
            "  failures    proposal receipts: {}; votes not counted: {}; unanswered sends: {}",
            counts(&self.failed_receipts),
            self.votes_not_counted,
            self.transport_errors
        );
        let u = &self.unresolved;
        let _ = writeln!(
            out,
            "  unresolved  {} lost (pending {}, dropped: {}, unknown {}); {} finalized late",
            self.lost(),
            u.pending,
            counts(&u.dropped),
            u.unknown,
            u.late
        );
        let _ = write!(out, "  proposals   {} created", self.proposals_created);
        if let Some(decisions) = &self.decisions {
            let _ = write!(out, "; decisions: {}", counts(decisions));
        }
        f.write_str(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_counts_pending_dropped_and_unknown_but_not_late() {
        let unresolved = Unresolved {
            late: 5,
            pending: 1,
            dropped: BTreeMap::from([("invalid_status".to_owned(), 2)]),
            unknown: 3,
        };
        assert_eq!(unresolved.lost(), 6);
        assert_eq!(Unresolved::default().lost(), 0);
    }

    #[test]
    fn counts_read_as_code_and_number() {
        assert_eq!(counts(&BTreeMap::new()), "none");
        let map = BTreeMap::from([
            ("bad_nonce".to_owned(), 2),
            ("limit_exceeded".to_owned(), 7),
        ]);
        assert_eq!(counts(&map), "bad_nonce 2, limit_exceeded 7");
    }
}
