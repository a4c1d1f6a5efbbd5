//! Readiness: the nodes' operations endpoints, polled — never fixed sleeps.
//!
//! Peers and orderers serve plain HTTP on their operations address (loopback
//! only): `/healthz` answers 200 once the node is up, and `/metrics` carries
//! `consensus_etcdraft_is_leader{channel="..."}`, which tells when a channel's
//! Raft cluster has elected a leader and can order transactions. A tiny
//! HTTP/1.0 client over `TcpStream` is enough for both.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// GET `path` from `addr` (`127.0.0.1:port`): status code and body.
pub fn http_get(addr: &str, path: &str, timeout: Duration) -> std::io::Result<(u16, String)> {
    let sock: SocketAddr = addr
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{addr}: {e}")))?;
    let mut stream = TcpStream::connect_timeout(&sock, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n")?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP response"))?;
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

/// The channels for which this orderer's `/metrics` says it is the Raft leader.
pub fn raft_leader_channels(operations_address: &str) -> Result<Vec<String>, String> {
    let (code, body) = http_get(operations_address, "/metrics", Duration::from_secs(2))
        .map_err(|e| format!("/metrics on {operations_address}: {e}"))?;
    if code != 200 {
        return Err(format!("/metrics on {operations_address} answered {code}"));
    }
    Ok(parse_leader_metrics(&body))
}

fn parse_leader_metrics(body: &str) -> Vec<String> {
    body.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("consensus_etcdraft_is_leader{")?;
            let (labels, value) = rest.split_once('}')?;
            let channel = labels
                .split(',')
                .find_map(|kv| kv.trim().strip_prefix("channel=\""))?
                .strip_suffix('"')?;
            (value.trim() == "1").then(|| channel.to_string())
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
        assert_eq!(parse_leader_metrics(body), ["ops"]);
    }

    #[test]
    fn http_get_reads_status_and_body() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 1024];
            let n = s.read(&mut buf).unwrap();
            assert!(String::from_utf8_lossy(&buf[..n]).starts_with("GET /healthz HTTP/1.0"));
            s.write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 9\r\n\r\nnot ready").unwrap();
        });
        let err = probe_health(&addr).unwrap_err();
        assert_eq!(err, "/healthz answered 503: not ready");
        server.join().unwrap();
        // Nothing listens there any more.
        assert!(probe_health(&addr).is_err());
    }
}
