//! Simulated heights per second and messages per height, for 4, 7, 16 and 31 validators.
//!
//! Each iteration runs the deterministic simulator over reliable links (5 ms within a
//! region, 30 ms between three regions) until every validator has decided
//! `HEIGHTS` heights: real engines, real ed25519 signing, signatures verified once on
//! arrival as a node would in a batch (`SignatureCheck::Verified` in the engine).
//! Criterion's throughput is heights per second of CPU time; the messages per height
//! (every copy to every peer) are printed once per size.
//!
//! ```sh
//! cargo bench -p accord-consensus -- --warm-up-time 1 --measurement-time 3
//! ```

// `criterion_group!` generates a public function it cannot document.
#![allow(missing_docs)]

use accord_consensus::sim::{self, NetworkConfig, SimConfig};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

const HEIGHTS: u64 = 10;

fn config(n: usize) -> SimConfig {
    let mut config = SimConfig::honest(n as u64, n, 3);
    config.network = NetworkConfig::reliable(5, 30);
    config.target_height = HEIGHTS;
    config
}

fn heights(c: &mut Criterion) {
    let mut group = c.benchmark_group("sim/heights");
    group.throughput(Throughput::Elements(HEIGHTS));
    group.sample_size(10);
    for n in [4, 7, 16, 31] {
        let config = config(n);
        let report = sim::run(&config);
        assert!(report.finished && report.violations.is_empty());
        println!(
            "sim/heights/{n}: {} messages per height, {} engine inputs per height, {} ms of virtual time per height",
            report.messages_sent / HEIGHTS,
            report.inputs / HEIGHTS,
            report.target_reached_ms.unwrap_or(0) / HEIGHTS,
        );
        group.bench_with_input(BenchmarkId::from_parameter(n), &config, |b, config| {
            b.iter(|| sim::run(config));
        });
    }
    group.finish();
}

criterion_group!(benches, heights);
criterion_main!(benches);
