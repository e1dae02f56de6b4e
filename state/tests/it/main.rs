//! Integration tests of accord-state: one binary, one module per concern.

mod common;
mod corrupt;
mod determinism;
mod overlay;
mod proofs;
mod roots;
