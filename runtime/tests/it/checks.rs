//! The pool-side check, genesis, and corrupt-state handling.

use accord_runtime::test_utils::{draft, genesis, key, pipeline, region, TestChain};
use accord_runtime::{check_transaction, execute_block, CheckContext, CheckError, Genesis};
use accord_state::{MemStore, StateStore, WriteBatch};
use accord_types::governance::VoteChoice;
use accord_types::{ErrorCode, Height, Nonce, Payload, Transaction};

fn check(chain: &TestChain, tx: &Transaction) -> Result<(), ErrorCode> {
    let ctx = CheckContext {
        chain_id: chain.chain_id.clone(),
        height: Height(chain.height.0 + 1),
        timestamp: chain.timestamp,
    };
    match check_transaction(&chain.store, &ctx, tx) {
        Ok(()) => Ok(()),
        Err(CheckError::Refused(e)) => Err(e.code),
        Err(CheckError::State(e)) => panic!("state error: {e}"),
    }
}

#[test]
fn check_transaction_judges_without_executing() {
    let mut chain = TestChain::new();
    let id = chain.submit("author", draft(&["eu"], pipeline(&[])));
    let root = chain.root;
    let vote = |r: &str| Payload::Vote {
        proposal: id,
        region: region(r),
        choice: VoteChoice::Yes,
    };
    let ok = chain.tx("eu-voter-1", vote("eu"));
    assert_eq!(check(&chain, &ok), Ok(()));
    // A later nonce is fine for the pool; an earlier one is stale.
    let later = Transaction::sign(
        &key("eu-voter-2"),
        chain.chain_id.clone(),
        Nonce(5),
        vote("eu"),
    );
    assert_eq!(check(&chain, &later), Ok(()));
    let stale = Transaction::sign(&key("author"), chain.chain_id.clone(), Nonce(0), vote("eu"));
    assert_eq!(check(&chain, &stale), Err(ErrorCode::BadNonce));
    let wrong_role = chain.tx("us-voter-1", vote("eu"));
    assert_eq!(check(&chain, &wrong_role), Err(ErrorCode::Unauthorized));
    let mut foreign = chain.tx("eu-voter-3", vote("eu"));
    foreign.chain_id = accord_types::ChainId::new("elsewhere").unwrap();
    assert_eq!(check(&chain, &foreign), Err(ErrorCode::WrongChain));
    assert_eq!(chain.root, root, "checks write nothing");
    assert_eq!(chain.query().state_root().unwrap(), root);
}

#[test]
fn genesis_is_deterministic_and_refuses_bad_input() {
    let store = MemStore::new();
    let a = genesis().build(&store).unwrap();
    let b = genesis().build(&store).unwrap();
    assert_eq!(a.root, b.root);
    assert_eq!(a.batch, b.batch);

    let mut bad: Genesis = genesis();
    bad.accounts
        .push((accord_types::PublicKey::from_bytes([0; 32]), vec![]));
    assert!(bad.build(&store).is_err(), "small-order account key");
    let mut bad = genesis();
    bad.accounts.push((
        key("x").public(),
        vec![accord_types::governance::Role::Voter(region("mars"))],
    ));
    assert!(bad.build(&store).unwrap_err().to_string().contains("mars"));
    let mut bad = genesis();
    bad.validators.clear();
    assert!(bad.build(&store).is_err());
}

#[test]
fn genesis_from_the_local_preset() {
    let preset = accord_chain_spec::preset("local").unwrap();
    let genesis = Genesis::from_spec(&preset.spec);
    let store = MemStore::new();
    let commit = genesis.build(&store).unwrap();
    assert_eq!(genesis.validators.len(), 4);
    assert_ne!(commit.root, accord_state::EMPTY_ROOT);
}

#[test]
fn corrupt_state_is_an_error_not_a_panic() {
    let mut chain = TestChain::new();
    let id = chain.submit("author", draft(&["eu"], pipeline(&[])));
    let mut store: MemStore = chain.store.clone();
    // Overwrite the proposal record with garbage through the authenticated layer.
    let mut overlay = accord_state::Overlay::new(accord_state::StateView::new(&store));
    overlay.put(accord_runtime::keys::proposal(id), vec![0xff; 3]);
    let commit = overlay.commit().unwrap();
    store.write(&commit.batch).unwrap();
    let vote = chain.tx(
        "eu-voter-1",
        Payload::Vote {
            proposal: id,
            region: region("eu"),
            choice: VoteChoice::Yes,
        },
    );
    let ctx = chain.context();
    let error = execute_block(&store, &ctx, &[vote]).unwrap_err();
    assert!(error.is_corruption(), "{error}");
    assert!(error.to_string().contains("proposal"), "{error}");
    // An empty store has no genesis.
    let empty = MemStore::new();
    let error = execute_block(&empty, &ctx, &[]).unwrap_err();
    assert!(error.to_string().contains("genesis"), "{error}");
    let _ = WriteBatch::new();
}
