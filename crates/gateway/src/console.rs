//! The web console at `/ui`: static files embedded in the binary, served without a
//! key (the app signs in with one itself, over `/rpc`).
//!
//! The files are the committed build in `crates/gateway/console/` (sources in
//! `interop/console/`, `npm run build`), under stable names so they can be embedded
//! here and a Rust build never needs npm. Routes:
//!
//! | route | answer |
//! | --- | --- |
//! | `GET /ui`, `GET /ui/` | `index.html` |
//! | `GET /ui/assets/{file}` | the embedded asset, or 404 |
//! | `GET /ui/{anything else}` | `index.html` (the app routes on the client) |
//!
//! Every answer carries a strict Content-Security-Policy (scripts, styles and
//! connections to this origin only, plus its WebSocket; no inline code, no framing)
//! and the other hardening headers below. Because the names carry no content hash,
//! caches must revalidate (`no-cache`) and get an `ETag` to do it cheaply.
//!
//! What this module must not do: read anything from disk at run time, or serve a
//! path it does not embed.

use std::sync::OnceLock;

use axum::Router;
use axum::extract::Path;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, HeaderName, IF_NONE_MATCH,
    REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

/// Where the console lives; the app is built with this base.
pub(crate) const BASE_PATH: &str = "/ui";

/// `connect-src` names `ws:`/`wss:` because CSP level 3's `'self'` covering the
/// same-origin WebSocket is not in every browser yet.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self' ws: wss:; object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const INDEX: Asset = Asset {
    name: "index.html",
    content_type: "text/html; charset=utf-8",
    bytes: include_bytes!("../console/index.html"),
};

/// Everything under `assets/`, by file name.
const ASSETS: &[Asset] = &[
    Asset {
        name: "console.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../console/assets/console.js"),
    },
    Asset {
        name: "console.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../console/assets/console.css"),
    },
];

/// The console's routes; merged into the gateway's router, outside its key check.
pub(crate) fn routes() -> Router {
    Router::new()
        .route(BASE_PATH, get(index))
        .route(&format!("{BASE_PATH}/"), get(index))
        .route(&format!("{BASE_PATH}/assets/{{*file}}"), get(asset))
        .route(&format!("{BASE_PATH}/{{*route}}"), get(index))
}

async fn index(headers: HeaderMap) -> Response {
    serve(&INDEX, &headers)
}

async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    match ASSETS.iter().find(|asset| asset.name == file) {
        Some(asset) => serve(asset, &headers),
        None => with_security_headers(
            (
                StatusCode::NOT_FOUND,
                [(CONTENT_TYPE, "text/plain; charset=utf-8")],
                "no such console asset",
            )
                .into_response(),
        ),
    }
}

fn serve(asset: &'static Asset, request: &HeaderMap) -> Response {
    let etag = etag_of(asset);
    let fresh = request
        .get(IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(CONTENT_TYPE, asset.content_type)], asset.bytes).into_response()
    };
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(ETAG, value);
    }
    with_security_headers(response)
}

/// A strong ETag per embedded file, from its SHA-256, computed once.
fn etag_of(asset: &'static Asset) -> &'static str {
    static TAGS: OnceLock<Vec<(&'static str, String)>> = OnceLock::new();
    let tags = TAGS.get_or_init(|| {
        std::iter::once(&INDEX)
            .chain(ASSETS)
            .map(|asset| {
                let digest = Sha256::digest(asset.bytes);
                (asset.name, format!("\"{}\"", hex::encode(digest)))
            })
            .collect()
    });
    tags.iter()
        .find(|(name, _)| *name == asset.name)
        .map_or("\"\"", |(_, tag)| tag.as_str())
}

fn with_security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let fixed: [(HeaderName, &'static str); 4] = [
        (CONTENT_SECURITY_POLICY, CSP),
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (REFERRER_POLICY, "no-referrer"),
        (X_FRAME_OPTIONS, "DENY"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CSP forbids inline code, so the built index must have none.
    #[test]
    fn index_has_no_inline_script_or_style() {
        let html = String::from_utf8_lossy(INDEX.bytes);
        for tag in html.split("<script").skip(1) {
            let opening = tag.split('>').next().unwrap_or_default();
            assert!(
                opening.contains("src="),
                "inline <script> in index.html: {tag}"
            );
        }
        assert!(!html.contains("<style"), "inline <style> in index.html");
        assert!(!html.contains(" style="), "style attribute in index.html");
    }

    /// Every file index.html names is embedded.
    #[test]
    fn index_references_embedded_assets() {
        let html = String::from_utf8_lossy(INDEX.bytes);
        for asset in ASSETS {
            let path = format!("{BASE_PATH}/assets/{}", asset.name);
            assert!(html.contains(&path), "index.html does not load {path}");
        }
    }
}
