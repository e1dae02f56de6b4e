//! Reads through an overlay agree with a model of layered maps: gets, merged scans
//! (with early stops), nested layers committed and reverted, and the final commit.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use accord_state::{Error, MemStore, Overlay, StateStore, StateView};
use proptest::prelude::*;

use crate::common::{key, model, reference_root, store_of, stored_values, value, Model};

#[derive(Debug, Clone)]
enum Step {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    Begin,
    CommitLayer,
    RevertLayer,
    Get(Vec<u8>),
    Scan {
        prefix: Vec<u8>,
        stop_after: Option<usize>,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (key(), value()).prop_map(|(k, v)| Step::Put(k, v)),
        4 => key().prop_map(Step::Delete),
        2 => Just(Step::Begin),
        1 => Just(Step::CommitLayer),
        1 => Just(Step::RevertLayer),
        3 => key().prop_map(Step::Get),
        2 => (proptest::collection::vec(0u8..3, 0..2), proptest::option::of(0usize..6))
            .prop_map(|(prefix, stop_after)| Step::Scan { prefix, stop_after }),
    ]
}

fn scan(
    f: impl Fn(&[u8], &mut dyn FnMut(&[u8], &[u8]) -> ControlFlow<()>),
    prefix: &[u8],
    stop_after: Option<usize>,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut seen = Vec::new();
    f(prefix, &mut |k, v| {
        seen.push((k.to_vec(), v.to_vec()));
        match stop_after {
            Some(n) if seen.len() > n => ControlFlow::Break(()),
            _ => ControlFlow::Continue(()),
        }
    });
    seen
}

fn model_scan(model: &Model, prefix: &[u8], stop_after: Option<usize>) -> Vec<(Vec<u8>, Vec<u8>)> {
    let all = model
        .iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .map(|(k, v)| (k.clone(), v.clone()));
    match stop_after {
        Some(n) => all.take(n + 1).collect(),
        None => all.collect(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    #[test]
    fn overlay_reads_match_the_model(initial in model(30), steps in proptest::collection::vec(step(), 0..80)) {
        let mut store = store_of(&initial);
        let mut overlay = Overlay::new(StateView::new(&store));
        // Full states: the stored one, then one per layer (base and nested).
        let mut layers: Vec<Model> = vec![initial.clone()];
        let mut touched: Vec<BTreeMap<Vec<u8>, ()>> = vec![BTreeMap::new()];
        for step in &steps {
            match step {
                Step::Put(k, v) => {
                    overlay.put(k.clone(), v.clone());
                    layers.last_mut().unwrap().insert(k.clone(), v.clone());
                    touched.last_mut().unwrap().insert(k.clone(), ());
                }
                Step::Delete(k) => {
                    overlay.delete(k.clone());
                    layers.last_mut().unwrap().remove(k);
                    touched.last_mut().unwrap().insert(k.clone(), ());
                }
                Step::Begin => {
                    overlay.begin_layer();
                    layers.push(layers.last().unwrap().clone());
                    touched.push(touched.last().unwrap().clone());
                }
                Step::CommitLayer => {
                    if layers.len() > 1 {
                        overlay.commit_layer().unwrap();
                        let top = layers.pop().unwrap();
                        *layers.last_mut().unwrap() = top;
                        let top = touched.pop().unwrap();
                        *touched.last_mut().unwrap() = top;
                    } else {
                        prop_assert!(matches!(overlay.commit_layer(), Err(Error::NoOpenLayer { .. })), "commit_layer with no layer");
                    }
                }
                Step::RevertLayer => {
                    if layers.len() > 1 {
                        overlay.revert_layer().unwrap();
                        layers.pop();
                        touched.pop();
                    } else {
                        prop_assert!(matches!(overlay.revert_layer(), Err(Error::NoOpenLayer { .. })), "revert_layer with no layer");
                    }
                }
                Step::Get(k) => {
                    prop_assert_eq!(overlay.get(k).unwrap(), layers.last().unwrap().get(k).cloned());
                }
                Step::Scan { prefix, stop_after } => {
                    let got = scan(|p, f| overlay.scan_prefix(p, f).unwrap(), prefix, *stop_after);
                    prop_assert_eq!(got, model_scan(layers.last().unwrap(), prefix, *stop_after));
                }
            }
            prop_assert_eq!(overlay.open_layers(), layers.len() - 1);
            prop_assert_eq!(overlay.touched(), touched.last().unwrap().len());
        }
        // The view under the overlay is untouched by its writes.
        let view = StateView::new(&store);
        prop_assert_eq!(
            scan(|p, f| view.scan_prefix(p, f).unwrap(), b"", None),
            model_scan(&initial, b"", None)
        );
        // Commit folds every open layer.
        let expected = layers.last().unwrap().clone();
        let commit = overlay.commit().unwrap();
        prop_assert_eq!(commit.root, reference_root(&expected));
        prop_assert_eq!(commit.touched, touched.last().unwrap().len());
        store.write(&commit.batch).unwrap();
        prop_assert_eq!(stored_values(&store), expected);
    }
}

#[test]
fn layer_calls_without_an_open_layer_fail() {
    let store = MemStore::new();
    let mut overlay = Overlay::new(StateView::new(&store));
    assert_eq!(
        overlay.commit_layer(),
        Err(Error::NoOpenLayer {
            operation: "commit"
        })
    );
    assert_eq!(
        overlay.revert_layer(),
        Err(Error::NoOpenLayer {
            operation: "revert"
        })
    );
    overlay.begin_layer();
    overlay.put(b"a".to_vec(), b"1".to_vec());
    overlay.begin_layer();
    overlay.delete(b"a".to_vec());
    assert_eq!(overlay.get(b"a").unwrap(), None);
    overlay.revert_layer().unwrap();
    assert_eq!(overlay.get(b"a").unwrap(), Some(b"1".to_vec()));
    overlay.commit_layer().unwrap();
    assert_eq!(overlay.get(b"a").unwrap(), Some(b"1".to_vec()));
    assert_eq!(overlay.touched(), 1);
}

/// A scan that stops inside the stored entries does not go on with the overlay's.
#[test]
fn scan_stops_where_the_callback_breaks() {
    let store = store_of(&Model::from([
        (b"a1".to_vec(), b"s".to_vec()),
        (b"a3".to_vec(), b"s".to_vec()),
    ]));
    let mut overlay = Overlay::new(StateView::new(&store));
    overlay.put(b"a2".to_vec(), b"o".to_vec());
    overlay.put(b"a4".to_vec(), b"o".to_vec());
    overlay.delete(b"a3".to_vec());
    let keys = |stop: Option<usize>| -> Vec<Vec<u8>> {
        scan(|p, f| overlay.scan_prefix(p, f).unwrap(), b"a", stop)
            .into_iter()
            .map(|(k, _)| k)
            .collect()
    };
    assert_eq!(
        keys(None),
        vec![b"a1".to_vec(), b"a2".to_vec(), b"a4".to_vec()]
    );
    assert_eq!(keys(Some(0)), vec![b"a1".to_vec()]);
    assert_eq!(keys(Some(1)), vec![b"a1".to_vec(), b"a2".to_vec()]);
}
