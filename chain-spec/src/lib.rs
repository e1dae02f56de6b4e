//! Genesis configuration of an accord chain: regions, validators, roles, governance and consensus parameters, presets and validation.
//!
//! # Design
//!
//! A chain spec is read in two stages, so that an operator sees every mistake in one
//! run instead of fixing them one at a time:
//!
//! ```text
//!   JSON text
//!      │ stage 1: serde into raw structs (deny_unknown_fields), keys, ids, times and
//!      │          fractions kept as text; via serde_path_to_error
//!      │          ──> Error::Syntax { path, line, column, message }   (first error only)
//!      ▼
//!   RawChainSpec
//!      │ stage 2: parse every value and check every rule, collecting all problems
//!      │          ──> Error::Invalid { problems: [Problem { path, message }, …] }
//!      ▼
//!   ChainSpec (typed, validated) ──> genesis_hash(), validator_set(), voters(), …
//! ```
//!
//! A [`ChainSpec`] exists only validated: it comes from [`ChainSpec::from_json`], from
//! [`preset`], or from borsh decoding, each of which runs stage 2, and its fields are
//! read through accessors. Its JSON form is written through the raw structs, so what
//! [`ChainSpec::to_json_pretty`] writes is exactly what [`ChainSpec::from_json`] reads.
//!
//! The genesis hash is blake3 over the borsh encoding of the spec in the genesis
//! domain. Lists keep their spec order, so the hash is deterministic, and any change
//! — a field, or the order of validators or accounts — gives another chain.
//!
//! Names of validators, observers and accounts share one namespace (they name key
//! files), and p2p keys of validators and observers share another (they name peers).
#![cfg_attr(
    not(test),
    warn(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod error;
mod preset;
mod raw;
mod spec;
mod time;
mod validate;

pub use error::{Error, Problem, Result};
pub use preset::{
    bench, default_consensus, default_governance, localnet, preset, preset_key, public_preset,
    KeyPurpose, NamedKey, Preset, BENCH_VOTERS_PER_REGION, BENCH_VOTING_PERIOD, LOCALNET_REGIONS,
    MAX_LOCALNET_VALIDATORS, PRESET_GENESIS_TIME, PRESET_NAMES,
};
pub use spec::{Account, ChainSpec, GenesisValidator, Observer};
pub use validate::{MAX_NAME_LEN, MIN_BLOCK_BYTES};
