//! `opssc-chaincode`: the OpsSC contract served as chaincode-as-a-service.
//!
//! A thin shell around the pure contract (`opssc_chaincode::invoke`): the
//! peer dials this server (`opssc_fabric::shim`), and for each transaction
//! the contract runs on a blocking thread whose state reads are answered by
//! the transaction's stub over a channel. When the contract returns, the
//! shell applies its writes (`put_state` / `del_state`, in key order), sets
//! its event and returns its response; a refusal becomes the chaincode's
//! error response and nothing is written. Key decision: the contract stays
//! synchronous and free of I/O; the bridge, not the contract, knows that
//! stub calls are asynchronous.
//!
//! Usage: `opssc-chaincode --address 127.0.0.1:PORT --chaincode-id <package id>`,
//! or the ccaas variables `CHAINCODE_SERVER_ADDRESS` / `CHAINCODE_ID`.
//! Optional TLS: `--tls-cert`, `--tls-key` (PEM files) and `--tls-client-ca`
//! to require client certificates. Exit codes: 0 after SIGINT/SIGTERM,
//! 1 when serving fails, 2 on bad usage.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::UNIX_EPOCH;

use clap::Parser;
use opssc_chaincode::shell;
use opssc_chaincode::{StateRead, Write};
use opssc_fabric::shim::{self, Chaincode, ServerTls, Stub};
use prost::Message;
use tokio::sync::{mpsc, oneshot};

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

type Rows = Vec<(String, Vec<u8>)>;

/// A state read the contract asks the stub for.
enum Read {
    Get(String, oneshot::Sender<Result<Option<Vec<u8>>, String>>),
    Range(String, String, usize, oneshot::Sender<Result<Rows, String>>),
}

/// The contract's view of the state on the blocking thread: each read is
/// sent to the async side, which owns the stub, and waited for.
struct Bridge {
    reads: mpsc::Sender<Read>,
}

impl Bridge {
    fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, String>>) -> Read,
    ) -> Result<T, String> {
        let (tx, rx) = oneshot::channel();
        self.reads
            .blocking_send(make(tx))
            .map_err(|_| "the transaction's stub is gone".to_string())?;
        rx.blocking_recv()
            .map_err(|_| "the transaction's stub did not answer".to_string())?
    }
}

impl StateRead for Bridge {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        self.ask(|tx| Read::Get(key.to_string(), tx))
    }

    fn range(
        &self,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, String> {
        self.ask(|tx| Read::Range(start.to_string(), end.to_string(), limit, tx))
    }
}

struct OpsSc;

impl Chaincode for OpsSc {
    async fn invoke(&self, stub: &mut Stub) -> Result<Vec<u8>, String> {
        let creator = stub.creator().encode_to_vec();
        let tx_id = stub.tx_id().to_string();
        let timestamp = stub
            .tx_timestamp()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let args = stub.args().to_vec();
        let (reads_tx, mut reads) = mpsc::channel::<Read>(1);
        let contract = tokio::task::spawn_blocking(move || {
            let bridge = Bridge { reads: reads_tx };
            shell::handle(&bridge, &creator, &tx_id, timestamp, &args)
        });
        // Answer reads until the contract is done (it drops the sender).
        while let Some(read) = reads.recv().await {
            match read {
                Read::Get(key, answer) => {
                    let _ = answer.send(stub.get_state(&key).await.map_err(String::from));
                }
                Read::Range(start, end, limit, answer) => {
                    let rows = stub
                        .get_state_by_range(&start, &end)
                        .await
                        .map_err(String::from);
                    let _ = answer.send(rows.map(|mut r| {
                        r.truncate(limit);
                        r
                    }));
                }
            }
        }
        let outcome = contract.await.map_err(|e| {
            format!("corrupt: the contract panicked ({e}); this is a bug, please report it")
        })??;
        for write in &outcome.writes {
            match write {
                Write::Put { key, value } => stub.put_state(key, value.clone()).await?,
                Write::Delete { key } => stub.del_state(key).await?,
            }
        }
        if let Some(event) = &outcome.event {
            stub.set_event(&event.name, event.payload.clone())?;
        }
        Ok(outcome.response)
    }
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
