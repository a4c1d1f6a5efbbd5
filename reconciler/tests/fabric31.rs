//! Everything on Fabric 3.1: the quick start (`scenarios/quick_start.rs`)
//! with `opssc dev up --fabric 3.1`, on one devnet running Fabric v3.1.5
//! built from its source. The agents found the consortium (channels created
//! through the participation API, the OpsSC committed and founded; `ops`
//! gets the V3_0 channel capability, as `fabricVersion: "3.1"` implies, and
//! every agent reaching Ready means the chain holds what the spec says),
//! roll the spec's `kv` chaincode-as-a-service out, add Org4 by signed
//! commits (it joins and `kv` answers on its peer) and roll a signed upgrade
//! out to all four organizations.

#[path = "scenarios/quick_start.rs"]
mod quick_start;

use opssc_tests::devnet_support::FabricVersion;

#[test]
fn the_quick_start_and_both_demos_on_fabric_3_1() {
    quick_start::quick_start_and_both_demos(Some(FabricVersion::V3_1));
}
