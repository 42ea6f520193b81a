-- Call routing configuration and call records, SQLite dialect. Keep in step with
-- ../postgres/0002_calls.sql: the same tables, columns and constraints, only the dialect
-- differs. Portable types only: TEXT and 64-bit integers; booleans are 0/1 integers and JSON
-- is stored as TEXT, because the sqlx Any driver decodes nothing else identically on both
-- backends. The CHECKs are a backstop: the Db methods validate first and say which field is
-- wrong, the database makes sure no other writer (psql, a later bug) stores what routing
-- cannot read.

-- Switch-wide settings as key/value pairs, e.g. 'main_number' => '+4764000000'.
CREATE TABLE settings (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
);

-- One row, bumped by every configuration write, as the first statement of its transaction.
-- That first write serialises configuration writers (SQLite takes its write lock, PostgreSQL
-- the row lock), so checks such as "no number still points at this hunt group" cannot race a
-- concurrent insert; and nodes that did not make a change can poll the version to notice it.
CREATE TABLE config_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT  NOT NULL
);
INSERT INTO config_version (id, version) VALUES (1, 0);

-- Per-user call settings. A user without a row has the defaults below.
CREATE TABLE user_call_settings (
    user_id             INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    -- E.164 or NULL; unique: an inbound call to it must find one user.
    direct_number       TEXT UNIQUE,
    -- Which number outbound calls show by default.
    caller_id_default   TEXT    NOT NULL DEFAULT 'main'
                        CHECK (caller_id_default IN ('main', 'direct')),
    ring_cellular       BIGINT  NOT NULL DEFAULT 0 CHECK (ring_cellular IN (0, 1)),
    cellular_delay_secs BIGINT  NOT NULL DEFAULT 0 CHECK (cellular_delay_secs >= 0),
    -- Ask the cellular callee to press a key before the call is put through, so that a
    -- mobile voicemail cannot "answer" a citizen's call.
    confirm_cellular    BIGINT  NOT NULL DEFAULT 1 CHECK (confirm_cellular IN (0, 1)),
    allow_internal      BIGINT  NOT NULL DEFAULT 1 CHECK (allow_internal IN (0, 1)),
    allow_national      BIGINT  NOT NULL DEFAULT 1 CHECK (allow_national IN (0, 1)),
    allow_mobile        BIGINT  NOT NULL DEFAULT 1 CHECK (allow_mobile IN (0, 1)),
    allow_international BIGINT  NOT NULL DEFAULT 0 CHECK (allow_international IN (0, 1)),
    allow_premium       BIGINT  NOT NULL DEFAULT 0 CHECK (allow_premium IN (0, 1)),
    CHECK (caller_id_default = 'main' OR direct_number IS NOT NULL)
);

CREATE TABLE hunt_groups (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    name             TEXT    NOT NULL UNIQUE,
    strategy         TEXT    NOT NULL
                     CHECK (strategy IN ('ring_all', 'sequential', 'round_robin', 'longest_idle')),
    -- How long one member rings (sequential strategies) unless the member overrides it.
    ring_time_secs   BIGINT  NOT NULL DEFAULT 15 CHECK (ring_time_secs > 0),
    -- How long the whole group is tried before the no-answer target.
    timeout_secs     BIGINT  NOT NULL DEFAULT 60 CHECK (timeout_secs > 0),
    busy_policy      TEXT    NOT NULL DEFAULT 'skip'
                     CHECK (busy_policy IN ('skip', 'ring_anyway', 'call_waiting')),
    confirm_cellular BIGINT  NOT NULL DEFAULT 1 CHECK (confirm_cellular IN (0, 1)),
    -- Where an unanswered call goes; both NULL: play a message and hang up.
    no_answer_kind   TEXT
                     CHECK (no_answer_kind IN ('user', 'hunt_group', 'queue', 'menu', 'message')),
    no_answer_ref    TEXT,
    created_at       BIGINT  NOT NULL,
    CHECK ((no_answer_kind IS NULL AND no_answer_ref IS NULL)
           OR (no_answer_kind IS NOT NULL AND no_answer_ref IS NOT NULL))
);

CREATE TABLE hunt_group_members (
    group_id       INTEGER NOT NULL REFERENCES hunt_groups (id) ON DELETE CASCADE,
    user_id        INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- 0-based order in the group (sequential strategies ring in this order).
    position       BIGINT  NOT NULL CHECK (position >= 0),
    -- NULL: the group's ring_time_secs.
    ring_time_secs BIGINT  CHECK (ring_time_secs IS NULL OR ring_time_secs > 0),
    PRIMARY KEY (group_id, user_id),
    UNIQUE (group_id, position)
);
-- Deleting a user cascades here; without the index that is a full scan.
CREATE INDEX hunt_group_members_user_id ON hunt_group_members (user_id);

-- Inbound numbers and where they go. target_ref is TEXT because it names different things
-- per kind (a username, a group id, a prompt name), so the database cannot hold a foreign
-- key: the Db methods check the reference and refuse deletes that would leave it dangling.
CREATE TABLE public_numbers (
    number      TEXT   NOT NULL PRIMARY KEY,
    label       TEXT   NOT NULL DEFAULT '',
    target_kind TEXT   NOT NULL
                CHECK (target_kind IN ('user', 'hunt_group', 'queue', 'menu', 'message')),
    target_ref  TEXT   NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX public_numbers_target ON public_numbers (target_kind, target_ref);

-- SIP trunks to carriers. password_secret is the NAME of a file in the node's secrets
-- directory, never the password: this database is shared between nodes, dumped and backed
-- up, and a carrier password in it would leak with every copy.
CREATE TABLE trunks (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    name                  TEXT    NOT NULL UNIQUE,
    host                  TEXT    NOT NULL,
    port                  BIGINT  NOT NULL DEFAULT 5060 CHECK (port BETWEEN 1 AND 65535),
    transport             TEXT    NOT NULL DEFAULT 'udp' CHECK (transport IN ('udp', 'tcp', 'tls')),
    -- Lower is tried first.
    priority              BIGINT  NOT NULL DEFAULT 100 CHECK (priority >= 0),
    register              BIGINT  NOT NULL DEFAULT 0 CHECK (register IN (0, 1)),
    username              TEXT,
    password_secret       TEXT,
    realm                 TEXT,
    -- Comma-separated CIDRs whose packets are taken as coming from this trunk.
    inbound_sources       TEXT    NOT NULL DEFAULT '',
    -- Comma-separated E.164 prefixes the trunk delivers; empty: any.
    inbound_numbers       TEXT    NOT NULL DEFAULT '',
    -- 0: no limit.
    max_cps               BIGINT  NOT NULL DEFAULT 0 CHECK (max_cps >= 0),
    max_calls             BIGINT  NOT NULL DEFAULT 0 CHECK (max_calls >= 0),
    -- 0: no OPTIONS probing.
    options_interval_secs BIGINT  NOT NULL DEFAULT 30 CHECK (options_interval_secs >= 0),
    enabled               BIGINT  NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    created_at            BIGINT  NOT NULL,
    CHECK (register = 0 OR (username IS NOT NULL AND password_secret IS NOT NULL))
);

-- Call detail records: opened when a call starts, updated on answer and end. No foreign keys:
-- a record must outlive the user, group or queue it names.
CREATE TABLE cdrs (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    -- SIP Call-ID of the inbound leg.
    call_id        TEXT    NOT NULL,
    direction      TEXT    NOT NULL CHECK (direction IN ('inbound', 'outbound', 'internal')),
    from_number    TEXT    NOT NULL,
    to_number      TEXT    NOT NULL,
    target_kind    TEXT
                   CHECK (target_kind IN ('user', 'hunt_group', 'queue', 'menu', 'message')),
    target_ref     TEXT,
    -- Unix milliseconds.
    started_at_ms  BIGINT  NOT NULL,
    ringing_at_ms  BIGINT,
    answered_at_ms BIGINT,
    ended_at_ms    BIGINT,
    -- Username or cellular number.
    answered_by    TEXT,
    queue_id       BIGINT,
    queue_wait_ms  BIGINT  CHECK (queue_wait_ms IS NULL OR queue_wait_ms >= 0),
    ring_time_ms   BIGINT  NOT NULL DEFAULT 0 CHECK (ring_time_ms >= 0),
    -- SIP status or reason text; NULL while the call lasts.
    hangup_cause   TEXT,
    hangup_side    TEXT    CHECK (hangup_side IN ('caller', 'callee', 'system')),
    legs_json      TEXT    NOT NULL DEFAULT '[]',
    media_json     TEXT    NOT NULL DEFAULT '{}',
    CHECK ((target_kind IS NULL AND target_ref IS NULL)
           OR (target_kind IS NOT NULL AND target_ref IS NOT NULL)),
    CHECK (answered_at_ms IS NULL OR answered_at_ms >= started_at_ms),
    CHECK (ended_at_ms IS NULL OR ended_at_ms >= started_at_ms)
);
CREATE INDEX cdrs_started_at ON cdrs (started_at_ms);
CREATE INDEX cdrs_call_id ON cdrs (call_id);
CREATE INDEX cdrs_from_number ON cdrs (from_number);
CREATE INDEX cdrs_to_number ON cdrs (to_number);
