//! The accord API: typed JSON-RPC traits with their server and client, event subscriptions, proofs a client checks alone.
//!
//! # Design
//!
//! ```text
//!   api.rs      #[rpc] traits, one per namespace (system, rpc, chain, gov): the server
//!               implements them, clients call the generated `…Client` traits
//!   types.rs    the JSON views and parameters
//!   methods.rs  every method's parameters: strict shape checks and the OpenRPC document
//!   server/     the traits over a Backend; limits; subscriptions with resume cursors
//!   rest.rs     /api/devops/* (the original REST API), /health, /ready, /metrics
//!   explorer.rs /explorer: the page (rpc/explorer/) that browses the chain and checks proofs
//!   backend.rs  the narrow traits the node implements (chain, state, pool, node, commits)
//!   verify.rs   event and state proofs checked against a trusted validator set
//! ```
//!
//! The crate does not depend on the node: the node implements [`backend`]'s traits, and
//! tests use an in-memory backend over the real runtime (`test-utils`).

pub mod api;
pub mod backend;
pub mod error;
pub mod explorer;
pub mod methods;
pub mod rest;
pub mod server;
pub mod types;
pub mod verify;

#[cfg(any(test, feature = "test-utils"))]
pub mod memory;
#[cfg(feature = "test-utils")]
pub mod proxy;

#[cfg(feature = "client")]
pub use api::{ChainApiClient, GovApiClient, MetaApiClient, SystemApiClient};
pub use backend::{Backend, BackendError, Committed};
pub use server::{start, Limits, Options, Readiness, RpcApi};
