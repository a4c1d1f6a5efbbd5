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

pub mod block;
pub mod configtx;
pub mod cscc;
pub mod deliver;
pub mod endorser;
pub mod error;
pub mod gateway;
pub mod identity;
pub mod lifecycle;
pub mod node;
pub mod orderer;
pub mod package;
pub mod participation;
pub mod protos;
pub mod shim;
pub mod source_package;
pub mod tx;

pub use error::{Error, Fault, Result};
pub use identity::{Signer, SigningIdentity};
pub use node::{Node, NodeConfig};
