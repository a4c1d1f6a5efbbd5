//! Unit tests over a config built in memory: model round trips, edits,
//! compute_update on typed configs, and who must sign. Certificates are
//! placeholders (nothing here parses X.509); the differential tests against
//! Fabric's binaries use real ones.

use std::collections::BTreeSet;

use prost::Message;

use super::edit;
use super::genesis::{ChannelDescription, channel_config};
use super::model::MspValue;
use super::*;
use crate::protos::common::{Capabilities, Capability, ConfigUpdate};
use crate::protos::{etcdraft, protos::AnchorPeer};

fn pem(name: &str) -> Vec<u8> {
    format!("-----BEGIN CERTIFICATE-----\n{name}\n-----END CERTIFICATE-----\n").into_bytes()
}

fn app_org(id: &str) -> Organization {
    Organization::application(MspDefinition::with_node_ous(
        id,
        &pem(&format!("ca.{id}")),
        &pem(&format!("tlsca.{id}")),
    ))
    .unwrap()
    .with_anchor_peers(&[(&format!("peer0.{id}"), 7051)])
}

fn orderer_org() -> Organization {
    Organization::orderer(
        MspDefinition::with_node_ous("OrdererMSP", &pem("ca.orderer"), &pem("tlsca.orderer")),
        vec!["orderer0:7050".into()],
    )
    .unwrap()
}

fn consenter(host: &str) -> etcdraft::Consenter {
    etcdraft::Consenter {
        host: host.into(),
        port: 7050,
        client_tls_cert: pem(&format!("tls.{host}")),
        server_tls_cert: pem(&format!("tls.{host}")),
    }
}

fn config(orgs: &[&str]) -> ChannelConfig {
    let desc = ChannelDescription::new(
        "mychannel",
        orgs.iter().map(|o| app_org(o)).collect(),
        vec![orderer_org()],
        vec![consenter("orderer0")],
    );
    // Decode what we encode, so the values carry "original" bytes as they
    // would when read from a block.
    let built = channel_config(&desc).unwrap();
    ChannelConfig::from_config("mychannel", &built.to_proto()).unwrap()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn update(a: &ChannelConfig, b: &ChannelConfig) -> ConfigUpdate {
    compute_update(a, b).unwrap()
}

#[test]
fn decode_then_encode_is_the_identity() {
    let c = config(&["Org1MSP", "Org2MSP"]);
    let proto = c.to_proto();
    let again = ChannelConfig::from_config("mychannel", &proto).unwrap();
    assert_eq!(again.to_proto().encode_to_vec(), proto.encode_to_vec());
    assert_eq!(c.application_msp_ids(), ["Org1MSP", "Org2MSP"]);
    assert_eq!(c.orderer_msp_ids(), ["OrdererMSP"]);
    assert_eq!(c.batch_timeout(), Some("2s"));
    assert_eq!(c.anchor_peers("Org1MSP")[0].host, "peer0.Org1MSP");
    assert_eq!(c.etcdraft().unwrap().consenters.len(), 1);
    assert!(matches!(
        c.policy("/Channel/Application/Admins"),
        Some(PolicyRule::ImplicitMeta { .. })
    ));
}

#[test]
fn untouched_values_keep_their_bytes_even_in_an_order_prost_would_not_write() {
    // Capabilities with the map entries written V2_5 first, as Go may do.
    let entry = |name: &str| {
        Capabilities {
            capabilities: [(name.to_string(), Capability {})].into(),
        }
        .encode_to_vec()
    };
    let mut unsorted = entry("V2_5");
    unsorted.extend(entry("V2_0"));
    let sorted = Capabilities {
        capabilities: [
            ("V2_0".to_string(), Capability {}),
            ("V2_5".to_string(), Capability {}),
        ]
        .into(),
    }
    .encode_to_vec();
    assert_ne!(unsorted, sorted);

    let mut proto = config(&["Org1MSP"]).to_proto();
    let app = proto
        .channel_group
        .as_mut()
        .unwrap()
        .groups
        .get_mut("Application")
        .unwrap();
    app.values.get_mut("Capabilities").unwrap().value = unsorted.clone();
    let c = ChannelConfig::from_config("mychannel", &proto).unwrap();
    assert_eq!(c.capabilities(&["Application"]), set(&["V2_0", "V2_5"]));
    let app_value = |c: &ChannelConfig| {
        c.to_proto().channel_group.unwrap().groups["Application"].values["Capabilities"]
            .value
            .clone()
    };
    assert_eq!(app_value(&c), unsorted, "untouched value re-encoded");
    // The same set written again is not a change either.
    let same = edit::set_capabilities(&c, &["Application"], &["V2_5", "V2_0"]).unwrap();
    assert_eq!(app_value(&same), unsorted);
    assert!(matches!(
        compute_update(&c, &same),
        Err(ConfigError::NoDifferences { .. })
    ));
    // A real change is encoded by us, sorted.
    let changed = edit::set_capabilities(&c, &["Application"], &["V2_5"]).unwrap();
    assert_eq!(app_value(&changed), entry("V2_5"));
}

#[test]
fn adding_an_org_needs_a_majority_of_the_application_admins() {
    let before = config(&["Org1MSP", "Org2MSP", "Org3MSP"]);
    let after = edit::add_application_org(&before, &app_org("Org4MSP")).unwrap();
    let u = update(&before, &after);
    let req = required_signatures(&before, &u).unwrap();
    let policies = req.policies();
    assert_eq!(policies.len(), 1);
    assert_eq!(policies[0].policy(), "/Channel/Application/Admins");
    assert_eq!(
        req.threshold(),
        Some((2, set(&["Org1MSP", "Org2MSP", "Org3MSP"])))
    );
    assert!(req.is_satisfied_by(&set(&["Org1MSP", "Org3MSP"])));
    assert!(!req.is_satisfied_by(&set(&["Org2MSP"])));
    // The new org cannot vote for itself.
    assert!(!req.is_satisfied_by(&set(&["Org1MSP", "Org4MSP"])));
    assert_eq!(
        policies[0].to_string(),
        "MAJORITY of /Channel/Application/Admins (MAJORITY Admins) = 2 of {Org1MSP, Org2MSP, Org3MSP}"
    );
    // The written group is Application (version bump); the new org's elements are new.
    let app = req
        .elements
        .iter()
        .find(|e| e.path == "/Channel/Application")
        .unwrap();
    assert!(app.requirement.is_some());
    assert!(
        req.elements
            .iter()
            .filter(|e| e.path.starts_with("/Channel/Application/Org4MSP"))
            .all(|e| e.requirement.is_none())
    );
}

#[test]
fn an_anchor_peer_needs_only_its_own_org_admin() {
    let before = config(&["Org1MSP", "Org2MSP"]);
    let after = edit::set_anchor_peers(
        &before,
        "Org2MSP",
        &[AnchorPeer {
            host: "peer1.Org2MSP".into(),
            port: 9051,
        }],
    )
    .unwrap();
    let req = required_signatures(&before, &update(&before, &after)).unwrap();
    assert_eq!(req.threshold(), Some((1, set(&["Org2MSP"]))));
    assert!(req.is_satisfied_by(&set(&["Org2MSP"])));
    assert!(!req.is_satisfied_by(&set(&["Org1MSP"])));
}

#[test]
fn orderer_values_need_the_orderer_admins_and_absolute_paths_resolve_from_the_root() {
    let before = config(&["Org1MSP", "Org2MSP"]);
    let after = edit::set_batch_timeout(&before, "500ms").unwrap();
    let req = required_signatures(&before, &update(&before, &after)).unwrap();
    assert_eq!(req.policies()[0].policy(), "/Channel/Orderer/Admins");
    assert_eq!(req.threshold(), Some((1, set(&["OrdererMSP"]))));

    // OrdererAddresses carries the absolute mod policy /Channel/Orderer/Admins.
    let with_addresses =
        edit::set_orderer_addresses(&before, &["orderer0:7050".to_string()]).unwrap();
    let with_addresses =
        ChannelConfig::from_config("mychannel", &with_addresses.to_proto()).unwrap();
    let changed =
        edit::set_orderer_addresses(&with_addresses, &["orderer1:7050".to_string()]).unwrap();
    let req = required_signatures(&with_addresses, &update(&with_addresses, &changed)).unwrap();
    assert_eq!(req.policies()[0].policy(), "/Channel/Orderer/Admins");
}

#[test]
fn channel_level_changes_need_majorities_in_both_sections() {
    let before = config(&["Org1MSP", "Org2MSP", "Org3MSP"]);
    let after = edit::set_capabilities(&before, &[], &["V2_0", "V3_0"]).unwrap();
    let req = required_signatures(&before, &update(&before, &after)).unwrap();
    assert_eq!(req.policies()[0].policy(), "/Channel/Admins");
    // MAJORITY of {Application, Orderer} = both: 2 application admins and the orderer admin.
    assert!(req.is_satisfied_by(&set(&["Org1MSP", "Org2MSP", "OrdererMSP"])));
    assert!(!req.is_satisfied_by(&set(&["Org1MSP", "Org2MSP", "Org3MSP"])));
    assert!(!req.is_satisfied_by(&set(&["Org1MSP", "OrdererMSP"])));
    assert_eq!(req.threshold(), None);
    let text = req.to_string();
    assert!(text.starts_with("MAJORITY of /Channel/Admins"), "{text}");
    assert!(text.contains("/Channel/Orderer/Admins"), "{text}");
}

#[test]
fn signature_policies_use_each_signer_once_per_gate() {
    let before = config(&["Org1MSP", "Org2MSP"]);
    // Org1's Admins becomes AND(admin, member): one admin cannot fill both.
    let strict = edit::set_policy(
        &before,
        &["Application", "Org1MSP"],
        "Admins",
        PolicyRule::signature("AND('Org1MSP.admin', 'Org1MSP.member')").unwrap(),
    )
    .unwrap();
    let strict = ChannelConfig::from_config("mychannel", &strict.to_proto()).unwrap();
    let after = edit::set_anchor_peers(&strict, "Org1MSP", &[]).unwrap();
    let req = required_signatures(&strict, &update(&strict, &after)).unwrap();
    assert!(!req.is_satisfied_by(&set(&["Org1MSP", "Org2MSP"])));
    assert!(
        req.to_string()
            .contains("AND('Org1MSP.admin', 'Org1MSP.member')")
    );
    // A policy requiring a peer cannot be met by admins at all.
    let peer_only = edit::set_policy(
        &before,
        &["Application", "Org1MSP"],
        "Admins",
        PolicyRule::signature("OR('Org1MSP.peer')").unwrap(),
    )
    .unwrap();
    let peer_only = ChannelConfig::from_config("mychannel", &peer_only.to_proto()).unwrap();
    let after = edit::set_anchor_peers(&peer_only, "Org1MSP", &[]).unwrap();
    let req = required_signatures(&peer_only, &update(&peer_only, &after)).unwrap();
    assert!(!req.is_satisfied_by(&set(&["Org1MSP", "Org2MSP", "OrdererMSP"])));
    assert!(req.orgs().is_empty());
}

#[test]
fn a_missing_mod_policy_rejects_everyone() {
    let mut before = config(&["Org1MSP", "Org2MSP"]);
    before
        .root
        .find_mut(&["Orderer"])
        .unwrap()
        .values
        .get_mut("BatchTimeout")
        .unwrap()
        .mod_policy = "NoSuchPolicy".into();
    let after = edit::set_batch_timeout(&before, "1s").unwrap();
    let req = required_signatures(&before, &update(&before, &after)).unwrap();
    assert_eq!(
        req.policies()[0],
        &Requirement::Missing {
            policy: "/Channel/Orderer/NoSuchPolicy".into()
        }
    );
    assert!(!req.is_satisfied_by(&set(&["Org1MSP", "Org2MSP", "OrdererMSP"])));
}

#[test]
fn an_update_computed_on_an_older_config_is_stale() {
    let v0 = config(&["Org1MSP", "Org2MSP"]);
    let v1_edit = edit::set_batch_timeout(&v0, "1s").unwrap();
    let u1 = update(&v0, &v1_edit);
    // Simulate the orderer applying u1: BatchTimeout and nothing else bumps.
    let mut v1 = v1_edit.clone();
    v1.root
        .find_mut(&["Orderer"])
        .unwrap()
        .values
        .get_mut("BatchTimeout")
        .unwrap()
        .version += 1;
    v1.sequence += 1;
    let err = required_signatures(&v1, &u1).unwrap_err();
    assert!(matches!(err, ConfigError::Stale { .. }), "{err}");
    assert!(err.to_string().contains("BatchTimeout"), "{err}");
}

#[test]
fn edits_refuse_bad_input_and_name_the_object() {
    let c = config(&["Org1MSP", "Org2MSP"]);
    let e = edit::add_application_org(&c, &app_org("Org1MSP")).unwrap_err();
    assert!(matches!(e, ConfigError::AlreadyExists { .. }), "{e}");
    let e = edit::remove_application_org(&c, "Org9MSP").unwrap_err();
    assert!(
        e.to_string().contains("Org9MSP") && e.to_string().contains("Org1MSP, Org2MSP"),
        "{e}"
    );
    assert!(edit::set_batch_timeout(&c, "0s").is_err());
    assert!(edit::set_batch_timeout(&c, "fast").is_err());
    assert!(edit::remove_consenter(&c, "orderer9", 7050).is_err());
    assert!(edit::set_consenters(&c, &[]).is_err());
    let mut bad = app_org("Org5MSP");
    bad.policies.remove("Admins");
    assert!(edit::add_application_org(&c, &bad).is_err());
    // Removing an org is a pure function: the input is unchanged.
    let removed = edit::remove_application_org(&c, "Org2MSP").unwrap();
    assert_eq!(removed.application_msp_ids(), ["Org1MSP"]);
    assert_eq!(c.application_msp_ids(), ["Org1MSP", "Org2MSP"]);
}

#[test]
fn the_organization_group_matches_configtxgen_conventions() {
    let org = app_org("Org1MSP");
    let g = org.to_group().unwrap();
    assert_eq!(g.mod_policy, "Admins");
    assert_eq!(
        g.policies.keys().collect::<Vec<_>>(),
        ["Admins", "Endorsement", "Readers", "Writers"]
    );
    assert_eq!(
        g.policies["Readers"].rule.to_string(),
        "OR('Org1MSP.admin', 'Org1MSP.peer', 'Org1MSP.client')"
    );
    assert_eq!(
        g.policies["Endorsement"].rule.to_string(),
        "OR('Org1MSP.peer')"
    );
    let Some(ValueContent::Msp(MspValue::Fabric(msp))) = g.values.get("MSP").map(|v| &v.content)
    else {
        panic!("no MSP value");
    };
    let ous = msp.fabric_node_ous.as_ref().unwrap();
    assert!(ous.enable);
    assert_eq!(
        ous.admin_ou_identifier
            .as_ref()
            .unwrap()
            .organizational_unit_identifier,
        "admin"
    );
    assert_eq!(
        msp.crypto_config.as_ref().unwrap().signature_hash_family,
        "SHA2"
    );
}

fn bft_consenters(n: u32) -> Vec<crate::protos::common::Consenter> {
    (1..=n)
        .map(|id| crate::protos::common::Consenter {
            id,
            host: format!("orderer{id}"),
            port: 7050,
            msp_id: "OrdererMSP".into(),
            identity: pem(&format!("id.orderer{id}")),
            client_tls_cert: pem(&format!("tls.orderer{id}")),
            server_tls_cert: pem(&format!("tls.orderer{id}")),
        })
        .collect()
}

#[test]
fn bft_fault_tolerance_and_quorum_follow_fabric() {
    use super::genesis::{bft_fault_tolerance, bft_quorum};
    // (n, f, quorum ⌈(n+f+1)/2⌉)
    for (n, f, q) in [
        (1, 0, 1),
        (3, 0, 2),
        (4, 1, 3),
        (5, 1, 4),
        (7, 2, 5),
        (10, 3, 7),
    ] {
        assert_eq!((bft_fault_tolerance(n), bft_quorum(n)), (f, q), "n = {n}");
    }
    assert_eq!(bft_fault_tolerance(0), 0);
}

/// Removing a SmartBFT consenter (5 → 4) replaces the mapping and the
/// BlockValidation policy together, exactly as a genesis block with the
/// smaller set has them; the update touches only the Orderer group and
/// needs its Admins; a Raft channel, a bad set and fewer than 4 consenters
/// are refused.
#[test]
fn a_bft_consenter_set_change_rewrites_the_block_validation_policy() {
    let desc = |n: u32| {
        let mut d = ChannelDescription::new(
            "bftchannel",
            vec![app_org("Org1MSP")],
            vec![orderer_org()],
            Vec::new(),
        );
        d.bft = Some(super::genesis::BftOrdering::new(bft_consenters(n)));
        ChannelConfig::from_config("bftchannel", &channel_config(&d).unwrap().to_proto()).unwrap()
    };
    let (five, four) = (desc(5), desc(4));
    let next = edit::set_bft_consenters(&five, &bft_consenters(4)).unwrap();
    assert_eq!(next.bft_consenters().unwrap(), bft_consenters(4).as_slice());
    assert_eq!(
        next.policy("/Channel/Orderer/BlockValidation"),
        four.policy("/Channel/Orderer/BlockValidation")
    );
    assert_ne!(
        next.policy("/Channel/Orderer/BlockValidation"),
        five.policy("/Channel/Orderer/BlockValidation")
    );
    let update = super::compute_update(&five, &next).unwrap();
    let needed = super::required_signatures(&five, &update).unwrap();
    let policies: Vec<String> = needed
        .policies()
        .iter()
        .map(|r| r.policy().to_string())
        .collect();
    assert_eq!(policies, ["/Channel/Orderer/Admins"]);
    // Refused: a duplicate id, an empty set, a Raft channel.
    // Ids follow the nodes: removing orderer2 keeps 1, 3, 4, 5; a new node
    // gets 6 whatever id it was given.
    let mut without_2 = bft_consenters(5);
    without_2.remove(1);
    for (i, c) in without_2.iter_mut().enumerate() {
        c.id = i as u32 + 1;
    }
    let next = edit::set_bft_consenters(&five, &without_2).unwrap();
    let ids: Vec<u32> = next
        .bft_consenters()
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids, [1, 3, 4, 5]);
    let mut grown = bft_consenters(5);
    grown.push(crate::protos::common::Consenter {
        id: 1,
        host: "orderer9".into(),
        ..grown[0].clone()
    });
    let next = edit::set_bft_consenters(&five, &grown).unwrap();
    let ids: Vec<u32> = next
        .bft_consenters()
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids, [1, 2, 3, 4, 5, 6]);
    let mut twice = bft_consenters(5);
    twice[4].host = twice[0].host.clone();
    assert!(edit::set_bft_consenters(&five, &twice).is_err());
    let err = edit::set_bft_consenters(&five, &bft_consenters(3)).unwrap_err();
    assert!(err.to_string().contains("at least 4"), "{err}");
    let raft = ChannelConfig::from_config(
        "raft",
        &channel_config(&ChannelDescription::new(
            "raft",
            vec![app_org("Org1MSP")],
            vec![orderer_org()],
            vec![consenter("o1")],
        ))
        .unwrap()
        .to_proto(),
    )
    .unwrap();
    let err = edit::set_bft_consenters(&raft, &bft_consenters(4)).unwrap_err();
    assert!(err.to_string().contains("SmartBFT"), "{err}");
}

#[test]
fn a_bft_channel_carries_the_mapping_and_round_trips() {
    let mut desc = ChannelDescription::new(
        "bftchannel",
        vec![app_org("Org1MSP")],
        vec![orderer_org()],
        Vec::new(),
    );
    desc.bft = Some(super::genesis::BftOrdering::new(bft_consenters(4)));
    let built = channel_config(&desc).unwrap();
    let read = ChannelConfig::from_config("bftchannel", &built.to_proto()).unwrap();
    assert_eq!(read.bft_consenters().unwrap(), bft_consenters(4).as_slice());
    assert!(read.etcdraft().is_none());
    match read.value(&["Orderer"], "ConsensusType") {
        Some(ValueContent::ConsensusType(c)) => {
            assert_eq!(c.consensus_type, "BFT");
            assert!(matches!(&c.metadata, model::ConsensusMetadata::Bft(o)
                if o.request_batch_max_count == 100 && o.view_change_timeout == "20s"));
        }
        other => panic!("unexpected {other:?}"),
    }
    // BlockValidation: 3 of the 4 consenters' identities.
    match read.policy("/Channel/Orderer/BlockValidation") {
        Some(PolicyRule::Signature(env)) => {
            assert_eq!(env.identities.len(), 4);
            match env.rule.as_ref().and_then(|r| r.r#type.as_ref()) {
                Some(crate::protos::common::signature_policy::Type::NOutOf(n)) => {
                    assert_eq!((n.n, n.rules.len()), (3, 4))
                }
                other => panic!("unexpected rule {other:?}"),
            }
        }
        other => panic!("unexpected policy {other:?}"),
    }
    // A Raft edit on a BFT channel is refused, naming the consensus type.
    let err = edit::set_consenters(&read, &[consenter("x")]).unwrap_err();
    assert!(err.to_string().contains("BFT"), "{err}");
}

#[test]
fn a_bft_channel_needs_four_consenters() {
    let mut desc = ChannelDescription::new(
        "bftchannel",
        vec![app_org("Org1MSP")],
        vec![orderer_org()],
        Vec::new(),
    );
    desc.bft = Some(super::genesis::BftOrdering::new(bft_consenters(3)));
    let err = channel_config(&desc).unwrap_err().to_string();
    assert!(err.contains("at least 4"), "{err}");
}
