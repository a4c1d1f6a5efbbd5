//! The chaincode-as-a-service adapter: [`OpsSc`] implements the shim's
//! [`Chaincode`] by running the pure contract against the transaction's stub.
//!
//! The contract ([`crate::invoke`]) is synchronous and free of I/O, while
//! stub calls are asynchronous requests on the peer's stream. So each
//! transaction runs the contract on a blocking thread whose [`StateRead`]
//! sends every read to the async side, which owns the stub, and waits for the
//! answer. When the contract returns, its writes are applied (`put_state` /
//! `del_state`, in key order), its event is set and its response returned; a
//! refusal becomes the chaincode's error response (`<class>: <text>`) and
//! nothing is written. Range reads pass their limit to the peer: in a query
//! (the contract's read-only functions) as one page of
//! `GetStateByRangeWithPagination` of `limit` rows, so the peer never sends
//! more; in an update transaction Fabric refuses pagination, so
//! `GetStateByRange` is used, and the contract reads there only ranges that
//! are bounded by construction (one key per electorate member, capped task
//! reports, the capped open proposals of one organization).

use std::time::UNIX_EPOCH;

use opssc_fabric::shim::{Chaincode, Stub};
use prost::Message;
use tokio::sync::{mpsc, oneshot};

use crate::shell;
use crate::state::{StateRead, Write};

type Rows = Vec<(String, Vec<u8>)>;

/// A state read the contract asks the stub for.
enum Read {
    Get(String, oneshot::Sender<Result<Option<Vec<u8>>, String>>),
    Range(String, String, usize, oneshot::Sender<Result<Rows, String>>),
}

/// Whether a function only reads (so its range reads may be paginated).
fn is_query(function: &str) -> bool {
    crate::QUERY_FUNCTIONS.contains(&function)
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

/// The OpsSC contract as a shim [`Chaincode`].
#[derive(Debug, Clone, Copy, Default)]
pub struct OpsSc;

impl Chaincode for OpsSc {
    async fn invoke(&self, stub: &mut Stub) -> Result<Vec<u8>, String> {
        let creator = stub.creator().encode_to_vec();
        let tx_id = stub.tx_id().to_string();
        let timestamp = stub
            .tx_timestamp()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        // The function name first, then its arguments (as the shell expects).
        let paginate = is_query(&stub.function());
        let mut args = vec![stub.function().into_bytes()];
        args.extend(stub.args().iter().cloned());
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
                    let rows = if paginate {
                        let page_size = i32::try_from(limit).unwrap_or(i32::MAX).max(1);
                        stub.get_state_by_range_with_pagination(&start, &end, page_size, "")
                            .await
                            .map(|page| page.entries)
                            .map_err(String::from)
                    } else {
                        stub.get_state_by_range(&start, &end)
                            .await
                            .map_err(String::from)
                    };
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
