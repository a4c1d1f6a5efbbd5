//! Reading blocks from a peer (`protos.Deliver`) or an orderer
//! (`orderer.AtomicBroadcast/Deliver`): ranges, the newest block, the latest
//! config block, and waiting for a transaction to commit.
//!
//! The main type is [`Deliverer`] (one node, one identity, peer or orderer).
//! Key decisions: the call runs in a background task, so opening a stream
//! that waits for a future block does not block the caller (Go servers send
//! response headers only with the first message); the request stream stays
//! open until the stream is dropped; and a stream ends with `None` only after
//! the node's SUCCESS status, so one that stops early is always an error.
//!
//! [`Deliverer::block`] from an orderer retries an orderer that is
//! unreachable or answers SERVICE_UNAVAILABLE (restarting, its Raft cluster
//! without a leader yet) for up to [`crate::orderer::RETRY_FOR`], so a
//! caller reading a channel's config through it goes on as soon as the
//! orderer answers again instead of failing a whole pass.

use std::sync::Arc;
use std::time::Duration;

use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::block;
use crate::error::{Error, Result};
use crate::identity::Signer;
use crate::node::{Background, MAX_MESSAGE_SIZE, Node, grpc_error};
use crate::protos::common::{Block, HeaderType, Status};
use crate::protos::orderer::{
    self, SeekInfo, SeekPosition, seek_info::SeekBehavior, seek_position::Type as SeekType,
};
use crate::protos::peer;
use crate::tx::signed_envelope;

/// Where a block range starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seek {
    Oldest,
    Newest,
    Number(u64),
}

/// Where a block range ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// At the newest block when the request arrives.
    Newest,
    /// At this block number (waiting for it to be cut).
    Number(u64),
    /// Never: keep streaming new blocks.
    Never,
}

/// Whether the node is a peer or an orderer (they serve Deliver under
/// different services).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Peer,
    Orderer,
}

fn position(seek: Seek) -> SeekPosition {
    let ty = match seek {
        Seek::Oldest => SeekType::Oldest(orderer::SeekOldest {}),
        Seek::Newest => SeekType::Newest(orderer::SeekNewest {}),
        Seek::Number(n) => SeekType::Specified(orderer::SeekSpecified { number: n }),
    };
    SeekPosition { r#type: Some(ty) }
}

/// The SeekInfo of a deliver request.
pub fn seek_info(start: Seek, stop: Stop) -> SeekInfo {
    let stop = match stop {
        Stop::Newest => position(Seek::Newest),
        Stop::Number(n) => position(Seek::Number(n)),
        Stop::Never => position(Seek::Number(u64::MAX)),
    };
    SeekInfo {
        start: Some(position(start)),
        stop: Some(stop),
        behavior: SeekBehavior::BlockUntilReady as i32,
        error_response: 0,
        content_type: 0,
    }
}

enum Inner {
    Peer(Background<peer::DeliverResponse>),
    Orderer(Background<orderer::DeliverResponse>),
}

enum Item {
    Status(i32),
    Block(Block),
    Filtered(peer::FilteredBlock),
}

/// A stream of blocks (or filtered blocks) from one deliver request.
pub struct BlockStream {
    inner: Inner,
    call: String,
    node: String,
    done: bool,
}

impl BlockStream {
    async fn next_item(&mut self) -> Option<Result<Item>> {
        if self.done {
            return None;
        }
        let msg = match &mut self.inner {
            Inner::Peer(s) => s.message().await.map(|m| {
                m.and_then(|r| r.r#type).map(|t| match t {
                    peer::deliver_response::Type::Status(s) => Item::Status(s),
                    peer::deliver_response::Type::Block(b) => Item::Block(b),
                    peer::deliver_response::Type::FilteredBlock(f) => Item::Filtered(f),
                })
            }),
            Inner::Orderer(s) => s.message().await.map(|m| {
                m.and_then(|r| r.r#type).map(|t| match t {
                    orderer::deliver_response::Type::Status(s) => Item::Status(s),
                    orderer::deliver_response::Type::Block(b) => Item::Block(b),
                })
            }),
        };
        match msg {
            Err(status) => {
                self.done = true;
                Some(Err(grpc_error(&self.call, &self.node, status)))
            }
            Ok(None) => {
                self.done = true;
                Some(Err(Error::protocol(
                    &self.call,
                    &self.node,
                    "the stream ended without a status",
                )))
            }
            Ok(Some(Item::Status(s))) if s == Status::Success as i32 => {
                self.done = true;
                None
            }
            Ok(Some(Item::Status(s))) => {
                self.done = true;
                let name = Status::try_from(s)
                    .map(|s| s.as_str_name())
                    .unwrap_or("UNKNOWN");
                Some(Err(Error::Refused {
                    call: self.call.clone(),
                    node: self.node.clone(),
                    status: s,
                    message: format!(
                        "{name}{}",
                        match s {
                            403 => " (is this identity a member of the channel, with read access?)",
                            404 =>
                                " (does the channel exist on this node, and is the node joined?)",
                            503 => " (the node is not ready for this channel yet; retry)",
                            _ => "",
                        }
                    ),
                }))
            }
            Ok(Some(item)) => Some(Ok(item)),
        }
    }

    /// The next block; `None` after the last requested block.
    pub async fn next(&mut self) -> Option<Result<Block>> {
        match self.next_item().await? {
            Ok(Item::Block(b)) => Some(Ok(b)),
            Ok(_) => Some(Err(Error::protocol(
                &self.call,
                &self.node,
                "expected a block",
            ))),
            Err(e) => Some(Err(e)),
        }
    }

    /// The next filtered block (from [`Deliverer::filtered_blocks`]).
    pub async fn next_filtered(&mut self) -> Option<Result<peer::FilteredBlock>> {
        match self.next_item().await? {
            Ok(Item::Filtered(b)) => Some(Ok(b)),
            Ok(_) => Some(Err(Error::protocol(
                &self.call,
                &self.node,
                "expected a filtered block",
            ))),
            Err(e) => Some(Err(e)),
        }
    }
}

/// Deliver from one node as one identity.
#[derive(Clone)]
pub struct Deliverer {
    node: Node,
    signer: Arc<dyn Signer>,
    source: Source,
}

impl Deliverer {
    pub fn peer(node: Node, signer: Arc<dyn Signer>) -> Deliverer {
        Deliverer {
            node,
            signer,
            source: Source::Peer,
        }
    }

    pub fn orderer(node: Node, signer: Arc<dyn Signer>) -> Deliverer {
        Deliverer {
            node,
            signer,
            source: Source::Orderer,
        }
    }

    pub fn node(&self) -> &Node {
        &self.node
    }

    async fn open(
        &self,
        channel: &str,
        start: Seek,
        stop: Stop,
        filtered: bool,
    ) -> Result<BlockStream> {
        let call = format!(
            "{} of channel {channel}",
            match (self.source, filtered) {
                (Source::Peer, false) => "Deliver",
                (Source::Peer, true) => "DeliverFiltered",
                (Source::Orderer, _) => "orderer Deliver",
            }
        );
        let envelope = signed_envelope(
            self.signer.as_ref(),
            HeaderType::DeliverSeekInfo,
            channel,
            seek_info(start, stop).encode_to_vec(),
        )?;
        let (tx, rx) = mpsc::channel(1);
        tx.send(envelope)
            .await
            .expect("the receiver is alive: it is in this scope");
        let requests = ReceiverStream::new(rx);
        let inner = match self.source {
            Source::Peer => {
                let mut client = peer::deliver_client::DeliverClient::new(self.node.channel())
                    .max_decoding_message_size(MAX_MESSAGE_SIZE);
                Inner::Peer(Background::spawn(
                    async move {
                        if filtered {
                            client.deliver_filtered(requests).await
                        } else {
                            client.deliver(requests).await
                        }
                    },
                    tx,
                ))
            }
            Source::Orderer => {
                if filtered {
                    return Err(Error::invalid(
                        "deliver request",
                        "orderers do not serve filtered blocks",
                    ));
                }
                let mut client = orderer::atomic_broadcast_client::AtomicBroadcastClient::new(
                    self.node.channel(),
                )
                .max_decoding_message_size(MAX_MESSAGE_SIZE);
                Inner::Orderer(Background::spawn(
                    async move { client.deliver(requests).await },
                    tx,
                ))
            }
        };
        Ok(BlockStream {
            inner,
            call,
            node: self.node.name().to_string(),
            done: false,
        })
    }

    /// Full blocks from `start` to `stop`.
    pub async fn blocks(&self, channel: &str, start: Seek, stop: Stop) -> Result<BlockStream> {
        self.open(channel, start, stop, false).await
    }

    /// Filtered blocks (transaction IDs, validation codes, events without
    /// payloads); peers only.
    pub async fn filtered_blocks(
        &self,
        channel: &str,
        start: Seek,
        stop: Stop,
    ) -> Result<BlockStream> {
        self.open(channel, start, stop, true).await
    }

    /// One block.
    pub async fn block(&self, channel: &str, which: Seek) -> Result<Block> {
        match self.source {
            Source::Orderer => {
                crate::orderer::retry_restarting(self.node.name(), || {
                    self.block_once(channel, which)
                })
                .await
            }
            Source::Peer => self.block_once(channel, which).await,
        }
    }

    async fn block_once(&self, channel: &str, which: Seek) -> Result<Block> {
        let stop = match which {
            Seek::Oldest => Stop::Number(0),
            Seek::Newest => Stop::Newest,
            Seek::Number(n) => Stop::Number(n),
        };
        let mut stream = self.blocks(channel, which, stop).await?;
        let block = match stream.next().await {
            Some(b) => b?,
            None => {
                return Err(Error::protocol(
                    format!("reading block {which:?} of channel {channel}"),
                    self.node.name(),
                    "the node answered SUCCESS without a block",
                ));
            }
        };
        Ok(block)
    }

    /// The channel's height (its newest block's number plus one), read from
    /// a filtered block: a few bytes where the full newest block may carry
    /// every transaction's endorsements. Peers only.
    pub async fn height(&self, channel: &str) -> Result<u64> {
        let mut stream = self
            .filtered_blocks(channel, Seek::Newest, Stop::Newest)
            .await?;
        match stream.next_filtered().await {
            Some(block) => Ok(block?.number + 1),
            None => Err(Error::protocol(
                format!("reading the height of channel {channel}"),
                self.node.name(),
                "the node answered SUCCESS without a block",
            )),
        }
    }

    /// The channel's current configuration block: the newest block's
    /// last-config pointer, then that block.
    pub async fn latest_config_block(&self, channel: &str) -> Result<Block> {
        let newest = self.block(channel, Seek::Newest).await?;
        self.config_block_of(channel, newest).await
    }

    /// The configuration block in force at `block` of `channel`: `block`
    /// itself when it is one, else the block its last-config pointer names.
    pub async fn config_block_of(&self, channel: &str, block: Block) -> Result<Block> {
        let index = block::last_config_index(&block)?;
        if index == block::number(&block) {
            return Ok(block);
        }
        self.block(channel, Seek::Number(index)).await
    }

    /// Waits until transaction `tx_id` is in a block, scanning from `start`
    /// (peers report validation codes; use a peer). Returns the block number,
    /// or [`Error::TxInvalid`] when the transaction was invalidated.
    pub async fn wait_for_transaction(
        &self,
        channel: &str,
        tx_id: &str,
        start: Seek,
        timeout: Duration,
    ) -> Result<u64> {
        let wait = async {
            let mut stream = self.filtered_blocks(channel, start, Stop::Never).await?;
            while let Some(fb) = stream.next_filtered().await {
                let fb = fb?;
                if let Some(tx) = fb.filtered_transactions.iter().find(|t| t.txid == tx_id) {
                    if tx.tx_validation_code == peer::TxValidationCode::Valid as i32 {
                        return Ok(fb.number);
                    }
                    return Err(Error::TxInvalid {
                        tx_id: tx_id.to_string(),
                        channel: channel.to_string(),
                        block: fb.number,
                        code: block::validation_code_name(tx.tx_validation_code),
                    });
                }
            }
            Err(Error::protocol(
                format!("waiting for transaction {tx_id}"),
                self.node.name(),
                "the block stream ended",
            ))
        };
        tokio::time::timeout(timeout, wait)
            .await
            .map_err(|_| Error::Timeout {
                what: format!(
                    "transaction {tx_id} to commit on channel {channel} at {}",
                    self.node.name()
                ),
                after: timeout,
            })?
    }
}
