//! The protobuf messages and gRPC services of Fabric, generated at build time.
//!
//! Every `.proto` file under `fabric/proto/` is compiled by `build.rs`; the
//! module tree follows the protobuf package names, so `type_url`s and gRPC
//! paths match Fabric's (`common`, `msp`, `protos` for the peer, `orderer`,
//! `gateway`, `lifecycle`). The peer package is also reachable as [`peer`],
//! because `protos::protos` reads badly.

#![allow(clippy::all, missing_docs, rustdoc::all)]

include!(concat!(env!("OUT_DIR"), "/_includes.rs"));

/// The peer's package (`protos` in Fabric's protobuf files).
pub use self::protos as peer;
