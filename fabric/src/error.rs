//! The one error type of this crate, classified by fault.
//!
//! Every variant names the call that failed and the node it was made against
//! (`Endorse on peer0.org1.example.com (127.0.0.1:7051)`), and carries what
//! Fabric answered (gRPC status, peer response status, gateway error details,
//! orderer broadcast status) so the user can act on it. [`Error::fault`] tells
//! callers whether retrying can help.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Who is at fault, so retry policy and exit codes can follow from the error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Bad input from the caller or its configuration (MSP directory, PEM, arguments).
    Input,
    /// Fabric refused the request (policy, validation, unknown channel): retrying
    /// the same request will not help.
    Rejected,
    /// The network or a node was unavailable or slow: retrying may help.
    Transient,
    /// Fabric sent something this crate did not expect: a bug here or a
    /// version mismatch.
    Bug,
}

/// What one endorser or orderer said, from the gateway's gRPC error details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeError {
    pub address: String,
    pub msp_id: String,
    pub message: String,
}

impl fmt::Display for NodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.address, self.msp_id, self.message)
    }
}

/// Formats gateway error details as an indented list after the main message.
struct Details<'a>(&'a [NodeError]);

impl fmt::Display for Details<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in self.0 {
            write!(f, "\n  - {d}")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read or written.
    #[error("cannot {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// An MSP directory does not have the layout or content Fabric uses.
    #[error("MSP directory {}: {problem}", dir.display())]
    Msp { dir: PathBuf, problem: String },

    /// Input that cannot be used: a bad PEM, key, address, argument.
    #[error("invalid {what}: {problem}")]
    Invalid { what: String, problem: String },

    /// No connection could be made to a node.
    #[error("cannot connect to {node}; is it running and is the TLS CA / server name right?")]
    Connect {
        node: String,
        #[source]
        source: tonic::transport::Error,
    },

    /// A gRPC call failed; `details` lists what each endorser or orderer
    /// behind a gateway said.
    #[error(
        "{call} on {node} failed with gRPC {code:?}: {message}{}",
        Details(details)
    )]
    Grpc {
        call: String,
        node: String,
        code: tonic::Code,
        message: String,
        details: Vec<NodeError>,
    },

    /// Fabric answered, with a non-success status (a peer's proposal response,
    /// a broadcast or deliver status).
    #[error("{call} on {node} was refused with status {status}: {message}")]
    Refused {
        call: String,
        node: String,
        status: i32,
        message: String,
    },

    /// A transaction was ordered but invalidated by the committing peers.
    #[error("transaction {tx_id} on channel {channel} was invalidated in block {block}: {code}")]
    TxInvalid {
        tx_id: String,
        channel: String,
        block: u64,
        /// The validation code's name, e.g. `ENDORSEMENT_POLICY_FAILURE`.
        code: String,
    },

    /// A message from Fabric could not be decoded.
    #[error("cannot decode {what} from {node}")]
    Decode {
        what: String,
        node: String,
        #[source]
        source: prost::DecodeError,
    },

    /// Fabric's answer had an unexpected shape (missing field, wrong type).
    #[error("{call} on {node}: unexpected answer: {problem}")]
    Protocol {
        call: String,
        node: String,
        problem: String,
    },

    /// An HTTPS request failed before an answer came back.
    #[cfg(feature = "client")]
    #[error("{call} on {node} failed")]
    Http {
        call: String,
        node: String,
        #[source]
        source: reqwest::Error,
    },

    /// An HTTPS request was answered with an error status.
    #[error("{call} on {node} returned HTTP {status}: {body}")]
    HttpStatus {
        call: String,
        node: String,
        status: u16,
        body: String,
    },

    /// Waiting for something took too long.
    #[error("timed out after {after:?} waiting for {what}")]
    Timeout { what: String, after: Duration },

    /// A chaincode server could not be started or stopped serving.
    #[error("chaincode server on {address}")]
    Serve {
        address: String,
        #[source]
        source: tonic::transport::Error,
    },
}

impl Error {
    /// Who is at fault, so callers know whether a retry can help.
    pub fn fault(&self) -> Fault {
        match self {
            Error::Io { .. } | Error::Msp { .. } | Error::Invalid { .. } => Fault::Input,
            Error::Connect { .. } | Error::Timeout { .. } => Fault::Transient,
            #[cfg(feature = "client")]
            Error::Http { .. } => Fault::Transient,
            Error::Serve { .. } => Fault::Transient,
            Error::Grpc {
                code,
                message,
                details,
                ..
            } => match code {
                tonic::Code::Unavailable
                | tonic::Code::DeadlineExceeded
                | tonic::Code::ResourceExhausted
                | tonic::Code::Cancelled => Fault::Transient,
                // The gateway's discovery has not yet heard (through gossip) that
                // peers installed or joined what was just committed; it catches
                // up within seconds.
                tonic::Code::FailedPrecondition
                    if message.contains("no combination of peers can be derived") =>
                {
                    Fault::Transient
                }
                // Endorsers at different heights (one has not committed the
                // latest block yet) simulate against different states; the
                // gateway then refuses their disagreeing responses. The same
                // request agrees once they caught up.
                tonic::Code::Aborted
                    if !details.is_empty()
                        && details.iter().all(|d| {
                            d.message.contains("ProposalResponsePayloads do not match")
                        }) =>
                {
                    Fault::Transient
                }
                // The gateway answers Aborted when endorsers refused (chaincode
                // error, policy): the same request will be refused again.
                _ => Fault::Rejected,
            },
            Error::Refused { status, .. } => {
                if *status == 503 {
                    Fault::Transient
                } else {
                    Fault::Rejected
                }
            }
            Error::HttpStatus { status, .. } => {
                if *status >= 500 {
                    Fault::Transient
                } else {
                    Fault::Rejected
                }
            }
            Error::TxInvalid { code, .. } => {
                // A read conflict is someone else's concurrent write: retrying
                // the whole transaction usually succeeds.
                if code == "MVCC_READ_CONFLICT" || code == "PHANTOM_READ_CONFLICT" {
                    Fault::Transient
                } else {
                    Fault::Rejected
                }
            }
            Error::Decode { .. } | Error::Protocol { .. } => Fault::Bug,
        }
    }

    pub(crate) fn invalid(what: impl Into<String>, problem: impl Into<String>) -> Error {
        Error::Invalid {
            what: what.into(),
            problem: problem.into(),
        }
    }

    // Used by the client modules only (feature `client`).
    #[cfg_attr(not(feature = "client"), allow(dead_code))]
    pub(crate) fn decode(
        what: impl Into<String>,
        node: impl Into<String>,
        source: prost::DecodeError,
    ) -> Error {
        Error::Decode {
            what: what.into(),
            node: node.into(),
            source,
        }
    }

    #[cfg_attr(not(feature = "client"), allow(dead_code))]
    pub(crate) fn protocol(
        call: impl Into<String>,
        node: impl Into<String>,
        problem: impl Into<String>,
    ) -> Error {
        Error::Protocol {
            call: call.into(),
            node: node.into(),
            problem: problem.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grpc(code: tonic::Code, message: &str) -> Error {
        Error::Grpc {
            call: "Endorse".into(),
            node: "peer0".into(),
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }

    #[test]
    fn discovery_lag_is_transient_but_policy_refusals_are_not() {
        let lag = grpc(
            tonic::Code::FailedPrecondition,
            "no combination of peers can be derived which satisfy the endorsement policy: required chaincodes are not installed on sufficient peers",
        );
        assert_eq!(lag.fault(), Fault::Transient);
        assert_eq!(
            grpc(tonic::Code::FailedPrecondition, "other precondition").fault(),
            Fault::Rejected
        );
        assert_eq!(
            grpc(tonic::Code::Aborted, "endorsement failure").fault(),
            Fault::Rejected
        );
        assert_eq!(grpc(tonic::Code::Unavailable, "").fault(), Fault::Transient);
    }

    /// Endorsers a block apart disagree; the gateway names each one. Only
    /// when that is every endorser's complaint is it a lag, not a refusal.
    #[test]
    fn disagreeing_endorsers_are_a_lag_but_a_refusal_among_them_is_not() {
        let aborted = |complaints: &[&str]| Error::Grpc {
            call: "Endorse".into(),
            node: "peer0".into(),
            code: tonic::Code::Aborted,
            message: "failed to endorse transaction, see attached details for more info".into(),
            details: complaints
                .iter()
                .map(|m| NodeError {
                    address: "127.0.0.1:7051".into(),
                    msp_id: "Org2MSP".into(),
                    message: m.to_string(),
                })
                .collect(),
        };
        let lag = "ProposalResponsePayloads do not match";
        assert_eq!(aborted(&[lag, lag]).fault(), Fault::Transient);
        assert_eq!(
            aborted(&[lag, "chaincode response 500, forbidden"]).fault(),
            Fault::Rejected
        );
        assert_eq!(aborted(&[]).fault(), Fault::Rejected);
    }
}
