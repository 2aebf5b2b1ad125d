//! The MCP catalog in Postgres: the shared conformance suite, the server bound under
//! concurrent creates, and universes that never see each other's records.

use futures::future::join_all;
use mcp_registry::catalog::PutCondition;
use mcp_registry::{McpCatalog, McpCatalogError, McpServerSpec, McpTransport, ServerName};

use crate::support::Services;

#[tokio::test(flavor = "multi_thread")]
async fn mcp_catalog_suite_passes() {
    let Some(services) = Services::from_env("mcp_catalog_suite_passes") else {
        return;
    };
    let (_db, store) = services.store().await;
    test_support::mcp_conformance::mcp_catalog_suite(&store, &store)
        .await
        .unwrap();
    test_support::mcp_conformance::mcp_catalog_suite(&store, &store)
        .await
        .unwrap();
}

fn spec() -> McpServerSpec {
    McpServerSpec {
        transport: McpTransport::StreamableHttp {
            url: "https://mcp.example.com/mcp".into(),
            headers: Default::default(),
        },
        auth: Default::default(),
        tools: Default::default(),
        timeouts: Default::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_keep_the_bound_and_universes_apart() {
    let Some(services) = Services::from_env("concurrent_creates_keep_the_bound") else {
        return;
    };
    let (_db, store) = services.store().await;
    let (_other_db, other) = services.store().await;
    let puts = (0..12).map(|i| {
        let store = &store;
        async move {
            let name = ServerName::new(format!("s{i}")).unwrap();
            store
                .mcp_server_put(&name, &spec(), PutCondition::Absent, 1, 5)
                .await
        }
    });
    let results = join_all(puts).await;
    let created = results.iter().filter(|result| result.is_ok()).count();
    assert_eq!(created, 5, "{results:?}");
    assert!(
        results
            .iter()
            .all(|result| matches!(result, Ok(_) | Err(McpCatalogError::TooMany { .. })))
    );
    assert_eq!(store.mcp_server_list().await.unwrap().len(), 5);
    assert!(other.mcp_server_list().await.unwrap().is_empty());
    let name = ServerName::new("s0").unwrap();
    assert!(other.mcp_server_read(&name).await.unwrap().is_none());
    assert!(!other.mcp_server_delete(&name).await.unwrap());
}
