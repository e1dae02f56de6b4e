//! The accord validator node: storage, consensus log, signer, p2p, mempool, consensus
//! driver, block sync, RPC and the command-line interface, wired around the pure
//! `accord-runtime` and `accord-consensus` crates.

pub mod chain;
pub mod cli;
pub mod client;
pub mod config;
pub mod driver;
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
pub mod storage;
pub mod wal;
