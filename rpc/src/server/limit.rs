//! Per-address limits: a request rate (a token bucket per client address, GCRA from
//! `governor`) and a number of open connections.
//!
//! IPv4 clients are told apart by address, IPv6 clients by their /64 network: one host
//! holds a whole /64 and could otherwise take a fresh address for every request.
//! Addresses in the exempt list (an operator's own tools, a proxy that limits by
//! itself) are never limited.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use jsonrpsee::types::{ErrorObject, ErrorObjectOwned};
use parking_lot::Mutex;
use serde_json::json;

use crate::error::RATE_LIMITED;

/// Where a connection comes from: put into every request's extensions by the server's
/// accept loop, read by the limits and the REST routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteAddr(pub SocketAddr);

/// How often (in checks) keys idle long enough to hold a full bucket are dropped.
const PRUNE_EVERY: u64 = 4096;

/// The limits of every client address, shared by all connections.
pub struct PerAddress {
    rate: Option<(DefaultKeyedRateLimiter<IpAddr>, u32)>,
    clock: DefaultClock,
    exempt: HashSet<IpAddr>,
    max_connections: u32,
    connections: Mutex<HashMap<IpAddr, u32>>,
    checks: AtomicU64,
}

/// A request over the rate: when to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    /// The client's address (its /64 for IPv6).
    pub key: IpAddr,
    /// Requests per second allowed.
    pub per_second: u32,
    /// How long until one more request is allowed.
    pub retry_after: Duration,
}

impl Limited {
    /// The JSON-RPC error for a refused call.
    pub fn error(&self) -> ErrorObjectOwned {
        let retry_ms = u64::try_from(self.retry_after.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        ErrorObject::owned(
            RATE_LIMITED,
            format!(
                "rate limit: more than {} requests per second from {}; retry in {retry_ms} ms",
                self.per_second, self.key
            ),
            Some(json!({ "retry_after_ms": retry_ms })),
        )
    }
}

/// The key an address is limited under.
fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

impl PerAddress {
    /// `per_second` requests per second with bursts of `burst` (0 per second: no rate
    /// limit), at most `max_connections` open connections per address (0: none beyond
    /// the server's own limit), except for `exempt` addresses.
    pub fn new(per_second: u32, burst: u32, max_connections: u32, exempt: &[IpAddr]) -> Self {
        let rate = NonZeroU32::new(per_second).map(|rate| {
            let burst = NonZeroU32::new(burst).unwrap_or(rate);
            (
                RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)),
                per_second,
            )
        });
        Self {
            rate,
            clock: DefaultClock::default(),
            exempt: exempt.iter().map(|ip| key(*ip)).collect(),
            max_connections,
            connections: Mutex::new(HashMap::new()),
            checks: AtomicU64::new(0),
        }
    }

    /// Whether these limits limit anything.
    pub fn is_active(&self) -> bool {
        self.rate.is_some() || self.max_connections > 0
    }

    /// Takes one request of `ip`'s rate, or says when to retry.
    pub fn check(&self, ip: IpAddr) -> Result<(), Limited> {
        let Some((limiter, per_second)) = &self.rate else {
            return Ok(());
        };
        let key = key(ip);
        if self.exempt.contains(&key) {
            return Ok(());
        }
        if self.checks.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            limiter.retain_recent();
        }
        limiter.check_key(&key).map_err(|not_until| Limited {
            key,
            per_second: *per_second,
            retry_after: not_until.wait_time_from(self.clock.now()),
        })
    }

    /// Takes `request`'s rate when it carries a [`RemoteAddr`]; requests without one
    /// (built in-process) are not limited.
    pub fn check_extensions(&self, extensions: &http::Extensions) -> Result<(), Limited> {
        match extensions.get::<RemoteAddr>() {
            Some(RemoteAddr(addr)) => self.check(addr.ip()),
            None => Ok(()),
        }
    }

    /// Opens a connection of `ip`, or `None` when it has its most already. The slot is
    /// released when dropped.
    pub fn connect(self: &Arc<Self>, ip: IpAddr) -> Option<ConnectionSlot> {
        let key = key(ip);
        if self.max_connections == 0 || self.exempt.contains(&key) {
            return Some(ConnectionSlot { limits: None, key });
        }
        let mut connections = self.connections.lock();
        let open = connections.entry(key).or_insert(0);
        if *open >= self.max_connections {
            return None;
        }
        *open += 1;
        Some(ConnectionSlot {
            limits: Some(Arc::clone(self)),
            key,
        })
    }

    /// Connections open from `ip`'s key (counted only when connections are limited).
    pub fn open_connections(&self, ip: IpAddr) -> u32 {
        self.connections.lock().get(&key(ip)).copied().unwrap_or(0)
    }

    /// The largest number of connections per address (0: not limited).
    pub fn max_connections(&self) -> u32 {
        self.max_connections
    }
}

/// One open connection, counted against its address until dropped.
pub struct ConnectionSlot {
    limits: Option<Arc<PerAddress>>,
    key: IpAddr,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        if let Some(limits) = &self.limits {
            let mut connections = limits.connections.lock();
            if let Some(open) = connections.get_mut(&self.key) {
                *open = open.saturating_sub(1);
                if *open == 0 {
                    connections.remove(&self.key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_burst_passes_and_the_next_request_waits() {
        let limits = PerAddress::new(1, 3, 0, &[]);
        for _ in 0..3 {
            limits.check(ip("10.0.0.1")).unwrap();
        }
        let limited = limits.check(ip("10.0.0.1")).unwrap_err();
        assert_eq!(limited.key, ip("10.0.0.1"));
        assert!(limited.retry_after > Duration::ZERO);
        assert!(limited.retry_after <= Duration::from_secs(1));
        assert!(limited.error().message().contains("retry in"));
        // Another address has its own bucket.
        limits.check(ip("10.0.0.2")).unwrap();
    }

    #[test]
    fn an_ipv6_network_shares_one_bucket_and_mapped_ipv4_is_ipv4() {
        let limits = PerAddress::new(1, 1, 0, &[]);
        limits.check(ip("2001:db8:1:2::1")).unwrap();
        assert!(limits.check(ip("2001:db8:1:2::ffff")).is_err());
        limits.check(ip("2001:db8:1:3::1")).unwrap();
        limits.check(ip("192.0.2.1")).unwrap();
        assert!(limits.check(ip("::ffff:192.0.2.1")).is_err());
    }

    #[test]
    fn exempt_addresses_and_a_zero_rate_are_not_limited() {
        let limits = Arc::new(PerAddress::new(1, 1, 1, &[ip("127.0.0.1")]));
        for _ in 0..10 {
            limits.check(ip("127.0.0.1")).unwrap();
        }
        let slots: Vec<_> = (0..5).map(|_| limits.connect(ip("127.0.0.1"))).collect();
        assert!(slots.iter().all(Option::is_some));
        let off = PerAddress::new(0, 0, 0, &[]);
        assert!(!off.is_active());
        for _ in 0..10 {
            off.check(ip("10.0.0.1")).unwrap();
        }
    }

    #[test]
    fn connections_are_counted_per_address_and_released_on_drop() {
        let limits = Arc::new(PerAddress::new(0, 0, 2, &[]));
        let a = limits.connect(ip("10.0.0.1")).unwrap();
        let b = limits.connect(ip("10.0.0.1")).unwrap();
        assert!(limits.connect(ip("10.0.0.1")).is_none());
        assert!(limits.connect(ip("10.0.0.2")).is_some());
        assert_eq!(limits.open_connections(ip("10.0.0.1")), 2);
        drop(a);
        assert_eq!(limits.open_connections(ip("10.0.0.1")), 1);
        let _c = limits.connect(ip("10.0.0.1")).unwrap();
        drop(b);
        assert_eq!(limits.open_connections(ip("10.0.0.1")), 1);
    }
}
