//! API inputs to engine values. Every function validates fully and fails with an
//! [`ApiError`] whose kind and `reason` clients can branch on; nothing here touches a
//! store, so the backend does its I/O (CAS writes, existence checks) only with
//! already-valid values.

mod ceilings;
mod config;
mod cost;
mod policy;
mod rejection;
mod routes;

use api::ApiError;
use api::types::run::InputItem;
use engine::core::limits::INPUT_ITEMS_MAX;
use engine::ids::IdError;
use engine::{BlobRef, RunId, SessionId, SubmissionId};

pub use ceilings::ConfigCeilings;
pub(crate) use config::session_budget_view;
pub use config::{PreparedSession, config_patch, prepare_session, run_overrides};
pub use cost::nanos_to_usd;
pub use policy::{tool_policy, tool_policy_view};
pub use rejection::{rejection, rejection_error, rejection_kind};
pub use routes::{apply_models_to_patch, apply_models_to_session, check_run_models};

/// Inline text (the backend writes it to the CAS) or a ref to a text blob already
/// there (the backend checks it exists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextOrRef {
    Text(String),
    Ref(BlobRef),
}

/// One validated piece of run or steer input. The backend writes `Text` to the CAS,
/// checks that refs exist, and builds `ItemSpec { kind: UserMessage, .. }` from each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreparedInput {
    Text(String),
    /// A UTF-8 text blob.
    TextRef(BlobRef),
    /// An image (PNG, JPEG, GIF, WebP) or PDF blob.
    Media(BlobRef),
}

/// Validates run or steer input: 1 to 64 items, no empty text, well-formed refs.
pub fn prepare_input(items: &[InputItem]) -> Result<Vec<PreparedInput>, ApiError> {
    if items.is_empty() {
        return Err(invalid_input("input must hold at least one item"));
    }
    if items.len() > INPUT_ITEMS_MAX {
        return Err(invalid_input(format!(
            "input has {} items; at most {INPUT_ITEMS_MAX} are allowed",
            items.len()
        )));
    }
    items
        .iter()
        .enumerate()
        .map(|(index, item)| match item {
            InputItem::Text { text } if text.is_empty() => Err(invalid_input(format!(
                "input[{index}].text must not be empty"
            ))),
            InputItem::Text { text } => Ok(PreparedInput::Text(text.clone())),
            InputItem::TextRef { blob_ref } => {
                parse_ref(&format!("input[{index}].blobRef"), blob_ref).map(PreparedInput::TextRef)
            }
            InputItem::Media { blob_ref } => {
                parse_ref(&format!("input[{index}].blobRef"), blob_ref).map(PreparedInput::Media)
            }
        })
        .collect()
}

/// Parses a client-supplied session id.
pub fn session_id(raw: &str) -> Result<SessionId, ApiError> {
    SessionId::new(raw).map_err(|err| invalid_id("sessionId", &err))
}

/// Parses a client-supplied run id.
pub fn run_id(raw: &str) -> Result<RunId, ApiError> {
    RunId::new(raw).map_err(|err| invalid_id("runId", &err))
}

/// Parses a client-supplied submission id.
pub fn submission_id(raw: &str) -> Result<SubmissionId, ApiError> {
    SubmissionId::new(raw).map_err(|err| invalid_id("submissionId", &err))
}

/// Parses a client-supplied blob ref (`sha256:` + 64 lowercase hex digits).
pub fn blob_ref(raw: &str) -> Result<BlobRef, ApiError> {
    parse_ref("blobRef", raw)
}

fn parse_ref(field: &str, raw: &str) -> Result<BlobRef, ApiError> {
    BlobRef::parse(raw).map_err(|err| {
        ApiError::invalid_params(format!("{field}: {err}")).with_reason("invalidBlobRef")
    })
}

fn invalid_id(field: &str, err: &IdError) -> ApiError {
    ApiError::invalid_params(format!("{field}: {err}")).with_reason("invalidId")
}

fn invalid_input(message: impl Into<String>) -> ApiError {
    ApiError::invalid_params(message).with_reason("invalidInput")
}

#[cfg(test)]
mod tests {
    use api::ErrorKind;

    use super::*;

    const REF: &str = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    fn text(value: &str) -> InputItem {
        InputItem::Text { text: value.into() }
    }

    #[test]
    fn input_items_map_one_to_one() {
        let items = [
            text("hi"),
            InputItem::TextRef {
                blob_ref: REF.into(),
            },
            InputItem::Media {
                blob_ref: REF.into(),
            },
        ];
        let blob = BlobRef::parse(REF).unwrap();
        assert_eq!(
            prepare_input(&items).unwrap(),
            [
                PreparedInput::Text("hi".into()),
                PreparedInput::TextRef(blob.clone()),
                PreparedInput::Media(blob),
            ]
        );
    }

    #[test]
    fn input_bounds_and_refs_are_checked() {
        let refused = |items: &[InputItem]| {
            let err = prepare_input(items).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidParams, "{err}");
            err
        };
        refused(&[]);
        refused(&vec![text("x"); INPUT_ITEMS_MAX + 1]);
        assert_eq!(
            prepare_input(&vec![text("x"); INPUT_ITEMS_MAX])
                .unwrap()
                .len(),
            64
        );
        refused(&[text("")]);
        let err = refused(&[
            text("ok"),
            InputItem::Media {
                blob_ref: "sha256:ABC".into(),
            },
        ]);
        assert!(err.message.starts_with("input[1].blobRef"), "{err}");
        assert_eq!(err.data.reason.as_deref(), Some("invalidBlobRef"));
    }

    #[test]
    fn ids_and_refs_are_validated() {
        assert_eq!(session_id("s-1").unwrap().as_str(), "s-1");
        assert_eq!(run_id("run_3").unwrap(), RunId::from_ordinal(3));
        assert_eq!(submission_id("sub:1").unwrap().as_str(), "sub:1");
        assert_eq!(blob_ref(REF).unwrap().as_str(), REF);
        for err in [
            session_id("a/b").unwrap_err(),
            session_id("").unwrap_err(),
            run_id(&"r".repeat(300)).unwrap_err(),
            submission_id("has space").unwrap_err(),
            blob_ref("md5:00").unwrap_err(),
            blob_ref(&REF.to_uppercase()).unwrap_err(),
        ] {
            assert_eq!(err.kind(), ErrorKind::InvalidParams, "{err}");
        }
        assert_eq!(
            session_id("a/b").unwrap_err().data.reason.as_deref(),
            Some("invalidId")
        );
    }
}
