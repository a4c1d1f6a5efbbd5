//! Certificate checks: PEM that parses as X.509, CA certificates that are CAs,
//! and private keys that must never be in a spec.

use x509_parser::pem::Pem;

/// What a certificate is used as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertRole {
    /// A root or intermediate CA: must have `basicConstraints CA:TRUE`.
    Ca,
    /// An end-entity certificate (admin, TLS server).
    Leaf,
}

/// Whether a line is the start of a PEM private key of any kind.
pub fn looks_like_private_key(line: &str) -> bool {
    line.contains("-----BEGIN") && line.contains("PRIVATE KEY-----")
}

/// Checks every PEM block in `pem` parses as an X.509 certificate of the right role.
pub fn check_certificate(pem: &str, role: CertRole) -> Result<(), (String, String)> {
    let mut count = 0;
    for block in Pem::iter_from_buffer(pem.as_bytes()) {
        let block = block.map_err(|e| {
            (
                format!("PEM does not parse: {e}"),
                "paste the whole certificate including the BEGIN/END lines".to_string(),
            )
        })?;
        if block.label != "CERTIFICATE" {
            return Err((
                format!("expected a CERTIFICATE, found a {}", block.label),
                "only certificates belong in an MSP definition".to_string(),
            ));
        }
        let cert = block.parse_x509().map_err(|e| {
            (
                format!("certificate does not parse as X.509: {e}"),
                "check the PEM was not truncated or edited".to_string(),
            )
        })?;
        let is_ca = cert
            .basic_constraints()
            .ok()
            .flatten()
            .is_some_and(|bc| bc.value.ca);
        match role {
            CertRole::Ca if !is_ca => {
                return Err((
                    format!("certificate for {} is not a CA certificate", cert.subject()),
                    "caCerts and tlsCaCerts take the organization's CA certificates (basicConstraints CA:TRUE), not a node's or user's".to_string(),
                ));
            }
            _ => {}
        }
        count += 1;
    }
    if count == 0 {
        return Err((
            "no PEM certificate found".to_string(),
            "a certificate starts with -----BEGIN CERTIFICATE-----".to_string(),
        ));
    }
    Ok(())
}
