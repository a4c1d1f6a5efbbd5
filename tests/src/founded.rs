//! A devnet founded from a spec the one way opssc founds a consortium
//! (`opssc::dev::found`, what `opssc dev up --spec` runs), with each
//! organization's OpsSC server served in this test process instead of an
//! `opssc-chaincode` process (the test crates do not build that binary).
//!
//! [`start_founded`] returns a [`Founded`] that derefs to the [`Devnet`]; the
//! servers run on its own runtime and stop after the devnet.

use std::path::Path;
use std::time::Duration;

use opssc_devnet::{Devnet, DevnetOptions, OrgHandle};

/// A founded devnet and the runtime serving its OpsSC servers.
pub struct Founded {
    // Dropped in this order: the nodes first, then the servers they dial.
    devnet: Option<Devnet>,
    runtime: tokio::runtime::Runtime,
}

impl std::ops::Deref for Founded {
    type Target = Devnet;
    fn deref(&self) -> &Devnet {
        self.devnet.as_ref().expect("the devnet runs until stop")
    }
}

impl Founded {
    /// Stops the devnet (as [`Devnet::stop`]), then the servers.
    pub fn stop(mut self) -> Result<(), opssc_devnet::DevnetError> {
        self.devnet.take().expect("stopped once").stop()
    }

    /// The runtime the OpsSC servers run on.
    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.runtime
    }
}

/// Serves `opssc_chaincode::ccaas::OpsSc` for each organization on `runtime`.
struct InProcess<'a> {
    runtime: &'a tokio::runtime::Runtime,
}

impl opssc::dev::Servers for InProcess<'_> {
    fn opssc(
        &mut self,
        _devnet: &mut Devnet,
        _org: &OrgHandle,
        package_id: &str,
    ) -> Result<String, opssc::dev::ServerError> {
        let listener = self
            .runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
        let address = listener.local_addr()?.to_string();
        let id = package_id.to_string();
        self.runtime.spawn(async move {
            if let Err(e) = opssc_fabric::shim::serve(
                opssc_chaincode::ccaas::OpsSc,
                &id,
                listener,
                None,
                std::future::pending(),
            )
            .await
            {
                eprintln!("the in-process OpsSC server stopped: {e}");
            }
        });
        Ok(address)
    }
}

/// Starts the nodes of the spec in `spec_dir` and founds its consortium (see
/// the module doc); panics with the whole error when either fails.
pub fn start_founded(spec_dir: &Path) -> Founded {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime for the OpsSC servers");
    let opts = DevnetOptions::from_spec(spec_dir)
        .unwrap_or_else(|e| panic!("the spec does not give a devnet:\n{e}"));
    let mut devnet =
        Devnet::start(opts).unwrap_or_else(|e| panic!("the devnet did not start:\n{e}"));
    let say = |m: &str| eprintln!("founding: {m}");
    opssc::dev::found(
        &mut devnet,
        spec_dir,
        &mut InProcess { runtime: &runtime },
        Duration::from_secs(240),
        &say,
    )
    .unwrap_or_else(|e| {
        panic!(
            "founding the devnet failed:\n{}",
            opssc::agent::error::chain(&e)
        )
    });
    Founded {
        devnet: Some(devnet),
        runtime,
    }
}
