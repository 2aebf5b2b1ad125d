//! API conformance cases, blobs: inline `blob/put|get|has_many` and the raw `PUT/GET /blobs/{ref}` routes,
//! content-addressed and idempotent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use serde_json::json;

use super::client::Harness;
use super::{Case, GET_BLOB_ROUTE, PUT_BLOB_ROUTE, case};

pub(super) const CASES: [Case; 3] = [
    case!(
        pins_are_kept_listed_and_removed,
        ["blob/put", "blob/pin", "blob/unpin", "blob/pins/list"]
    ),
    case!(
        blobs_round_trip_inline,
        ["blob/put", "blob/get", "blob/has_many"]
    ),
    case!(
        raw_blob_routes_round_trip,
        [PUT_BLOB_ROUTE, GET_BLOB_ROUTE, "blob/has_many", "blob/get"]
    ),
];

/// A well-formed ref no test ever stores.
fn absent_ref() -> String {
    format!("sha256:{}", "0".repeat(64))
}

pub(super) async fn blobs_round_trip_inline(h: Harness) -> anyhow::Result<()> {
    let ctx = h.start(json!({"turns": []})).await?;
    let a = ctx.a();
    let bytes = b"hello, blobs\n";
    let data = base64::engine::general_purpose::STANDARD.encode(bytes);
    let put = a.call("blob/put", json!({"dataBase64": data})).await;
    let expected_ref = engine::BlobRef::of_bytes(bytes).to_string();
    assert_eq!(
        put["blobRef"],
        expected_ref.as_str(),
        "the ref is the content's sha256"
    );
    assert_eq!(put["sizeBytes"], bytes.len());
    let again = a.call("blob/put", json!({"dataBase64": data})).await;
    assert_eq!(again, put, "putting the same bytes again is the same blob");
    let got = a.call("blob/get", json!({"blobRef": expected_ref})).await;
    assert_eq!(got["dataBase64"], data.as_str());
    assert_eq!(got["blobRef"], expected_ref.as_str());
    let empty = a.call("blob/put", json!({"dataBase64": ""})).await;
    assert_eq!(empty["sizeBytes"], 0);

    let absent = absent_ref();
    let has = a
        .call("blob/has_many", json!({"blobRefs": [absent, expected_ref]}))
        .await;
    assert_eq!(has["present"], json!([expected_ref]));
    assert_eq!(has["missing"], json!([absent]));
    let none = a.call("blob/has_many", json!({"blobRefs": []})).await;
    assert_eq!(none, json!({"present": [], "missing": []}));

    a.refused(
        "blob/get",
        json!({"blobRef": absent}),
        -32004,
        "blobNotFound",
    )
    .await;
    a.invalid(
        "blob/get",
        json!({"blobRef": "sha256:XYZ"}),
        "blobRef",
        Some("invalidBlobRef"),
    )
    .await;
    a.invalid(
        "blob/has_many",
        json!({"blobRefs": ["md5:abc"]}),
        "blobRef",
        Some("invalidBlobRef"),
    )
    .await;
    a.invalid(
        "blob/put",
        json!({"dataBase64": "not base64!"}),
        "dataBase64",
        None,
    )
    .await;
    a.invalid("blob/put", json!({}), "dataBase64", None).await;
    Ok(())
}

pub(super) async fn raw_blob_routes_round_trip(h: Harness) -> anyhow::Result<()> {
    let ctx = h.start(json!({"turns": []})).await?;
    let key = ctx.stack().a.api_key.clone();
    // Bigger than one frame and than the small inline blobs, well under the limits.
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let blob_ref = engine::BlobRef::of_bytes(&bytes).to_string();
    let (status, body) = ctx.put_blob_raw(Some(&key), &blob_ref, bytes.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["blobRef"], blob_ref.as_str());
    assert_eq!(body["sizeBytes"], bytes.len());
    let (status, again) = ctx.put_blob_raw(Some(&key), &blob_ref, bytes.clone()).await;
    assert_eq!((status, &again), (200, &body), "idempotent");
    let (status, got) = ctx.get_blob_raw(Some(&key), &blob_ref).await;
    assert_eq!(status, 200);
    assert!(got == bytes, "GET returns the bytes PUT stored");

    // What the raw route stored, the JSON-RPC methods see.
    let a = ctx.a();
    let has = a
        .call("blob/has_many", json!({"blobRefs": [blob_ref]}))
        .await;
    assert_eq!(has["present"], json!([blob_ref]));
    let inline = a.call("blob/get", json!({"blobRef": blob_ref})).await;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(inline["dataBase64"].as_str().unwrap())
        .unwrap();
    assert!(decoded == bytes);

    // Refusals carry the JSON-RPC error object with the same data.
    let other = engine::BlobRef::of_bytes(b"other").to_string();
    let (status, body) = ctx.put_blob_raw(Some(&key), &other, bytes.clone()).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], -32602);
    assert_eq!(body["error"]["data"]["reason"], "digestMismatch");
    let (status, body) = ctx.put_blob_raw(Some(&key), "sha256:nope", vec![1]).await;
    assert_eq!(
        (status, &body["error"]["data"]["reason"]),
        (400, &json!("invalidBlobRef"))
    );
    let (status, body) = ctx.get_blob_raw(Some(&key), &absent_ref()).await;
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], -32004);
    assert_eq!(body["error"]["data"]["reason"], "blobNotFound");
    let (status, body) = ctx.put_blob_raw(None, &blob_ref, bytes).await;
    assert_eq!(
        (status, &body["error"]["data"]["reason"]),
        (401, &json!("missingKey"))
    );
    let (status, _) = ctx
        .get_blob_raw(Some("lsk_not-a-real-key"), &blob_ref)
        .await;
    assert_eq!(status, 401);
    Ok(())
}

pub(super) async fn pins_are_kept_listed_and_removed(h: Harness) -> anyhow::Result<()> {
    let ctx = h.start(json!({"turns": []})).await?;
    let (a, b) = (ctx.a(), ctx.b());
    let data = base64::engine::general_purpose::STANDARD.encode(b"pin me");
    let put = a.call("blob/put", json!({"dataBase64": data})).await;
    let blob = put["blobRef"].as_str().unwrap().to_owned();
    let listed = a.call("blob/pins/list", json!({})).await;
    assert_eq!(listed["pins"], json!([]), "no pins at first");

    let pin = a.call("blob/pin", json!({"blobRef": blob})).await;
    assert_eq!(pin["blobRef"], blob.as_str());
    let at = pin["pinnedAtMs"].as_u64().unwrap();
    assert!(at > 0);
    let again = a.call("blob/pin", json!({"blobRef": blob})).await;
    assert_eq!(again["pinnedAtMs"], at, "a repeated pin keeps its time");
    let listed = a.call("blob/pins/list", json!({})).await;
    assert_eq!(listed["pins"], json!([{"blobRef": blob, "pinnedAtMs": at}]));

    // Refusals: a blob the universe does not hold (here, or only in another), a
    // malformed ref.
    a.refused(
        "blob/pin",
        json!({"blobRef": absent_ref()}),
        -32004,
        "blobNotFound",
    )
    .await;
    b.refused("blob/pin", json!({"blobRef": blob}), -32004, "blobNotFound")
        .await;
    a.invalid(
        "blob/pin",
        json!({"blobRef": "sha256:xyz"}),
        "blobRef",
        Some("invalidBlobRef"),
    )
    .await;
    let b_pins = b.call("blob/pins/list", json!({})).await;
    assert_eq!(b_pins["pins"], json!([]), "pins stay in their universe");

    let unpinned = a.call("blob/unpin", json!({"blobRef": blob})).await;
    assert_eq!(unpinned, json!({"blobRef": blob, "unpinned": true}));
    let unpinned = a.call("blob/unpin", json!({"blobRef": blob})).await;
    assert_eq!(unpinned["unpinned"], false, "nothing left to unpin");
    let listed = a.call("blob/pins/list", json!({})).await;
    assert_eq!(listed["pins"], json!([]));
    Ok(())
}
