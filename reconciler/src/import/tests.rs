use std::path::{Path, PathBuf};

use opssc_schema::Spec;

use super::*;
use crate::observe::{CommittedDefinition, converged, first_peer_org};

/// What a network founded from `spec` (with the OpsSC committed on its ops
/// channel) shows to `me`, with the facts the channel configs and the agent
/// configuration add.
fn facts_of(spec: &Spec, me: &str) -> Facts {
    let mut observed = converged(spec, me);
    // The registry as founding records it from this spec.
    observed.governance = Some(crate::agent::founding::governance(spec));
    observed.chaincodes.insert(
        Observed::chaincode_key(&spec.consortium.ops_channel, "opssc"),
        CommittedDefinition {
            sequence: 1,
            version: "1.0".into(),
            endorsement_policy: "/Channel/Application/LifecycleEndorsement".into(),
            collections: Vec::new(),
            init_required: false,
            approvals: Default::default(),
            last_modified: None,
        },
    );
    let orgs = spec
        .organizations
        .values()
        .map(|o| {
            (
                o.msp_id.clone(),
                OrgFacts {
                    role: o.role,
                    msp: o.msp.clone(),
                    orderer_endpoints: o.orderers.iter().map(|n| n.endpoint.to_string()).collect(),
                },
            )
        })
        .collect();
    let consenter_tls = spec
        .organizations
        .values()
        .flat_map(|o| o.orderers.iter())
        .filter_map(|n| Some((n.endpoint.to_string(), n.tls_cert.clone()?)))
        .collect();
    // The chain holds the consenters' identities only on a BFT network.
    let consenter_sign_certs = spec
        .organizations
        .values()
        .flat_map(|o| o.orderers.iter())
        .filter(|_| spec.consortium.consensus == "bft")
        .filter_map(|n| Some((n.endpoint.to_string(), n.sign_cert.clone()?)))
        .collect();
    let my_peers = spec.organizations[me]
        .peers
        .iter()
        .map(|p| (p.name.clone(), p.endpoint.to_string()))
        .collect();
    let approved_labels = spec
        .chaincodes
        .iter()
        .filter(|((ch, _), _)| spec.channels[ch].members.iter().any(|m| m == me))
        .map(|((ch, n), cc)| (Observed::chaincode_key(ch, n), cc.label.clone()))
        .collect();
    Facts {
        observed,
        orgs,
        consenter_tls,
        consenter_sign_certs,
        my_peers,
        approved_labels,
        ops_chaincode: "opssc".into(),
    }
}

fn load(imported: &Imported) -> Spec {
    let files = imported
        .files
        .iter()
        .map(|(p, t)| (PathBuf::from("/imported").join(p), t.clone()))
        .collect();
    let loaded = opssc_schema::load_texts(Path::new("/imported"), files);
    let texts: String = imported
        .files
        .iter()
        .map(|(p, t)| format!("--- {p}\n{t}"))
        .collect();
    loaded.spec.unwrap_or_else(|| {
        panic!(
            "the imported spec does not validate:\n{}\n{texts}",
            loaded.report.render()
        )
    })
}

/// Every valid spec of the repository (the reference and the examples).
fn example_specs() -> Vec<(PathBuf, Spec)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut dirs = vec![
        root.join("network-spec"),
        root.join("examples/spec-repo/network"),
    ];
    for e in std::fs::read_dir(root.join("examples")).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() && p.join("consortium.yaml").exists() {
            dirs.push(p);
        }
    }
    dirs.sort();
    dirs.into_iter()
        .filter_map(|d| opssc_schema::load_dir(&d).spec.map(|s| (d, s)))
        .collect()
}

#[test]
fn importing_a_converged_network_plans_nothing_for_every_example() {
    let specs = example_specs();
    assert!(specs.len() >= 5, "examples found: {}", specs.len());
    for (dir, spec) in &specs {
        for me in spec
            .organizations
            .values()
            .filter(|o| o.role == OrgRole::Peer)
            .map(|o| o.msp_id.as_str())
        {
            let facts = facts_of(spec, me);
            let imported = import(&facts);
            let back = load(&imported);
            let plan = crate::plan::plan(&back, &facts.observed, me);
            assert!(
                plan.is_empty(),
                "{} imported as {me}: the plan is not empty:\n{}",
                dir.display(),
                crate::plan::render::text(&plan)
            );
            // What the chain carries comes back as the spec had it.
            assert_eq!(
                back.channels.keys().collect::<Vec<_>>(),
                spec.channels.keys().collect::<Vec<_>>()
            );
            for (name, ch) in &spec.channels {
                let b = &back.channels[name];
                assert_eq!(b.members, ch.members, "{}: {name}", dir.display());
                assert_eq!(b.batch, ch.batch, "{}: {name}", dir.display());
                assert_eq!(b.capabilities, ch.capabilities, "{}: {name}", dir.display());
            }
            assert_eq!(back.consortium.ops_channel, spec.consortium.ops_channel);
            assert_eq!(
                crate::agent::founding::governance(&back),
                crate::agent::founding::governance(spec),
                "{}: the registry's governance comes back as the spec had it",
                dir.display()
            );
            assert_eq!(desired::consenters(&back), desired::consenters(spec));
            for (msp, org) in &spec.organizations {
                if org.role == OrgRole::Peer
                    && spec.channels.values().all(|c| !c.members.contains(msp))
                {
                    continue;
                }
                assert_eq!(
                    back.organizations[msp].msp,
                    org.msp,
                    "{}: {msp}",
                    dir.display()
                );
                assert_eq!(
                    desired::anchor_peers(&back, msp),
                    desired::anchor_peers(spec, msp)
                );
            }
            assert_eq!(
                back.chaincodes.keys().collect::<Vec<_>>(),
                spec.chaincodes.keys().collect::<Vec<_>>()
            );
        }
    }
}

#[test]
fn the_import_is_deterministic_and_marks_every_placeholder() {
    let (_, spec) = example_specs()
        .into_iter()
        .find(|(d, _)| d.ends_with("network-spec"))
        .unwrap();
    let me = first_peer_org(&spec).unwrap();
    let a = import(&facts_of(&spec, me));
    let b = import(&facts_of(&spec, me));
    assert_eq!(a, b);
    let paths: Vec<&str> = a.files.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "chaincodes/kv.yaml",
            "channels/ops.yaml",
            "channels/trade.yaml",
            "consortium.yaml",
            "orgs/orderer.yaml",
            "orgs/org1.yaml",
            "orgs/org2.yaml",
            "orgs/org3.yaml",
        ]
    );
    // The OpsSC is no spec chaincode; the kv package source and the admins are placeholders.
    let marked = a
        .files
        .iter()
        .map(|(_, t)| t.matches(TODO).count())
        .sum::<usize>();
    assert_eq!(marked, a.placeholders.len() + 1, "{:#?}", a.placeholders);
    assert!(
        a.placeholders
            .iter()
            .any(|p| p.contains("package source of trade/kv"))
    );
    assert_eq!(
        a.placeholders
            .iter()
            .filter(|p| p.contains("admins of"))
            .count(),
        3
    );
    // network-spec commits no certificates (the devnet adds them): said, not hidden.
    assert_eq!(a.warnings.len(), 4, "{:?}", a.warnings);
    assert!(
        a.warnings
            .iter()
            .all(|w| w.starts_with("no MSP definition of")),
        "{:?}",
        a.warnings
    );
    let kv = &a.files[0].1;
    assert!(
        kv.contains("OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')"),
        "{kv}"
    );
}

#[test]
fn without_an_opssc_the_first_channel_is_a_marked_ops_channel() {
    let (_, spec) = example_specs()
        .into_iter()
        .find(|(d, _)| d.ends_with("network-spec"))
        .unwrap();
    let mut facts = facts_of(&spec, "Org2MSP");
    facts.ops_chaincode = "governance".into();
    let imported = import(&facts);
    assert!(
        imported
            .placeholders
            .iter()
            .any(|p| p.contains("opsChannel")),
        "{:?}",
        imported.placeholders
    );
    let back = load(&imported);
    assert_eq!(back.consortium.ops_channel, "ops");
    // The OpsSC definition now counts as an application chaincode.
    assert!(
        back.chaincodes
            .contains_key(&("ops".to_string(), "opssc".to_string()))
    );
    // No shared change (the synthetic observation has no OpsSC package
    // installed, so only local installs may remain).
    let plan = crate::plan::plan(&back, &facts.observed, "Org2MSP");
    assert!(
        plan.shared.is_empty(),
        "{}",
        crate::plan::render::text(&plan)
    );
}

#[test]
fn channels_that_disagree_on_anchor_peers_are_reported() {
    let (_, spec) = example_specs()
        .into_iter()
        .find(|(d, _)| d.ends_with("network-spec"))
        .unwrap();
    let mut facts = facts_of(&spec, "Org1MSP");
    facts
        .observed
        .channels
        .get_mut("trade")
        .unwrap()
        .members
        .get_mut("Org2MSP")
        .unwrap()
        .anchor_peers = vec!["peer1.org2.example.com:7051".into()];
    let imported = import(&facts);
    assert!(
        imported.warnings.iter().any(|w| w
            .contains("Org2MSP has anchor peers [peer1.org2.example.com:7051] on channel trade")),
        "{:?}",
        imported.warnings
    );
    // The reference (ops) channel's anchors win.
    let back = load(&imported);
    assert_eq!(
        desired::anchor_peers(&back, "Org2MSP"),
        ["peer0.org2.example.com:7051"]
    );
}

#[test]
fn sizes_durations_and_versions_in_the_spec_syntax() {
    assert_eq!(bytes(10 * 1024 * 1024), "10 MB");
    assert_eq!(bytes(512 * 1024), "512 KB");
    assert_eq!(bytes(1000), "1000");
    assert_eq!(duration(2000), "2s");
    assert_eq!(duration(500), "500ms");
    assert_eq!(fabric_version("V2_5").as_deref(), Some("2.5"));
    assert_eq!(fabric_version("V1_4_3"), None);
    assert_eq!(
        node_name("peer0.org1.example.com:7051").as_deref(),
        Some("peer0")
    );
    assert_eq!(node_name("127.0.0.1:7051"), None);
}

#[test]
fn collections_and_init_come_back_as_committed() {
    let (_, spec) = example_specs()
        .into_iter()
        .find(|(d, _)| d.ends_with("network-spec"))
        .unwrap();
    let mut facts = facts_of(&spec, "Org1MSP");
    let kv = facts.observed.chaincodes.get_mut("trade/kv").unwrap();
    kv.init_required = true;
    kv.collections = vec![crate::observe::CollectionDef {
        name: "secrets".into(),
        policy: "OR('Org1MSP.member', 'Org2MSP.member')".into(),
        required_peer_count: 1,
        max_peer_count: 2,
        block_to_live: 10,
        member_only_read: true,
        member_only_write: true,
    }];
    let imported = import(&facts);
    let back = load(&imported);
    let cc = &back.chaincodes[&("trade".to_string(), "kv".to_string())];
    assert!(cc.init_required);
    assert_eq!(
        desired::collections(cc),
        facts.observed.chaincodes["trade/kv"].collections
    );
    let plan = crate::plan::plan(&back, &facts.observed, "Org1MSP");
    assert!(plan.is_empty(), "{}", crate::plan::render::text(&plan));
}

#[test]
fn an_organization_without_anchor_peers_gets_a_marked_placeholder_peer() {
    let (_, spec) = example_specs()
        .into_iter()
        .find(|(d, _)| d.ends_with("network-spec"))
        .unwrap();
    let mut facts = facts_of(&spec, "Org1MSP");
    for ch in facts.observed.channels.values_mut() {
        ch.members.get_mut("Org3MSP").unwrap().anchor_peers.clear();
    }
    let imported = import(&facts);
    let org3 = &imported
        .files
        .iter()
        .find(|(p, _)| p == "orgs/org3.yaml")
        .unwrap()
        .1;
    assert!(
        org3.contains("TODO(opssc import): Org3MSP has no anchor peer"),
        "{org3}"
    );
    assert!(
        imported
            .placeholders
            .iter()
            .any(|p| p.contains("Org3MSP has no anchor peer")),
        "{:?}",
        imported.placeholders
    );
    // The spec needs an anchor peer per member: validation fails until the
    // operator names one, rather than an invented anchor reaching the chain.
    let files = imported
        .files
        .iter()
        .map(|(p, t)| (PathBuf::from("/imported").join(p), t.clone()))
        .collect();
    let loaded = opssc_schema::load_texts(Path::new("/imported"), files);
    assert!(loaded.spec.is_none());
    let errors: Vec<String> = loaded
        .report
        .diagnostics
        .iter()
        .filter(|d| d.severity == opssc_schema::Severity::Error)
        .map(|d| d.message.clone())
        .collect();
    assert!(!errors.is_empty());
    assert!(
        errors
            .iter()
            .all(|e| e == "Org3MSP has no anchor peer, but every member of a channel needs one"),
        "{errors:?}"
    );
}

fn pem(name: &str) -> Vec<u8> {
    crate::test_fixtures::placeholder_pem(name).into_bytes()
}

#[test]
fn config_facts_carry_certificates_endpoints_and_consenter_certificates() {
    use opssc_fabric::configtx::genesis::{ChannelDescription, channel_config};
    use opssc_fabric::configtx::{MspDefinition, Organization};
    use opssc_fabric::protos::etcdraft;
    let org = Organization::application(MspDefinition::with_node_ous(
        "Org1MSP",
        &pem("ca.org1"),
        &pem("tlsca.org1"),
    ))
    .unwrap()
    .with_anchor_peers(&[("peer0.org1.example.com", 7051)]);
    let orderer = Organization::orderer(
        MspDefinition::with_node_ous("OrdererMSP", &pem("ca.o"), &pem("tlsca.o")),
        vec!["orderer0.example.com:7050".into()],
    )
    .unwrap();
    let desc = ChannelDescription::new(
        "trade",
        vec![org],
        vec![orderer],
        vec![etcdraft::Consenter {
            host: "orderer0.example.com".into(),
            port: 7050,
            client_tls_cert: pem("client"),
            server_tls_cert: pem("server"),
        }],
    );
    let built = channel_config(&desc).unwrap();
    let config = ChannelConfig::from_config("trade", &built.to_proto()).unwrap();
    let (orgs, tls) = config_facts(&[("trade".to_string(), config)].into_iter().collect());
    assert_eq!(orgs.keys().collect::<Vec<_>>(), ["OrdererMSP", "Org1MSP"]);
    let org1 = &orgs["Org1MSP"];
    assert_eq!(org1.role, OrgRole::Peer);
    let msp = org1.msp.as_ref().unwrap();
    assert_eq!(msp.ca_certs, [String::from_utf8(pem("ca.org1")).unwrap()]);
    assert_eq!(
        msp.tls_ca_certs,
        [String::from_utf8(pem("tlsca.org1")).unwrap()]
    );
    assert!(msp.node_ous);
    assert!(org1.orderer_endpoints.is_empty());
    let o = &orgs["OrdererMSP"];
    assert_eq!(o.role, OrgRole::Orderer);
    assert_eq!(o.orderer_endpoints, ["orderer0.example.com:7050"]);
    assert_eq!(
        tls["orderer0.example.com:7050"],
        String::from_utf8(pem("server")).unwrap()
    );
}

/// A Fabric 3.1 network's V3_0 channel capability imports as
/// `fabricVersion: "3.1"` (the application capability alone says 2.5), so
/// the imported spec validates and plans nothing.
#[test]
fn a_network_with_the_v3_channel_capability_imports_as_fabric_3_1() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../network-spec");
    let mut files = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                let text = std::fs::read_to_string(&p)
                    .unwrap()
                    .replace("fabricVersion: \"2.5\"", "fabricVersion: \"3.1\"");
                files.push((p, text));
            }
        }
    }
    let spec = opssc_schema::load_texts(&root, files)
        .spec
        .expect("the reference spec on 3.1 validates");
    assert_eq!(spec.channels["ops"].capabilities.channel, "V3_0");
    let facts = facts_of(&spec, "Org1MSP");
    let imported = import(&facts);
    let back = load(&imported);
    assert_eq!(back.consortium.fabric_version, "3.1");
    assert!(crate::plan::plan(&back, &facts.observed, "Org1MSP").is_empty());
}

/// A SmartBFT network imports as `consensus: bft`, each consenter with its
/// TLS and signing certificates as the channels' `Orderers` value holds
/// them: the spec validates (BFT needs every consenter's `signCert`) and
/// plans nothing. The certificates come from the configs (`config_facts`,
/// `bft_sign_certs`), and a Raft network has no signing certificates.
#[test]
fn a_bft_network_imports_as_bft_with_its_consenters_identities() {
    // Certificates that parse: the imported spec is validated.
    let issue = |cn: &str, ca: bool| {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec![cn.to_string()]).unwrap();
        if ca {
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        }
        params.self_signed(&key).unwrap().pem()
    };
    let cert = |cn: &str| issue(cn, false);
    let ca = |cn: &str| issue(cn, true);
    let mut spec = crate::test_fixtures::spec_with_certificates("examples/bft");
    assert_eq!(spec.consortium.consensus, opssc_schema::spec::CONSENSUS_BFT);
    let mut identities_of = BTreeMap::new();
    for org in spec.organizations.values_mut() {
        if let Some(msp) = &mut org.msp {
            msp.ca_certs = vec![ca(&format!("ca.{}", org.msp_id))];
            msp.tls_ca_certs = vec![ca(&format!("tlsca.{}", org.msp_id))];
        }
        for o in &mut org.orderers {
            o.tls_cert = Some(cert(&format!("tls.{}", o.name)));
            let id = cert(&format!("id.{}", o.name));
            identities_of.insert(o.name.clone(), id.clone());
            o.sign_cert = Some(id);
        }
    }
    let facts = facts_of(&spec, "Org1MSP");
    assert_eq!(facts.consenter_sign_certs.len(), 4);
    let imported = import(&facts);
    let consortium = &imported
        .files
        .iter()
        .find(|(p, _)| p == "consortium.yaml")
        .unwrap()
        .1;
    assert!(consortium.contains("consensus: bft"), "{consortium}");
    let back = load(&imported);
    assert_eq!(back.consortium.consensus, opssc_schema::spec::CONSENSUS_BFT);
    let nodes: Vec<_> = back
        .organizations
        .values()
        .flat_map(|o| o.orderers.iter())
        .collect();
    assert_eq!(nodes.len(), 4);
    for n in nodes {
        assert_eq!(
            n.sign_cert.as_deref().map(str::trim),
            identities_of.get(&n.name).map(|c| c.trim()),
            "{n:?}"
        );
    }
    let plan = crate::plan::plan(&back, &facts.observed, "Org1MSP");
    assert!(plan.is_empty(), "{}", crate::plan::render::text(&plan));

    // From the configs themselves: the BFT mapping's identities and TLS
    // certificates; none on a Raft channel.
    use opssc_fabric::configtx::genesis::{BftOrdering, ChannelDescription, channel_config};
    use opssc_fabric::configtx::{MspDefinition, Organization};
    let consenters: Vec<opssc_fabric::protos::common::Consenter> = (1..=4)
        .map(|id| opssc_fabric::protos::common::Consenter {
            id,
            host: format!("orderer{id}.example.com"),
            port: 7050,
            msp_id: "OrdererMSP".into(),
            identity: pem(&format!("id.{id}")),
            client_tls_cert: pem(&format!("tls.{id}")),
            server_tls_cert: pem(&format!("tls.{id}")),
        })
        .collect();
    let mut desc = ChannelDescription::new(
        "trade",
        vec![
            Organization::application(MspDefinition::with_node_ous(
                "Org1MSP",
                &pem("ca.org1"),
                &pem("tlsca.org1"),
            ))
            .unwrap(),
        ],
        vec![
            Organization::orderer(
                MspDefinition::with_node_ous("OrdererMSP", &pem("ca.o"), &pem("tlsca.o")),
                vec!["orderer1.example.com:7050".into()],
            )
            .unwrap(),
        ],
        Vec::new(),
    );
    desc.bft = Some(BftOrdering::new(consenters));
    let config =
        ChannelConfig::from_config("trade", &channel_config(&desc).unwrap().to_proto()).unwrap();
    let configs: BTreeMap<String, ChannelConfig> = [("trade".to_string(), config)].into();
    let identities = crate::import::bft_sign_certs(&configs);
    assert_eq!(identities.len(), 4);
    assert_eq!(
        identities["orderer2.example.com:7050"],
        String::from_utf8(pem("id.2")).unwrap()
    );
    let (_, tls) = config_facts(&configs);
    assert_eq!(
        tls["orderer3.example.com:7050"],
        String::from_utf8(pem("tls.3")).unwrap()
    );
}
