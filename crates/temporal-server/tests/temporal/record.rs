//! Recording replay fixtures: with `LIGHTSPEED_RECORD_HISTORIES=1`, the live tests
//! that call [`Env::record_history`] write their session workflow's history to
//! `crates/temporal-server/tests/histories/NAME.json`, which `tests/all/replay.rs`
//! replays against the current workflow code without a server (docs/spec/workflow.md,
//! "Changing the workflow"). Payloads the seam codec spilled to the CAS are put back
//! inline, so a fixture needs no store.

use std::collections::HashMap;
use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use prost::Message as _;
use serde_json::Value;
use temporal_server::seam;
use temporalio_common::protos::temporal::api::common::v1::Payload;
use temporalio_common::protos::temporal::api::history::v1::History;

use crate::harness::Env;

/// Where fixtures live.
pub(crate) fn histories_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/histories")
}

/// The `sha256:` ref a payload object stands for, if the seam codec spilled it.
fn spilled_ref(object: &serde_json::Map<String, Value>) -> Option<String> {
    let encoding = object.get("metadata")?.get("encoding")?.as_str()?;
    let encoding = STANDARD.decode(encoding).ok()?;
    if encoding != seam::SPILLED_ENCODING.as_bytes() {
        return None;
    }
    let data = STANDARD.decode(object.get("data")?.as_str()?).ok()?;
    String::from_utf8(data).ok()
}

fn collect_refs(value: &Value, refs: &mut Vec<String>) {
    match value {
        Value::Object(object) => match spilled_ref(object) {
            Some(blob) => refs.push(blob),
            None => object.values().for_each(|v| collect_refs(v, refs)),
        },
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, refs)),
        _ => {}
    }
}

fn replace_refs(value: &mut Value, payloads: &HashMap<String, Value>) {
    match value {
        Value::Object(object) => {
            if let Some(blob) = spilled_ref(object) {
                *value = payloads[&blob].clone();
                return;
            }
            object.values_mut().for_each(|v| replace_refs(v, payloads));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| replace_refs(v, payloads)),
        _ => {}
    }
}

/// Whether fixtures are being recorded (`LIGHTSPEED_RECORD_HISTORIES` is set).
pub(crate) fn recording() -> bool {
    std::env::var_os("LIGHTSPEED_RECORD_HISTORIES").is_some()
}

impl Env {
    /// Writes `session`'s current workflow history as fixture `name` when
    /// recording; does nothing otherwise.
    pub(crate) async fn record_history(&self, session: &engine::SessionId, name: &str) {
        if !recording() {
            return;
        }
        let stores = session_stores::FsStores::new(self.data.path());
        let seam_store = session_stores::StoreProvider::store(&stores, seam::SEAM_UNIVERSE_ID)
            .await
            .unwrap();
        write_fixture(self.history(session).await, &*seam_store, name).await;
    }
}

/// Writes `events` as fixture `name`, with the payloads spilled to `seam_store` (the
/// seam universe's CAS) put back inline.
pub(crate) async fn write_fixture(
    events: Vec<temporalio_common::protos::temporal::api::history::v1::HistoryEvent>,
    seam_store: &impl engine::store::BlobStore,
    name: &str,
) {
    let history = History { events };
    let mut json = serde_json::to_value(&history).unwrap();
    let mut refs = Vec::new();
    collect_refs(&json, &mut refs);
    let mut payloads = HashMap::new();
    for blob in refs {
        let bytes = seam_store
            .get(&engine::BlobRef::parse(&blob).unwrap())
            .await
            .unwrap();
        let payload = Payload::decode(bytes.as_slice()).unwrap();
        payloads.insert(blob, serde_json::to_value(&payload).unwrap());
    }
    replace_refs(&mut json, &payloads);
    std::fs::create_dir_all(histories_dir()).unwrap();
    let path = histories_dir().join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
    eprintln!("recorded {}", path.display());
}
