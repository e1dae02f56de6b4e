//! The simulated network: per-link delay and jitter, loss, duplication, reordering,
//! partitions that change over time, and a global stabilisation time (GST).
//!
//! Before GST a message may be lost, held up for a long time, or cut off by a
//! partition. From GST on every message between live nodes arrives, within the link's
//! delay plus jitter, and partitions are over. Duplicates can happen at any time.
//! Reordering comes from the jitter and from the long pre-GST delays.

use super::rng::{Ppm, SimRng};

/// A partition: from `from_ms` until `until_ms` (or GST, whichever is first), nodes
/// in different groups cannot reach each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    /// Start, in virtual milliseconds.
    pub from_ms: u64,
    /// End (exclusive).
    pub until_ms: u64,
    /// Each node's group, by node index; nodes beyond the list are in group 0.
    pub group_of: Vec<u32>,
}

impl Partition {
    fn separates(&self, a: usize, b: usize) -> bool {
        let group = |n: usize| self.group_of.get(n).copied().unwrap_or(0);
        group(a) != group(b)
    }
}

/// How the network behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkConfig {
    /// One-way delay between nodes of one region.
    pub intra_region_ms: u64,
    /// One-way delay between regions.
    pub inter_region_ms: u64,
    /// Uniform extra delay in `0..=jitter_ms`, on every message.
    pub jitter_ms: u64,
    /// Global stabilisation time.
    pub gst_ms: u64,
    /// Before GST: chance that a message is lost.
    pub loss_ppm: Ppm,
    /// Before GST: chance that a message is held up by up to `slow_ms` more.
    pub slow_ppm: Ppm,
    /// Before GST: the longest extra hold-up.
    pub slow_ms: u64,
    /// Chance that a message is delivered twice.
    pub duplicate_ppm: Ppm,
    /// Partitions (only before GST).
    pub partitions: Vec<Partition>,
}

impl NetworkConfig {
    /// A fast, reliable network: synchronous from the start.
    pub fn reliable(intra_region_ms: u64, inter_region_ms: u64) -> Self {
        Self {
            intra_region_ms,
            inter_region_ms,
            jitter_ms: 0,
            gst_ms: 0,
            loss_ppm: 0,
            slow_ppm: 0,
            slow_ms: 0,
            duplicate_ppm: 0,
            partitions: Vec::new(),
        }
    }

    /// The longest delay of a message sent at or after GST.
    pub fn max_delay_ms(&self) -> u64 {
        self.intra_region_ms
            .max(self.inter_region_ms)
            .saturating_add(self.jitter_ms)
    }

    /// When copies of a message sent at `now` from node `from` to node `to` arrive
    /// (none if it is lost). `same_region` selects the link's base delay.
    pub fn deliveries(
        &self,
        rng: &mut SimRng,
        now: u64,
        from: usize,
        to: usize,
        same_region: bool,
    ) -> Vec<u64> {
        let before_gst = now < self.gst_ms;
        if before_gst {
            let cut = self
                .partitions
                .iter()
                .any(|p| p.from_ms <= now && now < p.until_ms && p.separates(from, to));
            if cut || rng.chance(self.loss_ppm) {
                return Vec::new();
            }
        }
        let base = if same_region {
            self.intra_region_ms
        } else {
            self.inter_region_ms
        };
        let copies = if rng.chance(self.duplicate_ppm) { 2 } else { 1 };
        (0..copies)
            .map(|_| {
                let mut delay = base.saturating_add(rng.range(0, self.jitter_ms));
                if before_gst && rng.chance(self.slow_ppm) {
                    delay = delay.saturating_add(rng.range(0, self.slow_ms));
                }
                now.saturating_add(delay.max(1))
            })
            .collect()
    }
}
