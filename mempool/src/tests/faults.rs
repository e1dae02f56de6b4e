//! A store that cannot be read: nothing is admitted on a guess and nothing pooled is lost.

use std::ops::ControlFlow;

use accord_runtime::test_utils::key;
use accord_state::{StateStore, WriteBatch};
use accord_types::governance::VoteChoice;

use super::super::AddError;
use super::Fixture;

/// Every operation fails, as a disk that went away would.
struct BrokenStore;

fn broken(operation: &'static str) -> accord_state::Error {
    accord_state::Error::Store {
        operation,
        reason: "disk unplugged".to_owned(),
    }
}

impl StateStore for BrokenStore {
    fn get(&self, _key: &[u8]) -> accord_state::Result<Option<Vec<u8>>> {
        Err(broken("read"))
    }

    fn scan_prefix(
        &self,
        _prefix: &[u8],
        _f: &mut dyn FnMut(&[u8], &[u8]) -> ControlFlow<()>,
    ) -> accord_state::Result<()> {
        Err(broken("scan"))
    }

    fn write(&mut self, _batch: &WriteBatch) -> accord_state::Result<()> {
        Err(broken("write"))
    }
}

#[test]
fn an_unreadable_store_refuses_admission_and_drops_nothing() {
    let mut f = Fixture::new();
    let committed = f.vote("eu-voter-1", 0, VoteChoice::Yes);
    let kept = f.vote("eu-voter-2", 0, VoteChoice::Yes);
    assert!(f
        .add(vec![committed.clone(), kept.clone()])
        .iter()
        .all(Result::is_ok));
    let ctx = f.ctx();

    let refused = f.pool.add(
        &BrokenStore,
        &ctx,
        vec![f.vote("eu-voter-3", 0, VoteChoice::Yes)],
    );
    let error = refused[0].clone().unwrap_err();
    assert!(matches!(error, AddError::State { .. }), "{error:?}");
    assert_eq!(error.code(), None);
    assert!(error.is_retryable());
    assert!(error.to_string().contains("disk unplugged"), "{error}");

    assert!(f.pool.reap(&BrokenStore, 10, usize::MAX).is_err());
    assert!(f
        .pool
        .pending_nonce(&BrokenStore, &key("eu-voter-2").public())
        .is_err());

    // The committed one leaves; the other cannot be judged and stays.
    let dropped = f.pool.update(&BrokenStore, &ctx, &[committed.hash()]);
    assert!(dropped.is_empty());
    assert!(!f.pool.contains(&committed.hash()));
    assert!(f.pool.contains(&kept.hash()));
    f.pool.check_invariants();
    assert_eq!(f.reap(10, usize::MAX), vec![kept]);
}
