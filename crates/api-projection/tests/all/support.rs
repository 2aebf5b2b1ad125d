//! A minimal host: drives a `Drive<SessionState>`, commits every append to an
//! in-memory log, and keeps blobs in a `MemoryStore`.

use std::sync::OnceLock;

use api::types::session::{FilesystemMode, SessionStartParams, SessionView};
use api_projection::{PreparedInput, TextOrRef};
use engine::core::admit::Admitted;
use engine::core::command::{CoreCommand, Rejection};
use engine::core::context::{ItemKind, ItemSpec};
use engine::core::control::ControlState;
use engine::core::state::SessionState;
use engine::drive::{Action, Drive};
use engine::memory::MemoryStore;
use engine::store::BlobStore;
use engine::{BlobRef, LogEntry, SessionId};
use llm_runtime::content::OutputItemBlob;
use serde::Serialize;
use serde_json::Value;

pub(crate) struct Host {
    pub(crate) session_id: SessionId,
    pub(crate) filesystem: FilesystemMode,
    pub(crate) drive: Drive<SessionState>,
    pub(crate) blobs: MemoryStore,
    /// Every committed entry, in order.
    pub(crate) log: Vec<LogEntry>,
    clock_ms: u64,
}

impl Host {
    /// Opens a session from `session/start` params, as a backend would.
    pub(crate) async fn open(params: &SessionStartParams) -> Self {
        let prepared = api_projection::prepare_session(params).unwrap();
        let mut host = Self {
            session_id: prepared
                .session_id
                .unwrap_or_else(|| SessionId::new("s-test").unwrap()),
            filesystem: prepared.filesystem,
            drive: Drive::new(SessionState::default()),
            blobs: MemoryStore::new(),
            log: Vec::new(),
            clock_ms: 1_767_225_600_000,
        };
        let instructions = match prepared.instructions {
            Some(TextOrRef::Text(text)) => Some(host.put(text).await),
            Some(TextOrRef::Ref(blob)) => Some(blob),
            None => None,
        }
        .map(|blob| ItemSpec::new(ItemKind::Instructions, blob, 10));
        host.admit(CoreCommand::OpenSession {
            session_id: host.session_id.clone(),
            config: prepared.config,
            instructions,
            parent: Default::default(),
        })
        .unwrap();
        host.settle();
        host
    }

    pub(crate) fn tick(&mut self) -> u64 {
        self.clock_ms += 250;
        self.clock_ms
    }

    pub(crate) async fn put(&self, bytes: impl Into<Vec<u8>>) -> BlobRef {
        self.blobs.put(bytes.into()).await.unwrap()
    }

    /// Stores a provider output item in its envelope.
    pub(crate) async fn put_envelope(&self, api_kind: &str, item: Value) -> BlobRef {
        let text = format!(r#"{{"api_kind":"{api_kind}","item":{item}}}"#);
        let envelope: OutputItemBlob = serde_json::from_str(&text).unwrap();
        self.put(envelope.to_bytes().unwrap()).await
    }

    /// Prepared input as `ItemSpec`s, text written to the CAS.
    pub(crate) async fn input(&self, prepared: Vec<PreparedInput>) -> Vec<ItemSpec> {
        let mut specs = Vec::new();
        for input in prepared {
            let blob = match input {
                PreparedInput::Text(text) => self.put(text).await,
                PreparedInput::TextRef(blob) | PreparedInput::Media(blob) => {
                    assert!(self.blobs.has(&blob).await.unwrap());
                    blob
                }
            };
            specs.push(ItemSpec::new(ItemKind::UserMessage, blob, 10));
        }
        specs
    }

    pub(crate) fn admit(&mut self, command: CoreCommand) -> Result<Admitted, Rejection> {
        let at = self.tick();
        self.drive.admit(command, at)
    }

    /// Commits appends until the drive asks for an effect (or has nothing to do).
    pub(crate) fn settle(&mut self) -> Action {
        loop {
            if let Some(action) = self.step() {
                return action;
            }
        }
    }

    /// Commits the next append, or returns the action when it is not one.
    pub(crate) fn step(&mut self) -> Option<Action> {
        match self.drive.next_action() {
            Action::AppendEvents {
                expected_head,
                entries,
            } => {
                assert_eq!(expected_head, self.log.len() as u64);
                self.log.extend(entries);
                self.drive.resume_appended().unwrap();
                None
            }
            action => Some(action),
        }
    }

    pub(crate) fn control(&self) -> &ControlState {
        &self.drive.state().control
    }

    pub(crate) fn session_view(&self) -> SessionView {
        let view = api_projection::session_view(&self.session_id, self.control(), self.filesystem);
        assert_valid("SessionView", &view);
        view
    }

    /// Entries of `kind`, by its short name (`run.started`, ...).
    pub(crate) fn entries(&self, kind: &str) -> Vec<&LogEntry> {
        let kind = format!("lightspeed.core.{kind}");
        self.log
            .iter()
            .filter(|entry| entry.event.kind == kind)
            .collect()
    }
}

fn bundle() -> &'static Value {
    static BUNDLE: OnceLock<Value> = OnceLock::new();
    BUNDLE.get_or_init(api::contract::schema_bundle)
}

/// Fails unless `value` serialises to a document valid against the contract's
/// definition `name`.
#[track_caller]
pub(crate) fn assert_valid<T: Serialize>(name: &str, value: &T) {
    let mut schema = bundle().clone();
    assert!(
        schema["definitions"].get(name).is_some(),
        "no definition {name}"
    );
    schema["$ref"] = Value::String(format!("#/definitions/{name}"));
    let validator = jsonschema::draft7::new(&schema).unwrap();
    let instance = serde_json::to_value(value).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|err| format!("{} at {}", err, err.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{name} is invalid: {errors:#?}\n{instance:#}"
    );
}
