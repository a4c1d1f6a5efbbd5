//! The committed specs: the reference network and the examples validate; every
//! broken example fails with the expected problem at the expected place; the
//! committed JSON Schema is what the types generate.

use std::path::{Path, PathBuf};

use opssc_schema::{Severity, load_dir};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("schema/ is in the repo")
        .to_path_buf()
}

#[test]
fn reference_network_and_examples_are_valid() {
    let root = repo();
    let mut dirs = vec![root.join("network-spec")];
    for entry in std::fs::read_dir(root.join("examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir()
            && path.file_name().unwrap() != "invalid"
            && path.join("consortium.yaml").exists()
        {
            dirs.push(path);
        }
    }
    assert!(
        dirs.len() >= 3,
        "expected the reference network and at least two examples"
    );
    for dir in dirs {
        let loaded = load_dir(&dir);
        let errors: Vec<String> = loaded.report.errors().map(|d| d.render()).collect();
        assert!(
            errors.is_empty(),
            "{} should be valid:\n{}",
            dir.display(),
            errors.join("\n")
        );
        assert!(loaded.spec.is_some());
    }
}

#[test]
fn reference_network_has_the_documented_shape() {
    let spec = load_dir(&repo().join("network-spec")).spec.expect("valid");
    let peer_orgs = spec
        .organizations
        .values()
        .filter(|o| o.role == opssc_schema::OrgRole::Peer)
        .count();
    assert_eq!(peer_orgs, 3);
    assert_eq!(spec.consortium.ops_channel, "ops");
    assert!(spec.channels.contains_key("trade"));
    assert_eq!(spec.chaincodes.len(), 1);
    // Defaults are filled in: the trade channel names every standard policy.
    let trade = &spec.channels["trade"];
    for p in [
        "Readers",
        "Writers",
        "Admins",
        "Endorsement",
        "LifecycleEndorsement",
    ] {
        assert!(trade.policies.contains_key(p), "missing {p}");
    }
    assert_eq!(trade.batch.timeout_ms, 500);
    assert_eq!(spec.spec_hash.len(), 64);
}

#[test]
fn every_invalid_example_reports_its_mistake_where_it_is() {
    let invalid = repo().join("examples/invalid");
    let mut cases = 0;
    for entry in std::fs::read_dir(&invalid).unwrap() {
        let dir = entry.unwrap().path();
        let expected = std::fs::read_to_string(dir.join("expected"))
            .unwrap_or_else(|_| panic!("{} has no `expected` file", dir.display()));
        let line = expected
            .lines()
            .find(|l| !l.starts_with('#') && !l.trim().is_empty())
            .expect("an expectation line");
        let (location, rest) = line.split_once(' ').unwrap();
        let (code, message) = rest.split_once(' ').unwrap();
        let mut parts = location.rsplitn(3, ':');
        let column: u32 = parts.next().unwrap().parse().unwrap();
        let line_no: u32 = parts.next().unwrap().parse().unwrap();
        let file = parts.next().unwrap();

        let loaded = load_dir(&dir);
        assert!(loaded.spec.is_none(), "{} must not validate", dir.display());
        let found = loaded.report.diagnostics.iter().any(|d| {
            d.severity == Severity::Error
                && d.position.file.ends_with(file)
                && d.position.line == line_no
                && d.position.column == column
                && d.code == code
                && d.message.contains(message)
        });
        assert!(
            found,
            "{}: expected `{line}`, got:\n{}",
            dir.display(),
            loaded.report.render()
        );
        // Every diagnostic can be acted on: it has a position and shows its line.
        for d in &loaded.report.diagnostics {
            assert!(d.position.line >= 1 && d.position.column >= 1, "{d:?}");
            assert!(d.source_line.is_some(), "no source line for {d:?}");
        }
        cases += 1;
    }
    assert!(
        cases >= 10,
        "expected at least 10 invalid examples, found {cases}"
    );
}

#[test]
fn committed_json_schema_is_fresh() {
    let path = repo().join("schema/network-spec.schema.json");
    let generated = opssc_schema::schema_json::network_spec_schema();
    if std::env::var_os("OPSSC_UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "schema/network-spec.schema.json is stale: run `OPSSC_UPDATE_SNAPSHOTS=1 cargo test -p opssc-schema --test spec_files` and commit it"
    );
}

#[test]
fn examples_point_editors_at_the_schema() {
    let root = repo();
    let mut stack = vec![root.join("network-spec"), root.join("examples")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                let text = std::fs::read_to_string(&path).unwrap();
                let first = text.lines().next().unwrap_or("");
                let reference = first
                    .strip_prefix("# yaml-language-server: $schema=")
                    .unwrap_or_else(|| panic!("{} lacks the schema line", path.display()));
                let target = path.parent().unwrap().join(reference);
                assert!(
                    target.exists(),
                    "{}: schema path {reference} does not resolve",
                    path.display()
                );
            }
        }
    }
}
