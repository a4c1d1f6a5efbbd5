//! Free loopback ports, chosen by the kernel.
//!
//! Every listen address of the devnet is `127.0.0.1:<port>` with a port the
//! kernel handed out for `bind(127.0.0.1:0)`. [`PortPool`] keeps each listener
//! open until the whole network's ports are chosen, so one devnet never gets
//! the same port twice; the ports are released just before the nodes start.

use std::net::TcpListener;

use crate::error::{DevnetError, Result};

/// Ports reserved by holding their listeners.
#[derive(Default)]
pub struct PortPool {
    held: Vec<TcpListener>,
}

impl PortPool {
    pub fn new() -> PortPool {
        PortPool::default()
    }

    /// A port that is free now and distinct from every port this pool handed out.
    pub fn take(&mut self) -> Result<u16> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(DevnetError::Ports)?;
        let port = listener.local_addr().map_err(DevnetError::Ports)?.port();
        self.held.push(listener);
        Ok(port)
    }

    /// Releases all ports so the nodes can bind them.
    pub fn release(self) {
        drop(self.held);
    }
}

/// `127.0.0.1:<port>`.
pub fn loopback(port: u16) -> String {
    format!("127.0.0.1:{port}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_and_bindable_after_release() {
        let mut pool = PortPool::new();
        let ports: Vec<u16> = (0..20).map(|_| pool.take().unwrap()).collect();
        let mut sorted = ports.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), ports.len());
        pool.release();
        TcpListener::bind(("127.0.0.1", ports[0])).unwrap();
    }
}
