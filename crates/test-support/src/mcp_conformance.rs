//! The MCP catalog conformance suite: what every [`McpCatalog`] (in memory, on disk,
//! in Postgres) must do, written once against the trait.
//!
//! The suite may run against a catalog that already holds data, and several times
//! on one: servers and sessions are named uniquely per call, and counts are relative.
//!
//! What this module must not do: depend on a backend or check its layout.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, bail, ensure};
use engine::SessionId;
use engine::store::BlobStore;
use mcp_registry::catalog::SERVERS_MAX;
use mcp_registry::link::LINKS_PER_SESSION_MAX;
use mcp_registry::{
    LinkMode, LinkedTool, McpAuth, McpCatalog, McpCatalogError, McpServerSpec, McpTimeouts,
    McpTransport, PutCondition, ServerName, SessionLink, ToolFilter,
};

fn unique(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos() as u64)
        .unwrap_or_default();
    format!(
        "{prefix}-{:x}-{}",
        nanos & 0xffff_ffff,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn spec(url: &str) -> McpServerSpec {
    McpServerSpec {
        transport: McpTransport::StreamableHttp {
            url: url.to_owned(),
            headers: BTreeMap::from([("X-Tenant".to_owned(), "acme".to_owned())]),
        },
        auth: McpAuth::SecretHeader {
            secret: "token".to_owned(),
            header: "Authorization".to_owned(),
            prefix: "Bearer ".to_owned(),
        },
        tools: ToolFilter {
            allow: vec![],
            deny: vec!["dangerous".to_owned()],
        },
        timeouts: McpTimeouts::default(),
    }
}

/// Runs every check.
pub async fn mcp_catalog_suite<C: McpCatalog, B: BlobStore>(
    catalog: &C,
    blobs: &B,
) -> anyhow::Result<()> {
    servers(catalog).await.context("servers")?;
    links(catalog, blobs).await.context("links")?;
    Ok(())
}

/// Put under each condition, read, list, delete.
pub async fn servers<C: McpCatalog>(catalog: &C) -> anyhow::Result<()> {
    let name = ServerName::new(unique("srv"))?;
    let first = spec("https://mcp.example.com/mcp");
    ensure!(catalog.mcp_server_read(&name).await?.is_none());
    match catalog
        .mcp_server_put(&name, &first, PutCondition::Revision(1), 10, SERVERS_MAX)
        .await
    {
        Err(McpCatalogError::ServerNotFound(_)) => {}
        other => bail!("replacing a missing server: {other:?}"),
    }
    let created = catalog
        .mcp_server_put(&name, &first, PutCondition::Absent, 10, SERVERS_MAX)
        .await?;
    ensure!(created.revision == 1 && created.created_at_ms == 10 && created.spec == first);
    ensure!(catalog.mcp_server_read(&name).await? == Some(created.clone()));
    match catalog
        .mcp_server_put(&name, &first, PutCondition::Absent, 11, SERVERS_MAX)
        .await
    {
        Err(McpCatalogError::Conflict {
            expected: 0,
            actual: 1,
            ..
        }) => {}
        other => bail!("creating an existing server: {other:?}"),
    }
    let second = spec("https://mcp.example.com/v2");
    let replaced = catalog
        .mcp_server_put(&name, &second, PutCondition::Revision(1), 20, SERVERS_MAX)
        .await?;
    ensure!(replaced.revision == 2 && replaced.created_at_ms == 10);
    ensure!(replaced.updated_at_ms == 20 && replaced.spec == second);
    match catalog
        .mcp_server_put(&name, &first, PutCondition::Revision(1), 30, SERVERS_MAX)
        .await
    {
        Err(McpCatalogError::Conflict {
            expected: 1,
            actual: 2,
            ..
        }) => {}
        other => bail!("a stale revision: {other:?}"),
    }
    let any = catalog
        .mcp_server_put(&name, &first, PutCondition::Any, 40, SERVERS_MAX)
        .await?;
    ensure!(any.revision == 3);
    let listed = catalog.mcp_server_list().await?;
    ensure!(listed.iter().any(|server| server == &any));
    ensure!(
        listed.windows(2).all(|pair| pair[0].name < pair[1].name),
        "list is ordered by name"
    );
    // The bound counts what the universe holds.
    let other = ServerName::new(unique("srv"))?;
    match catalog
        .mcp_server_put(&other, &first, PutCondition::Any, 50, listed.len())
        .await
    {
        Err(McpCatalogError::TooMany { .. }) => {}
        other => bail!("beyond servers_max: {other:?}"),
    }
    // Replacing is not adding: allowed at the bound.
    catalog
        .mcp_server_put(&name, &first, PutCondition::Any, 60, listed.len())
        .await?;
    ensure!(catalog.mcp_server_delete(&name).await?);
    ensure!(!catalog.mcp_server_delete(&name).await?);
    ensure!(catalog.mcp_server_read(&name).await?.is_none());
    Ok(())
}

/// Links per session: put, replace, list in order, delete, the bound.
pub async fn links<C: McpCatalog, B: BlobStore>(catalog: &C, blobs: &B) -> anyhow::Result<()> {
    let session = SessionId::new(unique("session"))?;
    let other_session = SessionId::new(unique("session"))?;
    let definition_ref = blobs.put(b"{\"name\":\"x\"}".to_vec()).await?;
    let link = |server: &ServerName, tools: &[&str]| SessionLink {
        server: server.clone(),
        mode: LinkMode::Client,
        server_revision: 1,
        tools: tools
            .iter()
            .map(|tool| LinkedTool {
                name: mcp_registry::tool_name(server, tool),
                tool: (*tool).to_owned(),
                definition_ref: definition_ref.clone(),
            })
            .collect(),
        skipped: vec![],
        linked_at_ms: 5,
    };
    ensure!(catalog.mcp_link_list(&session).await?.is_empty());
    let b = ServerName::new("b-server")?;
    let a = ServerName::new("a-server")?;
    catalog
        .mcp_link_put(&session, &link(&b, &["echo"]), LINKS_PER_SESSION_MAX)
        .await?;
    catalog
        .mcp_link_put(&session, &link(&a, &["add", "echo"]), LINKS_PER_SESSION_MAX)
        .await?;
    let listed = catalog.mcp_link_list(&session).await?;
    ensure!(
        listed.iter().map(|l| l.server.as_str()).collect::<Vec<_>>() == ["a-server", "b-server"]
    );
    ensure!(listed[0] == link(&a, &["add", "echo"]));
    ensure!(catalog.mcp_link_list(&other_session).await?.is_empty());
    // Replacing the link to a server is allowed at the bound; a new one is not.
    catalog
        .mcp_link_put(&session, &link(&b, &["echo", "add"]), 2)
        .await?;
    ensure!(catalog.mcp_link_list(&session).await?[1].tools.len() == 2);
    match catalog
        .mcp_link_put(&session, &link(&ServerName::new("c")?, &[]), 2)
        .await
    {
        Err(McpCatalogError::TooMany { .. }) => {}
        other => bail!("beyond links_max: {other:?}"),
    }
    ensure!(catalog.mcp_link_delete(&session, &a).await?);
    ensure!(!catalog.mcp_link_delete(&session, &a).await?);
    ensure!(!catalog.mcp_link_delete(&other_session, &b).await?);
    ensure!(catalog.mcp_link_list(&session).await?.len() == 1);
    Ok(())
}

#[cfg(test)]
mod tests {
    use engine::memory::MemoryStore;
    use mcp_registry::memory::MemoryMcpCatalog;

    #[tokio::test]
    async fn the_memory_catalog_conforms() {
        let (catalog, blobs) = (MemoryMcpCatalog::default(), MemoryStore::default());
        super::mcp_catalog_suite(&catalog, &blobs).await.unwrap();
        super::mcp_catalog_suite(&catalog, &blobs).await.unwrap();
    }
}
