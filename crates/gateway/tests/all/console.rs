//! The web console at `/ui`: embedded files, no key needed, hardening headers on
//! every answer, client-side routes answered with the index.

use reqwest::Response;

use crate::support::start;

async fn get(url: &str) -> Response {
    reqwest::Client::new().get(url).send().await.unwrap()
}

fn header<'a>(response: &'a Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

fn assert_hardened(response: &Response) {
    let csp = header(response, "content-security-policy");
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "connect-src 'self' ws: wss:",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "CSP {csp:?} lacks {directive:?}");
    }
    assert!(
        !csp.contains("unsafe-inline"),
        "CSP allows inline code: {csp}"
    );
    assert_eq!(header(response, "x-content-type-options"), "nosniff");
    assert_eq!(header(response, "referrer-policy"), "no-referrer");
    assert_eq!(header(response, "x-frame-options"), "DENY");
}

#[tokio::test]
async fn the_index_is_served_without_a_key_with_a_strict_csp() {
    let harness = start().await;
    for path in ["/ui", "/ui/"] {
        let response = get(&format!("{}{path}", harness.base_url())).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_hardened(&response);
        assert_eq!(
            header(&response, "content-type"),
            "text/html; charset=utf-8"
        );
        assert_eq!(header(&response, "cache-control"), "no-cache");
        let body = response.text().await.unwrap();
        assert!(body.contains("/ui/assets/console.js"), "{body}");
    }
    assert_eq!(harness.calls(), 0, "static files never reach the backend");
}

#[tokio::test]
async fn assets_have_their_content_types() {
    let harness = start().await;
    for (file, content_type) in [
        ("console.js", "text/javascript; charset=utf-8"),
        ("console.css", "text/css; charset=utf-8"),
    ] {
        let response = get(&format!("{}/ui/assets/{file}", harness.base_url())).await;
        assert_eq!(response.status(), 200, "{file}");
        assert_hardened(&response);
        assert_eq!(header(&response, "content-type"), content_type);
        assert!(
            !response.bytes().await.unwrap().is_empty(),
            "{file} is empty"
        );
    }
}

#[tokio::test]
async fn an_unknown_asset_is_404() {
    let harness = start().await;
    // An encoded `../` reaches the handler as a name, which is not embedded.
    for path in [
        "/ui/assets/nope.js",
        "/ui/assets/a/console.css",
        "/ui/assets/..%2Findex.html",
    ] {
        let response = get(&format!("{}{path}", harness.base_url())).await;
        assert_eq!(response.status(), 404, "{path}");
        assert_hardened(&response);
    }
}

#[tokio::test]
async fn a_deep_link_returns_the_index() {
    let harness = start().await;
    let index = get(&format!("{}/ui/", harness.base_url()))
        .await
        .text()
        .await
        .unwrap();
    for path in ["/ui/sessions/demo", "/ui/keys", "/ui/sessions/a%20b"] {
        let response = get(&format!("{}{path}", harness.base_url())).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_hardened(&response);
        assert_eq!(response.text().await.unwrap(), index, "{path}");
    }
}

#[tokio::test]
async fn a_matching_etag_gets_304() {
    let harness = start().await;
    let url = format!("{}/ui/assets/console.js", harness.base_url());
    let first = get(&url).await;
    let etag = header(&first, "etag").to_owned();
    let again = reqwest::Client::new()
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(header(&again, "etag"), etag);
    assert_hardened(&again);
}

#[tokio::test]
async fn other_methods_are_refused() {
    let harness = start().await;
    let response = reqwest::Client::new()
        .post(format!("{}/ui/", harness.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
}
