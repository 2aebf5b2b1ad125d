//! The MCP catalog on disk: the shared conformance suite, and records that survive a
//! reopen.

use mcp_registry::{McpCatalog, ServerName};

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn mcp_catalog_conforms_and_survives_a_reopen() {
    let (dir, store) = store();
    test_support::mcp_conformance::mcp_catalog_suite(&store, &store)
        .await
        .unwrap();
    let reopened = FsStore::open(dir.path()).unwrap();
    test_support::mcp_conformance::mcp_catalog_suite(&reopened, &reopened)
        .await
        .unwrap();
    // Links written through one instance are read by the other.
    let session = engine::SessionId::new("s").unwrap();
    let link = mcp_registry::SessionLink {
        server: ServerName::new("x").unwrap(),
        mode: mcp_registry::LinkMode::Client,
        server_revision: 1,
        tools: vec![],
        skipped: vec![],
        linked_at_ms: 1,
    };
    store.mcp_link_put(&session, &link, 4).await.unwrap();
    assert_eq!(reopened.mcp_link_list(&session).await.unwrap(), vec![link]);
}
