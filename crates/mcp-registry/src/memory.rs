//! The reference [`McpCatalog`]: maps behind a mutex.

use std::collections::BTreeMap;
use std::sync::Mutex;

use engine::SessionId;

use crate::catalog::{McpCatalog, PutCondition, check_links, decide_put};
use crate::error::McpCatalogError;
use crate::link::SessionLink;
use crate::server::{McpServer, McpServerSpec, ServerName};

#[derive(Debug, Default)]
pub struct MemoryMcpCatalog {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    servers: BTreeMap<ServerName, McpServer>,
    links: BTreeMap<SessionId, BTreeMap<ServerName, SessionLink>>,
}

impl MemoryMcpCatalog {
    fn with<T>(&self, work: impl FnOnce(&mut Inner) -> T) -> T {
        // A panic while holding the lock leaves maps that are still whole (every
        // change is one insert or remove), so a poisoned lock is safe to reuse.
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        work(&mut inner)
    }
}

impl McpCatalog for MemoryMcpCatalog {
    async fn mcp_server_put(
        &self,
        name: &ServerName,
        spec: &McpServerSpec,
        condition: PutCondition,
        now_ms: u64,
        servers_max: usize,
    ) -> Result<McpServer, McpCatalogError> {
        self.with(|inner| {
            let server = decide_put(
                name,
                spec,
                inner.servers.get(name),
                condition,
                now_ms,
                inner.servers.len(),
                servers_max,
            )?;
            inner.servers.insert(name.clone(), server.clone());
            Ok(server)
        })
    }

    async fn mcp_server_read(
        &self,
        name: &ServerName,
    ) -> Result<Option<McpServer>, McpCatalogError> {
        Ok(self.with(|inner| inner.servers.get(name).cloned()))
    }

    async fn mcp_server_list(&self) -> Result<Vec<McpServer>, McpCatalogError> {
        Ok(self.with(|inner| inner.servers.values().cloned().collect()))
    }

    async fn mcp_server_delete(&self, name: &ServerName) -> Result<bool, McpCatalogError> {
        Ok(self.with(|inner| inner.servers.remove(name).is_some()))
    }

    async fn mcp_link_put(
        &self,
        session: &SessionId,
        link: &SessionLink,
        links_max: usize,
    ) -> Result<(), McpCatalogError> {
        self.with(|inner| {
            let links = inner.links.entry(session.clone()).or_default();
            check_links(links.len(), links.contains_key(&link.server), links_max)?;
            links.insert(link.server.clone(), link.clone());
            Ok(())
        })
    }

    async fn mcp_link_list(
        &self,
        session: &SessionId,
    ) -> Result<Vec<SessionLink>, McpCatalogError> {
        Ok(self.with(|inner| {
            inner
                .links
                .get(session)
                .map(|links| links.values().cloned().collect())
                .unwrap_or_default()
        }))
    }

    async fn mcp_link_delete(
        &self,
        session: &SessionId,
        server: &ServerName,
    ) -> Result<bool, McpCatalogError> {
        Ok(self.with(|inner| {
            inner
                .links
                .get_mut(session)
                .is_some_and(|links| links.remove(server).is_some())
        }))
    }
}
