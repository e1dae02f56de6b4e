//! Long simulator sweeps (serialised by the nextest configuration).

use std::sync::atomic::{AtomicU64, Ordering};

use accord_consensus::sim::{self, scenario, Report};

/// Seeds over all sizes: `ACCORD_SIM_SEEDS`, default 1,002 (334 per size).
fn seed_count() -> u64 {
    std::env::var("ACCORD_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_002)
}

/// The first seed: `ACCORD_SIM_FIRST_SEED`, default 0.
fn first_seed() -> u64 {
    std::env::var("ACCORD_SIM_FIRST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Runs `f` over seeds on every core, collecting the failures.
fn sweep(seeds: std::ops::Range<u64>, f: impl Fn(u64) -> Option<String> + Sync) -> Vec<String> {
    let next = AtomicU64::new(seeds.start);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let seed = next.fetch_add(1, Ordering::Relaxed);
                if seed >= seeds.end {
                    break;
                }
                if let Some(failure) = f(seed) {
                    failures.lock().unwrap().push(failure);
                }
            });
        }
    });
    let mut failures = failures.into_inner().unwrap();
    failures.sort();
    failures
}

fn judge(n: usize, report: &Report, within_bounds: bool) -> Option<String> {
    let mut problems: Vec<String> = report
        .safety_violations()
        .iter()
        .map(|v| v.to_string())
        .collect();
    if within_bounds {
        problems.extend(report.liveness_violations().iter().map(|v| v.to_string()));
        if !report.finished {
            problems.push("did not finish".into());
        }
    }
    if report.engine_errors > 0 {
        problems.push(format!("{} engine errors", report.engine_errors));
    }
    (!problems.is_empty()).then(|| format!("n={n} seed={}: {}", report.seed, problems.join("; ")))
}

#[test]
fn random_seeds_keep_safety_and_liveness() {
    let first = first_seed();
    let count = seed_count();
    let failures = sweep(first..first + count, |seed| {
        let n = [4, 7, 10][(seed % 3) as usize];
        let config = scenario::random(seed, n);
        let report = sim::run(&config);
        judge(n, &report, config.faults_within_bounds())
    });
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
