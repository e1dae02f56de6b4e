//! Block sync: what a lagging node believes of its peers and how it plans a catch-up,
//! and how a node answers its peers' requests.

pub mod client;
pub mod peers;
pub mod server;

pub use peers::SYNC_RANGE;
