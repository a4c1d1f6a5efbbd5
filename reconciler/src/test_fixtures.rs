//! Fixtures the unit tests of several modules share: specs with placeholder
//! certificates, so that founding, adoption and import can be tested
//! without generating crypto material.

use std::path::Path;

use opssc_schema::Spec;

/// A PEM block whose body is `name`: enough for code that carries
/// certificates without parsing them.
pub fn placeholder_pem(name: &str) -> String {
    format!("-----BEGIN CERTIFICATE-----\n{name}\n-----END CERTIFICATE-----\n")
}

/// The spec in `dir` (relative to the workspace root, e.g. `network-spec`),
/// with every organization's MSP and orderer TLS certificates filled in by
/// placeholders, as if each organization had committed its certificates.
pub fn spec_with_certificates(dir: &str) -> Spec {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(dir);
    let mut spec = opssc_schema::load_dir(&dir)
        .spec
        .unwrap_or_else(|| panic!("{} validates", dir.display()));
    for (id, org) in spec.organizations.iter_mut() {
        org.msp = Some(opssc_schema::Msp {
            ca_certs: vec![placeholder_pem(&format!("ca.{id}"))],
            intermediate_certs: Vec::new(),
            tls_ca_certs: vec![placeholder_pem(&format!("tlsca.{id}"))],
            admin_certs: Vec::new(),
            node_ous: true,
        });
        for o in &mut org.orderers {
            o.tls_cert = Some(placeholder_pem(&format!("tls.{}", o.name)));
        }
    }
    spec
}
