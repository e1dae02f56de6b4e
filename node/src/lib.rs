//! The accord validator node: storage, consensus log, signer, p2p, mempool, consensus
//! task, executor, block sync, RPC and the command-line interface, wired around the pure
//! `accord-runtime` and `accord-consensus` crates.

/// Block building and checking, from the runtime (no I/O).
pub use accord_runtime::chain;
pub mod admin;
pub mod backup;
pub mod cli;
pub mod client;
pub mod config;
pub mod consensus;
mod durable;
pub mod executor;
pub mod fault;
pub mod init;
pub mod keyfile;
pub mod localnet;
pub mod mempool;
pub mod metrics;
pub mod p2p;
pub mod rpc;
pub mod run;
pub mod signer;
pub mod status;
pub mod storage;
pub mod sync;
#[cfg(test)]
mod test_support;
pub mod wal;
