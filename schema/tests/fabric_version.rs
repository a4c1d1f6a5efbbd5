//! The reference network-spec with one edit each: `fabricVersion` decides
//! what a channel's capabilities may be and default to; an ops channel
//! `Endorsement` written by hand is checked against the members.

use std::path::{Path, PathBuf};

/// The reference spec's files, with `edit` applied to each text.
fn reference_with(edit: impl Fn(&Path, String) -> String) -> opssc_schema::Loaded {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../network-spec");
    let mut files = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let text = std::fs::read_to_string(&path).unwrap();
                files.push((path.clone(), edit(&path, text)));
            }
        }
    }
    files.sort();
    opssc_schema::load_texts(&root, files)
}

fn with_version(v: &str) -> impl Fn(&Path, String) -> String {
    let v = v.to_string();
    move |_, text| text.replace("fabricVersion: \"2.5\"", &format!("fabricVersion: \"{v}\""))
}

fn errors(loaded: &opssc_schema::Loaded) -> String {
    loaded
        .report
        .errors()
        .map(|d| d.render())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn fabric_3_1_channels_default_to_the_v3_channel_capability() {
    let loaded = reference_with(with_version("3.1"));
    let spec = loaded
        .spec
        .as_ref()
        .unwrap_or_else(|| panic!("{}", errors(&loaded)));
    assert_eq!(spec.consortium.fabric(), opssc_schema::FabricVersion::V3_1);
    // `ops` states no capabilities; `trade` states V2_0, which 3.1 runs too.
    assert_eq!(spec.channels["ops"].capabilities.channel, "V3_0");
    assert_eq!(spec.channels["ops"].capabilities.application, "V2_5");
    assert_eq!(spec.channels["trade"].capabilities.channel, "V2_0");
    let loaded = reference_with(with_version("2.5"));
    let spec = loaded.spec.unwrap();
    assert_eq!(spec.consortium.fabric(), opssc_schema::FabricVersion::V2_5);
    assert_eq!(spec.channels["ops"].capabilities.channel, "V2_0");
}

#[test]
fn other_versions_are_refused_with_the_supported_ones() {
    for bad in ["3.0", "2.2", "3.1.5"] {
        let loaded = reference_with(with_version(bad));
        assert!(loaded.spec.is_none(), "{bad} accepted");
        let text = errors(&loaded);
        assert!(
            text.contains(&format!("unsupported Fabric version {bad:?}")),
            "{text}"
        );
        assert!(text.contains("\"2.5\" and \"3.1\""), "{text}");
    }
}

#[test]
fn v3_channel_capability_needs_fabric_3() {
    let v3_0 = |path: &Path, text: String| {
        if path.ends_with("channels/trade.yaml") {
            assert!(text.contains("    channel: V2_0\n"), "{text}");
            text.replace("    channel: V2_0\n", "    channel: V3_0\n")
        } else {
            text
        }
    };
    let loaded = reference_with(v3_0);
    let text = errors(&loaded);
    assert!(
        text.contains("capability V3_0 needs a Fabric 3.x network"),
        "{text}"
    );
    let loaded = reference_with(|p, t| v3_0(p, with_version("3.1")(p, t)));
    assert!(loaded.spec.is_some(), "{}", errors(&loaded));
}

/// The reference spec on Fabric `version` with `consensus: bft` and `nodes`
/// orderer nodes, all of them consenters, `trade` with channel capability
/// `trade_channel`.
fn bft_reference(version: &str, nodes: usize) -> opssc_schema::Loaded {
    bft_reference_with(version, nodes, "V3_0")
}

fn bft_reference_with(version: &str, nodes: usize, trade_channel: &str) -> opssc_schema::Loaded {
    let version = with_version(version);
    let trade_channel = format!("    channel: {trade_channel}\n");
    reference_with(move |path, text| {
        let text = version(path, text);
        if path.ends_with("channels/trade.yaml") {
            assert!(text.contains("    channel: V2_0\n"), "{text}");
            text.replace("    channel: V2_0\n", &trade_channel)
        } else if path.ends_with("consortium.yaml") {
            let consenters: String = (0..nodes)
                .map(|i| format!("      - org: OrdererMSP\n        node: orderer{i}\n"))
                .collect();
            let old = "    consensus: etcdraft\n    consenters:\n      - org: OrdererMSP\n        node: orderer0\n";
            assert!(text.contains(old), "{text}");
            text.replace(
                old,
                &format!("    consensus: bft\n    consenters:\n{consenters}"),
            )
        } else if path.ends_with("orgs/orderer.yaml") {
            let old = "    - name: orderer0\n      endpoint: orderer0.example.com:7050\n";
            assert!(text.contains(old), "{text}");
            let orderers: String = (0..nodes)
                .map(|i| {
                    format!("    - name: orderer{i}\n      endpoint: orderer{i}.example.com:7050\n")
                })
                .collect();
            text.replace(old, &orderers)
        } else {
            text
        }
    })
}

#[test]
fn bft_ordering_runs_on_fabric_3_1_with_four_consenters() {
    let loaded = bft_reference("3.1", 4);
    let spec = loaded
        .spec
        .as_ref()
        .unwrap_or_else(|| panic!("{}", errors(&loaded)));
    assert!(spec.consortium.is_bft());
    assert_eq!(spec.consortium.consenters.len(), 4);
    // The nodes have no signing certificate yet: a warning per consenter.
    let missing = loaded
        .report
        .warnings()
        .filter(|d| d.code == "bft-identity")
        .count();
    assert_eq!(missing, 4);
    assert!(
        !reference_with(with_version("3.1"))
            .spec
            .unwrap()
            .consortium
            .is_bft()
    );
}

#[test]
fn bft_ordering_is_refused_on_fabric_2_5_and_below_four_consenters() {
    let loaded = bft_reference_with("2.5", 4, "V2_0");
    assert!(loaded.spec.is_none());
    let text = errors(&loaded);
    assert!(
        text.contains("Fabric 2.5 has no SmartBFT ordering"),
        "{text}"
    );
    assert!(text.contains("fabricVersion: \"3.1\""), "{text}");

    let loaded = bft_reference("3.1", 3);
    assert!(loaded.spec.is_none());
    let text = errors(&loaded);
    assert!(
        text.contains("SmartBFT needs at least 4 consenters"),
        "{text}"
    );
    assert!(!text.contains("has no SmartBFT"), "{text}");

    // 5 nodes tolerate one fault, as 4 do: accepted with a warning.
    let loaded = bft_reference("3.1", 5);
    assert!(loaded.spec.is_some(), "{}", errors(&loaded));
    assert!(
        loaded
            .report
            .warnings()
            .any(|d| d.code == "bft-consenters" && d.message.contains("no more faults than 4"))
    );
}

#[test]
fn bft_ordering_needs_the_v3_channel_capability() {
    let loaded = bft_reference_with("3.1", 4, "V2_0");
    assert!(loaded.spec.is_none());
    let text = errors(&loaded);
    assert!(
        text.contains(
            "channel trade has channel capability V2_0, but SmartBFT ordering needs V3_0"
        ),
        "{text}"
    );
    assert!(text.contains("capabilities.channel: V3_0"), "{text}");
}

fn with_ops_endorsement(policy: &str) -> impl Fn(&Path, String) -> String {
    let policy = policy.to_string();
    move |path, text| {
        if path.ends_with("channels/ops.yaml") {
            text.replace(
                "    Admins: MAJORITY Admins\n",
                &format!("    Admins: MAJORITY Admins\n    Endorsement: \"{policy}\"\n"),
            )
        } else {
            text
        }
    }
}

#[test]
fn an_ops_endorsement_that_leaves_out_a_member_is_warned_about() {
    let loaded = reference_with(with_ops_endorsement(
        "OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer')",
    ));
    let spec = loaded
        .spec
        .as_ref()
        .unwrap_or_else(|| panic!("{}", errors(&loaded)));
    assert_eq!(
        spec.channels["ops"].policies["Endorsement"].text,
        "OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer')"
    );
    let warned: Vec<_> = loaded
        .report
        .warnings()
        .filter(|d| d.code == "ops-endorsement")
        .collect();
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(
        warned[0].message.contains("Org3MSP"),
        "{}",
        warned[0].message
    );
    assert!(
        !warned[0].message.contains("Org1MSP"),
        "{}",
        warned[0].message
    );
    assert!(warned[0].position.file.ends_with("channels/ops.yaml"));
    // An admin or client principal is not a peer's: still warned about.
    let loaded = reference_with(with_ops_endorsement(
        "OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.admin')",
    ));
    let warned: Vec<_> = loaded
        .report
        .warnings()
        .filter(|d| d.code == "ops-endorsement")
        .collect();
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(
        warned[0].message.contains("Org3MSP"),
        "{}",
        warned[0].message
    );
    // Naming every member, or Fabric's implicit form, is not warned about.
    for fine in [
        "OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.member')",
        "MAJORITY Endorsement",
    ] {
        let loaded = reference_with(with_ops_endorsement(fine));
        assert!(loaded.spec.is_some(), "{}", errors(&loaded));
        assert_eq!(
            loaded
                .report
                .warnings()
                .filter(|d| d.code == "ops-endorsement")
                .count(),
            0,
            "{fine}"
        );
    }
}
