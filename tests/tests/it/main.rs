//! Running networks of real `accord` processes: scenarios of several validators, the
//! API of a live network, bad input at every boundary, fault injection, `accord
//! localnet` itself, and `loadgen`.

mod agent;
mod api;
mod backup;
mod boundaries;
mod byzantine;
mod delivery;
mod deploy;
mod dist;
mod explorer;
mod faults;
mod loadgen;
mod localnet;
mod slow;
