//! OpenAI's `POST /v1/audio/transcriptions`, as documented: a `multipart/form-data`
//! body with the audio in `file` and the `model`; the answer (`response_format`
//! `json`, the default) is `{"text": ...}`.
//!
//! The fake cannot hear, so the text is what the audio file carries after
//! `FAKE_TRANSCRIPT=` (a comment tag: `opusenc --comment FAKE_TRANSCRIPT=...`, an
//! ID3 or RIFF `INFO` text), up to the first byte that is not printable ASCII; a
//! file without one is "(N bytes of audio/...)".

use axum::extract::{FromRequest, Multipart, Request};
use serde_json::json;

use super::errors;
use super::reply::{Rendered, request_id};

const MARKER: &[u8] = b"FAKE_TRANSCRIPT=";

pub(crate) async fn render(number: u64, request: Request) -> Rendered {
    let invalid = |message: String| {
        errors::render_own(
            Some(super::request::Api::Responses),
            400,
            "invalid_request_error",
            None,
            &message,
            request_id(number),
        )
    };
    let mut form = match Multipart::from_request(request, &()).await {
        Ok(form) => form,
        Err(error) => return invalid(format!("expected multipart/form-data: {error}")),
    };
    let (mut file, mut model) = (None, None);
    loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(error) => return invalid(format!("malformed multipart body: {error}")),
        };
        let name = field.name().unwrap_or_default().to_owned();
        let content_type = field.content_type().unwrap_or("application/octet-stream");
        let content_type = content_type.to_owned();
        let bytes = match field.bytes().await {
            Ok(bytes) => bytes,
            Err(error) => return invalid(format!("unreadable field {name:?}: {error}")),
        };
        match name.as_str() {
            "file" => file = Some((bytes, content_type)),
            "model" => model = Some(String::from_utf8_lossy(&bytes).into_owned()),
            _ => {}
        }
    }
    let Some((audio, content_type)) = file else {
        return invalid("'file' is a required property".into());
    };
    if model.is_none_or(|model| model.is_empty()) {
        return invalid("'model' is a required property".into());
    }
    let text =
        transcript(&audio).unwrap_or_else(|| format!("({} bytes of {content_type})", audio.len()));
    Rendered::json(200, json!({ "text": text })).with_header("x-request-id", request_id(number))
}

fn transcript(audio: &[u8]) -> Option<String> {
    let start = audio.windows(MARKER.len()).position(|w| w == MARKER)? + MARKER.len();
    let text: Vec<u8> = audio[start..]
        .iter()
        .copied()
        .take_while(|byte| (0x20..0x7f).contains(byte))
        .collect();
    Some(String::from_utf8_lossy(&text).into_owned())
}
