-- Lightspeed's Postgres schema, version 6: the MCP catalog. A universe's MCP servers
-- and each session's links to them. Records are stored whole as jsonb and decided on
-- by the store (mcp_registry's shared decisions) under a lock, as the VFS catalog is.
-- No credential is ever in these rows: a server names a secret or grant of the auth
-- registry (version 5), whose values are encrypted there.

-- One row per server. `record` is the whole `McpServer` (name, spec, revision,
-- times); `revision` is kept beside it for reads that need only it.
CREATE TABLE mcp_servers (
    universe_id   uuid NOT NULL REFERENCES universes (universe_id),
    name          text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9-]{0,31}$'),
    revision      bigint NOT NULL CHECK (revision >= 1),
    record        jsonb NOT NULL CHECK (jsonb_typeof(record) = 'object'),
    PRIMARY KEY (universe_id, name)
);

-- A session's links, one row per session: a jsonb object from server name to
-- `SessionLink`, changed as a whole under this row's lock so the bound on links
-- holds against concurrent links. `session_id` does not reference `sessions`: a
-- link may precede nothing but is written after the session's tools were
-- registered, and the two are repaired by linking again.
CREATE TABLE mcp_links (
    universe_id   uuid NOT NULL REFERENCES universes (universe_id),
    session_id    text NOT NULL CHECK (length(session_id) BETWEEN 1 AND 256),
    links         jsonb NOT NULL CHECK (jsonb_typeof(links) = 'object'),
    PRIMARY KEY (universe_id, session_id)
);
