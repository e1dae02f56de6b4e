//! RFC 3339 text for the genesis time, to and from milliseconds since the Unix epoch.

use std::time::{Duration, UNIX_EPOCH};

use accord_types::Timestamp;

/// The last millisecond of year 9999, the latest instant RFC 3339 text can name.
const MAX_MS: u64 = 253_402_300_800_000 - 1;

/// Parses UTC RFC 3339 text (`2026-01-01T00:00:00Z`, optionally with up to millisecond
/// fractions) into a timestamp.
pub(crate) fn parse(text: &str) -> Result<Timestamp, String> {
    let expected = "must be a UTC RFC 3339 time such as \"2026-01-01T00:00:00Z\"";
    let time = humantime::parse_rfc3339(text).map_err(|e| format!("{expected} ({e})"))?;
    let since = time
        .duration_since(UNIX_EPOCH)
        .map_err(|_| format!("{expected} (before 1970)"))?;
    if since.subsec_nanos() % 1_000_000 != 0 {
        return Err("has sub-millisecond precision; timestamps are in milliseconds".into());
    }
    let ms = since
        .as_secs()
        .checked_mul(1000)
        .and_then(|ms| ms.checked_add(u64::from(since.subsec_millis())))
        .ok_or_else(|| format!("{expected} (out of range)"))?;
    Ok(Timestamp(ms))
}

/// Formats a timestamp as RFC 3339 in UTC: whole seconds when it has no milliseconds.
///
/// A timestamp past year 9999 has no RFC 3339 form; it is written as a bare number,
/// which [`parse`] refuses, so such a value can never pass validation.
pub(crate) fn format(time: Timestamp) -> String {
    let ms = time.get();
    if ms > MAX_MS {
        return ms.to_string();
    }
    let system = UNIX_EPOCH + Duration::from_millis(ms);
    if ms % 1000 == 0 {
        humantime::format_rfc3339_seconds(system).to_string()
    } else {
        humantime::format_rfc3339_millis(system).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_seconds_and_millis() {
        for text in [
            "1970-01-01T00:00:00Z",
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:00:00.250Z",
            "9999-12-31T23:59:59.999Z",
        ] {
            let time = parse(text).unwrap();
            assert_eq!(format(time), text);
        }
        assert_eq!(
            parse("2026-01-01T00:00:00Z").unwrap(),
            Timestamp(1_767_225_600_000)
        );
    }

    #[test]
    fn refuses_bad_text_and_out_of_range_values() {
        for bad in [
            "",
            "2026-01-01",
            "2026-01-01 00:00:00",
            "2026-13-01T00:00:00Z",
            "2026-01-01T00:00:00.0001Z",
            "2026-01-01T00:00:00+02:00",
            "1767225600000",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
        let text = format(Timestamp(u64::MAX));
        assert!(parse(&text).is_err());
    }
}
