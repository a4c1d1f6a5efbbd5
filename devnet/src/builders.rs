//! The external builder for chaincode-as-a-service that every devnet peer uses.
//!
//! Three small POSIX shell scripts (in `devnet/builders/ccaas/bin/`, compiled
//! into this crate and written to `<state>/builders/ccaas/bin/` at start-up):
//! `detect` claims packages whose `metadata.json` type is `ccaas`, `build`
//! copies `connection.json` (and `META-INF/` if present) to the build output,
//! `release` puts `connection.json` where the peer looks for it,
//! `chaincode/server/connection.json`. The peer then dials the chaincode
//! server itself: no Docker, no process launched by the peer.
//!
//! The Go source builder (`devnet/builders/golang/bin/`, written to
//! `<state>/builders/golang/bin/`) compiles `golang` packages with `go build`
//! and launches them as processes the peer manages (its `run` script).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::error::{DevnetError, Result};

const SCRIPTS: [(&str, &str); 3] = [
    ("detect", include_str!("../builders/ccaas/bin/detect")),
    ("build", include_str!("../builders/ccaas/bin/build")),
    ("release", include_str!("../builders/ccaas/bin/release")),
];

const GOLANG_SCRIPTS: [(&str, &str); 4] = [
    ("detect", include_str!("../builders/golang/bin/detect")),
    ("build", include_str!("../builders/golang/bin/build")),
    ("release", include_str!("../builders/golang/bin/release")),
    ("run", include_str!("../builders/golang/bin/run")),
];

/// Writes the builder into `dir` (`dir/bin/{detect,build,release}`, mode 0755).
pub fn install_ccaas_builder(dir: &Path) -> Result<()> {
    install_scripts(dir, &SCRIPTS)
}

/// Writes the Go source builder (`devnet/builders/golang/bin/`: `detect`
/// claims `golang` packages, `build` runs `go build`, caching binaries per
/// package content, `run` launches the chaincode for the peer) into `dir`.
pub fn install_golang_builder(dir: &Path) -> Result<()> {
    install_scripts(dir, &GOLANG_SCRIPTS)
}

fn install_scripts(dir: &Path, scripts: &[(&str, &str)]) -> Result<()> {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).map_err(DevnetError::io("create", &bin))?;
    for &(name, text) in scripts {
        let path = bin.join(name);
        std::fs::write(&path, text).map_err(DevnetError::io("write", &path))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .map_err(DevnetError::io("make executable", &path))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::process::Command;

    fn run(script: &Path, args: &[&Path]) -> (bool, String) {
        let out = Command::new(script).args(args).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    #[test]
    fn detect_claims_only_ccaas_packages() {
        let tmp = tempfile::tempdir().unwrap();
        install_ccaas_builder(tmp.path()).unwrap();
        let detect = tmp.path().join("bin/detect");
        let (src, meta) = (tmp.path().join("src"), tmp.path().join("meta"));
        fs::create_dir_all(&src).unwrap();
        fs::create_dir_all(&meta).unwrap();
        assert!(!run(&detect, &[&src, &meta]).0, "no metadata.json");
        fs::write(
            meta.join("metadata.json"),
            r#"{"type":"golang","label":"x"}"#,
        )
        .unwrap();
        assert!(!run(&detect, &[&src, &meta]).0, "golang package");
        fs::write(
            meta.join("metadata.json"),
            "{\n  \"label\": \"opssc_1\",\n  \"type\": \"ccaas\"\n}",
        )
        .unwrap();
        assert!(run(&detect, &[&src, &meta]).0, "ccaas package");
    }

    #[test]
    fn build_and_release_put_connection_json_where_the_peer_reads_it() {
        let tmp = tempfile::tempdir().unwrap();
        install_ccaas_builder(tmp.path()).unwrap();
        let (src, meta, out, rel) = (
            tmp.path().join("src"),
            tmp.path().join("meta"),
            tmp.path().join("out"),
            tmp.path().join("rel"),
        );
        for d in [&src, &meta, &out, &rel] {
            fs::create_dir_all(d).unwrap();
        }
        let build = tmp.path().join("bin/build");
        let (ok, err) = run(&build, &[&src, &meta, &out]);
        assert!(!ok);
        assert!(err.contains("no connection.json"), "{err}");

        let conn = r#"{"address":"127.0.0.1:9999","dial_timeout":"10s","tls_required":false}"#;
        fs::write(src.join("connection.json"), conn).unwrap();
        fs::create_dir_all(src.join("META-INF/statedb/couchdb/indexes")).unwrap();
        fs::write(src.join("META-INF/statedb/couchdb/indexes/i.json"), "{}").unwrap();
        let (ok, err) = run(&build, &[&src, &meta, &out]);
        assert!(ok, "{err}");
        let (ok, err) = run(&tmp.path().join("bin/release"), &[&out, &rel]);
        assert!(ok, "{err}");
        assert_eq!(
            fs::read_to_string(rel.join("chaincode/server/connection.json")).unwrap(),
            conn
        );
        assert!(rel.join("statedb/couchdb/indexes/i.json").is_file());
    }

    #[test]
    fn release_fills_placeholders_from_the_peers_builder_env() {
        let tmp = tempfile::tempdir().unwrap();
        install_ccaas_builder(tmp.path()).unwrap();
        let (out, rel, cfg) = (
            tmp.path().join("out"),
            tmp.path().join("rel"),
            tmp.path().join("cfg"),
        );
        for d in [&out, &rel, &cfg] {
            fs::create_dir_all(d).unwrap();
        }
        let conn = r#"{"address":"{{.opssc}}","dial_timeout":"10s","tls_required":false}"#;
        fs::write(out.join("connection.json"), conn).unwrap();
        let release = tmp.path().join("bin/release");
        let run_release = || {
            let o = Command::new(&release)
                .args([&out, &rel])
                .env("FABRIC_CFG_PATH", &cfg)
                .output()
                .unwrap();
            (
                o.status.success(),
                String::from_utf8_lossy(&o.stderr).into_owned(),
            )
        };
        let (ok, err) = run_release();
        assert!(!ok, "no value for the placeholder");
        assert!(err.contains("{{.opssc}}"), "{err}");
        fs::write(
            cfg.join("ccaas-builder.env"),
            "kv=127.0.0.1:1\nopssc=127.0.0.1:40123\n",
        )
        .unwrap();
        let (ok, err) = run_release();
        assert!(ok, "{err}");
        assert_eq!(
            fs::read_to_string(rel.join("chaincode/server/connection.json")).unwrap(),
            conn.replace("{{.opssc}}", "127.0.0.1:40123")
        );
    }
}
