//! Latency percentiles.

use std::time::Duration;

use serde::Serialize;

/// A summary of latency samples. Percentiles use the nearest-rank method: the p-th
/// percentile of `n` sorted samples is the sample of rank `⌈p·n/100⌉`, so it is always
/// one of the measured values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Samples.
    pub count: usize,
    /// Arithmetic mean.
    pub mean: Duration,
    /// Median.
    pub p50: Duration,
    /// 90th percentile.
    pub p90: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Largest sample.
    pub max: Duration,
}

impl Summary {
    /// Summarises `samples` (in any order); `None` if there are none.
    pub fn of(samples: &[Duration]) -> Option<Self> {
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        let total: Duration = sorted.iter().sum();
        let count = sorted.len();
        Some(Self {
            count,
            mean: total / u32::try_from(count).ok().filter(|n| *n > 0)?,
            p50: percentile(&sorted, 50.0)?,
            p90: percentile(&sorted, 90.0)?,
            p99: percentile(&sorted, 99.0)?,
            max: *sorted.last()?,
        })
    }

    /// The summary in milliseconds, for the JSON report.
    pub fn millis(&self) -> SummaryMs {
        let ms = |d: Duration| (d.as_secs_f64() * 1000.0 * 10.0).round() / 10.0;
        SummaryMs {
            count: self.count,
            mean_ms: ms(self.mean),
            p50_ms: ms(self.p50),
            p90_ms: ms(self.p90),
            p99_ms: ms(self.p99),
            max_ms: ms(self.max),
        }
    }
}

/// [`Summary`] in milliseconds (one decimal).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[allow(missing_docs)]
pub struct SummaryMs {
    pub count: usize,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// The nearest-rank `p`-th percentile (0 < p ≤ 100) of `sorted` (ascending).
pub fn percentile(sorted: &[Duration], p: f64) -> Option<Duration> {
    if sorted.is_empty() || !(p > 0.0 && p <= 100.0) {
        return None;
    }
    let n = sorted.len() as f64;
    // The small epsilon keeps 90 % of 100 at rank 90 despite binary fractions.
    let rank = ((p / 100.0) * n - 1e-9).ceil().max(1.0) as usize;
    sorted.get(rank.min(sorted.len()) - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: impl IntoIterator<Item = u64>) -> Vec<Duration> {
        values.into_iter().map(Duration::from_millis).collect()
    }

    #[test]
    fn percentiles_of_one_to_a_hundred() {
        // Shuffled on purpose: the summary sorts.
        let mut samples = ms(1..=100);
        samples.reverse();
        samples.swap(3, 70);
        let summary = Summary::of(&samples).unwrap();
        assert_eq!(summary.count, 100);
        assert_eq!(summary.p50, Duration::from_millis(50));
        assert_eq!(summary.p90, Duration::from_millis(90));
        assert_eq!(summary.p99, Duration::from_millis(99));
        assert_eq!(summary.max, Duration::from_millis(100));
        assert_eq!(summary.mean, Duration::from_micros(50_500));
    }

    #[test]
    fn nearest_rank_picks_a_measured_value() {
        let sorted = ms([10, 20, 30, 40]);
        assert_eq!(percentile(&sorted, 50.0), Some(Duration::from_millis(20)));
        assert_eq!(percentile(&sorted, 51.0), Some(Duration::from_millis(30)));
        assert_eq!(percentile(&sorted, 99.0), Some(Duration::from_millis(40)));
        assert_eq!(percentile(&sorted, 100.0), Some(Duration::from_millis(40)));
        assert_eq!(percentile(&sorted, 1.0), Some(Duration::from_millis(10)));
        assert_eq!(percentile(&sorted, 0.0), None);
        assert_eq!(percentile(&sorted, 101.0), None);
    }

    #[test]
    fn a_single_sample_is_every_percentile() {
        let summary = Summary::of(&ms([640])).unwrap();
        for value in [
            summary.p50,
            summary.p90,
            summary.p99,
            summary.max,
            summary.mean,
        ] {
            assert_eq!(value, Duration::from_millis(640));
        }
    }

    #[test]
    fn a_tail_shows_only_in_the_high_percentiles() {
        // 95 fast transactions and 5 slow ones.
        let mut samples = ms(std::iter::repeat_n(200, 95));
        samples.extend(ms(std::iter::repeat_n(3_000, 5)));
        let summary = Summary::of(&samples).unwrap();
        assert_eq!(summary.p50, Duration::from_millis(200));
        assert_eq!(summary.p90, Duration::from_millis(200));
        assert_eq!(summary.p99, Duration::from_millis(3_000));
        assert_eq!(summary.max, Duration::from_millis(3_000));
    }

    #[test]
    fn no_samples_no_summary() {
        assert_eq!(Summary::of(&[]), None);
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn milliseconds_keep_one_decimal() {
        let summary = Summary::of(&[Duration::from_micros(1_234_567)]).unwrap();
        assert_eq!(summary.millis().p50_ms, 1234.6);
    }
}
