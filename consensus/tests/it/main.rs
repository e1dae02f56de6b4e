//! Integration tests of the consensus engine: one binary, one module per concern.

mod checker;
mod fixture;
mod flood;
mod proposer;
mod replay;
mod sim;
mod slow;
mod step_table;
