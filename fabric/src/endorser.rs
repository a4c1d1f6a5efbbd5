//! A peer's endorser service (`protos.Endorser/ProcessProposal`), for admin
//! calls to system chaincodes (`cscc`, `_lifecycle`) on one chosen peer and for
//! endorsing on explicitly named peers.
//!
//! The main type is [`Endorser`]: one peer plus the identity that signs.
//! Key decision: a proposal response whose chaincode status is not 2xx/3xx is
//! an [`Error::Refused`] carrying the peer's status and message, so callers
//! never mistake a refusal for a result.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::identity::Signer;
use crate::node::{MAX_MESSAGE_SIZE, Node, grpc_error};
use crate::protos::peer;
use crate::protos::peer::endorser_client::EndorserClient;
use crate::tx::{ChaincodeCall, SignedProposal};

/// One peer's endorser, called as one identity.
#[derive(Clone)]
pub struct Endorser {
    node: Node,
    signer: Arc<dyn Signer>,
}

impl std::fmt::Debug for Endorser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endorser")
            .field("node", &self.node.name())
            .field("msp_id", &self.signer.msp_id())
            .finish()
    }
}

impl Endorser {
    pub fn new(node: Node, signer: Arc<dyn Signer>) -> Endorser {
        Endorser { node, signer }
    }

    pub fn node(&self) -> &Node {
        &self.node
    }

    pub fn signer(&self) -> &Arc<dyn Signer> {
        &self.signer
    }

    /// Sends a signed proposal; returns the response when the chaincode
    /// answered with a success status, [`Error::Refused`] otherwise.
    pub async fn process(
        &self,
        call_name: &str,
        proposal: &SignedProposal,
    ) -> Result<peer::ProposalResponse> {
        let mut client = EndorserClient::new(self.node.channel())
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE);
        let response = client
            .process_proposal(proposal.signed.clone())
            .await
            .map_err(|s| grpc_error(call_name, self.node.name(), s))?
            .into_inner();
        let status = response.response.as_ref().map(|r| r.status).unwrap_or(0);
        if !(200..400).contains(&status) {
            let message = response.response.map(|r| r.message).unwrap_or_default();
            return Err(Error::Refused {
                call: call_name.to_string(),
                node: self.node.name().to_string(),
                status,
                message,
            });
        }
        Ok(response)
    }

    /// Signs `call` as this endorser's identity, sends it, and returns the
    /// chaincode's response payload. `call_name` names the call in errors
    /// (e.g. `_lifecycle QueryInstalledChaincodes`).
    pub async fn query(&self, call_name: &str, call: &ChaincodeCall) -> Result<Vec<u8>> {
        let proposal = call.sign(self.signer.as_ref())?;
        let response = self.process(call_name, &proposal).await?;
        Ok(response.response.map(|r| r.payload).unwrap_or_default())
    }
}

/// Endorses `proposal` on every one of `endorsers` (e.g. one peer per
/// organization the endorsement policy needs), assembles and signs the
/// transaction as `signer` (the proposal's creator), broadcasts it to
/// `orderer`, and waits for the commit on `watcher` (a peer's deliver).
///
/// This is the path for callers that know the endorsing peers themselves;
/// [`crate::gateway::Gateway::submit_proposal`] lets the gateway find them.
pub async fn submit_with_endorsers(
    signer: &dyn Signer,
    proposal: &SignedProposal,
    endorsers: &[Endorser],
    orderer: &crate::orderer::Orderer,
    watcher: &crate::deliver::Deliverer,
    timeout: std::time::Duration,
) -> Result<crate::gateway::Committed> {
    use crate::deliver::Seek;
    if endorsers.is_empty() {
        return Err(Error::invalid(
            "endorsers",
            "at least one endorsing peer is needed",
        ));
    }
    let call = format!(
        "Endorse {} transaction {}",
        proposal.chaincode,
        proposal.tx_id()
    );
    let responses =
        futures::future::try_join_all(endorsers.iter().map(|e| e.process(&call, proposal))).await?;
    let envelope = proposal.assemble(signer, &responses)?;
    let summary = crate::tx::summarize_transaction(&envelope)?;
    // Note the height before ordering so the wait cannot miss the block.
    let start = crate::block::number(&watcher.block(&proposal.channel, Seek::Newest).await?);
    orderer.broadcast(envelope).await?;
    let block = watcher
        .wait_for_transaction(
            &proposal.channel,
            proposal.tx_id(),
            Seek::Number(start),
            timeout,
        )
        .await?;
    Ok(crate::gateway::Committed {
        tx_id: proposal.tx_id().to_string(),
        result: summary.response.payload,
        block,
        event: summary.event,
    })
}
