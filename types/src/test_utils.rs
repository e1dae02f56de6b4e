//! Proptest strategies for types whose values must satisfy invariants, and fixtures
//! for other crates' tests (behind the `test-utils` feature).

use proptest::prelude::*;

use crate::validator::{QuorumRule, Validator, ValidatorSet};
use crate::{ChainId, Error, Hash, Keypair, PublicKey, RegionId, Signature};

impl Arbitrary for RegionId {
    type Parameters = ();
    type Strategy = BoxedStrategy<Self>;
    fn arbitrary_with((): ()) -> Self::Strategy {
        "[a-z][a-z0-9_-]{0,31}"
            .prop_filter_map("valid region", |s| Self::new(s).ok())
            .boxed()
    }
}

impl Arbitrary for ChainId {
    type Parameters = ();
    type Strategy = BoxedStrategy<Self>;
    fn arbitrary_with((): ()) -> Self::Strategy {
        "[a-z][a-z0-9_-]{0,63}"
            .prop_filter_map("valid chain id", |s| Self::new(s).ok())
            .boxed()
    }
}

impl Arbitrary for Hash {
    type Parameters = ();
    type Strategy = BoxedStrategy<Self>;
    fn arbitrary_with((): ()) -> Self::Strategy {
        any::<[u8; 32]>().prop_map(Hash::from_bytes).boxed()
    }
}

impl Arbitrary for PublicKey {
    type Parameters = ();
    type Strategy = BoxedStrategy<Self>;
    fn arbitrary_with((): ()) -> Self::Strategy {
        prop_oneof![
            any::<[u8; 32]>().prop_map(PublicKey::from_bytes),
            any::<[u8; 32]>().prop_map(|seed| Keypair::from_seed(&seed).public()),
        ]
        .boxed()
    }
}

impl Arbitrary for Signature {
    type Parameters = ();
    type Strategy = BoxedStrategy<Self>;
    fn arbitrary_with((): ()) -> Self::Strategy {
        (any::<[u8; 32]>(), any::<[u8; 32]>())
            .prop_map(|(r, s)| {
                let mut bytes = [0u8; 64];
                bytes[..32].copy_from_slice(&r);
                bytes[32..].copy_from_slice(&s);
                Signature::from_bytes(bytes)
            })
            .boxed()
    }
}

/// `n` deterministic keypairs, from `label`.
pub fn keypairs(label: &str, n: usize) -> Vec<Keypair> {
    (0..n)
        .map(|i| Keypair::derive_insecure(&format!("{label}/{i}")))
        .collect()
}

/// A validator set of the given keypairs with powers and regions.
pub fn validator_set(
    members: &[(&Keypair, &str, u64)],
    rule: QuorumRule,
) -> Result<ValidatorSet, Error> {
    let validators = members
        .iter()
        .enumerate()
        .map(|(i, (key, region, power))| {
            Ok(Validator {
                name: format!("v{i}"),
                region: RegionId::new(*region)?,
                key: key.public(),
                power: *power,
            })
        })
        .collect::<Result<_, Error>>()?;
    ValidatorSet::new(validators, rule)
}

impl Arbitrary for ValidatorSet {
    type Parameters = ();
    type Strategy = BoxedStrategy<Self>;
    fn arbitrary_with((): ()) -> Self::Strategy {
        (
            proptest::collection::btree_map(
                any::<PublicKey>(),
                (any::<RegionId>(), 1u64..1_000_000, ".{0,8}"),
                1..12,
            ),
            any::<QuorumRule>(),
        )
            .prop_filter_map("valid validator set", |(members, rule)| {
                let validators = members
                    .into_iter()
                    .map(|(key, (region, power, name))| Validator {
                        name,
                        region,
                        key,
                        power,
                    })
                    .collect();
                ValidatorSet::new(validators, rule).ok()
            })
            .boxed()
    }
}
