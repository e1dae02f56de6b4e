use proptest::prelude::*;

use super::*;
use crate::test_utils::{self, documentation, draft, pipeline, region, TestChain};
use accord_types::governance::RiskLevel;
use accord_types::{Outcome, PublicKey, ReceiptSource};

const HOUR: u64 = 3_600_000;
/// Midnight UTC of day 20 000 (2024-10-04).
const D0: u64 = 20_000 * DAY_MS;

fn receipt(events: Vec<Event>) -> Receipt {
    Receipt {
        source: ReceiptSource::EndOfBlock,
        outcome: Outcome::Success,
        events,
    }
}

fn agent() -> PublicKey {
    test_utils::key("eu-agent-1").public()
}

fn submitted(id: u64, kind: ProposalKind, regions: &[&str]) -> Event {
    Event::ProposalSubmitted {
        proposal: ProposalId(id),
        kind,
        tier: RiskLevel::Low,
        regions: regions.iter().map(|r| region(r)).collect(),
        voting_ends: Height(100),
    }
}

fn reported(id: u64, region_name: &str, phase: u16, outcome: ExecutionOutcome) -> Event {
    Event::ExecutionReported {
        proposal: ProposalId(id),
        region: region(region_name),
        phase,
        agent: agent(),
        outcome,
    }
}

fn failed(reason: &str) -> ExecutionOutcome {
    ExecutionOutcome::Failed {
        reason: reason.to_owned(),
    }
}

fn status(id: u64, status: ProposalStatus) -> Event {
    Event::StatusChanged {
        proposal: ProposalId(id),
        status,
        reason: String::new(),
    }
}

fn rollback(id: u64, region_name: &str) -> Event {
    Event::RollbackRequested {
        proposal: ProposalId(id),
        region: region(region_name),
        idempotency_key: Hash::ZERO,
    }
}

/// A chain of blocks fed to a [`MemDelivery`].
struct Script {
    chain: TestChain,
    store: MemDelivery,
    height: u64,
}

impl Script {
    fn new() -> Self {
        Self {
            chain: TestChain::new(),
            store: MemDelivery::default(),
            height: 0,
        }
    }

    /// A block at `at` whose transactions submit `drafts` (receipt i: ProposalSubmitted
    /// of `submissions[i]`), then an end-of-block receipt of `events`.
    fn block(&mut self, at: u64, submissions: &[(u64, &[&str], ProposalBody)], events: Vec<Event>) {
        self.height += 1;
        let mut txs = Vec::new();
        let mut receipts = Vec::new();
        for (id, regions, body) in submissions {
            let kind = body.kind();
            txs.push(self.chain.tx(
                "author",
                Payload::SubmitProposal {
                    draft: Box::new(draft(regions, body.clone())),
                },
            ));
            receipts.push(receipt(vec![submitted(*id, kind, regions)]));
        }
        receipts.push(receipt(events));
        self.store
            .apply(Height(self.height), Timestamp(at), &txs, &receipts)
            .unwrap();
    }

    fn day(&self, day: u64, kind: ProposalKind, region_name: &str) -> Bucket {
        let day = u32::try_from(day).unwrap();
        self.store
            .days(day, day)
            .unwrap()
            .into_iter()
            .find(|e| e.kind == kind && e.region == region(region_name))
            .map(|e| e.bucket)
            .unwrap_or_default()
    }

    fn total(&self, kind: ProposalKind, region_name: &str) -> Bucket {
        self.store
            .totals()
            .unwrap()
            .into_iter()
            .find(|e| e.kind == kind && e.region == region(region_name))
            .map(|e| e.bucket)
            .unwrap_or_default()
    }
}

/// Three changes in eu over two days and two kinds: a pipeline action that fails, the
/// next one of the same pipeline that restores it two hours later, and a documentation
/// change deployed in eu then rolled back there because us failed it.
#[test]
fn scripted_history_gives_known_figures() {
    use ProposalKind::{DocumentationChange as Doc, PipelineAction as Pipe};
    let mut s = Script::new();
    s.block(
        D0,
        &[
            (1, &["eu"], pipeline(&[])),
            (2, &["eu"], pipeline(&[])),
            (3, &["eu", "us"], documentation("guide.md")),
        ],
        vec![],
    );
    assert_eq!(s.store.meta().unwrap().tracked, 3);
    // 01:00: #1 fails in eu; nothing was applied, so it ends there.
    s.block(
        D0 + HOUR,
        &[],
        vec![
            reported(1, "eu", 0, failed("health check")),
            status(1, ProposalStatus::Failed),
        ],
    );
    // 03:00: #2, same pipeline and environment, deploys in eu: restores after 2 h.
    s.block(
        D0 + 3 * HOUR,
        &[],
        vec![
            reported(2, "eu", 0, ExecutionOutcome::Succeeded),
            status(2, ProposalStatus::Succeeded),
        ],
    );
    assert_eq!(
        s.day(20_000, Pipe, "eu"),
        Bucket {
            deployments: 1,
            executed: 2,
            failed: 1,
            lead_time_ms_sum: 3 * HOUR,
            lead_time_ms_max: 3 * HOUR,
            restore_ms_sum: 2 * HOUR,
            restore_count: 1,
            restore_ms_max: 2 * HOUR,
        }
    );
    // Next day, 02:00: #3 deploys in eu (lead time 26 h); 04:00: us fails it and eu is
    // asked to roll back; 05:00: eu rolled back.
    s.block(
        D0 + 26 * HOUR,
        &[],
        vec![reported(3, "eu", 0, ExecutionOutcome::Succeeded)],
    );
    s.block(
        D0 + 28 * HOUR,
        &[],
        vec![
            reported(3, "us", 0, failed("timeout")),
            status(3, ProposalStatus::Failed),
            rollback(3, "eu"),
            status(3, ProposalStatus::RollingBack),
        ],
    );
    assert_eq!(s.store.meta().unwrap().tracked, 1, "#3 is rolling back");
    s.block(
        D0 + 29 * HOUR,
        &[],
        vec![
            reported(3, "eu", 0, ExecutionOutcome::RolledBack),
            status(3, ProposalStatus::RolledBack),
        ],
    );
    assert_eq!(
        s.day(20_001, Doc, "eu"),
        Bucket {
            deployments: 1,
            executed: 1,
            failed: 1,
            lead_time_ms_sum: 26 * HOUR,
            lead_time_ms_max: 26 * HOUR,
            ..Bucket::default()
        }
    );
    assert_eq!(
        s.day(20_001, Doc, "us"),
        Bucket {
            executed: 1,
            failed: 1,
            ..Bucket::default()
        }
    );
    assert_eq!(s.day(20_001, Pipe, "eu"), Bucket::default());
    assert_eq!(s.day(20_000, Doc, "eu"), Bucket::default());
    let meta = s.store.meta().unwrap();
    assert_eq!(
        meta,
        Meta {
            height: Height(6),
            tracked: 0,
            open_failures: 2
        }
    );
    // 08:00: #4 deploys the same document in eu, submitted at 06:00: it restores the
    // eu failure of 04:00 (4 h); us stays open.
    s.block(
        D0 + 30 * HOUR,
        &[(4, &["eu"], documentation("guide.md"))],
        vec![],
    );
    s.block(
        D0 + 32 * HOUR,
        &[],
        vec![
            reported(4, "eu", 0, ExecutionOutcome::Succeeded),
            status(4, ProposalStatus::Succeeded),
        ],
    );
    let eu_doc = s.day(20_001, Doc, "eu");
    assert_eq!(
        eu_doc,
        Bucket {
            deployments: 2,
            executed: 2,
            failed: 1,
            lead_time_ms_sum: 28 * HOUR,
            lead_time_ms_max: 26 * HOUR,
            restore_ms_sum: 4 * HOUR,
            restore_count: 1,
            restore_ms_max: 4 * HOUR,
        }
    );
    assert_eq!(s.total(Doc, "eu"), eu_doc);
    assert_eq!(s.total(Pipe, "eu"), s.day(20_000, Pipe, "eu"));
    assert_eq!(
        s.store.meta().unwrap(),
        Meta {
            height: Height(8),
            tracked: 0,
            open_failures: 1
        }
    );
    assert_eq!(s.store.count(b'p'), 0);
    assert_eq!(s.store.count(b'f'), 1);
    // Reads of a period walk only its days.
    assert_eq!(s.store.days(20_001, 20_001).unwrap().len(), 2);
    assert_eq!(s.store.days(20_000, 20_001).unwrap().len(), 3);
    assert!(s.store.days(20_002, 30_000).unwrap().is_empty());
}

#[test]
fn only_the_last_phase_deploys_and_reports_count_once() {
    let mut s = Script::new();
    s.block(D0, &[(1, &["eu"], pipeline(&[50, 100]))], vec![]);
    s.block(
        D0 + HOUR,
        &[],
        vec![
            reported(1, "eu", 0, ExecutionOutcome::Succeeded),
            status(1, ProposalStatus::Executing { phase: 1 }),
        ],
    );
    assert_eq!(
        s.day(20_000, ProposalKind::PipelineAction, "eu"),
        Bucket::default()
    );
    s.block(
        D0 + 2 * HOUR,
        &[],
        vec![
            reported(1, "eu", 1, ExecutionOutcome::Succeeded),
            // A repeated report (no valid chain has one) counts nothing more.
            reported(1, "eu", 1, ExecutionOutcome::Succeeded),
        ],
    );
    let bucket = s.day(20_000, ProposalKind::PipelineAction, "eu");
    assert_eq!((bucket.deployments, bucket.executed), (1, 1));
    assert_eq!(bucket.lead_time_ms_sum, 2 * HOUR);
    // Events of unknown proposals or regions are ignored.
    s.block(
        D0 + 3 * HOUR,
        &[],
        vec![
            reported(9, "eu", 0, failed("x")),
            reported(1, "ap", 1, failed("x")),
            rollback(9, "us"),
        ],
    );
    let bucket = s.day(20_000, ProposalKind::PipelineAction, "eu");
    assert_eq!(
        (bucket.deployments, bucket.executed, bucket.failed),
        (1, 1, 0)
    );
    assert_eq!(s.store.meta().unwrap().open_failures, 0);
}

#[test]
fn emergencies_stop_being_tracked_once_ratified_and_deployed() {
    let mut s = Script::new();
    s.block(
        D0,
        &[(1, &["eu"], pipeline(&[]))],
        vec![status(1, ProposalStatus::EmergencyExecuted)],
    );
    s.block(D0 + HOUR, &[], vec![status(1, ProposalStatus::Ratified)]);
    assert_eq!(s.store.meta().unwrap().tracked, 1);
    s.block(
        D0 + 2 * HOUR,
        &[],
        vec![reported(1, "eu", 0, ExecutionOutcome::Succeeded)],
    );
    assert_eq!(s.store.meta().unwrap().tracked, 0);
    assert_eq!(s.store.count(b'p'), 0);
}

#[test]
fn targets_are_the_narrowest_stable_identity() {
    assert_eq!(target(&pipeline(&[])), "pipeline/model-release@production");
    assert_eq!(target(&documentation("a/b.md")), "document/a/b.md");
    assert_eq!(target(&test_utils::roadmap("search")), "roadmap/search");
    assert_eq!(
        target(&ProposalBody::GovernanceChange(vec![])),
        "governance"
    );
    let infra = |resources: &[&str]| {
        ProposalBody::InfrastructureChange(accord_types::governance::InfrastructureChange {
            change: accord_types::governance::InfrastructureChangeKind::ResourceModification,
            resources: resources.iter().map(|r| (*r).to_owned()).collect(),
            validator_updates: vec![],
        })
    };
    assert_eq!(
        target(&infra(&["db", "cache", "db"])),
        "infrastructure/cache,db"
    );
    assert_eq!(
        target_id(&infra(&["cache", "db"])),
        target_id(&infra(&["db", "cache"]))
    );
}

#[test]
fn corrupt_entries_are_errors_not_panics() {
    let mut store = MemDelivery::default();
    store.entries.insert(META_KEY.to_vec(), vec![1, 2, 3]);
    let error = store
        .apply(Height(1), Timestamp(D0), &[], &[receipt(vec![])])
        .unwrap_err();
    assert!(matches!(error, DeliveryError::Corrupt { .. }), "{error}");
    assert!(decode_day(b"d", b"").is_err());
    assert!(decode_total(b"t\x09eu", b"").is_err());
}

fn arb_event() -> impl Strategy<Value = Event> {
    let id = 0u64..6;
    let region_name = prop::sample::select(vec!["eu", "us", "ap"]);
    let kind = prop::sample::select(vec![
        ProposalKind::PipelineAction,
        ProposalKind::DocumentationChange,
        ProposalKind::RoadmapChange,
    ]);
    let outcome = prop_oneof![
        Just(ExecutionOutcome::Succeeded),
        Just(failed("x")),
        Just(ExecutionOutcome::RolledBack),
    ];
    let status_value = prop_oneof![
        Just(ProposalStatus::Succeeded),
        Just(ProposalStatus::Failed),
        Just(ProposalStatus::RollingBack),
        Just(ProposalStatus::RolledBack),
        Just(ProposalStatus::Ratified),
        Just(ProposalStatus::Executing { phase: 0 }),
        Just(ProposalStatus::Cancelled),
    ];
    prop_oneof![
        (
            id.clone(),
            kind,
            prop::collection::vec(region_name.clone(), 1..3)
        )
            .prop_map(|(id, kind, regions)| submitted(id, kind, &regions)),
        (id.clone(), region_name.clone(), 0u16..3, outcome)
            .prop_map(|(id, r, phase, outcome)| reported(id, r, phase, outcome)),
        (id.clone(), region_name).prop_map(|(id, r)| rollback(id, r)),
        (id, status_value).prop_map(|(id, s)| status(id, s)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Any sequence of events: no panic, no error, all-time buckets equal to the sum of
    /// the day buckets, the meta counts equal to what is stored, failures never more
    /// than executions.
    #[test]
    fn totals_are_the_sum_of_the_days(
        blocks in prop::collection::vec(
            (0u64..3 * DAY_MS, prop::collection::vec(arb_event(), 0..12)),
            1..25,
        ),
    ) {
        let mut store = MemDelivery::default();
        let mut at = D0;
        for (height, (step, events)) in blocks.into_iter().enumerate() {
            at = at.saturating_add(step);
            store
                .apply(Height(height as u64 + 1), Timestamp(at), &[], &[receipt(events)])
                .unwrap();
        }
        let mut summed: BTreeMap<(RegionId, ProposalKind), Bucket> = BTreeMap::new();
        for entry in store.days(0, u32::MAX).unwrap() {
            summed.entry((entry.region, entry.kind)).or_default().merge(&entry.bucket);
        }
        let totals: BTreeMap<(RegionId, ProposalKind), Bucket> = store
            .totals()
            .unwrap()
            .into_iter()
            .map(|e| ((e.region, e.kind), e.bucket))
            .collect();
        prop_assert_eq!(&summed, &totals);
        for bucket in totals.values() {
            prop_assert!(bucket.failed <= bucket.executed);
            prop_assert!(bucket.deployments <= bucket.executed);
            prop_assert!(bucket.lead_time_ms_max <= bucket.lead_time_ms_sum);
            if bucket.deployments == 0 {
                prop_assert_eq!(bucket.lead_time_ms_sum, 0);
            }
        }
        let meta = store.meta().unwrap();
        prop_assert_eq!(meta.tracked, store.count(b'p') as u64);
        prop_assert_eq!(meta.open_failures, store.count(b'f') as u64);
        prop_assert!(meta.tracked <= 6);
    }
}
