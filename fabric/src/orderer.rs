//! Submitting envelopes to an orderer (`orderer.AtomicBroadcast/Broadcast`):
//! endorsed transactions and channel config updates.
//!
//! The main type is [`Orderer`]. Key decision: one envelope per call, and the
//! call returns only after the orderer's answer; a non-SUCCESS answer becomes
//! [`Error::Refused`] with the orderer's status and info text (e.g. the policy
//! that was not satisfied).
//!
//! An orderer that is restarting refuses the connection, and one whose Raft
//! cluster has no leader yet answers SERVICE_UNAVAILABLE: both are retried
//! with the same envelope for a few seconds ([`RETRY_FOR`]) so a short
//! outage costs its own length, not a caller's retry round. The same
//! envelope is safe to send twice: it carries one transaction ID (the peers
//! mark a second copy DUPLICATE_TXID) or one config update against one
//! config sequence (a second copy fails validation).

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::error::{Error, Result};
use crate::node::{MAX_MESSAGE_SIZE, Node, grpc_error};
use crate::protos::common::{Envelope, Status};
use crate::protos::orderer::atomic_broadcast_client::AtomicBroadcastClient;

/// How long [`Orderer::broadcast`] keeps retrying an orderer that is
/// unreachable or answers SERVICE_UNAVAILABLE.
pub const RETRY_FOR: Duration = Duration::from_secs(10);

/// Runs `call` until it succeeds, fails for good, or an orderer that is
/// unreachable or unavailable (a transient fault) has had [`RETRY_FOR`]
/// to come back; pauses 0.2 s, doubling up to 1 s.
pub(crate) async fn retry_restarting<T, F, Fut>(node: &str, mut call: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let started = tokio::time::Instant::now();
    let mut pause = Duration::from_millis(200);
    loop {
        match call().await {
            Err(e)
                if e.fault() == crate::Fault::Transient
                    && started.elapsed() + pause < RETRY_FOR =>
            {
                tracing::debug!(%node, error = %e, "the orderer is unreachable or unavailable; retrying shortly");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
            }
            done => return done,
        }
    }
}

/// An orderer's broadcast service.
#[derive(Clone, Debug)]
pub struct Orderer {
    node: Node,
}

impl Orderer {
    pub fn new(node: Node) -> Orderer {
        Orderer { node }
    }

    pub fn node(&self) -> &Node {
        &self.node
    }

    /// Sends one envelope and waits for the orderer's answer, retrying an
    /// unreachable or unavailable orderer for up to [`RETRY_FOR`].
    pub async fn broadcast(&self, envelope: Envelope) -> Result<()> {
        retry_restarting(self.node.name(), || self.broadcast_once(envelope.clone())).await
    }

    async fn broadcast_once(&self, envelope: Envelope) -> Result<()> {
        let call = "Broadcast";
        let mut client = AtomicBroadcastClient::new(self.node.channel())
            .max_encoding_message_size(MAX_MESSAGE_SIZE)
            .max_decoding_message_size(MAX_MESSAGE_SIZE);
        let (tx, rx) = mpsc::channel(1);
        tx.send(envelope)
            .await
            .expect("the receiver is alive: it is in this scope");
        let mut responses = client
            .broadcast(ReceiverStream::new(rx))
            .await
            .map_err(|s| grpc_error(call, self.node.name(), s))?
            .into_inner();
        let answer = responses
            .message()
            .await
            .map_err(|s| grpc_error(call, self.node.name(), s))?;
        drop(tx);
        let answer = answer.ok_or_else(|| {
            Error::protocol(call, self.node.name(), "the stream ended without an answer")
        })?;
        if answer.status != Status::Success as i32 {
            let name = Status::try_from(answer.status)
                .map(|s| s.as_str_name())
                .unwrap_or("UNKNOWN");
            return Err(Error::Refused {
                call: call.to_string(),
                node: self.node.name().to_string(),
                status: answer.status,
                message: format!("{name}: {}", answer.info),
            });
        }
        Ok(())
    }
}
