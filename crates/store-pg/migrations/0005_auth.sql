-- Lightspeed's Postgres schema, version 5: the auth catalog (crates/auth-registry),
-- a universe's credentials for remote MCP servers. Every credential is sealed by
-- the application (AES-256-GCM, associated data binding universe, purpose and
-- name) and stored as one bytea (`Sealed::to_bytes`: version, key id, nonce,
-- ciphertext); the database never sees a plaintext. Rows are read only within
-- their universe. Creates that count against a per-universe bound take a
-- transaction-scoped advisory lock on (kind, universe) first.

-- A secret by name; `value` is sealed.
CREATE TABLE auth_secrets (
    universe_id   uuid NOT NULL REFERENCES universes (universe_id),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
    purpose       text NOT NULL CHECK (purpose IN ('header', 'oauthClientSecret')),
    key_id        text NOT NULL CHECK (length(key_id) BETWEEN 1 AND 32),
    value         bytea NOT NULL,
    created_at_ms bigint NOT NULL CHECK (created_at_ms >= 0),
    updated_at_ms bigint NOT NULL CHECK (updated_at_ms >= 0),
    PRIMARY KEY (universe_id, name)
);

-- A grant. `kind` is the non-secret description (jsonb, `GrantKind`); the tokens and
-- client secret are sealed bytea columns. `revision` moves by one per
-- compare-and-set under the row lock.
CREATE TABLE auth_grants (
    universe_id   uuid NOT NULL REFERENCES universes (universe_id),
    grant_id      text NOT NULL CHECK (length(grant_id) BETWEEN 1 AND 128),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
    status        text NOT NULL CHECK (status IN ('active', 'needsReauth', 'revoked')),
    revision      bigint NOT NULL CHECK (revision >= 1),
    kind          jsonb NOT NULL CHECK (jsonb_typeof(kind) = 'object'),
    access_token  bytea,
    refresh_token bytea,
    client_secret bytea,
    created_at_ms bigint NOT NULL CHECK (created_at_ms >= 0),
    updated_at_ms bigint NOT NULL CHECK (updated_at_ms >= 0),
    PRIMARY KEY (universe_id, grant_id)
);

-- An OAuth authorization flow. `spec` is the non-secret part (jsonb, `FlowSpec`:
-- endpoints, client id, the SHA-256 of the state's random part); the PKCE verifier
-- and a client secret are sealed.
CREATE TABLE auth_flows (
    universe_id   uuid NOT NULL REFERENCES universes (universe_id),
    flow_id       text NOT NULL CHECK (length(flow_id) BETWEEN 1 AND 128),
    revision      bigint NOT NULL CHECK (revision >= 1),
    status        jsonb NOT NULL CHECK (jsonb_typeof(status) = 'object'),
    grant_id      text,
    spec          jsonb NOT NULL CHECK (jsonb_typeof(spec) = 'object'),
    verifier      bytea NOT NULL,
    client_secret bytea,
    created_at_ms bigint NOT NULL CHECK (created_at_ms >= 0),
    expires_at_ms bigint NOT NULL CHECK (expires_at_ms >= 0),
    PRIMARY KEY (universe_id, flow_id)
);

-- Pruning expired flows of one universe.
CREATE INDEX auth_flows_expiry ON auth_flows (universe_id, expires_at_ms);
