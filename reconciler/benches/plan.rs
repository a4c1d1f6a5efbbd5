//! How long `plan(spec, observed, me)` takes on large consortia, and how it
//! grows with size.
//!
//! The spec is generated as YAML and loaded through the real loader and
//! validator (not timed): `orgs` peer organizations with two peers each, one
//! orderer organization with three Raft consenters, an ops channel with every
//! organization, `channels - 1` application channels of 12 members each, and
//! `chaincodes` chaincodes spread over them with a mix of endorsement policies
//! (channel default, `OutOf(2, ...)`, `AND(x, OR(y, z))`) and collections. The
//! saved state is the converged state of that spec, perturbed so that about
//! one chaincode in six and one channel in ten has something to change, written
//! to JSON and read back (as `opssc plan --state` does). Three cases per size:
//! `changes` (that state), `converged` (nothing to do) and `founding` (an empty
//! network: every channel and chaincode is new, the worst case).

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use opssc::observe::{self, Observed};
use opssc::plan::plan;
use opssc_schema::Spec;

fn org(i: usize) -> String {
    format!("Org{i}MSP")
}

fn channel_members(j: usize, orgs: usize) -> Vec<String> {
    let m = 12.min(orgs);
    (0..m).map(|k| org((j * 7 + k) % orgs + 1)).collect()
}

fn spec_texts(orgs: usize, channels: usize, chaincodes: usize) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    files.push((
        PathBuf::from("consortium.yaml"),
        "apiVersion: opssc/v1alpha1\nkind: Consortium\nmetadata:\n  name: bench\nspec:\n  \
         fabricVersion: \"2.5\"\n  opsChannel: ops\n  orderer:\n    consenters:\n      \
         - { org: OrdererMSP, node: orderer0 }\n      - { org: OrdererMSP, node: orderer1 }\n      \
         - { org: OrdererMSP, node: orderer2 }\n---\napiVersion: opssc/v1alpha1\nkind: Organization\n\
         metadata:\n  name: orderer\nspec:\n  mspId: OrdererMSP\n  role: orderer\n  orderers:\n    \
         - { name: orderer0, endpoint: orderer0.example.com:7050 }\n    \
         - { name: orderer1, endpoint: orderer1.example.com:7050 }\n    \
         - { name: orderer2, endpoint: orderer2.example.com:7050 }\n"
            .to_string(),
    ));
    let mut o = String::new();
    for i in 1..=orgs {
        o.push_str(&format!(
            "---\napiVersion: opssc/v1alpha1\nkind: Organization\nmetadata:\n  name: org{i}\nspec:\n  \
             mspId: {}\n  peers:\n    - {{ name: peer0, endpoint: peer0.org{i}.example.com:7051, anchor: true }}\n    \
             - {{ name: peer1, endpoint: peer1.org{i}.example.com:7051 }}\n",
            org(i)
        ));
    }
    files.push((PathBuf::from("orgs.yaml"), o));
    let mut c = String::new();
    let all: Vec<String> = (1..=orgs).map(org).collect();
    c.push_str(&format!(
        "apiVersion: opssc/v1alpha1\nkind: Channel\nmetadata:\n  name: ops\nspec:\n  members: [{}]\n",
        all.join(", ")
    ));
    for j in 1..channels {
        c.push_str(&format!(
            "---\napiVersion: opssc/v1alpha1\nkind: Channel\nmetadata:\n  name: ch{j}\nspec:\n  \
             members: [{}]\n  batch:\n    timeout: 500ms\n",
            channel_members(j, orgs).join(", ")
        ));
    }
    files.push((PathBuf::from("channels.yaml"), c));
    let mut cc = String::new();
    for k in 0..chaincodes {
        let j = k % (channels - 1) + 1;
        let m = channel_members(j, orgs);
        let policy = match k % 3 {
            0 => String::new(),
            1 => format!(
                "  endorsementPolicy: \"OutOf(2, '{}.peer', '{}.peer', '{}.peer')\"\n",
                m[0], m[1], m[2]
            ),
            _ => format!(
                "  endorsementPolicy: \"AND('{}.peer', OR('{}.peer', '{}.peer'))\"\n",
                m[3], m[4], m[5]
            ),
        };
        let collections = if k % 5 == 0 {
            format!(
                "  collections:\n    - name: private\n      policy: \"OR('{}.member', '{}.member')\"\n      \
                 maxPeerCount: 2\n      blockToLive: 100\n",
                m[0], m[1]
            )
        } else {
            String::new()
        };
        cc.push_str(&format!(
            "---\napiVersion: opssc/v1alpha1\nkind: Chaincode\nmetadata:\n  name: cc{k}\nspec:\n  \
             channel: ch{j}\n  version: \"1.{}\"\n  package:\n    ccaas: {{}}\n{policy}{collections}",
            k % 4
        ));
    }
    files.push((PathBuf::from("chaincodes.yaml"), cc));
    files
}

fn generate(orgs: usize, channels: usize, chaincodes: usize) -> Spec {
    let loaded = opssc_schema::load_texts(
        Path::new("bench-spec"),
        spec_texts(orgs, channels, chaincodes),
    );
    match loaded.spec {
        Some(s) => s,
        None => panic!("generated spec is invalid:\n{}", loaded.report.render()),
    }
}

/// The converged state with something to change on about one chaincode in
/// six and one channel in ten, through a JSON round trip.
fn saved_state(spec: &Spec, me: &str) -> Observed {
    let mut o = observe::converged(spec, me);
    for (k, (_, def)) in o.chaincodes.iter_mut().enumerate() {
        if k % 10 == 0 {
            def.version = "0.9".into();
            def.sequence = 3;
        } else if k % 25 == 1 {
            def.init_required = !def.init_required;
            def.sequence = 2;
        }
    }
    for (j, (_, ch)) in o.channels.iter_mut().enumerate() {
        if j % 10 == 3 {
            let last = ch.members.keys().last().cloned().expect("members");
            ch.members.remove(&last);
            ch.batch.timeout_ms = 2000;
            ch.policies
                .insert("Endorsement".into(), "ANY Endorsement".into());
        }
    }
    observe::from_json("bench", &observe::to_json(&o)).expect("state round trip")
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("plan");
    group.sample_size(20);
    for (orgs, channels, chaincodes) in [(50, 25, 500), (100, 50, 1000), (200, 100, 2000)] {
        let spec = generate(orgs, channels, chaincodes);
        let me = "Org1MSP";
        let state = saved_state(&spec, me);
        let converged = observe::converged(&spec, me);
        let size = format!("{orgs}-orgs/{channels}-channels/{chaincodes}-chaincodes");
        let p = plan(&spec, &state, me);
        assert!(
            !p.shared.is_empty() && plan(&spec, &converged, me).is_empty(),
            "the benchmark states must give a plan with changes and an empty one"
        );
        eprintln!(
            "{size}: {} shared changes, {} proposals, {} local changes",
            p.shared.len(),
            p.proposals.len(),
            p.local.len()
        );
        group.bench_with_input(BenchmarkId::new("changes", &size), &state, |b, s| {
            b.iter(|| plan(black_box(&spec), black_box(s), me))
        });
        group.bench_with_input(BenchmarkId::new("converged", &size), &converged, |b, s| {
            b.iter(|| plan(black_box(&spec), black_box(s), me))
        });
        let empty = observe::empty(&spec, me);
        group.bench_with_input(BenchmarkId::new("founding", &size), &empty, |b, s| {
            b.iter(|| plan(black_box(&spec), black_box(s), me))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
