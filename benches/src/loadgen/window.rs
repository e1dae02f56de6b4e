//! The per-account window of unconfirmed nonces.

use std::collections::BTreeSet;

/// The nonces of one account that were handed out and are not yet finalized.
///
/// Nonces are handed out in order from the account's next nonce. At most `limit` may be
/// unconfirmed at once: the mempool holds at most `max_per_account` (64) nonces of an
/// account ahead of its state nonce, and a node a block behind the one loadgen watches
/// sees fewer of them finalized, so the window stays below the pool's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonceWindow {
    next: u64,
    in_flight: BTreeSet<u64>,
    limit: usize,
}

/// A nonce handed back that is not the last one handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotLast {
    /// The nonce handed back.
    pub nonce: u64,
    /// The next nonce the window would hand out.
    pub next: u64,
}

impl NonceWindow {
    /// A window starting at `next` (the account's pending nonce), holding at most
    /// `limit` unconfirmed nonces.
    pub fn new(next: u64, limit: usize) -> Self {
        Self {
            next,
            in_flight: BTreeSet::new(),
            limit,
        }
    }

    /// The next nonce, if fewer than `limit` are unconfirmed.
    pub fn acquire(&mut self) -> Option<u64> {
        if self.in_flight.len() >= self.limit {
            return None;
        }
        let nonce = self.next;
        self.next = self.next.saturating_add(1);
        self.in_flight.insert(nonce);
        Some(nonce)
    }

    /// Hands back the last nonce handed out, whose transaction every node refused: the
    /// account's next transaction reuses it, so no later nonce waits on a gap.
    pub fn abandon(&mut self, nonce: u64) -> Result<(), NotLast> {
        if nonce.checked_add(1) != Some(self.next) || !self.in_flight.contains(&nonce) {
            return Err(NotLast {
                nonce,
                next: self.next,
            });
        }
        self.in_flight.remove(&nonce);
        self.next = nonce;
        Ok(())
    }

    /// Marks `nonce` finalized; returns whether it was unconfirmed.
    pub fn finalized(&mut self, nonce: u64) -> bool {
        self.in_flight.remove(&nonce)
    }

    /// Unconfirmed nonces.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// The nonce [`NonceWindow::acquire`] hands out next.
    pub fn next(&self) -> u64 {
        self.next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hands_out_consecutive_nonces_up_to_the_limit() {
        let mut window = NonceWindow::new(7, 3);
        assert_eq!(window.acquire(), Some(7));
        assert_eq!(window.acquire(), Some(8));
        assert_eq!(window.acquire(), Some(9));
        assert_eq!(window.acquire(), None, "three unconfirmed is the limit");
        assert_eq!(window.in_flight(), 3);
        assert_eq!(window.next(), 10);
    }

    #[test]
    fn a_finalized_nonce_frees_one_slot() {
        let mut window = NonceWindow::new(0, 2);
        assert_eq!(window.acquire(), Some(0));
        assert_eq!(window.acquire(), Some(1));
        assert_eq!(window.acquire(), None);
        assert!(window.finalized(0));
        assert!(!window.finalized(0), "a nonce is finalized once");
        assert!(!window.finalized(5), "never handed out");
        assert_eq!(window.acquire(), Some(2));
        assert_eq!(window.acquire(), None);
        assert!(window.finalized(1));
        assert!(window.finalized(2));
        assert_eq!(window.in_flight(), 0);
        assert_eq!(window.acquire(), Some(3));
    }

    #[test]
    fn an_abandoned_nonce_is_reused_by_the_next_transaction() {
        let mut window = NonceWindow::new(10, 4);
        assert_eq!(window.acquire(), Some(10));
        assert_eq!(window.acquire(), Some(11));
        assert_eq!(window.abandon(11), Ok(()));
        assert_eq!(window.in_flight(), 1);
        assert_eq!(window.acquire(), Some(11));
        assert_eq!(window.acquire(), Some(12));
    }

    #[test]
    fn only_the_last_nonce_can_be_abandoned() {
        let mut window = NonceWindow::new(0, 4);
        window.acquire();
        window.acquire();
        assert_eq!(window.abandon(0), Err(NotLast { nonce: 0, next: 2 }));
        assert_eq!(window.abandon(2), Err(NotLast { nonce: 2, next: 2 }));
        assert!(window.finalized(1));
        // 1 is finalized: abandoning it now would reuse a spent nonce.
        assert_eq!(window.abandon(1), Err(NotLast { nonce: 1, next: 2 }));
        assert_eq!(window.in_flight(), 1);
        assert_eq!(window.next(), 2);
    }
}
