//! Connections to Fabric nodes: where a node is and how to trust it.
//!
//! [`NodeConfig`] describes one peer or orderer (address, TLS CA, server name,
//! optional client certificate for mutual TLS); [`Node`] is an open gRPC
//! channel to it that every client in this crate is built on. Key decision:
//! TLS is rustls with the ring provider only (through tonic's `tls-ring`);
//! the node's TLS CA is the only trust root, and the server name can be
//! overridden because devnet and production certificates name hosts, not the
//! loopback address the client dials.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use prost::Message;
use serde::{Deserialize, Serialize};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::error::{Error, NodeError, Result};

pub use crate::MAX_MESSAGE_SIZE;

/// Where a peer or orderer listens and how to verify it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeConfig {
    /// `host:port` as dialled, e.g. `127.0.0.1:7051`.
    pub address: String,
    /// The name the node's TLS certificate must carry, e.g.
    /// `peer0.org1.example.com`; the host of `address` when absent.
    #[serde(default)]
    pub server_name: Option<String>,
    /// PEM of the CA that issued the node's TLS certificate; plaintext when absent.
    #[serde(default)]
    pub tls_ca_pem: Option<String>,
    /// Client certificate and key (PEM) for nodes that require mutual TLS.
    #[serde(default)]
    pub client_cert_pem: Option<String>,
    #[serde(default)]
    pub client_key_pem: Option<String>,
}

impl fmt::Debug for NodeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeConfig")
            .field("address", &self.address)
            .field("server_name", &self.server_name)
            .field("tls", &self.tls_ca_pem.is_some())
            .field("mutual_tls", &self.client_cert_pem.is_some())
            .finish()
    }
}

impl NodeConfig {
    /// A node reached over TLS, trusting `tls_ca_pem`.
    pub fn tls(address: impl Into<String>, tls_ca_pem: impl Into<String>) -> NodeConfig {
        NodeConfig {
            address: address.into(),
            server_name: None,
            tls_ca_pem: Some(tls_ca_pem.into()),
            client_cert_pem: None,
            client_key_pem: None,
        }
    }

    /// A node reached over TLS, reading the CA PEM from `tls_ca_file`.
    pub fn tls_from_file(address: impl Into<String>, tls_ca_file: &Path) -> Result<NodeConfig> {
        let pem = std::fs::read_to_string(tls_ca_file).map_err(|source| Error::Io {
            action: "read TLS CA certificate",
            path: tls_ca_file.to_path_buf(),
            source,
        })?;
        Ok(NodeConfig::tls(address, pem))
    }

    /// A node reached without TLS (only for loopback tests).
    pub fn plaintext(address: impl Into<String>) -> NodeConfig {
        NodeConfig {
            address: address.into(),
            server_name: None,
            tls_ca_pem: None,
            client_cert_pem: None,
            client_key_pem: None,
        }
    }

    /// Verifies the node's certificate against `name` instead of the dialled host.
    pub fn with_server_name(mut self, name: impl Into<String>) -> NodeConfig {
        self.server_name = Some(name.into());
        self
    }

    /// Presents a client certificate (mutual TLS).
    pub fn with_client_identity(
        mut self,
        cert_pem: impl Into<String>,
        key_pem: impl Into<String>,
    ) -> NodeConfig {
        self.client_cert_pem = Some(cert_pem.into());
        self.client_key_pem = Some(key_pem.into());
        self
    }

    /// How errors name this node: `server name (address)`, or the address.
    pub fn display_name(&self) -> String {
        match &self.server_name {
            Some(name) => format!("{name} ({})", self.address),
            None => self.address.clone(),
        }
    }

    fn endpoint(&self) -> Result<Endpoint> {
        let scheme = if self.tls_ca_pem.is_some() {
            "https"
        } else {
            "http"
        };
        let uri = format!("{scheme}://{}", self.address);
        let mut ep = Endpoint::from_shared(uri).map_err(|e| {
            Error::invalid(format!("node address {:?}", self.address), e.to_string())
        })?;
        ep = ep
            .connect_timeout(Duration::from_secs(10))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_while_idle(true);
        if let Some(ca) = &self.tls_ca_pem {
            let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca));
            if let Some(name) = &self.server_name {
                tls = tls.domain_name(name.clone());
            }
            match (&self.client_cert_pem, &self.client_key_pem) {
                (Some(cert), Some(key)) => tls = tls.identity(Identity::from_pem(cert, key)),
                (None, None) => {}
                _ => {
                    return Err(Error::invalid(
                        format!("TLS settings of {}", self.display_name()),
                        "a client certificate needs its key and the other way round",
                    ));
                }
            }
            ep = ep.tls_config(tls).map_err(|source| Error::Connect {
                node: self.display_name(),
                source,
            })?;
        }
        Ok(ep)
    }
}

/// An open gRPC channel to one node. Cheap to clone; calls are multiplexed.
#[derive(Clone, Debug)]
pub struct Node {
    name: String,
    channel: Channel,
}

impl Node {
    /// Connects now, so a wrong address or TLS setting fails here.
    pub async fn connect(config: &NodeConfig) -> Result<Node> {
        let channel = config
            .endpoint()?
            .connect()
            .await
            .map_err(|source| Error::Connect {
                node: config.display_name(),
                source,
            })?;
        Ok(Node {
            name: config.display_name(),
            channel,
        })
    }

    /// Connects on first use (and reconnects after failures).
    pub fn connect_lazy(config: &NodeConfig) -> Result<Node> {
        Ok(Node {
            name: config.display_name(),
            channel: config.endpoint()?.connect_lazy(),
        })
    }

    /// The name errors use for this node.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The underlying channel, for generated clients.
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }
}

/// A server-streaming call running in a background task.
///
/// The call is made at once, but the caller does not wait for the server's
/// first message: Go gRPC servers send the response headers only with it, so
/// awaiting the call itself would hang until, say, the first chaincode event,
/// which may depend on what the caller does next. Dropping it cancels the call.
pub(crate) struct Background<T> {
    rx: tokio::sync::mpsc::Receiver<std::result::Result<T, tonic::Status>>,
    task: tokio::task::JoinHandle<()>,
}

impl<T: Send + 'static> Background<T> {
    /// Runs `open` and forwards its messages; `keep_alive` (e.g. the request
    /// stream's sender) lives as long as the call.
    pub(crate) fn spawn<F, K>(open: F, keep_alive: K) -> Background<T>
    where
        F: std::future::Future<
                Output = std::result::Result<tonic::Response<tonic::Streaming<T>>, tonic::Status>,
            > + Send
            + 'static,
        K: Send + 'static,
    {
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        let task = tokio::spawn(async move {
            let _keep_alive = keep_alive;
            let mut stream = match open.await {
                Ok(resp) => resp.into_inner(),
                Err(status) => {
                    let _ = tx.send(Err(status)).await;
                    return;
                }
            };
            loop {
                match stream.message().await {
                    Ok(Some(m)) => {
                        if tx.send(Ok(m)).await.is_err() {
                            return;
                        }
                    }
                    Ok(None) => return,
                    Err(status) => {
                        let _ = tx.send(Err(status)).await;
                        return;
                    }
                }
            }
        });
        Background { rx, task }
    }

    /// The next message; `Ok(None)` when the server ended the stream.
    pub(crate) async fn message(&mut self) -> std::result::Result<Option<T>, tonic::Status> {
        match self.rx.recv().await {
            Some(Ok(m)) => Ok(Some(m)),
            Some(Err(s)) => Err(s),
            None => Ok(None),
        }
    }
}

impl<T> Drop for Background<T> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// google.rpc.Status, the body of gRPC's `grpc-status-details-bin` trailer.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<prost_types::Any>,
}

const ERROR_DETAIL_TYPE: &str = "type.googleapis.com/gateway.ErrorDetail";

/// Turns a failed gRPC call into an [`Error::Grpc`], decoding the gateway's
/// per-endorser error details when present.
pub(crate) fn grpc_error(call: &str, node: &str, status: tonic::Status) -> Error {
    Error::Grpc {
        call: call.to_string(),
        node: node.to_string(),
        code: status.code(),
        message: status.message().to_string(),
        details: error_details(status.details()),
    }
}

fn error_details(raw: &[u8]) -> Vec<NodeError> {
    if raw.is_empty() {
        return Vec::new();
    }
    let Ok(status) = RpcStatus::decode(raw) else {
        return Vec::new();
    };
    status
        .details
        .iter()
        .filter(|any| any.type_url == ERROR_DETAIL_TYPE)
        .filter_map(|any| crate::protos::gateway::ErrorDetail::decode(any.value.as_slice()).ok())
        .map(|d| NodeError {
            address: d.address,
            msp_id: d.msp_id,
            message: d.message,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protos::gateway::ErrorDetail;

    #[test]
    fn gateway_error_details_are_decoded() {
        let detail = ErrorDetail {
            address: "peer0.org2.example.com:7051".into(),
            msp_id: "Org2MSP".into(),
            message: "chaincode response 500, no such key".into(),
        };
        let status = RpcStatus {
            code: tonic::Code::Aborted as i32,
            message: "failed to endorse transaction".into(),
            details: vec![
                prost_types::Any {
                    type_url: "type.googleapis.com/something.Else".into(),
                    value: vec![1, 2, 3],
                },
                prost_types::Any {
                    type_url: ERROR_DETAIL_TYPE.into(),
                    value: detail.encode_to_vec(),
                },
            ],
        };
        let tonic_status = tonic::Status::with_details(
            tonic::Code::Aborted,
            "failed to endorse transaction",
            status.encode_to_vec().into(),
        );
        let err = grpc_error(
            "Endorse",
            "peer0.org1.example.com (127.0.0.1:7051)",
            tonic_status,
        );
        let text = err.to_string();
        assert_eq!(
            text,
            "Endorse on peer0.org1.example.com (127.0.0.1:7051) failed with gRPC Aborted: \
             failed to endorse transaction\n  - peer0.org2.example.com:7051 (Org2MSP): \
             chaincode response 500, no such key"
        );
        assert_eq!(err.fault(), crate::error::Fault::Rejected);
    }

    #[test]
    fn half_a_client_identity_is_refused() {
        let mut cfg = NodeConfig::tls("127.0.0.1:1", "pem");
        cfg.client_cert_pem = Some("cert".into());
        let err = cfg.endpoint().unwrap_err();
        assert!(err.to_string().contains("needs its key"), "{err}");
    }
}
