//! A key-value chaincode served as chaincode-as-a-service, built on
//! `opssc_fabric::shim`: the devnet tests serve it in-process, the `kvcc`
//! binary serves it standalone.
//!
//! Functions: `put(key, value)` (emits event `put` with the key as payload and
//! returns the creator's MSP ID), `get(key)`, `del(key)`, `range(start, end)`,
//! `page(start, end, page_size, bookmark)`, `cput(type, attr, value)` and
//! `cquery(type, [attr])` for composite keys. Lists come back as JSON.
//!
//! Binary usage: `kvcc --address 127.0.0.1:PORT --chaincode-id <package id>`,
//! or the ccaas convention's `CHAINCODE_SERVER_ADDRESS` / `CHAINCODE_ID`
//! variables.

use opssc_fabric::shim::{self, Chaincode, Stub, split_composite_key};

/// The chaincode.
pub struct Kv;

fn entries_json(entries: &[(String, Vec<u8>)]) -> Vec<serde_json::Value> {
    entries
        .iter()
        .map(|(k, v)| {
            let key = match split_composite_key(k) {
                Some((ty, attrs)) => serde_json::json!({ "type": ty, "attrs": attrs }),
                None => serde_json::Value::String(k.clone()),
            };
            serde_json::json!({ "key": key, "value": String::from_utf8_lossy(v) })
        })
        .collect()
}

fn arg<'a>(args: &'a [String], i: usize, name: &str) -> Result<&'a str, String> {
    args.get(i)
        .map(String::as_str)
        .ok_or_else(|| format!("missing argument {i} ({name})"))
}

impl Chaincode for Kv {
    async fn invoke(&self, stub: &mut Stub) -> Result<Vec<u8>, String> {
        let args = stub.string_args();
        match stub.function().as_str() {
            "put" => {
                let key = arg(&args, 0, "key")?;
                stub.put_state(key, arg(&args, 1, "value")?.as_bytes())
                    .await?;
                stub.set_event("put", key.as_bytes())?;
                Ok(stub.creator_msp_id().as_bytes().to_vec())
            }
            // Private data: `pput <collection> <key> <value>`,
            // `pget <collection> <key>`.
            "pput" => {
                let (collection, key) = (arg(&args, 0, "collection")?, arg(&args, 1, "key")?);
                stub.put_private_data(collection, key, arg(&args, 2, "value")?.as_bytes())
                    .await?;
                Ok(stub.creator_msp_id().as_bytes().to_vec())
            }
            "pget" => {
                let (collection, key) = (arg(&args, 0, "collection")?, arg(&args, 1, "key")?);
                stub.get_private_data(collection, key)
                    .await?
                    .ok_or_else(|| format!("key {key} not found in {collection}"))
            }
            "get" => {
                let key = arg(&args, 0, "key")?;
                stub.get_state(key)
                    .await?
                    .ok_or_else(|| format!("key {key} not found"))
            }
            "del" => {
                stub.del_state(arg(&args, 0, "key")?).await?;
                Ok(Vec::new())
            }
            "range" => {
                let entries = stub
                    .get_state_by_range(arg(&args, 0, "start")?, arg(&args, 1, "end")?)
                    .await?;
                Ok(serde_json::to_vec(&entries_json(&entries)).expect("JSON values serialize"))
            }
            "page" => {
                let size: i32 = arg(&args, 2, "page size")?
                    .parse()
                    .map_err(|_| "page size must be a number")?;
                let bookmark = args.get(3).map(String::as_str).unwrap_or("");
                let page = stub
                    .get_state_by_range_with_pagination(
                        arg(&args, 0, "start")?,
                        arg(&args, 1, "end")?,
                        size,
                        bookmark,
                    )
                    .await?;
                let out = serde_json::json!({
                    "entries": entries_json(&page.entries),
                    "bookmark": page.bookmark,
                    "fetched": page.fetched,
                });
                Ok(serde_json::to_vec(&out).expect("JSON values serialize"))
            }
            "cput" => {
                let key =
                    shim::create_composite_key(arg(&args, 0, "type")?, &[arg(&args, 1, "attr")?])?;
                stub.put_state(&key, arg(&args, 2, "value")?.as_bytes())
                    .await?;
                Ok(Vec::new())
            }
            "cquery" => {
                let attrs: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
                let entries = stub
                    .get_state_by_partial_composite_key(arg(&args, 0, "type")?, &attrs)
                    .await?;
                Ok(serde_json::to_vec(&entries_json(&entries)).expect("JSON values serialize"))
            }
            other => Err(format!("unknown function {other:?}")),
        }
    }
}

fn usage(problem: &str) -> ! {
    eprintln!("kvcc: {problem}\nusage: kvcc --address HOST:PORT --chaincode-id PACKAGE_ID");
    std::process::exit(2)
}

/// The `kvcc` binary: parses arguments, serves until Ctrl-C.
pub async fn main() {
    let mut address = std::env::var("CHAINCODE_SERVER_ADDRESS").ok();
    let mut chaincode_id = std::env::var("CHAINCODE_ID").ok();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--address" => {
                address = Some(
                    args.next()
                        .unwrap_or_else(|| usage("--address needs a value")),
                )
            }
            "--chaincode-id" => {
                chaincode_id = Some(
                    args.next()
                        .unwrap_or_else(|| usage("--chaincode-id needs a value")),
                )
            }
            other => usage(&format!("unknown argument {other:?}")),
        }
    }
    let address =
        address.unwrap_or_else(|| usage("no address (--address or CHAINCODE_SERVER_ADDRESS)"));
    let chaincode_id =
        chaincode_id.unwrap_or_else(|| usage("no chaincode ID (--chaincode-id or CHAINCODE_ID)"));
    let address: std::net::SocketAddr = address.parse().unwrap_or_else(|_| {
        usage(&format!(
            "address {address:?} is not HOST:PORT with an IP host"
        ))
    });
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    eprintln!("kvcc: serving {chaincode_id} on {address}");
    if let Err(e) = shim::serve_on(Kv, &chaincode_id, address, None, shutdown).await {
        let mut msg = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            msg.push_str(&format!(": {s}"));
            src = s.source();
        }
        eprintln!("kvcc: {msg}");
        std::process::exit(1);
    }
}
