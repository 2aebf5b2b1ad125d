//! The contract artifacts, generated from the method table.
//!
//! - `api.schema.json`: draft-07 bundle of every wire type under `definitions`;
//! - `methods.json`: methods, subscriptions and error codes, with refs into the bundle;
//! - `openrpc.json`: an OpenRPC document for documentation tools.

use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use crate::error::{ErrorData, ErrorKind};
use crate::methods::{METHODS, SUBSCRIPTIONS};

pub const SCHEMA_FILE: &str = "api.schema.json";
pub const METHODS_FILE: &str = "methods.json";
pub const OPENRPC_FILE: &str = "openrpc.json";

struct Generated {
    definitions: Map<String, Value>,
    /// (name, doc, params ref, result ref) per method.
    methods: Vec<(&'static str, &'static str, Value, Value)>,
    /// (subscribe, notification, unsubscribe, doc, params ref, notification ref).
    subscriptions: Vec<(
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        Value,
        Value,
    )>,
    error_data: Value,
}

fn generate() -> Generated {
    let mut generator = SchemaSettings::draft07().into_generator();
    let methods = METHODS
        .iter()
        .map(|method| {
            let (params, result) = (method.schemas)(&mut generator);
            (
                method.name,
                method.doc.trim(),
                params.to_value(),
                result.to_value(),
            )
        })
        .collect();
    let subscriptions = SUBSCRIPTIONS
        .iter()
        .map(|sub| {
            let (params, notification) = (sub.schemas)(&mut generator);
            (
                sub.subscribe,
                sub.notification,
                sub.unsubscribe,
                sub.doc.trim(),
                params.to_value(),
                notification.to_value(),
            )
        })
        .collect();
    let error_data = generator.subschema_for::<ErrorData>().to_value();
    let mut definitions = generator.take_definitions(true);
    crate::schema_shape::reshape(&mut definitions);
    Generated {
        definitions,
        methods,
        subscriptions,
        error_data,
    }
}

/// Rewrites local `#/definitions/X` refs to point at `prefix` + `X`.
fn rebase(value: &Value, prefix: &str) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| match (key.as_str(), value) {
                    ("$ref", Value::String(target)) => {
                        let name = target.trim_start_matches("#/definitions/");
                        (key.clone(), Value::String(format!("{prefix}{name}")))
                    }
                    _ => (key.clone(), rebase(value, prefix)),
                })
                .collect(),
        ),
        Value::Array(items) => {
            Value::Array(items.iter().map(|item| rebase(item, prefix)).collect())
        }
        other => other.clone(),
    }
}

/// `api.schema.json`.
pub fn schema_bundle() -> Value {
    let generated = generate();
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": "https://lightspeed.dev/contract/api.schema.json",
        "title": "Lightspeed API wire types",
        "definitions": generated.definitions,
    })
}

/// `methods.json`.
pub fn methods_manifest() -> Value {
    let generated = generate();
    let into_bundle = |schema: &Value| rebase(schema, &format!("{SCHEMA_FILE}#/definitions/"));
    let methods: Vec<Value> = generated
        .methods
        .iter()
        .map(|(name, doc, params, result)| {
            json!({"name": name, "description": doc, "params": into_bundle(params), "result": into_bundle(result)})
        })
        .collect();
    let notifications: Vec<Value> = generated
        .subscriptions
        .iter()
        .map(|(subscribe, notification, unsubscribe, doc, params, payload)| {
            json!({"name": notification, "description": doc, "subscribe": subscribe, "unsubscribe": unsubscribe,
                   "subscribeParams": into_bundle(params), "params": into_bundle(payload)})
        })
        .collect();
    let errors: Vec<Value> = ErrorKind::ALL
        .iter()
        .map(|kind| json!({"code": kind.code(), "kind": kind}))
        .collect();
    json!({
        "protocolVersion": crate::PROTOCOL_VERSION,
        "transport": {
            "http": "POST /rpc",
            "websocket": "GET /rpc (upgrade)",
            "auth": "Authorization: Bearer <api key>",
            "websocketAuth": "the Authorization header on the upgrade, or (browsers, which cannot set it) a first message {\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": \"auth/hello\", \"params\": {\"apiKey\": \"<api key>\"}}",
            "subscriptionEnd": "a session/notification whose params are {\"subscription\": <id>, \"error\": {\"code\", \"message\", \"data\": ErrorData}} ends that subscription (reason subscriptionEnded or subscriberTooSlow); resubscribe from the last cursor"
        },
        "methods": methods,
        "notifications": notifications,
        "errors": errors,
        "errorData": into_bundle(&generated.error_data),
    })
}

/// `openrpc.json`.
pub fn openrpc() -> Value {
    let generated = generate();
    let local = |schema: &Value| rebase(schema, "#/components/schemas/");
    let mut methods: Vec<Value> = generated
        .methods
        .iter()
        .map(|(name, doc, params, result)| {
            json!({"name": name, "description": doc, "paramStructure": "by-name",
                   "params": [{"name": "params", "required": true, "schema": local(params)}],
                   "result": {"name": "result", "schema": local(result)}})
        })
        .collect();
    for (subscribe, notification, unsubscribe, doc, params, payload) in &generated.subscriptions {
        methods.push(
            json!({"name": subscribe, "description": doc, "paramStructure": "by-name",
            "params": [{"name": "params", "required": true, "schema": local(params)}],
            "result": {"name": "subscriptionId", "schema": {"type": "string"}},
            "x-notification": {"name": notification, "schema": local(payload)}}),
        );
        methods.push(json!({"name": unsubscribe, "description": format!("Closes a {subscribe} subscription."),
            "params": [{"name": "subscriptionId", "required": true, "schema": {"type": "string"}}],
            "result": {"name": "closed", "schema": {"type": "boolean"}}}));
    }
    let schemas: Map<String, Value> = generated
        .definitions
        .iter()
        .map(|(name, schema)| (name.clone(), local(schema)))
        .collect();
    let errors: Map<String, Value> = ErrorKind::ALL
        .iter()
        .map(|kind| {
            let name = serde_json::to_value(kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            (
                name,
                json!({"code": kind.code(), "message": format!("{kind:?}")}),
            )
        })
        .collect();
    json!({
        "openrpc": "1.2.6",
        "info": {"title": "Lightspeed API", "version": format!("{}.0.0", crate::PROTOCOL_VERSION)},
        "methods": methods,
        "components": {"schemas": schemas, "errors": errors},
    })
}

/// The three artifacts as (file name, pretty JSON with a trailing newline).
pub fn artifacts() -> Vec<(&'static str, String)> {
    [
        (SCHEMA_FILE, schema_bundle()),
        (METHODS_FILE, methods_manifest()),
        (OPENRPC_FILE, openrpc()),
    ]
    .into_iter()
    .map(|(name, value)| {
        let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
        text.push('\n');
        (name, text)
    })
    .collect()
}
