//! The open-loop schedule, without I/O: which account sends which transaction to which
//! node, and when, fixed before the run starts.
//!
//! Transaction `i` is due `i / rate` seconds after the start. Accounts take turns
//! (`i mod accounts`), so each account's transactions are `accounts / rate` seconds
//! apart and its nonces follow one another; every account always sends to the same
//! node, so a node never sees an account's nonce `n + 1` before `n`. Each vote goes to
//! the proposals of the pool in turn.

use std::time::Duration;

/// One scheduled transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// When it is due, after the start.
    pub due: Duration,
    /// The signing account (an index into the run's accounts).
    pub account: usize,
    /// How many of this account's transactions come before it (its nonce is the
    /// account's first nonce plus this).
    pub seq: u64,
    /// The node it is sent to.
    pub node: usize,
    /// The proposal of the pool it votes on.
    pub proposal: usize,
}

/// The whole schedule of a run: `rate` transactions per second for `length`, over
/// `accounts` accounts, `nodes` nodes and `proposals` proposals (each at least one).
pub fn schedule(
    rate: f64,
    length: Duration,
    accounts: usize,
    nodes: usize,
    proposals: usize,
) -> Vec<Slot> {
    let accounts = accounts.max(1);
    let nodes = nodes.max(1);
    let proposals = proposals.max(1);
    if !(rate.is_finite() && rate > 0.0) {
        return Vec::new();
    }
    // Truncation is the intent: whole transactions due within the length.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let count = (rate * length.as_secs_f64()).floor() as usize;
    (0..count)
        .map(|i| {
            let account = i % accounts;
            let seq = (i / accounts) as u64;
            #[allow(clippy::cast_precision_loss)]
            let due = Duration::from_secs_f64(i as f64 / rate);
            Slot {
                due,
                account,
                seq,
                node: account % nodes,
                proposal: (account + i / accounts) % proposals,
            }
        })
        .collect()
}

/// The slots due at or before `elapsed`, from `next` on: the range to send now.
pub fn due(slots: &[Slot], next: usize, elapsed: Duration) -> std::ops::Range<usize> {
    let start = next.min(slots.len());
    let end = start + slots[start..].partition_point(|s| s.due <= elapsed);
    start..end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schedule_holds_rate_times_length_transactions_evenly_spaced() {
        let slots = schedule(1000.0, Duration::from_secs(3), 7, 4, 5);
        assert_eq!(slots.len(), 3000);
        assert_eq!(slots[0].due, Duration::ZERO);
        assert_eq!(slots[1000].due, Duration::from_secs(1));
        assert!(slots.windows(2).all(|w| w[0].due < w[1].due));
        assert!(slots.last().unwrap().due < Duration::from_secs(3));
    }

    #[test]
    fn each_account_sends_its_nonces_in_order_to_one_node() {
        let slots = schedule(500.0, Duration::from_secs(2), 7, 4, 3);
        for account in 0..7 {
            let mine: Vec<&Slot> = slots.iter().filter(|s| s.account == account).collect();
            assert!(!mine.is_empty());
            for (k, slot) in mine.iter().enumerate() {
                assert_eq!(slot.seq, k as u64, "account {account}");
                assert_eq!(slot.node, mine[0].node, "account {account}");
            }
        }
        let nodes: std::collections::BTreeSet<usize> = slots.iter().map(|s| s.node).collect();
        assert_eq!(nodes.len(), 4, "every node gets load");
        let proposals: std::collections::BTreeSet<usize> =
            slots.iter().map(|s| s.proposal).collect();
        assert_eq!(proposals.len(), 3, "every proposal gets votes");
    }

    #[test]
    fn the_due_range_advances_with_the_clock() {
        let slots = schedule(100.0, Duration::from_secs(1), 3, 2, 1);
        assert_eq!(due(&slots, 0, Duration::ZERO), 0..1);
        assert_eq!(due(&slots, 1, Duration::from_millis(95)), 1..10);
        assert_eq!(due(&slots, 10, Duration::from_millis(95)), 10..10);
        assert_eq!(due(&slots, 10, Duration::from_secs(5)), 10..100);
        assert_eq!(due(&slots, 100, Duration::from_secs(5)), 100..100);
    }

    #[test]
    fn a_rate_that_is_not_positive_schedules_nothing() {
        assert!(schedule(0.0, Duration::from_secs(1), 1, 1, 1).is_empty());
        assert!(schedule(f64::NAN, Duration::from_secs(1), 1, 1, 1).is_empty());
        assert!(schedule(-5.0, Duration::from_secs(1), 1, 1, 1).is_empty());
    }
}
