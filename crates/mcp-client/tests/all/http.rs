use mcp_client::{Credential, ErrorKind, ListLimits};

use crate::support::{echo, everything_bin, fake_endpoint, http, http_everything, options, pool};

const SECRET: &str = "sk-live-very-secret-token";

#[tokio::test]
async fn http_everything_scenario() {
    let Some(bin) = everything_bin() else { return };
    let server = http_everything(&bin).await;
    let pool = pool();
    crate::scenario::everything(&pool, "u/everything-http@1", &http(&server.url)).await;
    let stats = pool.stats();
    assert_eq!(stats.connects_total, 1);
    assert_eq!(stats.entries[0].transport, Some("streamable_http"));
}

#[tokio::test]
async fn unauthorized_with_challenge_carries_the_credential_and_hides_it() {
    let endpoint = fake_endpoint(401, &[("www-authenticate", "Bearer realm=\"mcp\"")]).await;
    let pool = pool();
    let credential = Credential::bearer(SECRET);
    let error = pool
        .list_tools(
            "k",
            &http(&endpoint.url),
            Some(&credential),
            &ListLimits::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unauthorized, "{error}");
    assert_eq!(error.http_status(), Some(401));
    assert_eq!(error.code(), "mcp_unauthorized");
    assert!(!error.is_retryable());
    let seen = endpoint.seen.lock().unwrap().clone();
    assert_eq!(
        seen.first().cloned().flatten(),
        Some(format!("Bearer {SECRET}"))
    );
    assert!(!format!("{error} {error:?}").contains(SECRET));
}

#[tokio::test]
async fn forbidden_without_challenge_is_unauthorized() {
    let endpoint = fake_endpoint(403, &[]).await;
    let pool = pool();
    let credential = Credential::new("authorization", SECRET);
    let error = pool
        .call_tool(
            "k",
            &http(&endpoint.url),
            Some(&credential),
            "echo",
            echo("x"),
            options(5_000),
        )
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unauthorized, "{error}");
    assert_eq!(error.http_status(), Some(403));
    assert!(!format!("{error} {error:?}").contains(SECRET));
}

#[tokio::test]
async fn service_unavailable_is_a_retryable_server_error() {
    let endpoint = fake_endpoint(503, &[("retry-after", "1")]).await;
    let pool = pool();
    let credential = Credential::new("x-api-key", SECRET);
    let error = pool
        .call_tool(
            "k",
            &http(&endpoint.url),
            Some(&credential),
            "echo",
            echo("x"),
            options(5_000),
        )
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Server, "{error}");
    assert_eq!(error.http_status(), Some(503));
    assert!(error.is_retryable());
    assert!(!format!("{error} {error:?}").contains(SECRET));
    // A custom credential header reaches the server too (recorded: no Authorization).
    assert_eq!(endpoint.seen.lock().unwrap().first().cloned(), Some(None));
}

#[tokio::test]
async fn connection_refused_is_a_retryable_transport_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let pool = pool();
    let error = pool
        .list_tools(
            "k",
            &http(&format!("http://127.0.0.1:{port}/mcp")),
            None,
            &ListLimits::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Transport, "{error}");
    assert!(error.is_retryable());
}
