-- Staff apps that registered with push parameters (RFC 8599): remembered beyond their registration, so
-- a suspended app can be woken by a push when a call rings its user. Same text for SQLite and PostgreSQL.
CREATE TABLE push_devices (
    aor               TEXT   NOT NULL,
    prid              TEXT   NOT NULL,
    provider          TEXT   NOT NULL CHECK (provider IN ('fcm', 'apns')),
    param             TEXT,
    registered_at     BIGINT NOT NULL,
    last_push_at      BIGINT,
    last_push_outcome TEXT,
    PRIMARY KEY (aor, prid)
);
