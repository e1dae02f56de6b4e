//! `gov_getDeliveryMetrics`: the delivery (DORA) figures of a period, from the day
//! buckets the node keeps (`accord_runtime::delivery`, where the definitions are).

use std::collections::BTreeMap;

use accord_runtime::delivery::{Bucket, DAY_MS};
use accord_types::governance::ProposalKind;
use accord_types::RegionId;
use jsonrpsee::core::RpcResult;

use super::RpcApi;
use crate::error::invalid;
use crate::types::{
    DeliveryBucket, DeliveryFigures, DeliveryFilter, DeliveryMetrics, DeliveryPeriod,
    DeliverySeries, MAX_DELIVERY_DAYS,
};

/// Days of the default period.
const DEFAULT_DAYS: u32 = 30;

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let month = i64::from(month);
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number, `YYYY-MM-DD`.
pub(crate) fn date(day: u32) -> String {
    let z = i64::from(day) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Parses a UTC date `YYYY-MM-DD` (1970-01-01 or later) into its day number.
pub(crate) fn parse_date(field: &str, text: &str) -> RpcResult<u32> {
    let bad = |why: &str| {
        invalid(format!(
            "{field} {:?} {why}; dates are UTC days written YYYY-MM-DD, such as \"2025-01-31\"",
            text.chars().take(40).collect::<String>()
        ))
    };
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        bytes
            .get(range)
            .filter(|part| part.iter().all(u8::is_ascii_digit))
            .and_then(|part| std::str::from_utf8(part).ok())
            .and_then(|part| part.parse::<u32>().ok())
    };
    let (Some(year), Some(month), Some(day)) = (digits(0..4), digits(5..7), digits(8..10)) else {
        return Err(bad("is not a date"));
    };
    if bytes.len() != 10 || bytes.get(4) != Some(&b'-') || bytes.get(7) != Some(&b'-') {
        return Err(bad("is not a date"));
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(bad("has no such month")),
    };
    if day == 0 || day > month_days {
        return Err(bad("has no such day"));
    }
    let number = days_from_civil(i64::from(year), month, day);
    u32::try_from(number).map_err(|_| bad("is before 1970-01-01"))
}

fn seconds(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

/// The figures of `bucket` over `days` days.
pub(crate) fn figures(bucket: &Bucket, days: u32) -> DeliveryFigures {
    let ratio = |part: u64, whole: u64| (whole > 0).then(|| part as f64 / whole as f64);
    DeliveryFigures {
        deployments: bucket.deployments,
        deployments_per_day: bucket.deployments as f64 / f64::from(days.max(1)),
        executed: bucket.executed,
        failed: bucket.failed,
        change_failure_rate: ratio(bucket.failed, bucket.executed),
        lead_time_mean_seconds: ratio(bucket.lead_time_ms_sum, bucket.deployments)
            .map(|ms| ms / 1000.0),
        lead_time_max_seconds: (bucket.deployments > 0).then(|| seconds(bucket.lead_time_ms_max)),
        restores: bucket.restore_count,
        time_to_restore_mean_seconds: ratio(bucket.restore_ms_sum, bucket.restore_count)
            .map(|ms| ms / 1000.0),
        time_to_restore_max_seconds: (bucket.restore_count > 0)
            .then(|| seconds(bucket.restore_ms_max)),
    }
}

impl RpcApi {
    pub(crate) fn delivery_metrics_blocking(
        &self,
        filter: Option<DeliveryFilter>,
        bucket: Option<DeliveryBucket>,
    ) -> RpcResult<DeliveryMetrics> {
        let filter = filter.unwrap_or_default();
        let bucket = bucket.unwrap_or_default();
        let from = filter
            .from
            .as_deref()
            .map(|t| parse_date("from", t))
            .transpose()?;
        let to = filter
            .to
            .as_deref()
            .map(|t| parse_date("to", t))
            .transpose()?;
        let span = MAX_DELIVERY_DAYS.min(DEFAULT_DAYS) - 1;
        let (from, to) = match (from, to) {
            (Some(from), Some(to)) => (from, to),
            (Some(from), None) => (from, from.saturating_add(span)),
            (None, Some(to)) => (to.saturating_sub(span), to),
            (None, None) => {
                let today = self.head_day()?;
                (today.saturating_sub(span), today)
            }
        };
        if to < from {
            return Err(invalid(format!(
                "to ({}) is before from ({})",
                date(to),
                date(from)
            )));
        }
        let days = to - from + 1;
        if days > MAX_DELIVERY_DAYS {
            return Err(invalid(format!(
                "the period {} to {} is {days} days; at most {MAX_DELIVERY_DAYS} days are answered",
                date(from),
                date(to)
            )));
        }
        let (height, entries) = self.backend.chain.delivery_days(from, to)?;
        // (region, kind) → bucket index → figures summed.
        let mut series: BTreeMap<(RegionId, ProposalKind), BTreeMap<u32, Bucket>> = BTreeMap::new();
        for entry in entries {
            if entry.day < from || entry.day > to {
                continue;
            }
            if filter.region.as_ref().is_some_and(|r| r != &entry.region)
                || filter.kind.is_some_and(|k| k != entry.kind)
            {
                continue;
            }
            let start = match bucket {
                DeliveryBucket::Day => entry.day,
                DeliveryBucket::Week => from + (entry.day - from) / 7 * 7,
                DeliveryBucket::Total => from,
            };
            series
                .entry((entry.region, entry.kind))
                .or_default()
                .entry(start)
                .or_default()
                .merge(&entry.bucket);
        }
        let mut everything = Bucket::default();
        let series = series
            .into_iter()
            .map(|((region, kind), buckets)| {
                let mut whole = Bucket::default();
                let buckets = buckets
                    .into_iter()
                    .map(|(start, sum)| {
                        whole.merge(&sum);
                        let end = match bucket {
                            DeliveryBucket::Day => start,
                            DeliveryBucket::Week => start.saturating_add(6).min(to),
                            DeliveryBucket::Total => to,
                        };
                        let length = end - start + 1;
                        DeliveryPeriod {
                            from: date(start),
                            to: date(end),
                            days: length,
                            figures: figures(&sum, length),
                        }
                    })
                    .collect();
                everything.merge(&whole);
                DeliverySeries {
                    region,
                    kind,
                    buckets,
                    total: figures(&whole, days),
                }
            })
            .collect();
        Ok(DeliveryMetrics {
            height,
            from: date(from),
            to: date(to),
            days,
            bucket,
            series,
            total: figures(&everything, days),
        })
    }

    /// The UTC day of the head block (of the current time before the first block).
    fn head_day(&self) -> RpcResult<u32> {
        let (height, _) = self.backend.chain.head()?;
        let ms = match self.backend.chain.header(height)? {
            Some(header) if height.0 > 0 => header.timestamp.0,
            _ => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        };
        Ok(u32::try_from(ms / DAY_MS).unwrap_or(u32::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_and_bad_ones_are_refused() {
        assert_eq!(parse_date("from", "1970-01-01").unwrap(), 0);
        assert_eq!(parse_date("from", "2024-10-04").unwrap(), 20_000);
        assert_eq!(parse_date("from", "2024-02-29").unwrap(), 19_782);
        for day in [0, 59, 60, 365, 10_956, 19_782, 20_000, 30_000] {
            assert_eq!(
                parse_date("from", &date(day)).unwrap(),
                day,
                "{}",
                date(day)
            );
        }
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-1-01",
            "2024-01-32",
            "1969-12-31",
            "20240101",
            "2024-01-01T00:00:00Z",
            "",
            "２０２４-01-01",
        ] {
            assert!(parse_date("from", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn figures_divide_only_what_can_be() {
        let empty = figures(&Bucket::default(), 7);
        assert_eq!(empty.change_failure_rate, None);
        assert_eq!(empty.lead_time_mean_seconds, None);
        let bucket = Bucket {
            deployments: 2,
            executed: 4,
            failed: 1,
            lead_time_ms_sum: 10_000,
            lead_time_ms_max: 7_000,
            restore_ms_sum: 3_000,
            restore_count: 1,
            restore_ms_max: 3_000,
        };
        let f = figures(&bucket, 4);
        assert_eq!(f.deployments_per_day, 0.5);
        assert_eq!(f.change_failure_rate, Some(0.25));
        assert_eq!(f.lead_time_mean_seconds, Some(5.0));
        assert_eq!(f.lead_time_max_seconds, Some(7.0));
        assert_eq!(f.time_to_restore_mean_seconds, Some(3.0));
    }
}
