//! Benchmarks of the state root update and of proofs, over a `MemStore` of 100,000 keys.
//!
//! Keys look like the runtime's (a short tag and a big-endian number, about 20 bytes);
//! values are 64 bytes. Half of the touched keys exist already and half are new.
// `criterion_group!` generates a public function it cannot document.
#![allow(missing_docs)]

use std::hint::black_box;

use accord_state::{MemStore, Overlay, StateStore, StateView};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};

const STATE_KEYS: u64 = 100_000;

fn key(i: u64) -> Vec<u8> {
    let mut key = b"bench/key/".to_vec();
    key.extend_from_slice(&i.to_be_bytes());
    key
}

fn value(i: u64, round: u64) -> Vec<u8> {
    let mut value = vec![0u8; 64];
    value[..8].copy_from_slice(&i.to_le_bytes());
    value[8..16].copy_from_slice(&round.to_le_bytes());
    value
}

fn state() -> MemStore {
    let mut store = MemStore::new();
    let mut overlay = Overlay::new(StateView::new(&store));
    for i in 0..STATE_KEYS {
        overlay.put(key(i), value(i, 0));
    }
    let commit = overlay.commit().expect("genesis commit");
    store.write(&commit.batch).expect("genesis write");
    store
}

/// An overlay writing `touched` keys: every other one existing (spread over the
/// state), the rest new.
fn writes(store: &MemStore, touched: u64) -> Overlay<'_> {
    let mut overlay = Overlay::new(StateView::new(store));
    for j in 0..touched {
        let i = if j % 2 == 0 {
            (j * 7_919) % STATE_KEYS
        } else {
            STATE_KEYS + j
        };
        overlay.put(key(i), value(i, 1));
    }
    overlay
}

fn commit(c: &mut Criterion) {
    let store = state();
    let mut group = c.benchmark_group("state_commit");
    group.sample_size(10);
    for touched in [1_000u64, 20_000] {
        group.bench_function(format!("{touched}_keys_into_100000"), |b| {
            b.iter_batched(
                || writes(&store, touched),
                |overlay| black_box(overlay.commit().expect("commit")),
                BatchSize::PerIteration,
            );
        });
    }
    group.bench_function("20000_puts_and_commit_into_100000", |b| {
        b.iter(|| black_box(writes(&store, 20_000).commit().expect("commit")));
    });
    group.finish();
}

fn proofs(c: &mut Criterion) {
    let store = state();
    let view = StateView::new(&store);
    let root = view.root().expect("root");
    let mut group = c.benchmark_group("state_proof");
    let mut i = 0u64;
    group.bench_function("prove_present_in_100000", |b| {
        b.iter(|| {
            i = (i + 7_919) % STATE_KEYS;
            black_box(view.prove(&key(i)).expect("prove"))
        });
    });
    let proof = view.prove(&key(42)).expect("prove");
    let expected = value(42, 0);
    group.bench_function("verify_present_in_100000", |b| {
        b.iter(|| {
            proof
                .verify(&root, &key(42), Some(&expected))
                .expect("verify");
        });
    });
    group.bench_function("prove_and_verify_absent_in_100000", |b| {
        b.iter(|| {
            i += 1;
            let absent = key(STATE_KEYS + i);
            let proof = view.prove(&absent).expect("prove");
            proof.verify(&root, &absent, None).expect("verify");
        });
    });
    group.finish();
}

criterion_group!(benches, commit, proofs);
criterion_main!(benches);
