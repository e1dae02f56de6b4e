//! The delivery metrics are committed with their block and read back after a reopen.

use accord_runtime::delivery::{day_of, Bucket, DayEntry, Meta, TotalEntry};
use accord_types::governance::{ExecutionOutcome, ProposalKind};
use accord_types::RegionId;

use super::*;
use crate::storage::delivery::DeliveryReader;

fn eu() -> RegionId {
    test_utils::region("eu")
}

fn us() -> RegionId {
    test_utils::region("us")
}

/// Proposal #1 (a documentation change in eu and us) is submitted in block 1; in block
/// 2 eu deploys it and us fails it, so eu is asked to roll back.
fn history(dir: &Path) -> (Storage, Vec<Decided>) {
    let (storage, mut chain) = open_at_genesis(dir);
    let txs = transactions(&mut chain, 1);
    let first = next_block(&storage, &mut chain, txs);
    commit(&storage, &first);
    let agent = test_utils::key("eu-agent-1").public();
    let report = |region: RegionId, outcome: ExecutionOutcome| Event::ExecutionReported {
        proposal: ProposalId(1),
        region,
        phase: 0,
        agent,
        outcome,
    };
    let second = next_block_with(
        &storage,
        &mut chain,
        Vec::new(),
        vec![
            report(eu(), ExecutionOutcome::Succeeded),
            report(
                us(),
                ExecutionOutcome::Failed {
                    reason: "smoke test".to_owned(),
                },
            ),
            Event::RollbackRequested {
                proposal: ProposalId(1),
                region: eu(),
                idempotency_key: Hash::ZERO,
            },
        ],
    );
    commit(&storage, &second);
    (storage, vec![first, second])
}

fn expected(decided: &[Decided]) -> (u32, Vec<DayEntry>) {
    let submitted = decided[0].block.header.timestamp.0;
    let deployed = decided[1].block.header.timestamp;
    let day = day_of(deployed);
    let lead = deployed.0 - submitted;
    let entries = vec![
        DayEntry {
            day,
            region: eu(),
            kind: ProposalKind::DocumentationChange,
            bucket: Bucket {
                deployments: 1,
                executed: 1,
                failed: 1,
                lead_time_ms_sum: lead,
                lead_time_ms_max: lead,
                ..Bucket::default()
            },
        },
        DayEntry {
            day,
            region: us(),
            kind: ProposalKind::DocumentationChange,
            bucket: Bucket {
                executed: 1,
                failed: 1,
                ..Bucket::default()
            },
        },
    ];
    (day, entries)
}

fn totals(entries: &[DayEntry]) -> Vec<TotalEntry> {
    entries
        .iter()
        .map(|e| TotalEntry {
            region: e.region.clone(),
            kind: e.kind,
            bucket: e.bucket,
        })
        .collect()
}

#[test]
fn delivery_metrics_are_committed_with_the_block_and_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (storage, decided) = history(dir.path());
    let (day, entries) = expected(&decided);
    assert_eq!(
        storage.delivery_days(day, day).unwrap(),
        (Height(2), entries.clone())
    );
    drop(storage);

    let storage = Storage::open(dir.path()).unwrap();
    assert_eq!(storage.check_consistency().unwrap().height, Height(2));
    assert_eq!(
        storage.delivery_days(day, day).unwrap(),
        (Height(2), entries.clone())
    );
    assert_eq!(
        storage.delivery_totals().unwrap(),
        (Height(2), totals(&entries))
    );
    assert!(storage
        .delivery_days(day + 1, day + 366)
        .unwrap()
        .1
        .is_empty());
    let meta: Meta = accord_runtime::delivery::read_meta(&DeliveryReader(&storage)).unwrap();
    assert_eq!(meta.height, Height(2), "counted exactly up to the head");
    assert_eq!(meta.tracked, 1, "#1 is still tracked (no final status yet)");
    assert_eq!(meta.open_failures, 2, "eu and us wait for a restore");
}

/// A refused commit writes no delivery entry either (`refused_commits_write_nothing`
/// compares whole databases); a database without them, as written before they were
/// kept, is brought up to the head on start.
#[test]
fn a_database_without_delivery_metrics_counts_its_blocks_on_start() {
    let dir = tempfile::tempdir().unwrap();
    let (storage, decided) = history(dir.path());
    let (day, entries) = expected(&decided);
    for (cf, key, _) in storage.dump() {
        if cf == keys::DELIVERY {
            storage.put_raw(cf, &key, None);
        }
    }
    assert_eq!(
        storage.delivery_days(day, day).unwrap(),
        (Height(0), vec![])
    );
    drop(storage);

    let storage = Storage::open(dir.path()).unwrap();
    storage.check_consistency().unwrap();
    assert_eq!(
        storage.delivery_days(day, day).unwrap(),
        (Height(2), entries)
    );
}

#[test]
fn a_corrupt_delivery_entry_is_reported_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let (storage, decided) = history(dir.path());
    let (day, _) = expected(&decided);
    let (start, _) = accord_runtime::delivery::day_range(day, day);
    let mut key = start;
    key.push(accord_runtime::delivery::kind_code(
        ProposalKind::DocumentationChange,
    ));
    key.extend_from_slice(b"eu");
    storage.put_raw(keys::DELIVERY, &key, Some(b"\x01"));
    let error = storage.delivery_days(day, day).unwrap_err();
    assert!(
        matches!(&error, StorageError::Corrupt { cf, .. } if *cf == keys::DELIVERY),
        "{error}"
    );
}
