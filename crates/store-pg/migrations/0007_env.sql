-- Lightspeed's Postgres schema, version 7: the environment catalog
-- (crates/env-registry). A universe's environments (machines a daemon lends), the
-- environments attached to each session, and the queue of jobs between the workers
-- that submit them and the gateways holding the daemons. Every row belongs to one
-- universe and every query names it. Creates that count against a bound first take
-- a transaction-scoped advisory lock on (kind, universe); a claim locks its rows
-- (`FOR UPDATE SKIP LOCKED`), and a finish is one conditional UPDATE, so a job is
-- delivered to one connection at a time and finished once. Names and ids sort
-- bytewise (COLLATE "C"), as every other store orders them, whatever the database's
-- collation.

-- One row per environment. No token is stored, only its SHA-256. `presence` is what
-- its daemon last reported (`Presence`), NULL until one first connects.
CREATE TABLE env_environments (
    universe_id    uuid NOT NULL REFERENCES universes (universe_id),
    environment_id text COLLATE "C" NOT NULL
        CHECK (length(environment_id) BETWEEN 1 AND 64),
    name           text COLLATE "C" NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9-]{0,31}$'),
    description    text NOT NULL,
    token_sha256   text NOT NULL,
    created_at_ms  bigint NOT NULL CHECK (created_at_ms >= 0),
    presence       jsonb CHECK (presence IS NULL OR jsonb_typeof(presence) = 'object'),
    PRIMARY KEY (universe_id, environment_id),
    UNIQUE (universe_id, name)
);

-- An environment attached to a session at a name (`/env/NAME`). `environment` is the
-- environment's name when attached. `session_id` does not reference `sessions`, as
-- MCP links do not.
CREATE TABLE env_attachments (
    universe_id    uuid NOT NULL REFERENCES universes (universe_id),
    session_id     text NOT NULL CHECK (length(session_id) BETWEEN 1 AND 256),
    name           text COLLATE "C" NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9-]{0,31}$'),
    environment_id text NOT NULL CHECK (length(environment_id) BETWEEN 1 AND 64),
    environment    text NOT NULL CHECK (environment ~ '^[a-z0-9][a-z0-9-]{0,31}$'),
    attached_at_ms bigint NOT NULL CHECK (attached_at_ms >= 0),
    PRIMARY KEY (universe_id, session_id, name)
);

-- A job: pending, delivered to `connection` at `delivered_at_ms`, or done with its
-- `result`. `environment_id` does not reference `env_environments`: a job outlives a
-- deleted environment until it is finished (its deadline) and pruned. `op` and
-- `result` are JSON as text, not jsonb: they are opaque here, never queried, and
-- jsonb refuses U+0000, which a written file's content or a command's output may
-- hold.
CREATE TABLE env_jobs (
    universe_id     uuid NOT NULL REFERENCES universes (universe_id),
    job_id          text COLLATE "C" NOT NULL CHECK (job_id ~ '^[0-9a-f]{32}$'),
    environment_id  text COLLATE "C" NOT NULL CHECK (length(environment_id) BETWEEN 1 AND 64),
    session_id      text NOT NULL,
    run_id          text NOT NULL,
    batch           bigint NOT NULL CHECK (batch BETWEEN 0 AND 4294967295),
    call_id         text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('command', 'file')),
    op              text NOT NULL,
    status          text NOT NULL CHECK (status IN ('pending', 'delivered', 'done')),
    connection      text,
    delivered_at_ms bigint CHECK (delivered_at_ms >= 0),
    task_token      text,
    created_at_ms   bigint NOT NULL CHECK (created_at_ms >= 0),
    deadline_ms     bigint NOT NULL CHECK (deadline_ms >= 0),
    deliveries      bigint NOT NULL CHECK (deliveries BETWEEN 0 AND 4294967295),
    result          text,
    finished_at_ms  bigint CHECK (finished_at_ms >= 0),
    PRIMARY KEY (universe_id, job_id),
    CHECK ((status = 'delivered') = (connection IS NOT NULL AND delivered_at_ms IS NOT NULL)),
    CHECK ((status = 'delivered') OR (connection IS NULL AND delivered_at_ms IS NULL)),
    CHECK ((status = 'done') = (result IS NOT NULL AND finished_at_ms IS NOT NULL)),
    CHECK ((status = 'done') OR (result IS NULL AND finished_at_ms IS NULL))
);

-- Claims (an environment's pending jobs, oldest first) and the delivered listing.
CREATE INDEX env_jobs_queue ON env_jobs (universe_id, environment_id, status, created_at_ms, job_id);
-- The bound: a universe's unfinished jobs, counted under the advisory lock.
CREATE INDEX env_jobs_unfinished ON env_jobs (universe_id) WHERE status <> 'done';
-- Pruning a universe's jobs finished before a time.
CREATE INDEX env_jobs_finished ON env_jobs (universe_id, finished_at_ms) WHERE status = 'done';
