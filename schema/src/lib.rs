//! The opssc network-spec model.
pub mod local;
