//! The chaincode side of Fabric's chaincode protocol, served as
//! chaincode-as-a-service: the peer dials [`serve`]'s gRPC server
//! (`protos.Chaincode/Connect`) and the chaincode answers its transactions.
//!
//! The user implements [`Chaincode`]; each transaction gets a [`Stub`] with the
//! function and arguments, transaction ID, channel, timestamp, creator,
//! state access (get/put/del, range and partial composite key queries with
//! pagination) and the event to emit.
//!
//! Protocol: on a new stream the chaincode sends REGISTER with its chaincode ID
//! (the package ID), the peer answers REGISTERED then READY, then sends INIT or
//! TRANSACTION messages. Each stub call is a request on the same stream that
//! the peer answers with RESPONSE or ERROR carrying the same channel and
//! transaction ID; the transaction ends with COMPLETED carrying the
//! chaincode's `Response`. Key decision: transactions run concurrently, each in
//! its own task, and answers are routed to the waiting stub by (channel, tx
//! ID); a stub's calls are sequential (`&mut self`), as the protocol requires.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use prost::Message;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::MAX_MESSAGE_SIZE;
use crate::error::{Error, Result};
use crate::protos::common::{ChannelHeader, Header, SignatureHeader};
use crate::protos::msp::SerializedIdentity;
use crate::protos::peer::chaincode_message::Type as MsgType;
use crate::protos::peer::chaincode_server::{Chaincode as ChaincodeService, ChaincodeServer};
use crate::protos::peer::{
    ChaincodeEvent, ChaincodeId, ChaincodeInput, ChaincodeMessage, ChaincodeProposalPayload,
    DelState, GetState, GetStateByRange, Proposal, PutState, QueryMetadata, QueryResponse,
    QueryResponseMetadata, QueryStateClose, QueryStateNext, Response as PeerResponse,
};
use crate::protos::queryresult::Kv;

/// A chaincode: its answer to each transaction.
///
/// `Ok(payload)` becomes a 200 response; `Err(message)` a 500 response whose
/// message the client sees (and the transaction is not endorsed).
pub trait Chaincode: Send + Sync + 'static {
    /// Called for transactions marked as `Init` (definitions with
    /// `init_required`). Does nothing by default.
    fn init(&self, stub: &mut Stub) -> impl Future<Output = Result<Vec<u8>, String>> + Send {
        let _ = stub;
        async { Ok(Vec::new()) }
    }

    /// Called for every other transaction.
    fn invoke(&self, stub: &mut Stub) -> impl Future<Output = Result<Vec<u8>, String>> + Send;
}

/// A failed stub call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StubError {
    /// The peer refused the request; the text is the peer's.
    #[error("the peer refused {call}: {message}")]
    Peer { call: &'static str, message: String },
    /// The stream to the peer is gone.
    #[error("the connection to the peer closed during {call}")]
    Disconnected { call: &'static str },
    /// Invalid input to a stub call (e.g. a key with a NUL where none is allowed).
    #[error("invalid argument to {call}: {message}")]
    Invalid { call: &'static str, message: String },
    /// The peer's answer could not be decoded.
    #[error("cannot decode the peer's answer to {call}: {message}")]
    Decode { call: &'static str, message: String },
}

impl From<StubError> for String {
    fn from(e: StubError) -> String {
        e.to_string()
    }
}

/// One page of a paginated query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub entries: Vec<(String, Vec<u8>)>,
    /// Pass to the next call to continue after this page; empty at the end.
    pub bookmark: String,
    pub fetched: i32,
}

type Pending = Arc<Mutex<HashMap<(String, String), oneshot::Sender<ChaincodeMessage>>>>;

/// The state of one stream to a peer shared by its transactions.
#[derive(Clone)]
struct Conn {
    out: mpsc::Sender<std::result::Result<ChaincodeMessage, Status>>,
    pending: Pending,
}

/// The chaincode's view of one transaction.
pub struct Stub {
    conn: Conn,
    channel_id: String,
    tx_id: String,
    args: Vec<Vec<u8>>,
    timestamp: Option<prost_types::Timestamp>,
    creator: SerializedIdentity,
    transient: BTreeMap<String, Vec<u8>>,
    event: Option<ChaincodeEvent>,
}

/// The smallest key: Fabric substitutes it for an empty range start.
const EMPTY_KEY_SUBSTITUTE: &str = "\u{1}";
/// Composite keys start with this and separate their parts with it.
const COMPOSITE_NS: char = '\u{0}';
/// The largest Unicode scalar value ends partial composite key ranges.
const MAX_UNICODE: char = '\u{10FFFF}';

impl Stub {
    /// The function name (the first argument), empty when there are no arguments.
    pub fn function(&self) -> String {
        self.args
            .first()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .unwrap_or_default()
    }

    /// The arguments after the function name.
    pub fn args(&self) -> &[Vec<u8>] {
        self.args.get(1..).unwrap_or(&[])
    }

    /// The arguments after the function name, as text (lossy for non-UTF-8).
    pub fn string_args(&self) -> Vec<String> {
        self.args()
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect()
    }

    pub fn tx_id(&self) -> &str {
        &self.tx_id
    }

    pub fn channel_id(&self) -> &str {
        &self.channel_id
    }

    /// The client's timestamp from the proposal (the same on every endorser).
    pub fn tx_timestamp(&self) -> Option<SystemTime> {
        self.timestamp.and_then(|t| SystemTime::try_from(t).ok())
    }

    /// The proposal's creator: MSP ID and PEM certificate.
    pub fn creator(&self) -> &SerializedIdentity {
        &self.creator
    }

    pub fn creator_msp_id(&self) -> &str {
        &self.creator.mspid
    }

    /// The transient (private) inputs of the proposal.
    pub fn transient(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.transient
    }

    /// Sets the event this transaction emits (one per transaction; a second
    /// call replaces the first).
    pub fn set_event(&mut self, name: &str, payload: impl Into<Vec<u8>>) -> Result<(), StubError> {
        if name.is_empty() {
            return Err(StubError::Invalid {
                call: "SetEvent",
                message: "the event name is empty".into(),
            });
        }
        self.event = Some(ChaincodeEvent {
            event_name: name.to_string(),
            payload: payload.into(),
            ..Default::default()
        });
        Ok(())
    }

    async fn request(
        &mut self,
        call: &'static str,
        ty: MsgType,
        payload: Vec<u8>,
    ) -> Result<Vec<u8>, StubError> {
        let key = (self.channel_id.clone(), self.tx_id.clone());
        let (tx, rx) = oneshot::channel();
        self.conn
            .pending
            .lock()
            .expect("the pending map is never poisoned: no panics while held")
            .insert(key, tx);
        let msg = ChaincodeMessage {
            r#type: ty as i32,
            payload,
            txid: self.tx_id.clone(),
            channel_id: self.channel_id.clone(),
            ..Default::default()
        };
        self.conn
            .out
            .send(Ok(msg))
            .await
            .map_err(|_| StubError::Disconnected { call })?;
        let answer = rx.await.map_err(|_| StubError::Disconnected { call })?;
        match MsgType::try_from(answer.r#type) {
            Ok(MsgType::Response) => Ok(answer.payload),
            Ok(MsgType::Error) => Err(StubError::Peer {
                call,
                message: String::from_utf8_lossy(&answer.payload).into_owned(),
            }),
            _ => Err(StubError::Decode {
                call,
                message: format!("unexpected message type {}", answer.r#type),
            }),
        }
    }

    /// The value of `key`, `None` when absent.
    pub async fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, StubError> {
        self.get_in("", key).await
    }

    /// The value of `key` in private data collection `collection`, `None`
    /// when absent. The peer refuses it when this peer's organization is
    /// not a member, or when the collection is member-only-read and the
    /// client is not a member.
    pub async fn get_private_data(
        &mut self,
        collection: &str,
        key: &str,
    ) -> Result<Option<Vec<u8>>, StubError> {
        if collection.is_empty() {
            return Err(StubError::Invalid {
                call: "GetPrivateData",
                message: "the collection name is empty".into(),
            });
        }
        self.get_in(collection, key).await
    }

    async fn get_in(&mut self, collection: &str, key: &str) -> Result<Option<Vec<u8>>, StubError> {
        let payload = GetState {
            key: key.to_string(),
            collection: collection.to_string(),
        }
        .encode_to_vec();
        let value = self.request("GetState", MsgType::GetState, payload).await?;
        Ok(if value.is_empty() { None } else { Some(value) })
    }

    /// Writes `key` (applied when the transaction commits).
    pub async fn put_state(
        &mut self,
        key: &str,
        value: impl Into<Vec<u8>>,
    ) -> Result<(), StubError> {
        self.put_in("", key, value.into()).await
    }

    /// Writes `key` into private data collection `collection`: the value
    /// goes to the collection's members' peers only, its hash on the chain.
    pub async fn put_private_data(
        &mut self,
        collection: &str,
        key: &str,
        value: impl Into<Vec<u8>>,
    ) -> Result<(), StubError> {
        if collection.is_empty() {
            return Err(StubError::Invalid {
                call: "PutPrivateData",
                message: "the collection name is empty".into(),
            });
        }
        self.put_in(collection, key, value.into()).await
    }

    async fn put_in(
        &mut self,
        collection: &str,
        key: &str,
        value: Vec<u8>,
    ) -> Result<(), StubError> {
        if key.is_empty() {
            return Err(StubError::Invalid {
                call: "PutState",
                message: "the key is empty".into(),
            });
        }
        let payload = PutState {
            key: key.to_string(),
            value,
            collection: collection.to_string(),
        }
        .encode_to_vec();
        self.request("PutState", MsgType::PutState, payload).await?;
        Ok(())
    }

    /// Deletes `key` (applied when the transaction commits).
    pub async fn del_state(&mut self, key: &str) -> Result<(), StubError> {
        let payload = DelState {
            key: key.to_string(),
            collection: String::new(),
        }
        .encode_to_vec();
        self.request("DelState", MsgType::DelState, payload).await?;
        Ok(())
    }

    /// Every simple key in `[start, end)` (empty `start`: from the first key;
    /// empty `end`: to the last), in key order.
    pub async fn get_state_by_range(
        &mut self,
        start: &str,
        end: &str,
    ) -> Result<Vec<(String, Vec<u8>)>, StubError> {
        check_simple_key("GetStateByRange", start)?;
        check_simple_key("GetStateByRange", end)?;
        let start = if start.is_empty() {
            EMPTY_KEY_SUBSTITUTE
        } else {
            start
        };
        self.range_all(start, end).await
    }

    /// One page of `[start, end)`; pass the returned bookmark to continue.
    pub async fn get_state_by_range_with_pagination(
        &mut self,
        start: &str,
        end: &str,
        page_size: i32,
        bookmark: &str,
    ) -> Result<Page, StubError> {
        check_simple_key("GetStateByRange", start)?;
        check_simple_key("GetStateByRange", end)?;
        let start = if start.is_empty() {
            EMPTY_KEY_SUBSTITUTE
        } else {
            start
        };
        self.range_page(start, end, page_size, bookmark).await
    }

    /// Every composite key of `object_type` whose first attributes are `attrs`.
    pub async fn get_state_by_partial_composite_key(
        &mut self,
        object_type: &str,
        attrs: &[&str],
    ) -> Result<Vec<(String, Vec<u8>)>, StubError> {
        let start =
            create_composite_key(object_type, attrs).map_err(|message| StubError::Invalid {
                call: "GetStateByPartialCompositeKey",
                message,
            })?;
        let end = format!("{start}{MAX_UNICODE}");
        self.range_all(&start, &end).await
    }

    /// One page of [`Stub::get_state_by_partial_composite_key`].
    pub async fn get_state_by_partial_composite_key_with_pagination(
        &mut self,
        object_type: &str,
        attrs: &[&str],
        page_size: i32,
        bookmark: &str,
    ) -> Result<Page, StubError> {
        let start =
            create_composite_key(object_type, attrs).map_err(|message| StubError::Invalid {
                call: "GetStateByPartialCompositeKey",
                message,
            })?;
        let end = format!("{start}{MAX_UNICODE}");
        self.range_page(&start, &end, page_size, bookmark).await
    }

    async fn range_all(
        &mut self,
        start: &str,
        end: &str,
    ) -> Result<Vec<(String, Vec<u8>)>, StubError> {
        let payload = GetStateByRange {
            start_key: start.to_string(),
            end_key: end.to_string(),
            collection: String::new(),
            metadata: Vec::new(),
        }
        .encode_to_vec();
        let mut resp = self
            .query_response("GetStateByRange", MsgType::GetStateByRange, payload)
            .await?;
        let mut out = decode_kvs(&resp)?;
        while resp.has_more {
            let next = QueryStateNext {
                id: resp.id.clone(),
            }
            .encode_to_vec();
            resp = self
                .query_response("QueryStateNext", MsgType::QueryStateNext, next)
                .await?;
            out.extend(decode_kvs(&resp)?);
        }
        Ok(out)
    }

    async fn range_page(
        &mut self,
        start: &str,
        end: &str,
        page_size: i32,
        bookmark: &str,
    ) -> Result<Page, StubError> {
        if page_size <= 0 {
            return Err(StubError::Invalid {
                call: "GetStateByRangeWithPagination",
                message: "the page size must be positive".into(),
            });
        }
        let payload = GetStateByRange {
            start_key: start.to_string(),
            end_key: end.to_string(),
            collection: String::new(),
            metadata: QueryMetadata {
                page_size,
                bookmark: bookmark.to_string(),
            }
            .encode_to_vec(),
        }
        .encode_to_vec();
        let mut resp = self
            .query_response("GetStateByRange", MsgType::GetStateByRange, payload)
            .await?;
        let mut entries = decode_kvs(&resp)?;
        // A page can still arrive in several batches.
        while resp.has_more {
            let next = QueryStateNext {
                id: resp.id.clone(),
            }
            .encode_to_vec();
            resp = self
                .query_response("QueryStateNext", MsgType::QueryStateNext, next)
                .await?;
            entries.extend(decode_kvs(&resp)?);
        }
        let meta = QueryResponseMetadata::decode(resp.metadata.as_slice()).map_err(|e| {
            StubError::Decode {
                call: "GetStateByRange",
                message: e.to_string(),
            }
        })?;
        Ok(Page {
            entries,
            bookmark: meta.bookmark,
            fetched: meta.fetched_records_count,
        })
    }

    async fn query_response(
        &mut self,
        call: &'static str,
        ty: MsgType,
        payload: Vec<u8>,
    ) -> Result<QueryResponse, StubError> {
        let raw = self.request(call, ty, payload).await?;
        QueryResponse::decode(raw.as_slice()).map_err(|e| StubError::Decode {
            call,
            message: e.to_string(),
        })
    }

    /// Closes a query iterator early (not needed after reading it to the end).
    pub async fn close_query(&mut self, id: &str) -> Result<(), StubError> {
        let payload = QueryStateClose { id: id.to_string() }.encode_to_vec();
        self.request("QueryStateClose", MsgType::QueryStateClose, payload)
            .await?;
        Ok(())
    }
}

fn check_simple_key(call: &'static str, key: &str) -> Result<(), StubError> {
    if key.starts_with(COMPOSITE_NS) {
        return Err(StubError::Invalid {
            call,
            message:
                "a range over simple keys cannot start with U+0000 (composite keys live there)"
                    .into(),
        });
    }
    Ok(())
}

fn decode_kvs(resp: &QueryResponse) -> Result<Vec<(String, Vec<u8>)>, StubError> {
    resp.results
        .iter()
        .map(|r| {
            Kv::decode(r.result_bytes.as_slice())
                .map(|kv| (kv.key, kv.value))
                .map_err(|e| StubError::Decode {
                    call: "GetStateByRange",
                    message: e.to_string(),
                })
        })
        .collect()
}

/// Fabric's composite key: U+0000, the object type, then each attribute,
/// each followed by U+0000. Neither part may contain U+0000 or U+10FFFF.
pub fn create_composite_key(
    object_type: &str,
    attrs: &[&str],
) -> std::result::Result<String, String> {
    let check = |s: &str| {
        if s.contains(COMPOSITE_NS) || s.contains(MAX_UNICODE) {
            Err(format!(
                "{s:?} contains U+0000 or U+10FFFF, which composite keys reserve"
            ))
        } else {
            Ok(())
        }
    };
    check(object_type)?;
    let mut key = String::new();
    key.push(COMPOSITE_NS);
    key.push_str(object_type);
    key.push(COMPOSITE_NS);
    for a in attrs {
        check(a)?;
        key.push_str(a);
        key.push(COMPOSITE_NS);
    }
    Ok(key)
}

/// The object type and attributes of a composite key.
pub fn split_composite_key(key: &str) -> Option<(String, Vec<String>)> {
    let rest = key.strip_prefix(COMPOSITE_NS)?;
    let mut parts: Vec<String> = rest.split(COMPOSITE_NS).map(str::to_string).collect();
    // The key ends with a separator: the last part is empty.
    if parts.pop().as_deref() != Some("") || parts.is_empty() {
        return None;
    }
    let object_type = parts.remove(0);
    Some((object_type, parts))
}

/// The parts of a TRANSACTION or INIT message a stub needs.
struct TxInput {
    args: Vec<Vec<u8>>,
    timestamp: Option<prost_types::Timestamp>,
    creator: SerializedIdentity,
    transient: BTreeMap<String, Vec<u8>>,
}

fn decode_tx_input(msg: &ChaincodeMessage) -> std::result::Result<TxInput, String> {
    let input = ChaincodeInput::decode(msg.payload.as_slice())
        .map_err(|e| format!("cannot decode the chaincode input: {e}"))?;
    let mut out = TxInput {
        args: input.args,
        timestamp: None,
        creator: SerializedIdentity::default(),
        transient: BTreeMap::new(),
    };
    if let Some(sp) = &msg.proposal {
        let proposal = Proposal::decode(sp.proposal_bytes.as_slice())
            .map_err(|e| format!("cannot decode the proposal: {e}"))?;
        let header = Header::decode(proposal.header.as_slice())
            .map_err(|e| format!("cannot decode the header: {e}"))?;
        let ch = ChannelHeader::decode(header.channel_header.as_slice())
            .map_err(|e| format!("cannot decode the channel header: {e}"))?;
        let sh = SignatureHeader::decode(header.signature_header.as_slice())
            .map_err(|e| format!("cannot decode the signature header: {e}"))?;
        out.timestamp = ch.timestamp;
        out.creator = SerializedIdentity::decode(sh.creator.as_slice())
            .map_err(|e| format!("cannot decode the creator: {e}"))?;
        let payload = ChaincodeProposalPayload::decode(proposal.payload.as_slice())
            .map_err(|e| format!("cannot decode the proposal payload: {e}"))?;
        out.transient = payload.transient_map;
    }
    Ok(out)
}

async fn run_transaction<C: Chaincode>(chaincode: Arc<C>, conn: Conn, msg: ChaincodeMessage) {
    let is_init = msg.r#type == MsgType::Init as i32;
    let reply = |ty: MsgType, payload: Vec<u8>, event: Option<ChaincodeEvent>| ChaincodeMessage {
        r#type: ty as i32,
        payload,
        txid: msg.txid.clone(),
        channel_id: msg.channel_id.clone(),
        chaincode_event: event,
        ..Default::default()
    };
    let out = match decode_tx_input(&msg) {
        Err(problem) => reply(MsgType::Error, problem.into_bytes(), None),
        Ok(input) => {
            let mut stub = Stub {
                conn: conn.clone(),
                channel_id: msg.channel_id.clone(),
                tx_id: msg.txid.clone(),
                args: input.args,
                timestamp: input.timestamp,
                creator: input.creator,
                transient: input.transient,
                event: None,
            };
            // A panicking chaincode must still answer, or the peer waits for
            // its execute timeout.
            let result = {
                use futures::FutureExt as _;
                let run = async {
                    if is_init {
                        chaincode.init(&mut stub).await
                    } else {
                        chaincode.invoke(&mut stub).await
                    }
                };
                std::panic::AssertUnwindSafe(run)
                    .catch_unwind()
                    .await
                    .unwrap_or_else(|_| Err("the chaincode panicked".to_string()))
            };
            let response = match result {
                Ok(payload) => PeerResponse {
                    status: 200,
                    message: String::new(),
                    payload,
                },
                Err(message) => PeerResponse {
                    status: 500,
                    message,
                    payload: Vec::new(),
                },
            };
            let event = if response.status == 200 {
                stub.event.take()
            } else {
                None
            };
            reply(MsgType::Completed, response.encode_to_vec(), event)
        }
    };
    // The stream may be gone (peer stopped); nothing else to tell.
    let _ = conn.out.send(Ok(out)).await;
}

/// The gRPC service: one chaincode, answering every peer that connects.
struct Service<C> {
    chaincode: Arc<C>,
    chaincode_id: String,
}

type OutStream =
    Pin<Box<dyn tokio_stream::Stream<Item = std::result::Result<ChaincodeMessage, Status>> + Send>>;

#[tonic::async_trait]
impl<C: Chaincode> ChaincodeService for Service<C> {
    type ConnectStream = OutStream;

    async fn connect(
        &self,
        request: Request<Streaming<ChaincodeMessage>>,
    ) -> std::result::Result<Response<Self::ConnectStream>, Status> {
        let mut incoming = request.into_inner();
        let (out_tx, out_rx) = mpsc::channel(64);
        let conn = Conn {
            out: out_tx,
            pending: Arc::new(Mutex::new(HashMap::new())),
        };
        let register = ChaincodeMessage {
            r#type: MsgType::Register as i32,
            payload: ChaincodeId {
                name: self.chaincode_id.clone(),
                ..Default::default()
            }
            .encode_to_vec(),
            ..Default::default()
        };
        conn.out
            .send(Ok(register))
            .await
            .map_err(|_| Status::internal("the outgoing stream closed before REGISTER"))?;
        let chaincode = self.chaincode.clone();
        let chaincode_id = self.chaincode_id.clone();
        tokio::spawn(async move {
            loop {
                let msg = match incoming.message().await {
                    Ok(Some(m)) => m,
                    Ok(None) => break,
                    Err(status) => {
                        tracing::warn!(chaincode = %chaincode_id, %status, "chaincode stream from the peer failed");
                        break;
                    }
                };
                match MsgType::try_from(msg.r#type) {
                    Ok(MsgType::Registered) => {
                        tracing::debug!(chaincode = %chaincode_id, "registered with the peer");
                    }
                    Ok(MsgType::Ready) => {
                        tracing::info!(chaincode = %chaincode_id, "ready for transactions");
                    }
                    Ok(MsgType::Transaction | MsgType::Init) => {
                        tokio::spawn(run_transaction(chaincode.clone(), conn.clone(), msg));
                    }
                    Ok(MsgType::Response | MsgType::Error) => {
                        let key = (msg.channel_id.clone(), msg.txid.clone());
                        let waiter = conn
                            .pending
                            .lock()
                            .expect("the pending map is never poisoned: no panics while held")
                            .remove(&key);
                        match waiter {
                            Some(w) => {
                                let _ = w.send(msg);
                            }
                            None => tracing::warn!(
                                chaincode = %chaincode_id, txid = %msg.txid, channel = %msg.channel_id,
                                "answer from the peer for no pending request"
                            ),
                        }
                    }
                    Ok(MsgType::Keepalive) => {}
                    _ => {
                        tracing::warn!(chaincode = %chaincode_id, r#type = msg.r#type, "unexpected message from the peer");
                    }
                }
            }
            // Dropping the pending senders wakes every waiting stub with Disconnected.
            conn.pending
                .lock()
                .expect("the pending map is never poisoned: no panics while held")
                .clear();
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(out_rx))))
    }
}

/// TLS for the chaincode server (optional; the devnet uses plaintext on loopback).
#[derive(Clone)]
pub struct ServerTls {
    pub cert_pem: String,
    pub key_pem: String,
    /// When set, peers must present a client certificate issued by this CA.
    pub client_ca_pem: Option<String>,
}

/// Serves `chaincode` as `chaincode_id` (the package ID the peer expects) on
/// `listener` until `shutdown` completes.
pub async fn serve<C: Chaincode>(
    chaincode: C,
    chaincode_id: &str,
    listener: tokio::net::TcpListener,
    tls: Option<ServerTls>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<()> {
    let address = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| "an unknown address".into());
    let service = ChaincodeServer::new(Service {
        chaincode: Arc::new(chaincode),
        chaincode_id: chaincode_id.to_string(),
    })
    .max_decoding_message_size(MAX_MESSAGE_SIZE)
    .max_encoding_message_size(MAX_MESSAGE_SIZE);
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = tls {
        let mut config = tonic::transport::ServerTlsConfig::new().identity(
            tonic::transport::Identity::from_pem(tls.cert_pem, tls.key_pem),
        );
        if let Some(ca) = tls.client_ca_pem {
            config = config.client_ca_root(tonic::transport::Certificate::from_pem(ca));
        }
        builder = builder.tls_config(config).map_err(|source| Error::Serve {
            address: address.clone(),
            source,
        })?;
    }
    builder
        .add_service(service)
        // No Nagle delay: the peer and the chaincode trade many small
        // messages per transaction (every state read is a round trip), and
        // with Nagle each reply waits for the peer's delayed ACK (40 ms).
        .serve_with_incoming_shutdown(
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
            shutdown,
        )
        .await
        .map_err(|source| Error::Serve { address, source })
}

/// Binds `address` and serves like [`serve`].
pub async fn serve_on<C: Chaincode>(
    chaincode: C,
    chaincode_id: &str,
    address: SocketAddr,
    tls: Option<ServerTls>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(address).await.map_err(|e| {
        Error::invalid(
            format!("chaincode server address {address}"),
            format!("cannot listen: {e}"),
        )
    })?;
    serve(chaincode, chaincode_id, listener, tls, shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composite_keys_round_trip() {
        let key = create_composite_key("vote", &["p1", "Org1MSP"]).unwrap();
        assert_eq!(key, "\u{0}vote\u{0}p1\u{0}Org1MSP\u{0}");
        assert_eq!(
            split_composite_key(&key),
            Some((
                "vote".to_string(),
                vec!["p1".to_string(), "Org1MSP".to_string()]
            ))
        );
        assert_eq!(split_composite_key("plain"), None);
        assert!(create_composite_key("vote", &["a\u{0}b"]).is_err());
        assert!(create_composite_key("vo\u{10FFFF}te", &[]).is_err());
        assert_eq!(create_composite_key("t", &[]).unwrap(), "\u{0}t\u{0}");
    }

    // The peer side scripted by hand over a real loopback gRPC stream: proves
    // the protocol order and the routing of answers to concurrent
    // transactions. (That Fabric's peer agrees is the devnet test's job.)
    struct Kv;

    impl Chaincode for Kv {
        async fn invoke(&self, stub: &mut Stub) -> Result<Vec<u8>, String> {
            let args = stub.string_args();
            match stub.function().as_str() {
                "get" => stub
                    .get_state(&args[0])
                    .await?
                    .ok_or_else(|| format!("no key {}", args[0])),
                "put" => {
                    stub.put_state(&args[0], args[1].as_bytes()).await?;
                    stub.set_event("put", args[0].as_bytes())?;
                    Ok(stub.creator_msp_id().as_bytes().to_vec())
                }
                f => Err(format!("unknown function {f}")),
            }
        }
    }

    fn tx(ty: MsgType, txid: &str, args: &[&str]) -> ChaincodeMessage {
        ChaincodeMessage {
            r#type: ty as i32,
            payload: ChaincodeInput {
                args: args.iter().map(|a| a.as_bytes().to_vec()).collect(),
                ..Default::default()
            }
            .encode_to_vec(),
            txid: txid.into(),
            channel_id: "ch".into(),
            ..Default::default()
        }
    }

    fn answer(ty: MsgType, to: &ChaincodeMessage, payload: &[u8]) -> ChaincodeMessage {
        ChaincodeMessage {
            r#type: ty as i32,
            payload: payload.to_vec(),
            txid: to.txid.clone(),
            channel_id: to.channel_id.clone(),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn peer_conversation_with_concurrent_transactions() {
        use crate::protos::peer::chaincode_client::ChaincodeClient;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let server = tokio::spawn(serve(Kv, "kv_1:abc", listener, None, async {
            let _ = stop_rx.await;
        }));
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let (to_cc, rx) = mpsc::channel(16);
        let mut from_cc = ChaincodeClient::new(channel)
            .connect(ReceiverStream::new(rx))
            .await
            .unwrap()
            .into_inner();
        let mut recv = async || from_cc.message().await.unwrap().unwrap();

        let register = recv().await;
        assert_eq!(register.r#type, MsgType::Register as i32);
        assert_eq!(
            ChaincodeId::decode(register.payload.as_slice())
                .unwrap()
                .name,
            "kv_1:abc"
        );
        to_cc
            .send(answer(MsgType::Registered, &register, b""))
            .await
            .unwrap();
        to_cc
            .send(answer(MsgType::Ready, &register, b""))
            .await
            .unwrap();

        // Two transactions in flight; their GET_STATEs are answered in reverse order.
        to_cc
            .send(tx(MsgType::Transaction, "t1", &["get", "k1"]))
            .await
            .unwrap();
        to_cc
            .send(tx(MsgType::Transaction, "t2", &["get", "k2"]))
            .await
            .unwrap();
        let a = recv().await;
        let b = recv().await;
        let mut reqs = [a, b];
        reqs.sort_by(|x, y| x.txid.cmp(&y.txid));
        for r in &reqs {
            assert_eq!(r.r#type, MsgType::GetState as i32);
            assert_eq!(r.channel_id, "ch");
        }
        assert_eq!(
            GetState::decode(reqs[0].payload.as_slice()).unwrap().key,
            "k1"
        );
        to_cc
            .send(answer(MsgType::Response, &reqs[1], b"v2"))
            .await
            .unwrap();
        to_cc
            .send(answer(MsgType::Response, &reqs[0], b"v1"))
            .await
            .unwrap();
        let mut done = [recv().await, recv().await];
        done.sort_by(|x, y| x.txid.cmp(&y.txid));
        for (d, want) in done.iter().zip([b"v1", b"v2"]) {
            assert_eq!(d.r#type, MsgType::Completed as i32);
            let resp = PeerResponse::decode(d.payload.as_slice()).unwrap();
            assert_eq!(
                (resp.status, resp.payload.as_slice()),
                (200, want.as_slice())
            );
        }

        // A put emits its event with the COMPLETED message.
        to_cc
            .send(tx(MsgType::Transaction, "t3", &["put", "k", "v"]))
            .await
            .unwrap();
        let put = recv().await;
        assert_eq!(put.r#type, MsgType::PutState as i32);
        let ps = PutState::decode(put.payload.as_slice()).unwrap();
        assert_eq!(
            (ps.key.as_str(), ps.value.as_slice()),
            ("k", b"v".as_slice())
        );
        to_cc
            .send(answer(MsgType::Response, &put, b""))
            .await
            .unwrap();
        let done = recv().await;
        assert_eq!(done.r#type, MsgType::Completed as i32);
        let event = done.chaincode_event.unwrap();
        assert_eq!(
            (event.event_name.as_str(), event.payload.as_slice()),
            ("put", b"k".as_slice())
        );

        // The peer's ERROR reaches the chaincode, whose failure becomes a 500.
        to_cc
            .send(tx(MsgType::Transaction, "t4", &["get", "k"]))
            .await
            .unwrap();
        let get = recv().await;
        to_cc
            .send(answer(MsgType::Error, &get, b"ledger closed"))
            .await
            .unwrap();
        let done = recv().await;
        let resp = PeerResponse::decode(done.payload.as_slice()).unwrap();
        assert_eq!(resp.status, 500);
        assert!(resp.message.contains("ledger closed"), "{}", resp.message);
        assert!(done.chaincode_event.is_none());

        let _ = stop_tx.send(());
        drop(to_cc);
        server.await.unwrap().unwrap();
    }

    struct Panics;

    impl Chaincode for Panics {
        async fn invoke(&self, _stub: &mut Stub) -> Result<Vec<u8>, String> {
            panic!("boom")
        }
    }

    // The client side of the TLS handshake is this crate's `node` (feature `client`).
    #[cfg(feature = "client")]
    #[tokio::test]
    async fn tls_server_registers_and_a_panic_becomes_a_500() {
        use crate::protos::peer::chaincode_client::ChaincodeClient;
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let params = rcgen::CertificateParams::new(vec!["cc.example.com".to_string()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let tls = ServerTls {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            client_ca_pem: None,
        };
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let server = tokio::spawn(serve(Panics, "p:1", listener, Some(tls), async {
            let _ = stop_rx.await;
        }));
        let node = crate::node::Node::connect(
            &crate::node::NodeConfig::tls(addr.to_string(), cert.pem())
                .with_server_name("cc.example.com"),
        )
        .await
        .unwrap();
        let (to_cc, rx) = mpsc::channel(16);
        let mut from_cc = ChaincodeClient::new(node.channel())
            .connect(ReceiverStream::new(rx))
            .await
            .unwrap()
            .into_inner();
        let register = from_cc.message().await.unwrap().unwrap();
        assert_eq!(register.r#type, MsgType::Register as i32);
        to_cc
            .send(tx(MsgType::Transaction, "t", &["anything"]))
            .await
            .unwrap();
        let done = from_cc.message().await.unwrap().unwrap();
        assert_eq!(done.r#type, MsgType::Completed as i32);
        let resp = PeerResponse::decode(done.payload.as_slice()).unwrap();
        assert_eq!(
            (resp.status, resp.message.as_str()),
            (500, "the chaincode panicked")
        );
        let _ = stop_tx.send(());
        drop(to_cc);
        server.await.unwrap().unwrap();
    }
}
