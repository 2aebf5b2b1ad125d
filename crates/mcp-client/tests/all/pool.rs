use std::collections::BTreeMap;

use mcp_client::{Credential, ErrorKind, ListLimits};

use crate::support::{echo, everything_bin, http_everything, options, pool};

#[tokio::test]
async fn a_changed_credential_reconnects() {
    let Some(bin) = everything_bin() else { return };
    let server = http_everything(&bin).await;
    let pool = pool();
    let transport = crate::support::http(&server.url);
    let first = Credential::bearer("token-one");
    let second = Credential::bearer("token-two");
    for credential in [&first, &first, &second, &second] {
        pool.call_tool(
            "k",
            &transport,
            Some(credential),
            "echo",
            echo("x"),
            options(20_000),
        )
        .await
        .unwrap();
    }
    assert_eq!(pool.stats().connects_total, 2);
    // A different transport under the same key also reconnects.
    let mut headers = BTreeMap::new();
    headers.insert("X-Tenant".to_owned(), "t1".to_owned());
    let with_header = mcp_client::Transport::StreamableHttp {
        url: server.url.clone(),
        headers,
    };
    pool.list_tools("k", &with_header, Some(&second), &ListLimits::default())
        .await
        .unwrap();
    assert_eq!(pool.stats().connects_total, 3);
}

#[tokio::test]
async fn invalid_transports_are_refused_before_connecting() {
    let pool = pool();
    let mut headers = BTreeMap::new();
    headers.insert("Authorization".to_owned(), "Bearer leaked".to_owned());
    let transport = mcp_client::Transport::StreamableHttp {
        url: "http://127.0.0.1:9/mcp".to_owned(),
        headers,
    };
    let error = pool
        .call_tool("k", &transport, None, "echo", echo("x"), options(1_000))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Invalid);
    assert!(!format!("{error} {error:?}").contains("leaked"));
    assert_eq!(pool.stats().connects_total, 0);
}
