//! Building and signing the messages of a transaction: proposals, transaction
//! envelopes assembled from endorsements, and signed envelopes of any type.
//!
//! The main type is [`SignedProposal`] (a proposal with its transaction
//! context, ready for an endorser or the gateway). Key decision: every
//! signed structure keeps the exact bytes that were signed (`proposal_bytes`,
//! `payload`), never re-encodes them, so signatures always cover what Fabric
//! verifies.

use std::collections::BTreeMap;
use std::time::SystemTime;

use prost::Message;

use crate::error::{Error, Result};
use crate::identity::{Signer, TxContext};
use crate::protos::common::{
    ChannelHeader, Envelope, Header, HeaderType, Payload, SignatureHeader,
};
use crate::protos::peer;

/// A chaincode call before signing: channel, chaincode, arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChaincodeCall {
    /// The channel; empty for peer-level calls (install, join).
    pub channel: String,
    pub chaincode: String,
    /// `args[0]` is the function name by convention.
    pub args: Vec<Vec<u8>>,
    /// Private inputs: seen by the endorsers, never written to the ledger.
    pub transient: BTreeMap<String, Vec<u8>>,
    /// Marks the call as the chaincode's `Init` (definitions with init_required).
    pub is_init: bool,
}

impl ChaincodeCall {
    /// `function(args...)` on `chaincode` in `channel`.
    pub fn new<A: AsRef<[u8]>>(
        channel: &str,
        chaincode: &str,
        function: &str,
        args: impl IntoIterator<Item = A>,
    ) -> ChaincodeCall {
        let mut all = vec![function.as_bytes().to_vec()];
        all.extend(args.into_iter().map(|a| a.as_ref().to_vec()));
        ChaincodeCall {
            channel: channel.to_string(),
            chaincode: chaincode.to_string(),
            args: all,
            transient: BTreeMap::new(),
            is_init: false,
        }
    }

    /// Adds a transient (private) input.
    pub fn with_transient(mut self, key: &str, value: impl Into<Vec<u8>>) -> ChaincodeCall {
        self.transient.insert(key.to_string(), value.into());
        self
    }

    /// Builds and signs the proposal for this call as `signer`.
    pub fn sign(&self, signer: &dyn Signer) -> Result<SignedProposal> {
        let ctx = TxContext::new(signer);
        self.sign_with(signer, ctx)
    }

    /// Like [`ChaincodeCall::sign`] with a given transaction context.
    pub fn sign_with(&self, signer: &dyn Signer, ctx: TxContext) -> Result<SignedProposal> {
        let chaincode_id = peer::ChaincodeId {
            name: self.chaincode.clone(),
            ..Default::default()
        };
        let extension = peer::ChaincodeHeaderExtension {
            chaincode_id: Some(chaincode_id.clone()),
        }
        .encode_to_vec();
        let header = Header {
            channel_header: channel_header(
                HeaderType::EndorserTransaction,
                &self.channel,
                &ctx.tx_id,
                extension,
            )
            .encode_to_vec(),
            signature_header: SignatureHeader {
                creator: ctx.creator.clone(),
                nonce: ctx.nonce.clone(),
            }
            .encode_to_vec(),
        };
        let input = peer::ChaincodeInvocationSpec {
            chaincode_spec: Some(peer::ChaincodeSpec {
                r#type: peer::chaincode_spec::Type::Undefined as i32,
                chaincode_id: Some(chaincode_id),
                input: Some(peer::ChaincodeInput {
                    args: self.args.clone(),
                    decorations: BTreeMap::new(),
                    is_init: self.is_init,
                }),
                timeout: 0,
            }),
        };
        let payload = peer::ChaincodeProposalPayload {
            input: input.encode_to_vec(),
            transient_map: self.transient.clone(),
        };
        let proposal = peer::Proposal {
            header: header.encode_to_vec(),
            payload: payload.encode_to_vec(),
            extension: Vec::new(),
        };
        let proposal_bytes = proposal.encode_to_vec();
        let signature = signer.sign(&proposal_bytes)?;
        Ok(SignedProposal {
            channel: self.channel.clone(),
            chaincode: self.chaincode.clone(),
            ctx,
            proposal,
            signed: peer::SignedProposal {
                proposal_bytes,
                signature,
            },
        })
    }
}

/// A signed proposal and what is needed to turn its endorsements into a
/// transaction.
#[derive(Debug, Clone)]
pub struct SignedProposal {
    pub channel: String,
    pub chaincode: String,
    pub ctx: TxContext,
    pub proposal: peer::Proposal,
    pub signed: peer::SignedProposal,
}

impl SignedProposal {
    /// The transaction ID.
    pub fn tx_id(&self) -> &str {
        &self.ctx.tx_id
    }

    /// Assembles the transaction envelope from endorsements of this proposal
    /// (the way Fabric's own clients do): all responses must be successful and
    /// carry byte-identical payloads; duplicate endorsers are dropped.
    pub fn assemble(
        &self,
        signer: &dyn Signer,
        responses: &[peer::ProposalResponse],
    ) -> Result<Envelope> {
        let first = responses.first().ok_or_else(|| {
            Error::invalid("endorsements", "at least one proposal response is needed")
        })?;
        for r in responses {
            let resp = r.response.clone().unwrap_or_default();
            if !(200..400).contains(&resp.status) {
                return Err(Error::invalid(
                    format!("endorsement of transaction {}", self.tx_id()),
                    format!(
                        "a proposal response has status {}: {}",
                        resp.status, resp.message
                    ),
                ));
            }
            if r.payload != first.payload {
                return Err(Error::invalid(
                    format!("endorsements of transaction {}", self.tx_id()),
                    "the endorsers computed different results (their response payloads differ); \
                     check that every peer runs the same chaincode and state",
                ));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        let endorsements: Vec<peer::Endorsement> = responses
            .iter()
            .filter_map(|r| r.endorsement.clone())
            .filter(|e| seen.insert(e.endorser.clone()))
            .collect();
        if endorsements.is_empty() {
            return Err(Error::invalid(
                format!("endorsements of transaction {}", self.tx_id()),
                "no response carries an endorsement",
            ));
        }
        let header = Header::decode(self.proposal.header.as_slice())
            .map_err(|e| Error::decode("proposal header", "this client", e))?;
        let payload = peer::ChaincodeProposalPayload::decode(self.proposal.payload.as_slice())
            .map_err(|e| Error::decode("proposal payload", "this client", e))?;
        // The transient map never goes into the transaction.
        let payload_for_tx = peer::ChaincodeProposalPayload {
            input: payload.input,
            transient_map: BTreeMap::new(),
        };
        let action_payload = peer::ChaincodeActionPayload {
            chaincode_proposal_payload: payload_for_tx.encode_to_vec(),
            action: Some(peer::ChaincodeEndorsedAction {
                proposal_response_payload: first.payload.clone(),
                endorsements,
            }),
        };
        let tx = peer::Transaction {
            actions: vec![peer::TransactionAction {
                header: header.signature_header.clone(),
                payload: action_payload.encode_to_vec(),
            }],
        };
        let payload = Payload {
            header: Some(header),
            data: tx.encode_to_vec(),
        }
        .encode_to_vec();
        let signature = signer.sign(&payload)?;
        Ok(Envelope { payload, signature })
    }
}

/// A channel header stamped with the current time.
pub fn channel_header(
    kind: HeaderType,
    channel: &str,
    tx_id: &str,
    extension: Vec<u8>,
) -> ChannelHeader {
    ChannelHeader {
        r#type: kind as i32,
        version: 0,
        timestamp: Some(now()),
        channel_id: channel.to_string(),
        tx_id: tx_id.to_string(),
        epoch: 0,
        extension,
        tls_cert_hash: Vec::new(),
    }
}

/// The current time as a protobuf timestamp.
pub fn now() -> prost_types::Timestamp {
    prost_types::Timestamp::from(SystemTime::now())
}

/// Signs `data` as the payload of an envelope of type `kind` on `channel`,
/// with a fresh nonce and transaction ID (deliver requests, config updates).
pub fn signed_envelope(
    signer: &dyn Signer,
    kind: HeaderType,
    channel: &str,
    data: Vec<u8>,
) -> Result<Envelope> {
    let ctx = TxContext::new(signer);
    let payload = Payload {
        header: Some(Header {
            channel_header: channel_header(kind, channel, &ctx.tx_id, Vec::new()).encode_to_vec(),
            signature_header: SignatureHeader {
                creator: ctx.creator,
                nonce: ctx.nonce,
            }
            .encode_to_vec(),
        }),
        data,
    }
    .encode_to_vec();
    let signature = signer.sign(&payload)?;
    Ok(Envelope { payload, signature })
}

/// Signs the payload of an envelope the gateway prepared.
pub fn sign_envelope(signer: &dyn Signer, mut envelope: Envelope) -> Result<Envelope> {
    envelope.signature = signer.sign(&envelope.payload)?;
    Ok(envelope)
}

/// The parts of an endorser transaction envelope a client needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionSummary {
    pub channel: String,
    pub tx_id: String,
    /// The chaincode's response (status, message, payload) as endorsed.
    pub response: peer::Response,
    /// The chaincode event set by the transaction, if any.
    pub event: Option<peer::ChaincodeEvent>,
}

/// Reads channel, transaction ID, chaincode response and event out of an
/// endorser transaction envelope (signed or not).
pub fn summarize_transaction(envelope: &Envelope) -> Result<TransactionSummary> {
    let what = |w: &str| format!("{w} of a transaction envelope");
    let node = "transaction envelope";
    let payload = Payload::decode(envelope.payload.as_slice())
        .map_err(|e| Error::decode(what("payload"), node, e))?;
    let header = payload.header.unwrap_or_default();
    let ch = ChannelHeader::decode(header.channel_header.as_slice())
        .map_err(|e| Error::decode(what("channel header"), node, e))?;
    if ch.r#type != HeaderType::EndorserTransaction as i32 {
        return Err(Error::protocol(
            "reading a transaction",
            node,
            format!("header type {} is not an endorser transaction", ch.r#type),
        ));
    }
    let tx = peer::Transaction::decode(payload.data.as_slice())
        .map_err(|e| Error::decode(what("transaction"), node, e))?;
    let action = tx
        .actions
        .first()
        .ok_or_else(|| Error::protocol("reading a transaction", node, "no actions"))?;
    let cap = peer::ChaincodeActionPayload::decode(action.payload.as_slice())
        .map_err(|e| Error::decode(what("chaincode action payload"), node, e))?;
    let endorsed = cap.action.unwrap_or_default();
    let prp = peer::ProposalResponsePayload::decode(endorsed.proposal_response_payload.as_slice())
        .map_err(|e| Error::decode(what("proposal response payload"), node, e))?;
    let cc_action = peer::ChaincodeAction::decode(prp.extension.as_slice())
        .map_err(|e| Error::decode(what("chaincode action"), node, e))?;
    let event = if cc_action.events.is_empty() {
        None
    } else {
        Some(
            peer::ChaincodeEvent::decode(cc_action.events.as_slice())
                .map_err(|e| Error::decode(what("chaincode event"), node, e))?,
        )
    };
    Ok(TransactionSummary {
        channel: ch.channel_id,
        tx_id: ch.tx_id,
        response: cc_action.response.unwrap_or_default(),
        event,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::identity::{SigningIdentity, compute_tx_id};

    pub(crate) fn test_identity(msp_id: &str) -> SigningIdentity {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let params = rcgen::CertificateParams::new(vec!["user".to_string()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        SigningIdentity::from_pem(
            msp_id,
            cert.pem().as_bytes(),
            key.serialize_pem().as_bytes(),
        )
        .unwrap()
    }

    #[test]
    fn proposal_carries_channel_chaincode_args_and_a_valid_signature() {
        let id = test_identity("Org1MSP");
        let call = ChaincodeCall::new("trade", "kv", "put", ["k", "v"])
            .with_transient("secret", b"s".to_vec());
        let sp = call.sign(&id).unwrap();
        assert!(
            id.public_key()
                .verify(&sp.signed.proposal_bytes, &sp.signed.signature)
        );
        let proposal = peer::Proposal::decode(sp.signed.proposal_bytes.as_slice()).unwrap();
        assert_eq!(proposal, sp.proposal);
        let header = Header::decode(proposal.header.as_slice()).unwrap();
        let ch = ChannelHeader::decode(header.channel_header.as_slice()).unwrap();
        assert_eq!(ch.r#type, HeaderType::EndorserTransaction as i32);
        assert_eq!(ch.channel_id, "trade");
        assert_eq!(ch.tx_id, sp.tx_id());
        let ext = peer::ChaincodeHeaderExtension::decode(ch.extension.as_slice()).unwrap();
        assert_eq!(ext.chaincode_id.unwrap().name, "kv");
        let sh = SignatureHeader::decode(header.signature_header.as_slice()).unwrap();
        assert_eq!(sh.creator, id.serialized_identity());
        assert_eq!(compute_tx_id(&sh.nonce, &sh.creator), ch.tx_id);
        let payload = peer::ChaincodeProposalPayload::decode(proposal.payload.as_slice()).unwrap();
        assert_eq!(payload.transient_map.get("secret").unwrap(), b"s");
        let cis = peer::ChaincodeInvocationSpec::decode(payload.input.as_slice()).unwrap();
        let args = cis.chaincode_spec.unwrap().input.unwrap().args;
        assert_eq!(args, vec![b"put".to_vec(), b"k".to_vec(), b"v".to_vec()]);
    }

    fn response(payload: &[u8], endorser: &[u8], status: i32) -> peer::ProposalResponse {
        let action = peer::ChaincodeAction {
            response: Some(peer::Response {
                status,
                message: String::new(),
                payload: b"result".to_vec(),
            }),
            events: peer::ChaincodeEvent {
                chaincode_id: "kv".into(),
                tx_id: "t".into(),
                event_name: "put".into(),
                payload: b"k".to_vec(),
            }
            .encode_to_vec(),
            ..Default::default()
        };
        let prp = peer::ProposalResponsePayload {
            proposal_hash: payload.to_vec(),
            extension: action.encode_to_vec(),
        };
        peer::ProposalResponse {
            version: 1,
            timestamp: None,
            response: Some(peer::Response {
                status,
                message: String::new(),
                payload: Vec::new(),
            }),
            payload: prp.encode_to_vec(),
            endorsement: Some(peer::Endorsement {
                endorser: endorser.to_vec(),
                signature: b"sig".to_vec(),
            }),
        }
    }

    #[test]
    fn transaction_is_assembled_from_matching_endorsements_without_transient_data() {
        let id = test_identity("Org1MSP");
        let sp = ChaincodeCall::new("trade", "kv", "put", ["k"])
            .with_transient("secret", b"s".to_vec())
            .sign(&id)
            .unwrap();
        let a = response(b"h", b"org1", 200);
        let b = response(b"h", b"org2", 200);
        let dup = response(b"h", b"org2", 200);
        let env = sp.assemble(&id, &[a, b, dup]).unwrap();
        assert!(id.public_key().verify(&env.payload, &env.signature));
        let payload = Payload::decode(env.payload.as_slice()).unwrap();
        let tx = peer::Transaction::decode(payload.data.as_slice()).unwrap();
        let cap = peer::ChaincodeActionPayload::decode(tx.actions[0].payload.as_slice()).unwrap();
        assert_eq!(cap.action.as_ref().unwrap().endorsements.len(), 2);
        let ccpp =
            peer::ChaincodeProposalPayload::decode(cap.chaincode_proposal_payload.as_slice())
                .unwrap();
        assert!(ccpp.transient_map.is_empty());
        let summary = summarize_transaction(&env).unwrap();
        assert_eq!(summary.tx_id, sp.tx_id());
        assert_eq!(summary.channel, "trade");
        assert_eq!(summary.response.payload, b"result");
        assert_eq!(summary.event.unwrap().event_name, "put");
    }

    #[test]
    fn mismatching_or_failed_endorsements_are_refused() {
        let id = test_identity("Org1MSP");
        let sp = ChaincodeCall::new("trade", "kv", "get", ["k"])
            .sign(&id)
            .unwrap();
        let err = sp
            .assemble(
                &id,
                &[response(b"h1", b"a", 200), response(b"h2", b"b", 200)],
            )
            .unwrap_err();
        assert!(err.to_string().contains("different results"), "{err}");
        let err = sp.assemble(&id, &[response(b"h", b"a", 500)]).unwrap_err();
        assert!(err.to_string().contains("status 500"), "{err}");
        assert!(sp.assemble(&id, &[]).is_err());
    }
}
