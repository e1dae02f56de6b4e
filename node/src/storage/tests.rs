use std::collections::BTreeMap;
use std::fs;
use std::ops::ControlFlow;

use accord_runtime::test_utils::{self, documentation, draft, TestChain};
use accord_runtime::{execute_block, Genesis};
use accord_state::{MemStore, Overlay, StateStore, VALUE_PREFIX};
use accord_types::block::{evidence_root, transactions_root};
use accord_types::governance::{ValidatorSpec, VoteChoice};
use accord_types::{
    Domain, Keypair, Payload, ProposalId, Round, Transaction, ValidatorSet, Vote, VoteType,
};
use proptest::prelude::*;

use super::*;

fn genesis_hash() -> Hash {
    Hash::digest(Domain::GENESIS, b"storage-test")
}

fn genesis() -> Genesis {
    test_utils::genesis()
}

/// A database at the test genesis, and the in-memory chain that mirrors it.
fn open_at_genesis(dir: &Path) -> (Storage, TestChain) {
    let storage = Storage::open(dir).unwrap();
    let genesis = genesis();
    let commit = genesis.build(&storage.state_store()).unwrap();
    storage
        .init_genesis(
            &genesis.chain_id,
            genesis_hash(),
            &commit.batch,
            commit.root,
        )
        .unwrap();
    let chain = TestChain::from_genesis(&genesis);
    assert_eq!(chain.root, commit.root);
    (storage, chain)
}

fn validator_keys() -> Vec<Keypair> {
    test_utils::validator_keys()
}

fn validator_set() -> ValidatorSet {
    let genesis = genesis();
    ValidatorSet::new(
        genesis
            .validators
            .iter()
            .map(ValidatorSpec::to_validator)
            .collect(),
        genesis.rule,
    )
    .unwrap()
}

/// A block the chain decided, as the node hands it to storage.
#[derive(Clone)]
struct Decided {
    block: Block,
    certificate: CommitCertificate,
    outcome: BlockOutcome,
}

/// Executes `txs` as the next block against the database's state (read only), checks
/// that the in-memory chain computes the same, and builds the block and a certificate
/// signed by every test validator.
fn next_block(storage: &Storage, chain: &mut TestChain, txs: Vec<Transaction>) -> Decided {
    next_block_with(storage, chain, txs, Vec::new())
}

/// [`next_block`], with `extra` events appended to its end-of-block receipt.
fn next_block_with(
    storage: &Storage,
    chain: &mut TestChain,
    txs: Vec<Transaction>,
    extra: Vec<Event>,
) -> Decided {
    let head = storage.head().unwrap().unwrap();
    let ctx = chain.context();
    let mut outcome = execute_block(&storage.state_store(), &ctx, &txs).unwrap();
    let in_memory = chain.block_with(&ctx, &txs);
    assert_eq!(outcome.state_root, in_memory.state_root);
    assert_eq!(outcome.batch, in_memory.batch);
    assert_eq!(outcome.receipts, in_memory.receipts);
    if !extra.is_empty() {
        outcome.receipts.last_mut().unwrap().events.extend(extra);
        outcome.receipts_root = accord_types::receipt::receipts_root(&outcome.receipts);
    }
    let last_commit = match head.height {
        Height(0) => None,
        height => storage.certificate(height).unwrap(),
    };
    let block = Block {
        header: Header {
            chain_id: ctx.chain_id.clone(),
            height: ctx.height,
            parent_hash: head.hash,
            timestamp: ctx.timestamp,
            proposer: ctx.proposer,
            transactions_root: transactions_root(&txs),
            evidence_root: evidence_root(&[]),
            state_root: outcome.state_root,
            receipts_root: outcome.receipts_root,
            validator_set_hash: validator_set().hash(),
            last_commit_hash: last_commit
                .as_ref()
                .map_or(Hash::ZERO, CommitCertificate::hash),
        },
        transactions: txs,
        evidence: Vec::new(),
        last_commit,
    };
    block.check_body().unwrap();
    let hash = block.hash();
    let votes: Vec<Vote> = validator_keys()
        .iter()
        .map(|key| {
            Vote::sign(
                key,
                &ctx.chain_id,
                ctx.height,
                Round(0),
                VoteType::Precommit,
                Some(hash),
            )
        })
        .collect();
    let certificate = CommitCertificate::from_precommits(ctx.height, Round(0), hash, &votes);
    certificate
        .verify_commit(&ctx.chain_id, &validator_set(), ctx.height, &hash)
        .unwrap();
    Decided {
        block,
        certificate,
        outcome,
    }
}

fn commit(storage: &Storage, decided: &Decided) {
    storage
        .commit_block(&decided.block, &decided.certificate, &decided.outcome)
        .unwrap();
}

/// The transactions of block `n` of the test history: submissions, votes, a repeated
/// transaction, and empty blocks.
fn transactions(chain: &mut TestChain, n: u64) -> Vec<Transaction> {
    let vote = |chain: &mut TestChain, voter: &str, proposal: u64| {
        chain.tx(
            voter,
            Payload::Vote {
                proposal: ProposalId(proposal),
                region: test_utils::region("eu"),
                choice: VoteChoice::Yes,
            },
        )
    };
    match n {
        5 | 10 | 15 => Vec::new(),
        // A transaction repeated in its block: the copy is refused for its nonce.
        8 => {
            let tx = vote(chain, "eu-voter-1", 1);
            vec![tx.clone(), vote(chain, "eu-voter-2", 1), tx]
        }
        n if n % 2 == 1 => {
            let body = documentation(&format!("guide/{n}.md"));
            vec![chain.tx(
                "author",
                Payload::SubmitProposal {
                    draft: Box::new(draft(&["eu", "us"], body)),
                },
            )]
        }
        n => {
            let proposal = n / 2;
            (1..=3)
                .map(|i| vote(chain, &format!("eu-voter-{i}"), proposal))
                .collect()
        }
    }
}

/// Genesis then `blocks` committed blocks.
fn build_chain(dir: &Path, blocks: u64) -> (Storage, TestChain, Vec<Decided>) {
    let (storage, mut chain) = open_at_genesis(dir);
    let mut decided = Vec::new();
    for n in 1..=blocks {
        let txs = transactions(&mut chain, n);
        let block = next_block(&storage, &mut chain, txs);
        commit(&storage, &block);
        decided.push(block);
    }
    (storage, chain, decided)
}

#[test]
fn usage_names_every_column_family_and_counts_what_was_written() {
    let dir = tempfile::tempdir().unwrap();
    let (storage, _, decided) = build_chain(dir.path(), 5);
    let usage = storage.usage();
    let names: Vec<&str> = usage.column_families.iter().map(|cf| cf.name).collect();
    assert_eq!(names, COLUMN_FAMILIES);
    let of = |name: &str| {
        usage
            .column_families
            .iter()
            .find(|cf| cf.name == name)
            .unwrap()
            .clone()
    };
    let txs: usize = decided.iter().map(|d| d.block.transactions.len()).sum();
    assert!(txs > 0);
    // Nothing flushed yet: the writes are in the memtables.
    assert!(of(keys::BLOCKS).memtable_bytes > 0);
    assert!(of(keys::TX_INDEX).keys >= txs as u64);
    assert_eq!(of(keys::BLOCKS).sst_bytes, 0);
}

/// The column family, key and reason of a corruption error; panics on anything else.
fn corrupt_cf(result: Result<()>) -> (&'static str, String, String) {
    match result {
        Err(StorageError::Corrupt { cf, key, reason }) => (cf, key, reason),
        other => panic!("expected corruption, got {other:?}"),
    }
}

#[test]
fn events_are_stored_once_and_receipts_stored_with_them_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let (storage, _, decided) = build_chain(dir.path(), 3);
    let height = Height(2);
    let receipts = decided[1].outcome.receipts.clone();
    let (index, with_events) = receipts
        .iter()
        .enumerate()
        .find(|(_, r)| !r.events.is_empty())
        .unwrap();
    let index = index as u32;
    let key = keys::receipt(height, index);
    // Stored without its events: they are in `events` alone.
    let stored = storage.get(keys::RECEIPTS, &key).unwrap().unwrap();
    let decoded: Receipt = codec::decode("receipt", &stored, MAX_RECEIPT_BYTES).unwrap();
    assert!(decoded.events.is_empty());
    // A receipt written with its events inside (older databases) reads as it was,
    // its events not doubled.
    storage.put_raw(keys::RECEIPTS, &key, Some(&codec::encode(with_events)));
    assert_eq!(storage.receipts(height).unwrap(), receipts);
    assert_eq!(
        storage.receipt(height, index).unwrap().as_ref(),
        Some(with_events)
    );
    // An event numbered out of order, or of a receipt that is not stored, is corruption.
    storage.put_raw(keys::RECEIPTS, &key, Some(&stored));
    let first = keys::event(height, index, 0);
    let event = storage.get(keys::EVENTS, &first).unwrap().unwrap();
    storage.put_raw(keys::EVENTS, &first, None);
    storage.put_raw(keys::EVENTS, &keys::event(height, index, 7), Some(&event));
    let (cf, _, reason) = corrupt_cf(storage.receipts(height).map(drop));
    assert_eq!(cf, "events");
    assert!(reason.contains("event 7"), "{reason}");
    storage.put_raw(keys::EVENTS, &keys::event(height, index, 7), None);
    storage.put_raw(keys::EVENTS, &keys::event(height, 900, 0), Some(&event));
    let (_, _, reason) = corrupt_cf(storage.receipts(height).map(drop));
    assert!(reason.contains("receipt 900"), "{reason}");
}

#[test]
fn twenty_blocks_read_back_identically_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (storage, chain, decided) = build_chain(dir.path(), 20);
    let last = decided.last().unwrap();
    drop(storage);

    let storage = Storage::open(dir.path()).unwrap();
    storage
        .check_chain(&genesis().chain_id, genesis_hash())
        .unwrap();
    let head = storage.check_consistency().unwrap();
    assert_eq!(
        head,
        Head {
            height: Height(20),
            hash: last.block.hash(),
            state_root: last.block.header.state_root,
        }
    );
    assert_eq!(storage.head().unwrap(), Some(head));

    // The state after reopening is the state the last header commits to.
    let store = storage.state_store();
    assert_eq!(StateView::new(&store).root().unwrap(), head.state_root);
    assert_eq!(recompute_root(&store).unwrap(), head.state_root);
    assert_eq!(chain.root, head.state_root);
    let mut on_disk = Vec::new();
    store
        .scan_prefix(&[], &mut |k, v| {
            on_disk.push((k.to_vec(), v.to_vec()));
            ControlFlow::Continue(())
        })
        .unwrap();
    let in_memory: Vec<_> = chain
        .store
        .iter()
        .map(|(k, v)| (k.to_vec(), v.to_vec()))
        .collect();
    assert_eq!(on_disk, in_memory);

    let mut expected_events = Vec::new();
    let mut first_location: BTreeMap<Hash, (Height, u32)> = BTreeMap::new();
    for decided in &decided {
        let block = &decided.block;
        let height = block.header.height;
        assert_eq!(
            storage.header(height).unwrap().as_ref(),
            Some(&block.header)
        );
        assert_eq!(storage.block(height).unwrap().as_ref(), Some(block));
        assert_eq!(
            storage.block_by_hash(&block.hash()).unwrap().as_ref(),
            Some(block)
        );
        assert_eq!(storage.block_height(&block.hash()).unwrap(), Some(height));
        assert_eq!(
            storage.certificate(height).unwrap().as_ref(),
            Some(&decided.certificate)
        );
        assert_eq!(storage.receipts(height).unwrap(), decided.outcome.receipts);
        for (index, tx) in block.transactions.iter().enumerate() {
            first_location
                .entry(tx.hash())
                .or_insert((height, index as u32));
        }
        for (r, receipt) in decided.outcome.receipts.iter().enumerate() {
            assert_eq!(
                storage.receipt(height, r as u32).unwrap().as_ref(),
                Some(receipt)
            );
            for (e, event) in receipt.events.iter().enumerate() {
                let cursor = EventCursor {
                    height,
                    receipt: r as u32,
                    event: e as u32,
                };
                expected_events.push((cursor, event.clone()));
            }
        }
    }
    for (hash, location) in &first_location {
        assert_eq!(storage.transaction(hash).unwrap(), Some(*location));
    }
    // The repeated transaction of block 8 is indexed where it first appeared.
    let repeated = &decided[7].block.transactions;
    assert_eq!(repeated[0].hash(), repeated[2].hash());
    assert_eq!(
        storage.transaction(&repeated[0].hash()).unwrap(),
        Some((Height(8), 0))
    );
    assert_eq!(storage.receipts(Height(21)).unwrap(), Vec::new());
    assert_eq!(storage.header(Height(21)).unwrap(), None);
    assert_eq!(storage.block_by_hash(&Hash::ZERO).unwrap(), None);
    assert_eq!(storage.transaction(&Hash::ZERO).unwrap(), None);

    // Events: all at once, and page by page from cursors, in chain order.
    assert!(expected_events.len() > 20, "{}", expected_events.len());
    assert_eq!(
        storage.events_after(None, usize::MAX).unwrap(),
        expected_events
    );
    let mut paged = Vec::new();
    let mut cursor = None;
    loop {
        let page = storage.events_after(cursor, 7).unwrap();
        assert!(page.len() <= 7);
        let Some((last, _)) = page.last() else { break };
        cursor = Some(*last);
        paged.extend(page);
    }
    assert_eq!(paged, expected_events);
    assert_eq!(storage.events_after(None, 0).unwrap(), Vec::new());
    // A cursor that is not an event's own position resumes after it.
    let middle = expected_events[10].0;
    let between = EventCursor {
        event: middle.event + 1000,
        ..middle
    };
    let resumed = storage.events_after(Some(between), 3).unwrap();
    assert!(resumed.iter().all(|(c, _)| *c > between));
    assert_eq!(
        resumed,
        expected_events
            .iter()
            .filter(|(c, _)| *c > between)
            .take(3)
            .cloned()
            .collect::<Vec<_>>()
    );

    // Reopened, the chain continues.
    let mut chain = chain;
    let block = next_block(&storage, &mut chain, Vec::new());
    commit(&storage, &block);
    assert_eq!(storage.check_consistency().unwrap().height, Height(21));
}

#[test]
fn refused_commits_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (storage, mut chain, decided) = build_chain(dir.path(), 2);
    let txs = transactions(&mut chain, 3);
    let good = next_block(&storage, &mut chain, txs);
    let before = storage.dump();

    let refuse = |decided: &Decided| {
        let err = storage
            .commit_block(&decided.block, &decided.certificate, &decided.outcome)
            .unwrap_err();
        assert_eq!(storage.dump(), before, "a refused commit wrote: {err}");
        err
    };

    let mut skipped = good.clone();
    skipped.block.header.height = Height(4);
    assert!(matches!(
        refuse(&skipped),
        StorageError::WrongHeight {
            expected: Height(3),
            found: Height(4)
        }
    ));
    assert!(matches!(
        refuse(&decided[1]),
        StorageError::WrongHeight {
            expected: Height(3),
            found: Height(2)
        }
    ));

    let mut orphan = good.clone();
    orphan.block.header.parent_hash = decided[0].block.hash();
    let err = refuse(&orphan);
    assert!(
        matches!(&err, StorageError::WrongParent { height: Height(3), expected, found }
            if *expected == decided[1].block.hash() && *found == decided[0].block.hash()),
        "{err}"
    );

    let mut foreign = good.clone();
    foreign.block.header.chain_id = ChainId::new("another-chain").unwrap();
    foreign.certificate.block_hash = foreign.block.hash();
    let err = refuse(&foreign);
    assert!(err.to_string().contains("chain id"), "{err}");

    let mut other_certificate = good.clone();
    other_certificate.certificate = decided[1].certificate.clone();
    let err = refuse(&other_certificate);
    assert!(
        err.to_string().contains("the certificate's height"),
        "{err}"
    );
    let mut other_block = good.clone();
    other_block.certificate.block_hash = Hash::ZERO;
    let err = refuse(&other_block);
    assert!(
        err.to_string().contains("the certificate's block hash"),
        "{err}"
    );

    let mut wrong_root = good.clone();
    wrong_root.outcome.state_root = Hash::ZERO;
    let err = refuse(&wrong_root);
    assert!(err.to_string().contains("executed state root"), "{err}");
    let mut missing_receipt = good.clone();
    missing_receipt.outcome.receipts.pop();
    let err = refuse(&missing_receipt);
    assert!(err.to_string().contains("number of receipts"), "{err}");

    commit(&storage, &good);
    assert_ne!(storage.dump(), before);
    assert_eq!(storage.check_consistency().unwrap().height, Height(3));

    // Nothing can be committed before genesis.
    let empty = tempfile::tempdir().unwrap();
    let fresh = Storage::open(empty.path()).unwrap();
    assert!(matches!(
        fresh.commit_block(&good.block, &good.certificate, &good.outcome),
        Err(StorageError::NotInitialised { .. })
    ));
    assert!(fresh.dump().is_empty());
}

#[test]
fn genesis_is_written_once_for_one_chain() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(dir.path()).unwrap();
    assert_eq!(storage.head().unwrap(), None);
    assert_eq!(storage.chain().unwrap(), None);
    assert!(matches!(
        storage.check_chain(&genesis().chain_id, genesis_hash()),
        Err(StorageError::NotInitialised { .. })
    ));
    assert!(matches!(
        storage.check_consistency(),
        Err(StorageError::NotInitialised { .. })
    ));

    let genesis = genesis();
    let commit = genesis.build(&storage.state_store()).unwrap();
    let err = storage
        .init_genesis(&genesis.chain_id, genesis_hash(), &commit.batch, Hash::ZERO)
        .unwrap_err();
    assert!(matches!(err, StorageError::InvalidGenesis { .. }), "{err}");
    assert!(storage.dump().is_empty(), "a refused genesis wrote");

    storage
        .init_genesis(
            &genesis.chain_id,
            genesis_hash(),
            &commit.batch,
            commit.root,
        )
        .unwrap();
    let head = storage.check_consistency().unwrap();
    assert_eq!(
        head,
        Head {
            height: Height(0),
            hash: genesis_hash(),
            state_root: commit.root,
        }
    );
    assert_eq!(
        storage.chain().unwrap(),
        Some(ChainIdentity {
            chain_id: genesis.chain_id.clone(),
            genesis_hash: genesis_hash(),
        })
    );
    storage
        .check_chain(&genesis.chain_id, genesis_hash())
        .unwrap();

    let err = storage
        .init_genesis(
            &genesis.chain_id,
            genesis_hash(),
            &commit.batch,
            commit.root,
        )
        .unwrap_err();
    assert!(
        matches!(err, StorageError::AlreadyInitialised { .. }),
        "{err}"
    );

    let other_genesis = Hash::digest(Domain::GENESIS, b"another spec");
    let err = storage
        .check_chain(&genesis.chain_id, other_genesis)
        .unwrap_err();
    assert!(matches!(err, StorageError::WrongChain { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains(&genesis_hash().to_string())
            && message.contains(&other_genesis.to_string())
            && message.contains(&dir.path().display().to_string()),
        "{message}"
    );
    let other_chain = ChainId::new("other").unwrap();
    assert!(matches!(
        storage.check_chain(&other_chain, genesis_hash()),
        Err(StorageError::WrongChain { .. })
    ));
}

#[test]
fn a_locked_or_unusable_directory_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let _running = Storage::open(dir.path()).unwrap();
    let err = Storage::open(dir.path()).unwrap_err();
    assert!(matches!(err, StorageError::Locked { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains(&dir.path().display().to_string())
            && message.contains("stop the other accord node"),
        "{message}"
    );

    let file = dir.path().join("a-file");
    fs::write(&file, b"not a directory").unwrap();
    let err = Storage::open(&file).unwrap_err();
    assert!(matches!(err, StorageError::Open { .. }), "{err}");
    assert!(err.to_string().contains("a-file"), "{err}");
}

/// The first application value in the state, raw key and value.
fn some_state_value(storage: &Storage) -> (Vec<u8>, Vec<u8>) {
    let mut found = None;
    storage
        .state_store()
        .scan_prefix(&[VALUE_PREFIX], &mut |k, v| {
            found = Some((k.to_vec(), v.to_vec()));
            ControlFlow::Break(())
        })
        .unwrap();
    found.unwrap()
}

#[test]
fn consistency_check_names_what_disagrees() {
    let dir = tempfile::tempdir().unwrap();
    let (storage, _chain, decided) = build_chain(dir.path(), 3);
    let head = storage.check_consistency().unwrap();
    let hash = decided[2].block.hash();
    let detail = |storage: &Storage| match storage.check_consistency() {
        Err(StorageError::Inconsistent { detail, .. }) => detail,
        other => panic!("expected an inconsistency, got {other:?}"),
    };

    // A changed state value.
    let (key, value) = some_state_value(&storage);
    let mut changed = value.clone();
    changed.push(0);
    storage.put_raw(keys::STATE, &key, Some(&changed));
    let found = detail(&storage);
    assert!(
        found.contains("state values hash to root")
            && found.contains("height 3")
            && found.contains(&hash.to_string())
            && found.contains(&head.state_root.to_string()),
        "{found}"
    );
    // A lost one.
    storage.put_raw(keys::STATE, &key, None);
    assert!(detail(&storage).contains("changed or lost"));
    storage.put_raw(keys::STATE, &key, Some(&value));
    assert_eq!(storage.check_consistency().unwrap(), head);

    // A changed stored root.
    let other_root = Hash::digest(Domain::new("test"), b"root");
    storage.put_raw(keys::STATE, ROOT_KEY, Some(other_root.as_bytes()));
    let found = detail(&storage);
    assert!(
        found.contains(&format!("stored root is {other_root}"))
            && found.contains(&format!("records state root {}", head.state_root)),
        "{found}"
    );
    storage.put_raw(keys::STATE, ROOT_KEY, Some(head.state_root.as_bytes()));

    // A missing certificate.
    let certificate = storage.certificate(Height(3)).unwrap().unwrap();
    storage.put_raw(keys::CERTIFICATES, &keys::height(Height(3)), None);
    let found = detail(&storage);
    assert_eq!(
        found,
        format!("no commit certificate is stored for the head block {hash} at height 3")
    );
    storage.put_raw(
        keys::CERTIFICATES,
        &keys::height(Height(3)),
        Some(&codec::encode(&decided[1].certificate)),
    );
    let found = detail(&storage);
    assert!(
        found.contains(&format!(
            "decides block {} at height 2",
            decided[1].block.hash()
        )),
        "{found}"
    );
    storage.put_raw(
        keys::CERTIFICATES,
        &keys::height(Height(3)),
        Some(&codec::encode(&certificate)),
    );

    // A head that names another block, and a header above the head.
    let wrong_head = Head {
        hash: decided[1].block.hash(),
        ..head
    };
    storage.put_raw(
        keys::META,
        keys::META_HEAD,
        Some(&codec::encode(&wrong_head)),
    );
    let found = detail(&storage);
    assert!(
        found.contains(&format!("the header stored at height 3 is block {hash}")),
        "{found}"
    );
    storage.put_raw(keys::META, keys::META_HEAD, Some(&codec::encode(&head)));
    storage.put_raw(
        keys::HEADERS,
        &keys::height(Height(4)),
        Some(&codec::encode(&decided[0].block.header)),
    );
    assert_eq!(
        detail(&storage),
        "a header is stored at height 4, above the head at height 3"
    );
    storage.put_raw(keys::HEADERS, &keys::height(Height(4)), None);
    assert_eq!(storage.check_consistency().unwrap(), head);

    let message = StorageError::Inconsistent {
        path: dir.path().to_path_buf(),
        detail: "x".into(),
    }
    .to_string();
    assert!(message.contains("will not run"), "{message}");
}

#[test]
fn garbage_values_are_corruption_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let (storage, _chain, decided) = build_chain(dir.path(), 2);
    let one = keys::height(Height(1));
    let hash = decided[0].block.hash();
    let garbage: &[u8] = &[0xff, 0xff, 0xff, 0xff, 0x01, 0x02];

    storage.put_raw(keys::HEADERS, &one, Some(garbage));
    let (cf, key, _) = corrupt_cf(storage.header(Height(1)).map(drop));
    assert_eq!((cf, key.as_str()), ("headers", "0x0000000000000001"));

    storage.put_raw(keys::BLOCKS, &one, Some(garbage));
    assert_eq!(corrupt_cf(storage.block(Height(1)).map(drop)).0, "blocks");
    assert_eq!(
        corrupt_cf(storage.block_by_hash(&hash).map(drop)).0,
        "blocks"
    );
    storage.put_raw(keys::BLOCK_HASHES, hash.as_bytes(), Some(b"short"));
    assert_eq!(
        corrupt_cf(storage.block_by_hash(&hash).map(drop)).0,
        "block_hashes"
    );

    let mut trailing = codec::encode(&decided[0].certificate);
    trailing.push(0);
    storage.put_raw(keys::CERTIFICATES, &one, Some(&trailing));
    let (cf, _, reason) = corrupt_cf(storage.certificate(Height(1)).map(drop));
    assert_eq!(cf, "certificates");
    assert!(reason.contains("trailing"), "{reason}");

    storage.put_raw(keys::RECEIPTS, &keys::receipt(Height(1), 0), Some(garbage));
    assert_eq!(
        corrupt_cf(storage.receipts(Height(1)).map(drop)).0,
        "receipts"
    );
    storage.put_raw(
        keys::RECEIPTS,
        &keys::receipt(Height(2), 7),
        Some(&codec::encode(&decided[1].outcome.receipts[0])),
    );
    let (_, _, reason) = corrupt_cf(storage.receipts(Height(2)).map(drop));
    assert!(reason.contains("receipt"), "{reason}");

    let tx = decided[0].block.transactions[0].hash();
    storage.put_raw(keys::TX_INDEX, tx.as_bytes(), Some(garbage));
    assert_eq!(corrupt_cf(storage.transaction(&tx).map(drop)).0, "tx_index");

    storage.put_raw(keys::EVENTS, &keys::event(Height(1), 0, 0), Some(garbage));
    assert_eq!(
        corrupt_cf(storage.events_after(None, 10).map(drop)).0,
        "events"
    );
    storage.put_raw(keys::EVENTS, &keys::event(Height(1), 0, 0), None);
    storage.put_raw(keys::EVENTS, b"\x00\x00", Some(garbage));
    let (_, key, _) = corrupt_cf(storage.events_after(None, 10).map(drop));
    assert_eq!(key, "0x0000");

    // An invalid chain id label, and a head that does not decode.
    storage.put_raw(
        keys::META,
        keys::META_CHAIN_ID,
        Some(&codec::encode("UPPER")),
    );
    assert_eq!(corrupt_cf(storage.chain().map(drop)).0, "meta");
    storage.put_raw(keys::META, keys::META_HEAD, Some(garbage));
    assert_eq!(corrupt_cf(storage.head().map(drop)).0, "meta");
    assert_eq!(corrupt_cf(storage.check_consistency().map(drop)).0, "meta");
    assert!(storage.check_consistency().unwrap_err().is_corruption());
}

#[test]
fn a_bad_state_root_entry_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let (storage, _chain, _) = build_chain(dir.path(), 1);
    storage.put_raw(keys::STATE, ROOT_KEY, Some(b"12345"));
    match storage.check_consistency() {
        Err(StorageError::Corrupt { cf, reason, .. }) => {
            assert_eq!(cf, "state");
            assert!(reason.contains("expected 32"), "{reason}");
        }
        other => panic!("expected corruption, got {other:?}"),
    }
}

/// Batches of operations: key, and value (`None` deletes).
type Batches = Vec<Vec<(Vec<u8>, Option<Vec<u8>>)>>;

/// Raw operations: keys from a small alphabet so that prefixes overlap and 0xff edges
/// occur; empty keys and values included.
fn raw_batches() -> impl Strategy<Value = Batches> {
    let key = prop::collection::vec(prop::sample::select(vec![0u8, 1, 2, 0xfe, 0xff]), 0..4);
    let value = prop::option::weighted(0.8, prop::collection::vec(any::<u8>(), 0..6));
    prop::collection::vec(prop::collection::vec((key, value), 0..12), 1..5)
}

/// Application writes for the authenticated layer.
fn app_batches() -> impl Strategy<Value = Batches> {
    let key = prop::collection::vec(0u8..4, 1..4);
    let value = prop::option::weighted(0.75, prop::collection::vec(any::<u8>(), 1..8));
    prop::collection::vec(prop::collection::vec((key, value), 1..24), 1..5)
}

fn scan(store: &dyn StateStore, prefix: &[u8], stop_after: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut seen = Vec::new();
    store
        .scan_prefix(prefix, &mut |k, v| {
            seen.push((k.to_vec(), v.to_vec()));
            if seen.len() >= stop_after {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
    seen
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn rocks_state_behaves_like_mem_store(raw in raw_batches(), app in app_batches()) {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path()).unwrap();
        let mut rocks = storage.state_store();
        let mut mem = MemStore::new();
        let prefixes: [&[u8]; 7] = [&[], &[0], &[1], &[0xff], &[0xff, 0xff], &[0, 1], &[2, 0xfe]];

        // Raw keys and values, straight through the store contract.
        let mut keys_seen = Vec::new();
        for ops in raw {
            keys_seen.extend(ops.iter().map(|(k, _)| k.clone()));
            let batch: WriteBatch = ops.into_iter().collect();
            rocks.write(&batch).unwrap();
            mem.write(&batch).unwrap();
            for key in &keys_seen {
                prop_assert_eq!(rocks.get(key).unwrap(), mem.get(key).unwrap());
            }
            for prefix in prefixes {
                prop_assert_eq!(scan(&rocks, prefix, usize::MAX), scan(&mem, prefix, usize::MAX));
                prop_assert_eq!(scan(&rocks, prefix, 2), scan(&mem, prefix, 2));
            }
        }

        // The authenticated state over each store: same commits, same roots.
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path()).unwrap();
        let mut rocks = storage.state_store();
        let mut mem = MemStore::new();
        for ops in app {
            let commit_over = |store: &dyn StateStore| {
                let mut overlay = Overlay::new(StateView::new(store));
                for (key, value) in &ops {
                    match value {
                        Some(value) => overlay.put(key.clone(), value.clone()),
                        None => overlay.delete(key.clone()),
                    }
                }
                overlay.commit().unwrap()
            };
            let on_rocks = commit_over(&rocks);
            let in_memory = commit_over(&mem);
            prop_assert_eq!(on_rocks.root, in_memory.root);
            prop_assert_eq!(&on_rocks.batch, &in_memory.batch);
            rocks.write(&on_rocks.batch).unwrap();
            mem.write(&in_memory.batch).unwrap();
            prop_assert_eq!(StateView::new(&rocks).root().unwrap(), in_memory.root);
            prop_assert_eq!(recompute_root(&rocks).unwrap(), in_memory.root);
            prop_assert_eq!(recompute_root(&mem).unwrap(), in_memory.root);
            prop_assert_eq!(scan(&rocks, &[], usize::MAX), scan(&mem, &[], usize::MAX));
        }
    }
}

#[test]
fn storage_and_state_are_shared_across_threads() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<Storage>();
    shareable::<RocksState>();

    let dir = tempfile::tempdir().unwrap();
    let (storage, _chain, decided) = build_chain(dir.path(), 1);
    let storage = Arc::new(storage);
    let hash = decided[0].block.hash();
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let storage = Arc::clone(&storage);
            std::thread::spawn(move || storage.block_by_hash(&hash).unwrap().map(|b| b.hash()))
        })
        .collect();
    for reader in readers {
        assert_eq!(reader.join().unwrap(), Some(hash));
    }
}

proptest! {
    #[test]
    fn event_keys_sort_like_cursors(
        a in (any::<u64>(), any::<u32>(), any::<u32>()),
        b in (any::<u64>(), any::<u32>(), any::<u32>()),
    ) {
        let cursor = |(height, receipt, event): (u64, u32, u32)| EventCursor {
            height: Height(height),
            receipt,
            event,
        };
        let (a, b) = (cursor(a), cursor(b));
        let key = |c: EventCursor| keys::event(c.height, c.receipt, c.event);
        prop_assert_eq!(a.cmp(&b), key(a).cmp(&key(b)));
        prop_assert_eq!(keys::parse_event(&key(a)), Some((a.height, a.receipt, a.event)));
        // The cursor's text form reads back to itself.
        prop_assert_eq!(a.to_string().parse::<EventCursor>(), Ok(a));
        let receipt = keys::receipt(a.height, a.receipt);
        prop_assert_eq!(keys::parse_receipt(&receipt), Some((a.height, a.receipt)));
        prop_assert_eq!(
            (a.height, a.receipt).cmp(&(b.height, b.receipt)),
            receipt.cmp(&keys::receipt(b.height, b.receipt))
        );
    }
}

fn dump(store: &dyn StateStore) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut entries = Vec::new();
    store
        .scan_prefix(&[], &mut |k, v| {
            entries.push((k.to_vec(), v.to_vec()));
            ControlFlow::Continue(())
        })
        .unwrap();
    entries
}

#[test]
fn a_state_snapshot_keeps_its_moment_across_commits() {
    let dir = tempfile::tempdir().unwrap();
    let (storage, mut chain, decided) = build_chain(dir.path(), 3);
    let root_then = decided.last().unwrap().block.header.state_root;
    let mut snapshot = storage.state_snapshot();
    let entries_then = dump(&snapshot);

    for n in 4..=6 {
        let txs = transactions(&mut chain, n);
        let block = next_block(&storage, &mut chain, txs);
        commit(&storage, &block);
    }
    let live = storage.state_store();
    let root_now = StateView::new(&live).root().unwrap();
    assert_ne!(root_now, root_then, "the later blocks changed the state");
    assert_ne!(dump(&live), entries_then);

    // The snapshot still reads the state of block 3, key by key and by scan.
    assert_eq!(StateView::new(&snapshot).root().unwrap(), root_then);
    assert_eq!(recompute_root(&snapshot).unwrap(), root_then);
    assert_eq!(dump(&snapshot), entries_then);
    for (key, value) in entries_then.iter().take(50) {
        assert_eq!(snapshot.get(key).unwrap().as_ref(), Some(value));
    }
    // And it writes nothing.
    let mut batch = WriteBatch::new();
    batch.put(b"x".to_vec(), b"y".to_vec());
    assert!(snapshot.write(&batch).is_err());
    assert_eq!(live.get(b"x").unwrap(), None);
}

mod delivery;
