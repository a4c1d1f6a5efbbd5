//! Certificates in the spec: CA certificates must be CAs, PEM must parse, and
//! key files are refused. Test material is generated here with rcgen.

use std::path::PathBuf;

use opssc_schema::load_texts;

fn spec_with_msp(dir: &std::path::Path, msp_yaml: &str) -> Vec<(PathBuf, String)> {
    let text = format!(
        r#"apiVersion: opssc/v1alpha1
kind: Consortium
metadata: {{ name: c }}
spec:
  fabricVersion: "2.5"
  opsChannel: ops
  orderer:
    consenters: [{{ org: OrdererMSP, node: o0 }}]
---
apiVersion: opssc/v1alpha1
kind: Organization
metadata: {{ name: orderer }}
spec:
  mspId: OrdererMSP
  role: orderer
  orderers: [{{ name: o0, endpoint: "o0.example.com:7050" }}]
---
apiVersion: opssc/v1alpha1
kind: Organization
metadata: {{ name: org1 }}
spec:
  mspId: Org1MSP
  peers: [{{ name: peer0, endpoint: "peer0.example.com:7051", anchor: true }}]
  msp:
{msp_yaml}
---
apiVersion: opssc/v1alpha1
kind: Channel
metadata: {{ name: ops }}
spec:
  members: [Org1MSP]
"#
    );
    vec![(dir.join("spec.yaml"), text)]
}

fn ca_and_leaf() -> (String, String, String) {
    let mut params = rcgen::CertificateParams::new(vec![]).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca = params.self_signed(&ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["peer0.example.com".into()])
        .unwrap()
        .self_signed(&leaf_key)
        .unwrap();
    (ca.pem(), leaf.pem(), leaf_key.serialize_pem())
}

fn indent(pem: &str) -> String {
    pem.lines().map(|l| format!("          {l}\n")).collect()
}

#[test]
fn ca_certificates_are_accepted_inline_and_by_file() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, _, _) = ca_and_leaf();
    std::fs::write(dir.path().join("ca.pem"), &ca).unwrap();
    let msp = format!(
        "    caCerts:\n      - pem: |\n{}    tlsCaCerts:\n      - file: ca.pem\n",
        indent(&ca)
    );
    let loaded = load_texts(dir.path(), spec_with_msp(dir.path(), &msp));
    assert!(loaded.spec.is_some(), "{}", loaded.report.render());
    let org = &loaded.spec.unwrap().organizations["Org1MSP"];
    assert_eq!(org.msp.as_ref().unwrap().tls_ca_certs, vec![ca]);
}

#[test]
fn a_leaf_certificate_is_not_a_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (_, leaf, _) = ca_and_leaf();
    std::fs::write(dir.path().join("leaf.pem"), &leaf).unwrap();
    let loaded = load_texts(
        dir.path(),
        spec_with_msp(dir.path(), "    caCerts:\n      - file: leaf.pem\n"),
    );
    let errors: Vec<_> = loaded.report.errors().collect();
    assert_eq!(errors.len(), 1, "{}", loaded.report.render());
    assert_eq!(errors[0].code, "cert");
    assert!(errors[0].message.contains("is not a CA certificate"));
    assert_eq!(
        (errors[0].position.line, errors[0].position.column),
        (26, 15)
    );
}

#[test]
fn a_key_file_is_refused_and_garbage_pem_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (_, leaf, key) = ca_and_leaf();
    std::fs::write(dir.path().join("bundle.pem"), format!("{leaf}{key}")).unwrap();
    let loaded = load_texts(
        dir.path(),
        spec_with_msp(
            dir.path(),
            "    caCerts:\n      - file: bundle.pem\n      - pem: not a certificate\n",
        ),
    );
    let codes: Vec<&str> = loaded.report.errors().map(|d| d.code).collect();
    assert_eq!(
        codes,
        vec!["private-key", "cert"],
        "{}",
        loaded.report.render()
    );
}
