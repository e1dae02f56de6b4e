//! Integration tests of accord-types: one binary, one module per concern.
//!
//! The library is linked with its `test-utils` feature (see the self
//! dev-dependency in `types/Cargo.toml`), which provides the `Arbitrary` derives
//! and the helpers in `accord_types::test_utils`.

mod blocks;
mod certificates;
mod roundtrip;
mod signatures;
mod strategies;
mod transactions;
