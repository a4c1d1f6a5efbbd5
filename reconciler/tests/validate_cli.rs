//! `opssc validate` as a user runs it: exit codes, the rustc-style report, JSON
//! and GitHub annotations. On failure the command's output is printed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn opssc(args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_opssc"))
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap();
    eprintln!(
        "$ opssc {}\n--- status: {:?}\n--- stdout:\n{}\n--- stderr:\n{}",
        args.join(" "),
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[test]
fn reference_network_is_valid() {
    let out = opssc(&["validate", "network-spec"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("network-spec is valid: 4 organizations, 2 channels, 1 chaincodes")
    );
}

#[test]
fn every_invalid_example_exits_1_with_its_location() {
    for entry in std::fs::read_dir(repo().join("examples/invalid")).unwrap() {
        let dir = entry.unwrap().path();
        let expected = std::fs::read_to_string(dir.join("expected")).unwrap();
        let line = expected.lines().find(|l| !l.starts_with('#')).unwrap();
        let location = line.split_whitespace().next().unwrap();
        let rel = dir.strip_prefix(repo()).unwrap();
        let out = opssc(&["validate", rel.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{}", dir.display());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!("--> {}/{location}", rel.display())),
            "{} should point at {location}",
            dir.display()
        );
    }
}

#[test]
fn json_and_github_formats() {
    let out = opssc(&[
        "validate",
        "examples/invalid/unknown-field",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let first_error = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["severity"] == "error")
        .unwrap();
    assert_eq!(first_error["line"], 39);
    assert_eq!(first_error["column"], 3);
    assert_eq!(first_error["hint"], "did you mean `mspId`?");

    let out = opssc(&[
        "validate",
        "examples/invalid/unknown-field",
        "--format",
        "github",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("::error file=examples/invalid/unknown-field/spec.yaml,line=39,col=3,title=opssc unknown-field::unknown field `mspid`"), "{text}");
}

#[test]
fn missing_directory_is_a_usage_error() {
    let out = opssc(&["validate", "no/such/dir"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no/such/dir does not exist"));
}

#[test]
fn schema_command_prints_the_committed_schema() {
    let out = opssc(&["schema"]);
    assert_eq!(out.status.code(), Some(0));
    let committed =
        std::fs::read_to_string(repo().join("schema/network-spec.schema.json")).unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), committed);
}
