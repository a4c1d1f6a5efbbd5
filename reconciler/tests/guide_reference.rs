//! The user guide's reference pages, generated from the JSON Schemas:
//! `docs/guide/spec-reference.md` from `schema/network-spec.schema.json`, and
//! `docs/guide/agent-config-reference.md` from `opssc schema --agent-config`.
//!
//! Each test renders the page and compares it with the committed file, so the
//! reference cannot drift from the types (which generate the schemas). To
//! rewrite the pages after a change to the types:
//! `OPSSC_UPDATE_DOCS=1 cargo test -p opssc --test guide_reference`.
//!
//! Key decision: a small renderer written for the shapes schemars produces
//! (`$ref`, `allOf`/`anyOf` with null for options, `oneOf` for enums and
//! tagged kinds, inline objects for struct variants), not a general JSON
//! Schema to Markdown tool; a shape it does not know fails the test.

use std::collections::{BTreeSet, VecDeque};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Renders the definitions of one schema, collecting the named types it
/// refers to so that each gets its own section.
struct Renderer<'a> {
    definitions: &'a Map<String, Value>,
    queue: VecDeque<String>,
    seen: BTreeSet<String>,
}

impl<'a> Renderer<'a> {
    fn new(definitions: &'a Map<String, Value>) -> Self {
        Renderer {
            definitions,
            queue: VecDeque::new(),
            seen: BTreeSet::new(),
        }
    }

    fn def(&self, name: &str) -> &'a Value {
        self.definitions
            .get(name)
            .unwrap_or_else(|| panic!("no definition {name}"))
    }

    fn refer(&mut self, reference: &str) -> String {
        let name = reference.rsplit('/').next().unwrap().to_string();
        if self.seen.insert(name.clone()) {
            self.queue.push_back(name.clone());
        }
        format!("[`{name}`](#{})", name.to_lowercase())
    }

    /// The type of a schema, in words.
    fn type_of(&mut self, v: &Value) -> String {
        if let Some(r) = v.get("$ref").and_then(Value::as_str) {
            return self.refer(r);
        }
        for key in ["allOf", "anyOf", "oneOf"] {
            if let Some(list) = v.get(key).and_then(Value::as_array) {
                let parts: Vec<String> = list
                    .iter()
                    .filter(|s| s.get("type").and_then(Value::as_str) != Some("null"))
                    .map(|s| self.type_of(s))
                    .collect();
                return parts.join(" or ");
            }
        }
        if let Some(values) = v.get("enum").and_then(Value::as_array) {
            let names: Vec<String> = values.iter().map(|x| format!("`{}`", plain(x))).collect();
            return format!("one of {}", names.join(", "));
        }
        if let Some(c) = v.get("const") {
            return format!("`{}`", plain(c));
        }
        let ty = match v.get("type") {
            Some(Value::String(t)) => t.clone(),
            Some(Value::Array(ts)) => ts
                .iter()
                .filter_map(Value::as_str)
                .find(|t| *t != "null")
                .unwrap_or("null")
                .to_string(),
            None if v.as_object().is_some_and(|o| o.is_empty()) => return "any".into(),
            other => panic!("a schema shape the reference does not know: {other:?} in {v}"),
        };
        match ty.as_str() {
            "array" => {
                let items = v.get("items").expect("array without items");
                format!("list of {}", self.type_of(items))
            }
            "object" => match v.get("additionalProperties") {
                Some(extra) if extra.is_object() => {
                    format!("map of name to {}", self.type_of(extra))
                }
                _ if v.get("properties").is_some() => "object (fields below)".into(),
                _ => "object".into(),
            },
            "integer" | "number" => "number".into(),
            t => t.into(),
        }
    }

    /// A table of an object's fields; inline objects are flattened with dotted names.
    fn fields(&mut self, out: &mut String, object: &Value) {
        let mut rows = Vec::new();
        self.collect_rows(&mut rows, "", object);
        if rows.is_empty() {
            out.push_str("No fields.\n\n");
            return;
        }
        out.push_str("| field | type | required | description |\n|---|---|---|---|\n");
        for row in rows {
            out.push_str(&row);
        }
        out.push('\n');
    }

    fn collect_rows(&mut self, rows: &mut Vec<String>, prefix: &str, object: &Value) {
        let Some(props) = object.get("properties").and_then(Value::as_object) else {
            return;
        };
        let required: BTreeSet<&str> = object
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for (name, schema) in props {
            let path = format!("{prefix}{name}");
            let ty = self.type_of(schema);
            let mut description = schema
                .get("description")
                .and_then(Value::as_str)
                .map(cell)
                .unwrap_or_default();
            if let Some(default) = schema.get("default").filter(|d| !d.is_null()) {
                if !description.is_empty() {
                    description.push(' ');
                }
                let _ = write!(description, "Default: `{}`.", plain(default));
            }
            let req = if required.contains(name.as_str()) {
                "yes"
            } else {
                ""
            };
            rows.push(format!(
                "| `{path}` | {} | {req} | {description} |\n",
                cell(&ty)
            ));
            if schema.get("properties").is_some() {
                self.collect_rows(rows, &format!("{path}."), schema);
            }
        }
    }

    /// One named type: its description, then its fields or its variants.
    fn section(&mut self, out: &mut String, name: &str) {
        let v = self.def(name);
        let _ = writeln!(out, "### `{name}`\n");
        if let Some(d) = v.get("description").and_then(Value::as_str) {
            let _ = writeln!(out, "{}\n", d.trim());
        }
        self.body(out, v);
    }

    fn body(&mut self, out: &mut String, v: &Value) {
        if let Some(variants) = v.get("oneOf").and_then(Value::as_array) {
            out.push_str("One of:\n\n");
            for variant in variants {
                let what = variant.get("description").and_then(Value::as_str).map(cell);
                if variant.get("properties").is_some() {
                    let keys: Vec<String> = variant["properties"]
                        .as_object()
                        .unwrap()
                        .keys()
                        .map(|k| format!("`{k}`"))
                        .collect();
                    let _ = writeln!(
                        out,
                        "- {}{}\n",
                        keys.join(", "),
                        what.map(|w| format!(": {w}")).unwrap_or_default()
                    );
                    self.fields(out, variant);
                } else {
                    let ty = self.type_of(variant);
                    let _ = writeln!(
                        out,
                        "- {ty}{}",
                        what.map(|w| format!(": {w}")).unwrap_or_default()
                    );
                }
            }
            out.push('\n');
        } else if v.get("properties").is_some() {
            self.fields(out, v);
        } else {
            let ty = self.type_of(v);
            let _ = writeln!(out, "Type: {ty}.\n");
        }
    }

    /// Every type queued so far, and those they refer to.
    fn drain(&mut self, out: &mut String) {
        while let Some(name) = self.queue.pop_front() {
            self.section(out, &name);
        }
    }
}

/// A JSON value as it is written in YAML (strings without quotes).
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Text made safe for one Markdown table cell.
fn cell(s: &str) -> String {
    s.trim().replace('\n', " ").replace('|', "\\|")
}

const GENERATED: &str = "<!-- Generated by reconciler/tests/guide_reference.rs from the JSON Schema; do not edit.\n     Regenerate: OPSSC_UPDATE_DOCS=1 cargo test -p opssc --test guide_reference -->\n\n";

fn spec_reference() -> String {
    let path = repo_root().join("schema/network-spec.schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let definitions = schema["definitions"].as_object().expect("definitions");
    let mut r = Renderer::new(definitions);
    let mut out = String::from(GENERATED);
    out.push_str("# Network spec reference\n\n");
    out.push_str(
        "A spec is a directory of YAML documents. Every document has the same envelope:\n\n\
         ```yaml\napiVersion: opssc/v1alpha1\nkind: Organization   # one of the kinds below\n\
         metadata:\n  name: org1          # unique per kind\nspec:\n  ...                 # the kind's fields\n```\n\n\
         Unknown fields are errors. Field names are camelCase. `opssc validate DIR` checks a spec\n\
         and `opssc schema` prints the JSON Schema this page is generated from; see\n\
         [concepts](concepts.md) for what each kind means.\n\n",
    );
    let kinds = schema["oneOf"].as_array().expect("oneOf of kinds");
    let mut names = Vec::new();
    for k in kinds {
        let kind = plain(&k["properties"]["kind"]["const"]);
        let doc_ref = k["allOf"][0]["$ref"].as_str().expect("kind document $ref");
        let doc = &definitions[doc_ref.rsplit('/').next().unwrap()];
        let spec_ref = doc["properties"]["spec"]["$ref"]
            .as_str()
            .expect("spec $ref");
        names.push((kind, spec_ref.rsplit('/').next().unwrap().to_string()));
    }
    out.push_str("Kinds: ");
    out.push_str(
        &names
            .iter()
            .map(|(k, _)| format!("[`{k}`](#kind-{})", k.to_lowercase()))
            .collect::<Vec<_>>()
            .join(", "),
    );
    out.push_str(".\n\n");
    // The envelope's metadata once, then each kind's spec.
    r.seen.insert("Metadata".into());
    out.push_str("## `metadata`\n\n");
    let metadata = r.def("Metadata");
    r.body(&mut out, metadata);
    for (kind, spec_type) in &names {
        let _ = writeln!(out, "## kind `{kind}`\n");
        let _ = writeln!(
            out,
            "`spec` of a `kind: {kind}` document (type `{spec_type}`).\n"
        );
        r.seen.insert(spec_type.clone());
        let v = r.def(spec_type);
        if let Some(d) = v.get("description").and_then(Value::as_str) {
            let _ = writeln!(out, "{}\n", d.trim());
        }
        r.body(&mut out, v);
    }
    out.push_str("## Types used above\n\n");
    r.drain(&mut out);
    out
}

fn agent_config_reference() -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_opssc"))
        .args(["schema", "--agent-config"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "opssc schema --agent-config: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let schema: Value = serde_json::from_slice(&out.stdout).unwrap();
    let empty = Map::new();
    let definitions = schema
        .get("$defs")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut r = Renderer::new(definitions);
    let mut text = String::from(GENERATED);
    text.push_str("# Agent configuration reference\n\n");
    text.push_str(
        "The agent's local configuration file (`opssc.yaml`): one per organization, never in the\n\
         shared spec. Relative paths are resolved against the file's directory. `opssc schema\n\
         --agent-config` prints the JSON Schema this page is generated from; see\n\
         [the agent's configuration](agent-config.md) for an example and what each part is for.\n\n\
         ## `AgentConfig` (the whole file)\n\n",
    );
    if let Some(d) = schema.get("description").and_then(Value::as_str) {
        let _ = writeln!(text, "{}\n", d.trim());
    }
    r.body(&mut text, &schema);
    text.push_str("## Types used above\n\n");
    r.drain(&mut text);
    text
}

fn check_page(file: &str, rendered: String) {
    let path = repo_root().join("docs/guide").join(file);
    if std::env::var_os("OPSSC_UPDATE_DOCS").is_some() {
        std::fs::write(&path, &rendered).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != rendered {
        let first = committed
            .lines()
            .zip(rendered.lines())
            .position(|(a, b)| a != b)
            .map(|i| i + 1)
            .unwrap_or(committed.lines().count().min(rendered.lines().count()) + 1);
        panic!(
            "docs/guide/{file} is stale (first difference at line {first}); regenerate it with\n  \
             OPSSC_UPDATE_DOCS=1 cargo test -p opssc --test guide_reference"
        );
    }
}

#[test]
fn spec_reference_is_generated_from_the_schema() {
    let page = spec_reference();
    // Every kind and every named type of the schema is documented.
    for kind in [
        "Consortium",
        "Organization",
        "Channel",
        "Chaincode",
        "Governance",
    ] {
        assert!(
            page.contains(&format!("## kind `{kind}`")),
            "{kind} missing"
        );
    }
    assert!(
        page.contains("| `endorsementPolicy` |"),
        "a Chaincode field is missing"
    );
    assert!(
        page.contains("### `PackageSpec`"),
        "a nested type is missing"
    );
    check_page("spec-reference.md", page);
}

#[test]
fn agent_config_reference_is_generated_from_the_schema() {
    let page = agent_config_reference();
    assert!(page.contains("| `mspId` |"), "{page}");
    assert!(page.contains("### `SpecSource`"), "{page}");
    assert!(
        page.contains("| `git.url` |"),
        "inline variant fields are flattened: {page}"
    );
    check_page("agent-config-reference.md", page);
}

#[test]
fn the_agent_config_example_in_the_guide_loads() {
    let page = std::fs::read_to_string(repo_root().join("docs/guide/agent-config.md")).unwrap();
    let start = page.find("```yaml\n").expect("a yaml example") + "```yaml\n".len();
    let end = start + page[start..].find("```").expect("the example's end");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("opssc.yaml");
    std::fs::write(&file, &page[start..end]).unwrap();
    let config = opssc_schema::local::AgentConfig::load(&file)
        .unwrap_or_else(|e| panic!("the example in docs/guide/agent-config.md: {e}"));
    assert_eq!(config.msp_id, "Org1MSP");
    assert_eq!(config.vote_policy, opssc_schema::local::VotePolicy::Auto);
    // Relative paths are resolved against the file's directory, as the page says.
    assert_eq!(
        config.identity.msp_dir,
        dir.path().join("crypto/users/Admin@org1.example.com/msp")
    );
    match config.spec {
        Some(opssc_schema::local::SpecSource::Git { url, branch, .. }) => {
            assert_eq!(url, "https://git.example.com/consortium/network.git");
            assert_eq!(branch, "main");
            // The example's https spec URL is reached through its own
            // gitCredentials entry, matched as the agent matches it.
            let entry = opssc::git_transport::matching_entry(&config.git_credentials, &url)
                .expect("the example's urlPrefix parses")
                .expect("a gitCredentials entry matches the spec URL");
            assert!(entry.password_file.is_some(), "{entry:?}");
        }
        other => panic!("spec: {other:?}"),
    }
}
