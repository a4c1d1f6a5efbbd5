//! What the devnet writes before a node starts: `crypto-config.yaml`
//! (cryptogen), each channel's genesis block description
//! ([`channel_description`], built into block 0 by
//! [`opssc_fabric::configtx::genesis`], no configtxgen), each peer's
//! `core.yaml` and each orderer's `orderer.yaml`.
//!
//! These are the project's own templates: every key a node reads is set here,
//! so nothing falls back to Fabric's sample defaults (ports 7050–9443, data in
//! /var, Docker). They are built as `serde_json::Value` and written as YAML,
//! which makes quoting of paths and policy strings a non-issue.
//!
//! Decisions worth knowing: a channel's settings (policies, capabilities,
//! batch, ACLs) are its [`crate::topology::ChannelSettings`], the spec's values when the devnet
//! is started from a spec; Raft cluster traffic shares each orderer's main
//! listener, so a consenter's address is the orderer's endpoint (see
//! [`orderer_yaml`]); TLS is on everywhere, mutual TLS is off on the peers'
//! and orderers' client-facing ports (the orderer admin endpoint requires
//! client certificates, and Raft peers present theirs); the operations
//! endpoints are plain HTTP on loopback with Prometheus metrics; Docker is
//! disabled (`vm.endpoint` empty), chaincode runs through the `ccaas` external
//! builder; every peer pulls blocks from the orderer itself (no gossip leader
//! election, which would delay the first blocks by its 15 s grace period).

use std::path::Path;

use opssc_fabric::configtx::genesis::ChannelDescription;
use opssc_fabric::configtx::{ConfigError, MspDefinition, Organization, PolicyRule};
use opssc_fabric::protos::{etcdraft, orderer};
use serde_json::{Value, json};

use crate::error::{DevnetError, Result};
use crate::handles::{NetworkPlan, OrdererHandle, PeerHandle};
use crate::layout::{Layout, NodeCrypto};
use crate::topology::ChannelDef;

/// How long a peer waits for a chaincode server to connect / answer.
pub const CHAINCODE_STARTUP_TIMEOUT: &str = "30s";
pub const CHAINCODE_EXECUTE_TIMEOUT: &str = "20s";
/// What the Go builder needs from the peer's environment (the peer passes
/// only these, plus PATH, TMPDIR and the library paths): Go's caches and
/// module proxy settings, and where the builder caches binaries.
pub const GOLANG_BUILDER_ENV: [&str; 14] = [
    "HOME",
    "XDG_CACHE_HOME",
    "OPSSC_GOBUILD_CACHE",
    "GOROOT",
    "GOPATH",
    "GOCACHE",
    "GOMODCACHE",
    "GOPROXY",
    "GOSUMDB",
    "GONOSUMDB",
    "GOPRIVATE",
    "GONOPROXY",
    "GOFLAGS",
    "GOTOOLCHAIN",
];
/// Writes `value` as YAML to `path`, creating the parent directory.
pub fn write_yaml(path: &Path, value: &Value) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(DevnetError::io("create", dir))?;
    }
    let text = serde_saphyr::to_string(value).map_err(|e| DevnetError::Output {
        what: format!("serializing {}", path.display()),
        detail: e.to_string(),
    })?;
    std::fs::write(path, text).map_err(DevnetError::io("write", path))
}

fn p(path: &Path) -> Value {
    Value::String(path.to_string_lossy().into_owned())
}

/// cryptogen input: NodeOUs on, every node certificate valid for 127.0.0.1 and localhost.
pub fn crypto_config(plan: &NetworkPlan) -> Value {
    let sans = json!(["127.0.0.1", "localhost"]);
    let oo = &plan.topology.orderer_org;
    let orderer_specs: Vec<Value> = plan
        .orderers
        .iter()
        .map(|o| json!({ "Hostname": o.name, "SANS": sans }))
        .collect();
    let peer_orgs: Vec<Value> = plan
        .topology
        .peer_orgs
        .iter()
        .map(|org| {
            json!({
                "Name": org.name,
                "Domain": org.domain,
                "EnableNodeOUs": true,
                "Template": { "Count": org.peers, "SANS": sans },
                "Users": { "Count": 1 },
            })
        })
        .collect();
    json!({
        "OrdererOrgs": [{
            "Name": oo.name,
            "Domain": oo.domain,
            "EnableNodeOUs": true,
            "Specs": orderer_specs,
        }],
        "PeerOrgs": peer_orgs,
    })
}

/// The Raft options of every channel: a 200 ms tick, so a leader is elected
/// within about 2 s of the channel starting (configtxgen's sample has 500 ms).
pub fn raft_options() -> etcdraft::Options {
    etcdraft::Options {
        tick_interval: "200ms".into(),
        election_tick: 10,
        heartbeat_tick: 1,
        max_inflight_blocks: 5,
        snapshot_interval_size: 16 * 1024 * 1024,
    }
}

/// A policy as the spec writes it: implicit meta (`MAJORITY Admins`) or
/// signature (`OR('Org1MSP.peer')`).
pub fn policy_rule(text: &str) -> std::result::Result<PolicyRule, ConfigError> {
    PolicyRule::implicit_meta(text).or_else(|_| PolicyRule::signature(text))
}

/// The description of `channel`'s genesis block, for
/// [`opssc_fabric::configtx::genesis`]: its member organizations (their
/// cryptogen MSPs, the policies configtxgen's sample gives an organization,
/// `peer0` as anchor peer), the orderer organization with every orderer's
/// address as an endpoint, every orderer as a Raft consenter at that same
/// address (cluster traffic shares the orderer's main listener, see
/// [`orderer_yaml`]), and the channel's [`crate::topology::ChannelSettings`]. Reads the MSP
/// directories and TLS certificates, so cryptogen must have run.
pub fn channel_description(plan: &NetworkPlan, channel: &ChannelDef) -> Result<ChannelDescription> {
    let failed = |what: String| {
        move |e: ConfigError| {
            DevnetError::Topology(format!(
                "channel {}: {what}: {}",
                channel.name,
                error_chain(&e)
            ))
        }
    };
    let mut app_orgs = Vec::new();
    for org in plan
        .orgs
        .iter()
        .filter(|o| channel.members.contains(&o.msp_id))
    {
        let msp =
            MspDefinition::from_msp_dir(&org.msp_id, &org.msp_dir).map_err(failed(format!(
                "reading the MSP of {} in {}",
                org.msp_id,
                org.msp_dir.display()
            )))?;
        let mut o = Organization::application(msp)
            .map_err(failed(format!("the organization {}", org.msp_id)))?;
        if let Some(anchor) = org.peers.first() {
            let (host, port) = split_address(&anchor.address);
            o = o.with_anchor_peers(&[(&host, port)]);
        }
        app_orgs.push(o);
    }
    let oo = &plan.orderer_org;
    let orderer_msp =
        MspDefinition::from_msp_dir(&oo.msp_id, &oo.msp_dir).map_err(failed(format!(
            "reading the MSP of {} in {}",
            oo.msp_id,
            oo.msp_dir.display()
        )))?;
    let orderer_org = Organization::orderer(
        orderer_msp,
        plan.orderers.iter().map(|o| o.address.clone()).collect(),
    )
    .map_err(failed(format!("the organization {}", oo.msp_id)))?;
    let mut consenters = Vec::new();
    for o in &plan.orderers {
        let cert = std::fs::read(&o.tls_cert).map_err(DevnetError::io("read", &o.tls_cert))?;
        let (host, port) = split_address(&o.address);
        consenters.push(etcdraft::Consenter {
            host,
            port: u32::from(port),
            client_tls_cert: cert.clone(),
            server_tls_cert: cert,
        });
    }
    let s = &channel.settings;
    let mut desc = ChannelDescription::new(&channel.name, app_orgs, vec![orderer_org], consenters);
    desc.raft_options = raft_options();
    desc.batch_timeout = s.batch_timeout();
    desc.batch_size = orderer::BatchSize {
        max_message_count: s.max_message_count,
        absolute_max_bytes: s.absolute_max_bytes,
        preferred_max_bytes: s.preferred_max_bytes,
    };
    desc.channel_capabilities = vec![s.channel_capability.clone()];
    desc.orderer_capabilities = vec![s.orderer_capability.clone()];
    desc.application_capabilities = vec![s.application_capability.clone()];
    desc.application_policies = s
        .policies
        .iter()
        .map(|(name, text)| {
            policy_rule(text)
                .map(|rule| (name.clone(), rule))
                .map_err(failed(format!("its {name} policy {text:?}")))
        })
        .collect::<Result<_>>()?;
    desc.acls = s.acls.clone();
    Ok(desc)
}

/// `a: b: c` for an error and its sources.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(&format!(": {c}"));
        src = c.source();
    }
    s
}

/// `127.0.0.1:7050` → (`127.0.0.1`, 7050). Addresses come from [`crate::ports::loopback`].
fn split_address(addr: &str) -> (String, u16) {
    let (host, port) = addr
        .rsplit_once(':')
        .expect("devnet addresses are host:port");
    (
        host.to_string(),
        port.parse().expect("devnet ports are numbers"),
    )
}

/// A peer's `core.yaml`. `bootstrap` are the gossip addresses of the other
/// peers of the same organization (empty for a single peer).
pub fn core_yaml(
    peer: &PeerHandle,
    node: &NodeCrypto,
    bootstrap: &[String],
    layout: &Layout,
) -> Value {
    json!({
        "peer": {
            "id": peer.host,
            "networkId": "opssc-devnet",
            "listenAddress": peer.address,
            "address": peer.address,
            "addressAutoDetect": false,
            "chaincodeListenAddress": peer.chaincode_address,
            "chaincodeAddress": peer.chaincode_address,
            "gateway": {
                "enabled": true,
                "endorsementTimeout": "30s",
                "broadcastTimeout": "30s",
                "dialTimeout": "10s",
            },
            "keepalive": {
                "interval": "7200s",
                "timeout": "20s",
                "minInterval": "60s",
                "client": { "interval": "60s", "timeout": "20s" },
                "deliveryClient": { "interval": "60s", "timeout": "20s" },
            },
            "gossip": gossip(peer, bootstrap),
            "tls": {
                "enabled": true,
                "clientAuthRequired": false,
                "cert": { "file": p(&node.tls_cert()) },
                "key": { "file": p(&node.tls_key()) },
                "rootcert": { "file": p(&node.tls_ca()) },
                "clientRootCAs": { "files": [p(&node.tls_ca())] },
                "clientKey": { "file": "" },
                "clientCert": { "file": "" },
            },
            "authentication": { "timewindow": "15m" },
            "fileSystemPath": p(&peer.data_dir),
            "BCCSP": bccsp(),
            "mspConfigPath": p(&node.msp()),
            "localMspId": peer.msp_id,
            "client": { "connTimeout": "3s" },
            "deliveryclient": {
                // Every peer pulls blocks from the orderer itself.
                "blockGossipEnabled": false,
                "reconnectTotalTimeThreshold": "3600s",
                "connTimeout": "3s",
                "reConnectBackoffThreshold": "5s",
            },
            "localMspType": "bccsp",
            "profile": { "enabled": false, "listenAddress": "127.0.0.1:0" },
            "handlers": {
                "authFilters": [{ "name": "DefaultAuth" }, { "name": "ExpirationCheck" }],
                "decorators": [{ "name": "DefaultDecorator" }],
                "endorsers": { "escc": { "name": "DefaultEndorsement" } },
                "validators": { "vscc": { "name": "DefaultValidation" } },
            },
            "discovery": {
                "enabled": true,
                "authCacheEnabled": true,
                "authCacheMaxSize": 1000,
                "authCachePurgeRetentionRatio": 0.75,
                "orgMembersAllowedAccess": false,
            },
            "limits": {
                "concurrency": {
                    "endorserService": 2500,
                    "deliverService": 2500,
                    "gatewayService": 500,
                },
            },
            "maxRecvMsgSize": 104857600,
            "maxSendMsgSize": 104857600,
        },
        // No Docker: an empty endpoint disables the Docker builder and its health check.
        "vm": { "endpoint": "" },
        "chaincode": {
            "externalBuilders": [{
                "name": "opssc-ccaas",
                "path": p(&layout.ccaas_builder()),
                // The builder reads per-peer placeholder values from
                // $FABRIC_CFG_PATH/ccaas-builder.env (see devnet/src/founding.rs).
                "propagateEnvironment": ["FABRIC_CFG_PATH"],
            }, {
                // Go source packages, compiled natively by `go build` and
                // launched by the peer (devnet/builders/golang).
                "name": "opssc-golang",
                "path": p(&layout.golang_builder()),
                "propagateEnvironment": GOLANG_BUILDER_ENV,
            }],
            "installTimeout": "300s",
            "startuptimeout": CHAINCODE_STARTUP_TIMEOUT,
            "executetimeout": CHAINCODE_EXECUTE_TIMEOUT,
            "mode": "net",
            "keepalive": 0,
            "system": {
                "_lifecycle": "enable",
                "cscc": "enable",
                "lscc": "enable",
                "qscc": "enable",
            },
            "logging": { "level": "info", "shim": "warning" },
        },
        "ledger": {
            "state": {
                "stateDatabase": "goleveldb",
                "totalQueryLimit": 100000,
            },
            "history": { "enableHistoryDatabase": true },
            "pvtdataStore": {
                "collElgProcMaxDbBatchSize": 5000,
                "collElgProcDbBatchesInterval": 1000,
                "deprioritizedDataReconcilerInterval": "60m",
                "purgeInterval": 100,
                "purgedKeyAuditLogging": true,
            },
            "snapshots": { "rootDir": p(&peer.data_dir.join("snapshots")) },
        },
        "operations": {
            "listenAddress": peer.operations_address,
            "tls": { "enabled": false },
        },
        "metrics": { "provider": "prometheus" },
    })
}

fn gossip(peer: &PeerHandle, bootstrap: &[String]) -> Value {
    json!({
        "bootstrap": bootstrap,
        "useLeaderElection": false,
        "orgLeader": true,
        "membershipTrackerInterval": "5s",
        "endpoint": peer.address,
        "externalEndpoint": peer.address,
        "maxBlockCountToStore": 10,
        "maxPropagationBurstLatency": "10ms",
        "maxPropagationBurstSize": 10,
        "propagateIterations": 1,
        "propagatePeerNum": 3,
        // Fabric's default timers. Every state-info snapshot a peer pulls
        // is verified message by message: at 2 s, ten idle peers on one
        // machine spent a third of a core on it.
        "pullInterval": "4s",
        "pullPeerNum": 3,
        "requestStateInfoInterval": "4s",
        "publishStateInfoInterval": "4s",
        "publishCertPeriod": "10s",
        "skipBlockVerification": false,
        "dialTimeout": "3s",
        "connTimeout": "2s",
        "recvBuffSize": 20,
        "sendBuffSize": 200,
        "digestWaitTime": "1s",
        "requestWaitTime": "1500ms",
        "responseWaitTime": "2s",
        "aliveTimeInterval": "5s",
        "aliveExpirationTimeout": "25s",
        "reconnectInterval": "1s",
        "maxConnectionAttempts": 120,
        "msgExpirationFactor": 20,
        "election": {
            "startupGracePeriod": "15s",
            "membershipSampleInterval": "1s",
            "leaderAliveThreshold": "10s",
            "leaderElectionDuration": "5s",
        },
        "pvtData": {
            "pullRetryThreshold": "60s",
            "transientstoreMaxBlockRetention": 1000,
            "pushAckTimeout": "3s",
            "btlPullMargin": 10,
            "reconcileBatchSize": 10,
            "reconcileSleepInterval": "1m",
            "reconciliationEnabled": true,
            "skipPullingInvalidTransactionsDuringCommit": false,
            "implicitCollectionDisseminationPolicy": {
                "requiredPeerCount": 0,
                "maxPeerCount": 1,
            },
        },
        "state": {
            "enabled": false,
            "checkInterval": "10s",
            "responseTimeout": "3s",
            "batchSize": 10,
            "blockBufferSize": 20,
            "maxRetries": 3,
        },
    })
}

fn bccsp() -> Value {
    json!({
        "Default": "SW",
        "SW": { "Hash": "SHA2", "Security": 256, "FileKeyStore": { "KeyStore": "" } },
    })
}

/// An orderer's `orderer.yaml`.
///
/// Raft cluster traffic uses the orderer's main gRPC listener: `General.Cluster`
/// names no listen address, port or server key pair, which Fabric 2.5 reads as
/// "serve the cluster on the general listener" (orderer/common/server/main.go,
/// `reuseListener`). A consenter's address on the chain is then the orderer
/// endpoint an organization publishes, as in Fabric's own test network, and a
/// spec that names each orderer by that one endpoint describes its consenters
/// completely. The node still dials the other consenters with its TLS pair
/// (`ClientCertificate`), which the channel config lists as the consenter's
/// client certificate; the general listener asks for, without requiring, a
/// client certificate, and the cluster service checks it against the
/// consenter set. (The handles' `cluster_address` port is not listened on.)
pub fn orderer_yaml(o: &OrdererHandle, plan: &NetworkPlan, layout: &Layout) -> Value {
    let oc = layout.orderer_org(&plan.topology.orderer_org);
    let node = oc.node("orderers", &o.host);
    let (_, port) = split_address(&o.address);
    json!({
        "General": {
            "ListenAddress": "127.0.0.1",
            "ListenPort": port,
            "TLS": {
                "Enabled": true,
                "PrivateKey": p(&node.tls_key()),
                "Certificate": p(&node.tls_cert()),
                "RootCAs": [p(&node.tls_ca())],
                "ClientAuthRequired": false,
                "ClientRootCAs": [],
            },
            "Keepalive": {
                "ServerMinInterval": "60s",
                "ServerInterval": "7200s",
                "ServerTimeout": "20s",
            },
            "MaxRecvMsgSize": 104857600,
            "MaxSendMsgSize": 104857600,
            // No ListenAddress / ListenPort / ServerCertificate /
            // ServerPrivateKey: the cluster shares the general listener.
            "Cluster": {
                "ClientCertificate": p(&node.tls_cert()),
                "ClientPrivateKey": p(&node.tls_key()),
                "RootCAs": [p(&oc.tls_ca_cert())],
                "SendBufferSize": 100,
                "DialTimeout": "5s",
                "RPCTimeout": "10s",
            },
            "BootstrapMethod": "none",
            "LocalMSPDir": p(&node.msp()),
            "LocalMSPID": o.msp_id,
            "Profile": { "Enabled": false, "Address": "127.0.0.1:0" },
            "BCCSP": bccsp(),
            "Authentication": { "TimeWindow": "15m" },
        },
        "FileLedger": { "Location": p(&o.data_dir.join("ledger")) },
        "Operations": {
            "ListenAddress": o.operations_address,
            "TLS": { "Enabled": false },
        },
        "Metrics": { "Provider": "prometheus" },
        "Admin": {
            "ListenAddress": o.admin_address,
            "TLS": {
                "Enabled": true,
                "Certificate": p(&node.tls_cert()),
                "PrivateKey": p(&node.tls_key()),
                "ClientAuthRequired": true,
                "ClientRootCAs": [p(&oc.tls_ca_cert())],
            },
        },
        "ChannelParticipation": { "Enabled": true, "MaxRequestBodySize": "1 MB" },
        "Consensus": {
            "WALDir": p(&o.data_dir.join("etcdraft").join("wal")),
            "SnapDir": p(&o.data_dir.join("etcdraft").join("snapshot")),
            // An orderer removed from a channel's consenter set that missed
            // the config block removing it (it lagged, on a busy machine)
            // sits leaderless, still serving the channel's old blocks to the
            // peers that pull from it, until it suspects its eviction: 10
            // minutes by default. The devnet changes consenters in its tests
            // and demos, so it checks after 15 s without a leader (it then
            // pulls the channel's last config block and halts or catches up).
            "EvictionSuspicion": "15s",
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handles::plan;
    use crate::ports::PortPool;
    use crate::topology::Topology;

    fn test_plan() -> (NetworkPlan, Layout) {
        let layout = Layout::new(Path::new("/state"));
        let topo = Topology::reference(2).with_orderers(3);
        (plan(&topo, &layout, &mut PortPool::new()).unwrap(), layout)
    }

    #[test]
    fn core_yaml_binds_only_loopback_and_keeps_data_in_the_state_dir() {
        let (plan, layout) = test_plan();
        let peer = &plan.orgs[0].peers[0];
        let node = layout
            .peer_org(&plan.topology.peer_orgs[0])
            .node("peers", &peer.host);
        let v = core_yaml(peer, &node, &[], &layout);
        assert_eq!(v["peer"]["listenAddress"], json!(peer.address));
        assert_eq!(
            v["peer"]["chaincodeListenAddress"],
            json!(peer.chaincode_address)
        );
        assert_eq!(
            v["operations"]["listenAddress"],
            json!(peer.operations_address)
        );
        assert_eq!(v["peer"]["gossip"]["externalEndpoint"], json!(peer.address));
        assert_eq!(v["vm"]["endpoint"], json!(""));
        assert_eq!(
            v["peer"]["fileSystemPath"],
            json!("/state/nodes/peer0.org1.example.com/data")
        );
        assert_eq!(
            v["peer"]["tls"]["cert"]["file"],
            json!(
                "/state/crypto/peerOrganizations/org1.example.com/peers/peer0.org1.example.com/tls/server.crt"
            )
        );
        assert_eq!(
            v["chaincode"]["externalBuilders"][0]["path"],
            json!("/state/builders/ccaas")
        );
        assert_eq!(
            v["chaincode"]["externalBuilders"][1]["path"],
            json!("/state/builders/golang")
        );
        assert_eq!(
            v["chaincode"]["externalBuilders"][1]["propagateEnvironment"][0],
            json!("HOME")
        );
        // No address anywhere in the file may be a wildcard or a default port.
        let text = serde_saphyr::to_string(&v).unwrap();
        assert!(!text.contains("0.0.0.0"), "{text}");
        assert!(!text.contains("/var/"), "{text}");
    }

    #[test]
    fn orderer_yaml_uses_channel_participation_and_state_dir() {
        let (plan, layout) = test_plan();
        let o = &plan.orderers[1];
        let v = orderer_yaml(o, &plan, &layout);
        assert_eq!(v["General"]["BootstrapMethod"], json!("none"));
        assert_eq!(v["ChannelParticipation"]["Enabled"], json!(true));
        assert_eq!(v["Admin"]["ListenAddress"], json!(o.admin_address));
        assert_eq!(v["Admin"]["TLS"]["ClientAuthRequired"], json!(true));
        // Not Fabric's 10 minutes: an evicted orderer that missed its
        // eviction would serve stale blocks that long.
        assert_eq!(v["Consensus"]["EvictionSuspicion"], json!("15s"));
        let text = serde_saphyr::to_string(&v).unwrap();
        assert!(!text.contains("/var/"), "{text}");
    }

    #[test]
    fn raft_shares_the_orderers_main_listener() {
        let (plan, layout) = test_plan();
        let o = &plan.orderers[2];
        let v = orderer_yaml(o, &plan, &layout);
        assert_eq!(
            v["General"]["ListenPort"],
            json!(split_address(&o.address).1)
        );
        // Fabric serves the cluster on the general listener only when none
        // of these four is set (and panics when only some are).
        let cluster = v["General"]["Cluster"].as_object().unwrap();
        for key in [
            "ListenAddress",
            "ListenPort",
            "ServerCertificate",
            "ServerPrivateKey",
        ] {
            assert!(
                !cluster.contains_key(key),
                "Cluster.{key} is set: {cluster:?}"
            );
        }
        assert_eq!(
            cluster["ClientCertificate"],
            v["General"]["TLS"]["Certificate"]
        );
        assert_eq!(v["General"]["TLS"]["ClientAuthRequired"], json!(false));
    }

    /// A plan under a temporary state directory with stand-in PEM files where
    /// cryptogen would have written the MSPs and the orderers' TLS certificates.
    fn plan_with_crypto(dir: &Path) -> NetworkPlan {
        let layout = Layout::new(dir);
        let topo = Topology::reference(3).with_orderers(3);
        let plan = plan(&topo, &layout, &mut PortPool::new()).unwrap();
        let pem = |name: &str| {
            format!("-----BEGIN CERTIFICATE-----\n{name}\n-----END CERTIFICATE-----\n")
        };
        let msp_dirs = plan
            .orgs
            .iter()
            .map(|o| (&o.msp_id, &o.msp_dir))
            .chain(std::iter::once((
                &plan.orderer_org.msp_id,
                &plan.orderer_org.msp_dir,
            )));
        for (id, msp) in msp_dirs {
            for sub in ["cacerts", "tlscacerts"] {
                std::fs::create_dir_all(msp.join(sub)).unwrap();
                std::fs::write(msp.join(sub).join("ca.pem"), pem(&format!("{sub} {id}"))).unwrap();
            }
            let ou = |name: &str| {
                format!(
                    "  {name}OUIdentifier:\n    Certificate: cacerts/ca.pem\n    OrganizationalUnitIdentifier: {}\n",
                    name.to_lowercase()
                )
            };
            let node_ous: String = ["Client", "Peer", "Admin", "Orderer"].map(ou).concat();
            std::fs::write(
                msp.join("config.yaml"),
                format!("NodeOUs:\n  Enable: true\n{node_ous}"),
            )
            .unwrap();
        }
        for o in &plan.orderers {
            std::fs::create_dir_all(o.tls_cert.parent().unwrap()).unwrap();
            std::fs::write(&o.tls_cert, pem(&o.host)).unwrap();
        }
        plan
    }

    #[test]
    fn genesis_carries_the_channel_settings_and_consenters_at_the_orderer_endpoints() {
        use opssc_fabric::configtx::genesis::channel_config;
        let dir = tempfile::tempdir().unwrap();
        let plan = plan_with_crypto(dir.path());
        let mut trade = plan.topology.channels[1].clone();
        trade.members.retain(|m| m != "Org3MSP");
        trade.settings.batch_timeout_ms = 2000;
        trade.settings.max_message_count = 7;
        trade.settings.application_capability = "V2_0".into();
        trade.settings.policies.insert(
            "Endorsement".into(),
            "OR('Org1MSP.peer', 'Org2MSP.peer')".into(),
        );
        trade.settings.acls.insert(
            "qscc/GetChainInfo".into(),
            "/Channel/Application/Writers".into(),
        );
        let config = channel_config(&channel_description(&plan, &trade).unwrap()).unwrap();

        assert_eq!(config.application_msp_ids(), ["Org1MSP", "Org2MSP"]);
        assert_eq!(config.orderer_msp_ids(), ["OrdererMSP"]);
        assert_eq!(config.batch_timeout(), Some("2s"));
        let size = config.batch_size().unwrap();
        assert_eq!(
            (
                size.max_message_count,
                size.absolute_max_bytes,
                size.preferred_max_bytes
            ),
            (7, 10 * 1024 * 1024, 2 * 1024 * 1024)
        );
        let caps = |g: &[&str]| config.capabilities(g).into_iter().collect::<Vec<_>>();
        assert_eq!(caps(&[]), ["V2_0"]);
        assert_eq!(caps(&["Orderer"]), ["V2_0"]);
        assert_eq!(caps(&["Application"]), ["V2_0"]);
        assert_eq!(
            config.policy("/Channel/Application/Endorsement"),
            Some(&PolicyRule::signature("OR('Org1MSP.peer', 'Org2MSP.peer')").unwrap())
        );
        assert_eq!(
            config.policy("/Channel/Application/LifecycleEndorsement"),
            Some(&PolicyRule::implicit_meta("MAJORITY Endorsement").unwrap())
        );
        assert_eq!(
            config.acls(),
            [(
                "qscc/GetChainInfo".to_string(),
                "/Channel/Application/Writers".to_string()
            )]
            .into()
        );
        let anchors = config.anchor_peers("Org2MSP");
        assert_eq!(
            format!("{}:{}", anchors[0].host, anchors[0].port),
            plan.orgs[1].peers[0].address
        );
        // Every consenter is an orderer at its endpoint, with its TLS certificate.
        let raft = config.etcdraft().unwrap();
        let consenters: Vec<String> = raft
            .consenters
            .iter()
            .map(|c| format!("{}:{}", c.host, c.port))
            .collect();
        let endpoints: Vec<String> = plan.orderers.iter().map(|o| o.address.clone()).collect();
        assert_eq!(consenters, endpoints);
        assert_eq!(
            raft.consenters[1].client_tls_cert,
            std::fs::read(&plan.orderers[1].tls_cert).unwrap()
        );
        assert_eq!(raft.options.as_ref().unwrap().tick_interval, "200ms");

        // The reference settings, as network-spec/ states them.
        let ops = channel_config(&channel_description(&plan, &plan.topology.channels[0]).unwrap())
            .unwrap();
        assert_eq!(ops.batch_timeout(), Some("500ms"));
        assert_eq!(ops.batch_size().unwrap().max_message_count, 100);
        assert_eq!(ops.application_msp_ids().len(), 3);
        assert!(ops.acls().is_empty());
    }

    #[test]
    fn genesis_without_crypto_material_names_the_channel_and_the_msp() {
        let dir = tempfile::tempdir().unwrap();
        let plan = plan(
            &Topology::reference(1),
            &Layout::new(dir.path()),
            &mut PortPool::new(),
        )
        .unwrap();
        let err = channel_description(&plan, &plan.topology.channels[1])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("channel trade") && err.contains("Org1MSP"),
            "{err}"
        );
        assert!(err.contains("cacerts"), "{err}");
    }

    #[test]
    fn crypto_config_enables_node_ous_and_loopback_sans() {
        let (plan, _) = test_plan();
        let v = crypto_config(&plan);
        assert_eq!(v["OrdererOrgs"][0]["Specs"].as_array().unwrap().len(), 3);
        assert_eq!(v["PeerOrgs"][1]["Domain"], json!("org2.example.com"));
        assert_eq!(v["PeerOrgs"][0]["EnableNodeOUs"], json!(true));
        assert_eq!(
            v["PeerOrgs"][0]["Template"]["SANS"],
            json!(["127.0.0.1", "localhost"])
        );
    }
}
