//! Readiness: the nodes' operations endpoints, polled — never fixed sleeps.
//!
//! Peers and orderers serve plain HTTP on their operations address (loopback
//! only): `/healthz` answers 200 once the node is up, and `/metrics` carries
//! `consensus_etcdraft_is_leader{channel="..."}`, which tells when a channel's
//! Raft cluster has elected a leader and can order transactions (SmartBFT's
//! is `consensus_BFT_is_leader`, set once the chain started). A tiny
//! HTTP/1.0 client over `TcpStream` is enough for both.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// GET `path` from `addr` (`127.0.0.1:port`): status code and body.
pub fn http_get(addr: &str, path: &str, timeout: Duration) -> std::io::Result<(u16, String)> {
    let sock: SocketAddr = addr.parse().map_err(|e| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{addr}: {e}"))
    })?;
    let mut stream = TcpStream::connect_timeout(&sock, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    // One write: `write!` on an unbuffered stream would send each piece separately.
    let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP response")
        })?;
    Ok((status, body.to_string()))
}

/// One probe of `/healthz`: `Ok(())` when healthy, else why not.
pub fn probe_health(operations_address: &str) -> Result<(), String> {
    match http_get(operations_address, "/healthz", Duration::from_secs(2)) {
        Ok((200, _)) => Ok(()),
        Ok((code, body)) => Err(format!("/healthz answered {code}: {}", body.trim())),
        Err(e) => Err(format!("/healthz on {operations_address}: {e}")),
    }
}

fn metrics(operations_address: &str) -> Result<String, String> {
    let (code, body) = http_get(operations_address, "/metrics", Duration::from_secs(2))
        .map_err(|e| format!("/metrics on {operations_address}: {e}"))?;
    if code != 200 {
        return Err(format!("/metrics on {operations_address} answered {code}"));
    }
    Ok(body)
}

/// One probe of a TCP listener: `Ok(())` when it accepts a connection.
pub fn probe_listener(what: &str, address: &str) -> Result<(), String> {
    let sock: SocketAddr = address.parse().map_err(|e| format!("{address}: {e}"))?;
    TcpStream::connect_timeout(&sock, Duration::from_secs(1))
        .map(drop)
        .map_err(|e| format!("{what} {address}: {e}"))
}

/// The channels for which this orderer's `/metrics` says it is the Raft
/// or SmartBFT leader.
pub fn raft_leader_channels(operations_address: &str) -> Result<Vec<String>, String> {
    Ok(leader_channels(&metrics(operations_address)?))
}

fn leader_channels(body: &str) -> Vec<String> {
    ["consensus_etcdraft_is_leader", "consensus_BFT_is_leader"]
        .into_iter()
        .flat_map(|name| per_channel(body, name))
        .filter(|(_, v)| *v == 1.0)
        .map(|(c, _)| c)
        .collect()
}

/// How many other peers this peer's gossip knows per channel
/// (`gossip_membership_total_peers_known`): cross-organization endorsement
/// through the gateway needs the other organizations' peers in this view.
pub fn gossip_peers_known(operations_address: &str) -> Result<BTreeMap<String, u64>, String> {
    let body = metrics(operations_address)?;
    Ok(per_channel(&body, "gossip_membership_total_peers_known")
        .into_iter()
        .map(|(c, v)| (c, v as u64))
        .collect())
}

/// `(channel label, value)` of every sample of the metric `name`.
fn per_channel(body: &str, name: &str) -> Vec<(String, f64)> {
    body.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix(name)?.strip_prefix('{')?;
            let (labels, value) = rest.split_once('}')?;
            let channel = labels
                .split(',')
                .find_map(|kv| kv.trim().strip_prefix("channel=\""))?
                .strip_suffix('"')?;
            Some((channel.to_string(), value.trim().parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn leader_metrics_are_parsed_per_channel() {
        let body = "# HELP consensus_etcdraft_is_leader ...\n\
                    # TYPE consensus_etcdraft_is_leader gauge\n\
                    consensus_etcdraft_is_leader{channel=\"ops\"} 1\n\
                    consensus_etcdraft_is_leader{channel=\"trade\"} 0\n\
                    consensus_etcdraft_cluster_size{channel=\"ops\"} 1\n";
        assert_eq!(leader_channels(body), ["ops"]);
        let bft = "consensus_BFT_is_leader{channel=\"trade\"} 1\n\
                   consensus_BFT_is_leader{channel=\"ops\"} 0\n\
                   consensus_BFT_leader_id{channel=\"trade\"} 1\n";
        assert_eq!(leader_channels(bft), ["trade"]);
        let gossip = "gossip_membership_total_peers_known{channel=\"ops\"} 2\n";
        assert_eq!(
            per_channel(gossip, "gossip_membership_total_peers_known"),
            [("ops".to_string(), 2.0)]
        );
        assert!(per_channel(gossip, "gossip_membership").is_empty());
    }

    #[test]
    fn http_get_reads_status_and_body() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.ends_with(b"\r\n\r\n") {
                let n = s.read(&mut buf).unwrap();
                assert!(n > 0, "the request ended early: {request:?}");
                request.extend_from_slice(&buf[..n]);
            }
            assert!(String::from_utf8_lossy(&request).starts_with("GET /healthz HTTP/1.0\r\n"));
            s.write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 9\r\n\r\nnot ready")
                .unwrap();
        });
        let err = probe_health(&addr).unwrap_err();
        assert_eq!(err, "/healthz answered 503: not ready");
        server.join().unwrap();
        // Nothing listens there any more.
        assert!(probe_health(&addr).is_err());
    }
}
