//! `devnet.json`: the record of a devnet that `opssc dev status` and `down` read.
//!
//! It holds the whole [`NetworkPlan`] (every address and path), the Fabric
//! binaries used and one [`ProcessRecord`] per node (PID + start time), and is
//! rewritten atomically (temp file + rename) whenever a PID changes, so a
//! reader never sees half a file.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::binaries::FabricBinaries;
use crate::error::{DevnetError, Result};
use crate::founding::Founded;
use crate::handles::NetworkPlan;
use crate::layout::Layout;
use crate::process::ProcessRecord;

pub const STATE_FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateFile {
    /// Format version of this file.
    pub format: u32,
    pub state_dir: PathBuf,
    /// Seconds since the Unix epoch when the devnet was started.
    pub started_at: u64,
    /// True when the nodes were started to outlive their starter (`opssc dev up`).
    pub detached: bool,
    /// True once every node is healthy and every channel is joined.
    pub ready: bool,
    pub fabric: FabricBinaries,
    pub plan: NetworkPlan,
    pub processes: Vec<ProcessRecord>,
    /// The spec repository and the OpsSC chaincode, once founded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub founded: Option<Founded>,
}

impl StateFile {
    pub fn load(state_dir: &Path) -> Result<StateFile> {
        let path = Layout::new(state_dir).state_file();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(DevnetError::NoState(state_dir.to_path_buf()));
            }
            Err(e) => return Err(DevnetError::io("read", &path)(e)),
        };
        serde_json::from_str(&text).map_err(|source| DevnetError::StateFile { path, source })
    }

    pub fn save(&self) -> Result<()> {
        let path = Layout::new(&self.state_dir).state_file();
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(self).map_err(|source| DevnetError::StateFile {
            path: path.clone(),
            source,
        })?;
        std::fs::write(&tmp, text).map_err(DevnetError::io("write", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(DevnetError::io("replace", &path))
    }

    /// The recorded processes that still run.
    pub fn running(&self) -> Vec<&ProcessRecord> {
        self.processes.iter().filter(|p| p.is_running()).collect()
    }
}

pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
