//! The MCP catalog on disk: the universe's servers as one record, each session's
//! links as one record.
//!
//! ```text
//! mcp/servers.json          {"<name>": <McpServer>, …}
//! mcp/servers.lock
//! mcp/links/<session>.json  {"<server>": <SessionLink>, …}
//! mcp/links/<session>.lock
//! ```
//!
//! One record for all servers (at most `SERVERS_MAX`, a few KiB each) so the bound on
//! their number is checked under the same lock as the put that would break it. Every
//! change takes the record's lock, reads, decides (`mcp_registry::catalog`'s shared
//! decisions) and replaces the file atomically, as the VFS catalog does.

use std::collections::BTreeMap;
use std::path::Path;

use engine::SessionId;
use mcp_registry::catalog::{check_links, decide_put};
use mcp_registry::{
    McpCatalog, McpCatalogError, McpServer, McpServerSpec, PutCondition, ServerName, SessionLink,
};

use crate::record::{Record, run};
use crate::{FsStore, session_dir_name};

const MCP_DIR: &str = "mcp";
const LINKS_DIR: &str = "mcp/links";

fn servers_record(root: &Path) -> Record {
    Record::at(root.join(MCP_DIR), "servers")
}

fn links_record(root: &Path, session: &SessionId) -> Record {
    Record::at(root.join(LINKS_DIR), &session_dir_name(session))
}

type Servers = BTreeMap<ServerName, McpServer>;
type Links = BTreeMap<ServerName, SessionLink>;

impl McpCatalog for FsStore {
    async fn mcp_server_put(
        &self,
        name: &ServerName,
        spec: &McpServerSpec,
        condition: PutCondition,
        now_ms: u64,
        servers_max: usize,
    ) -> Result<McpServer, McpCatalogError> {
        let record = servers_record(self.root());
        let (name, spec) = (name.clone(), spec.clone());
        run(move || {
            record.locked(|| {
                let mut servers: Servers = record.read()?.unwrap_or_default();
                let server = decide_put(
                    &name,
                    &spec,
                    servers.get(&name),
                    condition,
                    now_ms,
                    servers.len(),
                    servers_max,
                )?;
                servers.insert(name, server.clone());
                record.write(&servers)?;
                Ok(server)
            })
        })
        .await
    }

    async fn mcp_server_read(
        &self,
        name: &ServerName,
    ) -> Result<Option<McpServer>, McpCatalogError> {
        let record = servers_record(self.root());
        let name = name.clone();
        // Replaced by rename: a reader sees the old or the new file whole.
        run(move || Ok(record.read::<Servers>()?.unwrap_or_default().remove(&name))).await
    }

    async fn mcp_server_list(&self) -> Result<Vec<McpServer>, McpCatalogError> {
        let record = servers_record(self.root());
        run(move || {
            Ok(record
                .read::<Servers>()?
                .unwrap_or_default()
                .into_values()
                .collect())
        })
        .await
    }

    async fn mcp_server_delete(&self, name: &ServerName) -> Result<bool, McpCatalogError> {
        let record = servers_record(self.root());
        let name = name.clone();
        run(move || {
            record.locked(|| {
                let mut servers: Servers = record.read()?.unwrap_or_default();
                if servers.remove(&name).is_none() {
                    return Ok(false);
                }
                record.write(&servers)?;
                Ok(true)
            })
        })
        .await
    }

    async fn mcp_link_put(
        &self,
        session: &SessionId,
        link: &SessionLink,
        links_max: usize,
    ) -> Result<(), McpCatalogError> {
        let record = links_record(self.root(), session);
        let link = link.clone();
        run(move || {
            record.locked(|| {
                let mut links: Links = record.read()?.unwrap_or_default();
                check_links(links.len(), links.contains_key(&link.server), links_max)?;
                links.insert(link.server.clone(), link);
                Ok(record.write(&links)?)
            })
        })
        .await
    }

    async fn mcp_link_list(
        &self,
        session: &SessionId,
    ) -> Result<Vec<SessionLink>, McpCatalogError> {
        let record = links_record(self.root(), session);
        run(move || {
            Ok(record
                .read::<Links>()?
                .unwrap_or_default()
                .into_values()
                .collect())
        })
        .await
    }

    async fn mcp_link_delete(
        &self,
        session: &SessionId,
        server: &ServerName,
    ) -> Result<bool, McpCatalogError> {
        let record = links_record(self.root(), session);
        let server = server.clone();
        run(move || {
            record.locked(|| {
                let mut links: Links = record.read()?.unwrap_or_default();
                if links.remove(&server).is_none() {
                    return Ok(false);
                }
                record.write(&links)?;
                Ok(true)
            })
        })
        .await
    }
}
