//! The README's main job, as a new user runs it (the scenario in
//! `scenarios/quick_start.rs`, shared with `fabric31.rs`): `opssc dev up`,
//! one agent per organization until Ready, `opssc dev demo add-org` and
//! `opssc dev demo chaincode`, on the Fabric release `network-spec/` names
//! (or `OPSSC_TEST_FABRIC`).

#[path = "scenarios/quick_start.rs"]
mod quick_start;

#[test]
fn the_quick_start_and_both_demos() {
    quick_start::quick_start_and_both_demos(opssc_tests::devnet_support::test_fabric_override());
}
