//! A real Hyperledger Fabric network on this machine, with no Docker.
//!
//! Builds `peer`, `orderer` and the Fabric tools of the topology's Fabric
//! release (v2.5.9 from Fabric's Go module, v3.1.5 from its source tree, each
//! pinned to one commit) into a cache outside the repository ([`binaries`]), generates
//! crypto material with cryptogen, writes the project's own node configuration
//! with free loopback ports ([`config`]), starts the processes and stops
//! exactly the ones it started, by PID ([`process`]). Used by the tests
//! ([`Devnet::start`]) and by `opssc dev up | down | status` ([`cli`]).
//!
//! The devnet starts things; it decides nothing about the consortium. Started
//! from a network spec ([`DevnetOptions::from_spec`], what `opssc dev up`
//! does), it starts the nodes joined to no channel, writes a git spec
//! repository at `<state>/spec-repo` holding each organization's
//! certificates, endpoints and admin SSH key ([`spec_repo`]), starts chaincode
//! server processes and points the agent configurations at them
//! ([`founding`]). Founding the consortium — channels from the spec, the
//! OpsSC deployed, the registry founded with the spec's governance — is the
//! reconciler's (`opssc found`), which `opssc dev up` runs for every
//! organization: the reconciler depends on this crate, never the other way,
//! so the founding cannot live here, and the devnet depends on no contract.
//!
//! The main type is [`Devnet`]. One key decision: everything a running
//! network is — addresses, paths, PIDs with their start times — is decided
//! up front as plain data ([`handles::NetworkPlan`]) and saved to
//! `<state>/devnet.json`, so a later `opssc dev status` or `down` in another
//! process sees exactly what the starter saw, and never signals a PID that
//! the kernel has since given to someone else.
//!
//! Defaults worth knowing: every listener is on 127.0.0.1 with a port the
//! kernel chose; TLS is on for every gRPC endpoint, mutual TLS is off for
//! clients of peers and orderers (the orderer admin endpoint and the Raft
//! cluster port do require client certificates); operations endpoints
//! (`/healthz`, `/metrics`) are plain HTTP on loopback; no Docker — chaincode
//! runs as a service through the `ccaas` external builder ([`builders`]).
//!
//! ```no_run
//! use opssc_devnet::{Devnet, DevnetOptions, Topology};
//! let devnet = Devnet::start(DevnetOptions::new(Topology::reference(3)))?;
//! let org1 = devnet.org("Org1MSP").unwrap();
//! println!("{} at {}", org1.peers[0].host, org1.peers[0].address);
//! devnet.stop()?;
//! # Ok::<(), opssc_devnet::DevnetError>(())
//! ```

// serde_json's json! macro recurses per token; the node templates are large.
#![recursion_limit = "256"]

pub mod agent_config;
pub mod binaries;
pub mod builders;
pub mod channels;
pub mod cli;
pub mod config;
mod error;
pub mod founding;
pub mod git_server;
pub mod handles;
pub mod health;
pub mod layout;
mod network;
pub mod ports;
pub mod process;
pub mod spec_repo;
pub mod state;
pub mod status;
pub mod tools;
pub mod topology;

pub use binaries::{
    FabricBinaries, GoTool, PinnedFabric, fabric_binaries, fabric_binaries_for, go_tool,
    pinned_fabric,
};
pub use channels::peer_cli_env;
pub use error::{CommandFailure, DevnetError};
pub use founding::Founded;
pub use handles::{ChannelHandle, OrdererHandle, OrdererOrgHandle, OrgHandle, PeerHandle};
pub use network::{Devnet, DevnetOptions};
pub use opssc_schema::FabricVersion;
pub use spec_repo::{SpecRepo, commit_files, commit_signed};
pub use status::{ChannelStatus, NetworkStatus, ProcessStatus, status};
pub use topology::{ChannelDef, OrdererOrgDef, PeerOrgDef, Topology};
