//! Integration tests of the governance runtime.

mod checks;
mod properties;
mod scenarios;
