-- Call recordings (SQLite dialect). Keep in step with ../postgres/0005_recordings.sql.

-- One row per recording: the WAV file lives in the node's recordings directory under `file_name`
-- (a plain name, never a path); the row says which call it is of and how it came out. `ended_at_ms`
-- and `bytes` stay NULL while the recording runs; `bytes` 0 means the file could not be written.
-- No foreign key to cdrs: a recording may outlive its call record, and the record may not be
-- written yet when the recording starts (`cdr_id` is then NULL; `call_id` still finds it).
CREATE TABLE recordings (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    -- SIP Call-ID of the call's inbound leg, as in cdrs.call_id.
    call_id       TEXT    NOT NULL,
    cdr_id        BIGINT,
    file_name     TEXT    NOT NULL UNIQUE,
    layout        TEXT    NOT NULL CHECK (layout IN ('mixed', 'stereo')),
    -- Unix milliseconds.
    started_at_ms BIGINT  NOT NULL,
    ended_at_ms   BIGINT,
    bytes         BIGINT  CHECK (bytes IS NULL OR bytes >= 0),
    CHECK (ended_at_ms IS NULL OR ended_at_ms >= started_at_ms)
);
CREATE INDEX recordings_call_id ON recordings (call_id);
CREATE INDEX recordings_cdr_id ON recordings (cdr_id);
CREATE INDEX recordings_started_at ON recordings (started_at_ms);
