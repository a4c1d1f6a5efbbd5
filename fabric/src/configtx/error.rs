//! The error type of channel-configuration work, classified by what the caller
//! can do about it: fix the input, refresh a stale config, or report a bug.

use std::path::PathBuf;

/// What went wrong while reading, editing, updating or signing a channel
/// configuration. Every variant names the object concerned.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Bytes that should hold a Fabric message did not decode.
    #[error("cannot decode {what}; is this really a config block of a Fabric 2.x channel?")]
    Decode {
        what: String,
        #[source]
        source: prost::DecodeError,
    },

    /// A block, envelope or config has the wrong shape (missing part, wrong
    /// header type).
    #[error("{what}: {problem}")]
    Malformed { what: String, problem: String },

    /// A signature policy expression is not valid in Fabric's policy language.
    #[error(
        "invalid signature policy {input:?}: {problem} (expected e.g. \
         \"OR('Org1MSP.admin', AND('Org2MSP.peer', 'Org3MSP.member'))\")"
    )]
    PolicyDsl { input: String, problem: String },

    /// The edit refers to something the config does not have.
    #[error("{what} does not exist in the channel configuration{hint}")]
    NotFound { what: String, hint: String },

    /// The edit would add something that is already there.
    #[error("{what} already exists in the channel configuration; edit it instead of adding it")]
    AlreadyExists { what: String },

    /// An argument cannot be used (empty MSP ID, bad certificate, zero batch size...).
    #[error("invalid {what}: {problem}")]
    Invalid { what: String, problem: String },

    /// The updated config equals the original: there is nothing to submit.
    #[error(
        "no differences detected between original and updated config of channel {channel}; \
         nothing to update"
    )]
    NoDifferences { channel: String },

    /// The update was computed against another version of the config than
    /// the one it is being checked against.
    #[error(
        "config update does not apply to the current config: {problem}; \
         fetch the latest config block and compute the update again"
    )]
    Stale { problem: String },

    /// An MSP directory lacks what a channel's MSP definition needs.
    #[error("MSP directory {}: {problem}", dir.display())]
    Msp { dir: PathBuf, problem: String },

    /// A file could not be read.
    #[error("cannot read {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A call to a Fabric node failed or was refused (the source carries the
    /// node's status and reason, e.g. the orderer's policy failure).
    #[error("{what} failed")]
    Fabric {
        what: String,
        #[source]
        source: Box<crate::Error>,
    },

    /// The signer could not sign.
    #[error("signing {what} as {signer} failed")]
    Sign {
        what: String,
        signer: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl ConfigError {
    pub(crate) fn decode(what: impl Into<String>, source: prost::DecodeError) -> Self {
        ConfigError::Decode {
            what: what.into(),
            source,
        }
    }

    pub(crate) fn malformed(what: impl Into<String>, problem: impl Into<String>) -> Self {
        ConfigError::Malformed {
            what: what.into(),
            problem: problem.into(),
        }
    }

    pub(crate) fn invalid(what: impl Into<String>, problem: impl Into<String>) -> Self {
        ConfigError::Invalid {
            what: what.into(),
            problem: problem.into(),
        }
    }

    pub(crate) fn not_found(what: impl Into<String>) -> Self {
        ConfigError::NotFound {
            what: what.into(),
            hint: String::new(),
        }
    }

    pub(crate) fn not_found_hint(what: impl Into<String>, hint: impl Into<String>) -> Self {
        ConfigError::NotFound {
            what: what.into(),
            hint: format!("; {}", hint.into()),
        }
    }
}
