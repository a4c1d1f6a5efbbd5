//! Channel configuration: read a config block, edit it, compute the update,
//! find out who must sign it, sign it and wrap it for the orderer; and build a
//! channel's genesis block without `configtxgen`.
//!
//! The main type is [`ChannelConfig`], a typed view of a channel's `Config`:
//! a tree of [`Group`]s whose [`Value`]s are decoded by key (MSP, anchor peers,
//! consensus type with its Raft metadata, batch size, ...) and whose
//! [`Policy`]s are signature or implicit-meta policies. Edits in [`edit`] are
//! pure functions from one `ChannelConfig` to the next; [`compute_update`]
//! turns two configs into a `ConfigUpdate` with exactly the semantics of
//! Fabric's `configtxlator compute_update`; [`required_signatures`] evaluates
//! the mod policies the orderer will check; [`sign`] makes `ConfigSignature`s
//! and the `CONFIG_UPDATE` envelope; [`client`] reads a channel's config and
//! submits an update, waiting for the new config block; [`genesis`] makes a
//! genesis block.
//!
//! Key decision: every value and policy keeps the exact bytes it was decoded
//! from, and those bytes are written back unless the typed content was
//! changed. Fabric compares values by their bytes when it computes an update,
//! and Go encodes maps in random order, so re-encoding an untouched value
//! (Capabilities, ACLs) could look like a change. Everything this module
//! encodes itself uses sorted maps, so every organization that computes the
//! same update gets the same bytes to sign.

pub mod client;
mod dsl;
pub mod edit;
mod error;
pub mod genesis;
mod model;
mod msp;
pub mod sign;
mod signers;
mod update;

pub use dsl::{parse_implicit_meta, parse_signature_policy, signature_policy_to_dsl};
pub use error::ConfigError;
pub use model::{
    APPLICATION_GROUP, CHANNEL_GROUP, ChannelConfig, Group, ImplicitMetaRule, ORDERER_GROUP,
    Policy, PolicyRule, Value, ValueContent, applied_config_update,
};
pub use msp::{MspDefinition, NodeOus, Organization};
pub use signers::{Requirement, SignatureRequirements, WrittenElement, required_signatures};
pub use update::{compute_update, compute_update_protos};

/// Result with this module's [`ConfigError`].
pub type Result<T, E = ConfigError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests;
