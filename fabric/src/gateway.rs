//! The Fabric Gateway client (`gateway.Gateway` on a peer): evaluate, endorse,
//! submit, commit status and chaincode event streams, and the two calls most
//! callers need, [`Gateway::submit_transaction`] and
//! [`Gateway::evaluate_transaction`].
//!
//! The main type is [`Gateway`] (one peer, one identity). Key decision: the
//! client keeps the signing in its own hands: the gateway prepares the
//! transaction, this client checks what it prepared (transaction ID and
//! chaincode result) and signs it locally; keys never leave the process.
//!
//! Recovering at the speed of the fault: an orderer that accepted a
//! transaction and died before ordering it loses it, and one that is down
//! refuses it. Instead of one long commit-status wait,
//! [`Gateway::submit_proposal`] waits a few seconds at a time and, when
//! nothing committed, sends the *same signed envelope* again (a failed
//! Submit is retried with a short backoff) until [`CommitPatience::total`]
//! runs out ([`CommitPatience::next_step`] decides, a pure function). The
//! same envelope carries the same transaction ID, and a peer marks every
//! copy after the first one in its ledger `DUPLICATE_TXID` without applying
//! it, so a resubmission can never apply a change twice; the ledger's
//! transaction index answers the first copy's validation code.

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

/// How a submitted transaction is waited for and sent again; see the
/// module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitPatience {
    /// The whole wait, resubmissions included, before the call fails with
    /// [`Error::Timeout`].
    pub total: Duration,
    /// The first commit-status wait; each later one is twice the one before,
    /// up to [`CommitPatience::longest_wait`] (a slow but healthy network
    /// does not get every transaction twice).
    pub resubmit_after: Duration,
    pub longest_wait: Duration,
    /// The first pause after a failed Submit or commit-status call (the
    /// orderer or the peer is down); each later one is twice the one
    /// before, up to [`CommitPatience::longest_pause`].
    pub first_pause: Duration,
    pub longest_pause: Duration,
}

impl Default for CommitPatience {
    fn default() -> Self {
        CommitPatience {
            total: DEFAULT_COMMIT_TIMEOUT,
            // Blocks are cut within the batch timeout (2 s by default): a
            // transaction not committed after 3 s is suspect.
            resubmit_after: Duration::from_secs(3),
            longest_wait: Duration::from_secs(12),
            first_pause: Duration::from_millis(200),
            longest_pause: Duration::from_secs(1),
        }
    }
}

/// What happened in the last step of the submit loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing yet: the loop starts.
    Start,
    /// The gateway accepted the envelope (the orderer answered SUCCESS).
    Submitted,
    /// A commit-status wait ended with nothing committed.
    NotCommitted,
    /// A Submit or commit-status call failed in a way a retry can overcome
    /// (the orderer or the peer is unreachable, SERVICE_UNAVAILABLE).
    Unreachable,
}

/// What the submit loop does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Send the signed envelope (again).
    Submit,
    /// Wait this long for the commit.
    Wait(Duration),
    /// Pause, then send the envelope again.
    Pause(Duration),
    /// The whole wait ran out.
    GiveUp,
}

impl CommitPatience {
    /// The next step after `last`, `elapsed` since the first Submit, with
    /// `waits` commit-status waits and `failures` consecutive failed calls
    /// so far.
    pub fn next_step(&self, last: Outcome, elapsed: Duration, waits: u32, failures: u32) -> Step {
        let Some(left) = self.total.checked_sub(elapsed).filter(|l| !l.is_zero()) else {
            return Step::GiveUp;
        };
        let grown = |first: Duration, longest: Duration, n: u32| {
            first
                .saturating_mul(1u32 << n.min(16))
                .min(longest.max(first))
        };
        match last {
            Outcome::Start | Outcome::NotCommitted => Step::Submit,
            Outcome::Submitted => {
                Step::Wait(grown(self.resubmit_after, self.longest_wait, waits).min(left))
            }
            Outcome::Unreachable => {
                let pause = grown(
                    self.first_pause,
                    self.longest_pause,
                    failures.saturating_sub(1),
                );
                if pause >= left {
                    Step::GiveUp
                } else {
                    Step::Pause(pause)
                }
            }
        }
    }
}

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
    patience: CommitPatience,
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
            patience: CommitPatience::default(),
        }
    }

    /// Changes how long commits are waited for (by [`Gateway::commit_status`],
    /// and in all by [`Gateway::submit_proposal`]).
    pub fn with_commit_timeout(mut self, timeout: Duration) -> Gateway {
        self.commit_timeout = timeout;
        self.patience.total = timeout;
        self
    }

    /// Changes how [`Gateway::submit_proposal`] waits and resubmits.
    pub fn with_patience(mut self, patience: CommitPatience) -> Gateway {
        self.commit_timeout = patience.total;
        self.patience = patience;
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
        let envelope = sign_envelope(self.signer.as_ref(), endorsed.prepared.clone())?;
        self.submit_signed(endorsed, envelope).await
    }

    /// Sends an already signed envelope of `endorsed` (again).
    async fn submit_signed(&self, endorsed: &Endorsed, envelope: Envelope) -> Result<()> {
        let call = format!(
            "Submit transaction {} on channel {}",
            endorsed.tx_id, endorsed.channel
        );
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
        self.commit_status_within(channel, tx_id, self.commit_timeout)
            .await
    }

    /// [`Gateway::commit_status`], waiting at most `wait`.
    async fn commit_status_within(
        &self,
        channel: &str,
        tx_id: &str,
        wait: Duration,
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
        req.set_timeout(wait);
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
                        after: wait,
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

    /// Endorses, submits and waits for the commit of a signed proposal,
    /// sending the same envelope again while nothing commits (see the
    /// module documentation); an invalidated transaction is
    /// [`Error::TxInvalid`].
    pub async fn submit_proposal(
        &self,
        proposal: &SignedProposal,
        endorsing_orgs: &[String],
    ) -> Result<Committed> {
        let endorsed = self.endorse(proposal, endorsing_orgs).await?;
        let (code, block) = self.submit_until_committed(&endorsed).await?;
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

    /// Submits `endorsed` and waits for its commit, resubmitting the same
    /// signed envelope as [`CommitPatience::next_step`] says (what
    /// [`Gateway::submit_proposal`] does after endorsing). Calling it for a
    /// transaction already submitted is safe: a copy the orderer already
    /// ordered is marked `DUPLICATE_TXID` and the first copy's code is
    /// returned.
    pub async fn submit_until_committed(
        &self,
        endorsed: &Endorsed,
    ) -> Result<(peer::TxValidationCode, u64)> {
        let envelope = sign_envelope(self.signer.as_ref(), endorsed.prepared.clone())?;
        let started = tokio::time::Instant::now();
        let (mut last, mut waits, mut failures) = (Outcome::Start, 0u32, 0u32);
        let mut last_error: Option<Error> = None;
        let mut sent = 0u32;
        loop {
            match self
                .patience
                .next_step(last, started.elapsed(), waits, failures)
            {
                Step::Submit => {
                    if sent > 0 {
                        tracing::info!(tx = %endorsed.tx_id, channel = %endorsed.channel, attempt = sent + 1, "nothing committed yet: sending the transaction again");
                    }
                    sent += 1;
                    match self.submit_signed(endorsed, envelope.clone()).await {
                        Ok(()) => {
                            failures = 0;
                            last = Outcome::Submitted;
                        }
                        Err(e) if e.fault() == crate::Fault::Transient => {
                            tracing::debug!(tx = %endorsed.tx_id, error = %e, "submit failed; retrying shortly");
                            failures += 1;
                            last = Outcome::Unreachable;
                            last_error = Some(e);
                        }
                        Err(e) => return Err(e),
                    }
                }
                Step::Wait(wait) => {
                    waits += 1;
                    match self
                        .commit_status_within(&endorsed.channel, &endorsed.tx_id, wait)
                        .await
                    {
                        // A copy sent after the first one was ordered is
                        // a duplicate; the ledger keeps the first copy's
                        // code: ask once more.
                        Ok((peer::TxValidationCode::DuplicateTxid, _)) if sent > 1 => {
                            return self
                                .commit_status_within(
                                    &endorsed.channel,
                                    &endorsed.tx_id,
                                    self.patience.resubmit_after,
                                )
                                .await;
                        }
                        Ok(done) => return Ok(done),
                        Err(Error::Timeout { .. }) => {
                            last = Outcome::NotCommitted;
                        }
                        Err(e) if e.fault() == crate::Fault::Transient => {
                            failures += 1;
                            last = Outcome::Unreachable;
                            last_error = Some(e);
                        }
                        Err(e) => return Err(e),
                    }
                }
                Step::Pause(pause) => {
                    tokio::time::sleep(pause).await;
                    last = Outcome::NotCommitted;
                }
                Step::GiveUp => {
                    return Err(match (last, last_error) {
                        (Outcome::Unreachable, Some(e)) => e,
                        _ => Error::Timeout {
                            what: format!(
                                "transaction {} to commit on channel {} at {} (sent {sent} times)",
                                endorsed.tx_id,
                                endorsed.channel,
                                self.name()
                            ),
                            after: self.patience.total,
                        },
                    });
                }
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn patience() -> CommitPatience {
        CommitPatience {
            total: 20 * S,
            resubmit_after: 3 * S,
            longest_wait: 8 * S,
            first_pause: Duration::from_millis(200),
            longest_pause: S,
        }
    }

    #[test]
    fn a_healthy_network_is_submitted_once_and_waited_for() {
        let p = patience();
        assert_eq!(
            p.next_step(Outcome::Start, Duration::ZERO, 0, 0),
            Step::Submit
        );
        assert_eq!(
            p.next_step(Outcome::Submitted, Duration::ZERO, 0, 0),
            Step::Wait(3 * S)
        );
    }

    #[test]
    fn a_lost_transaction_is_sent_again_after_a_few_seconds() {
        let p = patience();
        // The first wait ran out: the same envelope goes out again at once.
        assert_eq!(
            p.next_step(Outcome::NotCommitted, 3 * S, 1, 0),
            Step::Submit
        );
        // Later waits grow, so a slow network does not get every
        // transaction twice, but stay bounded.
        assert_eq!(
            p.next_step(Outcome::Submitted, 3 * S, 1, 0),
            Step::Wait(6 * S)
        );
        assert_eq!(
            p.next_step(Outcome::Submitted, 9 * S, 2, 0),
            Step::Wait(8 * S)
        );
        assert_eq!(
            p.next_step(Outcome::Submitted, 9 * S, 30, 0),
            Step::Wait(8 * S)
        );
        // Never past the whole budget.
        assert_eq!(
            p.next_step(Outcome::Submitted, 18 * S, 3, 0),
            Step::Wait(2 * S)
        );
        assert_eq!(
            p.next_step(Outcome::NotCommitted, 20 * S, 4, 0),
            Step::GiveUp
        );
        assert_eq!(p.next_step(Outcome::Submitted, 25 * S, 4, 0), Step::GiveUp);
    }

    #[test]
    fn an_unreachable_orderer_is_retried_with_a_short_growing_pause() {
        let p = patience();
        let pauses: Vec<Step> = (1..=5)
            .map(|n| p.next_step(Outcome::Unreachable, S, 0, n))
            .collect();
        assert_eq!(
            pauses,
            vec![
                Step::Pause(Duration::from_millis(200)),
                Step::Pause(Duration::from_millis(400)),
                Step::Pause(Duration::from_millis(800)),
                Step::Pause(S),
                Step::Pause(S),
            ]
        );
        // A pause that would end past the budget gives up instead.
        assert_eq!(
            p.next_step(
                Outcome::Unreachable,
                20 * S - Duration::from_millis(100),
                0,
                1
            ),
            Step::GiveUp
        );
    }
}
