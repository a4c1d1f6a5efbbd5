//! Everything on Fabric 3.1: the quick start (`scenarios/quick_start.rs`)
//! with `opssc dev up --fabric 3.1`, on one devnet running Fabric v3.1.5
//! built from its source. The agents found the consortium (channels created
//! through the participation API, the OpsSC committed and founded; `ops`
//! gets the V3_0 channel capability, as `fabricVersion: "3.1"` implies, and
//! every agent reaching Ready means the chain holds what the spec says),
//! roll the spec's `kv` chaincode-as-a-service out, add Org4 by signed
//! commits (it joins and `kv` answers on its peer) and roll a signed upgrade
//! out to all four organizations.
//!
//! A second devnet runs `examples/bft`: the same consortium ordered by
//! SmartBFT on four orderers, founded by the agents (`opssc found` builds the
//! BFT genesis blocks) until every agent is Ready (`kv` rolled out through
//! the BFT ordering service).

#[path = "scenarios/quick_start.rs"]
mod quick_start;

use opssc_tests::devnet_support::FabricVersion;

#[test]
fn the_quick_start_and_both_demos_on_fabric_3_1() {
    quick_start::quick_start_and_both_demos(Some(FabricVersion::V3_1));
}

#[test]
fn a_bft_consortium_is_founded_by_the_agents_on_fabric_3_1() {
    let session = quick_start::founded_and_ready("examples/bft", None);
    let state = std::path::Path::new(&session.state_arg);
    let consortium = std::fs::read_to_string(state.join("spec-repo/consortium.yaml")).unwrap();
    assert!(consortium.contains("consensus: bft"), "{consortium}");
    let orderer = std::fs::read_to_string(state.join("spec-repo/orgs/orderer.yaml")).unwrap();
    assert_eq!(orderer.matches("signCert:").count(), 4, "{orderer}");
    // Four orderers run, and every peer of trade holds blocks the BFT
    // service ordered after the genesis block (`kv`'s approvals and commit):
    // the peers accepted the consenters' block signatures.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_opssc"))
        .args(["dev", "status", "--json", "--state-dir", &session.state_arg])
        .output()
        .unwrap();
    let status: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("dev status --json: {e}\n{out:?}"));
    let orderers = status["processes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| {
            p["name"]
                .as_str()
                .unwrap_or_default()
                .starts_with("orderer")
        })
        .filter(|p| p["running"] == serde_json::json!(true))
        .count();
    assert_eq!(orderers, 4, "{status:#}");
    let trade = status["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "trade")
        .unwrap_or_else(|| panic!("no trade channel: {status:#}"));
    let peers = trade["peers"].as_array().unwrap();
    assert_eq!(peers.len(), 3, "{trade:#}");
    for p in peers {
        let height = p[1]["Ok"].as_u64().unwrap_or_default();
        assert!(height >= 2, "{trade:#}");
    }
}
