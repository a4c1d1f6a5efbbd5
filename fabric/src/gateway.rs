//! The Fabric Gateway client (`gateway.Gateway` on a peer): evaluate, endorse,
//! submit, commit status and chaincode event streams, and the two calls most
//! callers need, [`Gateway::submit_transaction`] and
//! [`Gateway::evaluate_transaction`].
//!
//! The main type is [`Gateway`] (one peer, one identity). Key decision: the
//! client keeps the signing in its own hands: the gateway prepares the
//! transaction, this client checks what it prepared (transaction ID and
//! chaincode result) and signs it locally; keys never leave the process.

use std::sync::Arc;
use std::time::Duration;

use prost::Message;

use crate::block::validation_code_name;
use crate::deliver::Seek;
use crate::error::{Error, Result};
use crate::identity::Signer;
use crate::node::{Background, MAX_MESSAGE_SIZE, Node, grpc_error};
use crate::protos::common::Envelope;
use crate::protos::gateway::{
    ChaincodeEventsRequest, ChaincodeEventsResponse, CommitStatusRequest, EndorseRequest,
    EvaluateRequest, SignedChaincodeEventsRequest, SignedCommitStatusRequest, SubmitRequest,
    gateway_client::GatewayClient,
};
use crate::protos::orderer::{SeekNewest, SeekPosition, SeekSpecified, seek_position};
use crate::protos::peer;
use crate::tx::{ChaincodeCall, SignedProposal, sign_envelope, summarize_transaction};

/// How long [`Gateway::commit_status`] waits for the commit by default.
pub const DEFAULT_COMMIT_TIMEOUT: Duration = Duration::from_secs(60);

/// A committed transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    pub tx_id: String,
    /// The chaincode's response payload, as endorsed.
    pub result: Vec<u8>,
    /// The block the transaction was committed in.
    pub block: u64,
    /// The chaincode event the transaction set, if any.
    pub event: Option<peer::ChaincodeEvent>,
}

/// A transaction the gateway endorsed, not yet submitted.
#[derive(Debug, Clone)]
pub struct Endorsed {
    pub channel: String,
    pub tx_id: String,
    /// The unsigned transaction envelope the gateway assembled.
    pub prepared: Envelope,
    /// The chaincode's response as endorsed.
    pub response: peer::Response,
    pub event: Option<peer::ChaincodeEvent>,
}

/// The gateway of one peer, used as one identity.
#[derive(Clone)]
pub struct Gateway {
    node: Node,
    signer: Arc<dyn Signer>,
    commit_timeout: Duration,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("node", &self.node.name())
            .field("msp_id", &self.signer.msp_id())
            .finish()
    }
}

impl Gateway {
    pub fn new(node: Node, signer: Arc<dyn Signer>) -> Gateway {
        Gateway {
            node,
            signer,
            commit_timeout: DEFAULT_COMMIT_TIMEOUT,
        }
    }

    /// Changes how long commits are waited for.
    pub fn with_commit_timeout(mut self, timeout: Duration) -> Gateway {
        self.commit_timeout = timeout;
        self
    }

    pub fn node(&self) -> &Node {
        &self.node
    }

    pub fn signer(&self) -> &Arc<dyn Signer> {
        &self.signer
    }

    fn client(&self) -> GatewayClient<tonic::transport::Channel> {
        GatewayClient::new(self.node.channel())
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE)
    }

    fn name(&self) -> &str {
        self.node.name()
    }

    /// Runs a proposal on endorsing peers without ordering it (a query).
    /// `target_orgs` restricts the peers to those organizations; empty lets
    /// the gateway choose (its own organization first).
    pub async fn evaluate(
        &self,
        proposal: &SignedProposal,
        target_orgs: &[String],
    ) -> Result<peer::Response> {
        let call = format!(
            "Evaluate {} on channel {}",
            proposal.chaincode, proposal.channel
        );
        let resp = self
            .client()
            .evaluate(EvaluateRequest {
                transaction_id: proposal.tx_id().to_string(),
                channel_id: proposal.channel.clone(),
                proposed_transaction: Some(proposal.signed.clone()),
                target_organizations: target_orgs.to_vec(),
            })
            .await
            .map_err(|s| grpc_error(&call, self.name(), s))?
            .into_inner();
        let result = resp
            .result
            .ok_or_else(|| Error::protocol(&call, self.name(), "no result"))?;
        if !(200..400).contains(&result.status) {
            return Err(Error::Refused {
                call,
                node: self.name().to_string(),
                status: result.status,
                message: result.message,
            });
        }
        Ok(result)
    }

    /// Collects endorsements. `endorsing_orgs` names the organizations whose
    /// peers must endorse; empty lets the gateway derive them from the
    /// chaincode's endorsement policy (discovery).
    pub async fn endorse(
        &self,
        proposal: &SignedProposal,
        endorsing_orgs: &[String],
    ) -> Result<Endorsed> {
        let call = format!(
            "Endorse {} transaction {} on channel {}",
            proposal.chaincode,
            proposal.tx_id(),
            proposal.channel
        );
        let resp = self
            .client()
            .endorse(EndorseRequest {
                transaction_id: proposal.tx_id().to_string(),
                channel_id: proposal.channel.clone(),
                proposed_transaction: Some(proposal.signed.clone()),
                endorsing_organizations: endorsing_orgs.to_vec(),
            })
            .await
            .map_err(|s| grpc_error(&call, self.name(), s))?
            .into_inner();
        let prepared = resp
            .prepared_transaction
            .ok_or_else(|| Error::protocol(&call, self.name(), "no prepared transaction"))?;
        let summary = summarize_transaction(&prepared)?;
        if summary.tx_id != proposal.tx_id() || summary.channel != proposal.channel {
            return Err(Error::protocol(
                &call,
                self.name(),
                format!(
                    "the prepared transaction is {} on channel {}, not the proposal's",
                    summary.tx_id, summary.channel
                ),
            ));
        }
        Ok(Endorsed {
            channel: proposal.channel.clone(),
            tx_id: summary.tx_id,
            prepared,
            response: summary.response,
            event: summary.event,
        })
    }

    /// Signs an endorsed transaction and sends it to the ordering service.
    pub async fn submit(&self, endorsed: &Endorsed) -> Result<()> {
        let call = format!(
            "Submit transaction {} on channel {}",
            endorsed.tx_id, endorsed.channel
        );
        let envelope = sign_envelope(self.signer.as_ref(), endorsed.prepared.clone())?;
        self.client()
            .submit(SubmitRequest {
                transaction_id: endorsed.tx_id.clone(),
                channel_id: endorsed.channel.clone(),
                prepared_transaction: Some(envelope),
            })
            .await
            .map_err(|s| grpc_error(&call, self.name(), s))?;
        Ok(())
    }

    /// Waits until the transaction is committed on the gateway's peer and
    /// returns its validation code and block number.
    pub async fn commit_status(
        &self,
        channel: &str,
        tx_id: &str,
    ) -> Result<(peer::TxValidationCode, u64)> {
        let call = format!("CommitStatus of transaction {tx_id} on channel {channel}");
        let request = CommitStatusRequest {
            transaction_id: tx_id.to_string(),
            channel_id: channel.to_string(),
            identity: self.signer.serialized_identity(),
        }
        .encode_to_vec();
        let signature = self.signer.sign(&request)?;
        let mut req = tonic::Request::new(SignedCommitStatusRequest { request, signature });
        req.set_timeout(self.commit_timeout);
        let resp = self
            .client()
            .commit_status(req)
            .await
            .map_err(|s| {
                if s.code() == tonic::Code::DeadlineExceeded {
                    Error::Timeout {
                        what: format!(
                            "transaction {tx_id} to commit on channel {channel} at {}",
                            self.name()
                        ),
                        after: self.commit_timeout,
                    }
                } else {
                    grpc_error(&call, self.name(), s)
                }
            })?
            .into_inner();
        let code = peer::TxValidationCode::try_from(resp.result)
            .unwrap_or(peer::TxValidationCode::InvalidOtherReason);
        Ok((code, resp.block_number))
    }

    /// Endorses, submits and waits for the commit of a signed proposal;
    /// an invalidated transaction is [`Error::TxInvalid`].
    pub async fn submit_proposal(
        &self,
        proposal: &SignedProposal,
        endorsing_orgs: &[String],
    ) -> Result<Committed> {
        let endorsed = self.endorse(proposal, endorsing_orgs).await?;
        self.submit(&endorsed).await?;
        let (code, block) = self
            .commit_status(&endorsed.channel, &endorsed.tx_id)
            .await?;
        if code != peer::TxValidationCode::Valid {
            return Err(Error::TxInvalid {
                tx_id: endorsed.tx_id,
                channel: endorsed.channel,
                block,
                code: validation_code_name(code as i32),
            });
        }
        Ok(Committed {
            tx_id: endorsed.tx_id,
            result: endorsed.response.payload,
            block,
            event: endorsed.event,
        })
    }

    /// Invokes `function(args)` on `chaincode` and waits for the commit.
    pub async fn submit_transaction<A: AsRef<[u8]>>(
        &self,
        channel: &str,
        chaincode: &str,
        function: &str,
        args: impl IntoIterator<Item = A>,
    ) -> Result<Committed> {
        let proposal =
            ChaincodeCall::new(channel, chaincode, function, args).sign(self.signer.as_ref())?;
        self.submit_proposal(&proposal, &[]).await
    }

    /// Queries `function(args)` on `chaincode`; nothing is written.
    pub async fn evaluate_transaction<A: AsRef<[u8]>>(
        &self,
        channel: &str,
        chaincode: &str,
        function: &str,
        args: impl IntoIterator<Item = A>,
    ) -> Result<Vec<u8>> {
        let proposal =
            ChaincodeCall::new(channel, chaincode, function, args).sign(self.signer.as_ref())?;
        Ok(self.evaluate(&proposal, &[]).await?.payload)
    }

    /// Streams the events of `chaincode` from the block `start`
    /// (`Seek::Newest` for new ones only); `after_tx_id` skips events up to and
    /// including that transaction (to resume after a checkpoint).
    pub async fn chaincode_events(
        &self,
        channel: &str,
        chaincode: &str,
        start: Seek,
        after_tx_id: Option<&str>,
    ) -> Result<EventStream> {
        let call = format!("ChaincodeEvents of {chaincode} on channel {channel}");
        let position = match start {
            Seek::Newest => seek_position::Type::Newest(SeekNewest {}),
            Seek::Oldest => seek_position::Type::Specified(SeekSpecified { number: 0 }),
            Seek::Number(n) => seek_position::Type::Specified(SeekSpecified { number: n }),
        };
        let request = ChaincodeEventsRequest {
            channel_id: channel.to_string(),
            chaincode_id: chaincode.to_string(),
            identity: self.signer.serialized_identity(),
            start_position: Some(SeekPosition {
                r#type: Some(position),
            }),
            after_transaction_id: after_tx_id.unwrap_or_default().to_string(),
        }
        .encode_to_vec();
        let signature = self.signer.sign(&request)?;
        let mut client = self.client();
        let stream = Background::spawn(
            async move {
                client
                    .chaincode_events(SignedChaincodeEventsRequest { request, signature })
                    .await
            },
            (),
        );
        Ok(EventStream {
            stream,
            call,
            node: self.name().to_string(),
        })
    }
}

/// Chaincode events, one committed block at a time.
pub struct EventStream {
    stream: Background<ChaincodeEventsResponse>,
    call: String,
    node: String,
}

impl EventStream {
    /// The events of the next block that has any (with its block number).
    pub async fn next(&mut self) -> Option<Result<ChaincodeEventsResponse>> {
        match self.stream.message().await {
            Ok(Some(r)) => Some(Ok(r)),
            Ok(None) => None,
            Err(s) => Some(Err(grpc_error(&self.call, &self.node, s))),
        }
    }
}
