//! When to dial each bootstrap peer: the synchronous state behind the re-dial loop.
//!
//! ```text
//!   start ──► Waiting(now) ──due──► Dialing ──established──► Connected{since}
//!                ▲                     │                        │ last connection closed
//!                └── failed: wait delay, delay = min(2·delay, max)◄┘ (up ≥ stable_after:
//!                                                                    delay = initial first)
//! ```
//!
//! A connection that comes up in either direction counts, so a peer that dials this
//! node is not dialed back. Time is passed in, so the rules are tested without clocks.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use accord_types::PublicKey;
use libp2p::{Multiaddr, PeerId};

use super::ingress::BootstrapStatus;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Waiting { until: Instant },
    Dialing,
    Connected { since: Instant },
}

#[derive(Debug)]
struct Entry {
    key: PublicKey,
    addr: Multiaddr,
    state: State,
    /// The delay before the next re-dial.
    delay: Duration,
    failures: u32,
}

/// Backoff settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Backoff {
    pub(crate) initial: Duration,
    pub(crate) max: Duration,
    pub(crate) stable_after: Duration,
}

/// The dial schedule of every bootstrap peer.
#[derive(Debug)]
pub(crate) struct Dialer {
    backoff: Backoff,
    peers: BTreeMap<PeerId, Entry>,
}

impl Dialer {
    /// Every peer is due at `now`.
    pub(crate) fn new(
        peers: impl IntoIterator<Item = (PeerId, PublicKey, Multiaddr)>,
        backoff: Backoff,
        now: Instant,
    ) -> Self {
        let peers = peers
            .into_iter()
            .map(|(peer, key, addr)| {
                let entry = Entry {
                    key,
                    addr,
                    state: State::Waiting { until: now },
                    delay: backoff.initial,
                    failures: 0,
                };
                (peer, entry)
            })
            .collect();
        Self { backoff, peers }
    }

    /// Adds `peer` at `addr`, due at `now`, or moves a known peer to a new address (due
    /// at `now` unless connected). Returns whether anything changed.
    pub(crate) fn upsert(
        &mut self,
        peer: PeerId,
        key: PublicKey,
        addr: Multiaddr,
        now: Instant,
    ) -> bool {
        match self.peers.get_mut(&peer) {
            Some(entry) if entry.addr == addr => false,
            Some(entry) => {
                entry.addr = addr;
                if !matches!(entry.state, State::Connected { .. }) {
                    entry.state = State::Waiting { until: now };
                    entry.delay = self.backoff.initial;
                }
                true
            }
            None => {
                self.peers.insert(
                    peer,
                    Entry {
                        key,
                        addr,
                        state: State::Waiting { until: now },
                        delay: self.backoff.initial,
                        failures: 0,
                    },
                );
                true
            }
        }
    }

    /// Stops dialing `peer`.
    pub(crate) fn remove(&mut self, peer: &PeerId) {
        self.peers.remove(peer);
    }

    /// The peers whose dial is due at `now`, now marked as being dialed.
    pub(crate) fn take_due(&mut self, now: Instant) -> Vec<(PeerId, Multiaddr)> {
        let mut due = Vec::new();
        for (peer, entry) in &mut self.peers {
            if matches!(entry.state, State::Waiting { until } if until <= now) {
                entry.state = State::Dialing;
                due.push((*peer, entry.addr.clone()));
            }
        }
        due
    }

    /// The earliest time a dial falls due, if any is scheduled.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.peers
            .values()
            .filter_map(|entry| match entry.state {
                State::Waiting { until } => Some(until),
                State::Dialing | State::Connected { .. } => None,
            })
            .min()
    }

    fn schedule(backoff: Backoff, entry: &mut Entry, now: Instant) {
        entry.failures = entry.failures.saturating_add(1);
        entry.state = State::Waiting {
            until: now + entry.delay,
        };
        entry.delay = entry.delay.saturating_mul(2).min(backoff.max);
    }

    /// A dial of `peer` failed. Ignored unless this schedule was dialing it (a
    /// connection may have come up the other way meanwhile).
    pub(crate) fn dial_failed(&mut self, peer: &PeerId, now: Instant) {
        if let Some(entry) = self.peers.get_mut(peer) {
            if entry.state == State::Dialing {
                Self::schedule(self.backoff, entry, now);
            }
        }
    }

    /// A connection to `peer` came up.
    pub(crate) fn connected(&mut self, peer: &PeerId, now: Instant) {
        if let Some(entry) = self.peers.get_mut(peer) {
            if !matches!(entry.state, State::Connected { .. }) {
                entry.state = State::Connected { since: now };
            }
        }
    }

    /// The last connection to `peer` closed: re-dial after the delay, which starts
    /// over when the connection had been stable.
    pub(crate) fn disconnected(&mut self, peer: &PeerId, now: Instant) {
        let backoff = self.backoff;
        if let Some(entry) = self.peers.get_mut(peer) {
            if let State::Connected { since } = entry.state {
                if now.saturating_duration_since(since) >= backoff.stable_after {
                    entry.delay = backoff.initial;
                    entry.failures = 0;
                }
            }
            Self::schedule(backoff, entry, now);
        }
    }

    /// Every bootstrap peer's state.
    pub(crate) fn status(&self, now: Instant) -> Vec<BootstrapStatus> {
        self.peers
            .values()
            .map(|entry| BootstrapStatus {
                key: entry.key,
                addr: entry.addr.clone(),
                connected: matches!(entry.state, State::Connected { .. }),
                failures: entry.failures,
                next_dial_in: match entry.state {
                    State::Waiting { until } => Some(until.saturating_duration_since(now)),
                    State::Dialing | State::Connected { .. } => None,
                },
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn setup() -> (Dialer, PeerId, Instant) {
        let key = accord_types::Keypair::derive_insecure("peer").public();
        let peer = super::super::peer_id_of(&key).unwrap();
        let now = Instant::now();
        let backoff = Backoff {
            initial: 250 * MS,
            max: 1000 * MS,
            stable_after: 5000 * MS,
        };
        let addr: Multiaddr = "/ip4/127.0.0.1/tcp/1".parse().unwrap();
        (Dialer::new([(peer, key, addr)], backoff, now), peer, now)
    }

    fn delay(d: &Dialer, now: Instant) -> Option<Duration> {
        d.status(now)[0].next_dial_in
    }

    #[test]
    fn failed_dials_back_off_doubling_to_the_maximum() {
        let (mut d, peer, t0) = setup();
        assert_eq!(d.take_due(t0).len(), 1);
        assert!(d.take_due(t0).is_empty(), "a peer being dialed is not due");
        let mut delays = Vec::new();
        let mut now = t0;
        for _ in 0..5 {
            d.dial_failed(&peer, now);
            delays.push(delay(&d, now).unwrap());
            now = d.next_due().unwrap();
            assert!(d.take_due(now - MS).is_empty(), "not due early");
            assert_eq!(d.take_due(now).len(), 1);
        }
        assert_eq!(
            delays,
            [250 * MS, 500 * MS, 1000 * MS, 1000 * MS, 1000 * MS]
        );
        assert_eq!(d.status(now)[0].failures, 5);
    }

    #[test]
    fn a_stable_connection_resets_the_delay_and_a_brief_one_does_not() {
        let (mut d, peer, t0) = setup();
        d.take_due(t0);
        d.dial_failed(&peer, t0);
        d.take_due(t0 + 250 * MS);
        d.dial_failed(&peer, t0 + 250 * MS);
        // Up briefly, then closed: counts as a failure, the delay keeps growing.
        let t1 = t0 + 750 * MS;
        d.take_due(t1);
        d.connected(&peer, t1);
        assert!(d.status(t1)[0].connected);
        assert_eq!(d.next_due(), None);
        d.disconnected(&peer, t1 + 10 * MS);
        assert_eq!(delay(&d, t1 + 10 * MS), Some(1000 * MS));
        assert_eq!(d.status(t1)[0].failures, 3);
        // Up for longer than stable_after: the next re-dial comes after the initial delay.
        let t2 = t1 + 1010 * MS;
        d.take_due(t2);
        d.connected(&peer, t2);
        d.disconnected(&peer, t2 + 6000 * MS);
        assert_eq!(delay(&d, t2 + 6000 * MS), Some(250 * MS));
        assert_eq!(d.status(t2)[0].failures, 1);
    }

    #[test]
    fn an_inbound_connection_cancels_the_pending_dial_and_late_failures_are_ignored() {
        let (mut d, peer, t0) = setup();
        d.take_due(t0);
        d.dial_failed(&peer, t0);
        d.connected(&peer, t0 + MS);
        assert_eq!(d.next_due(), None);
        d.dial_failed(&peer, t0 + 2 * MS);
        assert!(d.status(t0)[0].connected);
        assert!(d.take_due(t0 + 10_000 * MS).is_empty());
    }
}
