//! The orderer's channel participation REST API (`/participation/v1/channels`):
//! list the channels an orderer serves, join it to a channel with a config
//! block, remove it from one.
//!
//! The main type is [`ChannelParticipation`] (one orderer's admin endpoint).
//! Key decision: the HTTPS client is reqwest over a rustls configuration built
//! here with the ring provider, the orderer's TLS CA as the only root and the
//! orderer admin's TLS client certificate (the endpoint requires mutual TLS);
//! a server name override is done by resolving that name to the dialled
//! address, so certificate checks stay on.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use prost::Message;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::protos::common::Block;

/// Installs ring as the process-wide rustls provider (a no-op when one is
/// installed). Call it once in `main` and in tests: with no provider
/// installed, rustls users without an explicit provider panic.
pub fn install_ring_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// How to reach an orderer's admin endpoint.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminEndpoint {
    /// `host:port` as dialled, e.g. `127.0.0.1:9443`.
    pub address: String,
    /// The name on the orderer's TLS certificate, when not the dialled host.
    pub server_name: Option<String>,
    /// PEM of the orderer organization's TLS CA.
    pub tls_ca_pem: String,
    /// The admin's TLS client certificate and key (PEM).
    pub client_cert_pem: String,
    pub client_key_pem: String,
}

impl std::fmt::Debug for AdminEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminEndpoint")
            .field("address", &self.address)
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

/// A channel as listed by the orderer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ChannelRef {
    pub name: String,
    pub url: String,
}

#[derive(Debug, Deserialize)]
struct ChannelList {
    #[serde(default)]
    channels: Option<Vec<ChannelRef>>,
}

/// The orderer's view of one channel.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ChannelInfo {
    pub name: String,
    #[serde(default)]
    pub url: String,
    /// `consenter`, `follower`, `config-tracker` or `other`.
    #[serde(rename = "consensusRelation")]
    pub consensus_relation: String,
    /// `active`, `onboarding`, `inactive` or `failed`.
    pub status: String,
    pub height: u64,
}

/// The outcome of [`ChannelParticipation::join`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinOutcome {
    Joined(ChannelInfo),
    AlreadyMember,
}

/// One orderer's channel participation API.
#[derive(Clone)]
pub struct ChannelParticipation {
    client: reqwest::Client,
    base: String,
    node: String,
}

impl std::fmt::Debug for ChannelParticipation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelParticipation")
            .field("node", &self.node)
            .finish()
    }
}

fn tls_config(ep: &AdminEndpoint) -> Result<rustls::ClientConfig> {
    let what = || format!("TLS settings of orderer admin endpoint {}", ep.address);
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ep.tls_ca_pem.as_bytes()) {
        let cert = cert.map_err(|e| Error::invalid(what(), format!("TLS CA PEM: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| Error::invalid(what(), format!("TLS CA certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(Error::invalid(
            what(),
            "the TLS CA PEM holds no certificate",
        ));
    }
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(ep.client_cert_pem.as_bytes())
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| Error::invalid(what(), format!("client certificate PEM: {e}")))?;
    let key = PrivateKeyDer::from_pem_slice(ep.client_key_pem.as_bytes())
        .map_err(|e| Error::invalid(what(), format!("client key PEM: {e}")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::invalid(what(), e.to_string()))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| Error::invalid(what(), format!("client certificate and key: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

impl ChannelParticipation {
    pub fn new(ep: &AdminEndpoint) -> Result<ChannelParticipation> {
        let node = match &ep.server_name {
            Some(n) => format!("{n} ({})", ep.address),
            None => ep.address.clone(),
        };
        let mut builder = reqwest::Client::builder()
            .use_preconfigured_tls(tls_config(ep)?)
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(10));
        let base = match &ep.server_name {
            Some(name) => {
                let addr: SocketAddr = ep.address.parse().map_err(|_| {
                    Error::invalid(
                        format!("orderer admin address {:?}", ep.address),
                        "with a server name override the address must be ip:port",
                    )
                })?;
                builder = builder.resolve(name, addr);
                format!("https://{name}:{}", addr.port())
            }
            None => format!("https://{}", ep.address),
        };
        let client = builder.build().map_err(|source| Error::Http {
            call: "building the HTTPS client".into(),
            node: node.clone(),
            source,
        })?;
        Ok(ChannelParticipation { client, base, node })
    }

    fn url(&self, channel: Option<&str>) -> String {
        match channel {
            Some(c) => format!("{}/participation/v1/channels/{c}", self.base),
            None => format!("{}/participation/v1/channels", self.base),
        }
    }

    async fn send(&self, call: &str, req: reqwest::RequestBuilder) -> Result<reqwest::Response> {
        req.header("Accept", "application/json")
            .send()
            .await
            .map_err(|source| Error::Http {
                call: call.to_string(),
                node: self.node.clone(),
                source,
            })
    }

    async fn fail(&self, call: &str, resp: reqwest::Response) -> Error {
        let status = resp.status().as_u16();
        let body = resp.text().await.unwrap_or_default();
        #[derive(Deserialize)]
        struct ErrBody {
            error: String,
        }
        let body = serde_json::from_str::<ErrBody>(&body)
            .map(|e| e.error)
            .unwrap_or(body);
        Error::HttpStatus {
            call: call.to_string(),
            node: self.node.clone(),
            status,
            body,
        }
    }

    async fn json<T: serde::de::DeserializeOwned>(
        &self,
        call: &str,
        resp: reqwest::Response,
    ) -> Result<T> {
        let text = resp.text().await.map_err(|source| Error::Http {
            call: call.to_string(),
            node: self.node.clone(),
            source,
        })?;
        serde_json::from_str(&text)
            .map_err(|e| Error::protocol(call, &self.node, format!("bad JSON {text:?}: {e}")))
    }

    /// The channels the orderer serves.
    pub async fn list(&self) -> Result<Vec<ChannelRef>> {
        let call = "list channels";
        let resp = self.send(call, self.client.get(self.url(None))).await?;
        if !resp.status().is_success() {
            return Err(self.fail(call, resp).await);
        }
        let list: ChannelList = self.json(call, resp).await?;
        Ok(list.channels.unwrap_or_default())
    }

    /// One channel, `None` when the orderer does not serve it.
    pub async fn get(&self, channel: &str) -> Result<Option<ChannelInfo>> {
        let call = format!("get channel {channel}");
        let resp = self
            .send(&call, self.client.get(self.url(Some(channel))))
            .await?;
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(self.fail(&call, resp).await);
        }
        Ok(Some(self.json(&call, resp).await?))
    }

    /// Joins the orderer to the channel of `config_block` (its genesis block,
    /// or its latest config block for an orderer joining later).
    pub async fn join(&self, config_block: &Block) -> Result<JoinOutcome> {
        let channel = crate::cscc::channel_of(config_block).unwrap_or_default();
        let call = format!("join channel {channel}");
        let part = reqwest::multipart::Part::bytes(config_block.encode_to_vec())
            .file_name(format!("{channel}.block"))
            .mime_str("application/octet-stream")
            .map_err(|source| Error::Http {
                call: call.clone(),
                node: self.node.clone(),
                source,
            })?;
        let form = reqwest::multipart::Form::new().part("config-block", part);
        let resp = self
            .send(&call, self.client.post(self.url(None)).multipart(form))
            .await?;
        if resp.status() == reqwest::StatusCode::METHOD_NOT_ALLOWED {
            let err = self.fail(&call, resp).await;
            if matches!(&err, Error::HttpStatus { body, .. } if body.contains("already exists")) {
                return Ok(JoinOutcome::AlreadyMember);
            }
            return Err(err);
        }
        if !resp.status().is_success() {
            return Err(self.fail(&call, resp).await);
        }
        Ok(JoinOutcome::Joined(self.json(&call, resp).await?))
    }

    /// Removes the orderer from `channel`.
    pub async fn remove(&self, channel: &str) -> Result<()> {
        let call = format!("remove channel {channel}");
        let resp = self
            .send(&call, self.client.delete(self.url(Some(channel))))
            .await?;
        if !resp.status().is_success() {
            return Err(self.fail(&call, resp).await);
        }
        Ok(())
    }
}
