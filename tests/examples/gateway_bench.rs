//! Gateway submit throughput and latency on the kv chaincode, on a fresh
//! 3-organization devnet.
//!
//! `cargo run -p opssc-tests --example gateway_bench [--release] -- [--tx N] [--concurrency C]`
//!
//! Deploys `kvbench` (chaincode-as-a-service, served in this process) on the
//! `trade` channel with the default MAJORITY endorsement policy, warms up, then
//! runs N `put` transactions through Org1's gateway with C in flight at a
//! time, each measured from signing the proposal to the gateway's commit
//! status (endorse on two organizations, order, commit). Prints throughput and
//! latency percentiles.

use std::sync::Arc;
use std::time::{Duration, Instant};

use opssc_devnet::{Devnet, DevnetOptions, OrgHandle, Topology};
use opssc_fabric::endorser::Endorser;
use opssc_fabric::gateway::Gateway;
use opssc_fabric::lifecycle::{self, ChaincodeDefinition};
use opssc_fabric::package::{self, Connection};
use opssc_fabric::{Error, Fault, Node, NodeConfig, Signer, SigningIdentity};
use opssc_tests::kvcc::Kv;

const CHANNEL: &str = "trade";

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} needs a number"))
        })
        .unwrap_or(default)
}

struct Org {
    msp_id: String,
    endorser: Endorser,
    gateway: Gateway,
}

async fn org(h: &OrgHandle) -> Org {
    let admin: Arc<dyn Signer> =
        Arc::new(SigningIdentity::from_msp_dir(&h.msp_id, &h.admin_msp_dir).unwrap());
    let p = &h.peers[0];
    let ca = std::fs::read_to_string(&p.tls_ca_cert).unwrap();
    let node = Node::connect(&NodeConfig::tls(&p.address, ca).with_server_name(&p.host))
        .await
        .unwrap();
    Org {
        msp_id: h.msp_id.clone(),
        endorser: Endorser::new(node.clone(), admin.clone()),
        gateway: Gateway::new(node, admin),
    }
}

async fn retry<T, Fut: std::future::Future<Output = Result<T, Error>>>(
    mut f: impl FnMut() -> Fut,
) -> T {
    let start = Instant::now();
    loop {
        match f().await {
            Ok(v) => return v,
            Err(e)
                if e.fault() == Fault::Transient && start.elapsed() < Duration::from_secs(90) =>
            {
                tokio::time::sleep(Duration::from_millis(500)).await
            }
            Err(e) => panic!("{e}"),
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

async fn run(devnet: &Devnet, total: usize, concurrency: usize) {
    let mut orgs = Vec::new();
    for h in devnet.orgs() {
        orgs.push(org(h).await);
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let pkg = package::ccaas_package(
        "kvbench_1",
        &Connection::plaintext(&listener.local_addr().unwrap().to_string()),
    )
    .unwrap();
    let package_id = package::package_id("kvbench_1", &pkg);
    let id = package_id.clone();
    tokio::spawn(async move {
        opssc_fabric::shim::serve(Kv, &id, listener, None, std::future::pending()).await
    });
    let def = ChaincodeDefinition::new("kvbench", "1", 1);
    for o in &orgs {
        lifecycle::install(&o.endorser, &pkg).await.unwrap();
        retry(|| lifecycle::approve(&o.gateway, CHANNEL, &def, Some(&package_id))).await;
    }
    let all: Vec<String> = orgs.iter().map(|o| o.msp_id.clone()).collect();
    retry(|| lifecycle::commit(&orgs[0].gateway, CHANNEL, &def, &all)).await;
    let gw = orgs[0].gateway.clone();
    // Warm-up: the peers connect to the chaincode, discovery settles.
    for i in 0..10 {
        let key = format!("warm{i}");
        retry(|| gw.submit_transaction(CHANNEL, "kvbench", "put", [key.as_str(), "v"])).await;
    }

    let sem = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        let permit = sem.clone().acquire_owned().await.unwrap();
        let gw = gw.clone();
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let key = format!("k{i}");
            let r = gw
                .submit_transaction(CHANNEL, "kvbench", "put", [key.as_str(), "value"])
                .await;
            drop(permit);
            (t.elapsed(), r.map(|_| ()))
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    let mut failures = Vec::new();
    for t in tasks {
        let (d, r) = t.await.unwrap();
        match r {
            Ok(()) => latencies.push(d),
            Err(e) => failures.push(e.to_string()),
        }
    }
    let elapsed = start.elapsed();
    latencies.sort();
    println!(
        "transactions: {total}, concurrency: {concurrency}, failed: {}",
        failures.len()
    );
    for f in failures.iter().take(5) {
        println!("  failure: {f}");
    }
    println!("elapsed: {:.2} s", elapsed.as_secs_f64());
    println!(
        "throughput: {:.1} tx/s",
        latencies.len() as f64 / elapsed.as_secs_f64()
    );
    if !latencies.is_empty() {
        println!(
            "latency p50: {:.0} ms, p99: {:.0} ms, max: {:.0} ms",
            percentile(&latencies, 0.50).as_secs_f64() * 1e3,
            percentile(&latencies, 0.99).as_secs_f64() * 1e3,
            latencies.last().unwrap().as_secs_f64() * 1e3
        );
    }
}

fn main() {
    let total = arg("--tx", 500);
    let concurrency = arg("--concurrency", 16);
    let mut opts = DevnetOptions::new(Topology::reference(3));
    opts.quiet = true;
    let devnet = Devnet::start(opts).unwrap_or_else(|e| panic!("devnet: {e}"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(run(&devnet, total, concurrency));
    drop(rt);
    devnet.stop().unwrap();
}
