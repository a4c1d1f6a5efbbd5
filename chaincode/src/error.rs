//! The contract's one error type, classified by whose fault it is.
//!
//! Every rejected call returns a [`ContractError`] and **no writes**: the shell
//! turns it into a chaincode ERROR response, so Fabric records nothing. The
//! variants say who is at fault (the caller's arguments, the caller's rights,
//! the proposal's state, or our own stored data), so a client can decide whether
//! to fix its input, give up, or re-observe and retry. `PartialEq` lets tests
//! assert the exact variant.

use std::fmt;

/// Why a call was refused. Rendered once by the shell as the error message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContractError {
    /// The function name is not part of the API.
    #[error("unknown function `{name}`; known functions: {known}")]
    UnknownFunction { name: String, known: String },

    /// An argument is missing, malformed, too large or inconsistent. The
    /// caller's fault; retrying the same call cannot succeed.
    #[error("invalid argument `{field}`: {reason}")]
    BadArgument { field: String, reason: String },

    /// The creator's organization may not do this (not in the electorate, not
    /// the proposer, not the current executor, ...).
    #[error("{msp} may not {action}: {reason}")]
    Forbidden {
        msp: String,
        action: String,
        reason: String,
    },

    /// The object named in the call does not exist.
    #[error("{what} not found{hint}", hint = Hint(hint))]
    NotFound { what: String, hint: String },

    /// The call does not fit the object's current state (a vote on a decided
    /// proposal, a second vote, a retry of a proposal that did not fail, ...).
    /// Re-observe: the state moved on.
    #[error("{what} is {state}: {reason}")]
    Conflict {
        what: String,
        state: String,
        reason: String,
    },

    /// Reading the world state failed (reported by the shell's stub).
    #[error("reading the world state failed: {0}")]
    State(String),

    /// A stored value cannot be decoded. Only a bug (or a state written by
    /// something else than this contract) gets here.
    #[error("stored value under `{key}` is corrupt ({reason}); this is a bug, please report it")]
    Corrupt { key: String, reason: String },
}

struct Hint<'a>(&'a str);

impl fmt::Display for Hint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            Ok(())
        } else {
            write!(f, "; {}", self.0)
        }
    }
}

impl ContractError {
    pub(crate) fn bad(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ContractError::BadArgument {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn forbidden(
        msp: impl Into<String>,
        action: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        ContractError::Forbidden {
            msp: msp.into(),
            action: action.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn conflict(
        what: impl Into<String>,
        state: impl fmt::Display,
        reason: impl Into<String>,
    ) -> Self {
        ContractError::Conflict {
            what: what.into(),
            state: state.to_string(),
            reason: reason.into(),
        }
    }

    pub(crate) fn not_found(what: impl Into<String>, hint: impl Into<String>) -> Self {
        ContractError::NotFound {
            what: what.into(),
            hint: hint.into(),
        }
    }

    pub(crate) fn corrupt(key: impl Into<String>, reason: impl fmt::Display) -> Self {
        ContractError::Corrupt {
            key: key.into(),
            reason: reason.to_string(),
        }
    }

    /// A short machine-readable class: `bad_argument`, `forbidden`, `not_found`,
    /// `conflict`, `unknown_function`, `state`, `corrupt`.
    pub fn class(&self) -> &'static str {
        match self {
            ContractError::UnknownFunction { .. } => "unknown_function",
            ContractError::BadArgument { .. } => "bad_argument",
            ContractError::Forbidden { .. } => "forbidden",
            ContractError::NotFound { .. } => "not_found",
            ContractError::Conflict { .. } => "conflict",
            ContractError::State(_) => "state",
            ContractError::Corrupt { .. } => "corrupt",
        }
    }
}
