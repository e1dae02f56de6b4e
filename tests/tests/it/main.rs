//! Running networks of real `accord` processes: scenarios of several validators, the
//! API of a live network, bad input at every door, fault injection, and `loadgen`.

mod agent;
mod api;
mod byzantine;
mod doors;
mod faults;
mod loadgen;
mod slow;
