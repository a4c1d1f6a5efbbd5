//! Loading and validating a large generated spec: 200 organizations, 100
//! channels (10 members each) and 2,000 chaincodes, plus smaller sizes to show
//! how the time grows. Run: `cargo bench -p opssc-schema --bench validate`.

use std::fmt::Write as _;
use std::path::Path;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

/// Writes a valid spec of the given size into `dir`.
pub fn generate(dir: &Path, orgs: usize, channels: usize, chaincodes: usize) {
    let mut text = String::from(
        "apiVersion: opssc/v1alpha1\nkind: Consortium\nmetadata: { name: big }\nspec:\n  fabricVersion: \"2.5\"\n  opsChannel: ch0\n  orderer:\n    consenters:\n      - { org: OrdererMSP, node: o0 }\n      - { org: OrdererMSP, node: o1 }\n      - { org: OrdererMSP, node: o2 }\n---\napiVersion: opssc/v1alpha1\nkind: Organization\nmetadata: { name: orderer }\nspec:\n  mspId: OrdererMSP\n  role: orderer\n  orderers:\n    - { name: o0, endpoint: \"o0.example.com:7050\" }\n    - { name: o1, endpoint: \"o1.example.com:7050\" }\n    - { name: o2, endpoint: \"o2.example.com:7050\" }\n",
    );
    std::fs::write(dir.join("consortium.yaml"), &text).unwrap();
    text.clear();
    for i in 0..orgs {
        let _ = write!(
            text,
            "---\napiVersion: opssc/v1alpha1\nkind: Organization\nmetadata: {{ name: org{i} }}\nspec:\n  mspId: Org{i}MSP\n  peers:\n    - {{ name: peer0, endpoint: \"peer0.org{i}.example.com:7051\", anchor: true }}\n    - {{ name: peer1, endpoint: \"peer1.org{i}.example.com:7051\" }}\n"
        );
    }
    std::fs::write(dir.join("orgs.yaml"), &text).unwrap();
    text.clear();
    for c in 0..channels {
        let members: Vec<String> = if c == 0 {
            (0..orgs).map(|i| format!("Org{i}MSP")).collect()
        } else {
            (0..10)
                .map(|k| format!("Org{}MSP", (c * 7 + k) % orgs))
                .collect()
        };
        let members: std::collections::BTreeSet<String> = members.into_iter().collect();
        let list: Vec<&str> = members.iter().map(String::as_str).collect();
        let policy: Vec<String> = list.iter().take(3).map(|m| format!("'{m}.peer'")).collect();
        let _ = write!(
            text,
            "---\napiVersion: opssc/v1alpha1\nkind: Channel\nmetadata: {{ name: ch{c} }}\nspec:\n  members: [{}]\n  policies:\n    Endorsement: \"OutOf(2, {})\"\n  batch: {{ timeout: 500ms }}\n",
            list.join(", "),
            policy.join(", ")
        );
    }
    std::fs::write(dir.join("channels.yaml"), &text).unwrap();
    text.clear();
    for k in 0..chaincodes {
        let c = k % channels;
        let _ = write!(
            text,
            "---\napiVersion: opssc/v1alpha1\nkind: Chaincode\nmetadata: {{ name: cc{k} }}\nspec:\n  channel: ch{c}\n  version: \"1.{k}\"\n  package:\n    source: {{ git: \"https://example.com/cc.git\", commit: {:040x} }}\n  endorsementPolicy: /Channel/Application/Endorsement\n",
            k
        );
    }
    std::fs::write(dir.join("chaincodes.yaml"), &text).unwrap();
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("validate");
    group.sample_size(10);
    for (orgs, channels, chaincodes) in [(50, 25, 500), (100, 50, 1000), (200, 100, 2000)] {
        let dir = tempfile::tempdir().unwrap();
        generate(dir.path(), orgs, channels, chaincodes);
        let check = opssc_schema::load_dir(dir.path());
        assert!(check.spec.is_some(), "{}", check.report.render());
        group.bench_with_input(
            BenchmarkId::from_parameter(format!("{orgs}orgs-{channels}ch-{chaincodes}cc")),
            dir.path(),
            |b, path| b.iter(|| opssc_schema::load_dir(path)),
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
