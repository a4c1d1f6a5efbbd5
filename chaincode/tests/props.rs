//! Property test: random sequences of calls from random organizations at
//! random times, checked against the contract's invariants after every call.
//!
//! Invariants: a refused call changes nothing and emits nothing; one vote per
//! organization and proposal, never changed once cast, only from the
//! electorate; decisions are final (every stored history follows the
//! transition table, nothing returns to `proposed`, terminal states stay);
//! quorum math (an approved proposal had at least `quorum` approvals when
//! decided, a rejected one more than `n - quorum` rejections, quorum is the
//! majority of the channel or every ops member for meta-governance); filing
//! the same change again returns the same ID and writes nothing (unless a new
//! organization backs it); the outcome of each vote is the one an independent
//! prediction gives; the open indexes hold exactly the non-terminal
//! proposals; signatures exist only from approving organizations after the
//! decision; a claim is never recorded past the decision's window.

mod common;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::*;
use opssc_chaincode::model::{Kind, Proposal, ProposalState, Vote};
use proptest::prelude::*;
use serde_json::{Value, json};

const ACTORS: [&str; 4] = ["Org1MSP", "Org2MSP", "Org3MSP", "Org9MSP"];

fn update_bytes(k: u8) -> Vec<u8> {
    let mut u = UPDATE.to_vec();
    u.push(k);
    u
}

/// Identities and ConfigSignatures, generated once for all cases.
type Fixtures = (BTreeMap<String, Identity>, BTreeMap<(String, u8), Value>);

fn fixtures() -> &'static Fixtures {
    static F: OnceLock<Fixtures> = OnceLock::new();
    F.get_or_init(|| {
        let mut n = Net::new();
        let mut sigs = BTreeMap::new();
        for org in ACTORS {
            for k in 0..3u8 {
                sigs.insert(
                    (org.to_string(), k),
                    n.config_signature(org, &update_bytes(k)),
                );
            }
        }
        (n.ids, sigs)
    })
}

#[derive(Debug, Clone)]
enum Op {
    ProposeDeploy {
        org: usize,
        channel: usize,
        cc: u8,
        version: u8,
        deadline: Option<u16>,
    },
    ProposeUpdate {
        org: usize,
        k: u8,
    },
    ProposeGovernance {
        org: usize,
        timeout: u8,
    },
    Refile {
        org: usize,
        which: usize,
    },
    Vote {
        org: usize,
        which: usize,
        approve: bool,
        sign: bool,
    },
    Tally {
        org: usize,
        which: usize,
    },
    Expire {
        org: usize,
        which: usize,
    },
    Withdraw {
        org: usize,
        which: usize,
    },
    Task {
        org: usize,
        which: usize,
        failed: bool,
    },
    Claim {
        org: usize,
        which: usize,
    },
    /// A claim dated `ahead` seconds after the world's time.
    ClaimAhead {
        org: usize,
        which: usize,
        ahead: u32,
    },
    Sign {
        org: usize,
        which: usize,
    },
    Committed {
        org: usize,
        which: usize,
    },
    Failed {
        org: usize,
        which: usize,
    },
    Retry {
        org: usize,
        which: usize,
    },
    Wait {
        secs: u16,
    },
}

fn op() -> impl Strategy<Value = Op> {
    // The outsider (index 3) is picked less often than the members.
    let org = prop_oneof![6 => 0..3usize, 1 => Just(3usize)];
    // Mostly the latest proposals, where things are still moving.
    let which = prop_oneof![4 => 0usize..2, 1 => 0usize..8];
    prop_oneof![
        1 => (org.clone(), 0usize..2, 0u8..2, 0u8..3, proptest::option::of(3600u16..8000))
            .prop_map(|(org, channel, cc, version, deadline)| Op::ProposeDeploy { org, channel, cc, version, deadline }),
        1 => (org.clone(), 0u8..3).prop_map(|(org, k)| Op::ProposeUpdate { org, k }),
        1 => (org.clone(), 0u8..3).prop_map(|(org, timeout)| Op::ProposeGovernance { org, timeout }),
        1 => (org.clone(), which.clone()).prop_map(|(org, which)| Op::Refile { org, which }),
        10 => (org.clone(), which.clone(), prop::bool::weighted(0.75), prop::bool::weighted(0.1))
            .prop_map(|(org, which, approve, sign)| Op::Vote { org, which, approve, sign }),
        4 => (org.clone(), which.clone()).prop_map(|(org, which)| Op::Tally { org, which }),
        1 => (org.clone(), which.clone()).prop_map(|(org, which)| Op::Expire { org, which }),
        1 => (org.clone(), which.clone()).prop_map(|(org, which)| Op::Withdraw { org, which }),
        2 => (org.clone(), which.clone(), any::<bool>()).prop_map(|(org, which, failed)| Op::Task { org, which, failed }),
        3 => (org.clone(), which.clone()).prop_map(|(org, which)| Op::Claim { org, which }),
        1 => (org.clone(), which.clone(), any::<u32>()).prop_map(|(org, which, ahead)| Op::ClaimAhead { org, which, ahead }),
        3 => (org.clone(), which.clone()).prop_map(|(org, which)| Op::Sign { org, which }),
        3 => (org.clone(), which.clone()).prop_map(|(org, which)| Op::Committed { org, which }),
        1 => (org.clone(), which.clone()).prop_map(|(org, which)| Op::Failed { org, which }),
        1 => (org.clone(), which.clone()).prop_map(|(org, which)| Op::Retry { org, which }),
        2 => (1u16..700).prop_map(|secs| Op::Wait { secs }),
    ]
}

struct World {
    net: Net,
    /// Filed proposals: ID and the `propose` arguments.
    filed: Vec<(String, Value)>,
    /// Every vote ever seen, by key.
    votes_seen: BTreeMap<String, Vec<u8>>,
    /// Every proposal's last seen state.
    states_seen: BTreeMap<String, ProposalState>,
}

impl World {
    fn new() -> Self {
        let mut net = Net::founded();
        let (ids, _) = fixtures();
        for (org, id) in ids {
            net.ids.insert(
                org.clone(),
                Identity {
                    cert_pem: id.cert_pem.clone(),
                    key: id.key.clone(),
                },
            );
        }
        World {
            net,
            filed: Vec::new(),
            votes_seen: BTreeMap::new(),
            states_seen: BTreeMap::new(),
        }
    }

    fn pick(&self, which: usize) -> Option<String> {
        let n = self.filed.len();
        if n == 0 {
            None
        } else {
            Some(self.filed[n - 1 - which % n].0.clone())
        }
    }

    /// After a vote counting every vote: the proposal is undecided exactly
    /// when the electorate's recorded votes do not decide it (the vote that
    /// reaches the quorum decides, and no vote decides early).
    fn check_vote_decides(&self, id: &str) {
        let p = self.stored(id);
        let prefix = format!("vote~{id}~");
        let mut count = opssc_chaincode::contract::Count::default();
        for (k, v) in self.net.state.map.range(prefix.clone()..) {
            if !k.starts_with(&prefix) {
                break;
            }
            let v: Vote = serde_json::from_slice(v).unwrap();
            if p.electorate.contains(&v.org) {
                match v.decision {
                    opssc_chaincode::model::Decision::Approve => count.approvals.push(v.org),
                    opssc_chaincode::model::Decision::Reject => count.rejections.push(v.org),
                }
            }
        }
        let decides = count.decides(p.electorate.len(), p.quorum);
        assert_eq!(
            p.state.is_undecided(),
            decides.is_none(),
            "{id}: {:?} with votes {count:?}",
            p.state
        );
    }

    fn stored(&self, id: &str) -> Proposal {
        serde_json::from_slice(&self.net.state.map[&format!("proposal~{id}")]).unwrap()
    }

    /// Runs a call; a refused call must leave state and events unchanged.
    fn call(
        &mut self,
        org: &str,
        f: &str,
        args: Value,
    ) -> Result<Value, opssc_chaincode::ContractError> {
        let before = self.net.state.clone();
        let events = self.net.events.len();
        let r = self.net.call(org, f, args);
        match &r {
            Err(_) => {
                assert_eq!(
                    self.net.state, before,
                    "refused {f} by {org} changed the state"
                );
                assert_eq!(
                    self.net.events.len(),
                    events,
                    "refused {f} by {org} emitted an event"
                );
            }
            Ok(_) => {
                let out = self.net.last.as_ref().unwrap();
                if !out.writes.is_empty() {
                    assert!(out.event.is_some(), "{f} by {org} wrote without an event");
                }
            }
        }
        r
    }

    fn propose(&mut self, org: &str, args: Value) {
        if let Ok(r) = self.call(org, "propose", args.clone()) {
            let id = r["id"].as_str().unwrap().to_string();
            if r["outcome"] == "filed" {
                self.filed.push((id, args));
            } else {
                assert_eq!(r["outcome"], "exists");
                assert!(self.filed.iter().any(|(f, _)| f == &id));
            }
        }
    }

    fn step(&mut self, op: &Op) {
        let (_, sigs) = fixtures();
        match *op {
            Op::ProposeDeploy {
                org,
                channel,
                cc,
                version,
                deadline,
            } => {
                let mut a = deploy(
                    ["ch1", "ch2"][channel],
                    &format!("cc{cc}"),
                    &format!("1.{version}"),
                );
                if let Some(d) = deadline {
                    a["deadline"] = json!(self.net.now + d as i64);
                }
                self.propose(ACTORS[org], a);
            }
            Op::ProposeUpdate { org, k } => {
                let mut a = channel_update("ch1");
                a["payload"]["config_update"] = json!(STANDARD.encode(update_bytes(k)));
                a["deadline"] = json!(self.net.now + 4000);
                self.propose(ACTORS[org], a);
            }
            Op::ProposeGovernance { org, timeout } => {
                let a = json!({
                    "kind": "GovernanceChange", "target": {"channel": OPS},
                    "payload": {"governance": {"voting_period_secs": 3600, "max_voting_period_secs": 86400,
                        "executor_timeout_secs": 100 + 100 * timeout as i64}},
                    "spec_ref": spec_ref(),
                });
                self.propose(ACTORS[org], a);
            }
            Op::Refile { org, which } => {
                if self.filed.is_empty() {
                    return;
                }
                let (id, args) = self.filed[which % self.filed.len()].clone();
                let p = self.stored(&id);
                let before = self.net.state.clone();
                match self.call(ACTORS[org], "propose", args) {
                    Ok(r) => {
                        assert_eq!(r["outcome"], "exists");
                        assert_eq!(r["id"], id.as_str());
                        // Idempotent: nothing written unless a new org backs
                        // the open change.
                        let new_backer = !p.state.is_terminal()
                            && p.proposer != ACTORS[org]
                            && !p.also_filed_by.iter().any(|m| m == ACTORS[org]);
                        if new_backer {
                            assert!(
                                self.stored(&id)
                                    .also_filed_by
                                    .iter()
                                    .any(|m| m == ACTORS[org])
                            );
                        } else {
                            assert_eq!(self.net.state, before, "refiling wrote something");
                        }
                    }
                    Err(e) => {
                        // Only an org outside the (current) electorate is refused.
                        assert_eq!(e.class(), "forbidden", "{e}");
                    }
                }
            }
            Op::Vote {
                org,
                which,
                approve,
                sign,
            } => {
                let Some(id) = self.pick(which) else { return };
                let org = ACTORS[org];
                let p = self.stored(&id);
                let mut a =
                    json!({"id": id, "decision": if approve { "approve" } else { "reject" }});
                let k = p.payload.get("config_update").and_then(|u| {
                    let bytes = STANDARD.decode(u.as_str().unwrap()).unwrap();
                    (0..3u8).find(|k| update_bytes(*k) == bytes)
                });
                // Votes carry no signature any more: one attached is refused.
                let with_sig = p.kind.carries_config_update() && approve && sign;
                if with_sig {
                    a["config_signature"] = sigs[&(org.to_string(), k.unwrap())].clone();
                }
                let already = self.net.state.map.contains_key(&format!("vote~{id}~{org}"));
                let predicted: Result<&str, &str> = if with_sig {
                    Err("bad_argument")
                } else if !p.state.is_undecided() {
                    Err("conflict")
                } else if !p.electorate.iter().any(|m| m == org) {
                    Err("forbidden")
                } else if self.net.now >= p.deadline {
                    Ok("not_applied")
                } else if already {
                    Err("conflict")
                } else {
                    Ok("vote_recorded")
                };
                let got = self.call(org, "vote", a);
                if predicted == Ok("vote_recorded") && got.is_ok() {
                    self.check_vote_decides(&id);
                }
                match (predicted, &got) {
                    (Ok(o), Ok(r)) => assert_eq!(r["outcome"], o),
                    (Err(c), Err(e)) => assert_eq!(e.class(), c, "{e}"),
                    _ => panic!(
                        "vote by {org} on {:?}: predicted {predicted:?}, got {got:?}",
                        p.state
                    ),
                }
            }
            Op::Tally { org, which } => {
                if let Some(id) = self.pick(which) {
                    self.call(ACTORS[org], "tally", json!({"id": id}))
                        .expect("tally never fails on a filed proposal");
                }
            }
            Op::Expire { org, which } => {
                if let Some(id) = self.pick(which) {
                    let p = self.stored(&id);
                    let r = self.call(ACTORS[org], "expire", json!({"id": id}));
                    let member = p.electorate.iter().any(|m| m == ACTORS[org]);
                    assert_eq!(
                        r.is_err(),
                        p.state.is_undecided() && (self.net.now < p.deadline || !member)
                    );
                }
            }
            Op::Withdraw { org, which } => {
                if let Some(id) = self.pick(which) {
                    let p = self.stored(&id);
                    let r = self.call(ACTORS[org], "withdraw", json!({"id": id}));
                    if r.is_ok() {
                        assert_eq!(p.proposer, ACTORS[org]);
                        assert_eq!(self.stored(&id).state, ProposalState::Withdrawn);
                    }
                }
            }
            Op::Task { org, which, failed } => {
                if let Some(id) = self.pick(which) {
                    let status = if failed { "failed" } else { "done" };
                    let _ = self.call(
                        ACTORS[org],
                        "report_task",
                        json!({"id": id, "task": "install", "status": status}),
                    );
                }
            }
            Op::Claim { org, which } => {
                if let Some(id) = self.pick(which) {
                    let _ = self.call(ACTORS[org], "claim_execution", json!({"id": id}));
                }
            }
            Op::ClaimAhead { org, which, ahead } => {
                if let Some(id) = self.pick(which) {
                    let at = self.net.now + ahead as i64;
                    let p = self.stored(&id);
                    let before = self.net.state.clone();
                    let r = self
                        .net
                        .call_at(ACTORS[org], at, "claim_execution", json!({"id": id}));
                    match r {
                        Ok(_) => {
                            let e = p.execution.as_ref().unwrap();
                            assert!(
                                at <= e.claim_deadline(),
                                "a claim past the decision's window"
                            );
                        }
                        Err(_) => assert_eq!(self.net.state, before),
                    }
                }
            }
            Op::Sign { org, which } => {
                if let Some(id) = self.pick(which) {
                    let p = self.stored(&id);
                    let org = ACTORS[org];
                    let Some(k) = p.payload.get("config_update").and_then(|u| {
                        let bytes = STANDARD.decode(u.as_str().unwrap()).unwrap();
                        (0..3u8).find(|k| update_bytes(*k) == bytes)
                    }) else {
                        return;
                    };
                    let s = sigs[&(org.to_string(), k)].clone();
                    let r = self.call(org, "sign", json!({"id": id, "config_signature": s}));
                    let may = p.state == ProposalState::Approved
                        && p.decision
                            .as_ref()
                            .unwrap()
                            .approvals
                            .iter()
                            .any(|m| m == org);
                    assert_eq!(r.is_ok(), may, "sign by {org} on {}: {r:?}", p.state);
                }
            }
            Op::Committed { org, which } => {
                if let Some(id) = self.pick(which) {
                    let p = self.stored(&id);
                    let r = self.call(ACTORS[org], "report_committed", json!({"id": id}));
                    if r.is_ok() {
                        let e = p.execution.as_ref().unwrap();
                        assert!(e.eligible(self.net.now).iter().any(|m| m == ACTORS[org]));
                        let d = p.decision.as_ref().unwrap();
                        assert!(
                            d.approvals.iter().any(|m| m == ACTORS[org]),
                            "executor did not approve"
                        );
                    }
                }
            }
            Op::Failed { org, which } => {
                if let Some(id) = self.pick(which) {
                    let _ = self.call(
                        ACTORS[org],
                        "report_failed",
                        json!({"id": id, "error": "boom"}),
                    );
                }
            }
            Op::Retry { org, which } => {
                if let Some(id) = self.pick(which) {
                    let _ = self.call(ACTORS[org], "retry", json!({"id": id}));
                }
            }
            Op::Wait { secs } => self.net.now += secs as i64,
        }
    }

    fn check_invariants(&mut self) {
        let map = self.net.state.map.clone();
        for k in map.keys() {
            assert!(
                [
                    "registry~",
                    "governance",
                    "proposal~",
                    "index~",
                    "target~",
                    "vote~",
                    "task~",
                    "open~",
                    "openby~",
                    "expiry~",
                    "sig~",
                    "founding~"
                ]
                .iter()
                .any(|p| k.starts_with(p)),
                "unexpected key {k}"
            );
        }
        // Votes: immutable, one per org, only from the electorate.
        for (k, v) in self.votes_seen.clone() {
            assert_eq!(map.get(&k), Some(&v), "vote {k} changed or vanished");
        }
        for (k, v) in map.range("vote~".to_string().."vote\u{7f}".to_string()) {
            self.votes_seen.insert(k.clone(), v.clone());
            let vote: Vote = serde_json::from_slice(v).unwrap();
            assert_eq!(k, &format!("vote~{}~{}", vote.proposal_id, vote.org));
            let p = self.stored(&vote.proposal_id);
            assert!(
                p.electorate.contains(&vote.org),
                "vote from outside the electorate"
            );
            if let Some(d) = &p.decision {
                assert!(vote.cast_at <= d.at, "vote cast after the decision");
            }
        }
        for (id, _) in self.filed.clone() {
            let p = self.stored(&id);
            // History follows the table and ends in the stored state.
            let mut prev: Option<ProposalState> = None;
            for t in &p.history {
                assert_eq!(t.from, prev);
                if let Some(f) = prev {
                    assert!(f.can_move_to(t.to), "{f} -> {}", t.to);
                }
                prev = Some(t.to);
            }
            assert_eq!(prev, Some(p.state));
            if let Some(seen) = self.states_seen.get(&id)
                && *seen != p.state
            {
                assert!(
                    !seen.is_terminal(),
                    "terminal {seen} changed to {}",
                    p.state
                );
                assert_ne!(p.state, ProposalState::Proposed, "went back to proposed");
            }
            self.states_seen.insert(id.clone(), p.state);
            // Quorum math.
            let n = p.electorate.len() as u32;
            let expected = if p.kind.is_meta() { n } else { n / 2 + 1 };
            assert_eq!(p.quorum, expected, "{}", p.quorum_rule);
            let votes: Vec<Vote> = map
                .range(format!("vote~{id}~")..format!("vote~{id}\u{7f}"))
                .map(|(_, v)| serde_json::from_slice(v).unwrap())
                .collect();
            let approvals = votes
                .iter()
                .filter(|v| v.decision == opssc_chaincode::model::Decision::Approve)
                .count() as u32;
            let rejections = votes.len() as u32 - approvals;
            match &p.decision {
                Some(d) => {
                    assert_eq!(
                        d.approvals.len() as u32,
                        approvals,
                        "decision counted all votes"
                    );
                    assert_eq!(d.rejections.len() as u32, rejections);
                    let approved_path = p.history.iter().any(|t| {
                        t.from == Some(ProposalState::Proposed)
                            && matches!(t.to, ProposalState::Approved | ProposalState::Committed)
                    });
                    if approved_path {
                        assert!(approvals >= p.quorum);
                    } else {
                        assert_eq!(p.state, ProposalState::Rejected);
                        assert!(rejections > n - p.quorum && approvals < p.quorum);
                    }
                }
                None => {
                    assert!(
                        matches!(
                            p.state,
                            ProposalState::Proposed
                                | ProposalState::Expired
                                | ProposalState::Withdrawn
                                | ProposalState::Superseded
                        ),
                        "{} without a decision",
                        p.state
                    );
                    if p.state == ProposalState::Expired {
                        assert!(approvals < p.quorum && rejections <= n - p.quorum);
                    }
                }
            }
            if p.kind == Kind::GovernanceChange && p.state == ProposalState::Committed {
                assert_eq!(approvals, n, "governance changed without every ops member");
            }
            // The open indexes hold exactly the proposals not yet terminal.
            let open = map.contains_key(&format!("open~{:020}~{id}", p.created_at));
            let open_by = map.contains_key(&format!("openby~{}~{}~{id}", p.proposer, &id[..1]));
            assert_eq!(
                open,
                !p.state.is_terminal(),
                "open index of {id} in {}",
                p.state
            );
            assert_eq!(open_by, !p.state.is_terminal());
            // Signatures only from approving organizations, after the decision.
            for (k, _) in map.range(format!("sig~{id}~")..format!("sig~{id}\u{7f}")) {
                let d = p
                    .decision
                    .as_ref()
                    .expect("a signature before any decision");
                let org = k.rsplit('~').next().unwrap();
                assert!(
                    d.approvals.iter().any(|m| m == org),
                    "signature by a non-approver"
                );
            }
            // At most one undecided proposal per target and proposer.
        }
        let mut open_targets = BTreeMap::new();
        for (id, args) in &self.filed {
            let p = self.stored(id);
            if p.state.is_undecided() {
                let key = (
                    args["kind"].as_str().unwrap().starts_with("Chaincode"),
                    p.target.clone(),
                    p.proposer.clone(),
                );
                assert!(
                    open_targets.insert(key, id.clone()).is_none(),
                    "two open proposals for one target"
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, max_shrink_iters: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_call_sequences_keep_the_invariants(ops in prop::collection::vec(op(), 1..80)) {
        let mut w = World::new();
        for op in &ops {
            w.step(op);
            w.check_invariants();
        }
    }
}

/// Arbitrary JSON-like or raw input to every function: never a panic, and
/// whatever is accepted keeps the invariants.
fn hostile_arg() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        "\\PC{0,200}".prop_map(String::into_bytes),
        (any::<u8>(), "[a-z_]{1,12}", "\\PC{0,40}", any::<i64>()).prop_map(|(k, field, text, num)| {
            let v = match k % 6 {
                0 => json!({ field: text }),
                1 => json!({ "id": text, field: num }),
                2 => json!({ "id": "a".repeat(64), "decision": text }),
                3 => json!({ "kind": "ChaincodeDeploy", "target": {"channel": text}, "payload": {field: num}, "spec_ref": spec_ref() }),
                4 => json!([text, num]),
                _ => json!({ "page_size": num, "bookmark": text }),
            };
            serde_json::to_vec(&v).unwrap()
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn hostile_arguments_never_panic_or_write(
        f in prop::sample::select(opssc_chaincode::INVOKE_FUNCTIONS.iter().chain(opssc_chaincode::QUERY_FUNCTIONS.iter()).copied().collect::<Vec<_>>()),
        arg in hostile_arg(),
        org in 0..ACTORS.len(),
    ) {
        let mut w = World::new();
        w.propose("Org1MSP", deploy("ch1", "basic", "1.0"));
        let _ = w.net.call_raw(ACTORS[org], f, &[arg]);
        w.check_invariants();
    }
}

/// Any creator: an admin of a member (well-formed), a member's MSP ID with
/// arbitrary certificate bytes, or arbitrary bytes.
fn any_creator() -> impl Strategy<Value = Vec<u8>> {
    use opssc_chaincode::sig::SerializedIdentity;
    use prost::Message;
    prop_oneof![
        3 => (0..ACTORS.len()).prop_map(|i| {
            let (ids, _) = fixtures();
            SerializedIdentity {
                mspid: ACTORS[i].to_string(),
                id_bytes: ids[ACTORS[i]].cert_pem.clone(),
            }
            .encode_to_vec()
        }),
        1 => (0..ACTORS.len(), prop::collection::vec(any::<u8>(), 0..64)).prop_map(|(i, cert)| {
            SerializedIdentity { mspid: ACTORS[i].to_string(), id_bytes: cert }.encode_to_vec()
        }),
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ]
}

/// Any function name: a known one, or any string.
fn any_function() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(
            opssc_chaincode::INVOKE_FUNCTIONS
                .iter()
                .chain(opssc_chaincode::QUERY_FUNCTIONS.iter())
                .map(|f| f.to_string())
                .collect::<Vec<_>>()
        ),
        1 => "\\PC{0,20}",
    ]
}

/// Any timestamp: near the world's clock, or any i64.
fn any_time() -> impl Strategy<Value = i64> {
    prop_oneof![3 => (0i64..3_000_000).prop_map(|d| T0 + d), 1 => any::<i64>()]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// The raw dispatch (what the shim hands over): any function, bytes,
    /// creator and time. It never panics, a refused call changes nothing,
    /// a query writes nothing, and what is accepted keeps the invariants.
    #[test]
    fn the_dispatch_never_panics_and_a_refused_call_changes_nothing(
        calls in prop::collection::vec(
            (any_function(), prop::collection::vec(hostile_arg(), 0..3), any_creator(), any_time()),
            1..6,
        ),
    ) {
        let mut w = World::new();
        w.propose("Org1MSP", deploy("ch1", "basic", "1.0"));
        w.propose("Org2MSP", channel_update("ch1"));
        for (i, (f, args, creator, at)) in calls.into_iter().enumerate() {
            let mut input = vec![f.clone().into_bytes()];
            input.extend(args);
            let before = w.net.state.clone();
            let r = opssc_chaincode::shell::handle(&w.net.state, &creator, &format!("p{i}"), at, &input);
            match r {
                Ok(out) => {
                    if opssc_chaincode::QUERY_FUNCTIONS.contains(&f.as_str()) {
                        prop_assert!(out.writes.is_empty() && out.event.is_none(), "query {f} wrote");
                    }
                    if !out.writes.is_empty() {
                        prop_assert!(out.event.is_some(), "{f} wrote without an event");
                    }
                    w.net.state.apply(&out.writes);
                }
                Err(e) => {
                    prop_assert!(e.contains(": "), "a refusal names its class: {e}");
                    prop_assert_eq!(&w.net.state, &before);
                }
            }
            w.check_invariants();
        }
    }
}
