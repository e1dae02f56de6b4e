//! Merkle roots of 1,000 and 10,000 hashes, proving plus verifying one item, and
//! proving every item of a list from one `merkle::Tree`.
// `criterion_group!` generates a public function it cannot document.
#![allow(missing_docs)]

use accord_benches::sample_hashes;
use accord_types::merkle;
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

fn root(c: &mut Criterion) {
    let mut group = c.benchmark_group("merkle/root");
    for n in [1_000usize, 10_000] {
        let hashes = sample_hashes(n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &hashes, |b, hashes| {
            b.iter(|| merkle::root(black_box(hashes)));
        });
    }
    group.finish();
}

fn prove_verify(c: &mut Criterion) {
    let mut group = c.benchmark_group("merkle/prove_verify");
    for n in [1_000usize, 10_000] {
        let hashes = sample_hashes(n);
        let root = merkle::root(&hashes);
        let index = n / 3;
        group.bench_with_input(BenchmarkId::from_parameter(n), &hashes, |b, hashes| {
            b.iter(|| {
                let proof = merkle::prove(black_box(hashes), index);
                proof.is_some_and(|p| p.verify(&root, &hashes[index]))
            });
        });
        let proof = merkle::prove(&hashes, index).unwrap_or_else(|| panic!("index in range"));
        assert!(proof.verify(&root, &hashes[index]));
        group.bench_with_input(BenchmarkId::new("verify_only", n), &proof, |b, proof| {
            b.iter(|| black_box(proof).verify(&root, &hashes[index]));
        });
    }
    group.finish();
}

fn prove_all(c: &mut Criterion) {
    let mut group = c.benchmark_group("merkle/tree_prove_all");
    for n in [1_000usize, 10_000] {
        let hashes = sample_hashes(n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &hashes, |b, hashes| {
            b.iter(|| {
                let tree = merkle::Tree::new(black_box(hashes));
                (0..n).filter_map(|i| tree.prove(i)).count()
            });
        });
    }
    group.finish();
}

criterion_group!(benches, root, prove_verify, prove_all);
criterion_main!(benches);
