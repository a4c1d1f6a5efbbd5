//! From planned channel changes to the exact ConfigUpdate bytes every
//! organization can recompute.
//!
//! [`channel_update`] applies the changes of one planned proposal (an org
//! added or removed, anchor peers, policies, ACLs, capabilities, batch
//! settings, consenters) to the channel's current config and returns the
//! marshaled `common.ConfigUpdate`, plus the proposal payload that carries it
//! ([`proposal_payload`]). It is a pure function of the spec, the changes and
//! the config: two organizations with the same spec commit and the same
//! config block compute the same bytes, which is what lets a voter approve
//! only an update it derived itself, and sign exactly those bytes.
//!
//! Key decision: an organization's config group is built from the spec alone
//! ([`organization`]): the MSP from the certificates the organization
//! committed (NodeOUs pinned to its first CA certificate, as cryptogen and
//! Fabric CA set them up), the sample policies Fabric's own tooling gives a
//! new member, and its anchor peers. Nothing local (no MSP directory) enters
//! the bytes, so every voter derives the same group.

use base64::Engine as _;
use opssc_chaincode::api::{ChannelUpdatePayload, OrgChangePayload};
use opssc_chaincode::model::{ChannelPolicies, Kind};
use opssc_fabric::configtx::{
    ChannelConfig, ConfigError, MspDefinition, Organization, PolicyRule, compute_update, edit, sign,
};
use opssc_fabric::protos::common::{self, ConfigGroup, ConfigUpdate};
use opssc_fabric::protos::etcdraft;
use opssc_fabric::protos::orderer::BatchSize;
use opssc_fabric::protos::protos::AnchorPeer;
use opssc_schema::Spec;
use serde_json::{Value, json};

use crate::plan::{CapabilityGroup, Change};

pub type Result<T, E = ConfigUpdateError> = std::result::Result<T, E>;

/// Why a config update could not be computed from the spec: the spec lacks
/// what the update needs (say which part to commit), or Fabric's config
/// library refused the edit (its [`ConfigError`] kept as the source).
#[derive(Debug, thiserror::Error)]
pub enum ConfigUpdateError {
    #[error("organization {msp_id} is not in the spec")]
    UnknownOrg { msp_id: String },
    #[error(
        "{msp_id} has not committed its certificates (spec.msp) yet; it cannot be added to a channel before"
    )]
    NoMsp { msp_id: String },
    #[error("{msp_id}'s spec.msp lists no CA certificate")]
    NoCaCert { msp_id: String },
    #[error("the config group of {msp_id}")]
    OrgGroup {
        msp_id: String,
        #[source]
        source: ConfigError,
    },
    /// An anchor peer endpoint of the spec that is not `host:port`.
    #[error("anchor peer {endpoint:?} {problem}")]
    AnchorPeer {
        endpoint: String,
        problem: &'static str,
    },
    #[error("policy {text:?}")]
    Policy {
        text: String,
        #[source]
        source: ConfigError,
    },
    #[error("consenter {org}/{node} is not an orderer node of the spec")]
    UnknownConsenter { org: String, node: String },
    #[error("consenter {org}/{node} has no tlsCert in the spec; Raft needs it")]
    RaftTlsCert { org: String, node: String },
    /// A SmartBFT consenter lacks a certificate (`tlsCert` or `signCert`).
    #[error("BFT consenter {org}/{node} has no {cert} in the spec; {hint}")]
    BftCert {
        org: String,
        node: String,
        cert: &'static str,
        hint: String,
    },
    #[error("too many consenters")]
    TooManyConsenters(#[source] std::num::TryFromIntError),
    /// A config edit Fabric's rules refuse (the message is the library's).
    #[error(transparent)]
    Edit(#[from] ConfigError),
    #[error("apply {change} to channel {channel}")]
    Apply {
        change: &'static str,
        channel: String,
        #[source]
        source: Box<ConfigUpdateError>,
    },
    #[error("compute the config update of channel {channel}")]
    Compute {
        channel: String,
        #[source]
        source: ConfigError,
    },
    #[error("an {kind} proposal names its organization")]
    NoProposalOrg { kind: Kind },
    #[error("{kind} proposals carry no config update")]
    NotConfigKind { kind: Kind },
    #[error("the payload has no config_update")]
    NoConfigUpdate,
    #[error("the payload's config_update is not base64")]
    NotBase64(#[source] base64::DecodeError),
}

/// The organization's channel config group as the spec describes it.
pub fn organization(spec: &Spec, msp_id: &str, anchor_peers: &[String]) -> Result<Organization> {
    let def = msp_definition(spec, msp_id)?;
    let mut out = Organization::application(def).map_err(|source| ConfigUpdateError::OrgGroup {
        msp_id: msp_id.to_string(),
        source,
    })?;
    out.anchor_peers = anchor_peers_of(anchor_peers)?;
    Ok(out)
}

/// The organization's MSP as the spec describes it (see the module doc).
pub fn msp_definition(spec: &Spec, msp_id: &str) -> Result<MspDefinition> {
    let org = spec
        .organizations
        .get(msp_id)
        .ok_or_else(|| ConfigUpdateError::UnknownOrg {
            msp_id: msp_id.to_string(),
        })?;
    let msp = org.msp.as_ref().ok_or_else(|| ConfigUpdateError::NoMsp {
        msp_id: msp_id.to_string(),
    })?;
    let pem =
        |v: &Vec<String>| -> Vec<Vec<u8>> { v.iter().map(|p| p.as_bytes().to_vec()).collect() };
    let Some(ca) = msp.ca_certs.first() else {
        return Err(ConfigUpdateError::NoCaCert {
            msp_id: msp_id.to_string(),
        });
    };
    let tls_ca = msp.tls_ca_certs.first().unwrap_or(ca);
    let mut def = if msp.node_ous {
        MspDefinition::with_node_ous(msp_id, ca.as_bytes(), tls_ca.as_bytes())
    } else {
        let admins: Vec<&[u8]> = msp.admin_certs.iter().map(|c| c.as_bytes()).collect();
        MspDefinition::with_admin_certs(msp_id, ca.as_bytes(), tls_ca.as_bytes(), &admins)
    };
    def.root_certs = pem(&msp.ca_certs);
    def.intermediate_certs = pem(&msp.intermediate_certs);
    if !msp.tls_ca_certs.is_empty() {
        def.tls_root_certs = pem(&msp.tls_ca_certs);
    }
    if msp.node_ous {
        def.admin_certs = pem(&msp.admin_certs);
    }
    Ok(def)
}

fn anchor_peers_of(endpoints: &[String]) -> Result<Vec<AnchorPeer>> {
    endpoints
        .iter()
        .map(|e| {
            let bad = |problem| ConfigUpdateError::AnchorPeer {
                endpoint: e.clone(),
                problem,
            };
            let (host, port) = e.rsplit_once(':').ok_or_else(|| bad("is not host:port"))?;
            let port: i32 = port.parse().map_err(|_| bad("has no numeric port"))?;
            Ok(AnchorPeer {
                host: host.to_string(),
                port,
            })
        })
        .collect()
}

/// A policy text as the spec writes it: `ANY|ALL|MAJORITY <name>` is an
/// implicit meta policy, anything else Fabric's signature policy language.
pub fn policy_rule(text: &str) -> Result<PolicyRule> {
    let t = text.trim();
    let implicit = ["ANY ", "ALL ", "MAJORITY "]
        .iter()
        .any(|p| t.starts_with(p));
    let rule = if implicit {
        PolicyRule::implicit_meta(t)
    } else {
        PolicyRule::signature(t)
    };
    rule.map_err(|source| ConfigUpdateError::Policy {
        text: t.to_string(),
        source,
    })
}

/// The Raft consenters the spec names, with their TLS certificates, sorted
/// by host and port.
pub fn consenters(spec: &Spec) -> Result<Vec<etcdraft::Consenter>> {
    let mut out = Vec::new();
    for (org, node) in &spec.consortium.consenters {
        let n = spec
            .organizations
            .get(org)
            .and_then(|o| o.orderers.iter().find(|o| &o.name == node))
            .ok_or_else(|| ConfigUpdateError::UnknownConsenter {
                org: org.clone(),
                node: node.clone(),
            })?;
        let cert = n
            .tls_cert
            .as_ref()
            .ok_or_else(|| ConfigUpdateError::RaftTlsCert {
                org: org.clone(),
                node: node.clone(),
            })?;
        out.push(etcdraft::Consenter {
            host: n.endpoint.host.clone(),
            port: u32::from(n.endpoint.port),
            client_tls_cert: cert.as_bytes().to_vec(),
            server_tls_cert: cert.as_bytes().to_vec(),
        });
    }
    out.sort_by(|a, b| (&a.host, a.port).cmp(&(&b.host, b.port)));
    Ok(out)
}

/// The SmartBFT consenter mapping of the spec's consenters: ids 1..n in
/// the spec's order (Fabric wants them unique and non-zero; the order makes
/// every organization assign the same ones), endpoint, MSP ID, the node's
/// signing certificate as identity and its TLS certificate for both sides.
pub fn bft_consenters(spec: &Spec) -> Result<Vec<common::Consenter>> {
    let mut out = Vec::new();
    for (i, (org, node)) in spec.consortium.consenters.iter().enumerate() {
        let n = spec
            .organizations
            .get(org)
            .and_then(|o| o.orderers.iter().find(|o| &o.name == node))
            .ok_or_else(|| ConfigUpdateError::UnknownConsenter {
                org: org.clone(),
                node: node.clone(),
            })?;
        let missing = |cert, hint| ConfigUpdateError::BftCert {
            org: org.clone(),
            node: node.clone(),
            cert,
            hint,
        };
        let tls = n
            .tls_cert
            .as_ref()
            .ok_or_else(|| missing("tlsCert", format!("commit it in {org}'s Organization")))?;
        let identity = n.sign_cert.as_ref().ok_or_else(|| {
            missing(
                "signCert",
                format!("commit the node's signing certificate in {org}'s Organization"),
            )
        })?;
        out.push(common::Consenter {
            id: u32::try_from(i + 1).map_err(ConfigUpdateError::TooManyConsenters)?,
            host: n.endpoint.host.clone(),
            port: u32::from(n.endpoint.port),
            msp_id: org.clone(),
            identity: identity.as_bytes().to_vec(),
            client_tls_cert: tls.as_bytes().to_vec(),
            server_tls_cert: tls.as_bytes().to_vec(),
        });
    }
    Ok(out)
}

/// `config` with `change` applied; `Ok(None)` for changes that are not
/// config updates (chaincodes, channel creation).
pub fn apply(
    spec: &Spec,
    config: &ChannelConfig,
    change: &Change,
) -> Result<Option<ChannelConfig>> {
    let next = match change {
        Change::OrgAddedToChannel {
            org, anchor_peers, ..
        } => endorsement_follows_members(
            spec,
            config,
            edit::add_application_org(config, &organization(spec, org, anchor_peers)?)?,
        )?,
        Change::OrgRemovedFromChannel { org, .. } => {
            endorsement_follows_members(spec, config, edit::remove_application_org(config, org)?)?
        }
        Change::AnchorPeersChanged { org, after, .. } => {
            edit::set_anchor_peers(config, org, &anchor_peers_of(after)?)?
        }
        Change::PolicyChanged { name, after, .. } => match after {
            Some(text) => edit::set_policy(config, &["Application"], name, policy_rule(text)?)?,
            None => edit::remove_policy(config, &["Application"], name)?,
        },
        Change::AclChanged {
            resource, after, ..
        } => edit::set_acl(config, resource, after.as_deref())?,
        Change::CapabilityChanged { group, after, .. } => {
            let path: &[&str] = match group {
                CapabilityGroup::Channel => &[],
                CapabilityGroup::Orderer => &["Orderer"],
                CapabilityGroup::Application => &["Application"],
            };
            edit::set_capabilities(config, path, &[after.as_str()])?
        }
        Change::BatchChanged { after, .. } => {
            let timed = edit::set_batch_timeout(config, &format!("{}ms", after.timeout_ms))?;
            edit::set_batch_size(
                &timed,
                &BatchSize {
                    max_message_count: after.max_message_count,
                    absolute_max_bytes: after.absolute_max_bytes,
                    preferred_max_bytes: after.preferred_max_bytes,
                },
            )?
        }
        // The channel's own consensus decides the edit: SmartBFT keeps its
        // consenters in the Orderers value (with the BlockValidation policy
        // that must match them), Raft in the ConsensusType metadata.
        Change::ConsentersChanged { .. } if config.bft_consenters().is_some() => {
            edit::set_bft_consenters(config, &bft_consenters(spec)?)?
        }
        Change::ConsentersChanged { .. } => edit::set_consenters(config, &consenters(spec)?)?,
        Change::ChannelCreate { .. }
        | Change::ChaincodeDeploy { .. }
        | Change::ChaincodeUpgrade { .. }
        | Change::ChaincodeDefinitionChanged { .. }
        | Change::GovernanceChanged { .. } => return Ok(None),
    };
    Ok(Some(next))
}

/// `after` (`before` with a member added or removed) with its Endorsement
/// policy rewritten for the new members, when that policy is the members'
/// majority spelled out ([`opssc_schema::policy::members_majority_endorsement`],
/// the ops channel's default) both in `before` and in the spec: the update
/// that changes the members changes the policy that names them, so the
/// OpsSC's endorsement policy never lags a membership change and no second
/// update (a round of votes and signatures of its own) follows it. A
/// channel whose Endorsement is anything else keeps it as it is.
fn endorsement_follows_members(
    spec: &Spec,
    before: &ChannelConfig,
    after: ChannelConfig,
) -> Result<ChannelConfig> {
    use crate::plan::desired::is_members_majority;
    let wanted = spec.channels.get(&before.channel_id).is_some_and(|ch| {
        ch.policies
            .get(ENDORSEMENT)
            .is_some_and(|p| is_members_majority(&p.text, &ch.members))
    });
    let current = before
        .policy(&format!("/Channel/Application/{ENDORSEMENT}"))
        .is_some_and(|rule| is_members_majority(&rule.to_string(), &before.application_msp_ids()));
    let next = opssc_schema::policy::members_majority_endorsement(&after.application_msp_ids());
    match next {
        Some(text) if wanted && current => Ok(edit::set_policy(
            &after,
            &["Application"],
            ENDORSEMENT,
            policy_rule(&text)?,
        )?),
        _ => Ok(after),
    }
}

/// The application policy the OpsSC's definition refers to (its default).
const ENDORSEMENT: &str = "Endorsement";

/// The marshaled ConfigUpdate that makes `changes` on `config`.
pub fn channel_update(spec: &Spec, config: &ChannelConfig, changes: &[&Change]) -> Result<Vec<u8>> {
    let mut next = config.clone();
    for change in changes {
        if let Some(n) = apply(spec, &next, change).map_err(|source| ConfigUpdateError::Apply {
            change: change.kind_name(),
            channel: config.channel_id.clone(),
            source: Box::new(source),
        })? {
            next = n;
        }
    }
    let update = compute_update(config, &next).map_err(|source| ConfigUpdateError::Compute {
        channel: config.channel_id.clone(),
        source,
    })?;
    Ok(sign::encode_update(&update))
}

/// The OpsSC payload of a config proposal carrying `update`. A
/// ChannelUpdate states the registry rules the channel has after it
/// (`after`, from the spec channel: every config change of a channel rides
/// in its one ChannelUpdate, so the channel's policies after it are the
/// spec's); the contract checks them against the update and records them
/// when it commits. OrgAdd and OrgRemove change no policy.
pub fn proposal_payload(
    kind: Kind,
    org: Option<&str>,
    update: &[u8],
    changes: &[&Change],
    after: ChannelPolicies,
) -> Result<Value> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(update);
    let summary = json!(changes.iter().map(|c| c.kind_name()).collect::<Vec<_>>());
    let value = match kind {
        Kind::OrgAdd | Kind::OrgRemove => serde_json::to_value(OrgChangePayload {
            org: org
                .ok_or(ConfigUpdateError::NoProposalOrg { kind })?
                .to_string(),
            config_update: b64,
            summary: Some(summary),
        }),
        Kind::ChannelUpdate => serde_json::to_value(ChannelUpdatePayload {
            config_update: b64,
            add_members: Vec::new(),
            remove_members: Vec::new(),
            policies: Some(after),
            summary: Some(summary),
        }),
        other => return Err(ConfigUpdateError::NotConfigKind { kind: other }),
    };
    Ok(value.expect("payloads serialize"))
}

/// Whether `update` takes `msp`, a member of the channel, out of it: it
/// rewrites the Application group's membership (a write set that lists
/// every remaining member group at a new group version, as Fabric's
/// `compute_update` does when a member is added or removed) without `msp`.
/// An update that leaves the membership alone lists no member groups.
pub fn removes_member(update: &ConfigUpdate, msp: &str) -> bool {
    let app = |g: &Option<ConfigGroup>| {
        g.as_ref()
            .and_then(|g| g.groups.get("Application"))
            .cloned()
    };
    let (Some(read), Some(write)) = (app(&update.read_set), app(&update.write_set)) else {
        return false;
    };
    write.version > read.version && !write.groups.is_empty() && !write.groups.contains_key(msp)
}

/// The ConfigUpdate bytes of a config proposal's payload.
pub fn update_bytes(payload: &Value) -> Result<Vec<u8>> {
    let b64 = payload["config_update"]
        .as_str()
        .ok_or(ConfigUpdateError::NoConfigUpdate)?;
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(ConfigUpdateError::NotBase64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::ObservedBatch;
    use opssc_fabric::configtx::genesis::{ChannelDescription, channel_config};
    use opssc_fabric::configtx::{MspDefinition, Organization, required_signatures};
    use opssc_fabric::protos::common::ConfigUpdate;
    use prost::Message;
    use std::collections::BTreeSet;

    use crate::test_fixtures::placeholder_pem as pem;

    /// The add-org example, with Org4's certificates committed.
    fn spec() -> Spec {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/add-org");
        let mut spec = opssc_schema::load_dir(&dir)
            .spec
            .expect("the example validates");
        spec.organizations.get_mut("Org4MSP").unwrap().msp = Some(opssc_schema::Msp {
            ca_certs: vec![pem("ca.org4")],
            intermediate_certs: Vec::new(),
            tls_ca_certs: vec![pem("tlsca.org4")],
            admin_certs: Vec::new(),
            node_ous: true,
        });
        spec
    }

    /// `trade` with Org1..Org3, as a genesis block would have it.
    fn trade() -> ChannelConfig {
        channel("trade")
    }

    /// Channel `name` with Org1..Org3, as a genesis block of Fabric's
    /// defaults would have it.
    fn channel(name: &str) -> ChannelConfig {
        let org = |id: &str| {
            Organization::application(MspDefinition::with_node_ous(
                id,
                pem(&format!("ca.{id}")).as_bytes(),
                pem(&format!("tlsca.{id}")).as_bytes(),
            ))
            .unwrap()
        };
        let orderer = Organization::orderer(
            MspDefinition::with_node_ous(
                "OrdererMSP",
                pem("ca.o").as_bytes(),
                pem("tlsca.o").as_bytes(),
            ),
            vec!["orderer0.example.com:7050".into()],
        )
        .unwrap();
        let desc = ChannelDescription::new(
            name,
            vec![org("Org1MSP"), org("Org2MSP"), org("Org3MSP")],
            vec![orderer],
            vec![etcdraft::Consenter {
                host: "orderer0.example.com".into(),
                port: 7050,
                client_tls_cert: pem("o0").into_bytes(),
                server_tls_cert: pem("o0").into_bytes(),
            }],
        );
        channel_config(&desc).unwrap()
    }

    fn add_org4() -> Change {
        Change::OrgAddedToChannel {
            channel: "trade".into(),
            org: "Org4MSP".into(),
            anchor_peers: vec!["peer0.org4.example.com:7051".into()],
        }
    }

    #[test]
    fn adding_an_org_is_the_same_bytes_for_everyone_and_needs_the_application_admins() {
        let (spec, config) = (spec(), trade());
        let change = add_org4();
        let bytes = channel_update(&spec, &config, &[&change]).unwrap();
        // Recomputed from a fresh copy of the same inputs: byte for byte.
        assert_eq!(
            bytes,
            channel_update(&super::tests::spec(), &trade(), &[&change]).unwrap()
        );
        let update = ConfigUpdate::decode(bytes.as_slice()).unwrap();
        assert_eq!(update.channel_id, "trade");
        let app = &update.write_set.as_ref().unwrap().groups["Application"];
        assert!(
            app.groups.contains_key("Org4MSP"),
            "{:?}",
            app.groups.keys()
        );
        let org4 = &app.groups["Org4MSP"];
        assert!(org4.values.contains_key("MSP") && org4.values.contains_key("AnchorPeers"));
        let needed = required_signatures(&config, &update).unwrap();
        let two: BTreeSet<String> = ["Org1MSP", "Org2MSP"].map(String::from).into();
        let one: BTreeSet<String> = ["Org1MSP"].map(String::from).into();
        assert!(needed.is_satisfied_by(&two), "MAJORITY of 3 admins is 2");
        assert!(!needed.is_satisfied_by(&one));
        // Another anchor peer is another update.
        let other = Change::OrgAddedToChannel {
            channel: "trade".into(),
            org: "Org4MSP".into(),
            anchor_peers: vec!["peer1.org4.example.com:7051".into()],
        };
        assert_ne!(bytes, channel_update(&spec, &config, &[&other]).unwrap());
    }

    #[test]
    fn adding_an_org_to_the_ops_channel_rewrites_its_members_majority_endorsement() {
        let spec = spec();
        let endorsement = |config: &ChannelConfig| {
            config
                .policy("/Channel/Application/Endorsement")
                .map(|rule| rule.to_string())
        };
        let three = "OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')";
        let ops = edit::set_policy(
            &channel("ops"),
            &["Application"],
            "Endorsement",
            policy_rule(three).unwrap(),
        )
        .unwrap();
        let add = Change::OrgAddedToChannel {
            channel: "ops".into(),
            org: "Org4MSP".into(),
            anchor_peers: vec!["peer0.org4.example.com:7051".into()],
        };
        let after = apply(&spec, &ops, &add).unwrap().unwrap();
        assert!(crate::plan::desired::same_policy(
            &endorsement(&after).unwrap(),
            "OutOf(3, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer', 'Org4MSP.peer')"
        ));
        // In the one update, which the same admins sign.
        let update =
            ConfigUpdate::decode(channel_update(&spec, &ops, &[&add]).unwrap().as_slice()).unwrap();
        let app = &update.write_set.as_ref().unwrap().groups["Application"];
        assert!(app.groups.contains_key("Org4MSP"));
        assert!(app.policies["Endorsement"].policy.is_some());
        let needed = required_signatures(&ops, &update).unwrap();
        let two: BTreeSet<String> = ["Org1MSP", "Org2MSP"].map(String::from).into();
        assert!(needed.is_satisfied_by(&two));
        // And back: removing the member again gives the policy of three.
        let remove = Change::OrgRemovedFromChannel {
            channel: "ops".into(),
            org: "Org4MSP".into(),
        };
        let back = apply(&spec, &after, &remove).unwrap().unwrap();
        assert!(crate::plan::desired::same_policy(
            &endorsement(&back).unwrap(),
            three
        ));
        // A channel whose Endorsement is Fabric's implicit MAJORITY keeps it.
        let kept = apply(&spec, &channel("ops"), &add).unwrap().unwrap();
        assert_eq!(endorsement(&kept).as_deref(), Some("MAJORITY Endorsement"));
        // As does one whose spec writes another Endorsement.
        let mut written = spec.clone();
        let ops_spec = written.channels.get_mut("ops").unwrap();
        let policy = ops_spec.policies.get_mut("Endorsement").unwrap();
        policy.text = "MAJORITY Endorsement".into();
        let kept = apply(&written, &ops, &add).unwrap().unwrap();
        assert_eq!(endorsement(&kept).as_deref(), Some(three));
    }

    #[test]
    fn an_org_without_certificates_cannot_be_added() {
        let mut spec = spec();
        spec.organizations.get_mut("Org4MSP").unwrap().msp = None;
        let e = channel_update(&spec, &trade(), &[&add_org4()]).unwrap_err();
        let text = crate::agent::error::chain(&e);
        assert!(
            text.starts_with("apply OrgAddedToChannel to channel trade: Org4MSP has not committed its certificates"),
            "{text}"
        );
        assert!(
            matches!(&e, ConfigUpdateError::Apply { source, .. }
                if matches!(**source, ConfigUpdateError::NoMsp { ref msp_id } if msp_id == "Org4MSP")),
            "{e:?}"
        );
    }

    #[test]
    fn settings_changes_become_one_update() {
        let (spec, config) = (spec(), trade());
        let batch = Change::BatchChanged {
            channel: "trade".into(),
            before: ObservedBatch {
                timeout_ms: 2000,
                max_message_count: 10,
                absolute_max_bytes: 99 * 1024 * 1024,
                preferred_max_bytes: 512 * 1024,
            },
            after: ObservedBatch {
                timeout_ms: 500,
                max_message_count: 20,
                absolute_max_bytes: 99 * 1024 * 1024,
                preferred_max_bytes: 512 * 1024,
            },
        };
        let acl = Change::AclChanged {
            channel: "trade".into(),
            resource: "qscc/GetChainInfo".into(),
            before: None,
            after: Some("/Channel/Application/Writers".into()),
        };
        let policy = Change::PolicyChanged {
            channel: "trade".into(),
            name: "Endorsement".into(),
            before: Some("MAJORITY Endorsement".into()),
            after: Some("OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')".into()),
        };
        let bytes = channel_update(&spec, &config, &[&batch, &acl, &policy]).unwrap();
        let update = ConfigUpdate::decode(bytes.as_slice()).unwrap();
        let ws = update.write_set.unwrap();
        assert!(ws.groups["Orderer"].values.contains_key("BatchTimeout"));
        assert!(ws.groups["Orderer"].values.contains_key("BatchSize"));
        assert!(ws.groups["Application"].values.contains_key("ACLs"));
        assert!(
            ws.groups["Application"]
                .policies
                .contains_key("Endorsement")
        );
        // The order of the changes does not matter.
        assert_eq!(
            bytes,
            channel_update(&spec, &config, &[&policy, &acl, &batch]).unwrap()
        );
    }

    #[test]
    fn an_update_removes_the_members_its_application_write_set_leaves_out() {
        let config = trade();
        let removed = edit::remove_application_org(&config, "Org3MSP").unwrap();
        let update = compute_update(&config, &removed).unwrap();
        assert!(removes_member(&update, "Org3MSP"));
        assert!(!removes_member(&update, "Org1MSP"));
        let spec = spec();
        let added = apply(&spec, &config, &add_org4()).unwrap().unwrap();
        let update = compute_update(&config, &added).unwrap();
        for org in ["Org1MSP", "Org3MSP", "Org4MSP"] {
            assert!(!removes_member(&update, org), "{org}");
        }
        let policy = Change::PolicyChanged {
            channel: "trade".into(),
            name: "Admins".into(),
            before: Some("MAJORITY Admins".into()),
            after: Some("ALL Admins".into()),
        };
        let changed = apply(&spec, &config, &policy).unwrap().unwrap();
        let update = compute_update(&config, &changed).unwrap();
        assert!(!removes_member(&update, "Org3MSP"));
    }

    #[test]
    fn payloads_are_what_the_contract_accepts() {
        let (spec, config) = (spec(), trade());
        let change = add_org4();
        let bytes = channel_update(&spec, &config, &[&change]).unwrap();
        let payload = proposal_payload(
            Kind::OrgAdd,
            Some("Org4MSP"),
            &bytes,
            &[&change],
            ChannelPolicies::default(),
        )
        .unwrap();
        opssc_chaincode::api::normalize_payload(Kind::OrgAdd, &payload).unwrap();
        assert_eq!(update_bytes(&payload).unwrap(), bytes);
        assert!(
            proposal_payload(
                Kind::OrgAdd,
                None,
                &bytes,
                &[&change],
                ChannelPolicies::default()
            )
            .is_err()
        );
        let cu = proposal_payload(
            Kind::ChannelUpdate,
            None,
            &bytes,
            &[&change],
            ChannelPolicies::default(),
        )
        .unwrap();
        opssc_chaincode::api::normalize_payload(Kind::ChannelUpdate, &cu).unwrap();
        assert!(
            proposal_payload(
                Kind::ChaincodeDeploy,
                None,
                &bytes,
                &[],
                ChannelPolicies::default()
            )
            .is_err()
        );
    }

    #[test]
    fn policy_texts_pick_the_policy_type() {
        assert!(matches!(
            policy_rule("MAJORITY Admins").unwrap(),
            PolicyRule::ImplicitMeta { .. }
        ));
        assert!(matches!(
            policy_rule("OR('A.admin')").unwrap(),
            PolicyRule::Signature(_)
        ));
        assert!(policy_rule("MOST Admins").is_err());
    }
}
