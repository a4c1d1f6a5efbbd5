//! The peer's configuration system chaincode (`cscc`): join a channel, list
//! the channels a peer has joined.
//!
//! Both are peer-local admin calls through [`Endorser`]; the identity must be
//! an admin of the peer's organization. Key decision: joining a channel the
//! peer already has is reported as [`Joined::AlreadyMember`], not an error,
//! so callers can join idempotently.

use prost::Message;

use crate::endorser::Endorser;
use crate::error::{Error, Result};
use crate::protos::common::Block;
use crate::protos::peer::ChannelQueryResponse;
use crate::tx::ChaincodeCall;

const CSCC: &str = "cscc";

/// The outcome of [`join_channel`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Joined {
    Joined,
    AlreadyMember,
}

/// Joins the endorser's peer to the channel whose genesis (or latest config)
/// block is `block`.
pub async fn join_channel(endorser: &Endorser, block: &Block) -> Result<Joined> {
    let channel = channel_of(block).unwrap_or_default();
    let call = ChaincodeCall::new("", CSCC, "JoinChain", [block.encode_to_vec()]);
    match endorser
        .query(&format!("cscc JoinChain {channel}"), &call)
        .await
    {
        Ok(_) => Ok(Joined::Joined),
        // The peer says "ledger [<channel>] already exists with state [ACTIVE]".
        Err(Error::Refused { message, .. }) if message.contains("already exists") => {
            Ok(Joined::AlreadyMember)
        }
        Err(e) => Err(e),
    }
}

/// The channels the endorser's peer has joined.
pub async fn channels(endorser: &Endorser) -> Result<Vec<String>> {
    let call = ChaincodeCall::new("", CSCC, "GetChannels", Vec::<Vec<u8>>::new());
    let payload = endorser.query("cscc GetChannels", &call).await?;
    let resp = ChannelQueryResponse::decode(payload.as_slice())
        .map_err(|e| Error::decode("GetChannels answer", endorser.node().name(), e))?;
    Ok(resp.channels.into_iter().map(|c| c.channel_id).collect())
}

/// The channel ID in the header of a block's first envelope.
pub fn channel_of(block: &Block) -> Option<String> {
    let first = block.data.as_ref()?.data.first()?;
    crate::block::envelope_channel_header(first)
        .ok()
        .map(|h| h.channel_id)
}
