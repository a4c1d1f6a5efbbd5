//! The JSON Schema of a spec document, generated from the types with schemars.
//!
//! Editors validate and complete spec files through it (a
//! `# yaml-language-server: $schema=` line). It is committed as
//! `schema/network-spec.schema.json`; a test fails when that file is stale.

use schemars::{JsonSchema, generate::SchemaSettings};
use serde_json::{Value, json};

use crate::model::*;

fn kind_schema<T: JsonSchema>(generator: &mut schemars::SchemaGenerator, kind: &str) -> Value {
    let mut schema = generator.subschema_for::<Document<T>>().to_value();
    // Subschemas are references; wrap with the `kind` constant so editors can tell kinds apart.
    let reference = schema.take();
    json!({
        "allOf": [reference],
        "properties": { "kind": { "const": kind } },
        "required": ["kind"]
    })
}

/// The JSON Schema, pretty-printed, with a trailing newline.
pub fn network_spec_schema() -> String {
    let mut generator = SchemaSettings::draft07().into_generator();
    let one_of = vec![
        kind_schema::<ConsortiumSpec>(&mut generator, "Consortium"),
        kind_schema::<OrganizationSpec>(&mut generator, "Organization"),
        kind_schema::<ChannelSpec>(&mut generator, "Channel"),
        kind_schema::<ChaincodeSpec>(&mut generator, "Chaincode"),
        kind_schema::<GovernanceSpec>(&mut generator, "Governance"),
    ];
    let definitions = generator.take_definitions(true);
    let root = json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "opssc network spec document",
        "description": "One YAML document of an opssc network spec (apiVersion opssc/v1alpha1).",
        "oneOf": one_of,
        "definitions": definitions,
    });
    let mut text = serde_json::to_string_pretty(&root).expect("schema serializes");
    text.push('\n');
    text
}

/// The JSON Schema of the agent's local configuration file.
pub fn agent_config_schema() -> String {
    let schema = schemars::schema_for!(crate::local::AgentConfig);
    let mut text = serde_json::to_string_pretty(&schema).expect("schema serializes");
    text.push('\n');
    text
}
