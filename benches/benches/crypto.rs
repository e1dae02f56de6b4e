//! Signature verification and signing: one signature, batches of 64 and 1,024.
// `criterion_group!` generates a public function it cannot document.
#![allow(missing_docs)]

use accord_benches::{sample_keypairs, sample_transaction, sample_transactions};
use accord_types::crypto::{verify_batch, SignedMessage};
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

fn single(c: &mut Criterion) {
    let kp = &sample_keypairs(1)[0];
    let tx = sample_transaction(kp, 1);
    let message = tx.signing_bytes();
    let mut group = c.benchmark_group("crypto");
    group.throughput(Throughput::Elements(1));
    group.bench_function("verify_single", |b| {
        b.iter(|| {
            tx.signer
                .verify(black_box(&message), black_box(&tx.signature))
        });
    });
    group.bench_function("sign", |b| b.iter(|| kp.sign(black_box(&message))));
    group.finish();
}

fn batch(c: &mut Criterion) {
    let mut group = c.benchmark_group("crypto/verify_batch");
    for n in [64usize, 1024] {
        let txs = sample_transactions(n);
        let messages: Vec<Vec<u8>> = txs.iter().map(|tx| tx.signing_bytes()).collect();
        let items: Vec<SignedMessage<'_>> = txs
            .iter()
            .zip(&messages)
            .map(|(tx, message)| tx.signed_message(message))
            .collect();
        assert_eq!(verify_batch(&items), Ok(()));
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &items, |b, items| {
            b.iter(|| verify_batch(black_box(items)));
        });
    }
    group.finish();
}

criterion_group!(benches, single, batch);
criterion_main!(benches);
