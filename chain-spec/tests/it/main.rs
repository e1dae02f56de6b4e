//! Integration tests of the chain spec: presets, genesis hash, every validation rule,
//! structural errors, and robustness against arbitrary input.

mod common;
mod fuzz;
mod genesis;
mod presets;
mod rules;
mod syntax;
