-- Operators (issue 19): keys get a label and a revocation time; operator keys, which
-- belong to no universe, live apart; every operator call is audited.
ALTER TABLE api_keys ADD COLUMN name text NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN revoked_at_ms bigint;

CREATE TABLE operator_keys (
    key_id        text PRIMARY KEY,
    key_hash      text NOT NULL UNIQUE CHECK (key_hash ~ '^[0-9a-f]{64}$'),
    name          text NOT NULL DEFAULT '',
    created_at_ms bigint NOT NULL,
    revoked_at_ms bigint
);

CREATE TABLE operator_audit (
    seq      bigserial PRIMARY KEY,
    at_ms    bigint NOT NULL,
    key_id   text NOT NULL,
    method   text NOT NULL,
    target   text NOT NULL,
    code     integer NOT NULL
);
