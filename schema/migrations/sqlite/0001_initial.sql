-- Switchboard schema, SQLite dialect. Keep in step with ../postgres/0001_initial.sql:
-- the same tables, columns and constraints, only the dialect differs.
-- Portable types only: TEXT and 64-bit integers (the sqlx Any driver decodes them
-- to String and i64 on both backends).

CREATE TABLE users (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The extension, e.g. '201'. Unique: it is the SIP user part and the AOR.
    username     TEXT    NOT NULL UNIQUE,
    display_name TEXT    NOT NULL,
    -- E.164 ('+31612345678') or NULL.
    mobile       TEXT,
    -- Unix seconds.
    created_at   BIGINT  NOT NULL
);

-- Digest credentials: HA1 hashes only, never a password. One row per user.
CREATE TABLE credentials (
    user_id    INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    realm      TEXT NOT NULL,
    -- lowercase hex MD5(username:realm:password), 32 characters
    ha1_md5    TEXT NOT NULL,
    -- lowercase hex SHA-256(username:realm:password), 64 characters
    ha1_sha256 TEXT NOT NULL
);

-- Registrar bindings, persisted in batches. No foreign key to users on purpose:
-- a batch must never fail because a user was removed while it was queued;
-- Db::remove_user deletes the user's bindings itself.
CREATE TABLE registrations (
    aor           TEXT   NOT NULL,
    contact_uri   TEXT   NOT NULL,
    contact_value TEXT   NOT NULL,
    expires_at    BIGINT NOT NULL,
    q_milli       BIGINT NOT NULL,
    call_id       TEXT   NOT NULL,
    cseq          BIGINT NOT NULL,
    transport     TEXT   NOT NULL,
    source        TEXT   NOT NULL,
    user_agent    TEXT,
    PRIMARY KEY (aor, contact_uri)
);

CREATE INDEX registrations_expires_at ON registrations (expires_at);
