//! Every transition and every refusal of the contract, on an in-memory state.

mod common;

use common::*;
use opssc_chaincode::{ContractError, invoke};
use serde_json::{Value, json};

fn class(e: &ContractError) -> &'static str {
    e.class()
}

// ------------------------------------------------------------------ found

#[test]
fn found_once_by_a_founding_member() {
    let mut n = Net::new();
    // Nothing works before founding.
    let e = n.refused("Org1MSP", "propose", deploy("ch1", "basic", "1.0"));
    assert!(
        matches!(&e, ContractError::Conflict { reason, .. } if reason.contains("found")),
        "{e}"
    );
    // A founder outside the founding members is refused.
    let e = n.refused(
        "Org9MSP",
        "found",
        json!({"ops_channel": OPS, "members": ORGS}),
    );
    assert_eq!(class(&e), "forbidden");
    // Channel members outside the ops channel are refused.
    let e = n.refused(
        "Org1MSP",
        "found",
        json!({"ops_channel": OPS, "members": ["Org1MSP"], "channels": [{"name": "ch1", "members": ["Org2MSP"]}]}),
    );
    assert!(
        matches!(&e, ContractError::BadArgument { field, .. } if field == "channels[0].members")
    );
    let r = n
        .call(
            "Org2MSP",
            "found",
            json!({"ops_channel": OPS, "members": ["Org2MSP", "Org1MSP"]}),
        )
        .unwrap();
    assert_eq!(r["outcome"], "confirmed");
    assert_eq!(n.last_event().0, "FoundingConfirmed");
    let r = n
        .call(
            "Org1MSP",
            "found",
            json!({"ops_channel": OPS, "members": ["Org1MSP", "Org2MSP"]}),
        )
        .unwrap();
    assert_eq!(r["outcome"], "founded");
    assert_eq!(r["registry"]["founders"], json!(["Org1MSP", "Org2MSP"]));
    assert_eq!(n.last_event().0, "RegistryFounded");
    // Founding again is refused, by anyone.
    let e = n.refused(
        "Org1MSP",
        "found",
        json!({"ops_channel": OPS, "members": ["Org1MSP"]}),
    );
    assert!(
        matches!(&e, ContractError::Conflict { state, .. } if state == "founded"),
        "{e}"
    );
    let reg = n.call("Org1MSP", "registry", json!({})).unwrap();
    assert_eq!(reg["channels"][0]["name"], OPS);
    assert_eq!(reg["governance"]["executor_timeout_secs"], 600);
}

// ------------------------------------------------------------------ propose

#[test]
fn filing_is_idempotent_and_independent_of_the_proposer() {
    let mut n = Net::founded();
    let r = n
        .call("Org1MSP", "propose", deploy("ch1", "basic", "1.0"))
        .unwrap();
    assert_eq!(r["outcome"], "filed");
    assert_eq!(r["quorum"], 2);
    let id = id_of(&r);
    let expected = opssc_chaincode::compute_proposal_id(
        opssc_chaincode::model::Kind::ChaincodeDeploy,
        &opssc_chaincode::model::Target {
            channel: "ch1".into(),
            chaincode: Some("basic".into()),
        },
        0,
        &cc_payload("basic", "1.0", 1),
    )
    .unwrap();
    assert_eq!(id, expected);
    let (name, ev) = n.last_event();
    assert_eq!(name, "ProposalFiled");
    assert_eq!(ev["proposal_id"], id.as_str());
    assert_eq!(ev["actor"], "Org1MSP");

    // Another org files the same change (different spec commit, later): same
    // ID; it is recorded as backing the change, once.
    n.now += 100;
    let mut again = deploy("ch1", "basic", "1.0");
    again["spec_ref"]["git_commit"] = json!("d".repeat(40));
    let r2 = n.call("Org2MSP", "propose", again.clone()).unwrap();
    assert_eq!(r2["outcome"], "exists");
    assert_eq!(id_of(&r2), id);
    assert_eq!(r2["proposer"], "Org1MSP");
    assert_eq!(n.last_event().0, "ProposalBacked");
    assert_eq!(n.get(&id)["proposal"]["also_filed_by"], json!(["Org2MSP"]));
    // Filing again by an org already on record: nothing written, no event.
    for org in ["Org1MSP", "Org2MSP"] {
        let before = n.state.clone();
        let events = n.events.len();
        let r = n.call(org, "propose", again.clone()).unwrap();
        assert_eq!(r["outcome"], "exists");
        assert_eq!(n.state, before);
        assert_eq!(n.events.len(), events);
        assert!(n.last.as_ref().unwrap().writes.is_empty());
    }
}

#[test]
fn a_newer_filing_supersedes_the_same_orgs_undecided_one_for_the_target() {
    let mut n = Net::founded();
    let old = id_of(
        &n.call("Org1MSP", "propose", deploy("ch1", "basic", "1.0"))
            .unwrap(),
    );
    // A different chaincode is a different target: nothing superseded.
    let other = n
        .call("Org1MSP", "propose", deploy("ch1", "other", "1.0"))
        .unwrap();
    assert_eq!(other["superseded"], json!([]));
    let r = n
        .call("Org1MSP", "propose", deploy("ch1", "basic", "1.1"))
        .unwrap();
    let new = id_of(&r);
    assert_eq!(r["superseded"], json!([old.clone()]));
    let (_, ev) = n.last_event();
    let moves = ev["transitions"].as_array().unwrap();
    assert!(
        moves
            .iter()
            .any(|m| m["proposal_id"] == old.as_str() && m["to"] == "superseded")
    );
    let g = n.get(&old);
    assert_eq!(g["proposal"]["state"], "superseded");
    assert_eq!(g["proposal"]["superseded_by"], new.as_str());
    // Votes on the superseded one are refused; re-filing it is a no-op.
    let e = n.refused("Org3MSP", "vote", json!({"id": old, "decision": "approve"}));
    assert!(matches!(&e, ContractError::Conflict { state, .. } if state == "superseded"));
    let r = n
        .call("Org1MSP", "propose", deploy("ch1", "basic", "1.0"))
        .unwrap();
    assert_eq!(r["outcome"], "exists");
    assert_eq!(r["state"], "superseded");
    assert_eq!(n.state_of(&new), "proposed");
    // A new round of the old change is a new proposal.
    let mut again = deploy("ch1", "basic", "1.0");
    again["round"] = json!(1);
    let r = n.call("Org1MSP", "propose", again).unwrap();
    assert_eq!(r["outcome"], "filed");
    assert_ne!(id_of(&r), old);
}

#[test]
fn only_the_electorate_may_propose() {
    let mut n = Net::founded();
    let e = n.refused("Org3MSP", "propose", deploy("ch2", "basic", "1.0"));
    assert!(
        matches!(&e, ContractError::Forbidden { msp, .. } if msp == "Org3MSP"),
        "{e}"
    );
    let e = n.refused("Org1MSP", "propose", deploy("nochannel", "basic", "1.0"));
    assert_eq!(class(&e), "not_found");
}

#[test]
fn malformed_and_oversized_proposals_are_refused_without_writes() {
    let mut n = Net::founded();
    let field = |e: &ContractError| match e {
        ContractError::BadArgument { field, .. } => field.clone(),
        other => panic!("expected a bad argument, got {other}"),
    };
    // Unknown top-level field.
    let mut a = deploy("ch1", "basic", "1.0");
    a["extra"] = json!(1);
    assert_eq!(field(&n.refused("Org1MSP", "propose", a)), "args");
    // Unknown kind.
    let mut a = deploy("ch1", "basic", "1.0");
    a["kind"] = json!("ChaincodeDelete");
    assert_eq!(field(&n.refused("Org1MSP", "propose", a)), "args");
    // Float in payload.
    let mut a = deploy("ch1", "basic", "1.0");
    a["payload"]["collections"] = json!({"x": 0.5});
    assert_eq!(field(&n.refused("Org1MSP", "propose", a)), "payload");
    // Oversized payload (> 1 MiB) inside an argument under the argument limit.
    let mut a = deploy("ch1", "basic", "1.0");
    a["payload"]["summary"] = json!("x".repeat(1024 * 1024 + 10));
    assert_eq!(field(&n.refused("Org1MSP", "propose", a)), "payload");
    // Oversized argument.
    let mut a = deploy("ch1", "basic", "1.0");
    a["payload"]["summary"] = json!("x".repeat(2 * 1024 * 1024));
    assert_eq!(field(&n.refused("Org1MSP", "propose", a)), "args");
    // Too long a string.
    let mut a = deploy("ch1", "basic", "1.0");
    a["payload"]["version"] = json!("v".repeat(257));
    assert_eq!(
        field(&n.refused("Org1MSP", "propose", a)),
        "payload.version"
    );
    // Target/payload mismatch, missing chaincode name, bad channel name.
    let mut a = deploy("ch1", "basic", "1.0");
    a["target"]["chaincode"] = json!("other");
    assert_eq!(field(&n.refused("Org1MSP", "propose", a)), "payload.name");
    let mut a = deploy("ch1", "basic", "1.0");
    a["target"] = json!({"channel": "ch1"});
    assert_eq!(
        field(&n.refused("Org1MSP", "propose", a)),
        "target.chaincode"
    );
    let mut a = deploy("ch1", "basic", "1.0");
    a["target"]["channel"] = json!("Ch~1");
    assert_eq!(field(&n.refused("Org1MSP", "propose", a)), "target.channel");
    // Spec reference.
    let mut a = deploy("ch1", "basic", "1.0");
    a["spec_ref"]["git_commit"] = json!("main");
    assert_eq!(
        field(&n.refused("Org1MSP", "propose", a)),
        "spec_ref.git_commit"
    );
    let mut a = deploy("ch1", "basic", "1.0");
    a["spec_ref"]["committed_chaincode_sequence"] = json!(1);
    assert_eq!(field(&n.refused("Org1MSP", "propose", a)), "kind");
    let mut a = deploy("ch1", "basic", "1.0");
    a["payload"]["sequence"] = json!(3);
    assert_eq!(
        field(&n.refused("Org1MSP", "propose", a)),
        "payload.sequence"
    );
    let mut a = channel_update("ch1");
    a["spec_ref"]
        .as_object_mut()
        .unwrap()
        .remove("base_config_sequence");
    assert_eq!(
        field(&n.refused("Org1MSP", "propose", a)),
        "spec_ref.base_config_sequence"
    );
    let mut a = channel_update("ch1");
    a["payload"]["config_update"] = json!("not base64!");
    assert_eq!(
        field(&n.refused("Org1MSP", "propose", a)),
        "payload.config_update"
    );
    // Deadline bounds.
    let mut a = deploy("ch1", "basic", "1.0");
    a["deadline"] = json!(T0);
    assert_eq!(field(&n.refused("Org1MSP", "propose", a)), "deadline");
    let mut a = deploy("ch1", "basic", "1.0");
    a["deadline"] = json!(T0 + 31 * 24 * 3600);
    assert_eq!(field(&n.refused("Org1MSP", "propose", a)), "deadline");
    // Not JSON at all, two arguments, an unknown function.
    let e = n
        .call_raw("Org1MSP", "propose", &[b"{not json".to_vec()])
        .unwrap_err();
    assert_eq!(field(&e), "args");
    let e = n
        .call_raw("Org1MSP", "get", &[b"{}".to_vec(), b"{}".to_vec()])
        .unwrap_err();
    assert_eq!(field(&e), "args");
    let e = n.call_raw("Org1MSP", "drop_everything", &[]).unwrap_err();
    assert_eq!(class(&e), "unknown_function");
    // A creator MSP that could break the key layout.
    let e = n.refused("Org~1", "propose", deploy("ch1", "basic", "1.0"));
    assert!(matches!(&e, ContractError::BadArgument { field, .. } if field == "creator"));
}

#[test]
fn membership_preconditions_are_checked_at_filing() {
    let mut n = Net::founded();
    let e = n.refused("Org1MSP", "propose", org_add("ch1", "Org2MSP"));
    assert!(matches!(&e, ContractError::BadArgument { field, .. } if field == "payload.org"));
    let mut rm = org_add("ch2", "Org3MSP");
    rm["kind"] = json!("OrgRemove");
    let e = n.refused("Org1MSP", "propose", rm);
    assert!(
        matches!(&e, ContractError::BadArgument { reason, .. } if reason.contains("not a member"))
    );
    let create = json!({
        "kind": "ChannelCreate", "target": {"channel": "ch1"},
        "payload": {"members": ["Org1MSP"]}, "spec_ref": spec_ref(),
    });
    let e = n.refused("Org1MSP", "propose", create);
    assert!(
        matches!(&e, ContractError::BadArgument { reason, .. } if reason.contains("already registered"))
    );
}

// ------------------------------------------------------------------ votes and decisions

#[test]
fn majority_approves_and_the_executor_order_is_fixed() {
    let mut n = Net::founded();
    let id = id_of(
        &n.call("Org1MSP", "propose", deploy("ch1", "basic", "1.0"))
            .unwrap(),
    );
    let r = n
        .call(
            "Org1MSP",
            "vote",
            json!({"id": id, "decision": "approve", "reason": "spec 1.0"}),
        )
        .unwrap();
    assert_eq!(r["outcome"], "vote_recorded");
    assert_eq!(n.last_event().0, "VoteCast");
    // A vote writes exactly its own key.
    let w = &n.last.as_ref().unwrap().writes;
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].key(), format!("vote~{id}~Org1MSP"));
    let r = n.call("Org3MSP", "tally", json!({"id": id})).unwrap();
    assert_eq!(r["outcome"], "pending");
    assert!(n.last.as_ref().unwrap().writes.is_empty());
    // The vote that reaches the quorum decides: no tally round.
    let r = n
        .call("Org2MSP", "vote", json!({"id": id, "decision": "approve"}))
        .unwrap();
    assert_eq!(r["outcome"], "vote_recorded");
    assert_eq!(r["decided"], true);
    assert_eq!(r["state"], "approved");
    let (name, ev) = n.last_event();
    assert_eq!(name, "ProposalApproved");
    assert_eq!(ev["detail"]["vote"]["org"], "Org2MSP");
    let g = n.get(&id);
    assert_eq!(g["stored_state"], "approved");
    let order = g["proposal"]["execution"]["order"]
        .as_array()
        .unwrap()
        .clone();
    let expected = opssc_chaincode::contract::executor_order(
        &id,
        &["Org1MSP".to_string(), "Org2MSP".to_string()],
    );
    assert_eq!(order, expected.iter().map(|s| json!(s)).collect::<Vec<_>>());
    assert_eq!(
        g["proposal"]["decision"]["approvals"],
        json!(["Org1MSP", "Org2MSP"])
    );
    // Tallying again changes nothing.
    let r = n.call("Org3MSP", "tally", json!({"id": id})).unwrap();
    assert_eq!(r["outcome"], "already_decided");
    assert!(n.last.as_ref().unwrap().writes.is_empty());
    // Votes after the decision are refused, also from an org that never voted.
    let e = n.refused("Org3MSP", "vote", json!({"id": id, "decision": "reject"}));
    assert!(matches!(&e, ContractError::Conflict { state, .. } if state == "approved"));
}

#[test]
fn rejections_that_make_approval_impossible_reject() {
    let mut n = Net::founded();
    let id = id_of(
        &n.call("Org1MSP", "propose", deploy("ch1", "basic", "1.0"))
            .unwrap(),
    );
    n.call(
        "Org2MSP",
        "vote",
        json!({"id": id, "decision": "reject", "reason": "not reviewed"}),
    )
    .unwrap();
    // 1 rejection of 3 with quorum 2: approval still possible.
    assert_eq!(
        n.call("Org1MSP", "tally", json!({"id": id})).unwrap()["outcome"],
        "pending"
    );
    // The rejection that makes the quorum unreachable decides.
    let r = n
        .call("Org3MSP", "vote", json!({"id": id, "decision": "reject"}))
        .unwrap();
    assert_eq!(r["state"], "rejected");
    assert_eq!(r["decided"], true);
    assert_eq!(n.last_event().0, "ProposalRejected");
    let r = n.call("Org1MSP", "tally", json!({"id": id})).unwrap();
    assert_eq!(r["outcome"], "already_decided");
    let e = n.refused("Org1MSP", "vote", json!({"id": id, "decision": "approve"}));
    assert_eq!(class(&e), "conflict");
}

#[test]
fn a_vote_counts_only_the_votes_it_names() {
    let mut n = Net::founded();
    let id = id_of(
        &n.call("Org1MSP", "propose", deploy("ch1", "basic", "1.0"))
            .unwrap(),
    );
    n.call("Org1MSP", "vote", json!({"id": id, "decision": "approve"}))
        .unwrap();
    // Naming no vote counts the caller's alone: 1 of quorum 2, undecided.
    let r = n
        .call(
            "Org2MSP",
            "vote",
            json!({"id": id, "decision": "reject", "counted": []}),
        )
        .unwrap();
    assert_eq!(r["decided"], false);
    assert_eq!(n.last_event().0, "VoteCast");
    // Only what is recorded counts, each organization once, members only:
    // Org1's approval and Org3's own make the quorum; Org2's rejection is
    // not named, repeats and an outsider change nothing.
    let r = n
        .call(
            "Org3MSP",
            "vote",
            json!({"id": id, "decision": "approve", "counted": ["Org1MSP", "Org1MSP", "Org9MSP"]}),
        )
        .unwrap();
    assert_eq!(r["state"], "approved");
    let g = n.get(&id);
    assert_eq!(
        g["proposal"]["decision"]["approvals"],
        json!(["Org1MSP", "Org3MSP"])
    );
    assert_eq!(g["proposal"]["decision"]["rejections"], json!([]));

    // A tally counts only the named votes too.
    let id2 = id_of(
        &n.call("Org1MSP", "propose", deploy("ch1", "third", "1.0"))
            .unwrap(),
    );
    for org in ["Org1MSP", "Org2MSP"] {
        n.call(
            org,
            "vote",
            json!({"id": id2, "decision": "approve", "counted": []}),
        )
        .unwrap();
    }
    let r = n
        .call(
            "Org3MSP",
            "tally",
            json!({"id": id2, "counted": ["Org1MSP"]}),
        )
        .unwrap();
    assert_eq!(r["outcome"], "pending");
    assert!(n.last.as_ref().unwrap().writes.is_empty());
    let r = n
        .call(
            "Org3MSP",
            "tally",
            json!({"id": id2, "counted": ["Org1MSP", "Org2MSP"]}),
        )
        .unwrap();
    assert_eq!(r["state"], "approved");

    // A name whose vote is a rejection is not an approval.
    let id = id_of(
        &n.call("Org1MSP", "propose", deploy("ch1", "other", "1.0"))
            .unwrap(),
    );
    n.call("Org1MSP", "vote", json!({"id": id, "decision": "reject"}))
        .unwrap();
    let r = n
        .call(
            "Org2MSP",
            "vote",
            json!({"id": id, "decision": "approve", "counted": ["Org1MSP"]}),
        )
        .unwrap();
    assert_eq!(r["state"], "proposed");
}

#[test]
fn vote_refusals() {
    let mut n = Net::founded();
    let id = id_of(
        &n.call("Org1MSP", "propose", deploy("ch2", "basic", "1.0"))
            .unwrap(),
    );
    // Org3 is on the ops channel but not on ch2.
    let e = n.refused("Org3MSP", "vote", json!({"id": id, "decision": "approve"}));
    assert!(
        matches!(&e, ContractError::Forbidden { msp, .. } if msp == "Org3MSP"),
        "{e}"
    );
    n.call("Org1MSP", "vote", json!({"id": id, "decision": "approve"}))
        .unwrap();
    let e = n.refused("Org1MSP", "vote", json!({"id": id, "decision": "reject"}));
    assert!(
        matches!(&e, ContractError::Conflict { reason, .. } if reason.contains("immutable")),
        "{e}"
    );
    let e = n.refused("Org2MSP", "vote", json!({"id": id, "decision": "maybe"}));
    assert_eq!(class(&e), "bad_argument");
    let e = n.refused(
        "Org2MSP",
        "vote",
        json!({"id": "0".repeat(64), "decision": "approve"}),
    );
    assert_eq!(class(&e), "not_found");
    let e = n.refused(
        "Org2MSP",
        "vote",
        json!({"id": "../etc", "decision": "approve"}),
    );
    assert!(matches!(&e, ContractError::BadArgument { field, .. } if field == "id"));
    let e = n.refused(
        "Org2MSP",
        "vote",
        json!({"id": id, "decision": "approve", "reason": "x".repeat(5000)}),
    );
    assert!(matches!(&e, ContractError::BadArgument { field, .. } if field == "reason"));
    // A signature on a chaincode vote is refused.
    let sig = n.config_signature("Org2MSP", UPDATE);
    let e = n.refused(
        "Org2MSP",
        "vote",
        json!({"id": id, "decision": "approve", "config_signature": sig}),
    );
    assert!(matches!(&e, ContractError::BadArgument { field, .. } if field == "config_signature"));
}

#[test]
fn a_vote_after_the_deadline_counts_as_an_expiry_attestation() {
    let mut n = Net::founded();
    let mut a = deploy("ch1", "basic", "1.0");
    a["deadline"] = json!(T0 + 3600);
    let id = id_of(&n.call("Org1MSP", "propose", a).unwrap());
    n.call("Org1MSP", "vote", json!({"id": id, "decision": "approve"}))
        .unwrap();
    // `expire` before the deadline is refused.
    let e = n.refused("Org2MSP", "expire", json!({"id": id}));
    assert!(
        matches!(&e, ContractError::Conflict { reason, .. } if reason.contains("has not passed"))
    );
    n.now = T0 + 3600;
    // Queries show the stored state and that the deadline passed.
    let g = n.get(&id);
    assert_eq!(g["proposal"]["state"], "proposed");
    assert_eq!(g["deadline_passed"], true);
    let r = n
        .call("Org2MSP", "vote", json!({"id": id, "decision": "approve"}))
        .unwrap();
    assert_eq!(r["outcome"], "not_applied");
    assert_eq!(r["state"], "proposed");
    assert_eq!(n.last_event().0, "ExpiryAttested");
    let votes = n.call("Org1MSP", "votes", json!({"id": id})).unwrap();
    assert_eq!(
        votes["votes"].as_array().unwrap().len(),
        1,
        "the late vote was not recorded"
    );
    // A second organization's late call completes the expiry (n - q + 1 = 2).
    let r = n
        .call("Org3MSP", "vote", json!({"id": id, "decision": "approve"}))
        .unwrap();
    assert_eq!(r["state"], "expired");
    assert_eq!(n.last_event().0, "ProposalExpired");
    let e = n.refused("Org3MSP", "vote", json!({"id": id, "decision": "approve"}));
    assert!(matches!(&e, ContractError::Conflict { state, .. } if state == "expired"));
}

#[test]
fn expire_and_late_tally() {
    let mut n = Net::founded();
    let mut a = deploy("ch1", "basic", "1.0");
    a["deadline"] = json!(T0 + 3600);
    let id = id_of(&n.call("Org1MSP", "propose", a).unwrap());
    n.now = T0 + 3601;
    let r = n.call("Org3MSP", "expire", json!({"id": id})).unwrap();
    assert_eq!(r["outcome"], "attested");
    assert_eq!(r["state"], "proposed");
    let r = n.call("Org2MSP", "expire", json!({"id": id})).unwrap();
    assert_eq!(r["state"], "expired");
    assert_eq!(n.last_event().0, "ProposalExpired");
    // Expire again: already decided, nothing written.
    let r = n.call("Org3MSP", "expire", json!({"id": id})).unwrap();
    assert_eq!(r["outcome"], "already_decided");
    assert!(n.last.as_ref().unwrap().writes.is_empty());

    // Votes that reached the quorum in time count even if the tally is late.
    let mut a = deploy("ch1", "other", "1.0");
    a["deadline"] = json!(n.now + 3600);
    let id2 = id_of(&n.call("Org1MSP", "propose", a).unwrap());
    n.call("Org1MSP", "vote", json!({"id": id2, "decision": "approve"}))
        .unwrap();
    n.call("Org2MSP", "vote", json!({"id": id2, "decision": "approve"}))
        .unwrap();
    n.now += 10_000;
    let r = n.call("Org3MSP", "expire", json!({"id": id2})).unwrap();
    assert_eq!(r["state"], "approved");
}

#[test]
fn withdraw_by_the_proposer_only() {
    let mut n = Net::founded();
    let id = id_of(
        &n.call("Org2MSP", "propose", deploy("ch1", "basic", "1.0"))
            .unwrap(),
    );
    let e = n.refused("Org1MSP", "withdraw", json!({"id": id}));
    assert!(
        matches!(&e, ContractError::Forbidden { reason, .. } if reason.contains("Org2MSP")),
        "{e}"
    );
    let r = n
        .call(
            "Org2MSP",
            "withdraw",
            json!({"id": id, "reason": "typo in version"}),
        )
        .unwrap();
    assert_eq!(r["state"], "withdrawn");
    assert_eq!(n.last_event().0, "ProposalWithdrawn");
    let e = n.refused("Org2MSP", "withdraw", json!({"id": id}));
    assert_eq!(class(&e), "conflict");
    let e = n.refused("Org1MSP", "vote", json!({"id": id, "decision": "approve"}));
    assert_eq!(class(&e), "conflict");
}

#[test]
fn a_proposal_whose_votes_reach_the_quorum_cannot_be_withdrawn() {
    let mut n = Net::founded();
    let id = id_of(
        &n.call("Org1MSP", "propose", deploy("ch1", "basic", "1.0"))
            .unwrap(),
    );
    // Two approvals cast together: neither saw the other, so neither
    // decided (each counts only itself).
    for org in ["Org2MSP", "Org3MSP"] {
        let r = n
            .call(
                org,
                "vote",
                json!({"id": id, "decision": "approve", "counted": []}),
            )
            .unwrap();
        assert_eq!(r["state"], "proposed");
    }
    // `refused` checks that nothing was written.
    let e = n.refused("Org1MSP", "withdraw", json!({"id": id}));
    assert!(
        matches!(&e, ContractError::Conflict { reason, .. } if reason.contains("reach the quorum")),
        "{e}"
    );
    let r = n.call("Org1MSP", "tally", json!({"id": id})).unwrap();
    assert_eq!(r["state"], "approved");
}

// ------------------------------------------------------------------ config signatures

#[test]
fn sign_checks_the_config_signature_against_the_stored_update() {
    let mut n = Net::founded();
    let id = id_of(&n.call("Org1MSP", "propose", channel_update("ch1")).unwrap());
    for org in ["Org1MSP", "Org2MSP"] {
        n.call(org, "vote", json!({"id": id, "decision": "approve"}))
            .unwrap();
    }
    assert_eq!(
        n.call("Org3MSP", "tally", json!({"id": id})).unwrap()["state"],
        "approved"
    );
    let field_reason = |e: &ContractError| match e {
        ContractError::BadArgument { field, reason } => (field.clone(), reason.clone()),
        other => panic!("expected a bad argument, got {other}"),
    };
    // Org2's signature submitted by Org1: the signer's MSP is not the signer org.
    n.cert("Org2MSP");
    let theirs = n.config_signature("Org2MSP", UPDATE);
    let e = n.refused(
        "Org1MSP",
        "sign",
        json!({"id": id, "config_signature": theirs}),
    );
    assert!(
        field_reason(&e)
            .1
            .contains("not of the voting organization"),
        "{e}"
    );
    // Limitation, by design: an identity that claims Org1 but carries Org2's
    // certificate passes here (the contract knows no CA certificates); the
    // orderer refuses it when it validates the chain to Org1's CA.
    let claimed = n.config_signature_as("Org2MSP", "Org1MSP", UPDATE, false);
    n.call(
        "Org1MSP",
        "sign",
        json!({"id": id, "config_signature": claimed}),
    )
    .unwrap();
    // Over other bytes.
    let wrong = n.config_signature("Org2MSP", b"some other update");
    let e = n.refused(
        "Org2MSP",
        "sign",
        json!({"id": id, "config_signature": wrong}),
    );
    assert!(field_reason(&e).1.contains("does not verify"), "{e}");
    // High-S.
    let high = n.config_signature_as("Org2MSP", "Org2MSP", UPDATE, true);
    let e = n.refused(
        "Org2MSP",
        "sign",
        json!({"id": id, "config_signature": high}),
    );
    assert!(field_reason(&e).1.contains("high S"), "{e}");
    // Garbage header.
    let e = n.refused(
        "Org2MSP",
        "sign",
        json!({"id": id, "config_signature": {"signature_header": "AQID", "signature": "AQID"}}),
    );
    assert_eq!(field_reason(&e).0, "config_signature");
    // The right one; signing again replaces it.
    let good = n.config_signature("Org2MSP", UPDATE);
    for _ in 0..2 {
        n.call(
            "Org2MSP",
            "sign",
            json!({"id": id, "config_signature": good.clone()}),
        )
        .unwrap();
    }
    assert_eq!(n.last_event().0, "UpdateSigned");
    let sigs = n.call("Org3MSP", "signatures", json!({"id": id})).unwrap();
    let s2 = sigs["signatures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["org"] == "Org2MSP")
        .unwrap()
        .clone();
    assert_eq!(s2["config_signature"], good);
    assert_eq!(sigs["signatures"].as_array().unwrap().len(), 2);
    // A chaincode proposal has nothing to sign.
    let cc = approved(&mut n, deploy("ch1", "basic", "1.0"));
    let e = n.refused(
        "Org1MSP",
        "sign",
        json!({"id": cc, "config_signature": good}),
    );
    assert_eq!(field_reason(&e).0, "id");
}

#[test]
fn a_signature_is_released_once_recorded_approvals_reach_the_quorum() {
    let mut n = Net::founded();
    let id = id_of(&n.call("Org1MSP", "propose", channel_update("ch1")).unwrap());
    n.cert("Org2MSP");
    let sig2 = n.config_signature("Org2MSP", UPDATE);
    // Undecided, one approval: no signature, whatever it names.
    n.call(
        "Org2MSP",
        "vote",
        json!({"id": id, "decision": "approve", "counted": []}),
    )
    .unwrap();
    for counted in [json!(null), json!(["Org1MSP", "Org3MSP"])] {
        let e = n.refused(
            "Org2MSP",
            "sign",
            json!({"id": id, "config_signature": sig2, "counted": counted}),
        );
        assert_eq!(class(&e), "conflict", "{e}");
    }
    // A second approval cast beside it (it saw none): recorded, undecided.
    let r = n
        .call(
            "Org3MSP",
            "vote",
            json!({"id": id, "decision": "approve", "counted": []}),
        )
        .unwrap();
    assert_eq!(r["state"], "proposed");
    // Naming the recorded approvals that reach the quorum releases the
    // signature; the proposal record is not written, so signatures given
    // together do not conflict with each other.
    n.call(
        "Org2MSP",
        "sign",
        json!({"id": id, "config_signature": sig2, "counted": ["Org3MSP"]}),
    )
    .unwrap();
    let writes: Vec<String> = n
        .last
        .as_ref()
        .unwrap()
        .writes
        .iter()
        .map(|w| w.key().to_string())
        .collect();
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert!(writes[0].contains("Org2MSP"), "{writes:?}");
    assert_eq!(n.get(&id)["proposal"]["state"], "proposed");
    // Only an approver signs: Org1 did not vote.
    n.cert("Org1MSP");
    let sig1 = n.config_signature("Org1MSP", UPDATE);
    let e = n.refused(
        "Org1MSP",
        "sign",
        json!({"id": id, "config_signature": sig1, "counted": ["Org2MSP", "Org3MSP"]}),
    );
    assert_eq!(class(&e), "forbidden", "{e}");
    // The tally records the decision the signature followed.
    let r = n
        .call(
            "Org1MSP",
            "tally",
            json!({"id": id, "counted": ["Org2MSP", "Org3MSP"]}),
        )
        .unwrap();
    assert_eq!(r["state"], "approved");
    let sigs = n.call("Org1MSP", "signatures", json!({"id": id})).unwrap();
    assert_eq!(sigs["signatures"].as_array().unwrap().len(), 1);
}

/// `late`'s vote (`decision`) and Org3's deciding approval, which names
/// `first`'s earlier approval only, in one block: each endorsed while `id`
/// was undecided, the late vote ordered first (their keys do not overlap,
/// so both are valid). The proposal ends approved by `first` and Org3.
fn decided_beside_a_late_vote(n: &mut Net, id: &str, first: &str, late: &str, decision: &str) {
    n.call(
        first,
        "vote",
        json!({"id": id, "decision": "approve", "counted": []}),
    )
    .unwrap();
    let ctx = n.ctx(late);
    let args = json!({"id": id, "decision": decision, "counted": []});
    let endorsed = invoke(
        &n.state,
        &ctx,
        "vote",
        &[serde_json::to_vec(&args).unwrap()],
    )
    .unwrap();
    let r = n
        .call(
            "Org3MSP",
            "vote",
            json!({"id": id, "decision": "approve", "counted": [first]}),
        )
        .unwrap();
    assert_eq!(r["state"], "approved");
    n.state.apply(&endorsed.writes);
    let mut counted = vec![first, "Org3MSP"];
    counted.sort();
    assert_eq!(
        n.get(id)["proposal"]["decision"]["approvals"],
        json!(counted)
    );
}

#[test]
fn an_approval_the_decision_did_not_count_still_signs() {
    let mut n = Net::founded();
    let id = id_of(&n.call("Org1MSP", "propose", channel_update("ch1")).unwrap());
    decided_beside_a_late_vote(&mut n, &id, "Org2MSP", "Org1MSP", "approve");
    // Its recorded approval is consent: it signs like the counted ones.
    let sig1 = n.config_signature("Org1MSP", UPDATE);
    n.call(
        "Org1MSP",
        "sign",
        json!({"id": id, "config_signature": sig1}),
    )
    .unwrap();
    assert_eq!(n.last_event().0, "UpdateSigned");
    // A rejection the decision did not count signs nothing.
    let id = id_of(
        &n.call("Org1MSP", "propose", org_add(OPS, "Org4MSP"))
            .unwrap(),
    );
    decided_beside_a_late_vote(&mut n, &id, "Org1MSP", "Org2MSP", "reject");
    let sig2 = n.config_signature("Org2MSP", UPDATE);
    let e = n.refused(
        "Org2MSP",
        "sign",
        json!({"id": id, "config_signature": sig2}),
    );
    assert_eq!(class(&e), "forbidden", "{e}");
}

// ------------------------------------------------------------------ execution

/// Files and approves (Org1, Org2) a proposal; returns its ID.
fn approved(n: &mut Net, args: Value) -> String {
    let id = id_of(&n.call("Org1MSP", "propose", args.clone()).unwrap());
    for org in ["Org1MSP", "Org2MSP"] {
        let v = json!({"id": id, "decision": "approve"});
        n.call(org, "vote", v).unwrap();
    }
    assert_eq!(
        n.call("Org3MSP", "tally", json!({"id": id})).unwrap()["state"],
        "approved"
    );
    id
}

fn order(n: &mut Net, id: &str) -> Vec<String> {
    let g = n.get(id);
    g["proposal"]["execution"]["order"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn tasks_are_reported_by_each_org_for_itself() {
    let mut n = Net::founded();
    let id = id_of(
        &n.call("Org1MSP", "propose", deploy("ch1", "basic", "1.0"))
            .unwrap(),
    );
    let e = n.refused(
        "Org1MSP",
        "report_task",
        json!({"id": id, "task": "install", "status": "done"}),
    );
    assert!(matches!(&e, ContractError::Conflict { state, .. } if state == "proposed"));
    for org in ["Org1MSP", "Org2MSP"] {
        n.call(org, "vote", json!({"id": id, "decision": "approve"}))
            .unwrap();
    }
    n.call("Org1MSP", "tally", json!({"id": id})).unwrap();
    let r = n
        .call(
            "Org1MSP",
            "report_task",
            json!({"id": id, "task": "install", "status": "failed", "detail": "disk full"}),
        )
        .unwrap();
    assert_eq!(r["seq"], 0);
    assert_eq!(n.last_event().0, "TaskReported");
    let r = n
        .call(
            "Org1MSP",
            "report_task",
            json!({"id": id, "task": "install", "status": "done", "org": "Org1MSP"}),
        )
        .unwrap();
    assert_eq!(r["seq"], 1);
    // Org3 voted nothing but is in the electorate: it installs too.
    n.call(
        "Org3MSP",
        "report_task",
        json!({"id": id, "task": "approve", "status": "done"}),
    )
    .unwrap();
    // For another org: refused.
    let e = n.refused(
        "Org2MSP",
        "report_task",
        json!({"id": id, "task": "install", "status": "done", "org": "Org1MSP"}),
    );
    assert!(matches!(&e, ContractError::Forbidden { .. }), "{e}");
    // By an org outside the electorate.
    let e = n.refused(
        "Org9MSP",
        "report_task",
        json!({"id": id, "task": "install", "status": "done"}),
    );
    assert!(matches!(&e, ContractError::Forbidden { .. }), "{e}");
    // Bad task names and statuses.
    let e = n.refused(
        "Org1MSP",
        "report_task",
        json!({"id": id, "task": "Install!", "status": "done"}),
    );
    assert_eq!(class(&e), "bad_argument");
    let e = n.refused(
        "Org1MSP",
        "report_task",
        json!({"id": id, "task": "install", "status": "started"}),
    );
    assert_eq!(class(&e), "bad_argument");
    let t = n.call("Org2MSP", "tasks", json!({"id": id})).unwrap();
    assert_eq!(t["tasks"].as_array().unwrap().len(), 3);
    let t = n
        .call("Org2MSP", "tasks", json!({"id": id, "org": "Org1MSP"}))
        .unwrap();
    let seqs: Vec<_> = t["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["seq"].clone())
        .collect();
    assert_eq!(seqs, vec![json!(0), json!(1)]);
}

#[test]
fn several_tasks_ride_along_in_one_report() {
    let mut n = Net::founded();
    let id = approved(&mut n, deploy("ch1", "basic", "1.0"));
    let r = n
        .call(
            "Org2MSP",
            "report_task",
            json!({"id": id, "task": "install", "status": "done", "detail": "pkg",
                   "more": [{"task": "approve", "status": "done", "detail": "sequence 1"}]}),
        )
        .unwrap();
    assert_eq!(r["seq"], 0);
    assert_eq!(r["more"][0]["task"], "approve");
    let (name, payload) = n.last_event();
    assert_eq!(name, "TaskReported");
    assert!(payload.to_string().contains("\"more\""), "{payload}");
    let t = n
        .call("Org1MSP", "tasks", json!({"id": id, "org": "Org2MSP"}))
        .unwrap();
    let got: Vec<(String, u64, String)> = t["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["task"].as_str().unwrap().to_string(),
                t["seq"].as_u64().unwrap(),
                t["detail"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        got.contains(&("install".into(), 0, "pkg".into())),
        "{got:?}"
    );
    assert!(
        got.contains(&("approve".into(), 0, "sequence 1".into())),
        "{got:?}"
    );
    // The next report of each counts on.
    let r = n
        .call(
            "Org2MSP",
            "report_task",
            json!({"id": id, "task": "approve", "status": "done",
                   "more": [{"task": "install", "status": "failed"}]}),
        )
        .unwrap();
    assert_eq!(r["seq"], 1);
    assert_eq!(r["more"][0]["seq"], 1);
    // One task twice in a call would get one sequence number: refused, as
    // is a bad name among the riders.
    let e = n.refused(
        "Org2MSP",
        "report_task",
        json!({"id": id, "task": "install", "status": "done",
               "more": [{"task": "install", "status": "done"}]}),
    );
    assert_eq!(class(&e), "bad_argument");
    assert!(e.to_string().contains("twice"), "{e}");
    let e = n.refused(
        "Org2MSP",
        "report_task",
        json!({"id": id, "task": "install", "status": "done",
               "more": [{"task": "Bad!", "status": "done"}]}),
    );
    assert_eq!(class(&e), "bad_argument");
    assert!(e.to_string().contains("more[0].task"), "{e}");
}

#[test]
fn executor_claim_failover_and_commit() {
    let mut n = Net::founded();
    let id = approved(&mut n, deploy("ch1", "basic", "1.0"));
    let ord = order(&mut n, &id);
    assert_eq!(ord.len(), 2);
    let (first, second) = (ord[0].clone(), ord[1].clone());
    // Before the timeout only the first may claim; Org3 never may (it did not approve).
    let e = n.refused(&second, "claim_execution", json!({"id": id}));
    assert!(
        matches!(&e, ContractError::Forbidden { reason, .. } if reason.contains("becomes eligible")),
        "{e}"
    );
    let e = n.refused("Org3MSP", "report_committed", json!({"id": id}));
    assert!(
        matches!(&e, ContractError::Forbidden { reason, .. } if reason.contains("did not approve")),
        "{e}"
    );
    // After the timeout (600 s) the second may take over.
    n.now += 600;
    let r = n
        .call(&second, "claim_execution", json!({"id": id}))
        .unwrap();
    assert_eq!(r["outcome"], "claimed");
    assert_eq!(n.last_event().0, "ExecutionClaimed");
    // The claim is exclusive while fresh: the first may not report now.
    let e = n.refused(&first, "report_committed", json!({"id": id}));
    assert_eq!(class(&e), "forbidden");
    let r = n
        .call(
            &second,
            "report_committed",
            json!({"id": id, "detail": "committed in block 12"}),
        )
        .unwrap();
    assert_eq!(r["state"], "committed");
    assert_eq!(n.last_event().0, "ProposalCommitted");
    let g = n.get(&id);
    assert_eq!(
        g["proposal"]["execution"]["committed"]["by"],
        second.as_str()
    );
    // Nothing more happens to a committed proposal.
    let e = n.refused(&second, "report_failed", json!({"id": id, "error": "x"}));
    assert_eq!(class(&e), "conflict");
    let e = n.refused("Org1MSP", "retry", json!({"id": id}));
    assert_eq!(class(&e), "conflict");
    // But tasks can still be reported (late installs).
    n.call(
        "Org3MSP",
        "report_task",
        json!({"id": id, "task": "install", "status": "done"}),
    )
    .unwrap();
}

#[test]
fn failure_retry_rotates_the_executor() {
    let mut n = Net::founded();
    let id = approved(&mut n, deploy("ch1", "basic", "1.0"));
    let ord = order(&mut n, &id);
    let e = n.refused(&ord[0], "report_failed", json!({"id": id, "error": ""}));
    assert_eq!(class(&e), "bad_argument");
    let r = n
        .call(
            &ord[0],
            "report_failed",
            json!({"id": id, "error": "endorsement policy failure"}),
        )
        .unwrap();
    assert_eq!(r["state"], "failed");
    assert_eq!(n.last_event().0, "ProposalFailed");
    let g = n.get(&id);
    assert_eq!(
        g["proposal"]["execution"]["failures"][0]["detail"],
        "endorsement policy failure"
    );
    let e = n.refused(&ord[0], "claim_execution", json!({"id": id}));
    assert_eq!(class(&e), "conflict");
    let e = n.refused("Org9MSP", "retry", json!({"id": id}));
    assert_eq!(class(&e), "forbidden");
    n.now += 5;
    let r = n
        .call(
            "Org3MSP",
            "retry",
            json!({"id": id, "reason": "peer restarted"}),
        )
        .unwrap();
    assert_eq!(r["attempt"], 2);
    assert_eq!(r["state"], "approved");
    assert_eq!(n.last_event().0, "ExecutionRetried");
    let ord2 = order(&mut n, &id);
    assert_eq!(ord2, vec![ord[1].clone(), ord[0].clone()]);
    let e = n.refused(&ord[0], "claim_execution", json!({"id": id}));
    assert_eq!(class(&e), "forbidden");
    n.call(&ord[1], "report_committed", json!({"id": id}))
        .unwrap();
    let h = n.call("Org1MSP", "history", json!({"id": id})).unwrap();
    let tos: Vec<_> = h["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "transition")
        .map(|e| e["to"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        tos,
        vec!["proposed", "approved", "failed", "approved", "committed"]
    );
    assert_eq!(
        h["history"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "vote")
            .count(),
        2
    );
}

#[test]
fn an_application_channel_admits_a_new_member_after_the_ops_channel() {
    let mut n = Net::founded();
    // Org4 is on no channel: the OrgAdds of the ops channel and of ch2 are
    // filed and approved together.
    let ops = approved(&mut n, org_add(OPS, "Org4MSP"));
    let ch2 = approved(&mut n, org_add("ch2", "Org4MSP"));
    // ch2's update cannot be recorded committed before the ops channel's:
    // the registry would list a member of ch2 that cannot vote on it.
    let ord2 = order(&mut n, &ch2);
    let e = n.refused(&ord2[0], "report_committed", json!({"id": ch2}));
    assert!(
        matches!(&e, ContractError::Conflict { reason, .. } if reason.contains("not a member of the ops channel")),
        "{e}"
    );
    assert_eq!(n.get(&ch2)["proposal"]["state"], "approved");
    let ord = order(&mut n, &ops);
    n.call(&ord[0], "report_committed", json!({"id": ops}))
        .unwrap();
    n.call(&ord2[0], "report_committed", json!({"id": ch2}))
        .unwrap();
    let reg = n.call("Org1MSP", "registry", json!({})).unwrap();
    let members = |name: &str| {
        reg["channels"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()["members"]
            .clone()
    };
    assert!(members(OPS).as_array().unwrap().contains(&json!("Org4MSP")));
    assert_eq!(members("ch2"), json!(["Org1MSP", "Org2MSP", "Org4MSP"]));
}

#[test]
fn committed_org_add_updates_the_registry_and_the_new_org_reports_tasks() {
    let mut n = Net::founded();
    let id = approved(&mut n, org_add("ch2", "Org3MSP"));
    // Org3 is added by the proposal: it may report its join task.
    n.call(
        "Org3MSP",
        "report_task",
        json!({"id": id, "task": "join", "status": "started"}),
    )
    .unwrap_err();
    n.call(
        "Org3MSP",
        "report_task",
        json!({"id": id, "task": "join", "status": "failed", "detail": "no block yet"}),
    )
    .unwrap();
    let ord = order(&mut n, &id);
    n.call(&ord[0], "report_committed", json!({"id": id}))
        .unwrap();
    n.call(
        "Org3MSP",
        "report_task",
        json!({"id": id, "task": "join", "status": "done"}),
    )
    .unwrap();
    let reg = n.call("Org1MSP", "registry", json!({})).unwrap();
    let ch2 = reg["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "ch2")
        .unwrap()
        .clone();
    assert_eq!(ch2["members"], json!(["Org1MSP", "Org2MSP", "Org3MSP"]));
    assert_eq!(ch2["updated_by"], id.as_str());
    // Org3 now votes on ch2 proposals.
    let id2 = id_of(
        &n.call("Org3MSP", "propose", deploy("ch2", "basic", "1.0"))
            .unwrap(),
    );
    assert_eq!(n.get(&id2)["proposal"]["quorum"], 2);
}

#[test]
fn channel_create_then_org_remove() {
    let mut n = Net::founded();
    let create = json!({
        "kind": "ChannelCreate", "target": {"channel": "ch3"},
        "payload": {"members": ["Org2MSP", "Org1MSP"], "policies": {"lifecycle_endorsement": "ALL"}},
        "spec_ref": spec_ref(),
    });
    let id = approved(&mut n, create);
    let ord = order(&mut n, &id);
    n.call(&ord[0], "report_committed", json!({"id": id}))
        .unwrap();
    // ch3's LifecycleEndorsement is ALL: a chaincode needs both.
    let d = n
        .call("Org1MSP", "propose", deploy("ch3", "basic", "1.0"))
        .unwrap();
    assert_eq!(d["quorum"], 2);
    let mut rm = org_add("ch3", "Org2MSP");
    rm["kind"] = json!("OrgRemove");
    let rid = approved(&mut n, rm);
    let ord = order(&mut n, &rid);
    n.call(&ord[0], "report_committed", json!({"id": rid}))
        .unwrap();
    let reg = n.call("Org1MSP", "registry", json!({})).unwrap();
    let ch3 = reg["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "ch3")
        .unwrap()
        .clone();
    assert_eq!(ch3["members"], json!(["Org1MSP"]));
    assert_eq!(ch3["policies"]["lifecycle_endorsement"], "ALL");
}

/// A new channel's own members execute its creation first (only their
/// peers can join it and see that it exists), whatever the hash order.
#[test]
fn a_new_channels_members_execute_its_creation_first() {
    let mut n = Net::founded();
    for i in 0..6 {
        let create = json!({
            "kind": "ChannelCreate", "target": {"channel": format!("solo{i}")},
            "payload": {"members": ["Org2MSP"]},
            "spec_ref": spec_ref(),
        });
        let id = approved(&mut n, create);
        let ord = order(&mut n, &id);
        assert_eq!(ord, ["Org2MSP", "Org1MSP"], "solo{i}");
    }
}

// ------------------------------------------------------------------ governance

fn governance_change(timeout: i64, chaincode_level: &str) -> Value {
    json!({
        "kind": "GovernanceChange",
        "target": {"channel": OPS},
        "payload": {"governance": {
            "voting_period_secs": 86400, "max_voting_period_secs": 604800,
            "executor_timeout_secs": timeout, "quorum": {"chaincode": chaincode_level},
        }},
        "spec_ref": spec_ref(),
    })
}

#[test]
fn governance_changes_need_every_ops_member_and_apply_on_the_tally() {
    let mut n = Net::founded();
    let r = n
        .call("Org2MSP", "propose", governance_change(120, "all"))
        .unwrap();
    assert_eq!(r["quorum"], 3);
    let id = id_of(&r);
    for org in ["Org1MSP", "Org2MSP"] {
        n.call(org, "vote", json!({"id": id, "decision": "approve"}))
            .unwrap();
    }
    // Two of three: no quorum; governance unchanged.
    assert_eq!(
        n.call("Org1MSP", "tally", json!({"id": id})).unwrap()["outcome"],
        "pending"
    );
    let reg = n.call("Org1MSP", "registry", json!({})).unwrap();
    assert_eq!(reg["governance"]["executor_timeout_secs"], 600);
    // The last vote decides and applies the change in the same transaction.
    let r = n
        .call("Org3MSP", "vote", json!({"id": id, "decision": "approve"}))
        .unwrap();
    assert_eq!(r["state"], "committed");
    assert_eq!(n.last_event().0, "ProposalCommitted");
    let reg = n.call("Org1MSP", "registry", json!({})).unwrap();
    assert_eq!(reg["governance"]["executor_timeout_secs"], 120);
    // The raised level applies to new chaincode proposals: all 3 of ch1.
    let d = n
        .call("Org1MSP", "propose", deploy("ch1", "basic", "1.0"))
        .unwrap();
    assert_eq!(d["quorum"], 3);
    assert!(d["quorum_rule"].as_str().unwrap().contains("raises"));
    // One rejection of a meta change rejects it at once.
    let id = id_of(
        &n.call("Org1MSP", "propose", governance_change(300, "policy"))
            .unwrap(),
    );
    n.call("Org3MSP", "vote", json!({"id": id, "decision": "reject"}))
        .unwrap();
    assert_eq!(
        n.call("Org1MSP", "tally", json!({"id": id})).unwrap()["state"],
        "rejected"
    );
    // Governance changes target the ops channel only; invalid settings are refused.
    let mut a = governance_change(300, "all");
    a["target"]["channel"] = json!("ch1");
    assert_eq!(class(&n.refused("Org1MSP", "propose", a)), "bad_argument");
    let e = n.refused("Org1MSP", "propose", governance_change(1, "all"));
    assert!(
        matches!(&e, ContractError::BadArgument { field, .. } if field.ends_with("executor_timeout_secs"))
    );
    let e = n.refused("Org1MSP", "propose", governance_change(60, "none"));
    assert_eq!(class(&e), "bad_argument");
}

#[test]
fn registry_changes_are_meta_governance() {
    let mut n = Net::founded();
    let set = json!({
        "kind": "RegistryChange", "target": {"channel": "legacy"},
        "payload": {"action": "set", "members": ["Org3MSP", "Org1MSP"]},
        "spec_ref": spec_ref(),
    });
    let id = id_of(&n.call("Org1MSP", "propose", set).unwrap());
    for org in ORGS {
        n.call(org, "vote", json!({"id": id, "decision": "approve"}))
            .unwrap();
    }
    assert_eq!(
        n.call("Org2MSP", "tally", json!({"id": id})).unwrap()["state"],
        "committed"
    );
    let d = n
        .call("Org3MSP", "propose", deploy("legacy", "basic", "1.0"))
        .unwrap();
    assert_eq!(d["electorate"], json!(["Org1MSP", "Org3MSP"]));
    let rm = json!({
        "kind": "RegistryChange", "target": {"channel": OPS},
        "payload": {"action": "remove"}, "spec_ref": spec_ref(),
    });
    assert_eq!(class(&n.refused("Org1MSP", "propose", rm)), "bad_argument");
}

// ------------------------------------------------------------------ queries

#[test]
fn list_pages_and_filters() {
    let mut n = Net::founded();
    let mut ids = Vec::new();
    for i in 0..7 {
        n.now += 1;
        let name = format!("cc{i}");
        ids.push(id_of(
            &n.call("Org1MSP", "propose", deploy("ch1", &name, "1.0"))
                .unwrap(),
        ));
    }
    n.now += 1;
    let cu = id_of(&n.call("Org1MSP", "propose", channel_update("ch2")).unwrap());
    n.call("Org1MSP", "withdraw", json!({"id": ids[1]}))
        .unwrap();

    let mut seen = Vec::new();
    let mut bookmark: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut args = json!({"page_size": 3});
        if let Some(b) = &bookmark {
            args["bookmark"] = json!(b);
        }
        let page = n.call("Org2MSP", "list", args).unwrap();
        pages += 1;
        for it in page["items"].as_array().unwrap() {
            seen.push(it["id"].as_str().unwrap().to_string());
        }
        match page["bookmark"].as_str() {
            Some(b) => bookmark = Some(b.to_string()),
            None => break,
        }
        assert!(pages < 10);
    }
    let mut all = ids.clone();
    all.push(cu.clone());
    assert_eq!(seen, all, "every proposal once, in filing order");
    assert_eq!(pages, 3);

    let f = n
        .call("Org2MSP", "list", json!({"state": "withdrawn"}))
        .unwrap();
    assert_eq!(f["items"].as_array().unwrap().len(), 1);
    assert_eq!(f["items"][0]["id"], ids[1].as_str());
    let f = n
        .call("Org2MSP", "list", json!({"channel": "ch2"}))
        .unwrap();
    assert_eq!(f["items"].as_array().unwrap().len(), 1);
    let f = n
        .call(
            "Org2MSP",
            "list",
            json!({"kind": "ChaincodeDeploy", "state": "proposed"}),
        )
        .unwrap();
    assert_eq!(f["items"].as_array().unwrap().len(), 6);
    assert_eq!(f["bookmark"], Value::Null);
    // Hostile list arguments.
    assert_eq!(
        class(&n.refused("Org2MSP", "list", json!({"page_size": 0}))),
        "bad_argument"
    );
    assert_eq!(
        class(&n.refused("Org2MSP", "list", json!({"page_size": 100000}))),
        "bad_argument"
    );
    assert_eq!(
        class(&n.refused("Org2MSP", "list", json!({"bookmark": "proposal~x"}))),
        "bad_argument"
    );
    assert_eq!(
        class(&n.refused("Org2MSP", "list", json!({"state": "lost"}))),
        "bad_argument"
    );
    // Queries never write or emit.
    for (f, a) in [
        ("list", json!({})),
        ("get", json!({"id": cu})),
        ("registry", json!({})),
    ] {
        n.call("Org3MSP", f, a).unwrap();
        let out = n.last.as_ref().unwrap();
        assert!(out.writes.is_empty() && out.event.is_none(), "{f}");
    }
}

#[test]
fn get_explains_the_tally() {
    let mut n = Net::founded();
    let id = id_of(
        &n.call("Org1MSP", "propose", deploy("ch1", "basic", "1.0"))
            .unwrap(),
    );
    n.call("Org2MSP", "vote", json!({"id": id, "decision": "approve"}))
        .unwrap();
    let g = n.get(&id);
    assert_eq!(g["tally"]["approvals"], json!(["Org2MSP"]));
    assert_eq!(g["tally"]["not_voted"], json!(["Org1MSP", "Org3MSP"]));
    assert_eq!(g["tally"]["quorum"], 2);
    assert_eq!(g["proposal"]["payload"]["version"], "1.0");
    assert_eq!(g["proposal"]["proposer"], "Org1MSP");
}

#[test]
fn every_state_changing_call_emits_exactly_one_event() {
    let mut n = Net::founded();
    let id = approved(&mut n, deploy("ch1", "basic", "1.0"));
    let names: Vec<&str> = n.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "FoundingConfirmed",
            "FoundingConfirmed",
            "RegistryFounded",
            "ProposalFiled",
            "VoteCast",
            "ProposalApproved"
        ]
    );
    let (_, ev) = n.last_event();
    assert_eq!(ev["proposal_id"], id.as_str());
    assert_eq!(ev["state"], "approved");
    assert_eq!(ev["transitions"][0]["from"], "proposed");
    assert!(ev["tx_id"].as_str().unwrap().starts_with("tx"));
}

// ------------------------------------------------------------------ quorum rules

/// A ConfigUpdate of `channel` that sets its Application `Admins` policy to
/// the implicit meta `rule` (0 ANY, 1 ALL, 2 MAJORITY).
fn admins_update(channel: &str, rule: i32) -> Vec<u8> {
    use opssc_fabric::protos::common::{
        ConfigGroup, ConfigPolicy, ConfigUpdate, ImplicitMetaPolicy, Policy,
    };
    use prost::Message;
    let policy = Policy {
        r#type: 3,
        value: ImplicitMetaPolicy {
            sub_policy: "Admins".into(),
            rule,
        }
        .encode_to_vec(),
    };
    let mut app = ConfigGroup {
        version: 0,
        ..Default::default()
    };
    app.policies.insert(
        "Admins".into(),
        ConfigPolicy {
            version: 1,
            policy: Some(policy),
            mod_policy: "Admins".into(),
        },
    );
    let mut write = ConfigGroup::default();
    write.groups.insert("Application".into(), app);
    ConfigUpdate {
        channel_id: channel.into(),
        read_set: Some(ConfigGroup::default()),
        write_set: Some(write),
        ..Default::default()
    }
    .encode_to_vec()
}

fn registered_policies(n: &mut Net, channel: &str) -> Value {
    let reg = n.call("Org1MSP", "registry", json!({})).unwrap();
    reg["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == channel)
        .unwrap()["policies"]
        .clone()
}

#[test]
fn the_quorum_follows_the_admins_rule_a_committed_update_sets() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut n = Net::founded();
    let mut cu = channel_update("ch1");
    cu["payload"]["config_update"] = json!(b64.encode(admins_update("ch1", 1)));
    // An update that writes the Admins rule must state it, truly.
    let e = n.refused("Org1MSP", "propose", cu.clone());
    assert_eq!(class(&e), "bad_argument", "{e}");
    assert!(
        e.to_string().contains("state them in payload.policies"),
        "{e}"
    );
    cu["payload"]["policies"] = json!({"admins": "MAJORITY"});
    let e = n.refused("Org1MSP", "propose", cu.clone());
    assert!(
        e.to_string().contains(
            "states ADMINS MAJORITY, LIFECYCLEENDORSEMENT MAJORITY but ch1 has ADMINS ALL"
        ),
        "{e}"
    );
    cu["payload"]["policies"] = json!({"admins": "ALL", "lifecycle_endorsement": "MAJORITY"});
    let id = approved(&mut n, cu);
    // Counted with the rule the channel has now: MAJORITY of 3.
    assert_eq!(n.get(&id)["proposal"]["quorum"], 2);
    assert_eq!(registered_policies(&mut n, "ch1")["admins"], "MAJORITY");
    let ord = order(&mut n, &id);
    n.call(&ord[0], "report_committed", json!({"id": id}))
        .unwrap();
    assert_eq!(registered_policies(&mut n, "ch1")["admins"], "ALL");
    // From now on every config change of ch1 needs all three.
    let mut rm = org_add("ch1", "Org3MSP");
    rm["kind"] = json!("OrgRemove");
    let r = n.call("Org1MSP", "propose", rm).unwrap();
    assert_eq!(r["quorum"], 3, "{r:#}");
    // An update that leaves the rules alone may state them as registered,
    // not otherwise.
    let mut plain = channel_update("ch1");
    plain["payload"]["policies"] = json!({"admins": "ALL"});
    n.call("Org2MSP", "propose", plain.clone()).unwrap();
    plain["payload"]["policies"] = json!({"admins": "ANY"});
    plain["spec_ref"]["git_commit"] = json!("e".repeat(40));
    let e = n.refused("Org2MSP", "propose", plain);
    assert!(e.to_string().contains("RegistryChange"), "{e}");
}

#[test]
fn an_org_change_may_not_change_the_rules() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut n = Net::founded();
    let mut add = org_add("ch2", "Org3MSP");
    add["payload"]["config_update"] = json!(b64.encode(admins_update("ch2", 0)));
    let e = n.refused("Org1MSP", "propose", add);
    assert_eq!(class(&e), "bad_argument", "{e}");
    assert!(
        e.to_string()
            .contains("file that change as a ChannelUpdate"),
        "{e}"
    );
}

#[test]
fn ballots_are_the_callers_votes_in_one_transaction() {
    let mut n = Net::founded();
    let a = id_of(
        &n.call("Org1MSP", "propose", deploy("ch1", "a", "1.0"))
            .unwrap(),
    );
    let b = id_of(
        &n.call("Org1MSP", "propose", deploy("ch1", "b", "1.0"))
            .unwrap(),
    );
    let c = id_of(
        &n.call("Org1MSP", "propose", deploy("ch1", "c", "1.0"))
            .unwrap(),
    );
    n.call("Org1MSP", "vote", json!({"id": a, "decision": "approve"}))
        .unwrap();
    let vote = |id: &str, decision: &str| json!({"function": "vote", "args": {"id": id, "decision": decision, "reason": "r"}});
    let r = n
        .call(
            "Org2MSP",
            "ballots",
            json!({"calls": [vote(&a, "approve"), vote(&b, "reject")]}),
        )
        .unwrap();
    // Each call's answer, as the call alone gives it: Org2's approval
    // decides `a` (2 of 3), its rejection leaves `b` open.
    let results = r["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["decided"], true);
    assert_eq!(results[1]["decided"], false);
    assert_eq!(n.state_of(&a), "approved");
    assert_eq!(n.state_of(&b), "proposed");
    let votes = n.call("Org1MSP", "votes", json!({"id": b})).unwrap();
    assert_eq!(votes["votes"][0]["org"], "Org2MSP");
    assert_eq!(votes["votes"][0]["decision"], "reject");
    // One event, listing the calls' own.
    let (name, payload) = n.last_event();
    assert_eq!(name, "BallotsCast");
    let inner: Vec<&str> = payload["detail"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(inner, ["ProposalApproved", "VoteCast"]);

    // A refused call refuses the whole transaction: the vote on `c` is not
    // recorded when the one on `b` is a second vote.
    let e = n.refused(
        "Org2MSP",
        "ballots",
        json!({"calls": [vote(&c, "approve"), vote(&b, "approve")]}),
    );
    assert!(
        matches!(&e, ContractError::Conflict { reason, .. } if reason.contains("immutable")),
        "{e}"
    );
    // Two calls on one proposal, none, too many, or another function.
    let e = n.refused(
        "Org3MSP",
        "ballots",
        json!({"calls": [vote(&c, "approve"), vote(&c, "reject")]}),
    );
    assert!(matches!(&e, ContractError::BadArgument { field, .. } if field == "calls"));
    let e = n.refused("Org3MSP", "ballots", json!({"calls": []}));
    assert!(matches!(&e, ContractError::BadArgument { field, .. } if field == "calls"));
    let many: Vec<Value> = (0..=opssc_chaincode::contract::MAX_BALLOTS)
        .map(|i| vote(&format!("{i:064x}"), "approve"))
        .collect();
    let e = n.refused("Org3MSP", "ballots", json!({ "calls": many }));
    assert!(matches!(&e, ContractError::BadArgument { field, .. } if field == "calls"));
    let e = n.refused(
        "Org3MSP",
        "ballots",
        json!({"calls": [{"function": "tally", "args": {"id": c}}]}),
    );
    assert_eq!(class(&e), "bad_argument");
    // Org3 is not on ch2: its ballots there are refused as its vote is.
    let d = id_of(
        &n.call("Org1MSP", "propose", deploy("ch2", "d", "1.0"))
            .unwrap(),
    );
    let e = n.refused(
        "Org3MSP",
        "ballots",
        json!({"calls": [vote(&c, "approve"), vote(&d, "approve")]}),
    );
    assert!(
        matches!(&e, ContractError::Forbidden { msp, .. } if msp == "Org3MSP"),
        "{e}"
    );
}

#[test]
fn one_organizations_filings_in_one_ballots_transaction() {
    let mut n = Net::founded();
    let file = |name: &str| json!({"function": "propose", "args": deploy("ch1", name, "1.0")});
    let r = n
        .call(
            "Org1MSP",
            "ballots",
            json!({"calls": [file("a"), file("b"), file("c")]}),
        )
        .unwrap();
    let ids: Vec<String> = r["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["outcome"], "filed", "{r}");
            r["id"].as_str().unwrap().to_string()
        })
        .collect();
    for id in &ids {
        assert_eq!(n.state_of(id), "proposed");
    }
    // Filed alone, the same content is the same proposal.
    let again = n
        .call("Org1MSP", "propose", deploy("ch1", "b", "1.0"))
        .unwrap();
    assert_eq!(again["outcome"], "exists");
    assert_eq!(again["id"], ids[1]);
    // The same filing twice in one transaction, or a filing and a vote on
    // it: refused, nothing filed.
    let e = n.refused(
        "Org2MSP",
        "ballots",
        json!({"calls": [file("d"), file("d")]}),
    );
    assert!(
        matches!(&e, ContractError::BadArgument { field, .. } if field == "calls"),
        "{e}"
    );
    // A filing outside the caller's electorate refuses the others with it.
    let e = n.refused(
        "Org3MSP",
        "ballots",
        json!({"calls": [file("e"), {"function": "propose", "args": deploy("ch2", "f", "1.0")}]}),
    );
    assert_eq!(class(&e), "forbidden", "{e}");
}

/// `overview` answers what `list`, `registry` and, for each open proposal,
/// `get`, `votes`, `tasks` and `signatures` answer alone: an agent's
/// observation reads the same state in one call.
#[test]
fn overview_is_list_registry_and_each_open_proposals_records() {
    let mut n = Net::founded();
    let approved = id_of(
        &n.call("Org1MSP", "propose", deploy("ch1", "a", "1.0"))
            .unwrap(),
    );
    let proposed = id_of(
        &n.call("Org1MSP", "propose", deploy("ch1", "b", "1.0"))
            .unwrap(),
    );
    let withdrawn = id_of(
        &n.call("Org2MSP", "propose", deploy("ch1", "c", "1.0"))
            .unwrap(),
    );
    n.call(
        "Org2MSP",
        "withdraw",
        json!({"id": withdrawn, "reason": "r"}),
    )
    .unwrap();
    let update = id_of(&n.call("Org1MSP", "propose", channel_update("ch1")).unwrap());
    n.cert("Org2MSP");
    let sig2 = n.config_signature("Org2MSP", UPDATE);
    for org in ["Org1MSP", "Org2MSP"] {
        n.call(org, "vote", json!({"id": approved, "decision": "approve"}))
            .unwrap();
    }
    n.call(
        "Org2MSP",
        "vote",
        json!({"id": update, "decision": "approve", "counted": []}),
    )
    .unwrap();
    n.call(
        "Org3MSP",
        "vote",
        json!({"id": update, "decision": "approve", "counted": []}),
    )
    .unwrap();
    n.call(
        "Org2MSP",
        "sign",
        json!({"id": update, "config_signature": sig2, "counted": ["Org3MSP"]}),
    )
    .unwrap();
    n.call(
        "Org1MSP",
        "report_task",
        json!({"id": approved, "task": "install", "status": "done"}),
    )
    .unwrap();
    assert_eq!(n.state_of(&approved), "approved");

    let o = n.call("Org3MSP", "overview", json!({})).unwrap();
    let list = n.call("Org3MSP", "list", json!({})).unwrap();
    assert_eq!(o["items"], list["items"]);
    assert_eq!(o["bookmark"], list["bookmark"]);
    assert_eq!(
        o["registry"],
        n.call("Org3MSP", "registry", json!({})).unwrap()
    );
    let open = o["open"].as_object().unwrap();
    let mut ids: Vec<&String> = open.keys().collect();
    ids.sort();
    let mut expected = vec![&approved, &proposed, &update];
    expected.sort();
    assert_eq!(ids, expected, "the withdrawn proposal is not open");
    for id in expected {
        let of = json!({ "id": id });
        let r = &open[id.as_str()];
        assert_eq!(
            r["get"],
            n.call("Org3MSP", "get", of.clone()).unwrap(),
            "{id}"
        );
        assert_eq!(
            r["votes"],
            n.call("Org3MSP", "votes", of.clone()).unwrap()["votes"]
        );
        let signatures = n.call("Org3MSP", "signatures", of.clone()).unwrap()["signatures"].clone();
        assert_eq!(
            r["signatures"],
            if *id == update { signatures } else { json!([]) }
        );
        let tasks = n.call("Org3MSP", "tasks", of).unwrap()["tasks"].clone();
        assert_eq!(r["tasks"], if *id == approved { tasks } else { json!([]) });
    }
    assert_eq!(
        open[approved.as_str()]["tasks"].as_array().unwrap().len(),
        1
    );
    assert_eq!(
        open[update.as_str()]["signatures"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Paged as `list` is.
    let first = n
        .call("Org3MSP", "overview", json!({"page_size": 1}))
        .unwrap();
    assert_eq!(first["items"].as_array().unwrap().len(), 1);
    assert!(first["bookmark"].is_string());
}
