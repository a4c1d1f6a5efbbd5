//! A test harness: an in-memory world state, a clock, organizations with
//! generated P-256 certificates, and a `call` that runs the contract the way
//! the shell does (writes applied only on success, the event kept).

#![allow(dead_code)]

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use opssc_chaincode::sig::{SerializedIdentity, SignatureHeader};
use opssc_chaincode::{ContractError, Event, MemState, Outcome, TxContext, invoke};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::DecodePrivateKey;
use prost::Message;
use serde_json::{Value, json};

pub const T0: i64 = 1_700_000_000;
pub const OPS: &str = "opschannel";
pub const ORGS: [&str; 3] = ["Org1MSP", "Org2MSP", "Org3MSP"];

pub struct Identity {
    pub cert_pem: Vec<u8>,
    pub key: SigningKey,
}

/// An admin identity (NodeOU role `admin`, as cryptogen issues them).
pub fn identity(cn: &str) -> Identity {
    identity_with_ou(cn, "admin")
}

/// An identity whose certificate subject carries `OU=<ou>` (the NodeOU role).
pub fn identity_with_ou(cn: &str, ou: &str) -> Identity {
    let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(vec![cn.to_string()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn.to_string());
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationalUnitName, ou.to_string());
    let cert = params.self_signed(&kp).unwrap();
    let key = SigningKey::from_pkcs8_der(&kp.serialize_der()).unwrap();
    Identity {
        cert_pem: cert.pem().into_bytes(),
        key,
    }
}

pub struct Net {
    pub state: MemState,
    pub now: i64,
    pub txn: u64,
    pub events: Vec<Event>,
    pub ids: BTreeMap<String, Identity>,
    /// Client (non-admin) identities, by organization.
    pub clients: BTreeMap<String, Identity>,
    /// The last successful outcome.
    pub last: Option<Outcome>,
}

impl Net {
    pub fn new() -> Self {
        Net {
            state: MemState::new(),
            now: T0,
            txn: 0,
            events: Vec::new(),
            ids: BTreeMap::new(),
            clients: BTreeMap::new(),
            last: None,
        }
    }

    /// A founded network: ops channel with Org1..3, channel `ch1` with all
    /// three, channel `ch2` with Org1 and Org2.
    /// Every founding member confirms the same `found` arguments.
    pub fn founded() -> Self {
        let mut n = Net::new();
        let args = json!({
            "ops_channel": OPS,
            "members": ORGS,
            "channels": [
                {"name": "ch1", "members": ORGS},
                {"name": "ch2", "members": ["Org1MSP", "Org2MSP"]},
            ],
        });
        let mut last = Value::Null;
        for org in ORGS {
            last = n.call(org, "found", args.clone()).unwrap();
        }
        assert_eq!(last["outcome"], "founded");
        n
    }

    pub fn cert(&mut self, org: &str) -> Vec<u8> {
        self.ids
            .entry(org.to_string())
            .or_insert_with(|| identity(org))
            .cert_pem
            .clone()
    }

    /// A client (NodeOU role `client`) certificate of `org`.
    pub fn client_cert(&mut self, org: &str) -> Vec<u8> {
        self.clients
            .entry(org.to_string())
            .or_insert_with(|| identity_with_ou(&format!("User1@{org}"), "client"))
            .cert_pem
            .clone()
    }

    pub fn ctx(&mut self, org: &str) -> TxContext {
        let cert = self.cert(org);
        self.ctx_with(org, cert, self.now)
    }

    pub fn ctx_with(&mut self, org: &str, cert: Vec<u8>, timestamp: i64) -> TxContext {
        self.txn += 1;
        TxContext {
            creator_msp: org.to_string(),
            creator_cert: cert,
            tx_id: format!("tx{:04}", self.txn),
            timestamp,
        }
    }

    /// Runs a call with an explicit context (certificate, timestamp); applies
    /// its writes on success like `call`.
    pub fn call_ctx(
        &mut self,
        ctx: TxContext,
        f: &str,
        args: Value,
    ) -> Result<Value, ContractError> {
        let out = invoke(&self.state, &ctx, f, &[serde_json::to_vec(&args).unwrap()])?;
        self.state.apply(&out.writes);
        if let Some(e) = &out.event {
            self.events.push(e.clone());
        }
        let v = serde_json::from_slice(&out.response).unwrap();
        self.last = Some(out);
        Ok(v)
    }

    /// `call` by `org`'s admin with a transaction timestamp of its choosing.
    pub fn call_at(
        &mut self,
        org: &str,
        at: i64,
        f: &str,
        args: Value,
    ) -> Result<Value, ContractError> {
        let cert = self.cert(org);
        let ctx = self.ctx_with(org, cert, at);
        self.call_ctx(ctx, f, args)
    }

    /// `call` by a client (non-admin) identity of `org`.
    pub fn call_as_client(
        &mut self,
        org: &str,
        f: &str,
        args: Value,
    ) -> Result<Value, ContractError> {
        let cert = self.client_cert(org);
        let ctx = self.ctx_with(org, cert, self.now);
        self.call_ctx(ctx, f, args)
    }

    /// Asserts that `r` is a refusal and that it changed nothing since `before`.
    pub fn assert_refused(
        &self,
        r: Result<Value, ContractError>,
        before: &MemState,
        events: usize,
    ) -> ContractError {
        let e = r.expect_err("the call should be refused");
        assert_eq!(&self.state, before, "a refused call changed the state");
        assert_eq!(self.events.len(), events, "a refused call emitted an event");
        e
    }

    pub fn call_raw(
        &mut self,
        org: &str,
        f: &str,
        args: &[Vec<u8>],
    ) -> Result<Value, ContractError> {
        let ctx = self.ctx(org);
        let out = invoke(&self.state, &ctx, f, args)?;
        self.state.apply(&out.writes);
        if let Some(e) = &out.event {
            self.events.push(e.clone());
        }
        let v = serde_json::from_slice(&out.response).unwrap();
        self.last = Some(out);
        Ok(v)
    }

    pub fn call(&mut self, org: &str, f: &str, args: Value) -> Result<Value, ContractError> {
        self.call_raw(org, f, &[serde_json::to_vec(&args).unwrap()])
    }

    /// Like `call`, and checks that a refused call wrote nothing and emitted nothing.
    pub fn refused(&mut self, org: &str, f: &str, args: Value) -> ContractError {
        let before = self.state.clone();
        let events = self.events.len();
        let e = self
            .call(org, f, args)
            .expect_err("the call should be refused");
        assert_eq!(self.state, before);
        assert_eq!(self.events.len(), events);
        e
    }

    pub fn last_event(&self) -> (String, Value) {
        let e = self.events.last().expect("an event");
        (e.name.clone(), serde_json::from_slice(&e.payload).unwrap())
    }

    pub fn get(&mut self, id: &str) -> Value {
        self.call("Org1MSP", "get", json!({ "id": id })).unwrap()
    }

    pub fn state_of(&mut self, id: &str) -> String {
        self.get(id)["proposal"]["state"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// A ConfigSignature by `org` over `update`, as base64 JSON.
    pub fn config_signature(&mut self, org: &str, update: &[u8]) -> Value {
        self.config_signature_as(org, org, update, false)
    }

    /// A ConfigSignature whose creator claims `claimed_msp`, signed with the
    /// key of `org`; `high_s` makes the signature high-S.
    pub fn config_signature_as(
        &mut self,
        org: &str,
        claimed_msp: &str,
        update: &[u8],
        high_s: bool,
    ) -> Value {
        self.cert(org);
        sign_config(&self.ids[org], claimed_msp, update, high_s)
    }
}

/// A ConfigSignature by identity `id` claiming `claimed_msp` over `update`,
/// as base64 JSON; `high_s` makes the signature high-S.
pub fn sign_config(id: &Identity, claimed_msp: &str, update: &[u8], high_s: bool) -> Value {
    let creator = SerializedIdentity {
        mspid: claimed_msp.to_string(),
        id_bytes: id.cert_pem.clone(),
    }
    .encode_to_vec();
    let header = SignatureHeader {
        creator,
        nonce: vec![7; 24],
    }
    .encode_to_vec();
    let mut msg = header.clone();
    msg.extend_from_slice(update);
    let sig: Signature = id.key.sign(&msg);
    let low = sig.normalize_s().unwrap_or(sig);
    let sig = if high_s {
        let (r, s) = low.split_scalars();
        Signature::from_scalars(r, -s).unwrap()
    } else {
        low
    };
    json!({
        "signature_header": STANDARD.encode(&header),
        "signature": STANDARD.encode(sig.to_der().as_bytes()),
    })
}

pub fn spec_ref() -> Value {
    json!({ "git_commit": "a".repeat(40), "spec_hash": "b".repeat(64) })
}

pub fn cc_payload(name: &str, version: &str, sequence: u64) -> Value {
    json!({
        "name": name,
        "version": version,
        "sequence": sequence,
        "package_id": format!("{name}_{version}:{}", "c".repeat(64)),
        "package_hash": "c".repeat(64),
        "endorsement_policy": "OR('Org1MSP.peer','Org2MSP.peer')",
        "init_required": false,
    })
}

/// `propose` arguments for a chaincode deploy on `channel`.
pub fn deploy(channel: &str, name: &str, version: &str) -> Value {
    let mut sr = spec_ref();
    sr["committed_chaincode_sequence"] = json!(0);
    json!({
        "kind": "ChaincodeDeploy",
        "target": { "channel": channel, "chaincode": name },
        "payload": cc_payload(name, version, 1),
        "spec_ref": sr,
    })
}

pub const UPDATE: &[u8] = b"\x0a\x03ch1\x12\x00config-update-bytes";

/// `propose` arguments for a channel update carrying `UPDATE`.
pub fn channel_update(channel: &str) -> Value {
    let mut sr = spec_ref();
    sr["base_config_sequence"] = json!(3);
    json!({
        "kind": "ChannelUpdate",
        "target": { "channel": channel },
        "payload": { "config_update": STANDARD.encode(UPDATE), "summary": "BatchTimeout 2s -> 500ms" },
        "spec_ref": sr,
    })
}

pub fn org_add(channel: &str, org: &str) -> Value {
    let mut sr = spec_ref();
    sr["base_config_sequence"] = json!(3);
    json!({
        "kind": "OrgAdd",
        "target": { "channel": channel },
        "payload": { "org": org, "config_update": STANDARD.encode(UPDATE) },
        "spec_ref": sr,
    })
}

pub fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}
