//! Ports for test networks, claimed across the test processes that start `accord`
//! processes at the same time.
//!
//! Ports come from below the kernel's ephemeral range (32768 and up on Linux), so that
//! no outgoing connection of another test takes a node's port while it is down. A block
//! of 20 ports is claimed across processes by creating a lock file for it, and is used
//! only if every port in it can be bound right now.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

const PORT_FIRST: u16 = 10_000;
const PORT_BLOCKS: u16 = 1_100;
const PORT_BLOCK: u16 = 20;
/// Nodes a block has ports for: the first half of it is p2p ports, the second RPC.
pub const PORTS_PER_KIND: usize = PORT_BLOCK as usize / 2;

/// A claimed block of ports; the claim is released on drop.
pub struct PortBlock {
    /// The first port.
    pub base: u16,
    lock: PathBuf,
}

impl PortBlock {
    /// The p2p and RPC ports of node `index`.
    pub fn node(&self, index: usize) -> (u16, u16) {
        let index = u16::try_from(index).unwrap();
        assert!(index < PORT_BLOCK / 2, "a block of ports holds 10 nodes");
        (self.base + index, self.base + PORT_BLOCK / 2 + index)
    }
}

impl Drop for PortBlock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.lock);
    }
}

/// Claims a free block of ports.
pub fn claim_ports() -> PortBlock {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let dir = std::env::temp_dir().join("accord-test-ports");
    std::fs::create_dir_all(&dir).unwrap();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let start = (std::process::id() ^ nanos) as u16 % PORT_BLOCKS;
    for attempt in 0..PORT_BLOCKS {
        let offset = NEXT.fetch_add(1, Ordering::SeqCst);
        let block = (start + attempt + offset) % PORT_BLOCKS;
        let base = PORT_FIRST + block * PORT_BLOCK;
        let lock = dir.join(base.to_string());
        // A claim older than an hour is left over from a killed test run.
        let stale = std::fs::metadata(&lock)
            .and_then(|meta| meta.modified())
            .is_ok_and(|at| at.elapsed().unwrap_or_default() > Duration::from_secs(3600));
        if stale {
            let _ = std::fs::remove_file(&lock);
        }
        if std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&lock)
            .is_err()
        {
            continue;
        }
        let claimed = PortBlock { base, lock };
        let free = (base..base + PORT_BLOCK)
            .all(|port| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok());
        if free {
            return claimed;
        }
    }
    panic!("no free block of {PORT_BLOCK} ports from {PORT_FIRST}");
}
