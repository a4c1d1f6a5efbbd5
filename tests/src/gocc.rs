//! A Go chaincode written for the tests with the official contract API
//! (`fabric-contract-api-go/v2`, a real module dependency), in a git
//! repository the test creates: what `tests/golang_chaincode.rs` (lifecycle
//! calls by hand) and `reconciler/tests/agent_golang.rs` (driven by spec
//! commits through the agents) deploy.
//!
//! [`ChaincodeRepo`] keeps the module under `chaincode/`; [`main_go`] is the
//! contract (`Put`, `Get`, `Version`), with a marker for which commit runs and
//! a place to splice in code that does not compile. Key decision: `go.mod`
//! and `go.sum` are made once per repository by `go mod tidy` at test time
//! (nothing generated is committed to this project), and later commits change
//! `main.go` only, so every commit builds from the same module graph.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The module's `go.mod` before `go mod tidy`.
pub const GO_MOD: &str = "module example.com/gocc\n\ngo 1.22\n\nrequire github.com/hyperledger/fabric-contract-api-go/v2 v2.2.0\n";

/// The directory of the module inside the repository.
pub const MODULE_DIR: &str = "chaincode";

/// The contract; `version` is what `Version` answers, `extra` is spliced
/// into the file (a broken commit puts a type error there).
pub fn main_go(version: &str, extra: &str) -> String {
    format!(
        r#"package main

import (
	"fmt"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// Store keeps strings under keys.
type Store struct {{
	contractapi.Contract
}}

// Put stores value under key and answers the caller's MSP ID.
func (s *Store) Put(ctx contractapi.TransactionContextInterface, key string, value string) (string, error) {{
	if err := ctx.GetStub().PutState(key, []byte(value)); err != nil {{
		return "", err
	}}
	return ctx.GetClientIdentity().GetMSPID()
}}

// Get answers the value under key.
func (s *Store) Get(ctx contractapi.TransactionContextInterface, key string) (string, error) {{
	v, err := ctx.GetStub().GetState(key)
	if err != nil {{
		return "", err
	}}
	if v == nil {{
		return "", fmt.Errorf("no value under %s", key)
	}}
	return string(v), nil
}}

// Version answers which commit of this chaincode runs.
func (s *Store) Version() string {{
	return "{version}"
}}
{extra}
func main() {{
	cc, err := contractapi.NewChaincode(&Store{{}})
	if err != nil {{
		panic(err)
	}}
	if err := cc.Start(); err != nil {{
		panic(err)
	}}
}}
"#
    )
}

/// Code that does not compile, for [`main_go`]'s `extra`.
pub const TYPE_ERROR: &str = "\nvar notANumber int = \"not a number\"\n";

/// A git repository (in a temporary directory) with the chaincode module
/// under [`MODULE_DIR`].
pub struct ChaincodeRepo {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
    repo: git2::Repository,
}

impl Default for ChaincodeRepo {
    fn default() -> Self {
        Self::new()
    }
}

impl ChaincodeRepo {
    pub fn new() -> ChaincodeRepo {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("cc-repo");
        let repo = git2::Repository::init(&path).expect("git init");
        std::fs::create_dir_all(path.join(MODULE_DIR)).unwrap();
        std::fs::write(path.join("README.md"), "test chaincodes\n").unwrap();
        ChaincodeRepo {
            _dir: dir,
            path,
            repo,
        }
    }

    /// The repository as a `file://` URL.
    pub fn url(&self) -> String {
        format!("file://{}", self.path.display())
    }

    /// The module directory in the working tree.
    pub fn module(&self) -> PathBuf {
        self.path.join(MODULE_DIR)
    }

    /// Writes `main.go` (and go.mod / go.sum from `go mod tidy` the first
    /// time) and commits everything; returns the commit hash.
    pub fn commit(&self, main_go: &str, message: &str) -> String {
        let module = self.module();
        std::fs::write(module.join("main.go"), main_go).unwrap();
        if !module.join("go.sum").exists() {
            go_mod_tidy(&module);
        }
        let mut index = self.repo.index().unwrap();
        index
            .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
            .unwrap();
        index.write().unwrap();
        let tree = self.repo.find_tree(index.write_tree().unwrap()).unwrap();
        let sig = git2::Signature::now("test", "test@example.com").unwrap();
        let parent = self.repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<&git2::Commit> = parent.iter().collect();
        self.repo
            .commit(Some("HEAD"), &sig, &sig, message, &tree, &parents)
            .unwrap()
            .to_string()
    }
}

/// Writes [`GO_MOD`] and runs `go mod tidy` in `module` (downloads the
/// contract API through the Go module proxy, or from the module cache).
fn go_mod_tidy(module: &Path) {
    std::fs::write(module.join("go.mod"), GO_MOD).unwrap();
    let t = Instant::now();
    let out = Command::new("go")
        .args(["mod", "tidy"])
        .current_dir(module)
        .output()
        .expect("go is installed (the devnet's Go builder needs it too)");
    assert!(
        out.status.success(),
        "go mod tidy failed in {}:\n{}",
        module.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("go mod tidy: {:.1} s", t.elapsed().as_secs_f64());
}
