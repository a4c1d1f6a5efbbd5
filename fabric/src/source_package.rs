//! Go source packages: the chaincode package every organization builds from
//! the same pinned source tree, byte for byte.
//!
//! The main function is [`golang_package`]: given the files of a repository
//! tree (path → content) and the directory of the Go module inside it, it
//! returns a [`SourcePackage`] (bytes, package ID, Go import path). The layout
//! follows Fabric's Go packager for modules: the module's files under
//! `src/` in `code.tar.gz`, the module's `META-INF/` (state database indexes,
//! collections) at the top of `code.tar.gz`, and `metadata.json` with
//! `"type": "golang"` and `"path"` = the module path from `go.mod`. Key
//! decision: the package holds exactly the files of the tree under the module
//! directory, nothing derived from the machine (no `go list`, no module
//! download), so the bytes depend only on the tree, the label and the packer
//! (see [`crate::package`] for the reproducibility rules).

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::package::{package, package_id};

/// A built source package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcePackage {
    /// The package bytes the peer installs.
    pub bytes: Vec<u8>,
    /// `label:hex(sha256(bytes))`, as the peer derives it.
    pub package_id: String,
    /// The Go import path (`module` line of `go.mod`), `metadata.json`'s `path`.
    pub import_path: String,
    /// How many source files went into `code.tar.gz`.
    pub files: usize,
}

/// Builds the `golang` package of the Go module at `path_in_repo` (`""` or
/// `"."` for the repository root) from `files`, the repository tree
/// (slash-separated paths relative to the repository root → content). Files
/// outside `path_in_repo` are ignored.
pub fn golang_package(
    label: &str,
    files: &BTreeMap<String, Vec<u8>>,
    path_in_repo: &str,
) -> Result<SourcePackage> {
    let dir = normalize_dir(path_in_repo)?;
    let what = || format!("Go chaincode at {:?}", display_dir(&dir));
    let mut code = BTreeMap::new();
    for (path, data) in files {
        check_path(path)?;
        let Some(rel) = strip_dir(path, &dir) else {
            continue;
        };
        let name = match rel.strip_prefix("META-INF/") {
            Some(meta) => format!("META-INF/{meta}"),
            None => format!("src/{rel}"),
        };
        code.insert(name, data.clone());
    }
    let go_mod = code.get("src/go.mod").ok_or_else(|| {
        Error::invalid(
            what(),
            "has no go.mod: point the chaincode's path at the directory of its Go module",
        )
    })?;
    let import_path = module_path(go_mod).ok_or_else(|| {
        Error::invalid(
            what(),
            "go.mod has no `module` line: add one (e.g. `module example.com/mycc`)",
        )
    })?;
    if !code
        .keys()
        .any(|k| k.starts_with("src/") && k.ends_with(".go"))
    {
        return Err(Error::invalid(what(), "holds no .go file"));
    }
    let bytes = package(label, "golang", &import_path, &code)?;
    Ok(SourcePackage {
        package_id: package_id(label, &bytes),
        bytes,
        import_path,
        files: code.len(),
    })
}

/// `a/b/` from `a/b`, `./a/b/`, `/a/b`; `` for the root. Refuses `..`.
fn normalize_dir(path: &str) -> Result<String> {
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                return Err(Error::invalid(
                    format!("chaincode path {path:?}"),
                    "must stay inside the repository (no `..`)",
                ));
            }
            p => parts.push(p),
        }
    }
    Ok(parts.iter().map(|p| format!("{p}/")).collect())
}

fn display_dir(dir: &str) -> &str {
    if dir.is_empty() {
        "."
    } else {
        dir.trim_end_matches('/')
    }
}

fn strip_dir<'a>(path: &'a str, dir: &str) -> Option<&'a str> {
    path.strip_prefix(dir)
}

fn check_path(path: &str) -> Result<()> {
    let bad = path.is_empty()
        || path.starts_with('/')
        || path.contains('\\')
        || path.contains('\0')
        || path
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..");
    if bad {
        return Err(Error::invalid(
            format!("source file {path:?}"),
            "is not a clean relative path inside the repository",
        ));
    }
    Ok(())
}

/// The module path of a `go.mod` (`module x` or `module "x"`).
fn module_path(go_mod: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(go_mod).ok()?;
    text.lines().find_map(|line| {
        let line = line.split("//").next().unwrap_or("").trim();
        let rest = line.strip_prefix("module")?;
        if !rest.starts_with([' ', '\t']) {
            return None;
        }
        let m = rest.trim().trim_matches('"').trim_matches('`');
        (!m.is_empty()).then(|| m.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn tree() -> BTreeMap<String, Vec<u8>> {
        let mut files = BTreeMap::new();
        files.insert("README.md".into(), b"top".to_vec());
        files.insert(
            "cc/go.mod".into(),
            b"// the chaincode\nmodule example.com/cc // trailing\n\ngo 1.22\n".to_vec(),
        );
        files.insert("cc/go.sum".into(), b"".to_vec());
        files.insert("cc/main.go".into(), b"package main\n".to_vec());
        files.insert("cc/lib/x.go".into(), b"package lib\n".to_vec());
        files.insert(
            "cc/META-INF/statedb/couchdb/indexes/i.json".into(),
            b"{}".to_vec(),
        );
        files.insert("other/main.go".into(), b"package other\n".to_vec());
        files
    }

    fn unpack(tgz: &[u8]) -> BTreeMap<String, Vec<u8>> {
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(tgz));
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let path = e.path().unwrap().to_string_lossy().into_owned();
                let mut data = Vec::new();
                e.read_to_end(&mut data).unwrap();
                (path, data)
            })
            .collect()
    }

    #[test]
    fn layout_follows_fabrics_go_module_packager() {
        let pkg = golang_package("cc_1", &tree(), "cc").unwrap();
        assert_eq!(pkg.import_path, "example.com/cc");
        let outer = unpack(&pkg.bytes);
        let meta: serde_json::Value = serde_json::from_slice(&outer["metadata.json"]).unwrap();
        assert_eq!(
            meta,
            serde_json::json!({"type": "golang", "label": "cc_1", "path": "example.com/cc"})
        );
        let code = unpack(&outer["code.tar.gz"]);
        assert_eq!(
            code.keys().map(String::as_str).collect::<Vec<_>>(),
            [
                "META-INF/statedb/couchdb/indexes/i.json",
                "src/go.mod",
                "src/go.sum",
                "src/lib/x.go",
                "src/main.go",
            ]
        );
        assert_eq!(pkg.files, 5);
        assert_eq!(code["src/main.go"], b"package main\n");
        assert!(pkg.package_id.starts_with("cc_1:"));
        assert_eq!(pkg.package_id, package_id("cc_1", &pkg.bytes));
    }

    #[test]
    fn same_tree_same_bytes_and_a_changed_byte_changes_the_id() {
        let a = golang_package("cc_1", &tree(), "./cc/").unwrap();
        let b = golang_package("cc_1", &tree(), "cc").unwrap();
        assert_eq!(a, b);
        // Pinned from this packer's own output on its first run (2026-11-25);
        // a change means every org derives a new ID for unchanged source.
        assert_eq!(
            a.package_id,
            "cc_1:6353edce63d50b4b072dec9ebf5a5d4ed21ea19914699b4549a1741d625e58a6"
        );
        let mut changed = tree();
        changed.insert("cc/main.go".into(), b"package main \n".to_vec());
        assert_ne!(
            golang_package("cc_1", &changed, "cc").unwrap().package_id,
            a.package_id
        );
        // Files outside the module do not matter.
        let mut outside = tree();
        outside.insert("other/new.go".into(), b"package other\n".to_vec());
        assert_eq!(
            golang_package("cc_1", &outside, "cc").unwrap().package_id,
            a.package_id
        );
    }

    #[test]
    fn refuses_trees_that_are_not_a_go_module() {
        let err = golang_package("cc_1", &tree(), "other").unwrap_err();
        assert!(err.to_string().contains("no go.mod"), "{err}");
        let err = golang_package("cc_1", &tree(), "cc/../other").unwrap_err();
        assert!(err.to_string().contains(".."), "{err}");
        let mut no_module = tree();
        no_module.insert("cc/go.mod".into(), b"go 1.22\n".to_vec());
        let err = golang_package("cc_1", &no_module, "cc").unwrap_err();
        assert!(err.to_string().contains("module"), "{err}");
        let mut evil = tree();
        evil.insert("cc/../../etc/passwd".into(), b"x".to_vec());
        assert!(golang_package("cc_1", &evil, "cc").is_err());
        assert!(golang_package("bad label", &tree(), "cc").is_err());
    }

    #[test]
    fn repository_root_module() {
        let mut files = BTreeMap::new();
        files.insert("go.mod".into(), b"module \"example.com/root\"\n".to_vec());
        files.insert("main.go".into(), b"package main\n".to_vec());
        for dir in ["", ".", "/"] {
            let pkg = golang_package("root", &files, dir).unwrap();
            assert_eq!(pkg.import_path, "example.com/root");
            assert_eq!(pkg.files, 2);
        }
    }
}
