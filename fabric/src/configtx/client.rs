//! Channel configuration over the network: read a channel's current config,
//! submit a signed config update and wait for the config block it produces.
//!
//! The main functions are [`fetch_config`] and [`submit_and_wait`]. Key
//! decision: success is the new config block being delivered, not the
//! orderer's SUCCESS answer (which only says the update was accepted for
//! ordering); the config decoded from that block is returned, so the caller
//! sees the sequence number the channel is really at.

use std::time::Duration;

use prost::Message;

use crate::deliver::{Deliverer, Seek, Stop};
use crate::orderer::Orderer;
use crate::protos::common::{Block, ChannelHeader, Envelope, HeaderType, Payload};

use super::Result;
use super::error::ConfigError;
use super::model::ChannelConfig;

fn fabric(what: impl Into<String>) -> impl FnOnce(crate::Error) -> ConfigError {
    let what = what.into();
    move |source| ConfigError::Fabric {
        what,
        source: Box::new(source),
    }
}

/// The current config of `channel`, read through `deliver` (an orderer or a
/// peer of the channel).
pub async fn fetch_config(deliver: &Deliverer, channel: &str) -> Result<ChannelConfig> {
    let block = deliver
        .latest_config_block(channel)
        .await
        .map_err(fabric(format!(
            "reading the config block of channel {channel}"
        )))?;
    ChannelConfig::from_block(&block)
}

/// Whether `block` holds a `CONFIG` transaction.
pub fn is_config_block(block: &Block) -> bool {
    let Some(data) = block.data.as_ref().and_then(|d| d.data.first()) else {
        return false;
    };
    let header_type = Envelope::decode(data.as_slice())
        .ok()
        .and_then(|e| Payload::decode(e.payload.as_slice()).ok())
        .and_then(|p| p.header)
        .and_then(|h| ChannelHeader::decode(h.channel_header.as_slice()).ok())
        .map(|h| h.r#type);
    header_type == Some(HeaderType::Config as i32)
}

/// Broadcasts a signed `CONFIG_UPDATE` envelope (see
/// [`sign::submission`](super::sign::submission)) to `orderer` and waits, at
/// most `timeout`, until `deliver` shows the config block it produced; returns
/// the channel's new config.
///
/// A refusal by the orderer (for instance, a mod policy not satisfied by the
/// signatures) is returned as [`ConfigError::Fabric`] carrying the orderer's
/// status and reason.
pub async fn submit_and_wait(
    orderer: &Orderer,
    deliver: &Deliverer,
    channel: &str,
    envelope: Envelope,
    timeout: Duration,
) -> Result<ChannelConfig> {
    let before = deliver
        .block(channel, Seek::Newest)
        .await
        .map_err(fabric(format!(
            "reading the newest block of channel {channel}"
        )))?;
    let next = crate::block::number(&before) + 1;
    orderer.broadcast(envelope).await.map_err(fabric(format!(
        "submitting a config update to channel {channel}"
    )))?;
    let wait = async {
        let mut blocks = deliver
            .blocks(channel, Seek::Number(next), Stop::Never)
            .await
            .map_err(fabric(format!(
                "watching channel {channel} for the new config block"
            )))?;
        while let Some(block) = blocks.next().await {
            let block = block.map_err(fabric(format!(
                "watching channel {channel} for the new config block"
            )))?;
            if is_config_block(&block) {
                return ChannelConfig::from_block(&block);
            }
        }
        Err(ConfigError::malformed(
            format!("channel {channel}"),
            "the block stream ended before a config block arrived",
        ))
    };
    match tokio::time::timeout(timeout, wait).await {
        Ok(result) => result,
        Err(_) => Err(ConfigError::Fabric {
            what: format!("waiting for the config block of channel {channel}"),
            source: Box::new(crate::Error::Timeout {
                what: format!(
                    "a config block at or after block {next} of channel {channel}; \
                     the orderer accepted the update but no config block was delivered"
                ),
                after: timeout,
            }),
        }),
    }
}
