//! The configuration files the devnet writes: `crypto-config.yaml` (cryptogen),
//! `configtx.yaml` (configtxgen), each peer's `core.yaml` and each orderer's
//! `orderer.yaml`.
//!
//! These are the project's own templates: every key a node reads is set here,
//! so nothing falls back to Fabric's sample defaults (ports 7050–9443, data in
//! /var, Docker). They are built as `serde_json::Value` and written as YAML,
//! which makes quoting of paths and policy strings a non-issue.
//!
//! Decisions worth knowing: TLS is on everywhere, mutual TLS is off on the
//! peers' and orderers' client-facing ports (the orderer admin endpoint and the
//! Raft cluster port do require client certificates); the operations endpoints
//! are plain HTTP on loopback with Prometheus metrics; Docker is disabled
//! (`vm.endpoint` empty), chaincode runs through the `ccaas` external builder;
//! every peer pulls blocks from the orderer itself (no gossip leader election,
//! which would delay the first blocks by its 15 s grace period).

use std::path::Path;

use serde_json::{Value, json};

use crate::error::{DevnetError, Result};
use crate::handles::{NetworkPlan, OrdererHandle, PeerHandle};
use crate::layout::{Layout, NodeCrypto};

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
/// Block cutting: short so tests see their transactions committed quickly.
pub const BATCH_TIMEOUT: &str = "300ms";

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

fn signature_policy(rule: String) -> Value {
    json!({ "Type": "Signature", "Rule": rule })
}

fn implicit_policy(rule: &str) -> Value {
    json!({ "Type": "ImplicitMeta", "Rule": rule })
}

/// configtxgen input: one profile per channel, named after the channel.
pub fn configtx(plan: &NetworkPlan) -> Value {
    let oo = &plan.orderer_org;
    let orderer_org = json!({
        "Name": oo.msp_id,
        "ID": oo.msp_id,
        "MSPDir": p(&oo.msp_dir),
        "Policies": {
            "Readers": signature_policy(format!("OR('{}.member')", oo.msp_id)),
            "Writers": signature_policy(format!("OR('{}.member')", oo.msp_id)),
            "Admins": signature_policy(format!("OR('{}.admin')", oo.msp_id)),
        },
        "OrdererEndpoints": plan.orderers.iter().map(|o| o.address.clone()).collect::<Vec<_>>(),
    });
    let consenters: Vec<Value> = plan
        .orderers
        .iter()
        .map(|o| {
            let (host, port) = split_address(&o.cluster_address);
            json!({
                "Host": host,
                "Port": port,
                "ClientTLSCert": p(&o.tls_cert),
                "ServerTLSCert": p(&o.tls_cert),
            })
        })
        .collect();
    let mut profiles = serde_json::Map::new();
    for ch in &plan.channels {
        let members: Vec<Value> = plan
            .orgs
            .iter()
            .filter(|o| ch.members.contains(&o.msp_id))
            .map(|org| {
                let id = &org.msp_id;
                json!({
                    "Name": id,
                    "ID": id,
                    "MSPDir": p(&org.msp_dir),
                    "Policies": {
                        "Readers": signature_policy(format!("OR('{id}.admin', '{id}.peer', '{id}.client')")),
                        "Writers": signature_policy(format!("OR('{id}.admin', '{id}.client')")),
                        "Admins": signature_policy(format!("OR('{id}.admin')")),
                        "Endorsement": signature_policy(format!("OR('{id}.peer')")),
                    },
                    // peer0 of every organization is its anchor peer.
                    "AnchorPeers": org.peers.first().map(|peer| {
                        let (host, port) = split_address(&peer.address);
                        vec![json!({ "Host": host, "Port": port })]
                    }).unwrap_or_default(),
                })
            })
            .collect();
        profiles.insert(
            ch.name.clone(),
            json!({
                "Capabilities": { "V2_0": true },
                "Policies": {
                    "Readers": implicit_policy("ANY Readers"),
                    "Writers": implicit_policy("ANY Writers"),
                    "Admins": implicit_policy("MAJORITY Admins"),
                },
                "Orderer": {
                    "OrdererType": "etcdraft",
                    "BatchTimeout": BATCH_TIMEOUT,
                    "BatchSize": {
                        "MaxMessageCount": 100,
                        "AbsoluteMaxBytes": "10 MB",
                        "PreferredMaxBytes": "2 MB",
                    },
                    "EtcdRaft": {
                        "Consenters": consenters,
                        "Options": {
                            "TickInterval": "200ms",
                            "ElectionTick": 10,
                            "HeartbeatTick": 1,
                            "MaxInflightBlocks": 5,
                            "SnapshotIntervalSize": "16 MB",
                        },
                    },
                    "Organizations": [orderer_org.clone()],
                    "Policies": {
                        "Readers": implicit_policy("ANY Readers"),
                        "Writers": implicit_policy("ANY Writers"),
                        "Admins": implicit_policy("MAJORITY Admins"),
                        "BlockValidation": implicit_policy("ANY Writers"),
                    },
                    "Capabilities": { "V2_0": true },
                },
                "Application": {
                    "Organizations": members,
                    "Policies": {
                        "Readers": implicit_policy("ANY Readers"),
                        "Writers": implicit_policy("ANY Writers"),
                        "Admins": implicit_policy("MAJORITY Admins"),
                        "LifecycleEndorsement": implicit_policy("MAJORITY Endorsement"),
                        "Endorsement": implicit_policy("MAJORITY Endorsement"),
                    },
                    "Capabilities": { "V2_5": true },
                },
            }),
        );
    }
    json!({ "Profiles": profiles })
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
        "membershipTrackerInterval": "1s",
        "endpoint": peer.address,
        "externalEndpoint": peer.address,
        "maxBlockCountToStore": 10,
        "maxPropagationBurstLatency": "10ms",
        "maxPropagationBurstSize": 10,
        "propagateIterations": 1,
        "propagatePeerNum": 3,
        "pullInterval": "2s",
        "pullPeerNum": 3,
        "requestStateInfoInterval": "2s",
        "publishStateInfoInterval": "2s",
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
pub fn orderer_yaml(o: &OrdererHandle, plan: &NetworkPlan, layout: &Layout) -> Value {
    let oc = layout.orderer_org(&plan.topology.orderer_org);
    let node = oc.node("orderers", &o.host);
    let (_, port) = split_address(&o.address);
    let (_, cluster_port) = split_address(&o.cluster_address);
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
            "Cluster": {
                "ListenAddress": "127.0.0.1",
                "ListenPort": cluster_port,
                "ServerCertificate": p(&node.tls_cert()),
                "ServerPrivateKey": p(&node.tls_key()),
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
        assert_eq!(
            v["General"]["Cluster"]["ListenPort"],
            json!(split_address(&o.cluster_address).1)
        );
        let text = serde_saphyr::to_string(&v).unwrap();
        assert!(!text.contains("/var/"), "{text}");
    }

    #[test]
    fn configtx_has_one_profile_per_channel_with_all_consenters() {
        let (plan, _) = test_plan();
        let v = configtx(&plan);
        let ops = &v["Profiles"]["ops"];
        assert_eq!(
            ops["Orderer"]["EtcdRaft"]["Consenters"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
        assert_eq!(ops["Orderer"]["BatchTimeout"], json!(BATCH_TIMEOUT));
        let orgs = ops["Application"]["Organizations"].as_array().unwrap();
        assert_eq!(orgs.len(), 2);
        assert_eq!(orgs[1]["ID"], json!("Org2MSP"));
        assert_eq!(
            orgs[1]["AnchorPeers"][0]["Port"],
            json!(split_address(&plan.orgs[1].peers[0].address).1)
        );
        assert_eq!(
            ops["Orderer"]["Organizations"][0]["OrdererEndpoints"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
        assert!(v["Profiles"]["trade"].is_object());
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
