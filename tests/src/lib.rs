//! End-to-end tests of opssc against a real Fabric network started by
//! `opssc-devnet`. The tests live in `tests/tests/`; this library holds the
//! helpers they share (one devnet per test binary, git repositories with
//! signed commits, waiting for convergence).

pub mod devnet_support;
pub mod fabric_support;
pub mod founded;
pub mod gocc;
pub mod kvcc;
pub mod lifecycle;
