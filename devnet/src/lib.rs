//! A real Hyperledger Fabric network on this machine, with no Docker.
//!
//! Builds `peer`, `orderer` and the Fabric tools from Fabric's Go module pinned
//! to one commit into a cache outside the repository, generates crypto material,
//! writes node configuration with free loopback ports, starts the processes and
//! stops exactly the ones it started, by PID. Used by the tests and `opssc dev`.
