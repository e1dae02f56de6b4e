//! The accord validator node: storage, consensus log, signer, p2p, mempool, consensus
//! driver, block sync, RPC and the command-line interface, wired around the pure
//! `accord-runtime` and `accord-consensus` crates.

pub mod cli;
pub mod keyfile;
pub mod mempool;
pub mod p2p;
pub mod signer;
pub mod storage;
pub mod wal;
