//! Strict borsh encoding and decoding of a typical transaction and of a block of
//! 1,000 of them.
// `criterion_group!` generates a public function it cannot document.
#![allow(missing_docs)]

use accord_benches::{sample_block, sample_keypairs, sample_transaction};
use accord_types::codec::MAX_BLOCK_BYTES;
use accord_types::{Block, Transaction};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

fn transaction(c: &mut Criterion) {
    let tx = sample_transaction(&sample_keypairs(1)[0], 7);
    let bytes = tx.encode();
    let mut group = c.benchmark_group("codec/transaction");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("encode", |b| b.iter(|| black_box(&tx).encode()));
    group.bench_function("decode", |b| {
        b.iter(|| Transaction::decode(black_box(&bytes)));
    });
    group.bench_function("hash", |b| b.iter(|| black_box(&tx).hash()));
    group.finish();
}

fn block(c: &mut Criterion) {
    let block = sample_block(1_000);
    let bytes = block.encode();
    assert_eq!(Block::decode(&bytes, MAX_BLOCK_BYTES).as_ref(), Ok(&block));
    let mut group = c.benchmark_group("codec/block_1000_tx");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("encode", |b| b.iter(|| black_box(&block).encode()));
    group.bench_function("decode", |b| {
        b.iter(|| Block::decode(black_box(&bytes), MAX_BLOCK_BYTES));
    });
    group.bench_function("check_body", |b| b.iter(|| black_box(&block).check_body()));
    group.finish();
}

criterion_group!(benches, transaction, block);
criterion_main!(benches);
