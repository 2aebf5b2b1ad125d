//! `GET /auth/callback`: where an authorization server sends the user's browser back
//! (`?code=…&state=…` or `?error=…&state=…`). It carries no API key: the flow's
//! `state` names the universe, and the backend verifies it (constant time, single
//! use). The gateway only bounds the request and relays it; the answer is one line
//! of plain text for the browser, never a token.

use std::sync::Arc;

use api::LightspeedApi;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::blobs::status_of;

/// Longest query value accepted (codes and states are far shorter).
const VALUE_BYTES_MAX: usize = 4_096;
/// Callbacks served at once: each costs the backend a store read, and anyone can
/// send one.
pub(crate) const CALLBACKS_IN_FLIGHT_MAX: usize = 16;

#[derive(Debug, Deserialize)]
pub(crate) struct CallbackQuery {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
}

pub(crate) async fn auth_callback<A: LightspeedApi>(
    State(api): State<Arc<A>>,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let too_long = [&query.state, &query.code, &query.error]
        .iter()
        .any(|value| value.as_ref().is_some_and(|v| v.len() > VALUE_BYTES_MAX));
    if too_long {
        return text(
            StatusCode::BAD_REQUEST,
            "the callback's parameters are too long",
        );
    }
    match api
        .auth_callback(query.state, query.code, query.error)
        .await
    {
        Ok(message) => text(StatusCode::OK, &message),
        // A server fault's detail is for the log (the service logged it), not the page.
        Err(error) if error.kind() == api::ErrorKind::Internal => {
            text(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
        Err(error) => text(status_of(error.kind()), &error.message),
    }
}

fn text(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{message}\n"),
    )
        .into_response()
}
