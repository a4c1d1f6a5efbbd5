//! Talking to Hyperledger Fabric from Rust.
//!
//! This crate is the only place that knows Fabric's wire format: the protobuf
//! messages (written here from Fabric's documented wire format), MSP identities
//! and ECDSA signatures, the gateway, endorser, deliver and broadcast clients,
//! channel configuration (read, edit, compute the update, sign) and the server
//! side of the chaincode shim. Everything above it speaks in its types.
//!
//! How the pieces fit: [`identity`] loads an MSP directory into a
//! [`identity::SigningIdentity`] (a [`identity::Signer`]); [`node`] opens TLS
//! connections ([`node::Node`]); [`tx`] builds and signs proposals and
//! envelopes; the clients ([`gateway`], [`endorser`], [`deliver`],
//! [`orderer`], [`participation`]) send them; [`lifecycle`] and [`cscc`] are
//! the admin calls built on the clients; [`package`] makes byte-reproducible
//! chaincode packages ([`source_package`]: Go source packages); [`shim`] serves
//! chaincode-as-a-service.
//!
//! Features: `client` (on by default) is everything but [`protos`], [`error`]
//! and [`shim`] — identities, the gRPC clients, the orderer's HTTPS
//! participation API (reqwest, rustls client), channel configuration and
//! packages. A chaincode server needs only the shim: `opssc-chaincode` depends
//! on this crate with `default-features = false`, so the contract's build
//! carries no gateway, no reqwest and no client TLS stack (tonic's server,
//! with its server-side TLS for `ServerTls`, is what remains).

#[cfg(feature = "client")]
pub mod block;
#[cfg(feature = "client")]
pub mod configtx;
#[cfg(feature = "client")]
pub mod cscc;
#[cfg(feature = "client")]
pub mod deliver;
#[cfg(feature = "client")]
pub mod endorser;
pub mod error;
#[cfg(feature = "client")]
pub mod gateway;
#[cfg(feature = "client")]
pub mod identity;
#[cfg(feature = "client")]
pub mod lifecycle;
#[cfg(feature = "client")]
pub mod node;
#[cfg(feature = "client")]
pub mod orderer;
#[cfg(feature = "client")]
pub mod package;
#[cfg(feature = "client")]
pub mod participation;
pub mod protos;
pub mod shim;
#[cfg(feature = "client")]
pub mod source_package;
#[cfg(feature = "client")]
pub mod tx;

pub use error::{Error, Fault, Result};
#[cfg(feature = "client")]
pub use identity::{Signer, SigningIdentity};
#[cfg(feature = "client")]
pub use node::{Node, NodeConfig};

/// The largest gRPC message sent or received, larger than gRPC's 4 MiB
/// default: blocks, packages and config can be big (and the shim's peer
/// stream carries whole write sets).
pub const MAX_MESSAGE_SIZE: usize = 100 * 1024 * 1024;
