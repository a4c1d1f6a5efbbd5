//! Channels: genesis blocks, joining orderers and peers, asking who joined what.
//!
//! Genesis blocks are built by the project's own
//! [`opssc_fabric::configtx::genesis`] from [`config::channel_description`]
//! (the channel's members and settings, every orderer a consenter), not by
//! configtxgen: a devnet started from a spec then has on its chain exactly
//! the channel settings the spec states. Orderers join through the channel
//! participation API with `osnadmin`; peers join with Fabric's `peer channel
//! join`. The same tools answer the questions `status` and the tests ask
//! (channel lists, heights), so the devnet never trusts its own bookkeeping
//! for them.

use std::path::Path;

use prost::Message;
use serde::{Deserialize, Serialize};

use crate::binaries::FabricBinaries;
use crate::config;
use crate::error::{DevnetError, Result};
use crate::handles::{NetworkPlan, OrdererHandle, OrgHandle, PeerHandle};
use crate::tools::Tool;
use crate::topology::ChannelDef;

/// Writes block 0 of `channel` (see [`config::channel_description`]) to `block`.
pub fn genesis_block(plan: &NetworkPlan, channel: &ChannelDef, block: &Path) -> Result<()> {
    let desc = config::channel_description(plan, channel)?;
    let genesis = opssc_fabric::configtx::genesis::genesis_block_now(&desc).map_err(|e| {
        DevnetError::Topology(format!(
            "channel {}: building its genesis block: {e}",
            channel.name
        ))
    })?;
    if let Some(dir) = block.parent() {
        std::fs::create_dir_all(dir).map_err(DevnetError::io("create", dir))?;
    }
    std::fs::write(block, genesis.encode_to_vec()).map_err(DevnetError::io("write", block))
}

fn osnadmin(bin: &FabricBinaries, o: &OrdererHandle, what: String, sub: &[&str]) -> Tool {
    Tool::new(&bin.osnadmin, what)
        .arg("channel")
        .args(sub)
        .args(["-o", &o.admin_address, "--ca-file"])
        .arg(&o.tls_ca_cert)
        .arg("--client-cert")
        .arg(&o.admin_client_cert)
        .arg("--client-key")
        .arg(&o.admin_client_key)
}

/// `osnadmin channel join`: the orderer joins `channel` from its genesis block.
pub fn orderer_join(
    bin: &FabricBinaries,
    o: &OrdererHandle,
    channel: &str,
    block: &Path,
) -> Result<()> {
    let what = format!("joining orderer {} to channel {channel}", o.host);
    let out = osnadmin(bin, o, what.clone(), &["join", "--channelID", channel])
        .arg("--config-block")
        .arg(block)
        .run()?;
    // osnadmin exits 0 whatever the HTTP status; 201 Created is success.
    match osnadmin_response(&out.stdout) {
        Some((201, _)) => Ok(()),
        Some((status, body)) => Err(DevnetError::Output {
            what,
            detail: format!("HTTP status {status}: {}", body.trim()),
        }),
        None => Err(DevnetError::Output {
            what,
            detail: format!("no `Status:` line in {:?}", out.stdout),
        }),
    }
}

/// One channel as the orderer's participation API describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrdererChannelInfo {
    pub name: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub consensus_relation: String,
    #[serde(default)]
    pub height: u64,
}

/// The channels this orderer participates in (`osnadmin channel list`).
pub fn orderer_channels(bin: &FabricBinaries, o: &OrdererHandle) -> Result<Vec<String>> {
    let what = format!("listing the channels of orderer {}", o.host);
    let out = osnadmin(bin, o, what.clone(), &["list"]).run()?;
    #[derive(Deserialize)]
    struct Listed {
        name: String,
    }
    #[derive(Deserialize)]
    struct List {
        #[serde(default)]
        channels: Option<Vec<Listed>>,
    }
    let list: List = parse_osnadmin_json(&what, &out.stdout)?;
    Ok(list
        .channels
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.name)
        .collect())
}

/// Status and height of one channel on this orderer (`osnadmin channel list --channelID`).
pub fn orderer_channel_info(
    bin: &FabricBinaries,
    o: &OrdererHandle,
    channel: &str,
) -> Result<OrdererChannelInfo> {
    let what = format!("reading channel {channel} on orderer {}", o.host);
    let out = osnadmin(bin, o, what.clone(), &["list", "--channelID", channel]).run()?;
    parse_osnadmin_json(&what, &out.stdout)
}

/// osnadmin prints `Status: <code>` and then the JSON body (and exits 0
/// whatever the status).
fn osnadmin_response(stdout: &str) -> Option<(u16, &str)> {
    let status = stdout
        .lines()
        .find_map(|l| l.strip_prefix("Status:"))
        .and_then(|s| s.trim().parse().ok())?;
    let body = stdout.find('{').map(|i| &stdout[i..]).unwrap_or("");
    Some((status, body))
}

fn parse_osnadmin_json<T: serde::de::DeserializeOwned>(what: &str, stdout: &str) -> Result<T> {
    let bad = |detail: String| DevnetError::Output {
        what: what.to_string(),
        detail,
    };
    let (status, body) =
        osnadmin_response(stdout).ok_or_else(|| bad(format!("no `Status:` line in {stdout:?}")))?;
    if status != 200 {
        return Err(bad(format!("HTTP status {status}: {}", body.trim())));
    }
    serde_json::from_str(body).map_err(|e| bad(format!("{e} in {body:?}")))
}

/// The environment for running Fabric's `peer` CLI as `org`'s admin against `peer`.
pub fn peer_cli_env(org: &OrgHandle, peer: &PeerHandle) -> Vec<(String, String)> {
    let s = |p: &Path| p.to_string_lossy().into_owned();
    vec![
        ("FABRIC_CFG_PATH".into(), s(&peer.config_dir)),
        ("CORE_PEER_LOCALMSPID".into(), org.msp_id.clone()),
        ("CORE_PEER_MSPCONFIGPATH".into(), s(&org.admin_msp_dir)),
        ("CORE_PEER_ADDRESS".into(), peer.address.clone()),
        ("CORE_PEER_TLS_ENABLED".into(), "true".into()),
        ("CORE_PEER_TLS_ROOTCERT_FILE".into(), s(&peer.tls_ca_cert)),
        ("FABRIC_LOGGING_SPEC".into(), "warning".into()),
    ]
}

/// `peer channel join -b <block>` as the org's admin.
pub fn peer_join(
    bin: &FabricBinaries,
    org: &OrgHandle,
    peer: &PeerHandle,
    channel: &str,
    block: &Path,
) -> Result<()> {
    Tool::new(
        &bin.peer,
        format!("joining peer {} to channel {channel}", peer.host),
    )
    .envs(&peer_cli_env(org, peer))
    .args(["channel", "join", "-b"])
    .arg(block)
    .run()?;
    Ok(())
}

/// The channels `peer` has joined, by Fabric's `peer channel list`.
pub fn peer_channels(
    bin: &FabricBinaries,
    org: &OrgHandle,
    peer: &PeerHandle,
) -> Result<Vec<String>> {
    let out = Tool::new(
        &bin.peer,
        format!("listing the channels of peer {}", peer.host),
    )
    .envs(&peer_cli_env(org, peer))
    .args(["channel", "list"])
    .run()?;
    Ok(parse_peer_channel_list(&out.stdout))
}

fn parse_peer_channel_list(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .skip_while(|l| !l.starts_with("Channels peers has joined"))
        .skip(1)
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// The ledger height of `channel` on `peer`, by `peer channel getinfo`.
pub fn peer_height(
    bin: &FabricBinaries,
    org: &OrgHandle,
    peer: &PeerHandle,
    channel: &str,
) -> Result<u64> {
    let what = format!(
        "reading the height of channel {channel} on peer {}",
        peer.host
    );
    let out = Tool::new(&bin.peer, what.clone())
        .envs(&peer_cli_env(org, peer))
        .args(["channel", "getinfo", "-c", channel])
        .run()?;
    parse_getinfo(&out.stdout).ok_or_else(|| DevnetError::Output {
        what,
        detail: format!("no `Blockchain info:` JSON in {:?}", out.stdout),
    })
}

fn parse_getinfo(stdout: &str) -> Option<u64> {
    let json = stdout.split_once("Blockchain info:")?.1.trim();
    let v: serde_json::Value = serde_json::from_str(json.lines().next()?).ok()?;
    v.get("height")?.as_u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_osnadmin_output() {
        let out = "Status: 200\n{\n\t\"name\": \"ops\",\n\t\"url\": \"/participation/v1/channels/ops\",\n\t\"consensusRelation\": \"consenter\",\n\t\"status\": \"active\",\n\t\"height\": 3\n}\n";
        let info: OrdererChannelInfo = parse_osnadmin_json("x", out).unwrap();
        assert_eq!(info.height, 3);
        assert_eq!(info.consensus_relation, "consenter");
        let err = parse_osnadmin_json::<OrdererChannelInfo>(
            "reading ops",
            "Status: 404\n{\"error\":\"channel does not exist\"}\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("HTTP status 404") && err.contains("does not exist"),
            "{err}"
        );
    }

    #[test]
    fn parses_peer_channel_list_and_getinfo() {
        assert_eq!(
            parse_peer_channel_list("Channels peers has joined: \nops\ntrade\n"),
            ["ops", "trade"]
        );
        assert!(parse_peer_channel_list("Channels peers has joined: \n").is_empty());
        assert_eq!(
            parse_getinfo("Blockchain info: {\"height\":7,\"currentBlockHash\":\"abc\"}\n"),
            Some(7)
        );
        assert_eq!(parse_getinfo("nothing"), None);
    }
}
