//! `opssc-chaincode`: the OpsSC contract served as chaincode-as-a-service.
//!
//! The command line around `opssc_chaincode::ccaas::OpsSc`: the peer dials
//! this server (`opssc_fabric::shim`) and each transaction runs the pure
//! contract against its stub. Key decision: nothing but flags, TLS files and
//! signals lives here; the adapter is in the library so tests can serve it
//! in-process.
//!
//! Usage: `opssc-chaincode --address 127.0.0.1:PORT --chaincode-id <package id>`,
//! or the ccaas variables `CHAINCODE_SERVER_ADDRESS` / `CHAINCODE_ID`.
//! Optional TLS: `--tls-cert`, `--tls-key` (PEM files) and `--tls-client-ca`
//! to require client certificates. Exit codes: 0 after SIGINT/SIGTERM,
//! 1 when serving fails, 2 on bad usage.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use opssc_chaincode::ccaas::OpsSc;
use opssc_fabric::shim::{self, ServerTls};

#[derive(Debug, Parser)]
#[command(
    name = "opssc-chaincode",
    version,
    about = "The OpsSC contract as a chaincode-as-a-service server"
)]
struct Args {
    /// Listen address, IP:PORT.
    #[arg(long, env = "CHAINCODE_SERVER_ADDRESS")]
    address: SocketAddr,
    /// The package ID the peer knows this chaincode by.
    #[arg(long, env = "CHAINCODE_ID")]
    chaincode_id: String,
    /// Server certificate (PEM) for TLS.
    #[arg(long, env = "CHAINCODE_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// Server private key (PEM) for TLS.
    #[arg(long, env = "CHAINCODE_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// CA (PEM) that peers' client certificates must chain to.
    #[arg(long, env = "CHAINCODE_TLS_CLIENT_CA", requires = "tls_cert")]
    tls_client_ca: Option<PathBuf>,
}

fn read_pem(what: &str, path: &PathBuf) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the {what} {}: {e}", path.display()))
}

fn tls(args: &Args) -> Result<Option<ServerTls>, String> {
    let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) else {
        return Ok(None);
    };
    Ok(Some(ServerTls {
        cert_pem: read_pem("TLS certificate", cert)?,
        key_pem: read_pem("TLS key", key)?,
        client_ca_pem: args
            .tls_client_ca
            .as_ref()
            .map(|p| read_pem("TLS client CA", p))
            .transpose()?,
    }))
}

async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let tls = match tls(&args) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("opssc-chaincode: {e}");
            std::process::exit(2);
        }
    };
    eprintln!(
        "opssc-chaincode: serving {} on {}{}",
        args.chaincode_id,
        args.address,
        if tls.is_some() { " (TLS)" } else { "" }
    );
    if let Err(e) = shim::serve_on(
        OpsSc,
        &args.chaincode_id,
        args.address,
        tls,
        shutdown_signal(),
    )
    .await
    {
        eprintln!("opssc-chaincode: {e}");
        std::process::exit(1);
    }
}
