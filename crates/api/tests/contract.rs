//! The committed contract matches the method table, and it is valid JSON Schema.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use serde_json::Value;

fn contract_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../interop/contract")
}

#[test]
fn committed_artifacts_are_fresh() {
    let mut stale = Vec::new();
    for (name, generated) in api::contract::artifacts() {
        let path = contract_dir().join(name);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != generated {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "interop/contract is stale ({stale:?}): run `cargo run -p api --bin export-schema` and commit the result"
    );
}

#[test]
fn every_definition_is_a_valid_draft7_schema() {
    let bundle = api::contract::schema_bundle();
    for (name, _) in bundle["definitions"].as_object().unwrap() {
        let mut schema = bundle.clone();
        schema["$ref"] = Value::String(format!("#/definitions/{name}"));
        jsonschema::draft7::new(&schema).unwrap_or_else(|err| panic!("{name}: {err}"));
    }
}

#[test]
fn manifest_names_every_method_and_notification() {
    let manifest = api::contract::methods_manifest();
    let names: Vec<&str> = manifest["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    for method in api::METHODS {
        assert!(names.contains(&method.name), "{}", method.name);
        assert!(
            !method.doc.trim().is_empty(),
            "{} has no description",
            method.name
        );
    }
    let notifications = manifest["notifications"].as_array().unwrap();
    assert_eq!(notifications.len(), api::SUBSCRIPTIONS.len());
    // Every $ref in the manifest resolves in the bundle.
    let bundle = api::contract::schema_bundle();
    let text = manifest.to_string();
    for part in text.split("api.schema.json#/definitions/").skip(1) {
        let name: String = part.chars().take_while(|c| c.is_alphanumeric()).collect();
        assert!(
            bundle["definitions"].get(&name).is_some(),
            "dangling ref {name}"
        );
    }
}

#[test]
fn documents_validate_against_their_types() {
    let bundle = api::contract::schema_bundle();
    let validator = |name: &str| {
        let mut schema = bundle.clone();
        schema["$ref"] = Value::String(format!("#/definitions/{name}"));
        jsonschema::draft7::new(&schema).unwrap()
    };
    let start = serde_json::json!({"config": {"model": {"providerId": "openai", "apiKind": "openai:responses", "model": "gpt-5"},
        "instructions": {"type": "text", "text": "Be brief."}, "generation": {"reasoningEffort": "low"}}});
    assert!(validator("SessionStartParams").is_valid(&start));
    let wrong = serde_json::json!({"config": {"model": {"providerId": 7}}});
    assert!(!validator("SessionStartParams").is_valid(&wrong));
    let input = serde_json::json!({"sessionId": "s", "submissionId": "x", "input": [{"type": "text", "text": "hi"}]});
    assert!(validator("RunStartParams").is_valid(&input));
}
