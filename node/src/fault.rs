//! Crash points for fault-injection tests of the real binary.
//!
//! With `ACCORD_FAULT_CRASH_AT=<point>` (or `<point>:<n>`) in its environment, the node
//! aborts the first (or `n`-th) time it reaches `<point>`: no destructor runs and nothing buffered is flushed, as
//! after `kill -9` or a power cut at exactly that instruction. The points sit in the
//! windows of a block commit where a crash is hardest to recover from; the
//! multi-process tests restart the node after each and check that it comes back
//! consistent. Unset (the normal case), a crash point is one comparison.
//!
//! Release builds have no crash points: there the variable is refused at start, so a
//! production node can never be made to abort by its environment.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use anyhow::{bail, Result};

/// The environment variable naming the crash point.
pub const ENV: &str = "ACCORD_FAULT_CRASH_AT";

/// Every crash point, in the order a commit reaches them.
pub const POINTS: &[&str] = &[
    // The block is decided (or synced) and executed; nothing of it is stored yet.
    "before-commit",
    // The block's batch is written and synced; the consensus log is still the old height's.
    "after-commit",
    // The consensus log holds only the next height's start; the engine has not seen it.
    "after-log-reset",
];

/// The armed point and on which of its passes to crash.
fn armed() -> Option<&'static (String, Option<u64>)> {
    static ARMED: OnceLock<Option<(String, Option<u64>)>> = OnceLock::new();
    ARMED
        .get_or_init(|| {
            let value = std::env::var(ENV).ok()?;
            Some(match value.split_once(':') {
                Some((point, n)) => (point.to_owned(), n.parse().ok().filter(|n| *n > 0)),
                None => (value, Some(1)),
            })
        })
        .as_ref()
}

/// Refuses an `ACCORD_FAULT_CRASH_AT` that names no crash point or a bad count, so a
/// typo does not silently disarm a test.
pub fn check() -> Result<()> {
    if !cfg!(debug_assertions) {
        if std::env::var_os(ENV).is_some() {
            bail!("{ENV} is set, but this is a release build, which has no crash points; unset it");
        }
        return Ok(());
    }
    match armed() {
        Some((point, _)) if !POINTS.contains(&point.as_str()) => bail!(
            "{ENV}: {point:?} names no crash point; the points are {}",
            POINTS.join(", ")
        ),
        Some((point, None)) => {
            bail!("{ENV}: the count after \"{point}:\" must be a whole number of at least 1")
        }
        Some((point, Some(n))) => {
            tracing::warn!(point, pass = n, "armed to crash (fault injection, {ENV})");
            Ok(())
        }
        None => Ok(()),
    }
}

/// Aborts the process if `point` is the armed crash point and this is the pass to
/// crash on.
pub fn crash_point(point: &'static str) {
    if !cfg!(debug_assertions) {
        return;
    }
    static PASSES: AtomicU64 = AtomicU64::new(0);
    let Some((armed, Some(n))) = armed() else {
        return;
    };
    if armed == point && PASSES.fetch_add(1, Ordering::SeqCst).saturating_add(1) == *n {
        eprintln!("crash point {point} reached on pass {n} ({ENV}); aborting");
        std::process::abort();
    }
}
