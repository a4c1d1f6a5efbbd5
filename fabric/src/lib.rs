//! Talking to Hyperledger Fabric from Rust.
//!
//! This crate is the only place that knows Fabric's wire format: the protobuf
//! messages (written here from Fabric's documented wire format), MSP identities
//! and ECDSA signatures, the gateway, endorser, deliver and broadcast clients,
//! channel configuration (read, edit, compute the update, sign) and the server
//! side of the chaincode shim. Everything above it speaks in its types.

pub mod protos;
