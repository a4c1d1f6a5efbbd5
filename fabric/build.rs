//! Compiles every `.proto` file under `proto/` into Rust with prost and tonic.
//!
//! The compiler is `protox` (pure Rust), so no `protoc` is needed on the
//! machine. The directory is walked rather than listed so that anyone can add a
//! `.proto` file without touching this script; the files are sorted so the
//! generated code does not depend on directory order. The generated modules
//! are gathered by prost's include file (`_includes.rs`) into one module tree
//! that follows the protobuf package names (`common`, `msp`, `protos`, ...).

use std::path::{Path, PathBuf};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|ext| ext == "proto") {
            out.push(path);
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let root = Path::new("proto");
    let mut files = Vec::new();
    collect(root, &mut files)?;
    files.sort();
    let fds = protox::compile(&files, [root])?;
    tonic_prost_build::configure()
        // Map fields as BTreeMap: prost encodes HashMaps in random order, and
        // config updates must encode to the same bytes for every signer.
        .btree_map(".")
        .build_client(true)
        .build_server(true)
        // No `Client::connect(url)` constructors: clients are built on our own
        // TLS channels, and `protos.Chaincode` has an RPC named `Connect`
        // whose method would clash with that constructor.
        .build_transport(false)
        .include_file("_includes.rs")
        .compile_fds(fds)?;
    Ok(())
}
