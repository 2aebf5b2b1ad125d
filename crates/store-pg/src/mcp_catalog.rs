//! The MCP catalog in Postgres: servers as rows of `mcp_servers`, each session's links
//! as one row of `mcp_links` (`migrations/0006_mcp.sql`).
//!
//! Every change is one transaction that takes a lock, reads, decides through
//! `mcp_registry::catalog`'s shared decisions and writes, as store-fs does under its
//! lock files: server puts and deletes of one universe queue on a transaction-scoped
//! advisory lock (so the bound on servers holds against concurrent creates), link
//! changes on the session's row. Reads lock nothing.

use std::collections::BTreeMap;

use engine::SessionId;
use engine::store::StoreError;
use mcp_registry::catalog::{check_links, decide_put};
use mcp_registry::{
    McpCatalog, McpCatalogError, McpServer, McpServerSpec, PutCondition, ServerName, SessionLink,
};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::PgStore;
use crate::error::{query_failed, to_bigint};
use crate::tx::{begin, finish};

type Links = BTreeMap<ServerName, SessionLink>;

impl McpCatalog for PgStore {
    async fn mcp_server_put(
        &self,
        name: &ServerName,
        spec: &McpServerSpec,
        condition: PutCondition,
        now_ms: u64,
        servers_max: usize,
    ) -> Result<McpServer, McpCatalogError> {
        let mut tx = begin(&self.pool, "begin an MCP server put").await?;
        let put = async {
            lock_servers(&mut tx, self.universe_id).await?;
            let existing = read_server(&mut tx, self.universe_id, name).await?;
            let count: i64 =
                sqlx::query_scalar("SELECT count(*) FROM mcp_servers WHERE universe_id = $1")
                    .bind(self.universe_id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(query_failed("count MCP servers"))?;
            let server = decide_put(
                name,
                spec,
                existing.as_ref(),
                condition,
                now_ms,
                usize::try_from(count).unwrap_or(usize::MAX),
                servers_max,
            )?;
            let record = serde_json::to_string(&server).map_err(StoreError::permanent)?;
            let revision =
                to_bigint("MCP server revision", server.revision).map_err(StoreError::permanent)?;
            sqlx::query(
                "INSERT INTO mcp_servers (universe_id, name, revision, record) \
                 VALUES ($1, $2, $3, $4::jsonb) \
                 ON CONFLICT (universe_id, name) \
                 DO UPDATE SET revision = EXCLUDED.revision, record = EXCLUDED.record",
            )
            .bind(self.universe_id)
            .bind(name.as_str())
            .bind(revision)
            .bind(record)
            .execute(&mut *tx)
            .await
            .map_err(query_failed("write an MCP server"))?;
            Ok(server)
        }
        .await;
        finish(tx, put, "commit an MCP server put").await
    }

    async fn mcp_server_read(
        &self,
        name: &ServerName,
    ) -> Result<Option<McpServer>, McpCatalogError> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(query_failed("read an MCP server"))?;
        read_server(&mut conn, self.universe_id, name).await
    }

    async fn mcp_server_list(&self) -> Result<Vec<McpServer>, McpCatalogError> {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT record::text FROM mcp_servers WHERE universe_id = $1 ORDER BY name",
        )
        .bind(self.universe_id)
        .fetch_all(&self.pool)
        .await
        .map_err(query_failed("list MCP servers"))?;
        rows.iter()
            .map(|text| decode("mcp_servers row", text))
            .collect()
    }

    async fn mcp_server_delete(&self, name: &ServerName) -> Result<bool, McpCatalogError> {
        let mut tx = begin(&self.pool, "begin an MCP server delete").await?;
        let deleted = async {
            lock_servers(&mut tx, self.universe_id).await?;
            let done = sqlx::query("DELETE FROM mcp_servers WHERE universe_id = $1 AND name = $2")
                .bind(self.universe_id)
                .bind(name.as_str())
                .execute(&mut *tx)
                .await
                .map_err(query_failed("delete an MCP server"))?;
            Ok(done.rows_affected() > 0)
        }
        .await;
        finish(tx, deleted, "commit an MCP server delete").await
    }

    async fn mcp_link_put(
        &self,
        session: &SessionId,
        link: &SessionLink,
        links_max: usize,
    ) -> Result<(), McpCatalogError> {
        let mut tx = begin(&self.pool, "begin an MCP link put").await?;
        let put = async {
            // Creates the session's row if it has none and locks it either way, so
            // puts on one session are serialised (the VFS catalog's mount pattern).
            let text: String = sqlx::query_scalar(
                "INSERT INTO mcp_links (universe_id, session_id, links) VALUES ($1, $2, '{}') \
                 ON CONFLICT (universe_id, session_id) DO UPDATE SET links = mcp_links.links \
                 RETURNING links::text",
            )
            .bind(self.universe_id)
            .bind(session.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(query_failed("lock a session's MCP links"))?;
            let mut links: Links = decode("mcp_links row", &text)?;
            check_links(links.len(), links.contains_key(&link.server), links_max)?;
            links.insert(link.server.clone(), link.clone());
            write_links(&mut tx, self.universe_id, session, &links).await
        }
        .await;
        finish(tx, put, "commit an MCP link put").await
    }

    async fn mcp_link_list(
        &self,
        session: &SessionId,
    ) -> Result<Vec<SessionLink>, McpCatalogError> {
        let text: Option<String> = sqlx::query_scalar(
            "SELECT links::text FROM mcp_links WHERE universe_id = $1 AND session_id = $2",
        )
        .bind(self.universe_id)
        .bind(session.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(query_failed("read a session's MCP links"))?;
        match text {
            Some(text) => Ok(decode::<Links>("mcp_links row", &text)?
                .into_values()
                .collect()),
            None => Ok(Vec::new()),
        }
    }

    async fn mcp_link_delete(
        &self,
        session: &SessionId,
        server: &ServerName,
    ) -> Result<bool, McpCatalogError> {
        let mut tx = begin(&self.pool, "begin an MCP link delete").await?;
        let deleted = async {
            let text: Option<String> = sqlx::query_scalar(
                "SELECT links::text FROM mcp_links \
                 WHERE universe_id = $1 AND session_id = $2 FOR UPDATE",
            )
            .bind(self.universe_id)
            .bind(session.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(query_failed("lock a session's MCP links"))?;
            let Some(text) = text else {
                return Ok(false);
            };
            let mut links: Links = decode("mcp_links row", &text)?;
            if links.remove(server).is_none() {
                return Ok(false);
            }
            write_links(&mut tx, self.universe_id, session, &links).await?;
            Ok(true)
        }
        .await;
        finish(tx, deleted, "commit an MCP link delete").await
    }
}

/// Serialises server changes within one universe until the transaction ends.
async fn lock_servers(conn: &mut PgConnection, universe_id: Uuid) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('mcp_servers:' || $1::text, 0))")
        .bind(universe_id)
        .execute(conn)
        .await
        .map_err(query_failed("lock the MCP servers"))?;
    Ok(())
}

async fn read_server(
    conn: &mut PgConnection,
    universe_id: Uuid,
    name: &ServerName,
) -> Result<Option<McpServer>, McpCatalogError> {
    let text: Option<String> = sqlx::query_scalar(
        "SELECT record::text FROM mcp_servers WHERE universe_id = $1 AND name = $2",
    )
    .bind(universe_id)
    .bind(name.as_str())
    .fetch_optional(conn)
    .await
    .map_err(query_failed("read an MCP server"))?;
    text.map(|text| decode("mcp_servers row", &text))
        .transpose()
}

async fn write_links(
    conn: &mut PgConnection,
    universe_id: Uuid,
    session: &SessionId,
    links: &Links,
) -> Result<(), McpCatalogError> {
    let json = serde_json::to_string(links).map_err(StoreError::permanent)?;
    sqlx::query(
        "UPDATE mcp_links SET links = $3::jsonb WHERE universe_id = $1 AND session_id = $2",
    )
    .bind(universe_id)
    .bind(session.as_str())
    .bind(json)
    .execute(conn)
    .await
    .map_err(query_failed("write a session's MCP links"))?;
    Ok(())
}

fn decode<T: serde::de::DeserializeOwned>(
    location: &str,
    text: &str,
) -> Result<T, McpCatalogError> {
    serde_json::from_str(text).map_err(|err| {
        StoreError::Corrupt {
            location: location.to_owned(),
            reason: err.to_string(),
        }
        .into()
    })
}
